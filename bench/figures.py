"""The six figures. Each function measures one figure in the current process and returns plain rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import pandas as pd
from sqlglot import exp

from jupyter_segments.bind import bind
from jupyter_segments.compile import build_query
from jupyter_segments.compile.compiler import Options
from jupyter_segments.dsl import parse
from jupyter_segments.refresh import combined_select
from jupyter_segments.session import as_datetime
from jupyter_segments.workspace import Workspace

from .data import ANCHOR
from .harness import Runner, compiled_sql, result_frame, same_members, time_interleaved
from .suite import PANDAS_TABLES, SUITE, Segment


# --- figure 1: compiled vs hand-written ---------------------------------------------------------------
@dataclass
class VsHand:
    database: str
    customers: int
    segment: str
    members: int
    compiled_s: float
    hand_s: float
    best_variant: int  # index into Segment.sql of the fastest hand-written variant
    ratio: float  # compiled / fastest hand-written


def compiled_vs_hand(
    ws: Workspace, run: Runner, database: str, customers: int, rounds: int, suite: Sequence[Segment] = SUITE
) -> list[VsHand]:
    """Figure 1. Every candidate's result is checked against the compiled SQL's before it is timed."""
    rows = []
    for seg in suite:
        compiled = compiled_sql(ws, seg, dialect="postgres" if database == "postgres" else None)
        reference = result_frame(run(compiled), seg)  # also the warm-up run
        candidates = {"compiled": compiled}
        for i, sql in enumerate(seg.hand_sql()):
            problem = same_members(reference, result_frame(run(sql), seg))
            if problem:
                raise AssertionError(
                    f"{seg.name}: hand-written variant {i} differs from the compiled SQL: {problem}"
                )
            candidates[f"hand{i}"] = sql
        timings = time_interleaved({k: (lambda s=s: run(s)) for k, s in candidates.items()}, rounds)
        hand = {k: t.best for k, t in timings.items() if k != "compiled"}
        best = min(hand, key=hand.__getitem__)
        rows.append(
            VsHand(
                database,
                customers,
                seg.name,
                len(reference),
                timings["compiled"].best,
                hand[best],
                int(best[4:]),
                timings["compiled"].best / hand[best],
            )  # fmt: skip
        )
    return rows


def compiled_only(ws: Workspace, run: Runner, customers: int, rounds: int) -> list[dict[str, Any]]:
    """Figure 6 at scales too big for figure 1's interleaved comparison: the compiled SQL alone."""
    rows = []
    for seg in SUITE:
        sql = compiled_sql(ws, seg)
        run(sql)  # warm-up: the first run also reads the table from disk
        t = time_interleaved({"compiled": lambda s=sql: run(s)}, rounds)["compiled"]
        rows.append({"customers": customers, "segment": seg.name, "compiled_s": t.best})
    return rows


# --- figure 2: pandas ----------------------------------------------------------------------------------
@dataclass
class VsPandas:
    customers: int
    segment: str
    pandas_s: float  # compute only (tables already loaded)
    compiled_s: float
    ratio_excl: float  # pandas / compiled


def load_frames(conn: duckdb.DuckDBPyConnection) -> tuple[dict[str, pd.DataFrame], float]:
    """Every table as a DataFrame (the fastest way out of the database: DuckDB -> Arrow -> pandas)."""
    t = time.perf_counter()
    frames = {table: conn.sql(f"SELECT * FROM {table}").df() for table in PANDAS_TABLES}
    return frames, time.perf_counter() - t


def versus_pandas(
    frames: dict[str, pd.DataFrame], ws: Workspace, fig1: list[VsHand], customers: int, rounds: int
) -> list[VsPandas]:
    """Figure 2 (loading is timed once by ``load_frames``). Pandas results are checked too."""
    compiled = {r.segment: r.compiled_s for r in fig1}
    rows = []
    for seg in (s for s in SUITE if s.name in compiled):
        reference = result_frame(ws.backend.connection.sql(compiled_sql(ws, seg)).to_arrow_table(), seg)
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            out = seg.pandas(frames)
            times.append(time.perf_counter() - t)
        problem = same_members(reference, out)
        if problem:
            raise AssertionError(f"{seg.name}: the pandas version differs from the compiled SQL: {problem}")
        rows.append(
            VsPandas(customers, seg.name, min(times), compiled[seg.name], min(times) / compiled[seg.name])
        )
    return rows


