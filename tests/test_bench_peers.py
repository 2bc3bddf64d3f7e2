"""Figure 2's peers at a tiny scale: every polars and ibis version of a suite segment returns exactly
the compiled SQL's members (and projected values).

The polars and ibis code (bench/peers.py) is written independently of the compiler, as a user of each
library would write it, so each is also an oracle for the compiler on every suite segment. polars and
ibis are in the test extra (and the bench extra); without them these tests are skipped.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("polars")
pytest.importorskip("ibis")

from bench import figures as F  # noqa: E402
from bench import peers as P  # noqa: E402
from bench.data import ensure_db, open_db  # noqa: E402
from bench.harness import compiled_sql, duckdb_runner, result_frame, same_members, workspace  # noqa: E402
from bench.report import write_report  # noqa: E402
from bench.suite import SUITE  # noqa: E402

TINY = 3_000


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_DATA_DIR", str(tmp_path_factory.mktemp("bench_peers")))
    ensure_db(TINY)
    c = open_db(TINY)
    yield c
    c.close()
    mp.undo()


@pytest.fixture(scope="module")
def ws(conn):
    return workspace(conn)


@pytest.fixture(scope="module")
def lazy(conn):
    return P.load_polars(conn)[0]


@pytest.fixture(scope="module")
def ibis_con(conn):
    return P.ibis_backend(conn)


def test_every_suite_segment_has_a_polars_and_an_ibis_version():
    names = [s.name for s in SUITE]
    assert list(P.POLARS) == names and list(P.IBIS) == names


@pytest.mark.parametrize("seg", SUITE, ids=[s.name for s in SUITE])
def test_polars_and_ibis_match_compiled(seg, ws, conn, lazy, ibis_con):
    run = duckdb_runner(conn)
    compiled = result_frame(run(compiled_sql(ws, seg)), seg)
    assert len(compiled) > 0, "a segment with no members at this scale proves little"
    assert same_members(compiled, result_frame(P.run_polars(seg, lazy), seg)) is None, "polars"
    assert same_members(compiled, result_frame(P.run_ibis(seg, ibis_con), seg)) is None, "ibis"
    # ibis' SQL text, as figure 2 runs it beside the compiled SQL
    assert same_members(compiled, result_frame(run(P.ibis_sql(seg, ibis_con)), seg)) is None, "ibis SQL"


def test_peers_figure_and_report(ws, conn, lazy, tmp_path):
    few = [s for s in SUITE if s.name in ("attributes", "union", "projection")]
    rows = P.versus_peers(lazy, conn, ws, TINY, rounds=1, suite=few)  # checks the members itself
    assert [r.segment for r in rows] == [s.name for s in few]
    assert all(min(r.compiled_s, r.polars_s, r.ibis_s, r.ibis_sql_s) > 0 for r in rows)
    pandas_rows = [
        {
            "customers": TINY,
            "segment": r.segment,
            "pandas_s": 0.01,
            "compiled_s": r.compiled_s,
            "ratio_excl": 2.0,
        }
        for r in rows
    ]
    fig2 = {
        "customers": TINY,
        "load_s": 0.5,
        "segments": pandas_rows,
        "peers": {"polars_load_s": 0.2, "segments": F.as_records(rows)},
    }
    write_report(json.loads(json.dumps({"fig2_pandas": {"rows": fig2}}, default=str)), tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "| 2. polars (lazy) / compiled, whole suite, 3k | incl. loading " in md
    assert "| 2. ibis (DuckDB) / compiled, whole suite, 3k | " in md and "ibis' SQL alone / compiled" in md
    assert "### polars and ibis vs compiled at 3k" in md and "| union | " in md
    assert (tmp_path / "fig2_pandas.png").stat().st_size > 1000
