"""Static checks: warnings for definitions that are legal but almost certainly wrong.

``warnings(bound)`` reads the typed tree only (no SQL, no database) and returns, each with the span of
the node at fault:

- a contradiction on one attribute within one AND (or INTERSECT), also inside an aggregate's WHERE:
  ``age > 50 and age < 30``, ``country = 'DE' and country = 'FR'``, ``age = 3 and age != 3``;
- a condition that is always true or never true: ``x = x``, ``x < x``, ``x between 10 and 1``,
  ``all(orders)`` without WHERE;
- ``all(...)`` where nothing beside it makes sure there is at least one such record (``all()`` is also
  true for a customer with none);
- a count compared with a value a count never takes (``count(orders) < 0``, ``count(orders) = 2.5``)
  or always takes (``count(orders) >= 0``);
- a PROJECT aggregate that no member can fill (its WHERE is never true, or the definition requires
  that members have no such records).

Only nodes of the definition's own text are reported: a saved measure's expression and a referenced
segment's condition point into their own texts and are not read.

A warning that says "never" or "always" is exact on every database we run on: values are compared
only when their order cannot depend on the database. Text is compared as a database's collation
might (case- and accent-insensitive, trailing spaces ignored): two strings are taken as different only
when they differ after that folding, and ordered only when both are plain ASCII letters and digits of
one case; a comparison of dates with timestamps is not reasoned about. Anything else is left alone.
Node types this module does not know are walked through (``dsl.ast.children``) and never warned on.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..dsl.ast import Node, children
from ..errors import point_at
from ..model import Step
from . import typed as T

__all__ = ["CheckWarning", "warnings"]


@dataclass(frozen=True)
class CheckWarning:
    """A legal definition that is almost certainly wrong: ``message``, at ``text[pos:end]``.

    ``str(w)`` shows it as errors are shown: ``line 1, column 1: message``, the line and carets.
    """

    message: str
    pos: int
    end: int
    text: str = field(default="", repr=False, compare=False)

    @property
    def line(self) -> int:
        return point_at(self.text, self.pos, self.end)[0]

    @property
    def column(self) -> int:
        return point_at(self.text, self.pos, self.end)[1]

    def __str__(self) -> str:
        if not self.text:
            return self.message
        line, column, excerpt = point_at(self.text, self.pos, self.end)
        return f"line {line}, column {column}: {self.message}\n{excerpt}"


def warnings(definition: T.Definition) -> list[CheckWarning]:
    """The warnings for ``definition``, in text order.

    >>> [w.message for w in warnings(bind(ws.model, parse("age > 50 and age < 30")))]
    ['`age > 50` and `age < 30` are never both true']
    """
    checker = _Checker(definition.text)
    checker.visit(definition.condition, True, (), grouped=False)
    for projection in definition.projections:
        checker.visit(projection.value, True, (), grouped=False)
    checker.projections(definition)
    unique = {(w.pos, w.end, w.message): w for w in checker.found}
    return [unique[k] for k in sorted(unique)]


Path = tuple[Step, ...]

# --- sets of values: unions of intervals ----------------------------------------------------------

# (low, low included, high, high included); None is unbounded.
_Interval = tuple[Any, bool, Any, bool]
_Set = tuple[_Interval, ...]
_ALL: _Set = ((None, False, None, False),)
_NONE: _Set = ()


def _point(v: object) -> _Set:
    return ((v, True, v, True),)


def _meet_one(a: _Interval, b: _Interval) -> _Interval | None:
    (alo, alo_in, ahi, ahi_in), (blo, blo_in, bhi, bhi_in) = a, b
    if alo is None or (blo is not None and blo > alo):
        lo, lo_in = blo, blo_in
    elif blo is None or alo > blo:
        lo, lo_in = alo, alo_in
    else:
        lo, lo_in = alo, alo_in and blo_in
    if ahi is None or (bhi is not None and bhi < ahi):
        hi, hi_in = bhi, bhi_in
    elif bhi is None or ahi < bhi:
        hi, hi_in = ahi, ahi_in
    else:
        hi, hi_in = ahi, ahi_in and bhi_in
    if lo is not None and hi is not None and (lo > hi or (lo == hi and not (lo_in and hi_in))):
        return None
    return (lo, lo_in, hi, hi_in)


def _meet(a: _Set, b: _Set) -> _Set:
    return tuple(m for x in a for y in b if (m := _meet_one(x, y)) is not None)


def _complement(s: _Set) -> _Set:
    out = _ALL
    for lo, lo_in, hi, hi_in in s:
        outside: list[_Interval] = []
        if lo is not None:
            outside.append((None, False, lo, not lo_in))
        if hi is not None:
            outside.append((hi, not hi_in, None, False))
        out = _meet(out, tuple(outside))
    return out


def _contains(s: _Set, v: object) -> bool:
    return bool(_meet(s, _point(v)))


def _has_whole(s: _Set) -> bool:
    """Whether ``s`` holds a whole number 0 or more (what a count can be)."""
    for lo, lo_in, hi, hi_in in s:
        first = 0 if lo is None else max(0, math.ceil(lo) if lo_in else math.floor(lo) + 1)
        if hi is None or first <= (math.floor(hi) if hi_in else math.ceil(hi) - 1):
            return True
    return False


def _and3(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or3(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


# --- what a condition says about one value ------------------------------------------------------


@dataclass(frozen=True)
class _Constraint:
    """A condition on one ``subject`` (an attribute, aggregate, measure or expression) and literals.

    It is TRUE exactly for the non-NULL values of the subject in ``values`` and, when the subject is
    NULL, has the value ``on_null`` (None: unknown).
    """

    subject: Node
    values: _Set
    on_null: bool | None
    literals: tuple[object, ...]
    ordered: bool  # uses the order of values (<, between, ...), not only equality

    def negated(self) -> _Constraint:
        on_null = None if self.on_null is None else not self.on_null
        return _Constraint(self.subject, _complement(self.values), on_null, self.literals, self.ordered)


_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _literal(node: Node) -> object | None:
    """The value of a non-NULL literal, or None."""
    return node.value if isinstance(node, T.Lit) and node.value is not None else None


def _subject(node: Node) -> bool:
    return not isinstance(node, T.Lit)


def _compare(op: str, v: object) -> _Set | None:
    return {
        "=": _point(v),
        "!=": _complement(_point(v)),
        "<": ((None, False, v, False),),
        "<=": ((None, False, v, True),),
        ">": ((v, False, None, False),),
        ">=": ((v, True, None, False),),
    }.get(op)


def _constraint(node: Node) -> _Constraint | None:  # noqa: C901 - one branch per node type
    """What ``node`` says about one subject compared with literals, or None."""
    if isinstance(node, T.Compare):
        op, subject, other = node.op, node.left, node.right
        if not _subject(subject):
            op, subject, other = _FLIP.get(op, op), node.right, node.left
        v = _literal(other)
        values = _compare(op, v) if v is not None and _subject(subject) else None
        if values is None:
            return None
        return _Constraint(subject, values, None, (v,), op not in ("=", "!="))
    if isinstance(node, T.Between):
        low, high = _literal(node.low), _literal(node.high)
        if low is None or high is None or not _subject(node.operand):
            return None
        c = _Constraint(node.operand, ((low, True, high, True),), None, (low, high), True)
        return c.negated() if node.negated else c
    if isinstance(node, T.InList):
        items = [_literal(i) for i in node.items]
        # With a NULL in the list, a value not in it gives NULL, not FALSE: not reasoned about.
        if None in items or not items or not _subject(node.operand):
            return None
        c = _Constraint(node.operand, tuple(p for v in items for p in _point(v)), None, tuple(items), False)
        return c.negated() if node.negated else c
    if isinstance(node, (T.IsNull, T.IsEmpty)):
        if not _subject(node.operand):
            return None
        if isinstance(node, T.IsEmpty) and node.operand.type == "string":  # NULL or ''
            c = _Constraint(node.operand, _point(""), True, ("",), False)
        else:
            c = _Constraint(node.operand, _NONE, True, (), False)
        return c.negated() if node.negated else c
    if isinstance(node, T.BeforeAfter):
        v = _literal(node.value)
        values = _compare("<" if node.kind == "before" else ">", v) if v is not None else None
        if values is None or not _subject(node.operand):
            return None
        return _Constraint(node.operand, values, None, (v,), True)
    if isinstance(node, T.BoolTest):
        if node.operand.type != "boolean" or not _subject(node.operand):
            return None
        return _Constraint(node.operand, _point(True), None, (True,), False)
    if isinstance(node, T.Not):
        inner = _constraint(node.operand)
        return inner.negated() if inner is not None else None
    if isinstance(node, (T.And, T.Or)):
        parts = [_constraint(i) for i in node.items]
        first = parts[0] if parts else None
        if first is None or any(p is None or p.subject != first.subject for p in parts):
            return None
        values, on_null = first.values, first.on_null
        for p in parts[1:]:
            assert p is not None
            if isinstance(node, T.And):
                values, on_null = _meet(values, p.values), _and3(on_null, p.on_null)
            else:
                values, on_null = values + p.values, _or3(on_null, p.on_null)
        literals = tuple(v for p in parts if p is not None for v in p.literals)
        return _Constraint(first.subject, values, on_null, literals, any(p.ordered for p in parts if p))
    return None


def _whole(subject: Node) -> bool:
    """A count: a whole number, 0 or more, never NULL."""
    return isinstance(subject, T.Agg) and subject.func in ("count", "count_distinct")


def _kind(v: object) -> str | None:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        # Beyond 2**53 a database may compare as doubles what Python compares exactly.
        return "number" if abs(v) <= 2**53 else None
    if isinstance(v, str):
        return "string"
    if isinstance(v, dt.datetime):
        return "timestamp" if v.tzinfo is None else "timestamp with time zone"
    if isinstance(v, dt.date):
        return "date"
    return None


def _fold(s: str) -> str | None:
    """``s`` as a case- and accent-insensitive collation with trailing-space padding may see it;
    None when that is not plain ASCII (and so could compare equal to more than we know)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return plain.rstrip(" ").lower() if plain.isascii() else None


