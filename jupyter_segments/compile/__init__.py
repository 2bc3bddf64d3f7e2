"""Compile a typed definition (see ``jupyter_segments.bind``) into a sqlglot query for one dialect."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlglot import exp

from ..bind import typed as T
from ..model import Entity, Model, Relationship, Step
from . import dialects as D
from .compiler import (
    Options,
    Scope,
    _AggGroup,
    _Context,
    _group_join,
    _in_scope,
    _Windowed,
    columns,
    eq_all,
    keyed,
    not_null_all,
)

Shape = Literal["keys", "members", "count"]


def build_query(
    model: Model,
    definition: T.Definition,
    options: Options,
    shape: Shape = "keys",
    limit: int | None = None,
) -> exp.Select:
    """The query for a typed definition (``bind.bind``): member keys, member rows (customer columns +
    projections), or a count."""
    select = _build_query(model, definition, options, shape, limit)
    if options.dialect in D.IS_NOT_NULL_FILTER:
        _is_not_null(select)
    return select


def _is_not_null(tree: exp.Expr) -> None:
    """``NOT (x IS NULL)`` written as ``x IS NOT NULL`` (``D.IS_NOT_NULL_FILTER``)."""
    for node in list(tree.find_all(exp.Not)):
        inner = node.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            node.replace(exp.Is(this=inner.this, expression=exp.Not(this=exp.Null())))


def _build_query(
    model: Model, definition: T.Definition, options: Options, shape: Shape, limit: int | None
) -> exp.Select:
    customer = model.customer_entity()
    keys = customer.keys
    key = keys[0] if len(keys) == 1 else None  # the cheaper shapes below know one key column
    ctx = _Context(model, options)
    scope = Scope(ctx, "c")
    ctx.used_aliases.add("c")
    if shape == "members":
        scope.prepare_groups([definition.condition, *(p.value for p in definition.projections)])
        # Projections first: their aggregate tables then exist when the condition is compiled, so an
        # any/none/all over the same path becomes a count in that table (one scan, not two).
        projected = [scope.value(proj.value).sql for proj in definition.projections]
    if shape != "members":
        branches = _union_branches(definition.condition, options.dialect) if key is not None else None
        if branches is not None and key is not None:
            return _union_query(ctx, customer, key, branches, shape)
        scope.prepare_groups([definition.condition])
    where = scope.condition(definition.condition)
    if shape != "members" and key is not None:
        driven = _driven_by_ranking(scope, where, key, shape) or _driven_by_child(scope, where, key, shape)
        if driven is not None:
            return driven
    if model.key_may_be_null():  # a customer row without its key is never a member
        where = exp.and_(where, not_null_all(columns("c", keys)), copy=False)
    if shape != "members":
        select = _count_or_keys(shape, *columns("c", keys))
    else:
        listed: list[exp.Expr] = [D.column("c", name) for name in customer.columns]
        for proj, value in zip(definition.projections, projected, strict=True):
            listed.append(exp.alias_(value, D.identifier(proj.alias), copy=False))
        select = exp.select(*listed, copy=False)
    # copy=False: every node is fresh; the builder's default copy made compiling O(n^2) in joins.
    select = select.from_(D.table(customer.name, "c"), copy=False)
    for join in scope.from_joins():
        select = select.join(join, copy=False)
    select = select.where(where, copy=False)
    if shape == "members" and limit is not None:
        select = select.order_by(*columns("c", keys), copy=False).limit(limit, copy=False)
    return select


def build_flags(model: Model, definitions: list[T.Definition], options: Options) -> exp.Select:
    """One query for many segments: key, ``f_i`` (1 if member of segment i), ``p_i_j`` projections.

    Built in one scope, so aggregates over the same path share one derived table (one scan). Only
    customers in at least one segment are returned.
    """
    customer = model.customer_entity()
    ctx = _Context(model, options)
    scope = Scope(ctx, "c")
    ctx.used_aliases.add("c")
    selected: list[exp.Expr] = [exp.alias_(D.column("c", k), k, quoted=True) for k in customer.keys]
    # Every segment's aggregate tables first, so an any/none/all of one segment is counted in the
    # table another segment's aggregate over the same path needs (one scan of that path).
    scope.prepare_groups(
        [d.condition for d in definitions] + [p.value for d in definitions for p in d.projections]
    )
    for i, definition in enumerate(definitions):
        cond = scope.condition(definition.condition)
        flag = exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))], default=exp.Literal.number(0))
        selected.append(exp.alias_(flag, f"f_{i}"))
        for j, proj in enumerate(definition.projections):
            selected.append(exp.alias_(scope.value(proj.value).sql, f"p_{i}_{j}"))
    inner = exp.select(*selected).from_(D.table(customer.name, "c"))
    for join in scope.from_joins():
        inner = inner.join(join)
    if model.key_may_be_null():  # a customer row without its key is never a member
        inner = inner.where(not_null_all(columns("c", customer.keys)), copy=False)
    any_member = exp.or_(
        *(
            exp.EQ(this=exp.column(f"f_{i}"), expression=exp.Literal.number(1))
            for i in range(len(definitions))
        )
    )
    return (
        exp.select(exp.Star())
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("flags"))))
        .where(any_member)
    )


def _union_branches(condition: T.Cond, dialect: str) -> list[T.Cond] | None:
    """The operands of a top-level UNION that should each be their own query, or None.

    On DuckDB, ``(country = 'US' and sum(orders.amount) > 2000) union (...)`` as one scan with OR
    over all aggregate tables cannot push each branch's customer filter into its own aggregate; a
    UNION of two queries can (1M customers: 296 ms as OR, 196 ms as UNION, 191 ms hand-written;
    PostgreSQL is faster with OR). Only worth it when a branch aggregates or tests related records.
    """
    if dialect not in D.SPLIT_TOP_UNION or not (isinstance(condition, T.SetOp) and condition.op == "union"):
        return None
    branches: list[T.Cond] = []

    def flatten(node: T.Cond) -> None:
        if isinstance(node, T.SetOp) and node.op == "union":
            flatten(node.left)
            flatten(node.right)
        else:
            branches.append(node)

    flatten(condition)
    aggregates, tests = _in_scope(branches)
    return branches if aggregates or tests else None


def _union_query(
    ctx: _Context, customer: Entity, key: str, branches: list[T.Cond], shape: Shape
) -> exp.Select:
    """Each branch as its own ``SELECT key``; their UNION (distinct, so a member counts once)."""
    union: exp.Query | None = None
    for branch in branches:
        scope = Scope(ctx, ctx.alias("c"))
        scope.prepare_groups([branch])
        where = scope.condition(branch)
        select = exp.select(D.column(scope.alias, key), copy=False).from_(
            D.table(customer.name, scope.alias), copy=False
        )
        for join in scope.from_joins():
            select = select.join(join, copy=False)
        if ctx.model.key_may_be_null():  # a customer row without its key is never a member
            where = exp.and_(where, not_null_all([D.column(scope.alias, key)]), copy=False)
        select = select.where(where, copy=False)
        union = select if union is None else exp.union(union, select, distinct=True, copy=False)
    assert union is not None
    members = exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("u")))
    return _count_or_keys(shape, D.column("u", key)).from_(members, copy=False)


def _count_or_keys(shape: Shape, *keys: exp.Expr) -> exp.Select:
    """The SELECT list of a ``count`` query (``COUNT(*) AS members``) or of a ``keys`` query."""
    if shape == "count":
        return exp.select(exp.alias_(exp.Count(this=exp.Star()), "members", copy=False), copy=False)
    return exp.select(*keys, copy=False)


def _driven_by_ranking(scope: Scope, where: exp.Expr, key: str, shape: Shape) -> exp.Select | None:
    """A definition that is one ranking (``top 10% by ...``): its ranked keys are the members, read
    without testing every customer against them (DuckDB, 1M customers: the semi-join over the
    customer table made the query 4x the hand-written window query)."""
    if not (scope.rankings and where is scope.rankings[0] and not scope.joins):
        return None
    ranked = where.args["query"].this  # SELECT ranked.k FROM (...) WHERE the rank is kept
    members = exp.Subquery(this=ranked, alias=exp.TableAlias(this=exp.to_identifier("r")))
    return _count_or_keys(shape, exp.alias_(D.column("r", "k"), D.identifier(key), copy=False)).from_(
        members, copy=False
    )


def _every_child_has_parent(scope: Scope, step: Step) -> bool:
    """Whether every non-NULL child value of the step's relationship exists in its parent: the user
    assumes integrity, or the database enforces a declared FOREIGN KEY (``D.ENFORCES_FOREIGN_KEYS``;
    SQLite only with a PRAGMA, and warehouses treat keys as documentation)."""
    rel = step.relationship
    return rel.assume_integrity or (
        scope.dialect in D.ENFORCES_FOREIGN_KEYS and scope.model.has_foreign_key(rel)
    )


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _driven_by_child(scope: Scope, where: exp.Expr, key: str, shape: Shape) -> exp.Select | None:
    """Keys (or their count) read from a child table, without the customer table, when the condition
    needs a child row and every child row has its customer (``_every_child_has_parent``).

    The condition is a conjunction. One conjunct must need a row of one table keyed by the customer:
    - a comparison of a bare aggregate (``count(orders where ...) >= 5``, see
      ``_without_empty_default``): the members are rows of that aggregate table, as
      ``GROUP BY customer_id HAVING ...`` by hand (DuckDB, 100k customers: the join with customers
      made ``count_where`` 1.5x the hand-written SQL);
    - else an ``any(...)`` semi-join: the members are among the child's distinct keys
      (``SELECT DISTINCT fk ...``; PostgreSQL 100k customers: 1.8x faster than the semi-join);
      beside other conditions or over a longer path only where that pays (``D.SEMI_JOIN_DRIVES_ALL``).
    Every other use of the customer must be its key (correlations, other semi-joins), which the
    driving table's key then stands in for.
    """
    if scope.joins or any(column != key for _, column in scope.channels):
        return None  # a to-one join from the customer reads its columns
    conjuncts = _conjuncts(where)
    # The window-function tables of first/last, median, ... (compiler._Windowed) have a row per customer
    # with a value, keyed like the aggregate tables: they may drive the query and join it the same way.
    groups: list[_AggGroup | _Windowed] = [g for g in scope.groups.values() if g.measures]
    groups.extend(scope.windowed)
    group = _driving_group(scope, conjuncts, groups, key)
    semi_join = _driving_semi_join(scope, conjuncts, key) if group is None else None
    if group is None and semi_join is None:
        return None
    rest = [c for c in conjuncts if c is not semi_join]  # the semi-join becomes the FROM
    customer_columns = [c for part in rest for c in part.find_all(exp.Column) if c.table == scope.alias]
    if any(c.name != key for c in customer_columns):
        return None
    # Decided: from here on the compiled tree is rewritten in place.
    if group is not None:
        driver_key = D.column(group.alias, "k")
        source = _group_join(group).this
        if scope.dialect in D.KEY_FILTERS_INTO_DRIVER and isinstance(group, _AggGroup):
            rest = _filter_before_grouping(source, group.alias, rest, scope.alias, key)
        rest.append(exp.not_(exp.Is(this=driver_key.copy(), expression=exp.Null()), copy=False))
    else:
        assert semi_join is not None
        source, driver_key = _distinct_keys(scope, semi_join)  # NULL keys are excluded there
    for column in customer_columns:
        column.replace(driver_key.copy())
    keys = exp.alias_(driver_key.copy(), D.identifier(key), copy=False)
    select = _count_or_keys(shape, keys).from_(source, copy=False)
    for other in groups:
        if other is not group:
            select = select.join(_group_join(other, on=driver_key.copy()), copy=False)
    for i in range(len(scope.channels)):
        select = select.join(scope.channel_join(i, on=driver_key.copy()), copy=False)
    return select.where(exp.and_(*rest, copy=False), copy=False) if rest else select


def _filter_before_grouping(
    source: exp.Subquery, alias: str, rest: list[exp.Expr], customer_alias: str, key: str
) -> list[exp.Expr]:
    """Move the anti-joins among ``rest`` that read no column of the query but the customer's key
    (``NOT EXISTS (SELECT 1 FROM store_returns WHERE sr_customer_sk = c.c_customer_sk)``) into the
    WHERE of the driving aggregate table ``source``, on its grouped foreign key: a condition on the
    group key alone keeps or drops all of a key's records, so filtering them before grouping leaves
    the same groups with the same aggregates, and the table drives the query (no customer without a
    row). Returns the conjuncts left (``D.KEY_FILTERS_INTO_DRIVER``). Semi-joins stay after grouping:
    PostgreSQL, TPC-DS sf=1, ``any(store_returns ...) and count(store_sales) >= 30``: 1.15 s after,
    1.58 s before grouping."""
    select = source.this
    fks = select.args["group"].expressions
    if len(fks) != 1:
        return rest
    kept = []
    for conjunct in rest:
        inner = conjunct.this if isinstance(conjunct, exp.Not) else conjunct
        if isinstance(inner, exp.Paren):
            inner = inner.this
        own = {t.alias_or_name for t in conjunct.find_all(exp.Table)}  # the subquery's tables
        outer = [c for c in conjunct.find_all(exp.Column) if c.table not in own]
        if (
            not isinstance(conjunct, exp.Not)  # an anti-join: a semi-join first groups faster here
            or not isinstance(inner, (exp.Exists, exp.In))
            or not outer
            or any(c.table not in (customer_alias, alias) or c.name != key for c in outer)
        ):
            kept.append(conjunct)
            continue
        for c in outer:
            c.replace(fks[0].copy())
        select.where(conjunct, copy=False)
    return kept


def _driving_group(
    scope: Scope, conjuncts: list[exp.Expr], groups: list[_AggGroup | _Windowed], key: str
) -> _AggGroup | _Windowed | None:
    """The aggregate table that a conjunct needs a row of, over a link whose child rows all have their
    customer: a comparison of one of its bare columns (NULL when the customer has no rows)."""
    eligible = {
        g.alias: g
        for g in groups
        if g.anchor_alias == scope.alias
        and g.steps[0].source_columns == (key,)
        and _every_child_has_parent(scope, g.steps[0])
    }
    for conjunct in conjuncts:
        if isinstance(conjunct, _COMPARISONS):
            operands = [conjunct.this, conjunct.expression]
        elif isinstance(conjunct, exp.Between):
            operands = [conjunct.this]
        else:
            continue
        for operand in operands:
            if isinstance(operand, exp.Column) and operand.table in eligible:
                return eligible[operand.table]
    return None


def _driving_semi_join(scope: Scope, conjuncts: list[exp.Expr], key: str) -> exp.In | None:
    """A conjunct ``key IN (SELECT fk ...)`` of an any() whose child rows all have their customer."""
    alone = len(conjuncts) == 1
    for test, steps in scope.semi_joins:
        if (
            any(test is c for c in conjuncts)
            and steps[0].source_columns == (key,)
            and _every_child_has_parent(scope, steps[0])
            and (scope.dialect in D.SEMI_JOIN_DRIVES_ALL or (alone and len(steps) == 1))
        ):
            return test
    return None


def _distinct_keys(scope: Scope, semi_join: exp.In) -> tuple[exp.Subquery, exp.Column]:
    """The semi-join's subquery as ``(SELECT DISTINCT fk AS k ...) AS keys_n``, and its key column."""
    keys = semi_join.args["query"].this  # SELECT fk FROM child ... WHERE ...
    fk = keys.expressions[0]
    no_null = exp.not_(exp.Is(this=fk.copy(), expression=exp.Null()), copy=False)  # NULL: no customer
    keys.where(no_null, copy=False)
    keys.set("expressions", [exp.alias_(fk, "k", copy=False)])
    alias = scope.ctx.alias("keys")
    source = exp.Subquery(this=keys.distinct(copy=False), alias=exp.TableAlias(this=exp.to_identifier(alias)))
    return source, D.column(alias, "k")


