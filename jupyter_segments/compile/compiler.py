"""Typed tree -> sqlglot expression: where the SQL shape is chosen.

The binder (``jupyter_segments.bind``) has resolved every name and checked every type, so nothing here
raises a name or type error. The SQL shape (measured in docs/sql-shape.md):

* aggregates over a relationship are pre-aggregated once per query: one derived table per path,
  ``GROUP BY`` the foreign key, ``LEFT JOIN``-ed to its parent so customers without records stay in;
  several aggregates over the same path share that table (conditional aggregation);
* ``any(...)`` is a semi-join (``IN (SELECT fk ...)``), ``none``/``all`` anti-joins;
* set operators on groups are boolean logic over one scan of the customer table (no INTERSECT/EXCEPT,
  which MariaDB and older MySQL lack).
"""

from __future__ import annotations

import calendar
import datetime as dt
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from ..bind import typed as T
from ..bind.typed import ValueType
from ..dsl import ast as A
from ..model import Model, Step
from . import dialects as D
from . import via_parent as VP

_ZERO_WHEN_EMPTY = {"count", "count_distinct", "sum"}
# Aggregates that need their records in order: a plain aggregate column of the shared table where the
# database has one (``D.native_aggregate``), else a window-function table of their own (``_Windowed``).
_ORDERED = {"median", "percentile", "mode", "stddev"}


@dataclass
class Typed:
    sql: exp.Expr
    type: ValueType


@dataclass
class Options:
    dialect: str
    as_of: dt.datetime | None  # None: relative windows are computed by the database at run time
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
    fraction: float | None = None  # percentile's (median: 0.5)


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
        self,
        func: str,
        value: exp.Expr | None,
        where: exp.Expr | None,
        unless: bool = False,
        fraction: float | None = None,
    ) -> _Measure:
        """The table's column for this aggregate, added on first use: the same aggregate written twice
        (or by two segments of a shared refresh) is computed once."""
        for m in self.measures:
            same = (m.func, m.unless, m.fraction) == (func, unless, fraction)
            if same and m.value == value and m.where == where:
                return m
        found = _Measure(f"{func}_{len(self.measures) + 1}", func, value, where, unless, fraction)
        self.measures.append(found)
        return found


@dataclass
class _Windowed:
    """One aggregate computed from its records in order, in a derived table of its own keyed like an
    aggregate table (``k``; the aggregate is ``v``) and joined the same way: first and last, and
    median, percentile, mode and stddev where the database has no plain aggregate for them."""

    alias: str
    inner_alias: str  # of the window query inside
    anchor_alias: str
    steps: list[Step]
    table_aliases: list[str]
    records: Scope
    node: T.Agg  # the same aggregate written twice shares the table
    value: exp.Expr
    where: exp.Expr | None
    by: exp.Expr | None  # first/last: the order of the records
    key: exp.Expr | None  # first/last: the records' key (ties go to the smallest), None if unknown


class _Context:
    """State shared by one compilation: the model, the options, unique aliases."""

    def __init__(self, model: Model, options: Options) -> None:
        self.model = model
        self.options = options
        self.used_aliases: set[str] = set()

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


