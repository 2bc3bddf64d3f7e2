"""Every backend against the same demo data, checked against pandas and hand-written expectations."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
from itertools import islice

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from jupyter_segments import demo
from jupyter_segments.backends import open_backend
from jupyter_segments.backends._sql import quote
from jupyter_segments.backends.base import Column, ForeignKey, is_null, mask_url, plain_rows, plain_value
from jupyter_segments.backends.duckdb_backend import DuckDBBackend
from jupyter_segments.backends.sqlalchemy_backend import SQLAlchemyBackend
from jupyter_segments.backends.sqlite_backend import SQLiteBackend
from jupyter_segments.errors import SegmentError

# What each demo column means, written out from the schema (not derived from the code under test).
EXPECTED_TYPES = {
    "regions": {"region_id": "number", "name": "string"},
    "customers": {
        "customer_id": "number",
        "first_name": "string",
        "last_name": "string",
        "email": "string",
        "country": "string",
        "city": "string",
        "region_id": "number",
        "gender": "string",
        "age": "number",
        "birth_date": "date",
        "signup_date": "date",
        "newsletter": "boolean",
        "loyalty_tier": "string",
        "churn_score": "number",
    },
    "products": {"product_id": "number", "name": "string", "category": "string", "price": "number"},
    "orders": {
        "order_id": "number",
        "customer_id": "number",
        "order_date": "date",
        "status": "string",
        "channel": "string",
        "amount": "number",
        "discount": "number",
    },
    "order_lines": {
        "line_id": "number",
        "order_id": "number",
        "product_id": "number",
        "quantity": "number",
        "unit_price": "number",
    },
    "support_calls": {
        "call_id": "number",
        "cust_id": "number",
        "called_at": "timestamp",
        "topic": "string",
        "escalated": "boolean",
        "duration_minutes": "number",
    },
    "web_events": {
        "event_id": "number",
        "customer_id": "number",
        "event_time": "timestamp",
        "event_type": "string",
        "page": "string",
    },
}

ODD_NAME = 'seg "vip" `x` 100% o\'k ü'


def q(backend, name: str) -> str:
    return quote(name, backend.dialect)


def _no_stage_tables(backend) -> bool:
    return not [t for t in backend.tables() if t.startswith("_js_stage_")]


def test_tables_lists_demo_tables(demo_backend):
    tables = demo_backend.tables()
    assert set(demo.TABLES) <= set(tables)
    assert not [t for t in tables if t.startswith(("sqlite_", "pg_", "duckdb_"))]
    assert tables == sorted(tables)


@pytest.mark.parametrize("table", demo.TABLES)
def test_columns_classify_real_types(demo_backend, table):
    cols = demo_backend.columns(table)
    assert all(isinstance(c, Column) and c.db_type for c in cols)
    assert {c.name: c.type for c in cols} == EXPECTED_TYPES[table]
    assert [c.name for c in cols] == list(EXPECTED_TYPES[table])  # table order, not alphabetical


def test_columns_of_missing_table_suggests(demo_backend):
    with pytest.raises(SegmentError, match="did you mean 'customers'"):
        demo_backend.columns("custmers")


def test_foreign_keys_from_catalog(demo_backend):
    expected = {ForeignKey(child, col, parent, pcol) for child, parent, col, pcol in demo.FOREIGN_KEYS}
    assert set(demo_backend.foreign_keys()) == expected
    # web_events.customer_id has no declared key on purpose
    assert not [fk for fk in demo_backend.foreign_keys() if fk.table == "web_events"]


def test_demo_data_survives_copy(demo_backend, demo_frames):
    got = demo_backend.query(
        "SELECT customer_id, last_name, email, birth_date, newsletter, churn_score FROM customers "
        "ORDER BY customer_id"
    )
    want = demo_frames["customers"]
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    assert got["last_name"].tolist() == want["last_name"].tolist()  # O'Brien, Müller, Ødegaard
    # '' and NULL emails stay different
    assert got["email"].isna().tolist() == want["email"].isna().tolist()
    assert (got["email"] == "").sum() == (want["email"] == "").sum() > 0
    got_dates = pd.to_datetime(got["birth_date"]).dt.date
    assert (
        got_dates.fillna(dt.date(1, 1, 1)).tolist()
        == want["birth_date"].dt.date.fillna(dt.date(1, 1, 1)).tolist()
    )
    assert [bool(v) for v in got["newsletter"]] == want["newsletter"].tolist()
    assert got["churn_score"].astype(float).sum() == pytest.approx(want["churn_score"].sum())


def test_query_and_scalar_match_pandas(demo_backend, demo_frames):
    orders = demo_frames["orders"]
    assert demo_backend.scalar("SELECT COUNT(*) FROM orders") == len(orders)
    assert float(demo_backend.scalar("SELECT SUM(amount) FROM orders")) == pytest.approx(
        orders["amount"].sum()
    )
    # A literal with a quote, '%' and ':' must reach the database untouched by the driver.
    n = demo_backend.scalar("SELECT COUNT(*) FROM customers WHERE last_name LIKE 'O''%' OR email = 'x:y'")
    assert n == demo_frames["customers"]["last_name"].str.startswith("O'").sum() > 0
    frame = demo_backend.query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status")
    want = orders.groupby("status").size().sort_index()
    assert frame["status"].tolist() == want.index.tolist()
    assert frame["n"].astype(int).tolist() == want.tolist()


def test_iter_chunks_streams_in_pieces(demo_backend, demo_frames):
    sql = "SELECT order_id, amount FROM orders ORDER BY order_id"
    chunks = list(demo_backend.iter_chunks(sql, chunk_size=3_000))
    n = len(demo_frames["orders"])
    assert len(chunks) == -(-n // 3_000) >= 5
    assert all(len(c) == 3_000 for c in chunks[:-1])
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["order_id"].tolist() == demo_frames["orders"]["order_id"].tolist()


def test_iter_chunks_abandoned_leaves_backend_usable(demo_backend):
    first = next(iter(demo_backend.iter_chunks("SELECT * FROM order_lines", chunk_size=100)))
    assert len(first) == 100
    gen = demo_backend.iter_chunks("SELECT * FROM web_events", chunk_size=10)
    assert len(list(islice(gen, 2))) == 2
    gen.close()
    assert demo_backend.scalar("SELECT COUNT(*) FROM regions") == 6


def test_iter_chunks_empty_result_keeps_columns(demo_backend):
    chunks = list(demo_backend.iter_chunks("SELECT customer_id, email FROM customers WHERE 1 = 0"))
    assert len(chunks) == 1 and chunks[0].empty
    assert list(chunks[0].columns) == ["customer_id", "email"]


def _odd_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ['O\'Brien "the" `great`', "Zoë 東京 100%", None],
            "d": [dt.date(2024, 2, 29), None, dt.date(1999, 12, 31)],
            "ts": pd.to_datetime(["2024-01-01 10:30:00", None, "2025-06-30 23:59:59"]),
            "flag": [True, False, True],
            "x": [1.25, None, -3.5],
            "n": pd.array([7, None, 9], dtype="Int64"),
        }
    )


def test_write_table_round_trip(demo_backend):
    frame = _odd_frame()
    b = demo_backend
    b.drop_table(ODD_NAME)
    try:
        b.write_table(ODD_NAME, frame)
        assert ODD_NAME in b.tables()
        types = {c.name: c.type for c in b.columns(ODD_NAME)}
        assert types == {
            "id": "number",
            "name": "string",
            "d": "date",
            "ts": "timestamp",
            "flag": "boolean",
            "x": "number",
            "n": "number",
        }
        got = b.query(f"SELECT * FROM {q(b, ODD_NAME)} ORDER BY id")
        assert got["id"].tolist() == [1, 2, 3]
        assert got["name"].tolist()[:2] == frame["name"].tolist()[:2] and pd.isna(got["name"][2])
        assert [None if pd.isna(v) else pd.Timestamp(v).date() for v in got["d"]] == frame["d"].tolist()
        assert [None if pd.isna(v) else pd.Timestamp(v) for v in got["ts"]] == [
            pd.Timestamp("2024-01-01 10:30:00"),
            None,
            pd.Timestamp("2025-06-30 23:59:59"),
        ]
        assert [bool(v) for v in got["flag"]] == [True, False, True]
        assert got["x"].isna().tolist() == [False, True, False] and got["x"][2] == -3.5
        assert got["n"].isna().tolist() == [False, True, False] and int(got["n"][2]) == 9
        # Comparisons in SQL see real dates and booleans, not text.
        where_date = (
            f"{q(b, 'd')} > DATE '2000-01-01'" if b.dialect != "sqlite" else f"{q(b, 'd')} > '2000-01-01'"
        )
        assert b.scalar(f"SELECT COUNT(*) FROM {q(b, ODD_NAME)} WHERE {where_date}") == 1

        b.write_table(ODD_NAME, frame, replace=False)  # append
        assert b.scalar(f"SELECT COUNT(*) FROM {q(b, ODD_NAME)}") == 6
        b.write_table(ODD_NAME, frame.head(2))  # replace
        assert b.scalar(f"SELECT COUNT(*) FROM {q(b, ODD_NAME)}") == 2

        renamed = ODD_NAME + " 2"
        b.rename_table(ODD_NAME, renamed)
        assert renamed in b.tables() and ODD_NAME not in b.tables()
        b.drop_table(renamed)
        assert renamed not in b.tables()
        assert _no_stage_tables(b)
    finally:
        b.drop_table(ODD_NAME)
        b.drop_table(ODD_NAME + " 2")


def test_write_table_chunks_copies_a_query(demo_backend, demo_frames):
    b = demo_backend
    try:
        n = b.write_table_chunks("orders_copy", b.iter_chunks("SELECT * FROM orders", chunk_size=4_000))
        orders = demo_frames["orders"]
        assert n == len(orders)
        assert b.scalar("SELECT COUNT(*) FROM orders_copy") == len(orders)
        assert float(b.scalar("SELECT SUM(amount) FROM orders_copy")) == pytest.approx(orders["amount"].sum())
        assert {c.name: c.type for c in b.columns("orders_copy")} == EXPECTED_TYPES["orders"]

        # A failure half-way leaves the previous table as it was, and no staging table behind.
        def failing():
            yield orders.head(10)
            raise RuntimeError("source broke")

        with pytest.raises(RuntimeError, match="source broke"):
            b.write_table_chunks("orders_copy", failing())
        assert b.scalar("SELECT COUNT(*) FROM orders_copy") == len(orders)
        assert _no_stage_tables(b)
    finally:
        b.drop_table("orders_copy")


# -- opening backends (no server needed) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "dialect", "driver"),
    [
        ("postgresql://alice:s3cr%40t@db.example:5432/shop", "postgres", "psycopg"),
        ("postgresql+psycopg://alice:s3cr%40t@db.example/shop", "postgres", "psycopg"),
        ("mysql+pymysql://alice:s3cr%40t@db.example/shop", "mysql", "pymysql"),
    ],
)
def test_server_urls_mask_password_and_pick_driver(url, dialect, driver):
    b = open_backend(url)  # creating an engine does not connect
    try:
        assert isinstance(b, SQLAlchemyBackend)
        assert b.dialect == dialect
        assert b.engine.dialect.driver == driver
        assert "s3cr" not in b.display_url and "alice:***@db.example" in b.display_url
    finally:
        b.close()


def test_mask_url():
    assert mask_url("postgresql://u:pa:ss@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_open_backend_dispatch(tmp_path):
    path = tmp_path / "a.duckdb"
    b = open_backend(f"duckdb:///{path}")
    assert isinstance(b, DuckDBBackend) and b.dialect == "duckdb"
    b.execute("CREATE TABLE t AS SELECT 1 AS x")
    b.close()
    assert path.exists()
    with duckdb.connect(str(path)) as conn:
        assert isinstance(open_backend(conn), DuckDBBackend)
        assert open_backend(conn).tables() == ["t"]

    s = open_backend(f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(s, SQLiteBackend) and s.dialect == "sqlite"
    s.close()
    assert (tmp_path / "a.db").exists()
    conn = sqlite3.connect(":memory:")
    assert isinstance(open_backend(conn), SQLiteBackend)
    conn.close()

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    e = open_backend(engine)
    assert isinstance(e, SQLAlchemyBackend) and e.dialect == "sqlite"
    assert open_backend(e) is e
    engine.dispose()

    with pytest.raises(SegmentError, match="not a database URL"):
        open_backend("shop.db")
    with pytest.raises(SegmentError, match="cannot connect"):
        open_backend(42)


def test_sqlite_backend_on_users_connection_commits(tmp_path):
    """A connection in Python's default (implicit transaction) mode still sees committed writes."""
    path = tmp_path / "u.db"
    conn = sqlite3.connect(path)
    b = open_backend(conn)
    b.write_table("t", pd.DataFrame({"a": [1, 2]}))
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2
    other.close()
    conn.close()