def _conjuncts(where: exp.Expr) -> list[exp.Expr]:
    """The ANDed parts of ``where``, left to right; iterative: 10,000 ANDed conditions are that deep."""
    found, stack = [], [where]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Paren):
            stack.append(node.this)
        elif isinstance(node, exp.And):
            stack += [node.expression, node.this]
        else:
            found.append(node)
    return found


def orphan_count_sql(rel: Relationship, dialect: str) -> str:
    """How many child rows hold a non-NULL value that no parent row has."""
    fks, pks = columns("x", rel.child_columns), columns("p", rel.parent_columns)
    parent = (
        exp.select(exp.Literal.number(1))
        .from_(D.table(rel.parent, "p"))
        .where(eq_all(pks, [f.copy() for f in fks]))
    )
    # A composite value with a NULL part points nowhere (as MATCH SIMPLE): not an orphan.
    orphan = exp.and_(
        *(exp.not_(exp.Is(this=f, expression=exp.Null())) for f in fks), exp.not_(exp.Exists(this=parent))
    )
    return (
        exp.select(exp.Count(this=exp.Star()))
        .from_(D.table(rel.child, "x"))
        .where(orphan)
        .sql(dialect=dialect)
    )


def build_columns(
    model: Model, items: Sequence[T.Typed], options: Options, customer: object = None
) -> exp.Select:
    """One row per customer (only the customer whose key is ``customer``, unless None): the key as
    ``k``, then ``c_0, c_1, ...``, one column per item: a value's value, a condition's truth as 1
    (TRUE), 0 (FALSE) or NULL (unknown), in one scope (aggregates over one path share one table).

    Conditions are compiled as under NOT: exact three-valued truths (``count(orders) >= 5`` is FALSE,
    not unknown, without orders) and set operators and segment references TRUE or FALSE. Explain,
    near misses and sweeps read it.
    """
    entity = model.customer_entity()
    keys = entity.keys
    ctx = _Context(model, options)
    scope = Scope(ctx, "c")
    ctx.used_aliases.add("c")
    scope.prepare_groups(list(items))
    scope.under_not += 1
    selected: list[exp.Expr] = keyed(columns("c", keys))
    for i, item in enumerate(items):
        if isinstance(item, _VALUES):
            sql = scope.value(item).sql
        else:
            cond = scope.condition(item)
            sql = exp.Case(
                ifs=[
                    exp.If(this=cond, true=exp.Literal.number(1)),
                    exp.If(this=exp.Not(this=exp.Paren(this=cond.copy())), true=exp.Literal.number(0)),
                ]
            )
        selected.append(exp.alias_(sql, f"c_{i}", copy=False))
    select = exp.select(*selected, copy=False).from_(D.table(entity.name, "c"), copy=False)
    joins = scope.from_joins()
    if customer is not None and len(keys) == 1:
        _only_customer(scope, joins, keys[0], customer)
    for join in joins:
        select = select.join(join, copy=False)
    if customer is not None:
        select = select.where(_is_customer(scope, keys, customer), copy=False)
    elif model.key_may_be_null():  # a customer row without its key is never a member
        select = select.where(not_null_all(columns("c", keys)), copy=False)
    return select