class Scope:
    """One table under one alias (the customer, or the records of an aggregate), plus the joins and
    aggregate tables its expressions need."""

    def __init__(self, ctx: _Context, alias: str) -> None:
        self.ctx = ctx
        self.alias = alias
        self.joins: list[exp.Join] = []
        self.to_one: dict[tuple[str, Step], str] = {}  # (alias, to-one step) -> the joined table's alias
        self.groups: dict[tuple[str, tuple[Step, ...]], _AggGroup] = {}
        self.windowed: list[_Windowed] = []  # aggregates with a window-function table of their own
        # > 0 while compiling under a three-valued NOT: there a group's membership (set operators,
        # segment references) must be TRUE or FALSE, never NULL, or NOT(x AND group) drops customers.
        self.under_not = 0
        # The ``key IN (SELECT fk ...)`` tests any() compiled here, with their path: a query
        # may read such a child's keys instead of the customer table (compile._driven_by_child).
        self.semi_joins: list[tuple[exp.In, list[Step]]] = []
        # The ``key IN (the ranked keys)`` tests of rankings compiled here (compile._driven_by_ranking).
        self.rankings: list[exp.In] = []
        # Every aggregate and any/none/all prepared here (``prepare_groups``), by each prefix of its
        # path: a sum over a path nothing else reads may share a UNION ALL table (``channel_sum``).
        self.path_nodes: dict[tuple[str, tuple[Step, ...]], set[int]] = {}
        self.channel_sums: dict[int, Typed] = {}
        self.channels: list[tuple[exp.Subquery, str]] = []  # their tables: (derived table, key column)

    @property
    def model(self) -> Model:
        return self.ctx.model

    @property
    def dialect(self) -> str:
        return self.ctx.options.dialect

    # --- FROM clause ------------------------------------------------------------------------------
    def from_joins(self) -> list[exp.Join]:
        """All joins of this scope, derived tables built now that every aggregate is known."""
        joins = list(self.joins)
        for group in self.groups.values():
            if group.measures:  # a table prepared for an aggregate that was then read another way has none
                joins.append(_group_join(group))
        joins.extend(_group_join(w) for w in self.windowed)
        joins.extend(self.channel_join(i) for i in range(len(self.channels)))
        return joins

    def channel_join(self, i: int, on: exp.Expr | None = None) -> exp.Join:
        """The LEFT JOIN of ``channel_sum``'s i-th table to this scope's key (or to the key ``on``)."""
        table, column = self.channels[i]
        alias = table.alias_or_name
        key = on if on is not None else D.column(self.alias, column)
        return exp.Join(this=table.copy(), on=exp.EQ(this=D.column(alias, "k"), expression=key), side="LEFT")

    def join_to_one(self, from_alias: str, step: Step) -> str:
        key = (from_alias, step)  # the step, not its table: two roles may lead to one table
        if key not in self.to_one:
            alias = self.ctx.alias(step.target)
            on = eq_all(columns(alias, step.target_columns), columns(from_alias, step.source_columns))
            self.joins.append(exp.Join(this=D.table(step.target, alias), on=on, side="LEFT"))
            self.to_one[key] = alias
        return self.to_one[key]

    def walk(self, steps: Sequence[Step]) -> str:
        """Join the to-one ``steps`` from this scope's table; the alias of the table they reach."""
        alias = self.alias
        for step in steps:
            alias = self.join_to_one(alias, step)
        return alias

    # --- paths ------------------------------------------------------------------------------------
    def records_scope(self, anchor_alias: str, steps: list[Step]) -> tuple[Scope, list[str], list[exp.Join]]:
        """A scope over the records at the end of ``steps``; the inner joins that reach them."""
        aliases = [self.ctx.alias(s.target) for s in steps]
        chain: list[exp.Join] = []
        for k in range(1, len(steps)):
            s = steps[k]
            chain.append(
                exp.Join(
                    this=D.table(s.target, aliases[k]),
                    on=eq_all(
                        columns(aliases[k], s.target_columns), columns(aliases[k - 1], s.source_columns)
                    ),
                )
            )
        scope = Scope(self.ctx, aliases[-1])
        scope.joins.extend(chain)
        # The records' parent along the path is already joined: reuse it for names like orders.status.
        if len(steps) > 1:
            back = Step(steps[-1].relationship, to_many=False)
            scope.to_one[(aliases[-1], back)] = aliases[-2]
        return scope, aliases, chain

    # --- values -----------------------------------------------------------------------------------
    def value(self, node: T.Value) -> Typed:
        if isinstance(node, T.Lit):
            return Typed(self.literal(node.value), node.type)
        if isinstance(node, T.Col):
            column: exp.Expr = D.column(self.walk(node.steps), node.column)
            if node.stored is not None:  # the user said it holds another type (ws.types)
                column = D.convert(column, node.stored, node.type, self.dialect)
            if node.type == "timestamp" and self.dialect in D.TEXT_TIMESTAMPS:
                column = D.as_timestamp_text(column)
            return Typed(column, node.type)
        if isinstance(node, T.MeasureRef):
            return self.value(node.value)
        if isinstance(node, T.Agg):
            return self.aggregate(node)
        if isinstance(node, T.Arith):
            channels = self.channel_sum(node) if node.op == "+" else None
            if channels is not None:
                return channels
            left, right = self.value(node.left), self.value(node.right)
            if node.op == "/":
                # Never integer division; division by zero gives NULL rather than an error.
                num = exp.Mul(this=exp.Paren(this=left.sql), expression=exp.Literal.number("1.0"))
                den = exp.Nullif(this=right.sql, expression=exp.Literal.number(0))
                return Typed(exp.Div(this=num, expression=den), "number")
            cls = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
            return Typed(cls(this=exp.Paren(this=left.sql), expression=exp.Paren(this=right.sql)), "number")
        if isinstance(node, T.Func):
            args = [self.value(arg).sql for arg in node.args]
            return Typed(D.function_sql(node.name, args, self.dialect), node.type)
        if isinstance(node, T.Case):
            ifs = [exp.If(this=self.condition(w.condition), true=self.value(w.value).sql) for w in node.whens]
            default = self.value(node.default).sql if node.default is not None else None
            return Typed(exp.Case(ifs=ifs, default=default), node.type)
        if isinstance(node, T.DateShift):
            shifted = self.value(node.operand).sql
            return Typed(D.date_shift(shifted, node.amount, node.unit, node.type, self.dialect), node.type)
        assert isinstance(node, T.Neg), node
        return Typed(exp.Neg(this=exp.Paren(this=self.value(node.operand).sql)), "number")

    def channel_sum(self, node: T.Arith) -> Typed | None:
        """``sum(a.x) + sum(b.y) + ...`` over different one-step paths from this scope, each read by
        nothing else here, as one table: the records' keys and values in one UNION ALL, one GROUP BY,
        LEFT JOINed like an aggregate table, ``COALESCE(s, 0)`` (the sum of the COALESCEd sums).
        Only where measured faster (``D.UNION_SUMS``); None otherwise."""
        if self.dialect not in D.UNION_SUMS:
            return None
        if id(node) in self.channel_sums:
            return self.channel_sums[id(node)]
        leaves: list[T.Value] = []

        def flatten(n: T.Value) -> None:
            if isinstance(n, T.Arith) and n.op == "+":
                flatten(n.left)
                flatten(n.right)
            else:
                leaves.append(n)

        flatten(node)
        sums = [
            leaf
            for leaf in leaves
            if isinstance(leaf, T.Agg)
            and leaf.func == "sum"
            and not leaf.steps
            and len(leaf.many) == 1
            and leaf.value is not None
            and self.path_nodes.get(_group_key(self.alias, leaf.many)) == {id(leaf)}
        ]
        sources = {s.many[0].source_columns for s in sums}
        if len(sums) < 2 or len(sums) != len(leaves) or len(sources) != 1 or len(next(iter(sources))) != 1:
            return None  # (a composite key keeps a table per path)
        branches: list[exp.Select] = []
        for agg in sums:
            step = agg.many[0]
            records, aliases, _ = self.records_scope(self.alias, [step])
            assert agg.value is not None
            value = records.value(agg.value).sql
            records.prepare_groups([agg.where])
            where = records.condition(agg.where) if agg.where is not None else None
            fk = D.column(aliases[0], step.target_column)
            branch = exp.select(
                exp.alias_(fk, "k", copy=False), exp.alias_(value, "v", copy=False), copy=False
            ).from_(D.table(step.target, aliases[0]), copy=False)
            for j in records.from_joins():
                branch = branch.join(j, copy=False)
            branches.append(branch.where(where, copy=False) if where is not None else branch)
        alias = self.ctx.alias("channels")
        union = exp.union(*branches, distinct=False, copy=False)
        rows = exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("u")))
        grouped = (
            exp.select(exp.column("k", "u"), exp.alias_(exp.Sum(this=exp.column("v", "u")), "s"), copy=False)
            .from_(rows, copy=False)
            .group_by(exp.column("k", "u"), copy=False)
        )
        table = exp.Subquery(this=grouped, alias=exp.TableAlias(this=exp.to_identifier(alias)))
        self.channels.append((table, sums[0].many[0].source_column))
        total = Typed(exp.Coalesce(this=D.column(alias, "s"), expressions=[exp.Literal.number(0)]), "number")
        self.channel_sums[id(node)] = total
        return total

    def merge_semi_joins(self, items: list[exp.Expr]) -> list[exp.Expr]:
        """``k IN (SELECT fk FROM a ...) OR k IN (SELECT fk FROM b ...)`` as one
        ``k IN (SELECT fk FROM a ... UNION ALL SELECT fk FROM b ...)``: TRUE, NULL and FALSE alike
        (a match in either; else NULL if either holds a NULL; else FALSE). Not under NOT, where explain
        (``build_columns``) filters each semi-join to one customer (``compile._only_customer``)."""
        mine = {id(test) for test, _ in self.semi_joins}
        by_key: dict[str, list[exp.In]] = {}
        for item in items:
            if isinstance(item, exp.In) and id(item) in mine:
                by_key.setdefault(item.this.sql(), []).append(item)
        out: list[exp.Expr] = []
        for item in items:
            group = by_key.get(item.this.sql(), []) if isinstance(item, exp.In) and id(item) in mine else []
            if len(group) < 2:
                out.append(item)
            elif item is group[0]:
                union = exp.union(*(g.args["query"].this for g in group), distinct=False, copy=False)
                out.append(exp.In(this=item.this, query=exp.Subquery(this=union)))
                merged = {id(g) for g in group}  # no longer one path's semi-join: it drives nothing
                self.semi_joins = [(t, steps) for t, steps in self.semi_joins if id(t) not in merged]
        return out

    def literal(self, v: object) -> exp.Expr:
        if v is None:
            return exp.Null()
        if isinstance(v, bool):
            return exp.Boolean(this=v)
        if isinstance(v, (int, float)):
            return exp.Literal.number(repr(v) if isinstance(v, float) else str(v))
        if isinstance(v, dt.datetime):
            return D.timestamp_literal(v, self.dialect)
        if isinstance(v, dt.date):
            return D.date_literal(v, self.dialect)
        return exp.Literal.string(str(v))

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

    def prepare_groups(self, nodes: Sequence[T.Typed | None]) -> None:
        """Create the aggregate tables of this scope's aggregates before any condition is compiled.

        An any/none/all over a path that has an aggregate table becomes a count in it (one scan); doing
        this first makes that independent of the order the parts are written in, and lets the segments
        of a shared refresh find each other's tables. Nested scopes are prepared too, so a two-step
        aggregate can find the per-parent table a nested scope builds (see ``via_parent``).
        """
        aggregates, tests = _in_scope(nodes)
        reads: list[T.Agg | T.Exists] = [*aggregates, *tests]
        for node in reads:  # (those after a to-one step start elsewhere: no channel_sum there)
            for n in range(1, len(node.many) + 1):
                self.path_nodes.setdefault(_group_key(self.alias, node.many[:n]), set()).add(id(node))
        aggregates = [agg for agg in aggregates if not self.own_table(agg)]  # prepared when compiled
        paths: list[tuple[T.Agg, str, list[Step]]] = []
        for agg in aggregates:
            anchor_alias, steps = self.walk(agg.steps), list(agg.many)
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

    def folds_cheaply(self, where: T.Typed | None) -> bool:
        """Whether ``where`` compiles here without a new join: no to-one step not yet joined in this
        scope, no nested scope whose table this scope does not already build.

        Folding an any/none into an aggregate table makes every record pay for its condition. A plain
        condition is a CASE per row, cheaper than a second scan; a new join is not (1M customers: a
        products join on all 31M order lines cost 0.85 s, the filtered semi-join alone 0.37 s; a nested
        per-order table joined to all orders 1.7 s, the semi-join on its matches 1.66 s in all).
        """
        if where is None or isinstance(where, T.MeasureRef):
            return True
        if isinstance(where, T.Col):
            if not where.steps:
                return True
            return len(where.steps) == 1 and (self.alias, where.steps[0]) in self.to_one
        if isinstance(where, (T.Agg, T.Exists)):
            if isinstance(where, T.Agg) and self.own_table(where):
                return False  # a window-function table of its own
            if where.steps or len(where.many) > 1:
                return False  # a to-one step first, or a two-step nested path: its own table
            nested = self.groups.get(_group_key(self.alias, where.many))
            return nested is not None and nested.records.folds_cheaply(where.where)
        if isinstance(where, (T.SegmentRef, T.Rank)):
            return False
        return all(self.folds_cheaply(child) for child in A.children(where))  # type: ignore[arg-type]

    def _via_parent_plan(
        self, func: str, where: T.Cond | None, anchor_alias: str, steps: list[Step]
    ) -> tuple[_AggGroup, T.Cond | None, T.Cond | None] | None:
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
        back = steps[-1].relationship  # from the records, the step to the parent walks it back
        split = VP.split_where(where, back)
        if split is None:
            return None
        on_parent, on_records = split
        if not per_parent.records.folds_cheaply(on_records):
            return None  # e.g. a to-one join every record of the shared table would pay for
        return outer, VP.strip_parent(on_parent, back) if on_parent is not None else None, on_records

    def _aggregate_via_parent(self, node: T.Agg, anchor_alias: str, steps: list[Step]) -> Typed | None:
        plan = self._via_parent_plan(node.func, node.where, anchor_alias, steps)
        if plan is None:
            return None
        outer, on_parent, on_records = plan
        per_parent = outer.records.aggregate(
            T.Agg(
                node.func, (), tuple(steps[1:]), node.value, on_records, node.type, pos=node.pos, end=node.end
            )
        )
        outer.records.prepare_groups([on_parent])
        where = outer.records.condition(on_parent) if on_parent is not None else None
        combine = VP.COMBINE[node.func]
        measure = outer.measure(combine, per_parent.sql, where)
        ref: exp.Expr = D.column(outer.alias, measure.column)
        if node.func in _ZERO_WHEN_EMPTY:
            ref = exp.Coalesce(this=ref, expressions=[exp.Literal.number(0)])
        return Typed(ref, per_parent.type)

    def own_table(self, node: T.Agg) -> bool:
        """Whether the aggregate needs a window-function table of its own on this database."""
        if node.func in ("first", "last"):
            return True
        return node.func in _ORDERED and not D.native_aggregate(node.func, self.dialect)

    def aggregate(self, node: T.Agg) -> Typed:
        anchor_alias, steps = self.walk(node.steps), list(node.many)
        if self.own_table(node):
            return self.windowed_aggregate(node, anchor_alias, steps)
        via_parent = self._aggregate_via_parent(node, anchor_alias, steps)
        if via_parent is not None:
            return via_parent
        group = self.group_for(anchor_alias, steps)
        records = group.records
        value = records.value(node.value) if node.value is not None else None
        records.prepare_groups([node.where])
        where = records.condition(node.where) if node.where is not None else None
        value_sql = D.text_for_aggregate(node.func, value.sql, value.type, self.dialect) if value else None
        measure = group.measure(node.func, value_sql, where, fraction=node.fraction)
        ref: exp.Expr = D.column(group.alias, measure.column)
        if node.func in _ZERO_WHEN_EMPTY:
            ref = exp.Coalesce(this=ref, expressions=[exp.Literal.number(0)])
        return Typed(ref, node.type)

    def windowed_aggregate(self, node: T.Agg, anchor_alias: str, steps: list[Step]) -> Typed:
        """The aggregate's own table (``_Windowed``), created on first use; NULL without records."""
        for w in self.windowed:
            if w.anchor_alias == anchor_alias and w.node == node:
                return Typed(D.column(w.alias, "v"), node.type)
        assert node.value is not None
        records, aliases, _ = self.records_scope(anchor_alias, steps)
        value = records.value(node.value).sql
        records.prepare_groups([node.where])
        where = records.condition(node.where) if node.where is not None else None
        by = records.value(node.by).sql if node.by is not None else None
        key = D.column(aliases[-1], node.key) if node.key is not None else None
        short = {"percentile": "pctl"}.get(node.func, node.func)
        w = _Windowed(
            self.ctx.alias(f"{steps[-1].target}_{short}"),
            self.ctx.alias("ordered"),
            anchor_alias,
            steps,
            aliases,
            records,
            node,
            value,
            where,
            by,
            key,
        )
        self.windowed.append(w)
        return Typed(D.column(w.alias, "v"), node.type)

    # --- conditions -------------------------------------------------------------------------------
    def condition(self, node: T.Cond) -> exp.Expr:  # noqa: C901 - one branch per node type
        if isinstance(node, T.And):
            return _chain(exp.And, [self.condition(i) for i in node.items])
        if isinstance(node, T.Or):
            parts = [self.condition(i) for i in node.items]
            if self.dialect in D.SEMI_JOIN_UNION and not self.under_not:
                parts = self.merge_semi_joins(parts)
            return _chain(exp.Or, parts)
        if isinstance(node, T.Not):
            if isinstance(node.operand, (T.SetOp, T.SegmentRef)):
                return _not_true(self.condition(node.operand))
            self.under_not += 1
            try:
                return _not(self.condition(node.operand))
            finally:
                self.under_not -= 1
        if isinstance(node, T.SetOp):
            lhs, rhs = self.condition(node.left), self.condition(node.right)
            if node.op == "union":
                combined = exp.or_(lhs, rhs, copy=False)
            elif node.op == "intersect":
                combined = exp.and_(lhs, rhs, copy=False)
            else:
                combined = exp.and_(lhs, _not_true(rhs), copy=False)
            return _is_true(combined) if self.under_not else combined
        if isinstance(node, T.SegmentRef):
            inner = self.condition(node.condition)
            if node.negated:
                return _not_true(inner)
            return _is_true(inner) if self.under_not else exp.Paren(this=inner)
        if isinstance(node, T.Exists):
            return self.exists(node)
        if isinstance(node, T.Rank):
            return self.rank(node)
        if isinstance(node, T.BoolTest):
            t = self.value(node.operand)
            return (
                exp.EQ(this=t.sql, expression=exp.Boolean(this=True))
                if not isinstance(t.sql, exp.Column)
                else t.sql
            )
        if isinstance(node, T.Compare):
            left, right = self._same_time(self.value(node.left), self.value(node.right))
            truth = self._integer_truth(node)
            if truth is not None:
                return truth
            cls = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[
                node.op
            ]
            if not self.under_not:
                left, right = _without_empty_default(node, left, right)
            if left.type == right.type == "string":
                right = Typed(D.case_sensitive(right.sql, self.dialect), "string")
            return cls(this=left.sql, expression=right.sql)
        if isinstance(node, T.Between):
            v = self.value(node.operand)
            low, high = (
                self._same_time(v, self.value(node.low))[1],
                self._same_time(v, self.value(node.high))[1],
            )
            v = self._same_time(v, Typed(v.sql, node.low.type))[0]
            out: exp.Expr = exp.Between(this=v.sql, low=low.sql, high=high.sql)
            return _not(out) if node.negated else out
        if isinstance(node, T.StoredKeys):
            # A semi-join on the stored keys (IN a subquery: a hashed semi-join everywhere, an
            # ephemeral index on SQLite); the keys are data in the database, never SQL text.
            keys = [self.value(k) for k in node.keys]
            table = exp.Table(this=exp.to_identifier(node.table, quoted=True))
            picked = [
                D.case_sensitive(exp.column(c, quoted=True), self.dialect) if k.type == "string"
                else exp.column(c, quoted=True)
                for c, k in zip(node.columns, keys, strict=True)
            ]  # fmt: skip
            mine = [D.case_sensitive(k.sql, self.dialect) if k.type == "string" else k.sql for k in keys]
            sub = exp.select(*picked).from_(table).subquery()
            return exp.In(this=mine[0] if len(mine) == 1 else exp.Tuple(expressions=mine), query=sub)
        if isinstance(node, T.InList):
            v = self.value(node.operand)
            items = [self.value(i) for i in node.items]
            out = exp.In(
                this=v.sql,
                expressions=[
                    D.case_sensitive(i.sql, self.dialect) if i.type == v.type == "string" else i.sql
                    for i in items
                ],
            )
            return _not(out) if node.negated else out
        if isinstance(node, T.IsNull):
            v = self.value(node.operand)
            out = exp.Is(this=v.sql, expression=exp.Null())
            return _not(out) if node.negated else out
        if isinstance(node, T.IsEmpty):
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
        if isinstance(node, T.Like):
            v, pattern = self.value(node.operand), self.value(node.pattern)
            out = (
                D.like_ci(v.sql, pattern.sql, self.dialect, None)
                if node.case_insensitive
                else D.like(v.sql, pattern.sql, self.dialect)
            )
            return _not(out) if node.negated else out
        if isinstance(node, T.TextMatch):
            return self.text_match(node)
        if isinstance(node, T.InLast):
            return self.in_last(node)
        if isinstance(node, T.InPeriod):
            return self.in_period(node)
        assert isinstance(node, T.BeforeAfter), node
        v, bound = self._same_time(self.value(node.operand), self.value(node.value))
        return (exp.LT if node.kind == "before" else exp.GT)(this=v.sql, expression=bound.sql)

    def _same_time(self, left: Typed, right: Typed) -> tuple[Typed, Typed]:
        """A date compared with a timestamp, where both are text (SQLite): the date as its midnight."""
        if self.dialect in D.TEXT_TIMESTAMPS and {left.type, right.type} == {"date", "timestamp"}:
            if left.type == "date":
                return Typed(D.as_timestamp_text(left.sql), "timestamp"), right
            return left, Typed(D.as_timestamp_text(right.sql), "timestamp")
        return left, right

    def _integer_truth(self, node: T.Compare) -> exp.Expr | None:
        """``flag = true`` where booleans are integers: ``flag <> 0`` (a 2 is true, as the database
        reads a bare column); ``= false``: ``flag = 0``."""
        if self.dialect not in D.BOOLEANS_ARE_INTEGERS or node.op not in ("=", "!="):
            return None
        for col, lit in ((node.left, node.right), (node.right, node.left)):
            if isinstance(col, T.Col) and col.type == "boolean" and isinstance(lit, T.Lit):
                if not isinstance(lit.value, bool):
                    return None
                is_true = lit.value == (node.op == "=")
                cls = exp.NEQ if is_true else exp.EQ
                return cls(this=self.value(col).sql, expression=exp.Literal.number(0))
        return None

    def text_match(self, node: T.TextMatch) -> exp.Expr:
        v = self.value(node.operand)
        escape_char = D.like_escape(self.dialect)  # BigQuery's LIKE knows only backslash
        needle = D.escape_like(node.text, escape_char)
        pattern = {"contains": f"%{needle}%", "starts_with": f"{needle}%", "ends_with": f"%{needle}"}[
            node.kind
        ]
        # ESCAPE only when needed: DuckDB runs ILIKE ... ESCAPE as a generic function 2.6x slower than
        # a plain ILIKE (bench/results/findings.md). A backslash still needs it: it is the default
        # escape character of PostgreSQL's and MySQL's LIKE.
        raw = node.text
        escape = escape_char if needle != raw or "\\" in raw else None
        out = D.like_ci(v.sql, exp.Literal.string(pattern), self.dialect, escape)
        return _not(out) if node.negated else out

    def in_last(self, node: T.InLast) -> exp.Expr:
        v = self.value(node.operand)
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

    def rank(self, node: T.Rank) -> exp.Expr:
        """``key IN (the first N keys by the value)``: one window over the customers that have a value
        (and are in the population), in a query of its own over the customer table."""
        keys = self.model.customer_entity().keys
        ranked = Scope(self.ctx, self.ctx.alias("c"))
        ranked.prepare_groups([node.by, node.among])
        by = ranked.value(node.by).sql
        # Customers without a value are not ranked (a COALESCE(sum, 0) always has one).
        conds = [] if isinstance(by, exp.Coalesce) else [_not(exp.Is(this=by.copy(), expression=exp.Null()))]
        if node.among is not None:
            conds.append(ranked.condition(node.among))
        own_key = columns(ranked.alias, keys)
        if self.model.key_may_be_null():
            conds.append(not_null_all(own_key))  # a customer without a key is never ranked
        order = exp.Order(
            expressions=[
                exp.Ordered(this=by, desc=node.direction == "top"),
                *(exp.Ordered(this=k.copy()) for k in own_key),
            ]
        )
        selected = [
            *(exp.alias_(k, name, copy=False) for k, name in zip(own_key, key_names(len(keys)), strict=True))
        ]
        # top N: the first N rows in that order (a top-N sort, D.TOP_N_LIMIT); else numbered by a window
        limit = not node.percent and self.dialect in D.TOP_N_LIMIT
        if not limit:
            selected.append(exp.alias_(exp.Window(this=exp.RowNumber(), order=order), "rn", copy=False))
        if node.percent:
            selected.append(exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "n", copy=False))
        inner = exp.select(*selected, copy=False).from_(
            D.table(self.model.customer_entity().name, ranked.alias)
        )
        for join in ranked.from_joins():
            inner = inner.join(join, copy=False)
        if conds:
            inner = inner.where(exp.and_(*conds, copy=False), copy=False)
        if limit:
            # A constant orders nothing, and in ORDER BY a bare number is a column position (top 3 by 0).
            terms = [o for o in order.expressions if any(o.find_all(exp.Column))]
            inner = inner.order_by(*terms, copy=False).limit(int(node.amount), copy=False)
        alias = self.ctx.alias("ranked")
        rn, n = D.column(alias, "rn"), D.column(alias, "n")
        if node.percent:
            # rn <= ceil(p / 100 * n), in whole numbers: (rn - 1) * 100 * scale < round(p * scale) * n.
            decimals = len(repr(float(node.amount)).split(".")[1].rstrip("0"))
            scale = 10**decimals
            left = exp.Mul(
                this=exp.Paren(this=exp.Sub(this=rn, expression=exp.Literal.number(1))),
                expression=exp.Literal.number(100 * scale),
            )
            right = exp.Mul(this=exp.Literal.number(round(node.amount * scale)), expression=n)
            keep: exp.Expr = exp.LT(this=left, expression=right)
        else:
            keep = exp.LTE(this=rn, expression=exp.Literal.number(int(node.amount)))
        sub = exp.select(*columns(alias, key_names(len(keys))), copy=False).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))), copy=False
        )
        if not limit:
            sub = sub.where(keep, copy=False)
        test = exp.In(this=row(columns(self.alias, keys)), query=exp.Subquery(this=sub))
        self.rankings.append(test)
        return test

    def in_period(self, node: T.InPeriod) -> exp.Expr:
        """From the period's first day (as a bound of the operand's own type) to as_of for ``this``,
        the whole period before for ``previous``, the named one for ``year 2024``/``month 2024-03``."""
        v = self.value(node.operand)
        kind, dialect = v.type, self.dialect
        as_of = self.ctx.options.as_of

        def bound(day: dt.date) -> exp.Expr:
            if kind == "date":
                return D.date_literal(day, dialect)
            return D.timestamp_literal(dt.datetime(day.year, day.month, day.day), dialect)

        def between(lower: exp.Expr, upper: exp.Expr, upper_op: type[exp.Expr] = exp.LT) -> exp.Expr:
            return exp.and_(
                exp.GTE(this=v.sql, expression=lower),
                upper_op(this=v.sql.copy(), expression=upper),
                copy=False,
            )

        months = {"month": 1, "quarter": 3, "year": 12}.get(node.unit, 0)
        if node.which == "fixed":
            assert node.year is not None
            first = dt.date(node.year, node.month or 1, 1)
            return between(bound(first), bound(_plus_months(first, 12 if node.month is None else 1)))
        if as_of is None:  # relative to the database's clock
            start = D.period_start(node.unit, dialect)
            if node.which == "this":
                return between(start, D.now(kind, dialect), exp.LTE)
            shift = (-1, "month") if months == 1 else (-7, "day") if not months else (-months, "month")
            return between(D.date_shift(start.copy(), shift[0], shift[1], "date", dialect), start)
        start_day = _period_start(as_of.date(), node.unit)
        if node.which == "previous":
            before = start_day - dt.timedelta(days=7) if not months else _plus_months(start_day, -months)
            return between(bound(before), bound(start_day))
        if kind == "date":
            return between(bound(start_day), D.date_literal(as_of.date(), dialect), exp.LTE)
        if self.ctx.options.whole_day:
            return between(bound(start_day), bound(as_of.date() + dt.timedelta(days=1)))
        return between(bound(start_day), D.timestamp_literal(as_of, dialect), exp.LTE)

    def exists(self, node: T.Exists) -> exp.Expr:
        anchor_alias, steps = self.walk(node.steps), list(node.many)
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
            span = {"pos": node.pos, "end": node.end}
            inner = T.Exists("any", (), tuple(steps[1:]), on_records, **span)
            both = T.And((on_parent, inner), **span) if on_parent is not None else inner
            if outer.records.folds_cheaply(both):
                return self.exists_in_group(
                    T.Exists(node.kind, node.steps, tuple(steps[:1]), both, **span), outer
                )
        records, aliases, chain = self.records_scope(anchor_alias, steps)
        records.prepare_groups([node.where])
        where = records.condition(node.where) if node.where is not None else None
        first = steps[0]
        fks = columns(aliases[0], first.target_columns)
        parent_keys = columns(anchor_alias, first.source_columns)
        fk, parent_key = row(fks), row(parent_keys)
        if node.kind == "all":
            if where is None:
                return exp.Boolean(this=True)  # every record matches "no condition": vacuously true
            where = _not_true(where)
        source = exp.select().from_(D.table(first.target, aliases[0]), copy=False)
        joined = False
        for j in records.from_joins():
            source = source.join(j, copy=False)  # copy=False: fresh nodes; copying made compiling O(n^2)
            joined = True
        if node.kind == "any" and self.under_not and self.dialect in D.NOT_ANY_AS_EXISTS:
            # as none(): NOT EXISTS, an anti-join (NOT (k IN ...) is a hashed or per-row subplan there)
            conds = [eq_all(fks, parent_keys)] + ([where] if where is not None else [])
            sub = source.select(exp.Literal.number(1), copy=False).where(
                exp.and_(*conds, copy=False), copy=False
            )
            return exp.Exists(this=sub)
        if node.kind == "any":
            # ``fk IS NOT NULL`` only under NOT: outside it, ``key IN (..., NULL)`` being NULL instead of
            # FALSE for a non-member filters the same, and the extra filter made DuckDB build the
            # semi-join's hash table on the wrong side (TPC-DS sf=1: 1.3x the hand-written SQL).
            # ``compile._distinct_keys`` adds it back where the keys drive the query.
            not_null = not_null_all(fks) if self.under_not else None
            conds = [c for c in (where, not_null) if c is not None]
            sub = source.select(*(f.copy() for f in fks), copy=False)
            if conds:
                sub = sub.where(exp.and_(*conds, copy=False), copy=False)
            semi_join = exp.In(this=parent_key, query=exp.Subquery(this=sub))
            if anchor_alias == self.alias:
                self.semi_joins.append((semi_join, steps))
            return semi_join
        # none / all: no (offending) record
        not_in = self.dialect in D.ANTI_JOIN_NOT_IN or (joined and self.dialect in D.ANTI_JOIN_NOT_IN_JOINED)
        if not_in and len(fks) == 1:  # (a composite key: NOT EXISTS)
            conds = [c for c in (where, _not(exp.Is(this=fk, expression=exp.Null()))) if c is not None]
            sub = source.select(fk.copy(), copy=False).where(exp.and_(*conds, copy=False), copy=False)
            return _not(exp.In(this=parent_key, query=exp.Subquery(this=sub)))
        conds = [eq_all(fks, parent_keys)] + ([where] if where is not None else [])
        sub = source.select(exp.Literal.number(1), copy=False).where(exp.and_(*conds, copy=False), copy=False)
        return _not(exp.Exists(this=sub))

    def exists_in_group(self, node: T.Exists, group: _AggGroup) -> exp.Expr:
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