def _equality_known(strings: Sequence[str]) -> bool:
    """Every two strings are equal, or different under any collation."""
    folded = [_fold(s) for s in strings]
    return all(
        a == b or (fa is not None and fb is not None and fa != fb)
        for a, fa in zip(strings, folded, strict=True)
        for b, fb in zip(strings, folded, strict=True)
    )


def _order_known(strings: Sequence[str]) -> bool:
    """Every collation orders these strings as Python does: ASCII letters and digits, one case."""
    if not all(s.isascii() and (s == "" or s.isalnum()) for s in strings):
        return False
    return not any(c.isupper() for s in strings for c in s) or not any(
        c.islower() for s in strings for c in s
    )


def _satisfiable(constraints: Iterable[_Constraint], whole: bool) -> bool:
    """Whether the constraints (on one subject) can all be TRUE at once; True when unsure."""
    cons = list(constraints)
    literals = [v for c in cons for v in c.literals]
    kinds = {_kind(v) for v in literals}
    if len(kinds) > 1 or None in kinds:
        return True
    if kinds == {"string"} and not _order_known([str(v) for v in literals]):
        cons = [c for c in cons if not c.ordered]  # their order may depend on the collation
        if not _equality_known([str(v) for c in cons for v in c.literals]):
            return True
    values: _Set = _ALL
    on_null: bool | None = True
    try:
        for c in cons:
            values, on_null = _meet(values, c.values), _and3(on_null, c.on_null)
        if whole:
            return _has_whole(values)
    except (TypeError, ValueError, OverflowError):
        return True
    return bool(values) or on_null is True


