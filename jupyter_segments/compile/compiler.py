"""Definition tree + model -> sqlglot expression.

Names are resolved and types checked while the sqlglot tree is built, so every error is raised before
any SQL exists. The SQL shape (measured in docs/sql-shape.md):

* aggregates over a relationship are pre-aggregated once per query: one derived table per path,
  ``GROUP BY`` the foreign key, ``LEFT JOIN``-ed to its parent so customers without records stay in;
  several aggregates over the same path share that table (conditional aggregation);
* ``any(...)`` is a semi-join (``IN (SELECT fk ...)``), ``none``/``all`` anti-joins;
* set operators on groups are boolean logic over one scan of the customer table (no INTERSECT/EXCEPT,
  which MariaDB and older MySQL lack).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlglot import exp

from ..dsl import ast as A
from ..dsl.parser import parse, parse_condition
from ..errors import SegmentError, did_you_mean
from ..model import Entity, Model, Step
from . import dialects as D
from . import via_parent as VP

ValueType = str  # an AttrType, or "null" for a bare NULL literal
_ORDERABLE = {"number", "string", "date", "timestamp"}
_COUNTS = {"count", "count_distinct"}
_ZERO_WHEN_EMPTY = {"count", "count_distinct", "sum"}


@dataclass
class Typed:
    sql: exp.Expr
    type: ValueType


@dataclass
class Options:
    dialect: str
    as_of: dt.datetime | None  # None: relative windows are computed by the database at run time
    segment_source: Callable[[str], str] | None = None  # name -> DSL text of a saved segment
    # as_of was a date, not a moment: timestamp windows then cover that whole day (events at 15:00 on
    # the as_of date are "in the last 7 days" as of that date).
    whole_day: bool = False


@dataclass
class _Measure:
    column: str  # output column of the derived table
    func: str
    value: exp.Expr | None  # None for count(...)
    where: exp.Expr | None
    unless: bool = False  # count the rows where ``where`` is not TRUE (all(): the offending records)


@dataclass
class _AggGroup:
    """One derived table: the records reached by a to-many path, grouped by the first step's key."""

    alias: str
    anchor_alias: str
    steps: list[Step]
    table_aliases: list[str]
    records: Scope
    measures: list[_Measure] = field(default_factory=list)

    def measure(
        self, func: str, value: exp.Expr | None, where: exp.Expr | None, unless: bool = False
    ) -> _Measure:
        """The table's column for this aggregate, added on first use: the same aggregate written twice
        (or by two segments of a shared refresh) is computed once."""
        for m in self.measures:
            if (m.func, m.unless) == (func, unless) and m.value == value and m.where == where:
                return m
        found = _Measure(f"{func}_{len(self.measures) + 1}", func, value, where, unless)
        self.measures.append(found)
        return found


class _Context:
    """State shared by one compilation: the options, unique aliases, the segment-reference stack."""

    def __init__(self, model: Model, options: Options, text: str) -> None:
        self.model = model
        self.options = options
        self.text = text
        self.used_aliases: set[str] = set()
        self.segment_stack: list[str] = []

    def alias(self, base: str) -> str:
        base = "".join(ch if ch.isalnum() else "_" for ch in base.lower())[:20] or "t"
        if not base[0].isalpha():
            base = "t_" + base
        n = 1
        while f"{base}_{n}" in self.used_aliases:
            n += 1
        name = f"{base}_{n}"
        self.used_aliases.add(name)
        return name

    def error(self, message: str, node: A.Node | None, text: str | None = None) -> SegmentError:
        if node is None:
            return SegmentError(message)
        return SegmentError(message, text=text if text is not None else self.text, pos=node.pos, end=node.end)


