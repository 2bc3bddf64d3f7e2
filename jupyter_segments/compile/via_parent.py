"""Rewriting a two-step aggregate as an aggregate over per-parent aggregates.

``sum(orders.order_lines.quantity where orders.status != 'cancelled' and quantity > 1)`` is the sum,
over the customer's orders with ``status != 'cancelled'``, of each order's
``sum(order_lines.quantity where quantity > 1)``. When a query already builds a per-order table of
order lines (a nested scope such as ``any(orders where sum(order_lines.quantity) > 30)``), the
two-step aggregate can read that table instead of joining every order line to its order a second
time. This module holds the pure tree work on typed trees: which conditions talk about the parent,
and how they read from the parent's own scope.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from ..bind import typed as T
from ..dsl import ast as A
from ..model import Relationship, Step

# How per-parent results combine into one per customer (count: the sum of the per-parent counts).
COMBINE = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}


def split_where(where: T.Cond | None, back: Relationship) -> tuple[T.Cond | None, T.Cond | None] | None:
    """(conditions on the parent, conditions on the records), or None when a condition mixes them.

    ``back`` is the relationship between the parent and its records: a step along it from the
    records leads to the parent."""
    if where is None:
        return None, None
    items = where.items if isinstance(where, T.And) else (where,)
    on_parent: list[T.Cond] = []
    on_records: list[T.Cond] = []
    for item in items:
        heads = _heads(item)
        to_parent = {h for h in heads if h is not None and h.relationship == back}
        if heads and to_parent == heads:
            on_parent.append(item)
        elif to_parent:
            return None
        else:
            on_records.append(item)
    return _and(on_parent, where), _and(on_records, where)


def strip_parent(node: T.Cond, back: Relationship) -> T.Cond:
    """``orders.status`` written from order lines, as ``status`` written from orders."""
    return cast(T.Cond, _strip(node, back))


def _strip(node: Any, back: Relationship) -> Any:
    if isinstance(node, T.Col):
        at_parent = bool(node.steps) and node.steps[0].relationship == back
        return dataclasses.replace(node, steps=node.steps[1:]) if at_parent else node
    if isinstance(node, (T.Agg, T.Exists)):  # the WHERE is the related records' scope: unchanged
        at_parent = bool(node.steps) and node.steps[0].relationship == back
        return dataclasses.replace(node, steps=node.steps[1:]) if at_parent else node
    if not isinstance(node, A.Node):
        return node
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, A.Node):
            changes[f.name] = _strip(value, back)
        elif isinstance(value, tuple) and value and isinstance(value[0], A.Node):
            changes[f.name] = tuple(_strip(v, back) for v in value)
    return dataclasses.replace(node, **changes)


def _heads(node: Any) -> set[Step | None]:
    """First steps of the names and paths a condition reads in its own scope (None: an attribute of
    the records themselves)."""
    if isinstance(node, T.Col):
        return {node.steps[0] if node.steps else None}
    if isinstance(node, (T.Agg, T.Exists)):
        return {T.path(node)[0]}
    return set().union(*(_heads(child) for child in A.children(node)))


def _and(items: list[T.Cond], like: T.Cond) -> T.Cond | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else T.And(tuple(items), pos=like.pos, end=like.end)
