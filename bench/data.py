"""Demo databases for the benchmarks, generated once per scale and cached as DuckDB files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from jupyter_segments import demo

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 7
# A fixed anchor: every run (and every scale) sees the same data, so "in last 90 days" is stable.
ANCHOR = dt.date(2025, 6, 30)


def data_dir() -> Path:
    """Where the cached databases live: ``$BENCH_DATA_DIR`` (the smoke test's temp dir) or bench/results."""
    return Path(os.environ.get("BENCH_DATA_DIR") or RESULTS)


def db_path(customers: int) -> Path:
    return data_dir() / f"demo_{customers}.duckdb"


def ensure_db(customers: int) -> Path:
    """The cached demo DuckDB file for ``customers`` (generated on first use; ~3 s per 100k rows)."""
    path = db_path(customers)
    done = path.with_suffix(".ok")  # written last, so a killed generation is not mistaken for a cache
    if path.exists() and done.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = demo.generate(customers, seed=SEED, anchor=ANCHOR, path=str(path))
    conn.close()
    done.write_text(f"customers={customers} seed={SEED} anchor={ANCHOR}\n")
    return path


def open_db(customers: int, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to the cached demo database (read-only: several processes may share it)."""
    return duckdb.connect(str(ensure_db(customers)), read_only=read_only)


if __name__ == "__main__":
    import sys
    import time

    for n in map(int, sys.argv[1:]):
        t = time.perf_counter()
        print(n, ensure_db(n), f"{time.perf_counter() - t:.1f}s", flush=True)