def _group_key(anchor_alias: str, steps: Sequence[Step]) -> tuple[str, tuple[Step, ...]]:
    """Where a scope keeps the aggregate table of a path: its anchor and the steps it walks (not their
    tables: two roles of one table are two paths)."""
    return anchor_alias, tuple(steps)


def _in_scope(nodes: Sequence[T.Typed | None]) -> tuple[list[T.Agg], list[T.Exists]]:
    """Aggregates and any/none/all evaluated in the scope of ``nodes``: not those inside another one's
    WHERE (that is the related records' scope), nor inside measures, referenced segments and rankings
    (those are compiled where they are used; a ranking in a query of its own)."""
    found: list[T.Agg] = []
    tests: list[T.Exists] = []

    def walk(node: T.Typed) -> None:
        if isinstance(node, T.Agg):
            found.append(node)
        elif isinstance(node, T.Exists):
            tests.append(node)
        elif not isinstance(node, (T.MeasureRef, T.SegmentRef, T.Rank)):
            for child in A.children(node):
                walk(child)  # type: ignore[arg-type]

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


def _without_empty_default(node: T.Compare, left: Typed, right: Typed) -> tuple[Typed, Typed]:
    """``COALESCE(count, 0) >= 5`` as ``count >= 5`` when 0 would not match anyway.

    A customer (or order) with no related rows then compares NULL instead of 0: not true either way,
    which is all a filter sees outside NOT (the caller checks that). Without the COALESCE the condition
    is strict, so PostgreSQL can turn the LEFT JOIN of the aggregate table into an inner join and
    filter before joining (bench: nested_count on PostgreSQL was 1.3-1.8x the hand-written SQL).
    """
    for agg, lit, flipped in ((node.left, node.right, False), (node.right, node.left, True)):
        typed = right if flipped else left
        if not (
            isinstance(agg, T.Agg)
            and isinstance(typed.sql, exp.Coalesce)
            and isinstance(lit, T.Lit)
            and isinstance(lit.value, (int, float))
            and not isinstance(lit.value, bool)
        ):
            continue
        zero_matches = _HOLDS[node.op](lit.value, 0) if flipped else _HOLDS[node.op](0, lit.value)
        if not zero_matches:
            bare = Typed(typed.sql.this, typed.type)
            return (left, bare) if flipped else (bare, right)
    return left, right