def _is_customer(scope: Scope, keys: tuple[str, ...], customer: object) -> exp.Expr:
    """``c.key = customer``; for a composite key ``customer`` is a tuple in key order."""
    values = customer if len(keys) > 1 else (customer,)
    assert isinstance(values, tuple) and len(values) == len(keys), (keys, customer)
    return eq_all(columns("c", keys), [scope.literal(v) for v in values])


def _only_customer(scope: Scope, joins: list[exp.Join], key: str, customer: object) -> None:
    """Filter the aggregate tables and semi-joins keyed by the customer key to that one customer's
    records, so a database that does not push ``c.key = x`` into a GROUP BY subquery (SQLite) reads
    one customer's records, not all of them. The rows for that customer are unchanged."""
    by_alias = {
        g.alias: g
        for g in scope.groups.values()
        if g.measures and g.anchor_alias == scope.alias and g.steps[0].source_columns == (key,)
    }
    for join in joins:
        table = join.this
        group = by_alias.get(table.alias) if isinstance(table, exp.Subquery) else None
        if group is not None and isinstance(table.this, exp.Select):
            fk = D.column(group.table_aliases[0], group.steps[0].target_columns[0])
            table.this.where(exp.EQ(this=fk, expression=scope.literal(customer)), copy=False)
    for test, steps in scope.semi_joins:
        query = test.args.get("query")
        inner = query.this if isinstance(query, exp.Subquery) else None
        if isinstance(inner, exp.Select) and steps[0].source_columns == (key,) and inner.expressions:
            fk = inner.expressions[0].copy()
            inner.where(exp.EQ(this=fk, expression=scope.literal(customer)), copy=False)


