"""Parsed tree + model -> typed tree: the one place that resolves names and checks types.

Every name becomes a column, a measure, a relationship path or a saved segment; every value gets its
type; every error is a ``SegmentError`` pointing at the text (line, column, caret, did-you-mean)
before any SQL exists. Scopes follow docs/dsl.md: a definition reads the customer; the WHERE and the
attribute of an aggregate or of ``any``/``none``/``all`` read the related records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from ..dsl import ast as A
from ..dsl.parser import parse, parse_condition
from ..errors import SegmentError, did_you_mean
from ..model import Entity, Model, Step
from . import typed as T
from .functions import FUNCTIONS, fits

# name -> DSL text of a saved segment, or a static segment's stored member keys (KeyError if unknown)
SegmentSource = Callable[[str], "str | T.StoredKeys"]

ORDERABLE = {"number", "string", "date", "timestamp"}
NUMBER_AGGREGATES = ("sum", "avg", "median", "percentile", "stddev")  # of numbers only
NUMBER_RESULTS = ("count", "count_distinct", "sum", "avg", "median", "percentile", "stddev")


# A saved segment's text is parsed each time a definition that refers to it is bound; the trees are
# frozen, so one parse per text serves them all (a static segment's member list is long: ~50 us a key).
_parse_saved = lru_cache(maxsize=64)(parse)


def bind(model: Model, definition: A.Definition, segment_source: SegmentSource | None = None) -> T.Definition:
    """The typed tree of ``definition`` over ``model``; ``SegmentError`` at the first fault.

    >>> bound = bind(ws.model, parse("sum(orders.amount) >= 1000"))
    >>> bound.condition.left.type
    'number'
    """
    binder = _Binder(model, segment_source, definition.text)
    customer = Scope(binder, model.customer_entity(), is_customer=True)
    model.require_unique(
        model.customer_entity().name, model.customer_keys, "a key must identify one customer"
    )
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
            self.model.require_parent_key(step.relationship)
            steps.append(step)
            entity = self.model.entity(step.target)
        last = parts[-1]
        col = entity.column(last)
        if col is not None:
            return T.Col(tuple(steps), col.name, col.type, col.flag, col.stored, **self._span(node))
        if len(parts) == 1 and self.is_customer:
            measures = self.model.all_measures()
            if last in measures:
                return self.measure(last, measures[last], node)
        step = self.model.step(entity.name, last) if len(parts) == 1 else None
        if step is not None and step.to_many:
            raise self.err(
                f"'{last}' is a relationship, not an attribute: use count({last}), any({last} where ...) "
                f"or {last}.<attribute>",
                node,
            )
        if step is not None:
            example = next(iter(self.model.entity(step.target).columns), "<attribute>")
            raise self.err(
                f"'{last}' is a to-one relationship from {entity.name}: name one of its attributes, "
                f"as in {last}.{example}",
                node,
            )
        elsewhere = self.reachable_column(entity, last)
        if elsewhere is not None:
            raise self.err(f"unknown attribute '{last}' on {entity.name}: {elsewhere}", node)
        if self.text[node.pos : node.pos + 1] == '"' and len(parts) == 1:
            raise self.err(
                f'unknown attribute "{last}" on {entity.name}: double quotes name columns; '
                f"did you mean the string '{last}'?",
                node,
            )
        candidates = list(entity.columns) + list(self.model.steps_from(entity.name))
        if self.is_customer and len(parts) == 1:
            candidates += list(self.model.all_measures())
        raise self.err(f"unknown attribute '{last}' on {entity.name}{did_you_mean(last, candidates)}", node)

    def reachable_column(self, entity: Entity, name: str) -> str | None:
        """How to reach a column of that name one step away from ``entity``, in words, or None."""
        for step_name, step in self.model.steps_from(entity.name).items():
            target = self.model.entity(step.target)
            col = target.column(name)
            if col is None:
                continue
            if step.to_many:
                return (
                    f"'{col.name}' is an attribute of {target.name}, a to-many relationship: use an "
                    f"aggregate, as in sum({step_name}.{col.name}) or any({step_name} where {col.name} ...)"
                )
            return f"'{col.name}' is an attribute of {target.name}: write {step_name}.{col.name}"
        return None

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
            self.model.require_parent_key(step.relationship)
            to_one.append(step)
            entity = self.model.entity(step.target)
            i += 1
        many: list[Step] = []
        cur = entity
        while i < len(parts):
            step = self.model.step(cur.name, parts[i])
            if step is None or not step.to_many:
                break
            self.model.require_parent_key(step.relationship)
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
        if isinstance(node, A.Func):
            return self.function(node)
        if isinstance(node, A.Case):
            return self.case(node)
        if isinstance(node, A.Arith) and isinstance(node.right, A.Interval):
            return self.date_shift(node, node.right)
        if isinstance(node, A.Interval):
            raise self.err(
                f"a span such as {node.amount} {node.unit}s is added to or taken from a date, "
                f"as in  signup_date + {node.amount} {node.unit}s",
                node,
            )
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
        if node.value is not None:
            return self.aggregate_of_expression(node, node.value)
        if not node.path:  # count(*)
            example = min(
                (n for n, s in self.model.steps_from(self.entity.name).items() if s.to_many), default=None
            )
            raise self.err(
                f"count what? count(<relationship>), as in count({example or 'orders'}): "
                f"customers are counted by the segment itself",
                node,
            )
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
        return self.finish_aggregate(node, to_one, many, records, value)

    def aggregate_of_expression(self, node: A.Aggregate, expr: A.Expr) -> T.Agg:
        """``sum(order_lines.quantity * order_lines.unit_price)``: every name starts with the path to
        the same records; the expression is typed in their scope with those paths taken off."""
        names: list[A.Name] = []

        def collect(n: A.Node) -> None:
            if isinstance(n, (A.Aggregate, A.Exists, A.Rank)):
                raise self.err(f"{node.func}() of an expression cannot contain another aggregate or test", n)
            if isinstance(n, A.Name):
                names.append(n)
            for child in A.children(n):
                collect(child)

        collect(expr)
        if not names:
            raise self.err(
                f"{node.func}() needs values of related records, as in {node.func}(orders.amount * 2)", node
            )
        found: tuple[tuple[Step, ...], tuple[Step, ...]] | None = None
        first: A.Name | None = None
        entity: Entity | None = None
        stripped: dict[int, A.Name] = {}
        for name in names:
            to_one, many, rest, reached = self.split_path(name, name.parts)
            if not rest:
                raise self.err(
                    f"'{'.'.join(name.parts)}' is a relationship: name one of its attributes, "
                    f"as in {'.'.join(name.parts)}.<attribute>",
                    name,
                )
            if found is None:
                found, first, entity = (to_one, many), name, reached
            elif (to_one, many) != found:
                assert first is not None
                raise self.err(
                    f"the values of one aggregate come from the same records: "
                    f"'{'.'.join(first.parts)}' and '{'.'.join(name.parts)}' do not",
                    name,
                )
            written = ".".join(rest)
            at = self.text.find(written, name.pos, name.end)  # point at the attribute after the path
            pos, end = (at, at + len(written)) if at >= 0 else (name.pos, name.end)
            stripped[id(name)] = A.Name(rest, pos=pos, end=end)
        assert found is not None and entity is not None
        records = self.records(entity)
        value = records.value(_replace_names(expr, stripped))
        return self.finish_aggregate(node, found[0], found[1], records, value)

    def finish_aggregate(
        self,
        node: A.Aggregate,
        to_one: tuple[Step, ...],
        many: tuple[Step, ...],
        records: Scope,
        value: T.Value | None,
    ) -> T.Agg:
        func = node.func
        what = ".".join(node.path) if node.path else _source(self.text, node)
        if func in NUMBER_AGGREGATES and value is not None and value.type not in ("number", "null"):
            hint = ""
            if func in ("median", "percentile", "stddev") and value.type in ("string", "boolean"):
                hint = f"; mode({what}) is the most frequent value" if node.path else ""
            elif func in ("median", "percentile", "stddev") and value.type in ("date", "timestamp"):
                hint = "; min() and max() take dates, and first/last(... by ...) the value on a record"
            raise self.err(f"{func}() needs a number, but {what} is {a(value.type)}{hint}", node)
        if func in ("min", "max") and value is not None and value.type not in ORDERABLE:
            raise self.err(f"{func}() needs a comparable attribute, not {a(value.type)}", node)
        if func == "mode" and value is not None and value.type not in (*ORDERABLE, "boolean", "null"):
            raise self.err(f"mode() needs a number, text, date or boolean, not {a(value.type)}", node)
        by = self.order_by(node, records) if node.by is not None else None
        fraction = self.fraction(node) if func in ("median", "percentile") else None
        key = self.model.key_of(records.entity.name) if func in ("first", "last") else None
        where = records.condition(node.where) if node.where is not None else None
        out_type = "number" if value is None or func in NUMBER_RESULTS else value.type
        return T.Agg(func, to_one, many, value, where, out_type, by, fraction, key, **self._span(node))

    def order_by(self, node: A.Aggregate, records: Scope) -> T.Value:
        """The BY of first/last: a value of the records (read on them, like WHERE) to order them by."""
        assert node.by is not None
        for n in _walk(node.by):
            if isinstance(n, (A.Aggregate, A.Exists, A.Rank)):
                raise self.err(
                    f"{node.func}(... by ...) orders the records by one of their own values, not by an "
                    f"aggregate or test",
                    n,
                )
        try:
            by = records.value(node.by)
        except SegmentError:
            # by orders.order_date: the path to the records written again (as the value was written);
            # BY is read on the records, as WHERE is.
            value = node.value if node.value is not None else A.Name(node.path)
            written = next((n.parts[:-1] for n in _walk(value) if isinstance(n, A.Name)), ())
            parts = node.by.parts if isinstance(node.by, A.Name) else ()
            if written and [p.lower() for p in parts[: len(written)]] == [p.lower() for p in written]:
                rest = ".".join(parts[len(written) :]) or "<attribute>"
                raise self.err(
                    f"BY is read on the {records.entity.name} records, as WHERE is: write  by {rest}", node.by
                ) from None
            raise
        if by.type not in ORDERABLE:
            raise self.err(
                f"{node.func}(... by ...) needs a number, text or date to order the records by, "
                f"but {_source(self.text, node.by)} is {a(by.type)}",
                node.by,
            )
        return by

    def fraction(self, node: A.Aggregate) -> float:
        """percentile's fraction: a number from 0 to 1 written in the text (median: 0.5)."""
        if node.func == "median":
            return 0.5
        f = node.fraction
        assert f is not None
        example = f"percentile({'.'.join(node.path) or 'orders.amount'}, 0.9)"
        if isinstance(f, A.Param):
            self.value(f)  # raises: not bound
        if not (
            isinstance(f, A.Literal) and isinstance(f.value, (int, float)) and not isinstance(f.value, bool)
        ):
            raise self.err(
                f"percentile() takes a fraction from 0 to 1 written as a number, as in {example}", f
            )
        if not 0 <= f.value <= 1:
            hint = f"; {f.value:g} percent is {f.value / 100:g}" if 1 < f.value <= 100 else ""
            raise self.err(f"percentile() takes a fraction from 0 to 1, not {f.value:g}{hint}", f)
        return float(f.value)

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
        if isinstance(node, A.Rank):
            return self.rank(node)
        if isinstance(node, A.BoolTest):
            t = self.value(node.operand)
            if isinstance(t, T.Col) and t.flag and t.type == "number":  # 0/1 integers: true is not 0
                return T.Compare("!=", t, T.Lit(0, "number", **span), **span)
            if t.type != "boolean":
                what = "an aggregate" if isinstance(node.operand, A.Aggregate) else a(t.type)
                raise self.err(
                    f"{what} is not a condition: compare it, as in  {_source(self.text, node)} > 0", node
                )
            return T.BoolTest(t, **span)
        if isinstance(node, A.Compare):
            for side in (node.left, node.right):
                if isinstance(side, A.Literal) and side.value is None and node.op in ("=", "!="):
                    fix = "is null" if node.op == "=" else "is not null"
                    raise self.err(f"'{node.op} null' is never true: use  {fix}", node)
            left, right = self.value(node.left), self.value(node.right)
            flag_test = _flag_compared_with_boolean(node.op, left, right)
            if flag_test is not None:
                return dataclasses.replace(flag_test, pos=node.pos, end=node.end)
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
        if isinstance(node, A.InPeriod):
            v = self.value(node.operand)
            what = f"in {node.which} {node.unit}" if node.which != "fixed" else f"in {node.unit}"
            self.need_time(v, node.operand, what)
            return T.InPeriod(v, node.which, node.unit, node.year, node.month, **span)
        if isinstance(node, A.BeforeAfter):
            v = self.value(node.operand)
            self.need_time(v, node.operand, node.kind)
            bound = self.unify(v, self.value(node.value), node.operand, node.value)[1]
            return T.BeforeAfter(node.kind, v, bound, **span)
        if isinstance(node, (A.Literal, A.Name, A.Aggregate, A.Arith, A.Param, A.Func, A.Case)):
            return self.condition(A.BoolTest(node, pos=node.pos, end=node.end))
        raise self.err(f"unsupported condition {type(node).__name__}", node)

    def function(self, node: A.Func) -> T.Func:
        sig = FUNCTIONS[node.name]
        if not sig.arity_ok(len(node.args)):
            raise self.err(f"wrong number of arguments: {sig.shows}", node)
        args = [self.value(arg) for arg in node.args]
        kinds = [sig.params[min(i, len(sig.params) - 1)] for i in range(len(args))]
        for i, (arg, kind, src) in enumerate(zip(args, kinds, node.args, strict=True)):
            if kind == "time" and isinstance(src, A.Literal) and isinstance(src.value, str):
                args[i] = arg = self.time_literal(src, "timestamp" if " " in src.value.strip() else "date")
            if not fits(kind, arg.type):
                want = {"time": "a date or timestamp", "orderable": "a number, text or date"}.get(
                    kind, a(kind)
                )
                raise self.err(
                    f"{node.name}() needs {want} as argument {i + 1}, but {_source(self.text, src)} is "
                    f"{a(arg.type)}: {sig.shows}",
                    src,
                )
            if kind == "integer" and not (isinstance(src, A.Literal) and isinstance(src.value, int)):
                raise self.err(f"{node.name}() needs a whole number here: {sig.shows}", src)
        result = sig.result
        if result == "same":
            args = self.same_type(args, list(node.args), f"{node.name}()")
            result = next((t.type for t in args if t.type != "null"), "null")
        return T.Func(node.name, tuple(args), result, **self._span(node))

    def same_type(self, values: list[T.Value], nodes: list[A.Node], what: str) -> list[T.Value]:
        """Values that must share one type (NULL fits; a quoted date becomes a date beside dates)."""
        anchor = next((i for i, v in enumerate(values) if v.type not in ("null", "string")), None)
        anchor = (
            anchor
            if anchor is not None
            else next((i for i, v in enumerate(values) if v.type != "null"), None)
        )
        if anchor is None:
            return values
        out = []
        for value, node in zip(values, nodes, strict=True):
            try:
                out.append(self.unify(values[anchor], value, nodes[anchor], node)[1])
            except SegmentError:
                raise self.err(
                    f"{what} needs values of one type: {_source(self.text, nodes[anchor])} is "
                    f"{a(values[anchor].type)}, {_source(self.text, node)} is {a(value.type)}",
                    node,
                ) from None
        return out

    def case(self, node: A.Case) -> T.Case:
        whens = [(self.condition(w.condition), self.value(w.value), w) for w in node.whens]
        values = [v for _, v, _ in whens]
        sources: list[A.Node] = [w.value for w in node.whens]
        if node.default is not None:
            values.append(self.value(node.default))
            sources.append(node.default)
        values = self.same_type(values, sources, "CASE")
        typed_whens = tuple(
            T.When(cond, value, **self._span(w)) for (cond, _, w), value in zip(whens, values, strict=False)
        )
        default = values[-1] if node.default is not None else None
        result = next((v.type for v in values if v.type != "null"), "null")
        return T.Case(typed_whens, default, result, **self._span(node))

    def date_shift(self, node: A.Arith, span: A.Interval) -> T.DateShift:
        if node.op not in ("+", "-"):
            raise self.err(
                f"a span such as {span.amount} {span.unit}s is added or taken away, not '{node.op}'", node
            )
        operand = self.value(node.left)
        self.need_time(operand, node.left, f"+ {span.amount} {span.unit}s")
        kind = "timestamp" if operand.type == "timestamp" or span.unit in ("hour", "minute") else "date"
        amount = span.amount if node.op == "+" else -span.amount
        return T.DateShift(operand, amount, span.unit, kind, **self._span(node))

    def rank(self, node: A.Rank) -> T.Rank:
        if not self.is_customer:
            raise self.err(
                f"{node.direction} ... by ranks customers; it cannot be used inside WHERE of a related table",
                node,
            )
        by = self.value(node.by)
        if by.type not in ORDERABLE:
            raise self.err(
                f"{node.direction} ... by needs a number, text or date to rank by, not {a(by.type)}", node.by
            )
        among = self.condition(node.among) if node.among is not None else None
        return T.Rank(node.direction, node.amount, node.percent, by, among, **self._span(node))

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
        if isinstance(text, T.StoredKeys):  # a static segment's members, read where they are stored
            keys = tuple(self.value(A.Name((k,))) for k in self.binder.model.customer_entity().keys)
            stored = T.StoredKeys(text.table, text.columns, keys, **self._span(node))  # type: ignore[arg-type]
            return T.SegmentRef(node.name, stored, node.negated, **self._span(node))
        try:
            tree = _parse_saved(text)
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


