"""Smoke run of bench/tpcds.py at TPC-DS sf=0.01: the data is generated, the model holds (no
orphans behind ``assume_integrity``), and every segment's hand-written SQL returns the compiled SQL's
members. Skipped where the tpcds extension is not already installed (it is never downloaded here)."""

from __future__ import annotations

import duckdb
import pytest

from bench import tpcds

pytestmark = pytest.mark.slow  # ~15 s: dsdgen in a subprocess, then 34 segments compiled and hand-written


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    if not tpcds.can_generate():
        pytest.skip("no tpcds extension installed for this DuckDB or in $BENCH_TPCDS_GEN")
    mp = pytest.MonkeyPatch()
    gen = tpcds.gen_site()  # found under the real data directory; the database goes to a temp one
    mp.setenv("BENCH_TPCDS_GEN", str(gen))
    mp.setenv("BENCH_DATA_DIR", str(tmp_path_factory.mktemp("tpcds")))
    c = duckdb.connect(str(tpcds.ensure_tpcds(0.01)), read_only=True)
    yield c
    c.close()
    mp.undo()


def test_links_have_no_orphans(conn):
    ws = tpcds.workspace(conn)
    orphans = ws.check_integrity()
    assert int(orphans["orphans"].sum()) == 0, orphans


@pytest.mark.parametrize("seg", tpcds.SEGMENTS, ids=lambda s: s.name)
def test_hand_written_sql_returns_the_compiled_members(conn, seg):
    ws = tpcds.workspace(conn)
    members = sorted(r[0] for r in conn.execute(tpcds.compiled_sql(ws, seg)).fetchall())
    for hand in seg.sql:
        assert sorted(r[0] for r in conn.execute(hand).fetchall()) == members
