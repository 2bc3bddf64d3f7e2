"""Helpers shared by the backends: identifier quoting, frame -> column types, DDL, row values."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pandas as pd
from sqlglot import exp

from ..errors import SegmentError, did_you_mean
from .base import mask_url

# Portable type names used between a frame and a CREATE TABLE; rendered per dialect by ``sql_type``.
INTEGER, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ, TEXT = (
    "INTEGER",
    "BIGINT",
    "DOUBLE",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
    "TIMESTAMPTZ",
    "TEXT",
)

# SQLite only keeps the declared type text, and ``columns()`` classifies by it: sqlglot would turn
# BOOLEAN into INTEGER and DECIMAL into REAL, losing what the column means.
_SQLITE_TYPES = {INTEGER: "INTEGER", BIGINT: "BIGINT", DOUBLE: "REAL", BOOLEAN: "BOOLEAN", TEXT: "TEXT"}


def quote(name: str, dialect: str) -> str:
    """A quoted identifier (table or column name) for ``dialect``; never splice a raw name."""
    if not isinstance(name, str) or not name:
        raise SegmentError(f"invalid identifier {name!r}")
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def sql_type(portable: str, dialect: str) -> str:
    """Render a portable type name (one of the constants above, or e.g. ``DECIMAL(10,2)``) in a dialect."""
    if dialect == "sqlite":
        return _SQLITE_TYPES.get(portable, portable)
    return exp.DataType.build(portable).sql(dialect=dialect)


def staging_name() -> str:
    """A short unique table name: short so that PostgreSQL's 63-byte limit never truncates it."""
    return f"_js_stage_{uuid.uuid4().hex[:12]}"


def _object_kind(values: pd.Series) -> str:
    """Portable type of an object column, judged on its non-null values."""
    kinds = set()
    for v in values.dropna().head(1000):
        if isinstance(v, bool):
            kinds.add(BOOLEAN)
        elif isinstance(v, int):
            kinds.add(BIGINT)
        elif isinstance(v, float | decimal.Decimal):
            kinds.add(DOUBLE)
        elif isinstance(v, dt.datetime):  # before date: datetime is a subclass of date
            kinds.add(TIMESTAMPTZ if v.tzinfo is not None else TIMESTAMP)
        elif isinstance(v, dt.date):
            kinds.add(DATE)
        else:
            kinds.add(TEXT)
    if not kinds:
        return TEXT
    if kinds == {BIGINT, DOUBLE}:
        return DOUBLE
    return kinds.pop() if len(kinds) == 1 else TEXT