def _group_join(group: _AggGroup | _Windowed, on: exp.Expr | None = None) -> exp.Join:
    """The derived table of one aggregate group, LEFT JOINed to its anchor (or to the key ``on``)."""
    if isinstance(group, _Windowed):
        return _windowed_join(group, on)
    steps, aliases = group.steps, group.table_aliases
    first = steps[0]
    fks = columns(aliases[0], first.target_columns)
    first_where = group.measures[0].where
    shared_where = (
        first_where
        if first_where is not None and all(m.where == first_where and not m.unless for m in group.measures)
        else None
    )
    select = exp.select(*keyed(fks), copy=False).from_(D.table(first.target, aliases[0]), copy=False)
    inner = _inner_to_one(group)
    for j in group.records.from_joins():
        if isinstance(j.this, exp.Table) and j.this.alias_or_name in inner:
            j = j.copy()
            j.set("side", None)
        select = select.join(j, copy=False)  # the builder's default copy made compiling O(n^2)
    for m in group.measures:
        # With one shared filter it goes to WHERE (fewer rows to aggregate); otherwise each aggregate
        # filters its own rows with CASE WHEN, so one scan serves them all.
        where = None if shared_where is not None else m.where
        select = select.select(
            exp.alias_(_agg_sql(m, where, group.records.dialect), m.column, copy=False), copy=False
        )
    if shared_where is not None:
        select = select.where(shared_where, copy=False)
    select = select.group_by(*(f.copy() for f in fks), copy=False)
    return exp.Join(
        this=exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(group.alias))),
        on=_anchor_on(group.alias, fks, group.anchor_alias, first, on),
        side="LEFT",
    )