@dataclass
class Batch:
    """Figure 2's batch side: the whole suite refreshed at once (the same work figure 3 calls shared)."""

    customers: int
    segments: int
    shared_s: float  # one shared query + one cut per segment, members written to tables
    how: str


def batch_refresh(
    ws: Workspace,
    conn: duckdb.DuckDBPyConnection,
    customers: int,
    rounds: int,
    suite: Sequence[Segment] = SUITE,
) -> Batch:
    """Figure 2, whole suite as a batch: one shared refresh of every segment (figure 3's shared side).

    Timed here rather than taken from figure 3: figure 3 may run at another scale (``--interactive-scale``)
    or not at all (``--figures 2``), and results.json keeps older runs' figures, so borrowing its number
    could pair measurements from different runs. Members are checked against each segment's own query.
    """
    trees = [parse(seg.dsl) for seg in suite]
    shared, how = _shared_refresh(ws, conn, trees)
    shared()  # warm-up, and the members to check
    for i, tree in enumerate(trees):
        _check_same(
            conn, f"s_{i}", ws.query(tree, shape="keys", as_of=ANCHOR).sql(dialect="duckdb"), suite[i]
        )
    t = time_interleaved({"shared": shared}, rounds)["shared"]
    _drop(conn, "s", len(trees))
    return Batch(customers, len(trees), t.best, how)


# --- figure 3: refresh-all ----------------------------------------------------------------------------
@dataclass
class Refresh:
    customers: int
    segments: int
    one_by_one_s: float
    shared_s: float
    ratio: float
    how: str


def _combined_select(ws: Workspace, trees: list) -> tuple[exp.Select, str]:
    """The engine's one-query-for-all-segments select (``refresh.combined_select``)."""
    return combined_select(ws.session, trees, ANCHOR), "jupyter_segments.refresh.combined_select"


def _shared_refresh(
    ws: Workspace, conn: duckdb.DuckDBPyConnection, trees: list
) -> tuple[Callable[[], None], str]:
    """The shared side of a refresh: the engine's combined query into ``flags``, then ``s_i`` per segment."""
    combined, how = _combined_select(ws, trees)
    combined_sql = combined.sql(dialect="duckdb")
    key = ws.model.customer_entity().key

    def shared() -> None:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE flags AS {combined_sql}")
        for i in range(len(trees)):
            conn.execute(f"CREATE OR REPLACE TEMP TABLE s_{i} AS SELECT {key} FROM flags WHERE f_{i} = 1")

    return shared, how


def _check_same(conn: duckdb.DuckDBPyConnection, table: str, other: str, seg: Segment) -> None:
    diff = conn.execute(
        f"SELECT (SELECT count(*) FROM (SELECT * FROM {table} EXCEPT SELECT * FROM ({other}))) + "
        f"(SELECT count(*) FROM (SELECT * FROM ({other}) EXCEPT SELECT * FROM {table}))"
    ).fetchone()[0]
    if diff:
        raise AssertionError(f"shared refresh differs for {seg.name}")


def _drop(conn: duckdb.DuckDBPyConnection, prefix: str, n: int) -> None:
    for i in range(n):
        conn.execute(f"DROP TABLE IF EXISTS {prefix}_{i}")
    conn.execute("DROP TABLE IF EXISTS flags")


def refresh_all(ws: Workspace, conn: duckdb.DuckDBPyConnection, customers: int, rounds: int) -> Refresh:
    """Figure 3: materialize every suite segment's members, one query each vs one shared query.

    Both sides write each segment's member keys to a table (TEMP tables: the demo file is opened
    read-only), which is the database work of a refresh; the catalog's bookkeeping is not timed.
    """
    trees = [parse(seg.dsl) for seg in SUITE]
    singles = [ws.query(t, shape="keys", as_of=ANCHOR).sql(dialect="duckdb") for t in trees]
    shared, how = _shared_refresh(ws, conn, trees)

    def one_by_one() -> None:
        for i, sql in enumerate(singles):
            conn.execute(f"CREATE OR REPLACE TEMP TABLE m_{i} AS {sql}")

    one_by_one(), shared()  # warm-up, and check both give the same members
    for i in range(len(trees)):
        _check_same(conn, f"s_{i}", f"SELECT * FROM m_{i}", SUITE[i])
    t = time_interleaved({"one": one_by_one, "shared": shared}, rounds)
    _drop(conn, "m", len(trees))
    _drop(conn, "s", len(trees))
    return Refresh(
        customers, len(trees), t["one"].best, t["shared"].best, t["one"].best / t["shared"].best, how
    )


