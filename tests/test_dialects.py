"""Golden SQL per case and dialect (tests/snapshots/<case>/<dialect>/out.sql), plus rules read off the SQL.

Each file holds the SQL compiled with ``as_of=None`` (relative to the database's clock) and with a
fixed ``as_of``. ``JS_UPDATE_SNAPSHOTS=1`` rewrites the files; review the diff before committing.
DuckDB, SQLite, PostgreSQL and MariaDB SQL is also executed by test_engine_oracle.py; for Spark,
Snowflake, BigQuery, Trino and T-SQL the checks here are the golden files, the per-dialect rules
below and a parse back with sqlglot.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
import sqlglot

from jupyter_segments import Workspace, demo
from jupyter_segments.backends import open_backend

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("JS_UPDATE_SNAPSHOTS") == "1"
DIALECTS = ("duckdb", "postgres", "mysql", "sqlite", "spark", "snowflake", "bigquery", "trino", "tsql")
AS_OF = dt.datetime(2025, 6, 30, 12, 30)

# (case, definition, shape)
CASES = [
    ("attributes", "age >= 30 and country in ('DE', 'FR') and newsletter and gender is not null", "keys"),
    (
        "text_match",
        "city contains 'o''b%_[x]!' or last_name starts with 'Mü' or email ends with '.com' "
        "or email is empty or first_name ilike 'a%' or first_name like 'B%'",
        "keys",
    ),
    (
        "windows",
        "signup_date in last 90 days or signup_date in last 2 weeks or signup_date in last 6 months "
        "or signup_date in last 1 year or birth_date before '1960-01-01' or signup_date after DATE '2025-01-01'",
        "keys",
    ),
    (
        "timestamp_windows",
        "any(support_calls where called_at in last 30 days or called_at in last 3 weeks "
        "or called_at in last 2 months or called_at in last 1 year)",
        "keys",
    ),
    ("aggregates", "sum(orders.amount where status != 'returned' and order_date in last 90 days) >= 1000 "
     "and count(orders) > 3 and avg(orders.amount) > 20 and max(orders.order_date) after '2025-01-01'", "keys"),
    ("multi_hop", "count_distinct(orders.order_lines.product_id) >= 5 and sum(orders.order_lines.quantity) > 10", "keys"),
    ("exists", "any(orders where amount > 100) and none(support_calls where escalated) "
     "and all(orders where status = 'delivered') and all(orders)", "keys"),
    ("nested_scope", "any(orders where sum(order_lines.quantity) > 30)", "keys"),
    ("to_one", "regions.name = 'North' and any(orders.order_lines where products.category = 'toys')", "keys"),
    ("set_ops", "(country = 'DE') UNION (age > 60) EXCEPT (newsletter = false) "
     "INTERSECT (not (age > 30 and ((gender = 'F') union (country = 'FR'))))", "keys"),
    ("booleans", "newsletter = true and not (newsletter is false) and none(support_calls where escalated = true)", "keys"),
    ("project", "count(orders) > 0 PROJECT sum(orders.amount where order_date in last 90 days) AS spend_90d, "
     "count(support_calls) AS calls, regions.name AS region", "members"),
    ("count", "sum(orders.amount) >= 1000", "count"),
    ("functions", "lower(trim(city)) = 'berlin' and length(last_name) > 3 and coalesce(gender, 'x') != 'x' "
     "and concat(first_name, ' ', last_name) like 'A%' and abs(churn_score - 0.5) < 0.1 "
     "and round(churn_score, 1) = 0.5 and round(churn_score) = 0 and floor(churn_score * 10) = 3 "
     "and ceil(churn_score * 10) = 4 and greatest(age, 18) < least(age, 90) + 1", "keys"),
    ("date_functions", "year(signup_date) = 2024 and quarter(signup_date) = 1 and month(signup_date) = 3 "
     "and day(signup_date) < 15 and weekday(signup_date) = 7 and days_between(signup_date, '2025-01-01') > 30 "
     "and any(support_calls where date(called_at) = '2025-06-01' and weekday(called_at) = 1)", "keys"),
    ("date_arithmetic", "signup_date + 30 days > '2025-01-01' and birth_date - 1 year < signup_date "
     "and signup_date + 2 weeks < '2025-06-01' and signup_date + 1 month > '2024-02-29' "
     "and any(support_calls where called_at + 6 hours > '2025-06-30 20:00:00' and called_at - 1 month < '2025-06-01')",
     "keys"),
    ("expression_aggregate", "sum(orders.order_lines.quantity * orders.order_lines.unit_price) > 500 "
     "and sum(case when orders.channel = 'web' then orders.amount else 0 end) > 100", "keys"),
    ("ranking", "top 10% by sum(orders.amount) among country = 'DE' and not (bottom 100 by age)", "keys"),
    ("periods", "signup_date in this year or signup_date in previous quarter or signup_date in this week "
     "or signup_date in previous month or signup_date in year 2023 or signup_date in month 2024-02 "
     "or any(support_calls where called_at in this month or called_at in previous week)", "keys"),
    ("new_aggregates", "median(orders.amount) > 40 and percentile(orders.amount, 0.9 where status != 'returned') > 100 "
     "and stddev(orders.amount) > 10 and mode(orders.order_lines.products.category) = 'toys' "
     "and first(orders.channel by order_date) = 'web' and last(support_calls.topic by called_at) = 'billing' "
     "and any(orders where median(order_lines.quantity) > 2)", "keys"),
]  # fmt: skip


# Cases compiled with the demo's own model (connect_demo's: integrity assumed for the links to
# customers), where a query may read a child table instead of the customer table.
INTEGRITY_CASES = [
    ("driven_by_aggregate", "count(orders where status = 'delivered') >= 5 and any(support_calls where escalated) "
     "and none(web_events where event_type = 'checkout')", "keys"),
    ("driven_by_keys", "any(web_events where event_type = 'checkout') and none(orders where channel = 'app')", "count"),
]  # fmt: skip


@pytest.fixture(scope="module")
def assuming_ws(demo_conn) -> Workspace:
    w = Workspace(open_backend(demo_conn))
    demo.declare_model(w.model)
    return w


@pytest.fixture(scope="module")
def ws(demo_conn) -> Workspace:
    """The demo model (compiling needs only the model; the SQL runs elsewhere)."""
    w = Workspace(open_backend(demo_conn))
    w.customers("customers", key="customer_id")
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    return w


def render(ws: Workspace, text: str, shape: str, dialect: str) -> str:
    relative = ws.compile(text, dialect=dialect, shape=shape)
    fixed = ws.compile(text, dialect=dialect, shape=shape, as_of=AS_OF)
    return f"-- as_of=None\n{relative};\n\n-- as_of={AS_OF.isoformat()}\n{fixed};\n"


def statements(sql: str) -> list[str]:
    return [s.strip() for s in re.split(r";\n\n|;\n$", sql) if s.strip()]


def code_only(sql: str) -> str:
    """The SQL without string literals and comments (so a rule never matches user data)."""
    sql = re.sub(r"--[^\n]*", "", sql)
    return re.sub(r"'(?:[^'\\]|''|\\.)*'", "''", sql)


PAIRS = [(case, text, shape, d) for case, text, shape in CASES for d in DIALECTS]


INTEGRITY_PAIRS = [(case, text, shape, d) for case, text, shape in INTEGRITY_CASES for d in DIALECTS]


@pytest.mark.parametrize(("case", "text", "shape", "dialect"), PAIRS, ids=[f"{p[0]}-{p[3]}" for p in PAIRS])
def test_golden_sql(ws: Workspace, case: str, text: str, shape: str, dialect: str) -> None:
    _golden(ws, case, text, shape, dialect)


@pytest.mark.parametrize(
    ("case", "text", "shape", "dialect"), INTEGRITY_PAIRS, ids=[f"{p[0]}-{p[3]}" for p in INTEGRITY_PAIRS]
)
def test_golden_sql_with_assumed_integrity(
    assuming_ws: Workspace, case: str, text: str, shape: str, dialect: str
) -> None:
    _golden(assuming_ws, case, text, shape, dialect)
    for stmt in statements(render(assuming_ws, text, shape, dialect)):
        assert sqlglot.parse_one(stmt.split("\n", 1)[1], read=dialect).find(sqlglot.exp.Select) is not None


def _golden(ws: Workspace, case: str, text: str, shape: str, dialect: str) -> None:
    path = SNAPSHOTS / case / dialect / "out.sql"
    sql = render(ws, text, shape, dialect)
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"wrote a new snapshot {path.relative_to(SNAPSHOTS.parent)}: review and commit it")
    assert sql == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("case", "text", "shape", "dialect"), PAIRS, ids=[f"{p[0]}-{p[3]}" for p in PAIRS])
def test_sql_parses_back_in_its_dialect(
    ws: Workspace, case: str, text: str, shape: str, dialect: str
) -> None:
    for stmt in statements(render(ws, text, shape, dialect)):
        tree = sqlglot.parse_one(stmt.split("\n", 1)[1], read=dialect)  # drop the "-- as_of" line
        assert tree.find(sqlglot.exp.Select) is not None


def _all_sql(ws: Workspace, dialect: str) -> str:
    return "\n".join(render(ws, text, shape, dialect) for _, text, shape in CASES)


def test_tsql_rules(ws: Workspace) -> None:
    code = code_only(_all_sql(ws, "tsql"))
    assert not re.search(r"DATE_SUB|DATE_ADD\(|INTERVAL", code, re.I)
    assert "DATEADD(DAY, -90, CAST(GETDATE() AS DATE))" in code
    assert "DATEADD(MONTH, -2, GETDATE())" in code
    assert not re.search(r"\b(TRUE|FALSE)\b", code, re.I), "T-SQL has no boolean literals"
    assert not re.search(r"\bILIKE\b|\bLIMIT\b|\bCURRENT_DATE\b", code, re.I)
    assert " TOP " not in code or "ORDER BY" in code
    # GREATEST/LEAST exist only from SQL Server 2022: a CASE per pair of arguments, skipping NULLs
    assert not re.search(r"\b(GREATEST|LEAST)\(", code)
    assert "CASE WHEN 18 IS NULL OR c.age >= 18 THEN COALESCE(c.age, 18) ELSE 18 END" in " ".join(
        code.split()
    )


def test_sqlite_rules(ws: Workspace) -> None:
    code = code_only(_all_sql(ws, "sqlite"))
    assert not re.search(r"DATE_SUB|DATE_ADD|DATEADD|INTERVAL|CURRENT_DATE|CAST\([^)]* AS DATE\)", code, re.I)
    sql = _all_sql(ws, "sqlite")
    assert "DATE('now', '-90 days')" in sql and "DATETIME('now', '-2 months')" in sql
    assert "DATE('now', '-14 days')" in sql  # weeks are days
    assert not re.search(r"\bILIKE\b", code, re.I)


def test_mysql_has_no_set_operators(ws: Workspace) -> None:
    # MariaDB lacks INTERSECT/EXCEPT ALL and older MySQL lacks both: groups are boolean logic.
    for dialect in ("mysql", "postgres", "duckdb", "sqlite"):
        code = code_only(_all_sql(ws, dialect))
        assert not re.search(r"\b(UNION|INTERSECT|EXCEPT)\b", code, re.I), dialect


def test_bigquery_rules(ws: Workspace) -> None:
    code = code_only(_all_sql(ws, "bigquery"))
    # TIMESTAMP_SUB accepts units up to DAY only; BigQuery's LIKE has no ESCAPE clause.
    assert not re.search(r"TIMESTAMP_SUB\(.{0,30}INTERVAL \d+ (MONTH|YEAR)", code)
    assert not re.search(r"\bESCAPE\b", code)


def test_spark_timestamp_windows_keep_the_time(ws: Workspace) -> None:
    # DATE_ADD/ADD_MONTHS return a DATE in Spark: on a timestamp the window would start at midnight.
    code = code_only(_all_sql(ws, "spark"))
    assert not re.search(r"(DATE_ADD|ADD_MONTHS)\(CURRENT_TIMESTAMP", code)


def test_user_text_stays_in_literals(ws: Workspace) -> None:
    """The text_match case's odd characters appear only inside string literals, escaped per dialect."""
    for dialect in DIALECTS:
        sql = render(ws, CASES[1][1], "keys", dialect)
        tree = sqlglot.parse_one(statements(sql)[0].split("\n", 1)[1], read=dialect)
        literals = [lit.this for lit in tree.find_all(sqlglot.exp.Literal) if lit.is_string]
        escaped = [s for s in literals if "o'b" in s]
        assert escaped, (dialect, literals)
        # %, _ and [ of the user's text are escaped; the pattern's own % wildcards are not.
        assert any(re.search(r"^%o'b\W%\W_\W?\[x\]\W*!%$", s) for s in escaped), (dialect, escaped)


