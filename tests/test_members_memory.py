"""Previews by key ranges and streams under a lowered DuckDB memory_limit (figure 5 of the benchmarks).

Previews must return exactly the rows of the hand-written ``... ORDER BY key LIMIT n`` on every backend
(ranges forced on, and made tiny so that a preview crosses several of them); streams and exports of a
DuckDB file must give the same rows and put the memory_limit back.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import test_catalog_support as H
from conftest import DEMO_ANCHOR

from jupyter_segments import Workspace
from jupyter_segments.backends.duckdb_backend import DuckDBBackend

SPEND = "(SELECT customer_id, SUM(amount) AS s FROM orders GROUP BY customer_id)"
PREVIEWS = [
    # (definition, hand-written SQL without ORDER BY/LIMIT)
    (
        "sum(orders.amount) >= 1000",
        f"SELECT c.* FROM customers c LEFT JOIN {SPEND} o ON o.customer_id = c.customer_id"
        " WHERE COALESCE(o.s, 0) >= 1000",
    ),
    (  # 4 members among 2000 customers: the preview runs through every range
        "sum(orders.amount) >= 5000",
        f"SELECT c.* FROM customers c LEFT JOIN {SPEND} o ON o.customer_id = c.customer_id"
        " WHERE COALESCE(o.s, 0) >= 5000",
    ),
    (
        "age >= 40 project sum(orders.amount) as spend",
        f"SELECT c.*, COALESCE(o.s, 0) AS spend FROM customers c"
        f" LEFT JOIN {SPEND} o ON o.customer_id = c.customer_id WHERE c.age >= 40",
    ),
]


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


@pytest.mark.parametrize(("definition", "sql"), PREVIEWS)
def test_preview_by_key_ranges_is_the_first_rows_by_key(demo_backend, definition, sql):
    ws = Workspace(demo_backend)
    ws.customers("customers", key="customer_id")
    ws.preview_by_key_range, ws.first_key_range = True, 7  # ranges end at the 7th, 70th, 700th key
    for limit in (0, 1, 3, 100, 5000):  # 5000: more than there are members
        want = demo_backend.query(f"{sql} ORDER BY c.customer_id LIMIT {limit}")
        _same(ws.members(definition, limit=limit, as_of=DEMO_ANCHOR), want)


def test_preview_by_key_ranges_with_text_and_null_keys(demo_backend):
    """Text keys (with a quote and a backslash) order as text; customers with a NULL key are never
    members (issue 13), wherever the database sorts NULLs (first in SQLite and MariaDB, last in DuckDB
    and PostgreSQL)."""
    keys = ["b", "A'q", "c\\d", "10", "9", "Zed", "m", "e", None, "k", None, "x"]
    people = pd.DataFrame({"pid": keys, "score": [1, 7, 2, 9, 1, 8, 1, 6, 5, 2, 9, 1]})
    buys = pd.DataFrame({"pid": ["b", "b", "9", "k", "x", "zz"], "amount": [6.0, 5.0, 12.0, 3.0, 10.0, 50.0]})
    demo_backend.write_table("pv_people", people)
    demo_backend.write_table("pv_buys", buys)
    try:
        ws = Workspace(demo_backend)
        ws.customers("pv_people", key="pid")
        ws.relate("pv_buys", "pv_people", on="pid")
        ws.preview_by_key_range, ws.first_key_range = True, 1
        sql = (
            "SELECT c.* FROM pv_people c LEFT JOIN (SELECT pid, SUM(amount) AS s FROM pv_buys GROUP BY pid) b"
            " ON b.pid = c.pid WHERE c.pid IS NOT NULL AND (c.score >= 5 OR COALESCE(b.s, 0) >= 10)"
            " ORDER BY c.pid LIMIT {}"
        )
        for limit in (1, 2, 3, 5, 8, 20):
            want = demo_backend.query(sql.format(limit))
            _same(ws.members("score >= 5 or sum(pv_buys.amount) >= 10", limit=limit), want)
    finally:
        demo_backend.drop_table("pv_people")
        demo_backend.drop_table("pv_buys")


def test_previews_on_duckdb_use_key_ranges_by_default(demo_conn):
    ws = Workspace(DuckDBBackend(demo_conn))
    ws.customers("customers", key="customer_id")
    ws.check(PREVIEWS[0][0])  # the model checks its keys once: what follows is the preview alone
    ws.first_key_range = 50
    sent: list[str] = []
    query = ws.backend.query
    ws.backend.query = lambda sql: sent.append(sql) or query(sql)  # type: ignore[method-assign]
    definition, sql = PREVIEWS[0]
    want = query(f"{sql} ORDER BY c.customer_id LIMIT 100")
    _same(ws.members(definition, limit=100, as_of=DEMO_ANCHOR), want)
    assert "c.customer_id <= 50 " in sent[0]  # ranges by key (the 50th key is 50)
    sent.clear()
    ws.members("age >= 40", limit=10)  # no join: one query as it is
    assert len(sent) == 1 and "customer_id <=" not in sent[0]


# --- streams under a lowered memory_limit (DuckDB files) --------------------------------------------------


def _limit(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_low_memory_lowers_the_default_limit_of_a_file_and_puts_it_back(tmp_path):
    conn = duckdb.connect(str(tmp_path / "x.duckdb"))
    backend = DuckDBBackend(conn)
    default = _limit(conn)
    with backend.low_memory():
        assert _limit(conn) == "61.0 MiB"  # 64MB, as DuckDB shows it
        with backend.low_memory():  # nested: still lowered, restored by the outer block only
            pass
        assert _limit(conn) == "61.0 MiB"
    assert _limit(conn) == default
    with pytest.raises(ZeroDivisionError), backend.low_memory():
        1 / 0  # noqa: B018
    assert _limit(conn) == default
    conn.execute("SET memory_limit = '1GB'")  # set by someone: left alone
    with backend.low_memory():
        assert _limit(conn) == "953.6 MiB"
    assert _limit(conn) == "953.6 MiB"
    conn.execute("RESET memory_limit")
    backend.stream_memory_limit = None
    with backend.low_memory():
        assert _limit(conn) == default
    memory = DuckDBBackend(duckdb.connect())  # in-memory: its tables live in that memory
    with memory.low_memory():
        assert _limit(memory.connection) == default
    conn.close()


def test_stream_that_runs_out_of_memory_under_the_cap_runs_again_without_it(tmp_path):
    # No temporary directory: the aggregate cannot spill, so 16MB is too little for it.
    conn = duckdb.connect(str(tmp_path / "x.duckdb"), config={"temp_directory": ""})
    backend = DuckDBBackend(conn)
    backend.stream_memory_limit = "16MB"
    sql = "SELECT range % 400000 AS g, count(*) AS n FROM range(1200000) GROUP BY g"
    conn.execute("SET memory_limit = '16MB'")
    with pytest.raises(duckdb.OutOfMemoryException):
        conn.execute(sql).fetchall()
    conn.execute("RESET memory_limit")
    before = _limit(conn)
    with backend.low_memory():
        got = pd.concat(backend.iter_chunks(sql, 100_000), ignore_index=True)
    assert len(got) == 400_000 and (got["n"] == 3).all() and got["g"].nunique() == 400_000
    assert _limit(conn) == before
    conn.close()


def test_iter_members_and_exports_of_a_file_give_the_same_rows(tmp_path):
    path = str(tmp_path / "shop.duckdb")
    H.fresh_demo(path).close()
    ws = H.workspace(f"duckdb:///{path}")
    conn = ws.backend.connection  # type: ignore[attr-defined]
    before = _limit(conn)
    want = ws.backend.query(ws.compile(H.VIP, shape="members", as_of=DEMO_ANCHOR))
    stream = ws.iter_members(H.VIP, as_of=DEMO_ANCHOR, chunk_size=40)
    first = next(stream)
    assert _limit(conn) != before  # lowered while the stream is open
    rest = list(stream)
    assert _limit(conn) == before
    _same(pd.concat([first, *rest], ignore_index=True), want)
    stream = ws.iter_members(H.VIP, as_of=DEMO_ANCHOR, chunk_size=40)
    next(stream)
    stream.close()  # a consumer that stops early
    assert _limit(conn) == before

    ws.segment("vip", H.VIP + " project sum(orders.amount) as spend")
    ws.refresh()
    ws.get("vip").export("csv", path=tmp_path / "low.csv", chunk_size=50)
    ws.backend.stream_memory_limit = None  # type: ignore[attr-defined]
    ws.get("vip").export("csv", path=tmp_path / "plain.csv", chunk_size=50)
    assert (tmp_path / "low.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    frame = pd.read_csv(tmp_path / "low.csv")
    assert sorted(frame["customer_id"]) == sorted(H.vip_keys(H.frames(conn)))
    assert _limit(conn) == before
    ws.close()
