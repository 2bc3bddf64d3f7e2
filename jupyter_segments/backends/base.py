"""What the engine needs from a database: run SQL, describe tables, write tables."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from sqlglot import exp

# The attribute types the DSL knows; "other" columns are visible but cannot be compared.
AttrType = Literal["number", "string", "date", "timestamp", "boolean", "other"]


@dataclass(frozen=True)
class Column:
    name: str
    type: AttrType
    db_type: str  # the type as the database reports it, for display
    # An integer column holding only 0 and 1 (how SQLite, and pandas.to_sql, store booleans): a number
    # that may also be used as a condition or compared with true/false.
    flag: bool = False
    # Set when the user said what the column holds (ws.types): the type the database stores it as,
    # which the compiler converts from (text to a date, a number to a boolean, ...).
    stored: AttrType | None = None


@dataclass(frozen=True)
class ForeignKey:
    table: str  # child table
    column: str  # child column
    ref_table: str  # parent table
    ref_column: str  # parent column


class TableName(str):
    """A table outside the connection's default schema, as the model names it: the text users read
    and write (``"sales.customers"``, ``"other.main.t"``) and the parts SQL needs to reach it (schema,
    or database, or catalog and schema, then the table). A plain ``str`` is a table of the default
    schema, whatever characters it holds.

    >>> name = TableName(("sales", "customers"))
    >>> name, name.parts, name.bare
    ('sales.customers', ('sales', 'customers'), 'customers')
    """

    parts: tuple[str, ...]

    def __new__(cls, parts: tuple[str, ...]) -> TableName:
        name = super().__new__(cls, ".".join(parts))
        name.parts = tuple(parts)
        return name

    def __getnewargs__(self) -> tuple[tuple[str, ...]]:  # type: ignore[override]  # copy and pickle
        return (self.parts,)

    @property
    def bare(self) -> str:
        return self.parts[-1]


def table_parts(name: str) -> tuple[str, ...]:
    """The parts of a table name in SQL: a ``TableName``'s qualifier and name, or the name alone."""
    return name.parts if isinstance(name, TableName) else (name,)


def bare_name(name: str) -> str:
    """The table's own name without its schema: what a path calls it unless the user names the step."""
    return table_parts(name)[-1]


def table_expr(
    name: str, alias: str | None = None, quote: Callable[[str], exp.Identifier] | None = None
) -> exp.Table:
    """``name`` (a ``TableName`` or a default-schema table) as a sqlglot table, each part quoted by
    ``quote`` (default: always quoted)."""
    ident = quote or (lambda part: exp.to_identifier(part, quoted=True))
    *qualifier, table = table_parts(name)
    args: dict[str, Any] = {"this": ident(table)}
    if qualifier:
        args["db"] = ident(qualifier[-1])
    if len(qualifier) > 1:
        args["catalog"] = ident(qualifier[-2])
    if alias is not None:
        args["alias"] = exp.TableAlias(this=exp.to_identifier(alias))
    return exp.Table(**args)


def duplicate_keys_sql(table: str, columns: tuple[str, ...], dialect: str) -> str:
    """SQL for one row: how many rows have a NULL in one of ``columns``, how many non-NULL values
    (tuples) of ``columns`` appear more than once, then the smallest of those (one column each)."""
    cols = [exp.column(c, quoted=True) for c in columns]
    names = [f"k_{i + 1}" for i in range(len(cols))]
    any_null = exp.or_(*(c.copy().is_(exp.null()) for c in cols))
    nulls = (
        exp.select(exp.alias_(exp.Count(this=exp.Star()), "nulls")).from_(table_expr(table)).where(any_null)
    )
    repeated = (
        exp.select(*(exp.alias_(c.copy(), n) for c, n in zip(cols, names, strict=True)))
        .from_(table_expr(table))
        .where(exp.and_(*(exp.not_(c.copy().is_(exp.null())) for c in cols)))
        .group_by(*(c.copy() for c in cols))
        .having(exp.Count(this=exp.Star()) > 1)
    )
    order = exp.Order(expressions=[exp.Ordered(this=exp.column(n)) for n in names])
    numbered = exp.select(
        *names,
        exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "n"),
        exp.alias_(exp.Window(this=exp.RowNumber(), order=order), "rn"),
    ).from_(repeated.subquery("g"))
    return (
        exp.select(exp.column("nulls", "z"), exp.column("n", "d"), *(exp.column(n, "d") for n in names))
        .from_(nulls.subquery("z"))
        .join(
            numbered.subquery("d"),
            on=exp.EQ(this=exp.column("rn", "d"), expression=exp.Literal.number(1)),
            join_type="LEFT",
        )
        .sql(dialect=dialect)
    )


class Backend(Protocol):
    """One connection to the user's database.

    ``dialect`` is a sqlglot dialect name ("duckdb", "postgres", "mysql", "sqlite", ...).
    SQL handed to these methods is complete text generated by the compiler (literals escaped by sqlglot);
    ``params`` are only used by callers that build their own parameterised statements.
    """

    dialect: str
    display_url: str  # the connection URL with any password shown as ***

    def query(self, sql: str) -> pd.DataFrame: ...
    def scalar(self, sql: str) -> Any: ...
    def iter_chunks(self, sql: str, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]: ...
    def execute(self, sql: str) -> None: ...
    def tables(self) -> list[str]: ...
    # Tables and views outside the default schema that ``parts`` (a qualifier and a table name, as
    # the user wrote them) may mean, matched ignoring case; each with the parts SQL reaches it by.
    def qualified_tables(self, parts: tuple[str, ...]) -> list[TableName]: ...
    def columns(self, table: str) -> list[Column]: ...
    def foreign_keys(self) -> list[ForeignKey]: ...
    def write_table(self, name: str, frame: pd.DataFrame, *, replace: bool = True) -> None: ...
    def write_table_chunks(self, name: str, chunks: Iterator[pd.DataFrame]) -> int: ...
    def drop_table(self, name: str) -> None: ...
    def rename_table(self, old: str, new: str) -> None: ...
    def close(self) -> None: ...