def build_records(
    model: Model, node: T.Agg | T.Exists, options: Options, customer: object, limit: int = 20
) -> exp.Select:
    """The records an aggregate or any/none/all reads for one customer: every column of the records'
    table, those its WHERE keeps (for ``all``: those it does not), the first ``limit`` in key order."""
    entity = model.customer_entity()
    ctx = _Context(model, options)
    scope = Scope(ctx, "c")
    ctx.used_aliases.add("c")
    anchor = scope.walk(node.steps)
    steps = list(node.many)
    records, aliases, _ = scope.records_scope(anchor, steps)
    records.prepare_groups([node.where])
    records.under_not += 1
    where = records.condition(node.where) if node.where is not None else None
    if where is not None and isinstance(node, T.Exists) and node.kind == "all":
        truth = exp.Case(ifs=[exp.If(this=where, true=exp.Literal.number(1))], default=exp.Literal.number(0))
        where = exp.EQ(this=truth, expression=exp.Literal.number(0))  # not TRUE: FALSE or unknown
    first = steps[0]
    on = eq_all(columns(aliases[0], first.target_columns), columns(anchor, first.source_columns))
    select = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(aliases[-1])), copy=False).from_(
        D.table(entity.name, "c"), copy=False
    )
    for join in scope.from_joins():
        select = select.join(join, copy=False)
    select = select.join(exp.Join(this=D.table(first.target, aliases[0]), on=on), copy=False)
    for join in records.from_joins():
        select = select.join(join, copy=False)
    conds: list[exp.Expr] = [_is_customer(scope, entity.keys, customer)]
    if where is not None:
        conds.append(where)
    select = select.where(exp.and_(*conds, copy=False), copy=False)
    record_key = model.key_of(steps[-1].target) or next(iter(model.entity(steps[-1].target).columns))
    select = select.order_by(D.column(aliases[-1], record_key), copy=False)
    return select.limit(limit, copy=False)


_VALUES = (T.Lit, T.Col, T.MeasureRef, T.Agg, T.Arith, T.Neg, T.Func, T.Case, T.DateShift)