# --- figure 4: interactive -------------------------------------------------------------------------------
@dataclass
class Interactive:
    customers: int
    segment: str
    count_s: float  # ws.count after an edit: parse + compile + run
    count_star_s: float  # SELECT COUNT(*) FROM customers
    ratio: float


def interactive_counts(ws: Workspace, customers: int, rounds: int) -> list[Interactive]:
    """Figure 4a: the builder's count after an edit (``ws.count``) vs one COUNT(*) of the customer table."""
    count_star = "SELECT COUNT(*) FROM customers"
    rows = []
    for seg in SUITE:
        t = time_interleaved(
            {
                "count": lambda s=seg: ws.count(s.dsl, as_of=ANCHOR),
                "star": lambda: ws.backend.scalar(count_star),
            },
            rounds,
        )
        rows.append(
            Interactive(
                customers, seg.name, t["count"].best, t["star"].best, t["count"].best / t["star"].best
            )
        )
    return rows


@dataclass
class CompileTime:
    segment: str
    compile_ms: float  # parse + compile + generate SQL text, wall time, mean of many in the best batch
    eval_ms: float  # compiled SQL's run time at this scale (figure 1: wall time, best of the rounds)
    share: float  # compile / evaluation: both wall-clock times, each the best of several
    # The same time by step, each timed on its own (so they add up to about compile_ms):
    # parse = jupyter_segments.dsl.parse (text -> definition tree); build = build_query (definition ->
    # sqlglot tree; referenced segments are parsed here); sql = .sql(dialect=..., copy=False) (tree -> SQL
    # text, each run on a freshly built tree).
    parse_ms: float = float("nan")
    build_ms: float = float("nan")
    sql_ms: float = float("nan")
    clock: str = "wall"  # how compile_ms and eval_ms were measured (results before this field: thread CPU)


_BATCHES = 3


def _wall_ms(fn: Callable[[], Any], repeat: int, batches: int = _BATCHES) -> float:
    """Mean wall-clock time of ``fn`` in the fastest of ``batches`` batches of ``repeat`` calls.

    Wall time, as the evaluation it is compared with (figure 1 times a query's wall time: DuckDB runs
    it on several threads, so no thread's CPU time measures it). The fastest batch drops the ones that
    other processes, or DuckDB's workers finishing the previous figure's queries, slowed down.
    """
    fn()  # warm caches
    best = float("inf")
    for _ in range(batches):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t) / repeat * 1000)
    return best


def compile_times(ws: Workspace, fig1: list[VsHand], repeat: int = 200) -> list[CompileTime]:
    """Figure 4b: parse + compile + generate per definition (the model is already loaded, as in a session)."""
    evals = {r.segment: r.compiled_s for r in fig1}
    options = Options(dialect=ws.dialect, as_of=as_datetime(ANCHOR))
    source = ws.session._segment_source
    rows = []
    for seg in (s for s in SUITE if s.name in evals):
        shape = "members" if seg.projections else "keys"
        # As the workspace does it (ws.count, ws.compile): parse, build_query, SQL text without copying
        # the fresh tree first (sqlglot's default deep copy was ~15% of the compile time).
        ms = _wall_ms(lambda s=seg, sh=shape: ws.session._sql(s.dsl, sh, ANCHOR, None, None), repeat)
        tree = parse(seg.dsl)
        parse_ms = _wall_ms(lambda s=seg: parse(s.dsl), repeat)
        # build = bind (names and types) + build_query (the SQL shape)
        build_ms = _wall_ms(
            lambda t=tree, sh=shape: build_query(ws.model, bind(ws.model, t, source), options, sh), repeat
        )
        bound = bind(ws.model, tree, source)
        # Each generation gets a tree of its own (built beforehand, untimed): without a copy it may
        # change the tree it generates from.
        fresh = iter([build_query(ws.model, bound, options, shape) for _ in range(_BATCHES * repeat + 1)])
        sql_ms = _wall_ms(lambda f=fresh: next(f).sql(dialect=ws.dialect, copy=False), repeat)
        ev = evals[seg.name] * 1000
        rows.append(CompileTime(seg.name, ms, ev, ms / ev, parse_ms, build_ms, sql_ms))
    return rows


def as_records(rows: Any) -> list[dict[str, Any]]:
    return [asdict(r) for r in (rows if isinstance(rows, list) else [rows])]