@pytest.mark.parametrize(
    ("db_type", "expected"),
    [
        ("INTEGER", "number"), ("DECIMAL(10,2)", "number"), ("NUM", "number"), ("double precision", "number"),
        ("VARCHAR", "string"), ("character varying(20)", "string"), ("TEXT", "string"),
        ("DATE", "date"), ("TIMESTAMP WITH TIME ZONE", "timestamp"), ("DATETIME", "timestamp"),
        ("BOOLEAN", "boolean"), ("tinyint(1)", "boolean"),
        ("INTERVAL", "other"), ("VARCHAR[]", "other"), ("INTEGER[]", "other"), ("STRUCT(a INTEGER)", "other"),
        ("MAP(VARCHAR, INTEGER)", "other"), ("_int4", "other"), ("POINT", "other"), ("TIME", "other"),
        ("BLOB", "other"),
    ],
)  # fmt: skip
def test_classify_type(db_type, expected):
    from jupyter_segments.backends.base import classify_type

    assert classify_type(db_type) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # missing: NULL, NaN of every kind, pandas' NA, NaT (pandas' and numpy's)
        (None, None), (float("nan"), None), (np.float64("nan"), None), (np.float32("nan"), None),
        (decimal.Decimal("NaN"), None), (pd.NA, None), (pd.NaT, None), (np.datetime64("NaT"), None),
        # numpy scalars as Python's
        (np.int64(7), 7), (np.int32(-2), -2), (np.uint8(255), 255), (np.float64(2.5), 2.5),
        (np.float32(0.5), 0.5), (np.bool_(True), True), (np.bool_(False), False), (np.str_("DE"), "DE"),
        # numpy dates and durations as pandas' (not .item()'s nanoseconds as an int)
        (np.datetime64("2024-05-06T07:08:09.000000001"), pd.Timestamp("2024-05-06 07:08:09.000000001")),
        (np.datetime64("2024-05-06", "D"), pd.Timestamp("2024-05-06")),
        (np.timedelta64(90, "s"), pd.Timedelta(seconds=90)),
        # everything else as it is
        (3, 3), (2.5, 2.5), (True, True), ("x", "x"), ("", ""), (b"\x00", b"\x00"),
        (decimal.Decimal("812.40"), decimal.Decimal("812.40")), (dt.date(2025, 6, 30), dt.date(2025, 6, 30)),
        (dt.datetime(2025, 6, 30, 12), dt.datetime(2025, 6, 30, 12)),
        (pd.Timestamp("2025-06-30 12:00"), pd.Timestamp("2025-06-30 12:00")),
        (pd.Timedelta(days=1), pd.Timedelta(days=1)), ((1, "a"), (1, "a")), ([1, None], [1, None]),
        ([float("nan")], [float("nan")]),  # a list is a value, not a missing one (not looked into)
    ],
)  # fmt: skip
def test_plain_value(value, expected):
    got = plain_value(value)
    if expected is None:
        assert got is None
        return
    assert type(got) is type(expected)
    if isinstance(value, list):  # the same list back
        assert got is value
    else:
        assert got == expected