class Scope:
    """Where names resolve: one entity under one alias, plus the joins its expressions needed."""

    def __init__(self, ctx: _Context, entity: Entity, alias: str, is_customer: bool = False) -> None:
        self.ctx = ctx
        self.entity = entity
        self.alias = alias
        self.is_customer = is_customer
        self.joins: list[exp.Join] = []
        self.to_one: dict[tuple[str, str], tuple[str, Entity]] = {}  # (alias, step target) -> joined alias
        self.groups: dict[tuple[str, tuple[str, ...]], _AggGroup] = {}
        self.text = ctx.text  # the text that positions refer to (a measure's own text while compiling it)
        # > 0 while compiling under a three-valued NOT: there a group's membership (set operators,
        # segment references) must be TRUE or FALSE, never NULL, or NOT(x AND group) drops customers.
        self.under_not = 0
        # The ``key IN (SELECT fk ...)`` tests any() compiled here, with their path: a query
        # may read such a child's keys instead of the customer table (compile._driven_by_child).
        self.semi_joins: list[tuple[exp.In, list[Step]]] = []

    @property
    def model(self) -> Model:
        return self.ctx.model

    @property
    def dialect(self) -> str:
        return self.ctx.options.dialect

    def err(self, message: str, node: A.Node | None) -> SegmentError:
        return self.ctx.error(message, node, self.text)

    # --- FROM clause ------------------------------------------------------------------------------
    def from_joins(self) -> list[exp.Join]:
        """All joins of this scope, derived tables built now that every aggregate is known."""
        joins = list(self.joins)
        for group in self.groups.values():
            if group.measures:  # a table prepared for an aggregate that then failed has none
                joins.append(_group_join(group))
        return joins

    def join_to_one(self, from_alias: str, from_entity: Entity, step: Step) -> tuple[str, Entity]:
        key = (from_alias, step.target)
        if key not in self.to_one:
            target = self.model.entity(step.target)
            alias = self.ctx.alias(target.name)
            on = exp.EQ(
                this=D.column(alias, step.target_column), expression=D.column(from_alias, step.source_column)
            )
            self.joins.append(exp.Join(this=D.table(target.name, alias), on=on, side="LEFT"))
            self.to_one[key] = (alias, target)
        return self.to_one[key]

    # --- names ------------------------------------------------------------------------------------
    def resolve_name(self, node: A.Name) -> Typed:
        alias, entity = self.alias, self.entity
        parts = node.parts
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
            alias, entity = self.join_to_one(alias, entity, step)
        last = parts[-1]
        col = entity.column(last)
        if col is not None:
            return Typed(D.column(alias, col.name), col.type)
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

    def measure(self, name: str, text: str, node: A.Name) -> Typed:
        if name in self.ctx.segment_stack:
            raise self.err(f"measure '{name}' refers to itself", node)
        try:
            tree = parse_condition(text)
        except SegmentError as e:
            raise self.err(f"measure '{name}' does not parse: {e.reason}", node) from None
        with self.nested_text("measure", name, text, node):
            # parse_condition wraps a bare value ("sum(orders.amount)") in BoolTest: a measure is a value.
            return self.value(tree.operand if isinstance(tree, A.BoolTest) else tree)

    @contextmanager
    def nested_text(self, kind: str, name: str, text: str, node: A.Node) -> Iterator[None]:
        """Compile another definition's text (a measure, a referenced segment) in this scope.

        Positions then refer to ``text``; an error is shown at ``node`` in the user's own text, with
        where it sits in the other definition as a hint. ``name`` is on the stack to catch cycles.
        """
        saved_text, self.text = self.text, text
        self.ctx.segment_stack.append(name)
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
            self.ctx.segment_stack.pop()

    # --- paths ------------------------------------------------------------------------------------
    def split_path(self, node: A.Node, parts: tuple[str, ...], need_many: bool = True):
        """Walk ``parts``: leading to-one steps (joined here), then to-many steps, then the rest."""
        alias, entity = self.alias, self.entity
        i = 0
        while i < len(parts):
            step = self.model.step(entity.name, parts[i])
            if step is None or step.to_many:
                break
            alias, entity = self.join_to_one(alias, entity, step)
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
        if not many and need_many:
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
        return alias, many, parts[i:]

    def records_scope(self, anchor_alias: str, steps: list[Step]) -> tuple[Scope, list[str], list[exp.Join]]:
        """A scope over the records at the end of ``steps``; the inner joins that reach them."""
        aliases = [self.ctx.alias(s.target) for s in steps]
        chain: list[exp.Join] = []
        for k in range(1, len(steps)):
            s = steps[k]
            chain.append(
                exp.Join(
                    this=D.table(s.target, aliases[k]),
                    on=exp.EQ(
                        this=D.column(aliases[k], s.target_column),
                        expression=D.column(aliases[k - 1], s.source_column),
                    ),
                )
            )
        last = self.model.entity(steps[-1].target)
        scope = Scope(self.ctx, last, aliases[-1])
        scope.text = self.text
        scope.joins.extend(chain)
        # The records' parent along the path is already joined: reuse it for names like orders.status.
        if len(steps) > 1:
            parent = self.model.entity(steps[-2].target)
            scope.to_one[(aliases[-1], parent.name)] = (aliases[-2], parent)
        return scope, aliases, chain

    # --- values -----------------------------------------------------------------------------------
    def value(self, node: A.Expr) -> Typed:
        if isinstance(node, A.Literal):
            return self.literal(node)
        if isinstance(node, A.Name):
            return self.resolve_name(node)
        if isinstance(node, A.Aggregate):
            return self.aggregate(node)
        if isinstance(node, A.Arith):
            left, right = self.value(node.left), self.value(node.right)
            for side, t in ((node.left, left), (node.right, right)):
                if t.type not in ("number", "null"):
                    raise self.err(f"arithmetic needs numbers, but this is {_a(t.type)}", side)
            if node.op == "/":
                # Never integer division; division by zero gives NULL rather than an error.
                num = exp.Mul(this=exp.Paren(this=left.sql), expression=exp.Literal.number("1.0"))
                den = exp.Nullif(this=right.sql, expression=exp.Literal.number(0))
                return Typed(exp.Div(this=num, expression=den), "number")
            cls = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
            return Typed(cls(this=exp.Paren(this=left.sql), expression=exp.Paren(this=right.sql)), "number")
        if isinstance(node, A.Neg):
            inner = self.value(node.operand)
            if inner.type != "number":
                raise self.err(f"cannot negate {_a(inner.type)}", node)
            return Typed(exp.Neg(this=exp.Paren(this=inner.sql)), "number")
        if isinstance(node, A.Param):
            raise self.err(f"the variable {{{node.name}}} was not bound to a value", node)
        if isinstance(node, A.CONDITION_TYPES):
            raise self.err("a condition cannot be used as a value here", node)
        raise self.err(f"unsupported expression {type(node).__name__}", node)

    def literal(self, node: A.Literal) -> Typed:
        v = node.value
        if v is None:
            return Typed(exp.Null(), "null")
        if isinstance(v, bool):
            return Typed(exp.Boolean(this=v), "boolean")
        if isinstance(v, (int, float)):
            return Typed(exp.Literal.number(repr(v) if isinstance(v, float) else str(v)), "number")
        if isinstance(v, dt.datetime):
            return Typed(D.timestamp_literal(v, self.dialect), "timestamp")
        if isinstance(v, dt.date):
            return Typed(D.date_literal(v, self.dialect), "date")
        return Typed(exp.Literal.string(str(v)), "string")

    def group_for(self, anchor_alias: str, steps: list[Step]) -> _AggGroup:
        """The aggregate table of a path from this scope, created on first use."""
        key = _group_key(anchor_alias, steps)
        group = self.groups.get(key)
        if group is None:
            records, aliases, _ = self.records_scope(anchor_alias, steps)
            group = _AggGroup(
                self.ctx.alias(steps[-1].target + "_agg"), anchor_alias, steps, aliases, records
            )
            self.groups[key] = group
        return group

    def prepare_groups(self, nodes: Sequence[A.Expr | None]) -> None:
        """Create the aggregate tables of this scope's aggregates before any condition is compiled.

        An any/none/all over a path that has an aggregate table becomes a count in it (one scan); doing
        this first makes that independent of the order the parts are written in, and lets the segments
        of a shared refresh find each other's tables. Nested scopes are prepared too, so a two-step
        aggregate can find the per-parent table a nested scope builds (see ``via_parent``).
        """
        aggregates, _ = _in_scope(nodes)
        paths: list[tuple[A.Aggregate, str, list[Step]]] = []
        for agg in aggregates:
            try:
                anchor_alias, steps, _ = self.split_path(agg, agg.path)
            except SegmentError:
                continue  # reported, with its position, when the aggregate itself is compiled
            paths.append((agg, anchor_alias, steps))
            if len(steps) == 1:
                self.group_for(anchor_alias, steps)
        for agg, anchor_alias, steps in paths:  # their WHERE is compiled in their group's records
            group = self.groups.get(_group_key(anchor_alias, steps))
            if group is not None and agg.where is not None:
                group.records.prepare_groups([agg.where])
        for agg, anchor_alias, steps in paths:
            if len(steps) > 1 and self._via_parent_plan(agg.func, agg.where, anchor_alias, steps) is None:
                self.group_for(anchor_alias, steps)

    def folds_cheaply(self, where: A.Expr | None) -> bool:
        """Whether ``where`` compiles here without a new join: no to-one step not yet joined in this
        scope, no nested scope whose table this scope does not already build.

        Folding an any/none into an aggregate table makes every record pay for its condition. A plain
        condition is a CASE per row, cheaper than a second scan; a new join is not (1M customers: a
        products join on all 31M order lines cost 0.85 s, the filtered semi-join alone 0.37 s; a nested
        per-order table joined to all orders 1.7 s, the semi-join on its matches 1.66 s in all).
        """
        if where is None:
            return True
        if isinstance(where, A.Name):
            if len(where.parts) == 1:
                return True
            step = self.model.step(self.entity.name, where.parts[0])
            return len(where.parts) == 2 and step is not None and (self.alias, step.target) in self.to_one
        if isinstance(where, (A.Aggregate, A.Exists)):
            step = self.model.step(self.entity.name, where.path[0])
            if step is None or not step.to_many:
                return False
            second = self.model.step(step.target, where.path[1]) if len(where.path) > 1 else None
            if second is not None and second.to_many:
                return False  # a two-step nested path: its own table
            nested = self.groups.get(_group_key(self.alias, [step]))
            return nested is not None and nested.records.folds_cheaply(where.where)
        if isinstance(where, A.SegmentRef):
            return False
        return all(self.folds_cheaply(child) for child in A.children(where))

    def _via_parent_plan(
        self, func: str, where: A.Expr | None, anchor_alias: str, steps: list[Step]
    ) -> tuple[_AggGroup, A.Expr | None, A.Expr | None] | None:
        """How a two-step aggregate or any/none reads the per-parent table a nested scope builds.

        (the parent's group, conditions on the parent, conditions on the records), or None when
        there is no such table (then a join of the two steps is cheaper) or the conditions mix.
        """
        if len(steps) != 2 or func not in VP.COMBINE:
            return None
        outer = self.groups.get(_group_key(anchor_alias, steps[:1]))
        per_parent = outer.records.groups.get(_group_key(outer.records.alias, steps[1:])) if outer else None
        if outer is None or per_parent is None:
            return None
        parents = VP.parent_steps(self.model, steps)
        split = VP.split_where(where, parents)
        if split is None:
            return None
        on_parent, on_records = split
        if not per_parent.records.folds_cheaply(on_records):
            return None  # e.g. a to-one join every record of the shared table would pay for
        return outer, VP.strip_parent(on_parent, parents) if on_parent is not None else None, on_records

    def _aggregate_via_parent(
        self, node: A.Aggregate, anchor_alias: str, steps: list[Step], rest: tuple[str, ...]
    ) -> Typed | None:
        plan = self._via_parent_plan(node.func, node.where, anchor_alias, steps)
        if plan is None:
            return None
        outer, on_parent, on_records = plan
        first = len(node.path) - len(steps) - len(rest)  # after the leading to-one steps
        per_parent = outer.records.aggregate(
            A.Aggregate(node.func, node.path[first + 1 :], on_records, pos=node.pos, end=node.end)
        )
        outer.records.prepare_groups([on_parent])
        where = outer.records.condition(on_parent) if on_parent is not None else None
        combine = VP.COMBINE[node.func]
        measure = outer.measure(combine, per_parent.sql, where)
        ref: exp.Expr = D.column(outer.alias, measure.column)
        if node.func in _ZERO_WHEN_EMPTY:
            ref = exp.Coalesce(this=ref, expressions=[exp.Literal.number(0)])
        return Typed(ref, per_parent.type)

    def aggregate(self, node: A.Aggregate) -> Typed:
        anchor_alias, steps, rest = self.split_path(node, node.path)
        via_parent = self._aggregate_via_parent(node, anchor_alias, steps, rest)
        if via_parent is not None:
            return via_parent
        group = self.group_for(anchor_alias, steps)
        records = group.records
        value: Typed | None = None
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
                f"{node.func}() needs a number, but {'.'.join(node.path)} is {_a(value.type)}", node
            )
        if node.func in ("min", "max") and value is not None and value.type not in _ORDERABLE:
            raise self.err(f"{node.func}() needs a comparable attribute, not {_a(value.type)}", node)
        records.prepare_groups([node.where])
        where = records.condition(node.where) if node.where is not None else None
        measure = group.measure(node.func, value.sql if value else None, where)
        ref: exp.Expr = D.column(group.alias, measure.column)
        if node.func in _ZERO_WHEN_EMPTY:
            ref = exp.Coalesce(this=ref, expressions=[exp.Literal.number(0)])
        out_type: ValueType = (
            "number"
            if value is None or node.func in ("count", "count_distinct", "sum", "avg")
            else value.type
        )
        return Typed(ref, out_type)

    # --- conditions -------------------------------------------------------------------------------
    def condition(self, node: A.Expr) -> exp.Expr:  # noqa: C901 - one branch per node type
        if isinstance(node, A.And):
            return exp.and_(*(self.condition(i) for i in node.items), copy=False)
        if isinstance(node, A.Or):
            return exp.or_(*(self.condition(i) for i in node.items), copy=False)
        if isinstance(node, A.Not):
            if isinstance(node.operand, (A.SetOp, A.SegmentRef)):
                return _not_true(self.condition(node.operand))
            self.under_not += 1
            try:
                return _not(self.condition(node.operand))
            finally:
                self.under_not -= 1
        if isinstance(node, A.SetOp):
            if not self.is_customer:
                raise self.err(f"{node.op.upper()} combines segments; inside WHERE use AND, OR and NOT", node)
            lhs, rhs = self.condition(node.left), self.condition(node.right)
            if node.op == "union":
                combined = exp.or_(lhs, rhs, copy=False)
            elif node.op == "intersect":
                combined = exp.and_(lhs, rhs, copy=False)
            else:
                combined = exp.and_(lhs, _not_true(rhs), copy=False)
            return _is_true(combined) if self.under_not else combined
        if isinstance(node, A.SegmentRef):
            return self.segment_ref(node)
        if isinstance(node, A.Exists):
            return self.exists(node)
        if isinstance(node, A.BoolTest):
            t = self.value(node.operand)
            if t.type != "boolean":
                what = "an aggregate" if isinstance(node.operand, A.Aggregate) else _a(t.type)
                raise self.err(
                    f"{what} is not a condition: compare it, as in  {_source(self.text, node)} > 0", node
                )
            return (
                exp.EQ(this=t.sql, expression=exp.Boolean(this=True))
                if not isinstance(t.sql, exp.Column)
                else t.sql
            )
        if isinstance(node, A.Compare):
            left, right = self.value(node.left), self.value(node.right)
            left, right = self.unify(left, right, node.left, node.right)
            if node.op not in ("=", "!=") and (left.type not in _ORDERABLE and left.type != "null"):
                raise self.err(f"'{node.op}' needs numbers, strings or dates, not {_a(left.type)}", node)
            cls = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[
                node.op
            ]
            if not self.under_not:
                left, right = _without_empty_default(node, left, right)
            return cls(this=left.sql, expression=right.sql)
        if isinstance(node, A.Between):
            v = self.value(node.operand)
            low = self.unify(v, self.value(node.low), node.operand, node.low)[1]
            high = self.unify(v, self.value(node.high), node.operand, node.high)[1]
            out: exp.Expr = exp.Between(this=v.sql, low=low.sql, high=high.sql)
            return _not(out) if node.negated else out
        if isinstance(node, A.InList):
            v = self.value(node.operand)
            items = [self.unify(v, self.value(i), node.operand, i)[1].sql for i in node.items]
            if not items:
                raise self.err("an IN list needs at least one value", node)
            out = exp.In(this=v.sql, expressions=items)
            return _not(out) if node.negated else out
        if isinstance(node, A.IsNull):
            v = self.value(node.operand)
            out = exp.Is(this=v.sql, expression=exp.Null())
            return _not(out) if node.negated else out
        if isinstance(node, A.IsEmpty):
            v = self.value(node.operand)
            is_null = exp.Is(this=v.sql, expression=exp.Null())
            out = (
                exp.Paren(
                    this=exp.or_(
                        is_null, exp.EQ(this=v.sql.copy(), expression=exp.Literal.string("")), copy=False
                    )
                )
                if v.type == "string"
                else is_null
            )
            return _not(out) if node.negated else out
        if isinstance(node, A.Like):
            v = self.value(node.operand)
            self.need(v, "string", node.operand, "LIKE")
            pattern = self.value(node.pattern)
            self.need(pattern, "string", node.pattern, "LIKE")
            out = (
                D.like_ci(v.sql, pattern.sql, self.dialect, None)
                if node.case_insensitive
                else exp.Like(this=v.sql, expression=pattern.sql)
            )
            return _not(out) if node.negated else out
        if isinstance(node, A.TextMatch):
            return self.text_match(node)
        if isinstance(node, A.InLast):
            return self.in_last(node)
        if isinstance(node, A.BeforeAfter):
            v = self.value(node.operand)
            self.need_time(v, node.operand, node.kind)
            bound = self.unify(v, self.value(node.value), node.operand, node.value)[1]
            return (exp.LT if node.kind == "before" else exp.GT)(this=v.sql, expression=bound.sql)
        if isinstance(node, (A.Literal, A.Name, A.Aggregate, A.Arith, A.Param)):
            return self.condition(A.BoolTest(node, pos=node.pos, end=node.end))
        raise self.err(f"unsupported condition {type(node).__name__}", node)

    def need(self, t: Typed, want: str, node: A.Node, what: str) -> None:
        if t.type not in (want, "null"):
            raise self.err(f"{what} needs {_a(want)}, but {_source(self.text, node)} is {_a(t.type)}", node)

    def need_time(self, t: Typed, node: A.Node, what: str) -> None:
        if t.type not in ("date", "timestamp"):
            raise self.err(
                f"'{what}' needs a date or timestamp, but {_source(self.text, node)} is {_a(t.type)}", node
            )

    def unify(self, left: Typed, right: Typed, lnode: A.Node, rnode: A.Node) -> tuple[Typed, Typed]:
        """Check that two values compare, turning a string literal into a date where a date is expected."""
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
            f"cannot compare {_a(left.type)} ({_source(self.text, lnode)}) with {_a(right.type)} "
            f"({_source(self.text, rnode)})",
            rnode,
        )

    def time_literal(self, node: A.Literal, kind: str) -> Typed:
        text = str(node.value)
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise self.err(f"'{text}' is not a date: write it as 'YYYY-MM-DD'", node) from None
        if kind == "date" and value.time() == dt.time(0) and len(text) <= 10:
            return Typed(D.date_literal(value.date(), self.dialect), "date")
        return Typed(D.timestamp_literal(value, self.dialect), "timestamp")

    def text_match(self, node: A.TextMatch) -> exp.Expr:
        v = self.value(node.operand)
        self.need(v, "string", node.operand, node.kind.replace("_", " "))
        if not (isinstance(node.value, A.Literal) and isinstance(node.value.value, str)):
            raise self.err(f"{node.kind.replace('_', ' ')} needs a text value in quotes", node.value)
        escape_char = D.like_escape(self.dialect)  # BigQuery's LIKE knows only backslash
        needle = D.escape_like(node.value.value, escape_char)
        pattern = {"contains": f"%{needle}%", "starts_with": f"{needle}%", "ends_with": f"%{needle}"}[
            node.kind
        ]
        # ESCAPE only when needed: DuckDB runs ILIKE ... ESCAPE as a generic function 2.6x slower than
        # a plain ILIKE (bench/results/findings.md). A backslash still needs it: it is the default
        # escape character of PostgreSQL's and MySQL's LIKE.
        raw = node.value.value
        escape = escape_char if needle != raw or "\\" in raw else None
        out = D.like_ci(v.sql, exp.Literal.string(pattern), self.dialect, escape)
        return _not(out) if node.negated else out

    def in_last(self, node: A.InLast) -> exp.Expr:
        v = self.value(node.operand)
        self.need_time(v, node.operand, "in last")
        kind = v.type
        as_of = self.ctx.options.as_of
        if as_of is None:
            start = D.minus_span(kind, node.amount, node.unit, self.dialect)
            end = D.now(kind, self.dialect)
        else:
            begin = _minus(as_of, node.amount, node.unit)
            if kind == "date":
                start, end = (
                    D.date_literal(begin.date(), self.dialect),
                    D.date_literal(as_of.date(), self.dialect),
                )
            elif self.ctx.options.whole_day:
                start = D.timestamp_literal(begin, self.dialect)
                next_day = D.timestamp_literal(as_of + dt.timedelta(days=1), self.dialect)
                return exp.and_(
                    exp.GTE(this=v.sql, expression=start),
                    exp.LT(this=v.sql.copy(), expression=next_day),
                    copy=False,
                )
            else:
                start, end = (
                    D.timestamp_literal(begin, self.dialect),
                    D.timestamp_literal(as_of, self.dialect),
                )
        return exp.and_(
            exp.GTE(this=v.sql, expression=start), exp.LTE(this=v.sql.copy(), expression=end), copy=False
        )

    def exists(self, node: A.Exists) -> exp.Expr:
        anchor_alias, steps, rest = self.split_path(node, node.path)
        if rest:
            last = self.model.entity(steps[-1].target)
            if last.column(rest[0]) is None:  # any(orders.payments ...): a path that does not exist
                raise self.err(
                    f"unknown relationship '{rest[0]}' from {last.name}"
                    f"{did_you_mean(rest[0], self.model.steps_from(last.name))}",
                    node,
                )
            raise self.err(
                f"{node.kind}() takes a relationship path, not an attribute: "
                f"{node.kind}({'.'.join(node.path[: len(node.path) - len(rest)])} where {rest[0]} ...)",
                node,
            )
        group = self.groups.get(_group_key(anchor_alias, steps))
        if group is not None and group.records.folds_cheaply(node.where):
            return self.exists_in_group(node, group)
        plan = (
            self._via_parent_plan("count", node.where, anchor_alias, steps)
            if group is None and node.kind != "all"
            else None
        )
        if plan is not None:
            # any(orders.order_lines where C) = any(orders where C_orders and any(order_lines where C_lines))
            outer, on_parent, on_records = plan
            first = len(node.path) - len(steps)
            inner = A.Exists("any", node.path[first + 1 :], on_records, pos=node.pos, end=node.end)
            both = A.And((on_parent, inner), pos=node.pos, end=node.end) if on_parent is not None else inner
            if outer.records.folds_cheaply(both):
                return self.exists_in_group(
                    A.Exists(node.kind, node.path[: first + 1], both, pos=node.pos, end=node.end), outer
                )
        records, aliases, chain = self.records_scope(anchor_alias, steps)
        records.prepare_groups([node.where])
        where = records.condition(node.where) if node.where is not None else None
        first = steps[0]
        fk = D.column(aliases[0], first.target_column)
        parent_key = D.column(anchor_alias, first.source_column)
        if node.kind == "all":
            if where is None:
                return exp.Boolean(this=True)  # every record matches "no condition": vacuously true
            where = _not_true(where)
        source = exp.select().from_(D.table(first.target, aliases[0]), copy=False)
        for j in records.from_joins():
            source = source.join(j, copy=False)  # copy=False: fresh nodes; copying made compiling O(n^2)
        if node.kind == "any":
            conds = [c for c in (where, _not(exp.Is(this=fk, expression=exp.Null()))) if c is not None]
            sub = source.select(fk.copy(), copy=False).where(exp.and_(*conds, copy=False), copy=False)
            semi_join = exp.In(this=parent_key, query=exp.Subquery(this=sub))
            if anchor_alias == self.alias:
                self.semi_joins.append((semi_join, steps))
            return semi_join
        # none / all: no (offending) record
        if self.dialect in D.ANTI_JOIN_NOT_IN:
            conds = [c for c in (where, _not(exp.Is(this=fk, expression=exp.Null()))) if c is not None]
            sub = source.select(fk.copy(), copy=False).where(exp.and_(*conds, copy=False), copy=False)
            return _not(exp.In(this=parent_key, query=exp.Subquery(this=sub)))
        conds = [exp.EQ(this=fk.copy(), expression=parent_key)] + ([where] if where is not None else [])
        sub = source.select(exp.Literal.number(1), copy=False).where(exp.and_(*conds, copy=False), copy=False)
        return _not(exp.Exists(this=sub))

    def exists_in_group(self, node: A.Exists, group: _AggGroup) -> exp.Expr:
        """any/none/all over a path that already has an aggregate table: a conditional count in it.

        One scan of the records serves both, instead of the aggregate's scan plus a semi/anti-join
        (DuckDB, 1M customers: 1.5-2.3x faster; bench/results/findings.md). Never NULL, except an
        ``any`` outside NOT: there a customer without records may test NULL (as false to a filter),
        so the comparison is strict and the table can drive the query (``_driven_by_child``).
        """
        group.records.prepare_groups([node.where])
        where = group.records.condition(node.where) if node.where is not None else None
        if node.kind == "all" and where is None:
            return exp.Boolean(this=True)  # vacuously true, as in exists()
        # all(): count the offending records, those where ``where`` is not TRUE.
        unless = node.kind == "all" and self.dialect in D.COUNT_NOT_TRUE_AS_SUM
        if node.kind == "all" and not unless:
            assert where is not None  # returned above
            where = _not_true(where)
        measure = group.measure("count", None, where, unless)
        n: exp.Expr = D.column(group.alias, measure.column)
        if node.kind != "any" or self.under_not:
            n = exp.Coalesce(this=n, expressions=[exp.Literal.number(0)])
        return (exp.GT if node.kind == "any" else exp.EQ)(this=n, expression=exp.Literal.number(0))

    def segment_ref(self, node: A.SegmentRef) -> exp.Expr:
        if not self.is_customer:
            raise self.err(
                "'in segment' tests customers; it cannot be used inside WHERE of a related table", node
            )
        source = self.ctx.options.segment_source
        if node.name in self.ctx.segment_stack:
            cycle = " -> ".join([*self.ctx.segment_stack, node.name])
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
        if node.negated:
            return _not_true(inner)
        return _is_true(inner) if self.under_not else exp.Paren(this=inner)