def frame_types(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, portable type) for each column of a frame, from its dtypes."""
    out = []
    for name in frame.columns:
        if not isinstance(name, str):
            raise SegmentError(f"column names must be strings, got {name!r}")
        s = frame[name]
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype):
            kind = BOOLEAN
        elif pd.api.types.is_integer_dtype(dtype):
            kind = BIGINT if dtype.itemsize >= 8 or str(dtype).lower().startswith("uint32") else INTEGER
        elif pd.api.types.is_float_dtype(dtype):
            kind = DOUBLE
        elif isinstance(dtype, pd.DatetimeTZDtype):
            kind = TIMESTAMPTZ
        elif pd.api.types.is_datetime64_dtype(dtype):
            kind = TIMESTAMP
        elif isinstance(dtype, pd.ArrowDtype) and str(dtype).startswith("date32"):
            kind = DATE
        elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
            kind = TEXT
        elif isinstance(dtype, pd.CategoricalDtype):
            kind = TEXT
        else:
            kind = _object_kind(s)
        out.append((name, kind))
    return out


def create_table_sql(
    name: str,
    columns: list[tuple[str, str]],
    dialect: str,
    *,
    primary_key: str | None = None,
    foreign_keys: Sequence[tuple[str, str, str]] = (),  # (column, parent table, parent column)
) -> str:
    """CREATE TABLE with quoted names and dialect types; constraints inline so SQLite can have them."""
    parts = [f"{quote(c, dialect)} {sql_type(t, dialect)}" for c, t in columns]
    if primary_key:
        parts.append(f"PRIMARY KEY ({quote(primary_key, dialect)})")
    for col, parent, parent_col in foreign_keys:
        parts.append(
            f"FOREIGN KEY ({quote(col, dialect)}) REFERENCES {quote(parent, dialect)} ({quote(parent_col, dialect)})"
        )
    return f"CREATE TABLE {quote(name, dialect)} ({', '.join(parts)})"


def python_rows(frame: pd.DataFrame, *, sqlite: bool = False) -> Iterator[tuple]:
    """Rows of plain Python values for driver parameters; missing values become None.

    For SQLite (no date or boolean storage) dates become 'YYYY-MM-DD' text, timestamps
    'YYYY-MM-DD HH:MM:SS[.ffffff]' text (what SQLite's date functions read) and booleans 0/1.
    """
    obj = frame.astype(object)
    obj = obj.where(frame.notna(), None)
    for row in obj.itertuples(index=False, name=None):
        yield tuple(_py(v, sqlite) for v in row)


def _py(v: object, sqlite: bool) -> object:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, decimal.Decimal):
        return float(v) if sqlite else v
    if hasattr(v, "item") and not isinstance(v, str | bytes):  # numpy scalars left by odd dtypes
        v = v.item()
    if sqlite:
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, dt.datetime):
            return v.isoformat(sep=" ")
        if isinstance(v, dt.date):
            return v.isoformat()
    return v


def path_from_url(url: str, scheme: str, example: str) -> str:
    """``scheme:///rel`` -> rel, ``scheme:////abs`` -> /abs, ``scheme://`` -> :memory: (SQLAlchemy style)."""
    prefix = f"{scheme}://"
    if not url.startswith(prefix):
        raise SegmentError(f"not a {scheme} URL: {mask_url(url)}")
    rest = url[len(prefix) :]
    if rest in ("", "/"):
        return ":memory:"
    if not rest.startswith("/"):
        raise SegmentError(f"{example}, got {mask_url(url)}")
    return rest[1:].split("?", 1)[0] or ":memory:"


class Stopper:
    """Stops one running statement from another thread (a widget's Cancel), and never a later one.

    ``stop()`` is safe from any thread, repeatable (a stop that reaches the database before the
    statement starts is lost, so a canceller repeats it while the call runs) and does nothing once
    ``disarm()`` has run. ``disarm()`` waits for a stop in flight: the connection is not given back to
    its pool (to run someone else's statement) while a cancel for it is still on its way.
    """

    def __init__(self, stop: Callable[[], Any] | None) -> None:
        self._stop, self._lock = stop, threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if self._stop is not None:
                self._stop()

    def disarm(self) -> None:
        with self._lock:
            self._stop = None


def no_such_table(table: str, existing: list[str]) -> SegmentError:
    return SegmentError(f"no table '{table}'{did_you_mean(table, existing)}")


_T = TypeVar("_T")


def interruptible(fn: Callable[[], _T], interrupt: Callable[[], Any]) -> _T:
    """``fn()``, a blocking driver call, stoppable by Ctrl-C.

    DuckDB (and SQLite) run a query in C with the GIL released and never let Python's SIGINT handler
    run, so Ctrl-C in a notebook did nothing until the query ended. On the main thread the call runs
    on a worker while the main thread waits in an interruptible wait; a KeyboardInterrupt there calls
    ``interrupt()`` (the driver's cancel), waits for the call to end, and is raised to the caller.
    Elsewhere (a widget's thread) ``fn()`` is called as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn()
    result: list[Any] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            result.append(fn())
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread below
            failure.append(e)
        finally:
            done.set()

    threading.Thread(target=work, name="jupyter-segments-query", daemon=True).start()
    try:
        while not done.wait(0.25):
            pass
    except KeyboardInterrupt:
        interrupt()
        while not done.wait(0.25):
            interrupt()  # a cancel that arrived between two statements of the call: again
        raise
    if failure:
        raise failure[0]
    return result[0]
