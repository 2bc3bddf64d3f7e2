"""Per-dialect rules: the places where sqlglot's generic output is wrong or slow for a database.

Each rule is a small table or function keyed by sqlglot dialect name, so adding a dialect means adding
entries here, not ``if dialect == ...`` branches in the compiler.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlglot import exp
from sqlglot.tokens import Tokenizer

# Dialects whose ILIKE is native; elsewhere case-insensitive matching is LOWER(x) LIKE LOWER(p).
NATIVE_ILIKE = {"duckdb", "postgres", "snowflake", "spark", "databricks", "redshift"}

# How ``none(...)``/``all(...)`` become anti-joins. NOT EXISTS is planned as a hash anti-join by
# PostgreSQL, DuckDB and the warehouses; SQLite and MariaDB run it as a per-row dependent subquery, but
# build a temporary index/materialization for NOT IN (subquery), which we make NULL-safe.
ANTI_JOIN_NOT_IN = {"sqlite", "mysql"}

# Where a top-level UNION of groups that aggregate runs faster as a UNION of queries than as OR over
# one scan (bench figure 1; see compile.build_query).
SPLIT_TOP_UNION = {"duckdb"}

# Databases that enforce a declared FOREIGN KEY (SQLite only with PRAGMA foreign_keys, and warehouses
# treat them as documentation), so a child's key values are known to exist in the parent table.
ENFORCES_FOREIGN_KEYS = {"postgres", "duckdb"}

# Where the distinct keys of an any()'s matches drive any query they can (compile._driven_by_child);
# elsewhere only a one-step any() that is the whole condition does. PostgreSQL, 100k customers: with
# a none() beside it 80 ms from customers, 118 ms from the distinct keys; over orders.order_lines
# 180 vs 195 ms (DuckDB 1M: 76 -> 68 ms and 142 -> 126 ms, the hand-written SQL 63 and 125 ms).
SEMI_JOIN_DRIVES_ALL = {"duckdb"}

# Where all()'s offending records are counted as SUM(CASE WHEN filter THEN 0 ELSE 1 END): one CASE,
# and SUM over a value never NULL (DuckDB, 1M customers: 90 -> 83 ms, the hand-written HAVING MIN(...)
# 81 ms). Elsewhere COUNT(CASE WHEN <not true> THEN 1 END): PostgreSQL, 100k customers, runs that
# costlier form as a parallel aggregate (131 ms) and the SUM form serially (230 ms).
COUNT_NOT_TRUE_AS_SUM = {"duckdb"}

# Words that must be quoted as identifiers in some dialect even though sqlglot does not always do it.
_RESERVED = {k.upper() for k in Tokenizer.KEYWORDS if re.fullmatch(r"[A-Za-z_]+", k)} | {
    "USER", "ORDER", "GROUP", "TABLE", "SELECT", "WHERE", "FROM", "LIMIT", "KEY", "VALUE", "DATE",
    "TIME", "TIMESTAMP", "YEAR", "MONTH", "DAY", "RANK", "ROWS", "RANGE", "WINDOW", "CURRENT",
}  # fmt: skip
_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")


def identifier(name: str) -> exp.Identifier:
    """An identifier, quoted only when it has to be (so Snowflake's upper-casing keeps working)."""
    return exp.to_identifier(name, quoted=not _PLAIN.match(name) or name.upper() in _RESERVED)


def column(table_alias: str, name: str) -> exp.Column:
    return exp.Column(this=identifier(name), table=exp.to_identifier(table_alias))


def table(name: str, alias: str) -> exp.Table:
    return exp.Table(this=identifier(name), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def date_literal(value: dt.date, dialect: str) -> exp.Expression:
    # SQLite has no DATE type: dates are 'YYYY-MM-DD' text and compare as text; CAST(... AS DATE) would
    # turn them into the number 2024.
    if dialect == "sqlite":
        return exp.Literal.string(value.isoformat())
    return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType(this=exp.DataType.Type.DATE))


def timestamp_literal(value: dt.datetime, dialect: str) -> exp.Expression:
    text = value.replace(tzinfo=None).isoformat(
        sep=" ", timespec="microseconds" if value.microsecond else "seconds"
    )
    if dialect == "sqlite":
        return exp.Literal.string(text)
    return exp.Cast(this=exp.Literal.string(text), to=exp.DataType(this=exp.DataType.Type.TIMESTAMP))


def now(kind: str, dialect: str) -> exp.Expression:
    """CURRENT_DATE / CURRENT_TIMESTAMP in the database's own spelling."""
    if dialect == "sqlite":
        return exp.Anonymous(
            this="DATE" if kind == "date" else "DATETIME", expressions=[exp.Literal.string("now")]
        )
    if dialect == "tsql":
        stamp = exp.Anonymous(this="GETDATE", expressions=[])
        return exp.Cast(this=stamp, to=exp.DataType(this=exp.DataType.Type.DATE)) if kind == "date" else stamp
    return exp.CurrentDate() if kind == "date" else exp.CurrentTimestamp()


def minus_span(kind: str, amount: int, unit: str, dialect: str) -> exp.Expression:
    """Now minus ``amount`` ``unit``s, computed by the database (for SQL meant to be scheduled).

    sqlglot emits ``DATE_SUB(CURRENT_DATE, 7, DAY)`` for SQLite and T-SQL, which neither accepts, so
    those two get their native forms here.
    """
    if unit == "week":
        amount, unit = amount * 7, "day"
    if dialect == "sqlite":
        fn = "DATE" if kind == "date" else "DATETIME"
        modifier = exp.Literal.string(f"-{amount} {unit}s")
        return exp.Anonymous(this=fn, expressions=[exp.Literal.string("now"), modifier])
    if dialect == "tsql":
        return exp.Anonymous(
            this="DATEADD",
            expressions=[exp.var(unit.upper()), exp.Literal.number(-amount), now(kind, dialect)],
        )
    if kind == "timestamp" and dialect in ("spark", "databricks"):
        # DATE_ADD / ADD_MONTHS return a DATE in Spark: the window would start at midnight.
        interval = exp.Interval(this=exp.Literal.string(str(amount)), unit=exp.var(unit.upper()))
        return exp.Sub(this=now(kind, dialect), expression=interval)
    if kind == "timestamp" and dialect == "bigquery":
        if unit == "day":
            return exp.TimestampSub(
                this=now(kind, dialect), expression=exp.Literal.number(amount), unit=exp.var("DAY")
            )
        # TIMESTAMP_SUB stops at DAY: months and years go through DATETIME arithmetic.
        shifted = exp.DatetimeSub(
            this=exp.CurrentDatetime(), expression=exp.Literal.number(amount), unit=exp.var(unit.upper())
        )
        return exp.Anonymous(this="TIMESTAMP", expressions=[shifted])
    return exp.DateSub(
        this=now(kind, dialect), expression=exp.Literal.number(amount), unit=exp.var(unit.upper())
    )


# Dialects whose LIKE has no ESCAPE clause: backslash is their fixed escape character.
BACKSLASH_LIKE_ESCAPE = {"bigquery"}


def like_escape(dialect: str) -> str:
    """The escape character ``escape_like`` should use for ``dialect``."""
    return "\\" if dialect in BACKSLASH_LIKE_ESCAPE else "!"


# Dialects whose LIKE takes backslash as its escape character even without an ESCAPE clause, and
# refuse a backslash before anything but %, _ or another backslash (Spark: INVALID_FORMAT.
# ESC_IN_THE_MIDDLE for the pattern x\' in ``LIKE 'x\\'''``). The DSL's LIKE has no escape
# character, so there a literal pattern's backslashes are doubled.
LIKE_BACKSLASH_ESCAPES = {"spark", "databricks"}


def like_pattern(pattern: exp.Expr, dialect: str) -> exp.Expr:
    """A user's LIKE pattern with the DSL's meaning (``%`` and ``_`` wildcards, no escape character)."""
    if (
        dialect in LIKE_BACKSLASH_ESCAPES
        and isinstance(pattern, exp.Literal)
        and pattern.is_string
        and "\\" in pattern.this
    ):
        return exp.Literal.string(pattern.this.replace("\\", "\\\\"))
    return pattern


def like(operand: exp.Expr, pattern: exp.Expr, dialect: str) -> exp.Expr:
    """Case-sensitive ``operand LIKE pattern`` for a user's pattern (see ``like_pattern``)."""
    return exp.Like(this=operand, expression=like_pattern(pattern, dialect))


def like_ci(operand: exp.Expr, pattern: exp.Expr, dialect: str, escape: str | None) -> exp.Expr:
    """Case-insensitive LIKE, with an ESCAPE character when the pattern was escaped."""
    if escape is None:  # a user's own pattern (escape_like's output comes with its escape)
        pattern = like_pattern(pattern, dialect)
    if dialect in NATIVE_ILIKE:
        node: exp.Expr = exp.ILike(this=operand, expression=pattern)
    else:
        node = exp.Like(this=exp.Lower(this=operand), expression=exp.Lower(this=pattern))
    if escape and dialect not in BACKSLASH_LIKE_ESCAPE:
        node = exp.Escape(this=node, expression=exp.Literal.string(escape))
    return node


def escape_like(value: str, escape: str = "!") -> str:
    """Make a user value match literally inside a LIKE pattern (``%``, ``_`` and T-SQL's ``[``)."""
    # "[" is special only in T-SQL; BigQuery (backslash escapes) knows only \\, \\% and \\_.
    specials = "%_" + ("" if escape == "\\" else "\\[") + re.escape(escape)
    # A function, not escape + r"\1": a backslash escape would turn the template into "\\1".
    return re.sub(f"([{specials}])", lambda m: escape + m.group(1), value)
