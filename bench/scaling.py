"""DuckDB from 100k customers up: time, peak memory and spilling of the whole suite, for docs/scaling.md.

    python -m bench.scaling --scales 100000,1000000,10000000 --limits none,1GB

Each (scale, memory limit) runs in a fresh process on the cached demo database (bench/data.py), with
DuckDB's ``memory_limit`` set (``none``: DuckDB's default, 80% of RAM) and ``temp_directory`` in a
directory of its own. Two workloads, one after the other:

- counts: every count segment of bench/suite.py, one query each (what a notebook session does);
- refresh: the shared refresh's one query (``refresh.combined_select``: every segment's flag in one
  scope) written to a table, as ``ws.refresh()`` does.

For each: wall time, peak resident memory above the idle process (``VmHWM`` reset before the workload)
and the most DuckDB wrote to its temporary directory at once (sampled every 20 ms: spilling). One
JSON line per case; ``--markdown`` prints them as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from jupyter_segments.errors import SegmentError
from jupyter_segments.refresh import combined_select

from .data import ANCHOR, open_db
from .harness import workspace
from .memory import _reset_peak, _status_kb
from .suite import SUITE


class _SpillWatch:
    """The largest total size of the files under ``directory`` while it runs."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.peak, self._stop = directory, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            total = 0
            for root, _dirs, files in os.walk(self.directory):
                for f in files:
                    try:
                        total += os.path.getsize(os.path.join(root, f))
                    except OSError:
                        pass  # removed while we looked
            self.peak = max(self.peak, total)

    def __enter__(self) -> _SpillWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(
    customers: int, limit: str, workloads: tuple[str, ...] = ("counts", "refresh")
) -> list[dict[str, Any]]:
    spill_dir = Path(tempfile.mkdtemp(prefix="js_spill_", dir=os.environ.get("BENCH_SPILL_DIR")))
    conn = open_db(customers)
    if limit != "none":
        conn.execute(f"SET memory_limit = '{limit}'")
    conn.execute(f"SET temp_directory = '{spill_dir}'")
    conn.execute("SET preserve_insertion_order = false")  # as a refresh needs no order
    ws = workspace(conn)
    ws.model.customer_entity()
    segments = [s for s in SUITE if not s.projections]
    rows = []

    def run_workload(workload: str) -> int:
        if workload == "counts":
            return sum(ws.count(s.dsl, as_of=ANCHOR) for s in segments)
        select = combined_select(ws.session, [ws.parse(s.dsl) for s in segments], ANCHOR)
        # A temporary table: the demo file is opened read-only (DuckDB spills it like any table).
        conn.execute(f"CREATE OR REPLACE TEMP TABLE flags AS {select.sql(dialect='duckdb')}")
        return conn.execute("SELECT COUNT(*) FROM flags").fetchone()[0]

    try:
        for workload in workloads:
            idle = _status_kb("VmRSS")
            _reset_peak()
            t = time.perf_counter()
            error = None
            with _SpillWatch(spill_dir) as watch:
                try:
                    members = run_workload(workload)
                except (duckdb.OutOfMemoryException, SegmentError) as e:  # too low even with spilling
                    if "Out of Memory" not in str(e):
                        raise
                    members, error = 0, str(e).splitlines()[0][:120]
            rows.append(
                {
                    "customers": customers,
                    "memory_limit": limit,
                    "workload": workload,
                    "segments": len(segments),
                    "rows": int(members),
                    "seconds": round(time.perf_counter() - t, 2),
                    "peak_above_idle_mb": round((_status_kb("VmHWM") - idle) / 1024, 1),
                    "spilled_mb": round(watch.peak / 2**20, 1),
                    "error": error,
                }
            )
    finally:
        conn.close()
        shutil.rmtree(spill_dir, ignore_errors=True)
    return rows


def run(scales: list[int], limits: list[str], workloads: str = "counts,refresh") -> list[dict[str, Any]]:
    """Every (scale, limit) in a fresh process (so that earlier cases do not count in its peak)."""
    out = []
    for n in scales:
        for limit in limits:
            done = subprocess.run(
                [sys.executable, "-m", "bench.scaling", "--one", f"{n}:{limit}", "--workloads", workloads],
                capture_output=True,
                text=True,
                check=True,
            )
            for line in done.stdout.strip().splitlines():
                out.append(json.loads(line))
                print(line, flush=True)
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    header = [
        "| customers | memory_limit | workload | s | peak above idle MB | spilled MB | note |",
        "|---|---|---|---|---|---|---|",
    ]
    body = [
        f"| {r['customers']:,} | {r['memory_limit']} | {r['workload']} | {r['seconds']} | "
        f"{r['peak_above_idle_mb']} | {r['spilled_mb']} | {r.get('error') or ''} |"
        for r in rows
    ]
    return "\n".join([*header, *body])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", default="100000,1000000,10000000")
    p.add_argument("--limits", default="none,1GB")
    p.add_argument("--workloads", default="counts,refresh")
    p.add_argument("--one", help="scale:limit, in this process (used by the parent)")
    a = p.parse_args()
    if a.one:
        n, limit = a.one.split(":")
        for row in measure(int(n), limit, tuple(a.workloads.split(","))):
            print(json.dumps(row))
        return
    rows = run([int(s) for s in a.scales.split(",")], a.limits.split(","), a.workloads)
    print(markdown(rows))


if __name__ == "__main__":
    main()
