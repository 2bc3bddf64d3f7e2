"""Compile a definition tree into a sqlglot query for one dialect."""

from __future__ import annotations

from typing import Literal

from sqlglot import exp

from ..dsl import ast as A
from ..model import Model
from . import dialects as D
from .compiler import Options, Scope, _Context

Shape = Literal["keys", "members", "count"]


def build_query(
    model: Model,
    definition: A.Definition,
    options: Options,
    shape: Shape = "keys",
    limit: int | None = None,
) -> exp.Select:
    """The query for a definition: member keys, member rows (customer columns + projections), or a count."""
    customer = model.customer_entity()
    key = customer.key
    assert key is not None
    ctx = _Context(model, options, definition.text)
    scope = Scope(ctx, customer, "c", is_customer=True)
    ctx.used_aliases.add("c")
    selected = [p.expr for p in definition.projections] if shape == "members" else []
    scope.prepare_groups([definition.condition, *selected])
    if shape == "members":
        # Projections first: their aggregate tables then exist when the condition is compiled, so an
        # any/none/all over the same path becomes a count in that table (one scan, not two).
        projected = [scope.value(proj.expr).sql for proj in definition.projections]
    elif definition.projections:
        # count and keys do not select the projections, but a definition with a bad one is still bad:
        # type-check them in a scratch scope (its joins are thrown away) so every shape agrees.
        scratch = Scope(_Context(model, options, definition.text), customer, "c", is_customer=True)
        taken = {n.lower() for n in customer.columns}
        for proj in definition.projections:
            scratch.value(proj.expr)
            if proj.alias.lower() in taken:
                raise ctx.error(f"projected column '{proj.alias}' clashes with an existing column", proj)
            taken.add(proj.alias.lower())
    where = scope.condition(definition.condition)
    if shape == "count":
        select = exp.select(exp.alias_(exp.Count(this=exp.Star()), "members"))
    elif shape == "keys":
        select = exp.select(D.column("c", key))
    else:
        columns: list[exp.Expr] = [D.column("c", name) for name in customer.columns]
        taken = {n.lower() for n in customer.columns}
        for proj, value in zip(definition.projections, projected, strict=True):
            if proj.alias.lower() in taken:
                raise ctx.error(f"projected column '{proj.alias}' clashes with an existing column", proj)
            taken.add(proj.alias.lower())
            columns.append(exp.alias_(value, D.identifier(proj.alias)))
        select = exp.select(*columns)
    # copy=False: every node is fresh; the builder's default copy made compiling O(n^2) in joins.
    select = select.from_(D.table(customer.name, "c"), copy=False)
    for join in scope.from_joins():
        select = select.join(join, copy=False)
    select = select.where(where, copy=False)
    if shape == "members" and limit is not None:
        select = select.order_by(D.column("c", key), copy=False).limit(limit, copy=False)
    return select
