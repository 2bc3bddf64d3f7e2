"""Smoke run of the benchmark harness at a tiny scale (seconds), so that bench/ never rots.

The central check: for every suite segment, each hand-written SQL variant and the pandas version
return exactly the members of the compiled SQL -- the hand-written SQL and pandas code are written
independently of the compiler, so this is also an oracle test of the compiler on 23 segments.
"""

from __future__ import annotations

import json

import pytest

from bench import figures as F
from bench.data import ensure_db, open_db
from bench.harness import compiled_sql, duckdb_runner, loglog_slope, result_frame, same_members, workspace
from bench.memory import run_case
from bench.report import write_report
from bench.suite import SUITE

TINY = 3_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench")
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_DATA_DIR", str(path))  # the cached demo and the memory probe's CSV go here
    ensure_db(TINY)
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def conn(data_dir):
    c = open_db(TINY)
    yield c
    c.close()


@pytest.fixture(scope="module")
def ws(conn):
    return workspace(conn)


@pytest.fixture(scope="module")
def frames(conn):
    return F.load_frames(conn)[0]


def test_suite_covers_every_dsl_form():
    text = " ".join(s.dsl.lower() for s in SUITE)
    for form in ("any(", "none(", "all(", "union", "intersect", "except", "in segment", "not in segment",
                 "project", "starts with", "contains", "in last", "before", "between", " in (", "is not null",
                 "is not empty", "count(", "sum(", "avg(", "max(", "orders.order_lines", "regions.name"):  # fmt: skip
        assert form in text, form
    assert len(SUITE) >= 12 and len({s.name for s in SUITE}) == len(SUITE)
    assert all(s.sql for s in SUITE)


@pytest.mark.parametrize("seg", SUITE, ids=[s.name for s in SUITE])
def test_hand_written_and_pandas_match_compiled(seg, ws, conn, frames):
    run = duckdb_runner(conn)
    compiled = result_frame(run(compiled_sql(ws, seg)), seg)
    for i, sql in enumerate(seg.hand_sql()):
        assert same_members(compiled, result_frame(run(sql), seg)) is None, f"hand-written variant {i}"
    assert same_members(compiled, seg.pandas(frames)) is None, "pandas"


def test_same_members_detects_differences():
    import pandas as pd

    a = pd.DataFrame(index=pd.Index([1, 2, 3], name="customer_id"))
    assert same_members(a, pd.Index([3, 2, 1])) is None
    assert same_members(a, pd.Index([1, 2])) is not None
    b = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index([1, 2], name="customer_id"))
    assert same_members(b, b.assign(x=[1.0, 2.5])) == "column x differs"
    # a member listed twice is a difference (the same set of keys is not enough)
    problem = same_members(a, pd.Index([1, 2, 3, 3]))
    assert problem is not None and "1 duplicate rows right" in problem
    assert same_members(a, pd.Index([1, 2, 3, 3, 1])) is not None
    assert (
        same_members(b, pd.DataFrame({"x": [2.0, 1.0]}, index=pd.Index([2, 1], name="customer_id"))) is None
    )


def test_saved_segments_resolve_through_a_catalog(ws):
    """The bench workspace saves SAVED in a real catalog (no stand-in hook): in segment reads it there."""
    from bench.suite import SAVED

    assert set(ws.catalog.names()) >= set(SAVED)
    assert ws.count("in segment high_value") == ws.count(SAVED["high_value"]) > 0


def test_figures_and_report_run(ws, conn, frames, tmp_path):
    few = SUITE[:3]
    fig1 = F.compiled_vs_hand(ws, duckdb_runner(conn), "duckdb", TINY, rounds=1, suite=few)
    assert [r.segment for r in fig1] == [s.name for s in few] and all(r.ratio > 0 for r in fig1)
    refresh = F.refresh_all(ws, conn, TINY, rounds=1)  # checks shared == one-by-one members itself
    assert refresh.segments == len(SUITE) and refresh.shared_s > 0
    compile_rows = F.compile_times(ws, fig1, repeat=2)
    assert all(r.compile_ms > 0 and min(r.parse_ms, r.build_ms, r.sql_ms) > 0 for r in compile_rows)
    pandas_rows = F.versus_pandas(frames, ws, fig1, TINY, rounds=1)  # checks pandas == compiled itself
    assert [r.segment for r in pandas_rows] == [s.name for s in few]
    batch = F.batch_refresh(ws, conn, TINY, rounds=1, suite=few)  # checks shared == each query itself
    assert batch.segments == len(few) and batch.shared_s > 0
    results = {
        "fig1_duckdb": {"rows": F.as_records(fig1)},
        "fig2_pandas": {
            "rows": {
                "customers": TINY,
                "load_s": 0.5,
                "segments": F.as_records(pandas_rows),
                "batch": F.as_records(batch)[0],
            }
        },  # fmt: skip
        "fig3_refresh": {"rows": F.as_records(refresh)},
        "fig4_interactive": {
            "rows": {
                "counts": F.as_records(F.interactive_counts(ws, TINY, 1)),
                "compile_customers": TINY,
                "compile": F.as_records(compile_rows),
            }
        },  # fmt: skip
    }
    write_report(json.loads(json.dumps(results, default=str)), tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "| 1. compiled / fastest hand-written SQL, duckdb 3k (3 segments)" in md
    assert "whole suite as a batch (load once + every segment vs one shared refresh of all 3)" in md
    assert "| per segment: 3 separate queries" in md and "| whole suite as a batch: one shared refresh" in md
    assert "(suite wall time: parse " in md and "| parse / compile / SQL text ms |" in md
    assert all(r.clock == "wall" for r in compile_rows)
    # each figure says when and at which commit it was measured (older results: not recorded)
    assert "| figure | measured at | commit |" in md
    assert "| 1. compiled vs hand-written, DuckDB | not recorded | not recorded (measured before" in md
    results["fig3_refresh"].update(measured_at="2025-07-01T10:00:00", commit="abc1234")
    write_report(json.loads(json.dumps(results, default=str)), tmp_path)
    assert "| 3. refresh-all | 2025-07-01 10:00:00 | abc1234 |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "fig1_vs_hand.png").stat().st_size > 1000


def test_memory_probe_in_subprocess(data_dir):
    row = run_case("download", TINY, "age >= 40")  # one case: each probe is a fresh interpreter
    assert 0 < row["rows"] < TINY and row["csv_mb"] > 0 and row["peak_above_idle_mb"] >= 0


def test_loglog_slope():
    assert loglog_slope([1e5, 1e6, 1e7], [1, 10, 100]) == pytest.approx(1.0)
    assert loglog_slope([1e5, 1e6], [2, 2]) == pytest.approx(0.0)
