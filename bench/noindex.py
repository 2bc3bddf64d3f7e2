"""Figure 10: the suite on MariaDB and SQLite over tables written by ``pandas.to_sql`` (no keys, no
indexes), then with the indexes ``ws.advise()`` proposes (issue 22).

Per database: the demo's tables go in with ``DataFrame.to_sql(index=False)``, as a data scientist's
would; the workspace models them as ``connect_demo`` does (relationships by name and declared). Each
segment's compiled SQL runs through the workspace's backend (MariaDB with the engine's per-statement
settings), best of ``rounds`` (one run when the first took over 5 s); then the advised
``CREATE INDEX`` statements run and the same SQL is timed again. The members must be the same both
times. The hand-written SQL of the suite (written for DuckDB and PostgreSQL) is timed beside it where
it runs on that database and gives the compiled SQL's members (its fastest such variant, with the
indexes; without them only when the compiled SQL took under 20 s). Queries are stopped after
``timeout`` seconds (MariaDB's max_statement_time, SQLite's interrupt) and recorded as such.

Scratch: MariaDB database ``js_advise_bench_<n>`` and a SQLite file under /dev/shm, both removed after.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from jupyter_segments import demo

from .data import open_db
from .harness import compiled_sql, geomean, result_frame, same_members, workspace
from .suite import SUITE, Segment

MARIADB = "mysql+pymysql://root@127.0.0.1:3306"
SCRATCH = Path("/dev/shm/js_advise")
SLOW = 5.0  # a first run slower than this is not repeated
HAND_WITHOUT_MAX = 20.0  # hand-written SQL is timed without indexes only when the compiled took less


def _mariadb(
    customers: int, frames: dict[str, pd.DataFrame], timeout: float
) -> tuple[Any, Callable[[], None]]:
    name = f"js_advise_bench_{customers}"
    admin = sa.create_engine(f"{MARIADB}/mysql", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        c.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    load = sa.create_engine(f"{MARIADB}/{name}")
    for table, frame in frames.items():
        frame.to_sql(table, load, index=False, chunksize=20_000)
    load.dispose()
    # every statement of the bench's connections stops after `timeout` seconds
    engine = sa.create_engine(
        f"{MARIADB}/{name}", connect_args={"init_command": f"SET SESSION max_statement_time={timeout:g}"}
    )

    def drop() -> None:
        engine.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()

    return engine, drop


def _sqlite(customers: int, frames: dict[str, pd.DataFrame]) -> tuple[str, Callable[[], None]]:
    import sqlite3

    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = SCRATCH / f"noindex_{customers}.db"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as c:
        for table, frame in frames.items():
            frame.to_sql(table, c, index=False, chunksize=20_000)
    return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)


def _runner(ws: Any, timeout: float) -> Callable[[str], pd.DataFrame | None]:
    """Run a query to its last row through the workspace's backend; None when stopped by the timeout."""
    backend = ws.backend
    sqlite = ws.dialect == "sqlite"

    def run(sql: str) -> pd.DataFrame | None:
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            backend.connection.interrupt()

        timer = threading.Timer(timeout, stop) if sqlite else None
        if timer:
            timer.start()
        try:
            return backend.query(sql)
        except KeyboardInterrupt:  # SQLite's interrupt on the main thread reads as Ctrl-C
            if fired.is_set():
                return None
            raise
        except Exception as e:  # noqa: BLE001 - a stopped query (interrupted, max_statement_time)
            text = str(e).lower()
            if "interrupt" in text or "max_statement_time" in text:
                return None
            raise
        finally:
            if timer:
                timer.cancel()

    return run


def _best(run: Callable[[str], Any], sql: str, rounds: int) -> tuple[float | None, Any]:
    """(best seconds or None if stopped, first result)."""
    t = time.perf_counter()
    first = run(sql)
    took = time.perf_counter() - t
    if first is None:
        return None, None
    times = [took]
    for _ in range(rounds - 1 if took < SLOW else 0):
        t = time.perf_counter()
        run(sql)
        times.append(time.perf_counter() - t)
    return min(times), first