def _above(low: object, high: object) -> bool:
    """Whether ``low`` is surely above ``high`` on every database."""
    kind = _kind(low)
    if kind is None or kind != _kind(high):
        return False
    if kind == "string" and not _order_known([str(low), str(high)]):
        return False
    try:
        return bool(low > high)  # type: ignore[operator]
    except TypeError:
        return False


# --- walking the tree -----------------------------------------------------------------------------


def _is_conjunction(node: Node) -> bool:
    return isinstance(node, T.And) or (isinstance(node, T.SetOp) and node.op == "intersect")


def _conjuncts(node: Node) -> list[Node]:
    """The conditions that must all be TRUE for ``node`` to be (through nested AND and INTERSECT)."""
    if _is_conjunction(node):
        return [c for child in children(node) for c in _conjuncts(child)]
    return [node]


def _prefixes(p: Path) -> set[Path]:
    return {p[:i] for i in range(1, len(p) + 1)}


def _path_text(p: Path) -> str:
    return ".".join(step.target for step in p)


def _combine(sets: list[set[Path]], all_hold: bool) -> set[Path]:
    """The union of ``sets`` when all of their conditions hold, else their intersection."""
    if all_hold:
        return set().union(*sets)
    return set.intersection(*sets) if sets else set()


def _guarantees(node: Node, positive: bool, strict: bool = True) -> set[Path]:  # noqa: C901
    """The paths (in ``node``'s scope) with at least one record whenever ``node`` is TRUE
    (``positive``) or FALSE (not ``positive``).

    Not ``strict``: whenever ``node`` is not FALSE (``positive``) or not TRUE (not ``positive``), as
    for the right side of EXCEPT (a customer for whom it is NULL is not in it). The rules below hold
    for both readings; only avg/min/max, which are NULL without records, need the strict one.
    """
    if isinstance(node, T.Exists):
        p = T.path(node)
        if (node.kind == "any" and positive) or (node.kind == "none" and not positive):
            inner = _guarantees(node.where, True) if node.where is not None else set()
            return _prefixes(p) | {p + q for q in inner}
        if node.kind == "all" and not positive:  # some record fails the condition
            return _prefixes(p)
        return set()
    if isinstance(node, (T.And, T.Or)):
        sets = [_guarantees(i, positive, strict) for i in node.items]
        return _combine(sets, isinstance(node, T.And) == positive)
    if isinstance(node, T.Not):
        return _guarantees(node.operand, not positive, strict)
    if isinstance(node, T.SetOp):
        if node.op == "except":  # left AND (right not TRUE)
            if not positive:
                return set()
            return _guarantees(node.left, True, strict) | _guarantees(node.right, False, False)
        sets = [_guarantees(node.left, positive, strict), _guarantees(node.right, positive, strict)]
        return _combine(sets, (node.op == "intersect") == positive)
    c = _constraint(node)
    if c is None or not isinstance(c.subject, T.Agg):
        return set()
    c = c if positive else c.negated()
    agg = c.subject
    assert isinstance(agg, T.Agg)
    try:
        # count and sum of no records are 0 (never NULL); avg, min and max are NULL.
        if agg.func in ("count", "count_distinct", "sum"):
            some = not _contains(c.values, 0)
        else:
            some = strict and agg.func in ("avg", "min", "max") and c.on_null is not True
    except TypeError:
        return set()
    if not some:
        return set()
    p = T.path(agg)
    inner = _guarantees(agg.where, True) if agg.where is not None else set()
    return _prefixes(p) | {p + q for q in inner}