# Aggregates that skip NULL values: over no rows and over only NULLs they give the same result
# (NULL, or 0 for count_distinct/count(x), which the compiler COALESCEs to 0 in both cases).
_SKIP_NULLS = {"min", "max", "sum", "avg", "count", "count_distinct"}


def _inner_to_one(group: _AggGroup) -> set[str]:
    """The to-one tables of an aggregate table that it may INNER JOIN instead of LEFT JOIN: the one
    table that every aggregate's value is a column of (``min(web_sales.date_dim.d_date)``).

    A record without its parent row has a NULL value in every aggregate, which skips it: dropping the
    record changes no aggregate, at most whether the key has a row at all, which the LEFT JOIN of the
    table to its anchor reads as the same NULL (or COALESCEd 0). A ``count`` of records, a value from
    the records themselves or from a second table keeps the LEFT JOIN. TPC-DS sf=1 (DuckDB): the
    LEFT JOIN made such segments 1.4-1.65x the hand-written ``JOIN ... GROUP BY``.
    """
    tables: set[str] = set()
    for m in group.measures:
        if (
            m.unless
            or m.func not in _SKIP_NULLS
            or m.fraction is not None
            or not isinstance(m.value, exp.Column)
        ):
            return set()
        tables.add(m.value.table)
    return tables & set(group.records.to_one.values()) if len(tables) == 1 else set()