def _group_key(anchor_alias: str, steps: Sequence[Step]) -> tuple[str, tuple[str, ...]]:
    """Where a scope keeps the aggregate table of a path: its anchor and the tables it walks through."""
    return anchor_alias, tuple(s.target for s in steps)


def _in_scope(nodes: Sequence[A.Expr | None]) -> tuple[list[A.Aggregate], list[A.Exists]]:
    """Aggregates and any/none/all evaluated in the scope of ``nodes``: not those inside another one's
    WHERE (that is the related records' scope), nor inside referenced segments."""
    found: list[A.Aggregate] = []
    tests: list[A.Exists] = []

    def walk(node: A.Expr) -> None:
        if isinstance(node, A.Aggregate):
            found.append(node)
        elif isinstance(node, A.Exists):
            tests.append(node)
        else:
            for child in A.children(node):
                walk(child)

    for n in nodes:
        if n is not None:
            walk(n)
    return found, tests


_HOLDS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _without_empty_default(node: A.Compare, left: Typed, right: Typed) -> tuple[Typed, Typed]:
    """``COALESCE(count, 0) >= 5`` as ``count >= 5`` when 0 would not match anyway.

    A customer (or order) with no related rows then compares NULL instead of 0: not true either way,
    which is all a filter sees outside NOT (the caller checks that). Without the COALESCE the condition
    is strict, so PostgreSQL can turn the LEFT JOIN of the aggregate table into an inner join and
    filter before joining (bench: nested_count on PostgreSQL was 1.3-1.8x the hand-written SQL).
    """
    for agg, lit, flipped in ((node.left, node.right, False), (node.right, node.left, True)):
        typed = right if flipped else left
        if not (
            isinstance(agg, A.Aggregate)
            and isinstance(typed.sql, exp.Coalesce)
            and isinstance(lit, A.Literal)
            and isinstance(lit.value, (int, float))
            and not isinstance(lit.value, bool)
        ):
            continue
        zero_matches = _HOLDS[node.op](lit.value, 0) if flipped else _HOLDS[node.op](0, lit.value)
        if not zero_matches:
            bare = Typed(typed.sql.this, typed.type)
            return (left, bare) if flipped else (bare, right)
    return left, right


