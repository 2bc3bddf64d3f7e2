"""Static segments from data: a frozen member list saved in the catalog (as a similar-customers result
is), made from a DataFrame, a CSV or Parquet file, or a list of keys.

The segment's definition is the list (``customer_id in (...)``), evaluated once when it is saved; its
members are stored like any segment's and never re-evaluated. Values that match no customer are
reported (``Segment.unknown_keys``, and a warning). ``in segment campaign_2025`` in any definition
reads the stored members (``member_text``), for this kind of static segment and for one frozen from a
rule (``ws.segment(..., type="static")``).

``in segment`` reads the stored members table where there is one (a semi-join: ``key IN (SELECT key
FROM seg_members__x)``; the keys are data, never SQL text), so its cost does not grow with the list:
100,000 keys in 200,000 customers counted in 1.0-1.3x a hand-written semi-join on a keys table, where the
list of values took 21-228x (bench/static_keys.py, bench/results/findings.md). The list stays for members
kept in Parquet files and for MariaDB/MySQL with a text key column (``_semi_join_fits``).

Cost still: saving checks and stores the values through a definition that lists them (8-14 s for
100,000 keys).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .bind import typed as T
from .catalog import members as M
from .dsl import to_text
from .errors import SegmentError, did_you_mean, plural
from .explain import plain_value
from .intelligence.features import key_list_condition
from .segments import Segment, save

if TYPE_CHECKING:
    from .backends.base import Backend
    from .workspace import Workspace

SHOWN = 10  # unknown values named in a warning


class StaticSegment(Segment):
    """The handle ``static_segment`` returns: a ``Segment`` that also tells ``unknown_keys``, the given
    values that matched no customer (left out)."""

    def __init__(self, ws: Workspace, segment_id: int, unknown_keys: list[Any]) -> None:
        super().__init__(ws, segment_id)
        self.unknown_keys = unknown_keys


def static_segment(
    ws: Workspace,
    name: str,
    data: Any,
    *,
    key: str | Sequence[str] | None = None,
    description: str | None = None,
    display_name: str | None = None,
    unknown: str = "warn",
) -> StaticSegment:
    """Save ``data``'s values of column ``key`` (default: the customer key) as static segment ``name``.

    ``data``: a DataFrame, a CSV or Parquet file path, or a list (Series, set, ...) of values. ``key``
    names the data's column and the customer column it matches (``email`` works too); with a composite
    customer key the values are rows of the key columns (tuples in key order in a list). Values that match
    no customer: ``unknown="warn"`` (a warning; the segment is saved without them), ``"error"``
    (``SegmentError``, nothing saved) or ``"ignore"``; they are on the returned handle's
    ``unknown_keys`` (a ``StaticSegment``).

    >>> seg = ws.static_segment("campaign_2025", "campaign.csv", key="customer_id")
    >>> ws.count("in segment campaign_2025 and country = 'DE'")
    """
    if unknown not in ("warn", "error", "ignore"):
        raise SegmentError(f"unknown must be 'warn', 'error' or 'ignore', not {unknown!r}")
    customer = ws.model.customer_entity()
    columns = [key] if isinstance(key, str) else list(key) if key else list(customer.keys)
    kinds = []
    for column in columns:
        attribute = customer.column(column)
        if attribute is None:
            raise SegmentError(
                f"'{column}' is not a column of {customer.name} (key= names the customer column the values "
                f"match){did_you_mean(column, customer.columns)}"
            )
        kinds.append(attribute.type)
    column = columns[0] if len(columns) == 1 else f"({', '.join(columns)})"  # in messages
    rows, source = _values(data, columns)
    if not rows:
        raise SegmentError(f"no values of {column} in {source}: a static segment needs at least one")
    typed, unusable = _typed(rows, kinds)
    found = _found(ws, _listed(columns, typed), columns) if typed else set()
    missing = [_shown(r) for r in unusable + [r for r in typed if r not in found]]
    if missing and unknown == "error":
        raise SegmentError(
            f"{plural(len(missing), 'value')} of {column} in {source} {_match(missing)} no customer: "
            f"{_sample(missing)}; nothing was saved (unknown='warn' saves the others)"
        )
    if not found:
        raise SegmentError(f"none of the {plural(len(rows), 'value')} of {column} in {source} is a customer")
    # The definition lists the values that matched: what the stored members are.
    definition = _listed(columns, [r for r in typed if r in found])
    saved = save(
        ws, name, definition, description=description or f"{plural(len(found), 'customer')} from {source}",
        display_name=display_name, type="static",
    )  # fmt: skip
    seg = StaticSegment(ws, saved.id, missing)
    if missing and unknown == "warn":
        warnings.warn(
            f"static segment '{name}': {plural(len(missing), 'value')} of {column} {_match(missing)} no "
            f"customer, left out: {_sample(missing)} (seg.unknown_keys lists them)",
            UserWarning,
            stacklevel=3,  # the caller of ws.static_segment
        )
    return seg


def _values(data: Any, columns: list[str]) -> tuple[list[tuple], str]:
    """The distinct rows of the key columns without a null (in their first order), and a description of
    where they came from."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data).expanduser()
        if not path.is_file():
            raise SegmentError(f"there is no file {path}")
        try:
            frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as e:
            raise SegmentError(f"cannot read {path}: {str(e).splitlines()[0]}") from None
        source = path.name
    elif isinstance(data, pd.DataFrame):
        frame, source = data, "a DataFrame"
    elif isinstance(data, Iterable) and not isinstance(data, (bytes, dict)):
        items = list(data)
        if len(columns) == 1:
            frame = pd.DataFrame({columns[0]: items})
        elif all(isinstance(i, (tuple, list)) and len(i) == len(columns) for i in items):
            frame = pd.DataFrame([tuple(i) for i in items], columns=columns)
        else:
            raise SegmentError(
                f"the key is ({', '.join(columns)}): list each customer as a tuple of {len(columns)} "
                "values in that order"
            )
        source = "a list"
    else:
        raise SegmentError(
            f"a static segment is made from a DataFrame, a CSV or Parquet path, or a list of keys, not "
            f"{type(data).__name__}"
        )
    for column in columns:
        if column not in frame.columns:
            raise SegmentError(
                f"{source} has no column '{column}'{did_you_mean(column, [str(c) for c in frame.columns])}"
            )
    rows = [tuple(plain_value(v) for v in r) for r in frame[columns].itertuples(index=False, name=None)]
    return list(dict.fromkeys(r for r in rows if None not in r)), source