def _agg_sql(m: _Measure, where: exp.Expr | None, dialect: str) -> exp.Expr:
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
    if m.func in _ORDERED:
        return D.aggregate_sql(m.func, value, m.fraction, dialect)
    cls = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[m.func]
    return cls(this=value)


def _windowed_join(w: _Windowed, on: exp.Expr | None = None) -> exp.Join:
    """The table of one ``_Windowed`` aggregate: ``k`` and ``v`` per anchor row that has records.

    A window query over the records the filter keeps (and whose value, or for first/last whose order,
    is not NULL), partitioned by the first step's key, then one row per key:
    - percentile/median: the values numbered 1..n in order; PERCENTILE_CONT interpolates between the
      values at 0-based positions floor(h) and ceil(h), h = p * (n - 1): the rows with
      h < rn < h + 2 are those two (or the one at h);
    - mode: the values counted per key, the most frequent first, ties to the smallest: row 1;
    - first/last: the records by the order (descending for last), ties to the smallest key (without
      a known key: the smallest value, NULL last): row 1;
    - stddev: the squared deviations from the key's mean, summed, over n - 1, its square root.
    Where ``FIRST(x ORDER BY ...)`` is an aggregate (``D.FIRST_ORDER_BY``), mode, first and last take
    the first value in that order with GROUP BY instead of numbering the rows.
    """
    func, dialect = w.node.func, w.records.dialect
    first = w.steps[0]
    fks = columns(w.table_aliases[0], first.target_columns)
    tested = w.by if func in ("first", "last") else w.value
    assert tested is not None
    conds = [c for c in (w.where, _not(exp.Is(this=tested.copy(), expression=exp.Null()))) if c is not None]
    inner = exp.select(*keyed(fks), copy=False).from_(D.table(first.target, w.table_aliases[0]), copy=False)
    for j in w.records.from_joins():
        inner = inner.join(j, copy=False)
    inner = inner.where(exp.and_(*conds, copy=False), copy=False)

    def window(this: exp.Expr, *order: exp.Ordered) -> exp.Window:
        return exp.Window(
            this=this,
            partition_by=[f.copy() for f in fks],
            order=exp.Order(expressions=list(order)) if order else None,
        )

    def col(name: str) -> exp.Column:
        return D.column(w.inner_alias, name)

    def one() -> exp.Expr:
        return exp.Literal.number(1)

    def keys() -> list[exp.Expr]:
        return [c for c in columns(w.inner_alias, key_names(len(fks)))]

    as_double = exp.Cast(this=w.value.copy(), to=exp.DataType.build("double"))
    keep: exp.Expr | None = None
    group_by: list[exp.Expr] = []
    if func in ("median", "percentile"):
        inner = inner.select(
            exp.alias_(as_double, "v", copy=False),
            exp.alias_(window(exp.RowNumber(), D.ordered(w.value.copy(), dialect)), "rn", copy=False),
            exp.alias_(window(exp.Count(this=exp.Star())), "n", copy=False),
            copy=False,
        )
        p = w.node.fraction
        assert p is not None

        def h() -> exp.Expr:  # the 0-based position, p * (n - 1)
            n_minus_1 = exp.Paren(this=exp.Sub(this=col("n"), expression=one()))
            return exp.Mul(this=exp.Literal.number(repr(p)), expression=n_minus_1)

        low, high = exp.Min(this=col("v")), exp.Max(this=col("v"))
        below = exp.Paren(this=exp.Sub(this=exp.Min(this=col("rn")), expression=one()))
        frac = exp.Paren(this=exp.Sub(this=h(), expression=below))
        spread = exp.Paren(this=exp.Sub(this=high, expression=low.copy()))
        value: exp.Expr = exp.Add(this=low, expression=exp.Mul(this=frac, expression=spread))
        keep = exp.and_(
            exp.GT(this=col("rn"), expression=h()),
            exp.LT(this=col("rn"), expression=exp.Add(this=h(), expression=exp.Literal.number(2))),
            copy=False,
        )
        group_by = [*keys(), col("n")]
    elif func == "stddev":
        inner = inner.select(
            exp.alias_(as_double, "v", copy=False),
            exp.alias_(window(exp.Avg(this=as_double.copy())), "m", copy=False),
            copy=False,
        )
        deviation = exp.Paren(this=exp.Sub(this=col("v"), expression=col("m")))
        squares = exp.Sum(this=exp.Mul(this=deviation, expression=deviation.copy()))
        n_minus_1 = exp.Sub(this=exp.Count(this=exp.Star()), expression=one())
        value = exp.Sqrt(
            this=exp.Div(
                this=squares, expression=exp.Nullif(this=n_minus_1, expression=exp.Literal.number(0))
            )
        )
        group_by = keys()
    else:  # mode, first, last: row 1 of an order
        first_agg = dialect in D.FIRST_ORDER_BY
        # Text told apart by its letters, not by a collation that ignores case (MariaDB's).
        exact = D.exact_text(w.value, w.node.value.type if w.node.value else None, dialect)
        if func == "mode":
            inner = inner.group_by(*(f.copy() for f in fks), exact.copy(), copy=False)
            count: exp.Expr = exp.Count(this=exp.Star())
            if first_agg:  # counted first, then the first value by count
                inner = inner.select(
                    exp.alias_(w.value.copy(), "v", copy=False),
                    exp.alias_(count, "n", copy=False),
                    copy=False,
                )
                count = col("n")
            values = col("v") if first_agg else exact
            order = [D.ordered(count, dialect, desc=True), D.ordered(values.copy(), dialect)]
        else:
            assert w.by is not None
            values = w.value
            order = [D.ordered(w.by.copy(), dialect, desc=func == "last")]
            if w.key is not None:
                order.append(D.ordered(w.key.copy(), dialect))
            else:
                is_null = exp.Is(this=w.value.copy(), expression=exp.Null())
                null_last = exp.Case(ifs=[exp.If(this=is_null, true=one())], default=exp.Literal.number(0))
                order += [D.ordered(null_last, dialect), D.ordered(exact.copy(), dialect)]
        if first_agg:
            first_value = exp.First(this=exp.Order(this=values.copy(), expressions=order))
            if func != "mode":  # one GROUP BY of the records: the table itself
                select = inner.select(exp.alias_(first_value, "v", copy=False), copy=False)
                return _keyed_join(w, select.group_by(*(f.copy() for f in fks), copy=False), on)
            value, group_by = first_value, keys()
        else:
            # mode grouped by the exact text: MIN picks the one value of each group
            chosen = (
                exp.Min(this=w.value.copy()) if func == "mode" and exact is not w.value else w.value.copy()
            )
            inner = inner.select(
                exp.alias_(chosen, "v", copy=False),
                exp.alias_(window(exp.RowNumber(), *order), "rn", copy=False),
                copy=False,
            )
            value, keep = col("v"), exp.EQ(this=col("rn"), expression=one())
    rows = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(w.inner_alias)))
    outer = exp.select(*keyed(keys()), exp.alias_(value, "v", copy=False), copy=False)
    outer = outer.from_(rows, copy=False)
    if keep is not None:
        outer = outer.where(keep, copy=False)
        if not group_by and dialect in D.DISTINCT_ROW_ONE:
            outer = outer.distinct(copy=False)  # one row per key already: kept from being merged
    if group_by:
        outer = outer.group_by(*group_by, copy=False)
    return _keyed_join(w, outer, on)


