"""Parsed tree + model -> typed tree: the one place that resolves names and checks types.

Every name becomes a column, a measure, a relationship path or a saved segment; every value gets its
type; every error is a ``SegmentError`` pointing at the text (line, column, caret, did-you-mean)
before any SQL exists. Scopes follow docs/dsl.md: a definition reads the customer; the WHERE and the
attribute of an aggregate or of ``any``/``none``/``all`` read the related records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..dsl import ast as A
from ..dsl.parser import parse, parse_condition
from ..errors import SegmentError, did_you_mean
from ..model import Entity, Model, Step
from . import typed as T

SegmentSource = Callable[[str], str]  # name -> DSL text of a saved segment (KeyError if unknown)

ORDERABLE = {"number", "string", "date", "timestamp"}


def bind(model: Model, definition: A.Definition, segment_source: SegmentSource | None = None) -> T.Definition:
    """The typed tree of ``definition`` over ``model``; ``SegmentError`` at the first fault.

    >>> bound = bind(ws.model, parse("sum(orders.amount) >= 1000"))
    >>> bound.condition.left.type
    'number'
    """
    binder = _Binder(model, segment_source, definition.text)
    customer = Scope(binder, model.customer_entity(), is_customer=True)
    projections = []
    taken = {n.lower() for n in customer.entity.columns}
    for proj in definition.projections:
        value = customer.value(proj.expr)
        if proj.alias.lower() in taken:
            raise customer.err(f"projected column '{proj.alias}' clashes with an existing column", proj)
        taken.add(proj.alias.lower())
        projections.append(T.Projection(proj.alias, value, pos=proj.pos, end=proj.end))
    condition = customer.condition(definition.condition)
    return T.Definition(
        condition, tuple(projections), definition.text, pos=definition.pos, end=definition.end
    )


class _Binder:
    """State of one binding: the model, where saved segments come from, the reference stack."""

    def __init__(self, model: Model, segment_source: SegmentSource | None, text: str) -> None:
        self.model = model
        self.segment_source = segment_source
        self.text = text
        self.stack: list[str] = []  # measures and segments being bound, to catch cycles


class Scope:
    """Where names resolve: one table (the customer, or the records of an aggregate or test)."""

    def __init__(self, binder: _Binder, entity: Entity, is_customer: bool = False, text: str | None = None):
        self.binder = binder
        self.entity = entity
        self.is_customer = is_customer
        self.text = binder.text if text is None else text  # what positions refer to

    @property
    def model(self) -> Model:
        return self.binder.model

    def err(self, message: str, node: A.Node | None) -> SegmentError:
        if node is None:
            return SegmentError(message)
        return SegmentError(message, text=self.text, pos=node.pos, end=node.end)

    def _span(self, node: A.Node) -> dict[str, int]:
        return {"pos": node.pos, "end": node.end}

    # --- names ------------------------------------------------------------------------------------
    def resolve_name(self, node: A.Name) -> T.Value:
        entity = self.entity
        parts = node.parts
        steps: list[Step] = []
        for i, part in enumerate(parts[:-1]):
            step = self.model.step(entity.name, part)
            if step is None:
                if i == 0 and entity.column(part) is not None:
                    raise self.err(f"'{part}' is an attribute of {entity.name}, not a relationship", node)
                raise self.err(
                    f"unknown relationship '{part}' from {entity.name}"
                    f"{did_you_mean(part, self.model.steps_from(entity.name))}",
                    node,
                )
            if step.to_many:
                raise self.err(
                    f"'{part}' is a to-many relationship from {entity.name}: use an aggregate such as "
                    f"count({'.'.join(parts[: i + 1])}) or any({'.'.join(parts[: i + 1])} where ...)",
                    node,
                )
            steps.append(step)
            entity = self.model.entity(step.target)
        last = parts[-1]
        col = entity.column(last)
        if col is not None:
            return T.Col(tuple(steps), col.name, col.type, **self._span(node))
        if len(parts) == 1 and self.is_customer:
            measures = self.model.all_measures()
            if last in measures:
                return self.measure(last, measures[last], node)
        if len(parts) == 1 and self.model.step(entity.name, last) is not None:
            raise self.err(
                f"'{last}' is a relationship, not an attribute: use count({last}), any({last} where ...) "
                f"or {last}.<attribute>",
                node,
            )
        candidates = list(entity.columns) + list(self.model.steps_from(entity.name))
        if self.is_customer and len(parts) == 1:
            candidates += list(self.model.all_measures())
        raise self.err(f"unknown attribute '{last}' on {entity.name}{did_you_mean(last, candidates)}", node)

    def measure(self, name: str, text: str, node: A.Name) -> T.MeasureRef:
        if name in self.binder.stack:
            raise self.err(f"measure '{name}' refers to itself", node)
        try:
            tree = parse_condition(text)
        except SegmentError as e:
            raise self.err(f"measure '{name}' does not parse: {e.reason}", node) from None
        with self.nested_text("measure", name, text, node):
            # parse_condition wraps a bare value ("sum(orders.amount)") in BoolTest: a measure is a value.
            value = self.value(tree.operand if isinstance(tree, A.BoolTest) else tree)
        return T.MeasureRef(name, value, **self._span(node))

    @contextmanager
    def nested_text(self, kind: str, name: str, text: str, node: A.Node) -> Iterator[None]:
        """Bind another definition's text (a measure, a referenced segment) in this scope.

        Positions then refer to ``text``; an error is shown at ``node`` in the user's own text, with
        where it sits in the other definition as a hint. ``name`` is on the stack to catch cycles.
        """
        saved_text, self.text = self.text, text
        self.binder.stack.append(name)
        try:
            yield
        except SegmentError as e:
            raise SegmentError(
                f"in {kind} '{name}': {e.reason}",
                text=saved_text,
                pos=node.pos,
                end=node.end,
                hint=f"{kind} '{name}', {e}",
            ) from None
        finally:
            self.text = saved_text
            self.binder.stack.pop()

    # --- paths ------------------------------------------------------------------------------------
    def split_path(
        self, node: A.Node, parts: tuple[str, ...]
    ) -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[str, ...], Entity]:
        """Walk ``parts``: leading to-one steps, then at least one to-many step, then the rest.

        Returns the to-one steps, the to-many steps, the parts after them and the records' table.
        """
        entity = self.entity
        i = 0
        to_one: list[Step] = []
        while i < len(parts):
            step = self.model.step(entity.name, parts[i])
            if step is None or step.to_many:
                break
            to_one.append(step)
            entity = self.model.entity(step.target)
            i += 1
        many: list[Step] = []
        cur = entity
        while i < len(parts):
            step = self.model.step(cur.name, parts[i])
            if step is None or not step.to_many:
                break
            many.append(step)
            cur = self.model.entity(step.target)
            i += 1
        if not many:
            part = parts[i] if i < len(parts) else parts[-1]
            if cur.column(part) is not None:
                raise self.err(
                    f"'{part}' is an attribute of {cur.name}; an aggregate needs a related table first, "
                    f"as in sum(orders.amount)",
                    node,
                )
            raise self.err(
                f"unknown relationship '{part}' from {cur.name}"
                f"{did_you_mean(part, self.model.steps_from(cur.name))}",
                node,
            )
        return tuple(to_one), tuple(many), parts[i:], cur

    def records(self, entity: Entity) -> Scope:
        """The scope of the records an aggregate or test reads."""
        return Scope(self.binder, entity, text=self.text)

    # --- values -----------------------------------------------------------------------------------
    def value(self, node: A.Expr) -> T.Value:
        if isinstance(node, A.Literal):
            return literal(node)
        if isinstance(node, A.Name):
            return self.resolve_name(node)
        if isinstance(node, A.Aggregate):
            return self.aggregate(node)
        if isinstance(node, A.Arith):
            left, right = self.value(node.left), self.value(node.right)
            for side, t in ((node.left, left), (node.right, right)):
                if t.type not in ("number", "null"):
                    raise self.err(f"arithmetic needs numbers, but this is {a(t.type)}", side)
            return T.Arith(node.op, left, right, pos=node.pos, end=node.end)
        if isinstance(node, A.Neg):
            inner = self.value(node.operand)
            if inner.type != "number":
                raise self.err(f"cannot negate {a(inner.type)}", node)
            return T.Neg(inner, pos=node.pos, end=node.end)
        if isinstance(node, A.Param):
            raise self.err(f"the variable {{{node.name}}} was not bound to a value", node)
        if isinstance(node, A.CONDITION_TYPES):
            raise self.err("a condition cannot be used as a value here", node)
        raise self.err(f"unsupported expression {type(node).__name__}", node)

    def aggregate(self, node: A.Aggregate) -> T.Agg:
        to_one, many, rest, entity = self.split_path(node, node.path)
        records = self.records(entity)
        value: T.Value | None = None
        if rest:
            # Point an error at the attribute itself, not the whole aggregate, when it can be found.
            written = ".".join(rest)
            at = self.text.find(written, node.pos, node.end)
            pos, end = (at, at + len(written)) if at >= 0 else (node.pos, node.end)
            value = records.resolve_name(A.Name(tuple(rest), pos=pos, end=end))
        elif node.func != "count":
            raise self.err(
                f"{node.func}() needs an attribute: {node.func}({'.'.join(node.path)}.<attribute>)", node
            )
        if node.func in ("sum", "avg") and value is not None and value.type != "number":
            raise self.err(
                f"{node.func}() needs a number, but {'.'.join(node.path)} is {a(value.type)}", node
            )
        if node.func in ("min", "max") and value is not None and value.type not in ORDERABLE:
            raise self.err(f"{node.func}() needs a comparable attribute, not {a(value.type)}", node)
        where = records.condition(node.where) if node.where is not None else None
        out_type = (
            "number"
            if value is None or node.func in ("count", "count_distinct", "sum", "avg")
            else value.type
        )
        return T.Agg(node.func, to_one, many, value, where, out_type, **self._span(node))

    # --- conditions -------------------------------------------------------------------------------
    def condition(self, node: A.Expr) -> T.Cond:  # noqa: C901 - one branch per node type
        span = self._span(node)
        if isinstance(node, A.And):
            return T.And(tuple(self.condition(i) for i in node.items), **span)
        if isinstance(node, A.Or):
            return T.Or(tuple(self.condition(i) for i in node.items), **span)
        if isinstance(node, A.Not):
            return T.Not(self.condition(node.operand), **span)
        if isinstance(node, A.SetOp):
            if not self.is_customer:
                raise self.err(f"{node.op.upper()} combines segments; inside WHERE use AND, OR and NOT", node)
            return T.SetOp(node.op, self.condition(node.left), self.condition(node.right), **span)
        if isinstance(node, A.SegmentRef):
            return self.segment_ref(node)
        if isinstance(node, A.Exists):
            return self.exists(node)
        if isinstance(node, A.BoolTest):
            t = self.value(node.operand)
            if t.type != "boolean":
                what = "an aggregate" if isinstance(node.operand, A.Aggregate) else a(t.type)
                raise self.err(
                    f"{what} is not a condition: compare it, as in  {_source(self.text, node)} > 0", node
                )
            return T.BoolTest(t, **span)
        if isinstance(node, A.Compare):
            left, right = self.value(node.left), self.value(node.right)
            left, right = self.unify(left, right, node.left, node.right)
            if node.op not in ("=", "!=") and (left.type not in ORDERABLE and left.type != "null"):
                raise self.err(f"'{node.op}' needs numbers, strings or dates, not {a(left.type)}", node)
            return T.Compare(node.op, left, right, **span)
        if isinstance(node, A.Between):
            v = self.value(node.operand)
            low = self.unify(v, self.value(node.low), node.operand, node.low)[1]
            high = self.unify(v, self.value(node.high), node.operand, node.high)[1]
            return T.Between(v, low, high, node.negated, **span)
        if isinstance(node, A.InList):
            v = self.value(node.operand)
            items = tuple(self.unify(v, self.value(i), node.operand, i)[1] for i in node.items)
            if not items:
                raise self.err("an IN list needs at least one value", node)
            return T.InList(v, items, node.negated, **span)
        if isinstance(node, A.IsNull):
            return T.IsNull(self.value(node.operand), node.negated, **span)
        if isinstance(node, A.IsEmpty):
            return T.IsEmpty(self.value(node.operand), node.negated, **span)
        if isinstance(node, A.Like):
            v = self.value(node.operand)
            self.need(v, "string", node.operand, "LIKE")
            pattern = self.value(node.pattern)
            self.need(pattern, "string", node.pattern, "LIKE")
            return T.Like(v, pattern, node.case_insensitive, node.negated, **span)
        if isinstance(node, A.TextMatch):
            v = self.value(node.operand)
            self.need(v, "string", node.operand, node.kind.replace("_", " "))
            if not (isinstance(node.value, A.Literal) and isinstance(node.value.value, str)):
                raise self.err(f"{node.kind.replace('_', ' ')} needs a text value in quotes", node.value)
            return T.TextMatch(node.kind, v, node.value.value, node.negated, **span)
        if isinstance(node, A.InLast):
            v = self.value(node.operand)
            self.need_time(v, node.operand, "in last")
            return T.InLast(v, node.amount, node.unit, **span)
        if isinstance(node, A.BeforeAfter):
            v = self.value(node.operand)
            self.need_time(v, node.operand, node.kind)
            bound = self.unify(v, self.value(node.value), node.operand, node.value)[1]
            return T.BeforeAfter(node.kind, v, bound, **span)
        if isinstance(node, (A.Literal, A.Name, A.Aggregate, A.Arith, A.Param)):
            return self.condition(A.BoolTest(node, pos=node.pos, end=node.end))
        raise self.err(f"unsupported condition {type(node).__name__}", node)

    def exists(self, node: A.Exists) -> T.Exists:
        to_one, many, rest, entity = self.split_path(node, node.path)
        if rest:
            if entity.column(rest[0]) is None:  # any(orders.payments ...): a path that does not exist
                raise self.err(
                    f"unknown relationship '{rest[0]}' from {entity.name}"
                    f"{did_you_mean(rest[0], self.model.steps_from(entity.name))}",
                    node,
                )
            raise self.err(
                f"{node.kind}() takes a relationship path, not an attribute: "
                f"{node.kind}({'.'.join(node.path[: len(node.path) - len(rest)])} where {rest[0]} ...)",
                node,
            )
        where = self.records(entity).condition(node.where) if node.where is not None else None
        return T.Exists(node.kind, to_one, many, where, **self._span(node))

    def segment_ref(self, node: A.SegmentRef) -> T.SegmentRef:
        if not self.is_customer:
            raise self.err(
                "'in segment' tests customers; it cannot be used inside WHERE of a related table", node
            )
        source = self.binder.segment_source
        if node.name in self.binder.stack:
            cycle = " -> ".join([*self.binder.stack, node.name])
            raise self.err(f"segment reference cycle: {cycle}", node)
        if source is None:
            raise self.err(f"unknown segment '{node.name}' (no catalog is attached)", node)
        try:
            text = source(node.name)
        except KeyError as e:
            # The source's KeyError carries a suffix such as "; did you mean 'vip'?" (a plain
            # dict's KeyError('name') carries the name itself, which is not shown twice).
            hint = e.args[0] if e.args and isinstance(e.args[0], str) and e.args[0] != node.name else ""
            raise self.err(f"unknown segment '{node.name}'{hint}", node) from None
        try:
            tree = parse(text)
        except SegmentError as e:
            raise self.err(f"segment '{node.name}' does not parse: {e.reason}", node) from None
        with self.nested_text("segment", node.name, text, node):
            inner = self.condition(tree.condition)
        return T.SegmentRef(node.name, inner, node.negated, **self._span(node))

    # --- types ------------------------------------------------------------------------------------
    def need(self, t: T.Value, want: str, node: A.Node, what: str) -> None:
        if t.type not in (want, "null"):
            raise self.err(f"{what} needs {a(want)}, but {_source(self.text, node)} is {a(t.type)}", node)

    def need_time(self, t: T.Value, node: A.Node, what: str) -> None:
        if t.type not in ("date", "timestamp"):
            raise self.err(
                f"'{what}' needs a date or timestamp, but {_source(self.text, node)} is {a(t.type)}", node
            )

    def unify(self, left: T.Value, right: T.Value, lnode: A.Node, rnode: A.Node) -> tuple[T.Value, T.Value]:
        """Check that two values compare, turning a quoted date into a date where a date is expected."""
        if left.type == right.type or "null" in (left.type, right.type):
            return left, right
        if (
            left.type in ("date", "timestamp")
            and isinstance(rnode, A.Literal)
            and isinstance(rnode.value, str)
        ):
            return left, self.time_literal(rnode, left.type)
        if (
            right.type in ("date", "timestamp")
            and isinstance(lnode, A.Literal)
            and isinstance(lnode.value, str)
        ):
            return self.time_literal(lnode, right.type), right
        if {left.type, right.type} == {"date", "timestamp"}:
            return left, right
        raise self.err(
            f"cannot compare {a(left.type)} ({_source(self.text, lnode)}) with {a(right.type)} "
            f"({_source(self.text, rnode)})",
            rnode,
        )

    def time_literal(self, node: A.Literal, kind: str) -> T.Lit:
        text = str(node.value)
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise self.err(f"'{text}' is not a date: write it as 'YYYY-MM-DD'", node) from None
        if kind == "date" and value.time() == dt.time(0) and len(text) <= 10:
            return T.Lit(value.date(), "date", **self._span(node))
        return T.Lit(value, "timestamp", **self._span(node))


def literal(node: A.Literal) -> T.Lit:
    v = node.value
    span = {"pos": node.pos, "end": node.end}
    if v is None:
        return T.Lit(None, "null", **span)
    if isinstance(v, bool):
        return T.Lit(v, "boolean", **span)
    if isinstance(v, (int, float)):
        return T.Lit(v, "number", **span)
    if isinstance(v, dt.datetime):
        return T.Lit(v, "timestamp", **span)
    if isinstance(v, dt.date):
        return T.Lit(v, "date", **span)
    return T.Lit(str(v), "string", **span)


def a(t: str) -> str:
    """A type as the messages say it: 'a number', 'NULL', ..."""
    names = {
        "number": "a number",
        "string": "a string",
        "date": "a date",
        "timestamp": "a timestamp",
        "boolean": "a boolean",
        "null": "NULL",
        "other": "a value of an unsupported type",
    }
    return names.get(t, t)


def _source(text: str, node: A.Node) -> str:
    snippet = text[node.pos : node.end].strip()
    return snippet if 0 < len(snippet) <= 60 else "this"
