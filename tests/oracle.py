"""A pandas oracle for segment definitions, written independently of the compiler.

Conditions are pandas Series of the nullable ``boolean`` dtype, indexed by the key of the entity they
describe (customers, orders, ...). pandas' ``&``, ``|`` and ``~`` on that dtype follow Kleene's
three-valued logic, which is SQL's: a customer is a member when its condition is TRUE (``members``).

The helpers take plain frames and explicit key columns, so a test spells out every join itself: an
aggregate is "group the child rows by their foreign key, reindex to every parent" -- parents without
children get the empty-set value (0 for count/sum, NULL for avg/min/max).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

Bool = pd.Series  # a nullable-boolean Series

_OPS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def nullable(frame: pd.DataFrame) -> pd.DataFrame:
    """Frame with NA-aware dtypes (Int64, string, boolean, Float64); datetimes stay datetime64/NaT."""
    return frame.convert_dtypes()


def _na(value) -> pd.Series | bool:
    if isinstance(value, pd.Series):
        return value.isna()
    return (
        value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT
    )


def tv(values: pd.Series, unknown: pd.Series | bool = False) -> Bool:
    """A three-valued result: ``values`` where known, NA where ``unknown``."""
    out = pd.Series(values, dtype="boolean").copy()
    if isinstance(unknown, pd.Series):
        out[unknown.to_numpy(dtype=bool)] = pd.NA
    elif unknown:
        out[:] = pd.NA
    return out


def cmp(a: pd.Series, op: str, b) -> Bool:
    """``a op b`` with SQL NULL semantics (NA when either side is NULL)."""
    unknown = _na(a) | _na(b)
    if isinstance(unknown, bool):
        unknown = pd.Series(unknown, index=a.index)
    known = ~unknown
    result = pd.Series(False, index=a.index)
    if known.any():
        left = a[known]
        right = b[known] if isinstance(b, pd.Series) else b
        result[known] = _OPS[op](left.astype(object) if _is_str(left) else left, right).astype(bool)
    return tv(result, unknown)


def _is_str(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype)


def between(a: pd.Series, low, high) -> Bool:
    return cmp(a, ">=", low) & cmp(a, "<=", high)


def in_list(a: pd.Series, items: Iterable) -> Bool:
    out = tv(pd.Series(False, index=a.index))
    for item in items:
        out = out | cmp(a, "=", item)
    return out


def is_null(a: pd.Series) -> Bool:
    return tv(a.isna())


def like(a: pd.Series, pattern: str, case_insensitive: bool = False) -> Bool:
    """SQL LIKE (``%`` any run, ``_`` one character; no escape character)."""
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    flags = re.IGNORECASE | re.DOTALL if case_insensitive else re.DOTALL
    compiled = re.compile(regex, flags)
    values = a.astype(object)
    known = ~a.isna()
    result = pd.Series(False, index=a.index)
    if known.any():
        result[known] = [bool(compiled.fullmatch(v)) for v in values[known]]
    return tv(result, ~known)


def text_match(a: pd.Series, kind: str, needle: str) -> Bool:
    """contains / starts_with / ends_with, case-insensitive, the needle taken literally."""
    n = needle.lower()
    values = a.astype(object)
    known = ~a.isna()
    test = {
        "contains": lambda v: n in v,
        "starts_with": lambda v: v.startswith(n),
        "ends_with": lambda v: v.endswith(n),
    }[kind]
    result = pd.Series(False, index=a.index)
    if known.any():
        result[known] = [test(v.lower()) for v in values[known]]
    return tv(result, ~known)


def is_empty(a: pd.Series) -> Bool:
    return tv(a.isna() | (a.astype(object) == ""))


def two_valued(x: Bool) -> Bool:
    """Membership of a group: TRUE or FALSE, never unknown (set operators, segment references)."""
    return tv(x.fillna(False))


def union(a: Bool, b: Bool) -> Bool:
    return two_valued(a) | two_valued(b)


def intersect(a: Bool, b: Bool) -> Bool:
    return two_valued(a) & two_valued(b)


def except_(a: Bool, b: Bool) -> Bool:
    return two_valued(a) & ~two_valued(b)


def members(x: Bool) -> list:
    """The keys whose condition is TRUE, sorted."""
    return sorted(x.index[x.fillna(False).to_numpy(dtype=bool)].tolist())


def aggregate(
    child: pd.DataFrame,
    fk: str,
    parents: pd.Index,
    func: str,
    column: str | None = None,
    where: Bool | None = None,
) -> pd.Series:
    """``func`` over the child rows of each parent, with the empty-set rules; indexed by ``parents``.

    ``where`` is a condition on the child rows (aligned with ``child``'s index): rows where it is not
    TRUE do not count.
    """
    rows = child if where is None else child[where.fillna(False).to_numpy(dtype=bool)]
    rows = rows[rows[fk].notna()]
    groups = rows.groupby(fk)
    if func == "count":
        out = groups.size() if column is None else groups[column].count()
    elif func == "count_distinct":
        out = groups[column].nunique(dropna=True)
    else:
        values = rows[column]
        if pd.api.types.is_datetime64_any_dtype(values) or _is_str(values):  # min/max: in their own order
            grouped = values.groupby(rows[fk])
            out = {"min": grouped.min, "max": grouped.max}[func]()
        else:
            grouped = values.astype("Float64").groupby(rows[fk])
            out = {"sum": grouped.sum, "avg": grouped.mean, "min": grouped.min, "max": grouped.max}[func]()
            # SQL: an aggregate over only NULL values is NULL (sum's COALESCE makes it 0 again below).
            all_null = values.isna().groupby(rows[fk]).all()
            out = out.astype("Float64").mask(all_null.reindex(out.index, fill_value=True))
    out = out.reindex(parents)
    if func in ("count", "count_distinct", "sum"):
        out = out.fillna(0)
    return out


def exists(kind: str, child: pd.DataFrame, fk: str, parents: pd.Index, where: Bool | None = None) -> Bool:
    """any / none / all over the child rows of each parent (all: no row whose condition is not TRUE)."""
    if kind == "all":
        if where is None:
            return tv(pd.Series(True, index=parents))
        failing = child[~where.fillna(False).to_numpy(dtype=bool)]
        return tv(~pd.Series(parents.isin(failing[fk].dropna()), index=parents))
    matching = child if where is None else child[where.fillna(False).to_numpy(dtype=bool)]
    has = pd.Series(parents.isin(matching[fk].dropna()), index=parents)
    return tv(has if kind == "any" else ~has)


def lookup(keys: pd.Series, parent: pd.DataFrame, parent_key: str, column: str) -> pd.Series:
    """A to-one step: the parent's ``column`` for each child row (NA when there is no parent)."""
    mapping = parent.set_index(parent_key)[column]
    values = keys.map(mapping)
    return values.astype(mapping.dtype) if len(values) else values


def ordered_aggregate(
    child: pd.DataFrame,
    fk: str,
    parents: pd.Index,
    func: str,
    values: pd.Series,
    where: Bool | None = None,
    *,
    fraction: float | None = None,
    by: pd.Series | None = None,
    key: pd.Series | None = None,
) -> pd.Series:
    """median / percentile / stddev / mode / first / last of ``values`` (aligned with ``child``) over
    the child rows of each parent where ``where`` is TRUE; NULL for a parent without such rows.

    - median, percentile: linear interpolation between the closest ranks (PERCENTILE_CONT), over the
      non-NULL values; stddev: the sample standard deviation (NULL for fewer than two values);
    - mode: the most frequent non-NULL value, ties to the smallest;
    - first / last: the value on the row with the smallest / largest ``by`` (rows without one do not
      count), ties to the smallest ``key``, or without a key to the smallest value (NULL last).
    """
    keep = child[fk].notna()
    if where is not None:
        keep &= where.fillna(False).astype(bool)
    rows = pd.DataFrame({"fk": child[fk], "v": values}, index=child.index)[keep.to_numpy(dtype=bool)]
    if func in ("median", "percentile", "stddev"):
        rows = rows[rows["v"].notna()]
        grouped = rows["v"].astype("float64").groupby(rows["fk"])
        if func == "stddev":
            out = grouped.std(ddof=1)
        else:
            out = grouped.quantile(0.5 if func == "median" else fraction, interpolation="linear")
        return out.astype("Float64").reindex(parents)
    if func == "mode":
        rows = rows[rows["v"].notna()]
        counts = rows.groupby(["fk", "v"]).size().rename("n").reset_index()
        best = counts.sort_values(["fk", "n", "v"], ascending=[True, False, True]).drop_duplicates("fk")
        return best.set_index("fk")["v"].reindex(parents)
    assert func in ("first", "last") and by is not None
    rows = rows.assign(by=by[keep.to_numpy(dtype=bool)])
    rows = rows[rows["by"].notna()]
    if key is not None:
        rows = rows.assign(tie=key[keep.to_numpy(dtype=bool)])
        columns, ascending = ["fk", "by", "tie"], [True, func == "first", True]
    else:
        rows = rows.assign(null_last=rows["v"].isna())
        columns, ascending = ["fk", "by", "null_last", "v"], [True, func == "first", True, True]
    best = rows.sort_values(columns, ascending=ascending, kind="stable").drop_duplicates("fk")
    return best.set_index("fk")["v"].reindex(parents)