def low_memory(backend: Backend) -> AbstractContextManager[None]:
    """Hold a stream in this: the backend's ``low_memory()`` (DuckDB: a lowered memory_limit), if any."""
    return getattr(backend, "low_memory", nullcontext)()


# A query parameter whose name says it carries a secret: ?token=..., &api_key=..., &X-Amz-Signature=...
_SECRET_PARAM = re.compile(
    r"([?&;][^=&#\s]*?(?:token|key|secret|passw|pwd|signature|sig|auth|credential|session)[^=&#\s]*=)"
    r"[^&#\s'\"]*",
    re.IGNORECASE,
)
# The password of user:password@ (any scheme; SQLAlchemy's driver URLs too) up to the last @ of the
# authority; and a bare user@ on http(s), where it is usually a token.
_USER_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^\s@]*(@)")
_HTTP_USER = re.compile(r"(https?://)[^:/@\s]+(@)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """Hide the secrets of a URL, or of every URL in a message: the password of ``user:password@``, the
    user of ``https://token@host``, and query parameters named like token, key, secret, password,
    signature. The one masking function for whatever the project prints or stores.

    >>> mask_url("postgresql://user:secret@host/db")
    'postgresql://user:***@host/db'
    >>> mask_url("failed: https://hooks.example/x?token=abc&batch=1")
    'failed: https://hooks.example/x?token=***&batch=1'
    """
    url = _USER_PASSWORD.sub(r"\1***\2", url)
    url = _HTTP_USER.sub(r"\1***\2", url)
    return _SECRET_PARAM.sub(r"\1***", url)


def is_null(value: Any) -> bool:
    """None, NaN (a float, a numpy float, a Decimal), NaT (pandas' or numpy's) and pandas' NA: a missing
    value. Never a list or an array, which are values.

    >>> is_null(float("nan")), is_null(pd.NaT), is_null(0), is_null([None])
    (True, True, False, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    if isinstance(value, Decimal):
        return value.is_nan()
    return False


def plain_value(value: Any) -> Any:
    """A value read from a database or a DataFrame as a plain Python value: the one conversion for the
    keys, counts and cells handed on to the DSL, JSON, widgets or sets of keys.

    - missing as None: None, NaN (a float, a numpy float, a Decimal), pandas' NA, NaT (pandas' or numpy's);
    - a numpy scalar as Python's: np.int64 -> int, np.float64 -> float, np.bool_ -> bool, np.str_ -> str;
      a numpy datetime64 / timedelta64 as a pandas Timestamp / Timedelta (``.item()`` would turn
      nanoseconds into an int);
    - anything else as it is: str, bytes, Decimal, dates and datetimes, Timestamps, tuples, lists.

    >>> plain_value(np.int64(3)), plain_value(float("nan")), plain_value(pd.NaT), plain_value("x")
    (3, None, None, 'x')
    """
    if is_null(value):
        return None
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)
    if isinstance(value, np.timedelta64):
        return pd.Timedelta(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def plain_rows(frame: pd.DataFrame | pd.Series) -> list[tuple]:
    """The rows of ``frame`` (a Series: its values) as tuples of plain values (``plain_value``): the
    member keys a DataFrame holds, as ``key_list_condition`` or a set of keys takes them.

    >>> plain_rows(pd.DataFrame({"region": ["eu"], "account_no": [np.int64(7)]}))
    [('eu', 7)]
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    return [tuple(plain_value(v) for v in r) for r in frame.itertuples(index=False, name=None)]


def classify_type(db_type: str) -> AttrType:
    """Map a database type name to an attribute type."""
    t = db_type.strip().upper()
    # Containers and intervals would otherwise match "INT"/"CHAR" below (INTERVAL, VARCHAR[],
    # STRUCT(a INTEGER), PostgreSQL _int4 arrays, POINT); TIME of day is no date.
    if (
        t.endswith("]")
        or t.startswith(("STRUCT", "MAP", "UNION", "LIST", "ARRAY", "INTERVAL", "ROW(", "_"))
        or t in ("POINT", "TIME", "TIMETZ")
        or t.startswith(("TIME ", "TIME("))
    ):
        return "other"
    if t == "NUM":  # SQLite's affinity for CREATE TABLE AS columns
        return "number"
    if t.startswith(("BOOL", "BIT")) or t == "TINYINT(1)":
        return "boolean"
    if "TIMESTAMP" in t or "DATETIME" in t:
        return "timestamp"
    if t.startswith("DATE"):
        return "date"
    if any(k in t for k in ("INT", "DEC", "NUMERIC", "REAL", "DOUBLE", "FLOAT", "NUMBER", "HUGEINT")):
        return "number"
    if any(k in t for k in ("CHAR", "TEXT", "STRING", "CLOB", "UUID", "ENUM")):
        return "string"
    return "other"