def test_ordered_aggregates_use_what_each_database_has(ws: Workspace) -> None:
    """median/percentile, stddev and mode are plain aggregates only where the database has them with
    the language's meaning (dialects.AGGREGATE_TEMPLATES); elsewhere, and for first/last everywhere,
    window functions: no approximate percentile, no window-only PERCENTILE_CONT used as an aggregate."""
    text = next(t for case, t, _ in CASES if case == "new_aggregates")
    code = {d: code_only(render(ws, text, "keys", d)) for d in DIALECTS}
    for dialect, sql in code.items():
        numbered = "FIRST(" if dialect == "duckdb" else "ROW_NUMBER() OVER"  # first/last: row 1
        assert numbered in sql, dialect
        assert not re.search(r"APPROX|MEDIAN\(", sql), dialect
    assert not re.search(r"STDDEV|STDEV|PERCENTILE|QUANTILE|MODE\(", code["sqlite"])
    assert "SQRT(" in code["sqlite"]
    assert not re.search(r"PERCENTILE|QUANTILE|MODE\(", code["mysql"]) and "STDDEV_SAMP(" in code["mysql"]
    for dialect in ("tsql", "bigquery", "trino"):
        assert not re.search(r"PERCENTILE|QUANTILE|MODE\(", code[dialect]), dialect
    assert "SELECT DISTINCT" in code["mysql"]  # row 1 per key, kept from being merged (DISTINCT_ROW_ONE)
    assert "STDEV(" in code["tsql"]
    assert "QUANTILE_CONT(CAST(" in code["duckdb"] and "MODE(" not in code["duckdb"]
    assert "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY" in code["postgres"]
    assert "MODE() WITHIN GROUP (ORDER BY" in code["postgres"]


def test_tsql_extremes_skip_nulls_like_greatest_elsewhere() -> None:
    """The CASE chain T-SQL gets for greatest/least (no GREATEST before SQL Server 2022), run on DuckDB:
    the largest/smallest argument that is not NULL, NULL when all are."""
    import duckdb
    from sqlglot import exp

    from jupyter_segments.compile import dialects as D

    rows = [(1, None, 3), (5, 2, None), (None, None, None), (4, 4, 1), (None, 7, 2)]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES " + ", ".join(
        "(" + ", ".join("NULL" if v is None else str(v) for v in r) + ")" for r in rows
    ) + ") v(a, b, c)")  # fmt: skip
    for name, pick in (("greatest", max), ("least", min)):
        sql = D._least_greatest(name, [exp.column(c) for c in "abc"], "tsql").sql("duckdb")
        got = [r[0] for r in con.execute(f"SELECT {sql} FROM t").fetchall()]
        assert got == [pick((v for v in r if v is not None), default=None) for r in rows], name