def _keyed_join(w: _Windowed, select: exp.Select, on: exp.Expr | None) -> exp.Join:
    """``select`` (``k``, ``v``) as the table ``w.alias``, LEFT JOINed to the anchor (or to ``on``)."""
    first = w.steps[0]
    return exp.Join(
        this=exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(w.alias))),
        on=_anchor_on(w.alias, first.target_columns, w.anchor_alias, first, on),
        side="LEFT",
    )


def _anchor_on(
    alias: str, fks: Sequence[object], anchor_alias: str, first: Step, on: exp.Expr | None
) -> exp.Expr:
    """A keyed table's join condition: its key column(s) = the anchor's (or = the key ``on``)."""
    own = columns(alias, key_names(len(fks)))
    if on is not None:  # only a single key drives a query (compile._driven_by_child)
        return exp.EQ(this=own[0], expression=on)
    return eq_all(own, columns(anchor_alias, first.source_columns))


def key_names(n: int) -> list[str]:
    """The key columns of a derived table: ``k``, or ``k, k_2, ...`` for a composite key."""
    return ["k", *(f"k_{i}" for i in range(2, n + 1))]


def columns(alias: str, names: Sequence[str]) -> list[exp.Column]:
    return [D.column(alias, name) for name in names]


def keyed(values: Sequence[exp.Expr]) -> list[exp.Expr]:
    """``values`` as a derived table's key columns (``key_names``)."""
    return [exp.alias_(v.copy(), n, copy=False) for v, n in zip(values, key_names(len(values)), strict=True)]