# (path, WHERE or None, the node that says so): members have no record on the path matching WHERE.
_Exclusion = tuple[Path, Node | None, Node]


def _excludes(node: Node, positive: bool) -> list[_Exclusion]:  # noqa: C901 - one branch per node type
    """What ``node`` TRUE (``positive``) or FALSE rules out: no record on a path (with a WHERE)."""

    def combine(lists: list[list[_Exclusion]], all_hold: bool) -> list[_Exclusion]:
        if all_hold:
            return [e for found in lists for e in found]
        if not lists:
            return []
        first, *rest = lists
        return [e for e in first if all(any(e[:2] == f[:2] for f in other) for other in rest)]

    if isinstance(node, T.Exists):
        if (node.kind == "none" and positive) or (node.kind == "any" and not positive):
            return [(T.path(node), node.where, node)]
        return []
    if isinstance(node, (T.And, T.Or)):
        return combine([_excludes(i, positive) for i in node.items], isinstance(node, T.And) == positive)
    if isinstance(node, T.Not):
        return _excludes(node.operand, not positive)
    if isinstance(node, T.SetOp):
        if node.op == "except":
            return combine([_excludes(node.left, positive), _excludes(node.right, not positive)], positive)
        lists = [_excludes(node.left, positive), _excludes(node.right, positive)]
        return combine(lists, (node.op == "intersect") == positive)
    c = _constraint(node)
    if c is None or not isinstance(c.subject, T.Agg):
        return []
    agg = c.subject
    if agg.func != "count" or agg.value is not None:
        return []
    c = c if positive else c.negated()
    try:
        only_zero = _contains(c.values, 0) and not _has_whole(_meet(c.values, ((0, False, None, False),)))
    except (TypeError, ValueError, OverflowError):
        return []
    return [(T.path(agg), agg.where, node)] if only_zero else []


