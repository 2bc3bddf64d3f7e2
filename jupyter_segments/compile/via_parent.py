"""Rewriting a two-step aggregate as an aggregate over per-parent aggregates.

``sum(orders.order_lines.quantity where orders.status != 'cancelled' and quantity > 1)`` is the sum,
over the customer's orders with ``status != 'cancelled'``, of each order's
``sum(order_lines.quantity where quantity > 1)``. When a query already builds a per-order table of
order lines (a nested scope such as ``any(orders where sum(order_lines.quantity) > 30)``), the
two-step aggregate can read that table instead of joining every order line to its order a second
time. This module holds the pure tree work: which conditions talk about the parent, and how they
read from the parent's own scope.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from ..dsl import ast as A
from ..model import Model, Step

# How per-parent results combine into one per customer (count: the sum of the per-parent counts).
COMBINE = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}


def parent_steps(model: Model, steps: list[Step]) -> set[str]:
    """Lower-cased names that lead from the records at the end of a two-step path back to its middle entity."""
    back = steps[-1].relationship  # the same relationship, walked from child to parent
    return {name.lower() for name, s in model.steps_from(steps[-1].target).items() if s.relationship == back}


def split_where(where: A.Expr | None, parents: set[str]) -> tuple[A.Expr | None, A.Expr | None] | None:
    """(conditions on the parent, conditions on the records), or None when a condition mixes them."""
    if where is None:
        return None, None
    items = where.items if isinstance(where, A.And) else (where,)
    on_parent: list[A.Expr] = []
    on_records: list[A.Expr] = []
    for item in items:
        heads = _heads(item)
        if heads and heads <= parents:
            on_parent.append(item)
        elif heads & parents:
            return None
        else:
            on_records.append(item)
    return _and(on_parent, where), _and(on_records, where)


def strip_parent(node: A.Expr, parents: set[str]) -> A.Expr:
    """``orders.status`` written from order lines, as ``status`` written from orders."""
    if isinstance(node, A.Name):
        at_parent = len(node.parts) > 1 and node.parts[0].lower() in parents
        return dataclasses.replace(node, parts=node.parts[1:]) if at_parent else node
    if isinstance(node, (A.Aggregate, A.Exists)):  # the WHERE is the related records' scope: unchanged
        return dataclasses.replace(node, path=node.path[1:]) if node.path[0].lower() in parents else node
    if not isinstance(node, A.Node):
        return node
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, A.Node):
            changes[f.name] = strip_parent(cast(A.Expr, value), parents)
        elif isinstance(value, tuple) and value and isinstance(value[0], A.Node):
            changes[f.name] = tuple(strip_parent(v, parents) for v in value)
    return dataclasses.replace(node, **changes)


def _heads(node: A.Expr) -> set[str]:
    """First parts of the names and paths a condition reads in its own scope."""
    if isinstance(node, A.Name):
        return {node.parts[0].lower()} if len(node.parts) > 1 else {""}  # "": an attribute of the records
    if isinstance(node, (A.Aggregate, A.Exists)):
        return {node.path[0].lower()}
    return set().union(*(_heads(child) for child in A.children(node)))


def _and(items: list[A.Expr], like: A.Expr) -> A.Expr | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else A.And(tuple(items), pos=like.pos, end=like.end)