def eq_all(left: Sequence[exp.Expr], right: Sequence[exp.Expr]) -> exp.Expr:
    """``l1 = r1 AND l2 = r2 ...``: one column pair, or each pair of a composite key."""
    pairs = [exp.EQ(this=a, expression=b) for a, b in zip(left, right, strict=True)]
    return pairs[0] if len(pairs) == 1 else exp.and_(*pairs, copy=False)


def row(values: Sequence[exp.Expr]) -> exp.Expr:
    """One column, or a row value ``(a, b)`` for a composite key (``(a, b) IN (SELECT x, y ...)``)."""
    return values[0] if len(values) == 1 else exp.Tuple(expressions=list(values))


def not_null_all(values: Sequence[exp.Expr]) -> exp.Expr:
    """No column NULL (a composite key with a NULL part identifies nothing)."""
    return exp.and_(*(_not(exp.Is(this=v.copy(), expression=exp.Null())) for v in values), copy=False)


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


def _period_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the week (Monday), month, quarter or year that ``day`` is in."""
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "year":
        return dt.date(day.year, 1, 1)
    month = day.month if unit == "month" else 3 * ((day.month - 1) // 3) + 1
    return dt.date(day.year, month, 1)


def _plus_months(first: dt.date, months: int) -> dt.date:
    """The first day ``months`` months after (or before) the first day of a month."""
    y, m = divmod(first.year * 12 + first.month - 1 + months, 12)
    return dt.date(y, m + 1, 1)


def _minus(t: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit == "day":
        return t - dt.timedelta(days=amount)
    if unit == "week":
        return t - dt.timedelta(weeks=amount)
    months = amount * (12 if unit == "year" else 1)
    y, m = divmod(t.year * 12 + (t.month - 1) - months, 12)
    m += 1
    day = min(t.day, calendar.monthrange(y, m)[1])
    return t.replace(year=y, month=m, day=day)


# A chain of more conditions than this is grouped in balanced parentheses, ((a AND b) AND (c AND d)):
# a database parses a flat chain into a tree one level deep per condition (SQLite refuses 1,000 levels,
# sqlglot and DuckDB recurse per level), and balanced it is log2(n) deep. Shorter chains stay flat.
BALANCE_OVER = 64


def _chain(kind: type[exp.And] | type[exp.Or], parts: list[exp.Expr]) -> exp.Expr:
    if len(parts) <= BALANCE_OVER:
        return (exp.and_ if kind is exp.And else exp.or_)(*parts, copy=False)
    level = [exp.Paren(this=p) if isinstance(p, exp.Connector) else p for p in parts]
    while len(level) > 1:
        pairs = [
            exp.Paren(this=kind(this=level[i], expression=level[i + 1])) for i in range(0, len(level) - 1, 2)
        ]
        level = pairs + level[len(pairs) * 2 :]
    return level[0]