def _flag_compared_with_boolean(op: str, left: T.Value, right: T.Value) -> T.Compare | None:
    """``flag = true`` on a 0/1 integer column as ``flag != 0`` (``= false``: ``flag = 0``)."""
    for col, lit in ((left, right), (right, left)):
        if (
            isinstance(col, T.Col)
            and col.flag
            and col.type == "number"
            and isinstance(lit, T.Lit)
            and isinstance(lit.value, bool)
            and op in ("=", "!=")
        ):
            is_true = lit.value == (op == "=")
            return T.Compare("!=" if is_true else "=", col, T.Lit(0, "number", pos=lit.pos, end=lit.end))
    return None


def _walk(node: A.Node) -> Iterator[A.Node]:
    """``node`` and every node inside it."""
    yield node
    for child in A.children(node):
        yield from _walk(child)


def _replace_names(node: A.Expr, names: dict[int, A.Name]) -> A.Expr:
    """``node`` with the names in ``names`` (by identity) replaced."""
    if isinstance(node, A.Name):
        return names.get(id(node), node)
    changes: dict[str, object] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, A.Node):
            changes[f.name] = _replace_names(value, names)  # type: ignore[arg-type]
        elif isinstance(value, tuple) and value and isinstance(value[0], A.Node):
            changes[f.name] = tuple(_replace_names(v, names) for v in value)
    return dataclasses.replace(node, **changes) if changes else node  # type: ignore[arg-type]


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