_UNUSABLE = object()  # a value that cannot be of its column's type


def _typed(rows: list[tuple], kinds: Sequence[str]) -> tuple[list[tuple], list[tuple]]:
    """Rows as the customer columns' types (``'42'`` is 42 for a number key); those that cannot be."""
    typed, unusable = [], []
    for r in rows:
        values = tuple(_typed_value(v, kind) for v, kind in zip(r, kinds, strict=True))
        if _UNUSABLE in values:
            unusable.append(r)
        else:
            typed.append(values)
    return list(dict.fromkeys(typed)), unusable


def _typed_value(v: Any, kind: str) -> Any:
    if kind != "number":
        return v if isinstance(v, str) else str(v)
    if isinstance(v, bool):
        return _UNUSABLE
    try:
        number = float(v) if not isinstance(v, int) else v
    except (TypeError, ValueError):
        return _UNUSABLE
    if isinstance(number, float) and not math.isfinite(number):
        return _UNUSABLE
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _shown(row: tuple) -> Any:
    """A row as reported (unknown_keys, messages): the value itself for one column."""
    return row[0] if len(row) == 1 else row


def _found(ws: Workspace, definition: str, columns: list[str]) -> set[tuple]:
    """The listed rows that match a customer (one query)."""
    if columns == list(ws.model.customer_entity().keys):
        stored: pd.Series | pd.DataFrame = ws.member_keys(definition)
    else:
        stored = ws.members(definition)[columns]
    return set(_rows(stored))


def _rows(stored: pd.Series | pd.DataFrame) -> list[tuple]:
    frame = stored.to_frame() if isinstance(stored, pd.Series) else stored
    return [tuple(plain_value(v) for v in r) for r in frame.itertuples(index=False, name=None)]


def _listed(columns: list[str], rows: list[tuple]) -> str:
    return to_text(key_list_condition(columns, rows))


def _match(values: list[Any]) -> str:
    return "matches" if len(values) == 1 else "match"


def _sample(values: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:SHOWN])
    return shown + (f" and {len(values) - SHOWN:,} more" if len(values) > SHOWN else "")


def member_text(backend: Backend, row: dict[str, Any], key: M.Keys) -> str | T.StoredKeys:
    """What ``in segment`` reads for static segment ``row``: its stored members table in the database
    (a semi-join on it: 100,000 keys cost what a table of them costs, and never become SQL text), or,
    for members kept in a Parquet file, a definition listing them; ``key``: the customer key's column(s)."""
    if M.require_members(row)["members_location"] == "table" and _semi_join_fits(backend, row, key):
        return T.StoredKeys(row["members_table"], tuple(M.key_list(key)))
    keys = M.stored_keys(backend, row, key)
    if not len(keys):
        return "false"
    return _listed(M.key_list(key), _rows(keys))


def _semi_join_fits(backend: Backend, row: dict[str, Any], key: M.Keys) -> bool:
    """Whether the stored members table serves ``in segment`` well. Not on MySQL/MariaDB with a text key
    column: their members tables hold TEXT (as the customers' key is), which a materialized IN subquery
    cannot index, so MariaDB 10.11 looked the keys up row by row (12,000 of 15,000 keys: 38 s for
    ``not (in segment ...)``); the list of values stays there (a sorted constant list, 0.1 s)."""
    if backend.dialect != "mysql":
        return True
    kinds = {c.name: c.type for c in backend.columns(row["members_table"])}
    return all(kinds.get(k) == "number" for k in M.key_list(key))