def _hand(run: Callable[[str], Any], seg: Segment, reference: pd.DataFrame) -> str | None:
    """The hand-written variant that runs here and returns the compiled SQL's members, fastest of one
    run each; None if none does."""
    best: tuple[float, str] | None = None
    for sql in seg.hand_sql():
        t = time.perf_counter()
        try:
            got = run(sql)
        except Exception:  # noqa: BLE001 - written for DuckDB/PostgreSQL: may not parse here
            continue
        took = time.perf_counter() - t
        if got is None or same_members(reference, result_frame(got, seg)) is not None:
            continue
        if best is None or took < best[0]:
            best = (took, sql)
    return best[1] if best else None


def _database(
    kind: str,
    customers: int,
    frames: dict[str, pd.DataFrame],
    rounds: int,
    timeout: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    t = time.perf_counter()
    target, drop = _mariadb(customers, frames, timeout) if kind == "mariadb" else _sqlite(customers, frames)
    load_s = time.perf_counter() - t
    log(f"figure 10: {kind}, {customers:,} customers loaded by pandas.to_sql in {load_s:.0f} s")
    try:
        ws = workspace(target)
        run = _runner(ws, timeout)
        advice = ws.advise({seg.name: seg.dsl for seg in SUITE})
        rows: dict[str, dict[str, Any]] = {}
        results: dict[str, Any] = {}
        hand: dict[str, str | None] = {}
        for seg in SUITE:
            sql = compiled_sql(ws, seg)
            without, got = _best(run, sql, rounds)
            results[seg.name] = got
            row = rows[seg.name] = {"database": kind, "customers": customers, "segment": seg.name,
                                    "without_s": without, "hand_without_s": None, "hand_with_s": None}  # fmt: skip
            if got is not None and without is not None and without < HAND_WITHOUT_MAX:
                hand[seg.name] = _hand(run, seg, result_frame(got, seg))
                if hand[seg.name] is not None:
                    row["hand_without_s"] = _best(run, hand[seg.name], rounds)[0]
            log(
                f"  {kind} {seg.name}: without indexes {'stopped' if without is None else f'{without:.3f} s'}"
                + (
                    f", hand-written {row['hand_without_s']:.3f} s"
                    if row["hand_without_s"] is not None
                    else ""
                )
            )
        t = time.perf_counter()
        for index in advice.indexes:
            ws.backend.execute(index.statement)
        index_s = time.perf_counter() - t
        log(f"  {kind}: {len(advice.indexes)} indexes created in {index_s:.1f} s")
        for seg in SUITE:
            sql = compiled_sql(ws, seg)
            with_s, got = _best(run, sql, rounds)
            row = rows[seg.name]
            row["with_s"] = with_s
            row["indexes"] = sum(seg.name in i.segments for i in advice.indexes)
            if got is not None:
                before = results[seg.name]
                if before is not None:
                    problem = same_members(result_frame(before, seg), result_frame(got, seg))
                    if problem:
                        raise AssertionError(f"{kind} {seg.name}: members differ with indexes: {problem}")
                row["members"] = len(got)
                if seg.name not in hand:
                    hand[seg.name] = _hand(run, seg, result_frame(got, seg))
                if hand[seg.name] is not None:
                    row["hand_with_s"] = _best(run, hand[seg.name], rounds)[0]
            log(
                f"  {kind} {seg.name}: with indexes {'stopped' if with_s is None else f'{with_s:.3f} s'}"
                + (f", hand-written {row['hand_with_s']:.3f} s" if row["hand_with_s"] is not None else "")
            )
        ws.close()
        return {
            "database": kind,
            "customers": customers,
            "load_s": load_s,
            "index_s": index_s,
            "statements": [i.statement for i in advice.indexes],
            "rows": list(rows.values()),
        }
    finally:
        drop()


def section(customers: int, rounds: int, timeout: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Figure 10's results: per database the advised statements and per segment the times."""
    conn = open_db(customers)
    try:
        frames = demo.frames(conn)
    finally:
        conn.close()
    out = {"customers": customers, "timeout_s": timeout, "databases": []}
    for kind in ("sqlite", "mariadb"):
        out["databases"].append(_database(kind, customers, frames, rounds, timeout, log))
    if os.path.isdir(SCRATCH) and not any(SCRATCH.iterdir()):
        SCRATCH.rmdir()
    return out


# --- report -------------------------------------------------------------------------------------------


def _fmt(v: float | None) -> str:
    return "stopped" if v is None else f"{v:.3f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / max(b, 1e-9)


def summary(section: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, met) rows: per database the geomean of without/with over the suite."""
    out = []
    for db in (section or {}).get("databases", []):
        rows = db["rows"]
        done = [r for r in rows if r["without_s"] is not None and r["with_s"] is not None]
        stopped = [r["segment"] for r in rows if r["without_s"] is None]
        speedups = [r["without_s"] / max(r["with_s"], 1e-9) for r in done]
        slower = [r for r in done if r["with_s"] > 1.3 * r["without_s"] and r["with_s"] > 0.05]
        out.append(
            (
                f"10. {db['database']} {db['customers']:,} customers, pandas.to_sql tables: without / with the "
                f"{len(db['statements'])} advised indexes ({len(rows)} segments)",
                f"geomean {geomean(speedups):.2f}x faster with them (max {max(speedups):.1f}x); "
                f"{len(stopped)} stopped at {section['timeout_s']:g} s without ({', '.join(stopped) or 'none'}); "
                f"{len(slower)} slower by > 1.3x with them",
                "informational (issue 22 sets no target)",
                "n/a",
            )
        )
    return out


def markdown(section: dict[str, Any]) -> list[str]:
    parts = [
        "## 10. Databases without indexes: MariaDB and SQLite, then with the indexes ws.advise() proposes",
        "",
        f"The demo at {section['customers']:,} customers written by `pandas.to_sql(index=False)` (no keys, no "
        "indexes). Compiled SQL of each suite segment through the workspace (MariaDB with the engine's "
        "per-statement settings), best of 3 (one run above 5 s), seconds; then the statements of "
        f"`ws.advise()` run and the same SQL timed again. Queries stopped after {section['timeout_s']:g} s. "
        "Hand-written SQL (the suite's, written for DuckDB/PostgreSQL) where it runs there and gives the "
        "same members; without indexes only when the compiled SQL took under 20 s. bench/noindex.py.",
    ]
    for db in section["databases"]:
        parts += [
            "",
            f"### {db['database']}: loaded in {db['load_s']:.0f} s; indexes created in {db['index_s']:.1f} s",
            "",
            "```sql",
            *(f"{s};" for s in db["statements"]),
            "```",
            "",
        ]
        table = []
        for r in db["rows"]:
            ratio = _ratio(r["without_s"], r["with_s"])
            table.append(
                [
                    r["segment"],
                    r.get("indexes", ""),
                    _fmt(r["without_s"]),
                    _fmt(r["with_s"]),
                    "" if ratio is None else f"{ratio:.2f}",
                    "" if r.get("hand_without_s") is None else f"{r['hand_without_s']:.3f}",
                    "" if r.get("hand_with_s") is None else f"{r['hand_with_s']:.3f}",
                ]
            )
        header = ["segment", "indexes used", "without (s)", "with (s)", "without / with",
                  "hand-written without (s)", "hand-written with (s)"]  # fmt: skip
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "---|" * len(header))
        parts += ["| " + " | ".join(str(c) for c in row) + " |" for row in table]
    return parts