_ZERO_WHEN_EMPTY = ("count", "count_distinct", "sum")
_NULL_WHEN_EMPTY = ("avg", "min", "max")


class _Checker:
    def __init__(self, text: str) -> None:
        self.text = text
        self.found: list[CheckWarning] = []

    def warn(self, message: str, pos: int, end: int) -> None:
        self.found.append(CheckWarning(message, pos, end, self.text))

    def src(self, node: Node) -> str:
        """The node's text, on one line, shortened."""
        s = " ".join(self.text[node.pos : node.end].split())
        if not s:
            return "this condition"
        return s if len(s) <= 60 else s[:57] + "..."

    def grow(self, node: Node) -> tuple[int, int]:
        """The node's span with the parentheses right around it (a condition's span leaves them out)."""
        pos, end = node.pos, node.end
        while True:
            before = self.text[:pos].rstrip()
            after = self.text[end:]
            if not (before.endswith("(") and after.lstrip().startswith(")")):
                return pos, end
            pos, end = len(before) - 1, end + (len(after) - len(after.lstrip())) + 1

    # --- the walk --------------------------------------------------------------------------------
    def visit(self, node: Node, positive: bool | None, have: Iterable[Path], *, grouped: bool) -> None:
        """Check ``node`` and what is inside it.

        ``positive``: whether ``node`` must be TRUE (False: FALSE, under a NOT; None: unknown) for its
        definition or WHERE to hold. ``have``: paths sure to have records when it matters (from the
        ANDs around ``node``, in its scope). ``grouped``: an item of an AND already checked as a whole.
        """
        if isinstance(node, (T.SegmentRef, T.MeasureRef)):
            return  # their nodes point into another definition's text
        self.atom(node)
        flip = None if positive is None else not positive
        if _is_conjunction(node):
            if not grouped:
                self.contradictions(node)
            items = list(children(node))
            if positive:
                have = set(have).union(*(_guarantees(i, True) for i in items))
            for item in items:
                self.visit(item, positive, have, grouped=True)
        elif isinstance(node, T.Or) or (isinstance(node, T.SetOp) and node.op == "union"):
            for item in children(node):
                self.visit(item, positive, have, grouped=False)
        elif isinstance(node, T.SetOp) and node.op == "except":
            extra = _guarantees(node.right, False, strict=False) if positive else set()
            self.visit(node.left, positive, set(have) | extra, grouped=False)
            self.visit(node.right, flip, (), grouped=False)
        elif isinstance(node, T.Not):
            self.visit(node.operand, flip, (), grouped=False)
        elif isinstance(node, T.Exists):
            if node.kind == "all" and node.where is not None and positive and T.path(node) not in have:
                p = _path_text(T.path(node))
                owner = T.path(node)[0].source
                self.warn(
                    f"all() is also true for {owner} with no {p}; "
                    f"add any({p}) for 'every ..., and at least one'",
                    node.pos,
                    node.end,
                )
            if node.where is not None:  # a new scope: the records'
                self.visit(node.where, True, (), grouped=False)
        elif isinstance(node, T.Agg):
            for part in (node.value, node.where):
                if part is not None:
                    self.visit(part, True, (), grouped=False)
        else:
            for child in children(node):
                self.visit(child, None, (), grouped=False)

    # --- one condition ---------------------------------------------------------------------------
    def atom(self, node: Node) -> None:
        verdict = self.verdict(node)
        if verdict is not None:
            self.warn(verdict[1], node.pos, node.end)

    def verdict(self, node: Node) -> tuple[bool, str] | None:
        """(never true?, message) for a condition that is never true or always true by itself."""
        if isinstance(node, T.Compare) and _subject(node.left) and node.left == node.right:
            what = f"`{self.src(node)}` compares `{self.src(node.left)}` with itself"
            if node.op in ("=", "<=", ">=") and _whole(node.left):
                return False, f"{what}: always true"
            if node.op in ("=", "<=", ">="):
                return False, f"{what}: always true (except where `{self.src(node.left)}` is NULL)"
            return True, f"{what}: never true"
        if isinstance(node, T.Between):
            low, high = _literal(node.low), _literal(node.high)
            if low is not None and high is not None and _above(low, high):
                why = f"{self.src(node.low)} is above {self.src(node.high)} (write the low bound first)"
                if node.negated:
                    unless = f"(except where `{self.src(node.operand)}` is NULL)"
                    return False, f"`{self.src(node)}` is always true {unless}: {why}"
                return True, f"`{self.src(node)}` is never true: {why}"
        if isinstance(node, T.Exists) and node.kind == "all" and node.where is None:
            return False, f"`{self.src(node)}` without WHERE is always true"
        if isinstance(node, (T.Compare, T.Between, T.InList, T.IsNull, T.IsEmpty, T.BeforeAfter)):
            c = _constraint(node)
            if c is not None and _whole(c.subject):
                if not _satisfiable([c], True):
                    return True, f"`{self.src(node)}` is never true: a count is a whole number, 0 or more"
                if not _satisfiable([c.negated()], True):
                    return False, f"`{self.src(node)}` is always true: a count is a whole number, 0 or more"
        return None

    # --- one AND ---------------------------------------------------------------------------------
    def conflicts(self, node: Node) -> list[list[Node]]:
        """For each subject of ``node``'s conjuncts, a smallest set of them never all TRUE."""
        groups: list[tuple[Node, list[tuple[Node, _Constraint]]]] = []
        for item in _conjuncts(node):
            c = _constraint(item)
            if c is None:
                continue
            for subject, members in groups:
                if subject == c.subject:
                    members.append((item, c))
                    break
            else:
                groups.append((c.subject, [(item, c)]))
        found = []
        for subject, members in groups:
            whole = _whole(subject)
            # One that is never true by itself is reported as such.
            core = [m for m in members if _satisfiable([m[1]], whole)]
            if len(core) < 2 or _satisfiable([c for _, c in core], whole):
                continue
            i = 0
            while i < len(core):  # drop what the contradiction does not need
                rest = core[:i] + core[i + 1 :]
                if not _satisfiable([c for _, c in rest], whole):
                    core = rest
                else:
                    i += 1
            found.append([n for n, _ in core])
        return found

    def contradictions(self, node: Node) -> None:
        for core in self.conflicts(node):
            names = [f"`{self.src(n)}`" for n in core]
            if len(names) == 2:
                message = f"{names[0]} and {names[1]} are never both true"
            else:
                message = f"{', '.join(names[:-1])} and {names[-1]} are never all true"
            spans = [self.grow(n) for n in core]
            self.warn(message, min(s[0] for s in spans), max(s[1] for s in spans))

    def never(self, node: Node) -> bool:
        """Whether ``node`` is never TRUE, by what the checks above see."""
        verdict = self.verdict(node)
        if verdict is not None:
            return verdict[0]
        if isinstance(node, T.Or):
            return all(self.never(i) for i in node.items)
        conjuncts = _conjuncts(node)
        if len(conjuncts) > 1:
            return any(self.never(c) for c in conjuncts) or bool(self.conflicts(node))
        return False

    # --- PROJECT ---------------------------------------------------------------------------------
    def projections(self, definition: T.Definition) -> None:
        excluded = _excludes(definition.condition, True)
        for projection in definition.projections:
            agg = projection.value
            if not isinstance(agg, T.Agg) or agg.func not in _ZERO_WHEN_EMPTY + _NULL_WHEN_EMPTY:
                continue
            p = T.path(agg)
            reason = None
            if agg.where is not None and self.never(agg.where):
                reason = "its WHERE is never true"
            else:
                for path, where, node in excluded:
                    if (where is None and p[: len(path)] == path) or (path == p and where == agg.where):
                        reason = f"the definition requires `{self.src(node)}`"
                        break
            if reason is not None:
                value = "0" if agg.func in _ZERO_WHEN_EMPTY else "empty"
                self.warn(
                    f"PROJECT column `{projection.alias}` is always {value}: {reason}",
                    projection.pos,
                    projection.end,
                )