def test_plain_value_of_fetched_cells():
    """Cells as DuckDB and SQLite hand them over (through pandas): NULLs as None, Python scalars."""
    sql = (
        "SELECT 1 AS i, CAST(NULL AS INTEGER) AS ni, 2.5 AS f, CAST(NULL AS DOUBLE) AS nf, 'DE' AS s, "
        "CAST(NULL AS VARCHAR) AS ns"
    )
    duck = duckdb.connect()
    duck_sql = (
        sql + ", DATE '2025-06-30' AS d, TIMESTAMP '2025-06-30 12:00' AS ts, CAST(NULL AS TIMESTAMP) AS nts"
    )
    frame = duck.execute(duck_sql).fetchdf()
    row = frame.iloc[0]
    got = {c: plain_value(row[c]) for c in frame.columns}
    assert got["i"] == 1 and type(got["i"]) is int
    assert got["f"] == 2.5 and type(got["f"]) is float
    assert got["s"] == "DE"
    assert got["ni"] is None and got["nf"] is None and got["ns"] is None and got["nts"] is None
    assert got["ts"] == dt.datetime(2025, 6, 30, 12)
    assert got["d"] == pd.Timestamp("2025-06-30")  # pandas reads a DATE column as datetime64
    for column in frame.columns:  # a column's numpy values (not pandas' boxed ones) alike
        assert plain_value(frame[column].to_numpy()[0]) == got[column]
    lite = pd.read_sql_query(sql, sqlite3.connect(":memory:"))
    assert [plain_value(v) for v in lite.iloc[0]] == [1, None, 2.5, None, "DE", None]


def test_is_null_and_plain_rows():
    """is_null is plain_value's test for missing (a list is a value); plain_rows: a frame's rows as
    tuples of plain values, a Series as one-value tuples."""
    for missing in (None, float("nan"), np.float32("nan"), decimal.Decimal("NaN"), pd.NA, pd.NaT):
        assert is_null(missing)
    for value in (0, "", b"", [None], (None,), np.array([np.nan]), decimal.Decimal(0), dt.date(2025, 1, 1)):
        assert not is_null(value)
    frame = pd.DataFrame({"region": ["eu", "us"], "account_no": np.array([7, 8], dtype="int64")})
    rows = plain_rows(frame)
    assert rows == [("eu", 7), ("us", 8)] and all(type(r[1]) is int for r in rows)
    assert plain_rows(pd.Series([1.5, None], name="k")) == [(1.5,), (None,)]
    assert plain_rows(frame.iloc[:0]) == []