def _group_join(group: _AggGroup, on: exp.Expr | None = None) -> exp.Join:
    """The derived table of one aggregate group, LEFT JOINed to its anchor (or to the key ``on``)."""
    steps, aliases = group.steps, group.table_aliases
    first = steps[0]
    fk = D.column(aliases[0], first.target_column)
    first_where = group.measures[0].where
    shared_where = (
        first_where
        if first_where is not None and all(m.where == first_where and not m.unless for m in group.measures)
        else None
    )
    select = exp.select(exp.alias_(fk.copy(), "k", copy=False), copy=False).from_(
        D.table(first.target, aliases[0]), copy=False
    )
    for j in group.records.from_joins():
        select = select.join(j, copy=False)  # the builder's default copy made compiling O(n^2)
    for m in group.measures:
        # With one shared filter it goes to WHERE (fewer rows to aggregate); otherwise each aggregate
        # filters its own rows with CASE WHEN, so one scan serves them all.
        where = None if shared_where is not None else m.where
        select = select.select(exp.alias_(_agg_sql(m, where), m.column, copy=False), copy=False)
    if shared_where is not None:
        select = select.where(shared_where, copy=False)
    select = select.group_by(fk.copy(), copy=False)
    return exp.Join(
        this=exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(group.alias))),
        on=exp.EQ(
            this=D.column(group.alias, "k"),
            expression=on if on is not None else D.column(group.anchor_alias, first.source_column),
        ),
        side="LEFT",
    )


