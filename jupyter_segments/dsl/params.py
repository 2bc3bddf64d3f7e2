"""Bind ``{name}`` placeholders to Python values as literals: a value never becomes SQL text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from ..errors import SegmentError
from . import ast as A

_SCALARS = (bool, int, float, str, dt.date, dt.datetime, type(None))


def bind_params(tree: A.Definition, values: Mapping[str, Any]) -> A.Definition:
    """Replace every ``Param`` by a ``Literal`` (a list inside ``IN`` by several literals)."""
    return _walk(tree, values, tree.text)


def has_params(tree: A.Definition) -> bool:
    found: list[A.Param] = []
    _collect(tree, found)
    return bool(found)


def _collect(node: A.Node, found: list[A.Param]) -> None:
    if isinstance(node, A.Param):
        found.append(node)
    for child in A.children(node):
        _collect(child, found)


def _scalar(value: Any, node: A.Param, text: str) -> Any:
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):  # numpy scalar
        value = value.item()
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if isinstance(value, float) and not math.isfinite(value):
        # inf was written into SQL as a column named inf; NaN would quietly be another condition.
        raise SegmentError(
            f"{{{node.name}}} is {value!r}, not a finite number; use None for a missing value",
            text=text,
            pos=node.pos,
            end=node.end,
        )
    if not isinstance(value, _SCALARS):
        raise SegmentError(
            f"{{{node.name}}} is a {type(value).__name__}; only numbers, strings, booleans, dates and lists "
            "of them can be bound",
            text=text,
            pos=node.pos,
            end=node.end,
        )
    return value


def _lookup(node: A.Param, values: Mapping[str, Any], text: str) -> Any:
    if node.name not in values:
        raise SegmentError(f"undefined variable {{{node.name}}}", text=text, pos=node.pos, end=node.end)
    return values[node.name]


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset)) or (
        hasattr(value, "tolist") and not isinstance(value, (str, bytes)) and getattr(value, "ndim", 0) == 1
    )


def _walk(node: Any, values: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, A.InList):
        items: list[A.Expr] = []
        for item in node.items:
            if isinstance(item, A.Param):
                value = _lookup(item, values, text)
                seq = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
                seq = list(seq.tolist() if hasattr(seq, "tolist") else seq) if _is_list(value) else [value]
                if not seq:
                    raise SegmentError(
                        f"{{{item.name}}} is an empty list", text=text, pos=item.pos, end=item.end
                    )
                items.extend(A.Literal(_scalar(v, item, text), pos=item.pos, end=item.end) for v in seq)
            else:
                items.append(_walk(item, values, text))
        return dataclasses.replace(node, operand=_walk(node.operand, values, text), items=tuple(items))
    if isinstance(node, A.Param):
        value = _lookup(node, values, text)
        if _is_list(value):
            raise SegmentError(
                f"{{{node.name}}} is a list; use it with IN, as in  country in {{{node.name}}}",
                text=text,
                pos=node.pos,
                end=node.end,
            )
        return A.Literal(_scalar(value, node, text), pos=node.pos, end=node.end)
    if dataclasses.is_dataclass(node) and isinstance(node, A.Node):
        changes = {}
        for f in dataclasses.fields(node):
            if f.name in ("pos", "end", "text"):
                continue
            old = getattr(node, f.name)
            new = _walk(old, values, text)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(node, **changes) if changes else node
    if isinstance(node, tuple):
        new_items = tuple(_walk(i, values, text) for i in node)
        return new_items if any(a is not b for a, b in zip(new_items, node, strict=True)) else node
    return node
