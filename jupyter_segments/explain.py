"""Why is this customer in, who almost is, what if the threshold moved: questions asked of one
definition, answered in SQL from its typed tree.

- ``explain(session, definition, customer)``: the definition tree with, for that customer, each
  condition's truth and the values it compared, groups and set operators evaluated, the verdict; for
  aggregates and any/none/all the records that counted (first 20). The truths and values come from ONE
  query (``compile.build_columns`` filtered to the customer's key); the records from one small query
  per aggregate (``records=False`` skips them).
- ``near_misses(session, definition)``: the customers who fail exactly one (``max_failed``) of the
  top-level AND conditions, which one, and by how much for a comparison with a number; counts per
  condition in one query, the customers in a second.
- ``sweep(session, "sum(orders.amount) >= {x}", x=[...])``: the member count for every value (every
  combination, for several parameters) in one query.

>>> explain(session, "sum(orders.amount) >= 1000 and country = 'DE'", customer=42).verdict
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlglot import exp

from .backends.base import plain_value
from .bind import typed as T
from .compile import build_columns, build_records
from .compile.compiler import Options
from .errors import SegmentError
from .session import AsOf, Definition, Session, as_datetime, is_whole_day

RECORDS_SHOWN = 20


# --- explain one customer ------------------------------------------------------------------------


@dataclass
class Node:
    """One condition of the tree, evaluated for one customer.

    ``kind``: and, or, not, union, intersect, except, segment, rank or condition (a leaf);
    ``truth``: True, False or None (unknown: a NULL compared); ``values``: (text, value) of what the
    condition compared; ``records``: (aggregate text, its first records) for aggregates and tests.
    """

    text: str
    kind: str
    truth: bool | None = None
    values: list[tuple[str, Any]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    records: list[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def walk(self) -> Iterable[Node]:
        """This node, then its descendants (pre-order)."""
        yield self
        for child in self.children:
            yield from child.walk()

    def leaves(self) -> list[Node]:
        """The conditions with no condition inside (comparisons, tests), in the order written."""
        return [n for n in self.walk() if not n.children]


@dataclass
class Explanation:
    """Why a customer is (not) a member: ``verdict``, the evaluated ``tree``, the ``sql`` of the one
    query that computed every truth and value."""

    definition: str
    customer: Any
    verdict: bool
    tree: Node
    sql: str

    def __str__(self) -> str:
        head = f"customer {self.customer}: {'MEMBER' if self.verdict else 'not a member'}"
        lines = [head, f"  of {_one_line(self.definition)}"]
        _text_lines(self.tree, 1, lines)
        return "\n".join(lines)

    def __repr__(self) -> str:  # the readable tree: what a notebook shows as text/plain
        return str(self)

    def _repr_html_(self) -> str:
        verdict = "member" if self.verdict else "not a member"
        color = "var(--jp-success-color1, #388e3c)" if self.verdict else "var(--jp-error-color1, #d32f2f)"
        return (
            '<div class="js-explain" style="font-family: var(--jp-code-font-family, monospace)">'
            f"<div><b>customer {html.escape(str(self.customer))}</b>: "
            f'<span style="color:{color}"><b>{verdict}</b></span> of '
            f"<code>{html.escape(_one_line(self.definition))}</code></div>"
            f'<ul style="list-style:none;padding-left:0.5em">{_html_node(self.tree)}</ul></div>'
        )


def explain(
    session: Session,
    definition: Definition,
    customer: Any,
    *,
    as_of: AsOf = None,
    params: Mapping[str, Any] | None = None,
    records: bool = True,
    segment_texts: Mapping[str, str] | None = None,
) -> Explanation:
    """Explain why ``customer`` (a customer key) is or is not a member of ``definition``.

    >>> print(explain(session, "sum(orders.amount) >= 1000 and country = 'DE'", 42))
    """
    typed = session.bind(definition, params)
    source = typed.text or (definition if isinstance(definition, str) else "")
    plan = _Plan(session, segment_texts or {})
    root = plan.condition(typed.condition, source)
    options = _options(session, as_of)
    query = build_columns(session.model, plan.items, options, customer=_key_value(session, customer))
    sql = query.sql(dialect=session.dialect, copy=False)
    frame = session.fetch(sql)
    if frame.empty:
        raise SegmentError(f"no customer with key {customer!r} in {session.model.customer}")
    row = frame.iloc[0]
    for node, index, kind in plan.slots:
        value = plain_value(row.iloc[index + len(session.model.customer_keys)])  # after the key column(s)
        if kind == "truth":
            node.truth = None if value is None else bool(int(value))
        else:
            label = kind[len("value:") :]
            item = plan.items[index]
            node.values.append((label, _typed(value, getattr(item, "type", ""))))
    if records:
        key = _key_value(session, customer)
        for node, agg, label in plan.aggregates:
            q = build_records(session.model, agg, options, key, RECORDS_SHOWN)
            node.records.append((label, session.fetch(q.sql(dialect=session.dialect, copy=False))))
    return Explanation(source, customer, root.truth is True, root, sql)


class _Plan:
    """The typed tree walked once: the explain ``Node`` tree, and the columns of the one query."""

    def __init__(self, session: Session, segment_texts: Mapping[str, str]) -> None:
        self.session = session
        self.segment_texts = segment_texts
        self.items: list[T.Typed] = []
        self.slots: list[tuple[Node, int, str]] = []  # node, column index, "truth" or "value:<label>"
        self.aggregates: list[tuple[Node, T.Agg | T.Exists, str]] = []

    def add(self, node: Node, item: T.Typed, kind: str) -> None:
        self.slots.append((node, len(self.items), kind))
        self.items.append(item)

    def condition(self, cond: T.Cond, source: str) -> Node:
        node = Node(_span(cond, source), "condition")
        self.add(node, cond, "truth")
        if isinstance(cond, (T.And, T.Or)):
            node.kind = "and" if isinstance(cond, T.And) else "or"
            node.children = [self.condition(item, source) for item in cond.items]
        elif isinstance(cond, T.Not):
            node.kind = "not"
            node.children = [self.condition(cond.operand, source)]
        elif isinstance(cond, T.SetOp):
            node.kind = cond.op
            node.children = [self.condition(cond.left, source), self.condition(cond.right, source)]
        elif isinstance(cond, T.SegmentRef):
            node.kind = "segment"
            node.children = [self.condition(cond.condition, self._segment_text(cond.name))]
        elif isinstance(cond, T.Exists):
            label = _span(cond, source)
            if cond.kind != "all":
                count = T.Agg("count", cond.steps, cond.many, None, cond.where, "number")
                self.add(node, count, "value:matching records")
            self.aggregates.append((node, cond, label))
        elif isinstance(cond, T.Rank):
            node.kind = "rank"
            self.value(node, cond.by, source)
        else:
            for operand in _operands(cond):
                self.value(node, operand, source)
        return node

    def value(self, node: Node, value: T.Value, source: str) -> None:
        if isinstance(value, T.Lit):
            return
        self.add(node, value, f"value:{_span(value, source)}")
        for agg, label in _aggregates(value, source):
            self.aggregates.append((node, agg, label))

    def _segment_text(self, name: str) -> str:
        if name in self.segment_texts:
            return self.segment_texts[name]
        try:
            text = self.session._segment_source(name)
        except KeyError:
            return ""
        return text if isinstance(text, str) else ""  # a static segment's stored keys: no text


def _operands(cond: T.Cond) -> list[T.Value]:
    if isinstance(cond, T.Compare):
        return [cond.left, cond.right]
    if isinstance(cond, T.Between):
        return [cond.operand, cond.low, cond.high]
    if isinstance(cond, T.BeforeAfter):
        return [cond.operand, cond.value]
    if isinstance(cond, T.InList):
        return [cond.operand]
    if isinstance(cond, T.Like):
        return [cond.operand, cond.pattern]
    if isinstance(cond, (T.IsNull, T.IsEmpty, T.TextMatch, T.InLast, T.InPeriod, T.BoolTest)):
        return [cond.operand]
    return []


def _aggregates(value: T.Value, source: str) -> list[tuple[T.Agg, str]]:
    """The aggregates a customer-level value reads (not those inside an aggregate's own WHERE)."""
    if isinstance(value, T.Agg):
        return [(value, _span(value, source))]
    if isinstance(value, T.MeasureRef):
        return [(agg, f"{value.name}: {text}") for agg, text in _aggregates(value.value, "")]
    found: list[tuple[T.Agg, str]] = []
    for child in _value_children(value):
        found.extend(_aggregates(child, source))
    return found


def _value_children(value: T.Value) -> list[T.Value]:
    if isinstance(value, T.Arith):
        return [value.left, value.right]
    if isinstance(value, (T.Neg, T.DateShift)):
        return [value.operand]
    if isinstance(value, T.Func):
        return list(value.args)
    if isinstance(value, T.Case):
        return [w.value for w in value.whens] + ([value.default] if value.default is not None else [])
    return []


def _span(node: T.Typed, source: str) -> str:
    text = source[node.pos : node.end].strip() if source and node.end > node.pos else ""
    return _one_line(text) if text else type(node).__name__.lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _options(session: Session, as_of: AsOf) -> Options:
    return Options(dialect=session.dialect, as_of=as_datetime(as_of), whole_day=is_whole_day(as_of))


def _key_value(session: Session, customer: Any) -> Any:
    """The key as the database holds it: a digit string for a number key is that number. A composite
    key is given as a tuple in key order or a dict by column name, and comes back as a tuple."""
    entity = session.model.customer_entity()
    if len(entity.keys) > 1:
        if isinstance(customer, dict) and {str(k).lower() for k in customer} == {
            k.lower() for k in entity.keys
        }:
            by_name = {str(k).lower(): v for k, v in customer.items()}
            customer = tuple(by_name[k.lower()] for k in entity.keys)
        if not isinstance(customer, (tuple, list)) or len(customer) != len(entity.keys):
            names = ", ".join(entity.keys)
            raise SegmentError(
                f"{entity.name} is keyed by ({names}): give the customer as a tuple ({names}) "
                f"or a dict {{{', '.join(repr(k) + ': ...' for k in entity.keys)}}}, not {customer!r}"
            )
        return tuple(_one_key_value(entity.columns[k], v) for k, v in zip(entity.keys, customer, strict=True))
    return _one_key_value(entity.columns.get(entity.key or ""), customer)


def _one_key_value(column: Any, customer: Any) -> Any:
    if isinstance(customer, str) and column is not None and getattr(column, "type", "") == "number":
        try:
            return int(customer)
        except ValueError:
            return float(customer)
    if hasattr(customer, "item"):  # a numpy scalar
        return customer.item()
    return customer


def format_value(value: Any) -> str:
    """A value as the text shows it: NULL, 812.40, 'DE', 2025-06-30."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value + "'"
    return str(value)


_TRUTH = {True: "TRUE ", False: "FALSE", None: "NULL "}
_GROUP = {"and": "all of", "or": "any of", "not": "not", "union": "union", "intersect": "intersect",
          "except": "except", "segment": "in segment"}  # fmt: skip


def _describe(node: Node) -> str:
    if node.kind in _GROUP and node.kind != "segment":
        return f"{_GROUP[node.kind]}: {node.text}" if node.kind == "not" else _GROUP[node.kind]
    values = ", ".join(f"{label} = {format_value(v)}" for label, v in node.values)
    return f"{node.text}" + (f"    [{values}]" if values else "")


def _text_lines(node: Node, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    lines.append(f"{pad}{_TRUTH[node.truth]}  {_describe(node)}")
    for label, frame in node.records:
        lines.append(
            f"{pad}         records of {label}: {len(frame)}{'+' if len(frame) >= RECORDS_SHOWN else ''}"
        )
        for line in frame.head(RECORDS_SHOWN).to_string(index=False, max_colwidth=24).splitlines():
            lines.append(f"{pad}           {line}")
    for child in node.children:
        _text_lines(child, depth + 1, lines)


def _html_node(node: Node) -> str:
    mark = {True: ("✓", "#388e3c"), False: ("✗", "#d32f2f"), None: ("?", "#757575")}[node.truth]
    parts = [
        f'<li><span style="color:{mark[1]};font-weight:bold" title="{_TRUTH[node.truth].strip()}">'
        f"{mark[0]}</span> <code>{html.escape(_describe(node))}</code>"
    ]
    for label, frame in node.records:
        shown = frame.head(RECORDS_SHOWN)
        parts.append(
            f"<details><summary>records of {html.escape(label)}: {len(shown)}"
            f"{'+' if len(frame) >= RECORDS_SHOWN else ''}</summary>"
            f"{shown.to_html(index=False, max_rows=RECORDS_SHOWN, border=0)}</details>"
        )
    if node.children:
        parts.append('<ul style="list-style:none">')
        parts.extend(_html_node(child) for child in node.children)
        parts.append("</ul>")
    parts.append("</li>")
    return "".join(parts)


# --- near misses ---------------------------------------------------------------------------------


@dataclass
class NearMisses:
    """Customers who fail at most ``max_failed`` (and at least one) top-level AND condition.

    ``counts``: per condition, the customers who fail that one only (one query); ``members``: those
    who fail none; ``customers``: key, failed (the conditions' texts), and for a failed comparison of
    a number with a number literal, ``value`` and ``gap`` (how far it is from passing).
    """

    conditions: list[str]
    members: int
    counts: pd.DataFrame
    customers: pd.DataFrame
    sql: str

    def __repr__(self) -> str:
        lines = [f"near misses ({self.members} members):"]
        for row in self.counts.itertuples(index=False):
            lines.append(f"  {row.customers:>8}  miss only: {row.condition}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<div>{self.members} members</div>" + self.counts.to_html(index=False, border=0)


def near_misses(
    session: Session,
    definition: Definition,
    *,
    max_failed: int = 1,
    limit: int = 100,
    as_of: AsOf = None,
    params: Mapping[str, Any] | None = None,
    fetch: Callable[[str], pd.DataFrame] | None = None,
) -> NearMisses:
    """Who fails exactly one (up to ``max_failed``) of the definition's top-level AND conditions.

    ``counts`` is in the order of the conditions (a builder's top-level rows; a nested group is one
    condition). ``limit=0`` runs only the one query of the counts. ``fetch`` runs the SQL (default
    ``session.fetch``; a widget's worker thread passes its own connection's).

    >>> near_misses(session, "sum(orders.amount) >= 1000 and country = 'DE'").counts
    """
    typed = session.bind(definition, params)
    source = typed.text or (definition if isinstance(definition, str) else "")
    cond = typed.condition
    items: list[T.Cond] = list(cond.items) if isinstance(cond, T.And) else [cond]
    texts = [_span(item, source) for item in items]
    options = _options(session, as_of)
    n = len(items)
    # Columns: the truths c_0..c_{n-1}, then for each comparison the value compared (c_n, ...).
    columns: list[T.Typed] = list(items)
    gaps: dict[int, tuple[int, Any, str]] = {}  # condition -> (its value's column, threshold, type)
    for i, item in enumerate(items):
        measured = _measured(item)
        if measured is not None:
            value, threshold = measured
            gaps[i] = (len(columns), threshold, value.type)
            columns.append(value)
    inner = build_columns(session.model, columns, options)
    t = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("t")))

    def passed(i: int) -> exp.Expr:
        return exp.EQ(this=exp.column(f"c_{i}", "t"), expression=exp.Literal.number(1))

    def failed(i: int) -> exp.Expr:
        return exp.Case(
            ifs=[exp.If(this=passed(i), true=exp.Literal.number(0))], default=exp.Literal.number(1)
        )

    n_failed: exp.Expr = failed(0)
    for i in range(1, n):
        n_failed = exp.Add(this=n_failed, expression=failed(i))

    def count_where(c: exp.Expr, alias: str) -> exp.Expr:
        case = exp.Case(ifs=[exp.If(this=c, true=exp.Literal.number(1))], default=exp.Literal.number(0))
        return exp.alias_(exp.Sum(this=case), alias)

    zero, one = exp.Literal.number(0), exp.Literal.number(1)
    counts_q = exp.select(
        count_where(exp.EQ(this=n_failed.copy(), expression=zero), "members"),
        *(
            count_where(
                exp.and_(
                    exp.EQ(this=n_failed.copy(), expression=one), exp.EQ(this=failed(i), expression=one)
                ),
                f"only_{i}",
            )
            for i in range(n)
        ),
    ).from_(t)
    run = fetch or session.fetch
    sql = counts_q.sql(dialect=session.dialect)
    row = run(sql).iloc[0]
    members = int(plain_value(row["members"]) or 0)
    counts = pd.DataFrame(
        {"condition": texts, "customers": [int(plain_value(row[f"only_{i}"]) or 0) for i in range(n)]}
    )
    within = exp.and_(
        exp.GTE(this=n_failed.copy(), expression=one),
        exp.LTE(this=n_failed.copy(), expression=exp.Literal.number(max_failed)),
    )
    keys = list(session.model.customer_entity().keys) or ["key"]
    # the key columns of build_columns: k, then k_2, ... for a composite key
    key_columns = ["k", *(f"k_{i}" for i in range(2, len(keys) + 1))]
    order = [exp.column(c, "t") for c in key_columns]
    who_q = exp.select(exp.Star()).from_(t.copy()).where(within).order_by(*order).limit(limit)
    # limit=0: the counts alone, in the one query above (the builder's "n miss only this condition")
    frame = run(who_q.sql(dialect=session.dialect)) if limit > 0 else pd.DataFrame()
    rows = []
    for r in frame.to_dict("records"):  # per column types (iterrows would make every key a float)
        truths = [plain_value(r[f"c_{i}"]) for i in range(n)]
        failed_idx = [i for i, v in enumerate(truths) if v is None or int(v) != 1]
        entry: dict[str, Any] = {k: plain_value(r[c]) for k, c in zip(keys, key_columns, strict=True)}
        entry["failed"] = [texts[i] for i in failed_idx]
        entry["value"], entry["gap"] = None, None
        if len(failed_idx) == 1 and failed_idx[0] in gaps:
            column, threshold, vtype = gaps[failed_idx[0]]
            entry["value"] = _typed(plain_value(r[f"c_{column}"]), vtype)
            entry["gap"] = _gap(entry["value"], threshold)
        rows.append(entry)
    customers = pd.DataFrame(rows, columns=[*keys, "failed", "value", "gap"])
    if len(customers):
        customers = customers.sort_values(["gap", *keys], na_position="last", kind="stable").reset_index(
            drop=True
        )
    return NearMisses(texts, members, counts, customers, sql)


def _measured(item: T.Cond) -> tuple[T.Value, Any] | None:
    """For a comparison of a number or date with a literal (either side): the value and the literal."""
    if not isinstance(item, T.Compare) or item.op == "!=":
        return None
    for value, other in ((item.left, item.right), (item.right, item.left)):
        if isinstance(other, T.Lit) and not isinstance(value, T.Lit) and other.value is not None:
            literal = other.value
            if isinstance(literal, bool):
                return None
            if isinstance(literal, (int, float)) and value.type == "number":
                return value, literal
            if isinstance(literal, dt.date) and value.type in ("date", "timestamp"):
                return value, literal
    return None


def _gap(value: Any, threshold: Any) -> float | None:
    """How far ``value`` is from the literal it failed against: in its units for a number, in days
    for a date or timestamp; None when the value is NULL."""
    if value is None:
        return None
    if isinstance(threshold, dt.date):
        delta = pd.Timestamp(value) - pd.Timestamp(threshold)
        return abs(delta.total_seconds()) / 86400
    return abs(float(threshold) - float(value))


def _typed(value: Any, vtype: str) -> Any:
    """A fetched value in its DSL type: dates and timestamps that a database returns as text (SQLite)
    as ``datetime.date`` / ``pandas.Timestamp``, Decimals as floats."""
    if value is None:
        return None
    if vtype in ("date", "timestamp") and isinstance(value, (str, dt.date)):
        stamp = pd.Timestamp(value)
        return stamp.date() if vtype == "date" else stamp
    if vtype == "number" and not isinstance(value, (int, float, bool)):
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    return value


# --- threshold sweeps ------------------------------------------------------------------------------

MAX_COLUMNS = 200  # conditions per sweep query; a larger grid takes ceil(n / 200) queries


def sweep(
    session: Session,
    template: str,
    *,
    as_of: AsOf = None,
    fetch: Callable[[str], pd.DataFrame] | None = None,
    **grid: Iterable[Any],
) -> pd.DataFrame:
    """The member count of ``template`` for every value of each ``{name}`` (every combination of
    several): a DataFrame with one column per parameter and ``members``, in one query. ``fetch`` runs
    the SQL (default ``session.fetch``; a widget's worker thread passes its own connection's).

    >>> sweep(session, "sum(orders.amount) >= {x}", x=range(0, 5001, 250))
    """
    if not grid:
        raise SegmentError("sweep: give the values of each {placeholder}, e.g. x=[100, 200, 500]")
    names = list(grid)
    values = [list(v) for v in grid.values()]
    combos = list(itertools.product(*values))
    if not combos:
        return pd.DataFrame(columns=[*names, "members"])
    conditions = [session.bind(template, dict(zip(names, combo, strict=True))).condition for combo in combos]
    options = _options(session, as_of)
    counts: list[int] = []
    for start in range(0, len(conditions), MAX_COLUMNS):
        part = conditions[start : start + MAX_COLUMNS]
        counts.extend(_count_each(session, part, options, fetch or session.fetch))
    frame = pd.DataFrame(combos, columns=names)
    frame["members"] = counts
    return frame


def _count_each(
    session: Session, conditions: Sequence[T.Cond], options: Options, fetch: Callable[[str], pd.DataFrame]
) -> list[int]:
    inner = build_columns(session.model, conditions, options)
    t = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("t")))
    sums = []
    for i in range(len(conditions)):
        hit = exp.EQ(this=exp.column(f"c_{i}", "t"), expression=exp.Literal.number(1))
        case = exp.Case(ifs=[exp.If(this=hit, true=exp.Literal.number(1))], default=exp.Literal.number(0))
        sums.append(exp.alias_(exp.Sum(this=case), f"n_{i}"))
    sql = exp.select(*sums).from_(t).sql(dialect=session.dialect)
    row = fetch(sql).iloc[0]
    return [int(plain_value(row.iloc[i]) or 0) for i in range(len(conditions))]
