"""Per-dialect rules: the places where sqlglot's generic output is wrong or slow for a database.

Each rule is a small table or function keyed by sqlglot dialect name, so adding a dialect means adding
entries here, not ``if dialect == ...`` branches in the compiler.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Tokenizer

from ..backends.base import table_expr

# Dialects whose ILIKE is native; elsewhere case-insensitive matching is LOWER(x) LIKE LOWER(p).
NATIVE_ILIKE = {"duckdb", "postgres", "snowflake", "spark", "databricks", "redshift"}

# How ``none(...)``/``all(...)`` become anti-joins. NOT EXISTS is planned as a hash anti-join by
# PostgreSQL, DuckDB and the warehouses; SQLite and MariaDB run it as a per-row dependent subquery, but
# build a temporary index/materialization for NOT IN (subquery), which we make NULL-safe.
ANTI_JOIN_NOT_IN = {"sqlite", "mysql"}

# Where none()/all() whose records join a to-one parent (``none(store_sales where date_dim.d_year =
# 2002)``) is the NULL-safe NOT IN too: DuckDB decorrelated that NOT EXISTS into a join of every record
# (the parent's filter not pushed into the scan) with the correlated keys, building the hash table on
# the 2.75M records (TPC-DS sf=1, lapsed_store_2002: 3.8x the hand-written EXCEPT, NOT IN 0.9x).
ANTI_JOIN_NOT_IN_JOINED = {"duckdb"}

# Where an anti-join (none/all/NOT any) on the customer's key alone, beside an aggregate table that drives the
# query (``sum(store_sales.ss_net_paid) > 15000 and none(store_returns)``), filters that table's records
# before they are grouped (compile._filter_before_grouping). PostgreSQL pushes no condition with a
# subquery into a grouped derived table: it grouped all 2.9M store sales, then anti-joined (TPC-DS sf=1:
# 2.8x the hand-written WHERE NOT EXISTS ... GROUP BY). DuckDB was faster the other way round (0.45x).
KEY_FILTERS_INTO_DRIVER = {"postgres"}

# Where any() under NOT is EXISTS (so ``not any(...)`` is NOT EXISTS, the anti-join none() is) instead
# of ``NOT (k IN (SELECT fk ... WHERE fk IS NOT NULL))``, which PostgreSQL runs as a hashed subplan per
# customer, or re-scans when the keys outgrow work_mem (TPC-DS sf=1, ``c_birth_year < 1940 and not
# any(store_returns where sr_return_amt > 100)``: 1.96x the hand-written NOT EXISTS).
NOT_ANY_AS_EXISTS = {"postgres"}

# Where ``NOT (x IS NULL)`` is written ``x IS NOT NULL`` (compile._is_not_null): DuckDB pushes the latter
# into the scan as a table filter, the former stays an expression evaluated per row (TPC-DS sf=1, the
# driving table's ``NOT k IS NULL``: 5-8% of a 20-100 ms query, best and median of 25 rounds alike).
# PostgreSQL's planner makes them the same.
IS_NOT_NULL_FILTER = {"duckdb"}

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

# Where sum(a.x) + sum(b.y) + ... over different paths is one UNION ALL of the records and one GROUP
# BY (compiler.Scope.channel_sum) instead of a grouped table per path. DuckDB, TPC-DS sf=1, three
# sales channels: three tables 1.04-1.71x the hand-written UNION ALL (median ~1.35), the UNION ALL
# table ~1.1 (bench/results/findings.md). PostgreSQL, same data: three tables 1.27-1.32x, the UNION ALL
# table 0.98 (two channels beside a customer filter 1.03 -> 0.96). Not measured elsewhere yet.
UNION_SUMS = {"duckdb", "postgres"}

# Where any(a ...) OR any(b ...) from the same key is one semi-join over a UNION ALL of both matches
# (Scope.merge_semi_joins): DuckDB ran each IN as a MARK join building a hash table of all the child's
# keys (TPC-DS sf=1, birth country and any(web_sales) or any(catalog_sales): 45 ms vs 9 ms merged,
# the hand-written IN (... UNION ...) 9 ms). Not measured elsewhere yet.
SEMI_JOIN_UNION = {"duckdb", "postgres"}

# Where ``top N by ...`` (a number, not a percentage) keeps the first N rows of an ORDER BY ... LIMIT N
# (a top-N sort) instead of numbering every ranked customer with ROW_NUMBER() and keeping rn <= N; the
# order is the same (value, then key), so are the rows. TPC-DS sf=1, top 1000 by the web sales sum:
# DuckDB 6.4x the hand-written ORDER BY ... LIMIT with the window, PostgreSQL 1.4x (bench figure 9).
TOP_N_LIMIT = {"duckdb", "postgres"}

# Where all()'s offending records are counted as SUM(CASE WHEN filter THEN 0 ELSE 1 END): one CASE,
# and SUM over a value never NULL (DuckDB, 1M customers: 90 -> 83 ms, the hand-written HAVING MIN(...)
# 81 ms). Elsewhere COUNT(CASE WHEN <not true> THEN 1 END): PostgreSQL, 100k customers, runs that
# costlier form as a parallel aggregate (131 ms) and the SUM form serially (230 ms).
COUNT_NOT_TRUE_AS_SUM = {"duckdb"}

# Where booleans are integers (MariaDB's BOOLEAN is TINYINT(1), SQLite has none): any value but 0 is
# true, as the database reads a bare column, so "flag = true" is "flag <> 0" (not "flag = 1").
BOOLEANS_ARE_INTEGERS = {"mysql", "sqlite"}

# Where timestamps are ISO text (SQLite): DATETIME() gives them one form ('T' or ' ', with or without
# seconds), and a date compared with a timestamp is read as midnight of that day.
TEXT_TIMESTAMPS = {"sqlite"}


def convert(value: exp.Expr, stored: str, wanted: str, dialect: str) -> exp.Expr:
    """A column stored as ``stored`` read as ``wanted`` (the user's ``ws.types``): text to a date,
    timestamp or number, a number to a boolean (not 0 is true), anything to text."""
    if wanted == "boolean":
        return exp.Paren(this=exp.NEQ(this=value, expression=exp.Literal.number(0)))
    if dialect == "sqlite" and wanted in ("date", "timestamp"):
        return exp.Anonymous(this="DATE" if wanted == "date" else "DATETIME", expressions=[value])
    target = {
        "date": "DATE",
        "timestamp": "DATETIME" if dialect == "mysql" else "TIMESTAMP",
        "number": "DOUBLE",
        "string": "CHAR" if dialect == "mysql" else "VARCHAR",
    }[wanted]
    return exp.Cast(this=value, to=exp.DataType.build(target, dialect=dialect))


def as_timestamp_text(value: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="DATETIME", expressions=[value])


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
    """The model's table ``name`` under ``alias``: qualified when it lives in another schema."""
    return table_expr(name, alias, quote=identifier)


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


# Dialects whose LIKE takes backslash as its escape character even without an ESCAPE clause: Spark
# refuses a backslash before anything but %, _ or another backslash (INVALID_FORMAT.
# ESC_IN_THE_MIDDLE for the pattern x\' in ``LIKE 'x\\'''``), PostgreSQL a pattern that ends in one
# ("LIKE pattern must not end with escape character"), and MariaDB reads 'k\%' as 'k%' (found by
# tests/test_differential.py); BigQuery's LIKE escapes with it too (BACKSLASH_LIKE_ESCAPE). The DSL's
# LIKE has no escape character, so there a literal pattern's backslashes are doubled.
LIKE_BACKSLASH_ESCAPES = {"spark", "databricks", "postgres", "redshift", "mysql", "bigquery"}
# Dialects whose LIKE reads [abc] as a character class (T-SQL).
BRACKET_LIKE_CLASSES = {"tsql"}


def like_pattern(pattern: exp.Expr, dialect: str) -> exp.Expr:
    """A user's LIKE pattern with the DSL's meaning (``%`` and ``_`` wildcards, no escape character)."""
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        return pattern
    text = pattern.this
    if dialect in LIKE_BACKSLASH_ESCAPES and "\\" in text:
        return exp.Literal.string(text.replace("\\", "\\\\"))
    if dialect in BRACKET_LIKE_CLASSES and "[" in text:  # '[[]' is T-SQL's literal '['
        return exp.Literal.string(text.replace("[", "[[]"))
    return pattern


# Where text compares without regard to case by default (MariaDB's *_ci collations): a comparison
# reads the other side as bytes, so '=', '!=', IN, the order and LIKE are case-sensitive as elsewhere.
CASE_INSENSITIVE_TEXT = {"mysql"}


def case_sensitive(value: exp.Expr, dialect: str) -> exp.Expr:
    """``value`` as the side of a text comparison that makes it case-sensitive (see above)."""
    if dialect in CASE_INSENSITIVE_TEXT:
        return exp.Cast(this=value, to=exp.DataType.build("BINARY"))
    return value


def exact_text(value: exp.Expr, value_type: str | None, dialect: str) -> exp.Expr:
    """``value`` as a GROUP BY / ORDER BY key that tells 'Web' from 'web' (``case_sensitive``), for
    text; ``value`` itself otherwise."""
    if value_type == "string" and dialect in CASE_INSENSITIVE_TEXT:
        return case_sensitive(value.copy(), dialect)
    return value


def like(operand: exp.Expr, pattern: exp.Expr, dialect: str) -> exp.Expr:
    """Case-sensitive ``operand LIKE pattern`` for a user's pattern (see ``like_pattern``).

    SQLite's LIKE ignores ASCII case: a literal pattern becomes the same GLOB (case-sensitive)."""
    if dialect == "sqlite" and isinstance(pattern, exp.Literal) and pattern.is_string:
        return exp.Glob(this=operand, expression=exp.Literal.string(_glob(pattern.this)))
    return exp.Like(this=operand, expression=exact_pattern(like_pattern(pattern, dialect), dialect))


def exact_pattern(pattern: exp.Expr, dialect: str) -> exp.Expr:
    """A LIKE pattern that tells case and accents apart where the collation would not (MariaDB's
    utf8mb4_general_ci: 'É' LIKE 'e'). A binary pattern (``case_sensitive``) would too, but then
    ``_`` matches one byte, not one letter ('é' is two): utf8mb4_bin compares letters."""
    return binary_collation(pattern, dialect) if dialect in CASE_INSENSITIVE_TEXT else pattern


def binary_collation(value: exp.Expr, dialect: str) -> exp.Expr:
    """Text compared letter by letter (MariaDB: utf8mb4_bin), still text, whatever the column's set."""
    return template_sql("CONVERT({0} USING utf8mb4) COLLATE utf8mb4_bin", [value], dialect)


def text_for_aggregate(func: str, value: exp.Expr, value_type: str, dialect: str) -> exp.Expr:
    """The value min/max/count_distinct read: text by its letters where the collation ignores case
    and accents (MariaDB counted 'Web' and 'web' as one and gave either as the max)."""
    if value_type != "string" or dialect not in CASE_INSENSITIVE_TEXT:
        return value
    if func == "count_distinct":
        return case_sensitive(value, dialect)
    return binary_collation(value, dialect) if func in ("min", "max") else value


def _glob(pattern: str) -> str:
    """A LIKE pattern as a GLOB pattern: % -> *, _ -> ?, and GLOB's own * ? [ matched literally."""
    special = {"*": "[*]", "?": "[?]", "[": "[[]", "%": "*", "_": "?"}
    return "".join(special.get(ch, ch) for ch in pattern)


def like_ci(operand: exp.Expr, pattern: exp.Expr, dialect: str, escape: str | None) -> exp.Expr:
    """Case-insensitive LIKE, with an ESCAPE character when the pattern was escaped."""
    if escape is None:  # a user's own pattern (escape_like's output comes with its escape)
        pattern = like_pattern(pattern, dialect)
    if dialect in NATIVE_ILIKE:
        node: exp.Expr = exp.ILike(this=operand, expression=pattern)
    else:  # both sides lower-cased; accents still count (MariaDB: see exact_pattern)
        lowered = exact_pattern(exp.Lower(this=pattern), dialect)
        node = exp.Like(this=exp.Lower(this=operand), expression=lowered)
    if escape and dialect not in BACKSLASH_LIKE_ESCAPE:
        node = exp.Escape(this=node, expression=exp.Literal.string(escape))
    return node


def escape_like(value: str, escape: str = "!") -> str:
    """Make a user value match literally inside a LIKE pattern (``%``, ``_`` and T-SQL's ``[``)."""
    # "[" is special only in T-SQL; BigQuery (backslash escapes) knows only \\, \\% and \\_.
    specials = "%_" + ("" if escape == "\\" else "\\[") + re.escape(escape)
    # A function, not escape + r"\1": a backslash escape would turn the template into "\\1".
    return re.sub(f"([{specials}])", lambda m: escape + m.group(1), value)


# --- functions of the language (their meaning: bind/functions.py) -------------------------------------
# Each is a SQL template: {0}, {1}, ... stand for the arguments. "*" is DuckDB's SQL, transpiled by
# sqlglot to the others; an entry for a dialect is written in that dialect's own SQL and wins. A function missing
# here is a plain sqlglot function node (see _PLAIN_FUNCTIONS).
FUNCTION_TEMPLATES: dict[str, dict[str, str]] = {
    "year": {"*": "CAST(EXTRACT(YEAR FROM {0}) AS INT)", "sqlite": "CAST(STRFTIME('%Y', {0}) AS INTEGER)"},
    "quarter": {
        "*": "CAST(EXTRACT(QUARTER FROM {0}) AS INT)",
        "sqlite": "(CAST(STRFTIME('%m', {0}) AS INTEGER) + 2) / 3",
    },
    "month": {"*": "CAST(EXTRACT(MONTH FROM {0}) AS INT)", "sqlite": "CAST(STRFTIME('%m', {0}) AS INTEGER)"},
    "day": {"*": "CAST(EXTRACT(DAY FROM {0}) AS INT)", "sqlite": "CAST(STRFTIME('%d', {0}) AS INTEGER)"},
    # 1 = Monday ... 7 = Sunday everywhere (ISO 8601).
    "weekday": {
        "*": "CAST(EXTRACT(ISODOW FROM {0}) AS INT)",
        "duckdb": "ISODOW({0})",
        "mysql": "WEEKDAY({0}) + 1",
        "sqlite": "(CAST(STRFTIME('%w', {0}) AS INTEGER) + 6) % 7 + 1",
        "tsql": "(DATEPART(WEEKDAY, {0}) + @@DATEFIRST + 5) % 7 + 1",
        "snowflake": "DAYOFWEEKISO({0})",
        "bigquery": "MOD(EXTRACT(DAYOFWEEK FROM {0}) + 5, 7) + 1",
        "spark": "(DAYOFWEEK({0}) + 5) % 7 + 1",
        "databricks": "(DAYOFWEEK({0}) + 5) % 7 + 1",
        "trino": "DAY_OF_WEEK({0})",
    },
    # Whole calendar days from {0} to {1}: the times of day do not count.
    "days_between": {
        "*": "DATE_DIFF('day', CAST({0} AS DATE), CAST({1} AS DATE))",
        "postgres": "CAST({1} AS DATE) - CAST({0} AS DATE)",
        "mysql": "DATEDIFF({1}, {0})",
        "sqlite": "CAST(JULIANDAY(DATE({1})) - JULIANDAY(DATE({0})) AS INTEGER)",
        "bigquery": "DATE_DIFF(CAST({1} AS DATE), CAST({0} AS DATE), DAY)",
        "spark": "DATEDIFF(CAST({1} AS DATE), CAST({0} AS DATE))",
        "databricks": "DATEDIFF(CAST({1} AS DATE), CAST({0} AS DATE))",
        "trino": "DATE_DIFF('day', CAST({0} AS DATE), CAST({1} AS DATE))",
    },
    "date": {"*": "CAST({0} AS DATE)", "sqlite": "DATE({0})"},
    # Halves away from zero on the decimal value: PostgreSQL and MariaDB round a DOUBLE half to even,
    # and DuckDB rounds the binary value (2.675 -> 2.67); through DECIMAL every database agrees.
    "round": {
        "*": "CAST(ROUND(CAST({0} AS DECIMAL(38, 10)), {1}) AS DOUBLE)",
        "sqlite": "ROUND({0}, {1})",
    },
    # SQLite has FLOOR/CEIL only when built with its math functions.
    "floor": {"*": "FLOOR({0})", "sqlite": "CAST({0} AS INTEGER) - ({0} < CAST({0} AS INTEGER))"},
    "ceil": {"*": "CEIL({0})", "sqlite": "CAST({0} AS INTEGER) + ({0} > CAST({0} AS INTEGER))"},
}

# Where GREATEST/LEAST skip NULL arguments; elsewhere (MySQL, SQLite's MAX/MIN, the warehouses) one
# NULL makes the result NULL, so each argument is replaced by the first non-NULL one from it on.
GREATEST_SKIPS_NULLS = {"postgres", "duckdb", "redshift"}
# T-SQL has GREATEST/LEAST only from SQL Server 2022: there a CASE per pair of arguments (a subquery
# over VALUES would not be allowed inside an aggregate).
CASE_EXTREMES = {"tsql"}


def function_sql(name: str, args: list[exp.Expr], dialect: str) -> exp.Expr:
    """The SQL of one function of the language, with compiled arguments."""
    if name in ("lower", "upper", "trim", "length", "abs"):
        cls = {"lower": exp.Lower, "upper": exp.Upper, "trim": exp.Trim, "length": exp.Length, "abs": exp.Abs}
        return cls[name](this=args[0])
    if name == "coalesce":
        return exp.Coalesce(this=args[0], expressions=args[1:])
    if name == "concat":  # a NULL part counts as empty text
        parts = [exp.Coalesce(this=a, expressions=[exp.Literal.string("")]) for a in args]
        return exp.Paren(this=exp.Concat(expressions=parts))
    if name in ("least", "greatest"):
        return _least_greatest(name, args, dialect)
    if name == "round" and len(args) == 1:
        args = [args[0], exp.Literal.number(0)]
    templates = FUNCTION_TEMPLATES[name]
    own = dialect in templates
    return template_sql(templates[dialect if own else "*"], args, dialect if own else "duckdb")


def _least_greatest(name: str, args: list[exp.Expr], dialect: str) -> exp.Expr:
    if dialect in CASE_EXTREMES:
        # pairwise, skipping NULLs: CASE WHEN b IS NULL OR a >= b THEN COALESCE(a, b) ELSE b END
        better = exp.GTE if name == "greatest" else exp.LTE
        out = args[0]
        for b in args[1:]:
            keep = exp.or_(
                exp.Is(this=b.copy(), expression=exp.Null()), better(this=out.copy(), expression=b.copy())
            )
            out = exp.Case(
                ifs=[exp.If(this=keep, true=exp.Coalesce(this=out.copy(), expressions=[b.copy()]))],
                default=b.copy(),
            )
        return exp.Paren(this=out)
    if dialect not in GREATEST_SKIPS_NULLS:
        args = [
            exp.Coalesce(this=a.copy(), expressions=[b.copy() for j, b in enumerate(args) if j != i])
            for i, a in enumerate(args)
        ]
    fn = name.upper() if dialect != "sqlite" else {"least": "MIN", "greatest": "MAX"}[name]
    return exp.Anonymous(this=fn, expressions=args)  # Anonymous: sqlglot would rewrite NULL handling


def template_sql(template: str, args: list[exp.Expr], read: str | None) -> exp.Expr:
    """``template`` parsed in dialect ``read`` with ``{i}`` replaced by ``args[i]`` (in parentheses)."""
    parsed = sqlglot.parse_one(template.format(*(f"__arg{i}__" for i in range(len(args)))), read=read)
    for column in list(parsed.find_all(exp.Column)):
        name = column.name
        if name.startswith("__arg") and name.endswith("__"):
            column.replace(exp.Paren(this=args[int(name[5:-2])].copy()))
    return exp.Paren(this=parsed)


# The first day of the current week (Monday), month, quarter or year on the database's clock.
PERIOD_START: dict[str, dict[str, str]] = {
    "*": {u: f"CAST(DATE_TRUNC('{u}', CURRENT_DATE) AS DATE)" for u in ("week", "month", "quarter", "year")},
    "bigquery": {
        "week": "DATE_TRUNC(CURRENT_DATE(), ISOWEEK)",
        "month": "DATE_TRUNC(CURRENT_DATE(), MONTH)",
        "quarter": "DATE_TRUNC(CURRENT_DATE(), QUARTER)",
        "year": "DATE_TRUNC(CURRENT_DATE(), YEAR)",
    },
    "mysql": {
        "week": "DATE_SUB(CURDATE(), INTERVAL WEEKDAY(CURDATE()) DAY)",
        "month": "DATE_SUB(CURDATE(), INTERVAL DAYOFMONTH(CURDATE()) - 1 DAY)",
        "quarter": "DATE_ADD(MAKEDATE(YEAR(CURDATE()), 1), INTERVAL QUARTER(CURDATE()) - 1 QUARTER)",
        "year": "MAKEDATE(YEAR(CURDATE()), 1)",
    },
    "sqlite": {
        "week": "DATE('now', '-6 days', 'weekday 1')",
        "month": "DATE('now', 'start of month')",
        "quarter": "DATE('now', 'start of month', '-' || ((CAST(STRFTIME('%m', 'now') AS INTEGER) - 1) % 3) || ' months')",
        "year": "DATE('now', 'start of year')",
    },
    "tsql": {
        "week": "DATEADD(DAY, -((DATEPART(WEEKDAY, GETDATE()) + @@DATEFIRST + 5) % 7), CAST(GETDATE() AS DATE))",
        "month": "DATEFROMPARTS(YEAR(GETDATE()), MONTH(GETDATE()), 1)",
        "quarter": "DATEFROMPARTS(YEAR(GETDATE()), (DATEPART(QUARTER, GETDATE()) - 1) * 3 + 1, 1)",
        "year": "DATEFROMPARTS(YEAR(GETDATE()), 1, 1)",
    },
}


def period_start(unit: str, dialect: str) -> exp.Expr:
    own = dialect in PERIOD_START
    return template_sql(PERIOD_START[dialect if own else "*"][unit], [], dialect if own else "duckdb")


def date_shift(value: exp.Expr, amount: int, unit: str, kind: str, dialect: str) -> exp.Expr:
    """``value`` moved by ``amount`` ``unit``s (negative: back); ``kind`` is the result's type.

    A month later than January 31 is the last day of February on every database (SQLite alone would
    run on into March: its result is capped at the target month's last day).
    """
    if unit == "week":
        amount, unit = amount * 7, "day"
    if dialect == "sqlite":
        return _sqlite_shift(value, amount, unit, kind)
    if dialect in ("duckdb", "postgres"):
        cast = "DATE" if kind == "date" else "TIMESTAMP"
        return template_sql(f"CAST({{0}} + INTERVAL '{amount} {unit}' AS {cast})", [value], "postgres")
    if dialect == "mysql":
        return template_sql(f"DATE_ADD({{0}}, INTERVAL {amount} {unit.upper()})", [value], "mysql")
    if dialect in ("tsql", "snowflake"):
        return template_sql(f"DATEADD({unit.upper()}, {amount}, {{0}})", [value], dialect)
    if dialect == "trino":
        return template_sql(f"DATE_ADD('{unit}', {amount}, {{0}})", [value], dialect)
    if dialect == "bigquery":
        fn = "DATE_ADD" if kind == "date" else "DATETIME_ADD"
        shifted = f"{fn}({{0}}, INTERVAL {amount} {unit.upper()})"
        return template_sql(shifted if kind == "date" else f"TIMESTAMP({shifted})", [value], dialect)
    cast = "DATE" if kind == "date" else "TIMESTAMP"
    return template_sql(f"CAST({{0}} + INTERVAL '{amount}' {unit.upper()} AS {cast})", [value], dialect)


def _sqlite_shift(value: exp.Expr, amount: int, unit: str, kind: str) -> exp.Expr:
    fn = "DATE" if kind == "date" else "DATETIME"
    modifier = f"'{amount:+d} {unit}s'"
    if unit not in ("month", "year"):
        return template_sql(f"{fn}({{0}}, {modifier})", [value], "sqlite")
    months = amount * (12 if unit == "year" else 1)
    last_day = f"DATE({{0}}, 'start of month', '{months + 1:+d} months', '-1 day')"
    cap = last_day if kind == "date" else f"{last_day} || ' ' || TIME({{0}})"
    return template_sql(f"MIN({fn}({{0}}, '{months:+d} months'), {cap})", [value], "sqlite")


# --- aggregates beyond count/sum/avg/min/max (their meaning: docs/dsl.md) -----------------------------
# Where a database has one as a plain (GROUP BY) aggregate with the language's meaning, its template in
# that dialect's SQL: {0} is the value (NULL on the records the filter leaves out, which all of these
# ignore), {p} percentile's fraction (0.5 for median). It is then one more column of the path's shared
# aggregate table. A dialect missing from an entry gets the aggregate from a derived table of its own
# built with window functions (compile/compiler.py, _Windowed); first/last always do.
AGGREGATE_TEMPLATES: dict[str, dict[str, str]] = {
    # The sample standard deviation. SQLite has none.
    "stddev": {
        **{
            d: "STDDEV_SAMP({0})"
            for d in ("duckdb", "postgres", "mysql", "snowflake", "bigquery", "spark", "databricks", "trino")
        },
        "tsql": "STDEV({0})",
    },
    # PERCENTILE_CONT: MariaDB (its MEDIAN too), T-SQL and BigQuery have it only as a window function,
    # Trino only approximately, SQLite not at all. MariaDB's window PERCENTILE_CONT was faster than the
    # portable form (30k customers: 164 vs 242 ms) but inexact: its percentile 1 differed from MAX in
    # the last digit for 3 of 2,000 demo customers, where the portable form gives MAX itself.
    "percentile": {
        # DuckDB keeps a DECIMAL's scale in the result (1.875 -> 1.87): the value goes in as a DOUBLE.
        "duckdb": "QUANTILE_CONT(CAST({0} AS DOUBLE), {p})",
        "postgres": "PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY {0})",
        "snowflake": "PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY {0})",
        "spark": "PERCENTILE({0}, {p})",  # exact, interpolated as PERCENTILE_CONT
        "databricks": "PERCENTILE({0}, {p})",
    },
    # The most frequent value, ties to the first in ORDER BY: the smallest. DuckDB's and Snowflake's
    # MODE(x) break ties in no documented order.
    "mode": {"postgres": "MODE() WITHIN GROUP (ORDER BY {0})"},
}


# Where FIRST(x ORDER BY ...) is an aggregate giving the first row's value (NULL too): first/last and
# mode then take one GROUP BY in their own table instead of numbering the records with ROW_NUMBER()
# (DuckDB, 100k customers: first 250 -> 78 ms, last 436 -> 93 ms, mode 176 -> 100 ms).
FIRST_ORDER_BY = {"duckdb"}


# Where the table of row 1 per key (mode, first, last over ROW_NUMBER()) is SELECT DISTINCT, so that it
# is not merged into the query that joins it: MariaDB merges a plain one and then indexes the whole
# numbered table to join it (30k customers, first(): 3.0-5.0 s; with DISTINCT 1.2 s).
DISTINCT_ROW_ONE = {"mysql"}


def native_aggregate(func: str, dialect: str) -> bool:
    """Whether ``func`` is a plain aggregate on ``dialect`` (else it needs a window-function table)."""
    func = "percentile" if func == "median" else func
    return dialect in AGGREGATE_TEMPLATES.get(func, {})


def aggregate_sql(func: str, value: exp.Expr, fraction: float | None, dialect: str) -> exp.Expr:
    """The plain aggregate of ``native_aggregate``."""
    template = AGGREGATE_TEMPLATES["percentile" if func == "median" else func][dialect]
    parsed = sqlglot.parse_one(template.format("__arg0__", p=repr(fraction)), read=dialect)
    for column in list(parsed.find_all(exp.Column)):
        if column.name == "__arg0__":  # an argument or ORDER BY item: no parentheses needed
            column.replace(value.copy())
    return parsed


def ordered(value: exp.Expr, dialect: str, desc: bool = False) -> exp.Ordered:
    """``value`` [DESC] in an ORDER BY of values that are never NULL, left to the database's own NULL
    placement: sqlglot then writes no NULLS FIRST/LAST (on MySQL a CASE) to keep another one's."""
    ordering = Dialect.get_or_raise(dialect).NULL_ORDERING
    nulls_first = ordering != "nulls_are_last" and (ordering == "nulls_are_small") != desc
    return exp.Ordered(this=value, desc=desc, nulls_first=nulls_first)
