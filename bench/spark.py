"""The bench suite on Spark local: compiled SQL against the hand-written SQL, and DuckDB on the same data.

    python -m bench.spark --scales 100000,1000000 [--rounds 3] [--master local[2]]

For each scale the cached demo database (bench/data.py) is written to Parquet by DuckDB and read by a
local Spark session as tables of its own database (``js_bench``), cached in memory first (as a
user who queries them repeatedly would). Each segment's member count is then timed, best of
``--rounds``, for:

- the compiled SQL (``ws.count``: the count shape the engine sends);
- the fastest hand-written SQL of bench/suite.py (``SELECT COUNT(*) FROM (<hand>)``), where it runs on
  Spark as written (the suite's SQL is written for DuckDB/PostgreSQL; the ones Spark rejects are left
  out and listed);
- DuckDB's compiled SQL on the same demo file, for scale.

Counts must agree between all of them. Prints a Markdown table; no result file is written. Ratios are
only meaningful within one run on one machine.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

from jupyter_segments import Workspace, demo
from jupyter_segments.backends import open_backend

from .data import ANCHOR, open_db
from .suite import SAVED, SUITE

DATABASE = "js_bench"


def _best(fn, rounds: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _spark(master: str, directory: Path):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master)
        .appName("jupyter-segments-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.warehouse.dir", str(directory / "warehouse"))
        .config("spark.local.dir", str(directory / "local"))
        .config("spark.sql.catalogImplementation", "in-memory")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _workspace(backend) -> Workspace:
    ws = Workspace(backend)
    demo.declare_model(ws.model)
    ws.session.segment_source = SAVED.__getitem__
    return ws


def run(scales: list[int], rounds: int, master: str) -> None:
    directory = Path(tempfile.mkdtemp(prefix="js_bench_spark_"))
    spark = _spark(master, directory)
    try:
        for scale in scales:
            conn = open_db(scale)
            t = time.perf_counter()
            spark.sql(f"DROP DATABASE IF EXISTS {DATABASE} CASCADE")
            spark.sql(f"CREATE DATABASE {DATABASE}")
            spark.catalog.setCurrentDatabase(DATABASE)
            for table in demo.TABLES:
                path = directory / f"{table}_{scale}.parquet"
                conn.execute(f"COPY {table} TO '{path}' (FORMAT parquet)")
                spark.read.parquet(str(path)).createOrReplaceTempView(table)
                spark.catalog.cacheTable(table)
                spark.table(table).count()  # fill the cache now, not in the first timed query
            load = time.perf_counter() - t
            spark_ws = _workspace(open_backend(spark))
            duck_ws = _workspace(open_backend(conn))
            print(f"\n### {scale:,} customers, Spark {master} (load + cache {load:.1f} s), {rounds} rounds\n")
            print(
                "| segment | Spark compiled s | Spark hand s | compiled / hand | DuckDB compiled s | Spark / DuckDB |"
            )
            print("|---|---|---|---|---|---|")
            ratios, vs_duck, skipped = [], [], []
            for seg in SUITE:
                if seg.projections:
                    continue  # counts only: the projection segments are timed as members elsewhere
                t_c, n_c = _best(lambda seg=seg, ws=spark_ws: ws.count(seg.dsl, as_of=ANCHOR), rounds)
                t_d, n_d = _best(lambda seg=seg, ws=duck_ws: ws.count(seg.dsl, as_of=ANCHOR), rounds)
                hand_times = []
                for sql in seg.hand_sql():
                    try:
                        t_h, n_h = _best(
                            lambda sql=sql, ws=spark_ws: ws.backend.scalar(
                                f"SELECT COUNT(*) FROM ({sql}) AS t"
                            ),
                            rounds,
                        )
                    except Exception:  # noqa: BLE001 - DuckDB/PostgreSQL-only syntax: not Spark SQL
                        continue
                    assert int(n_h) == n_c, (seg.name, n_h, n_c)
                    hand_times.append(t_h)
                assert n_c == n_d, (seg.name, n_c, n_d)
                hand = min(hand_times) if hand_times else None
                if hand is None:
                    skipped.append(seg.name)
                else:
                    ratios.append(t_c / hand)
                vs_duck.append(t_c / t_d)
                print(
                    f"| {seg.name} | {t_c:.3f} | {'-' if hand is None else f'{hand:.3f}'} | "
                    f"{'-' if hand is None else f'{t_c / hand:.2f}'} | {t_d:.3f} | {t_c / t_d:.1f} |"
                )
            gm = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float("nan")
            gd = math.exp(sum(map(math.log, vs_duck)) / len(vs_duck))
            print(
                f"\ncompiled / hand-written on Spark, geometric mean over {len(ratios)} segments: {gm:.3f} "
                f"(max {max(ratios):.2f}); Spark / DuckDB geometric mean: {gd:.1f}x"
                + (f"; no hand-written SQL that Spark runs: {', '.join(skipped)}" if skipped else "")
            )
            for table in demo.TABLES:
                spark.catalog.uncacheTable(table)
            conn.close()
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {DATABASE} CASCADE")
        spark.stop()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", default="100000,1000000")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--master", default="local[2]")
    a = p.parse_args()
    run([int(s) for s in a.scales.split(",")], a.rounds, a.master)


if __name__ == "__main__":
    main()