def _agg_sql(m: _Measure, where: exp.Expr | None) -> exp.Expr:
    if m.unless:
        # The rows where ``where`` is FALSE or NULL, as SUM(CASE WHEN where THEN 0 ELSE 1 END) (see
        # D.COUNT_NOT_TRUE_AS_SUM). A group has a row, so the SUM is never NULL.
        assert where is not None and m.func == "count"
        return exp.Sum(
            this=exp.Case(ifs=[exp.If(this=where, true=exp.Literal.number(0))], default=exp.Literal.number(1))
        )
    value = m.value if m.value is not None else exp.Literal.number(1)
    if where is not None:
        value = exp.Case(ifs=[exp.If(this=where, true=value)])
    if m.func == "count":
        return exp.Count(this=value if (where is not None or m.value is not None) else exp.Star())
    if m.func == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[value]))
    cls = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[m.func]
    return cls(this=value)


def _not(cond: exp.Expr) -> exp.Expr:
    return exp.Not(this=exp.Paren(this=cond))


def _is_true(cond: exp.Expr) -> exp.Expr:
    """``cond`` in two-valued logic: true when TRUE, false when FALSE or NULL."""
    case = exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))], default=exp.Literal.number(0))
    return exp.EQ(this=case, expression=exp.Literal.number(1))


def _not_true(cond: exp.Expr) -> exp.Expr:
    """NOT in two-valued logic: true when ``cond`` is FALSE or NULL (membership is never unknown)."""
    case = exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))], default=exp.Literal.number(0))
    return exp.EQ(this=case, expression=exp.Literal.number(0))


def _minus(t: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit == "day":
        return t - dt.timedelta(days=amount)
    if unit == "week":
        return t - dt.timedelta(weeks=amount)
    months = amount * (12 if unit == "year" else 1)
    y, m = divmod(t.year * 12 + (t.month - 1) - months, 12)
    m += 1
    import calendar

    day = min(t.day, calendar.monthrange(y, m)[1])
    return t.replace(year=y, month=m, day=day)


def _a(t: str) -> str:
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
