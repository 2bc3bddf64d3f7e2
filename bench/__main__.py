"""Run the benchmarks and write bench/results/results.md, results.json and the PNG figures.

    python -m bench                                  # 100k, 1M, 10M; PostgreSQL at 100k
    python -m bench --scales 100000,1000000 --quick  # fewer rounds, smaller scales
    python -m bench --figures 1,5                    # only some figures (others keep their last results)
    python -m bench --figures 7 --spark-scales 1000000   # Spark local (bench/spark.py; PySpark and Java 17)
    python -m bench --figures 8                      # the builder: edit to count shown (bench/builder_latency.py)
    python -m bench --figures 9 --tpcds-sf 1         # TPC-DS shapes on DuckDB and PostgreSQL (bench/tpcds.py)
    python -m bench --figures 10                     # MariaDB and SQLite without/with the advised indexes (bench/noindex.py)

Demo databases are generated on first use and cached under bench/results/ (10M: ~8 min, ~5.4 GB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from . import builder_latency, estimates, tpcds
from . import figures as F
from .data import RESULTS, open_db
from .harness import duckdb_runner, postgres_runner, workspace
from .memory import run_case
from .report import write_report

# Segments for figure 5: an attribute filter and an aggregate for the preview; ~55% of customers
# (5.5M at 10M) for the download.
PREVIEWS = ("age >= 40", "sum(orders.amount) >= 1000")
DOWNLOAD = "age >= 40"


def _commit() -> str:
    """The measured code's git commit (``COMMIT`` file in an exported snapshot), or '?'."""
    root = Path(__file__).resolve().parent.parent
    if (root / "COMMIT").exists():
        return (root / "COMMIT").read_text().strip()
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def _rounds(customers: int, quick: bool) -> int:
    if quick:
        return 1
    return 5 if customers <= 100_000 else 3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--scales", default="100000,1000000,10000000", help="customer counts, comma-separated")
    p.add_argument("--quick", action="store_true", help="one timed round per candidate")
    p.add_argument("--figures", default="1,2,3,4,5,6,7", help="which figures to measure")
    p.add_argument(
        "--hand-max",
        type=int,
        default=1_000_000,
        help="above this scale only the compiled SQL is timed (fig. 6)",
    )
    p.add_argument("--pg-scale", type=int, default=100_000, help="PostgreSQL scale for figure 1 (0: skip)")
    p.add_argument("--pandas-scale", type=int, default=1_000_000)
    p.add_argument("--interactive-scale", type=int, default=1_000_000)
    p.add_argument("--spark-scales", default="1000000", help="figure 7 (Spark local): customer counts")
    p.add_argument(
        "--builder-scales", default="100000,1000000", help="figure 8 (builder: edit to count shown): scales"
    )
    p.add_argument(
        "--estimate-scales", default="1000000,10000000", help="figure 11 (instant estimates): scales"
    )
    p.add_argument("--spark-timeout", type=float, default=600.0, help="figure 7: seconds per query at most")
    p.add_argument("--tpcds-sf", type=float, default=1, help="figure 9 (TPC-DS shapes): scale factor")
    p.add_argument(
        "--noindex-scale",
        type=int,
        default=20_000,
        help="figure 10 (MariaDB, SQLite without indexes): customers",
    )
    p.add_argument(
        "--noindex-timeout", type=float, default=120.0, help="figure 10: seconds per query at most"
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    scales = sorted(int(s) for s in args.scales.split(","))
    wanted = {int(f) for f in args.figures.split(",")}
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "results.json"
    results: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    commit = _commit()

    saved: set[str] = set()  # the sections this run measured

    def save(section: str, value: Any) -> None:
        # Each figure keeps when and at which commit it was measured: a partial re-run (--figures)
        # keeps the other figures from earlier runs, and the report says which run each comes from.
        # Another run may have saved its figures since this one started: keep them too.
        if store.exists():
            results.update({k: v for k, v in json.loads(store.read_text()).items() if k not in saved})
        saved.add(section)
        results[section] = {
            "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
            "commit": commit,
            "rows": value,
        }
        results["machine"] = {
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
        }
        store.write_text(json.dumps(results, indent=1, default=str))
        write_report(results, args.out)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    fig1_by_scale: dict[int, list[F.VsHand]] = {}
    if wanted & {1, 2, 4, 6}:
        big: list[dict[str, Any]] = []
        for n in scales:
            conn = open_db(n)
            ws = workspace(conn)
            if n <= args.hand_max:
                log(f"figure 1: DuckDB, {n:,} customers")
                fig1_by_scale[n] = F.compiled_vs_hand(
                    ws, duckdb_runner(conn), "duckdb", n, _rounds(n, args.quick)
                )
            else:
                log(f"figure 6: compiled SQL only, {n:,} customers")
                big += F.compiled_only(ws, duckdb_runner(conn), n, 1)
            conn.close()
        save("fig1_duckdb", F.as_records(sum(fig1_by_scale.values(), [])))
        if big:
            save("fig6_large", big)
    if 1 in wanted and args.pg_scale:
        import psycopg

        from .pg import ensure_pg

        log(f"figure 1: PostgreSQL, {args.pg_scale:,} customers")
        url = ensure_pg(args.pg_scale)
        # Connected to PostgreSQL itself, as a user would be: the model then knows its FOREIGN KEYs.
        ws = workspace(url.replace("postgresql://", "postgresql+psycopg://"))
        with psycopg.connect(url, autocommit=True) as pg:
            rows = F.compiled_vs_hand(
                ws, postgres_runner(pg), "postgres", args.pg_scale, 1 if args.quick else 3
            )
        save("fig1_postgres", F.as_records(rows))
    if 2 in wanted and args.pandas_scale in fig1_by_scale:
        n = args.pandas_scale
        log(f"figure 2: pandas, {n:,} customers")
        conn = open_db(n)
        # The batch side first, so the shared refresh does not run while the DataFrames fill memory.
        batch = F.batch_refresh(workspace(conn), conn, n, 1 if args.quick else 3)
        frames, load_s = F.load_frames(conn)
        rows = F.versus_pandas(frames, workspace(conn), fig1_by_scale[n], n, 1 if args.quick else 3)
        del frames
        section = {
            "customers": n,
            "load_s": load_s,
            "segments": F.as_records(rows),
            "batch": F.as_records(batch)[0],
        }
        try:  # polars and ibis are the bench extra: without them figure 2 is pandas only
            from . import peers
        except ImportError as e:
            log(f"figure 2: no polars / ibis ({e}); pip install -e '.[bench]'")
        else:
            log(f"figure 2: polars and ibis, {n:,} customers")
            lazy, polars_load_s = peers.load_polars(conn)
            peer_rows = peers.versus_peers(lazy, conn, workspace(conn), n, 1 if args.quick else 3)
            del lazy
            section["peers"] = {"polars_load_s": polars_load_s, "segments": F.as_records(peer_rows)}
        save("fig2_pandas", section)
    if 3 in wanted:
        n = args.interactive_scale if args.interactive_scale in scales else scales[-1]
        log(f"figure 3: refresh-all, {n:,} customers")
        conn = open_db(n)
        save("fig3_refresh", F.as_records(F.refresh_all(workspace(conn), conn, n, 1 if args.quick else 3)))
    if 4 in wanted:
        n = args.interactive_scale if args.interactive_scale in scales else scales[-1]
        log(f"figure 4: interactive counts, {n:,} customers")
        counts = F.interactive_counts(workspace(open_db(n)), n, 1 if args.quick else 3)
        small = scales[0]
        compile_rows = F.compile_times(
            workspace(open_db(small)), fig1_by_scale[small], 20 if args.quick else 200
        )
        save(
            "fig4_interactive",
            {
                "counts": F.as_records(counts),
                "compile_customers": small,
                "compile": F.as_records(compile_rows),
            },
        )
    if 5 in wanted:
        n = scales[-1]
        rows = []
        for definition in PREVIEWS:
            log(f"figure 5: preview memory, {n:,} customers, {definition}")
            rows.append(run_case("preview", n, definition))
        log(f"figure 5: download memory, {n:,} customers, {DOWNLOAD}")
        rows.append(run_case("download", n, DOWNLOAD))
        save("fig5_memory", rows)
    if 7 in wanted:
        from . import spark  # PySpark is optional: loaded only for figure 7

        spark_scales = [int(s) for s in args.spark_scales.split(",")]
        save(
            "fig7_spark",
            spark.section(spark_scales, 1 if args.quick else 3, "local[2]", args.spark_timeout, log),
        )
    if 8 in wanted:
        builder_scales = [int(s) for s in args.builder_scales.split(",")]
        save("fig8_builder", builder_latency.section(builder_scales, 1 if args.quick else 3, log))
    if 11 in wanted:
        estimate_scales = [int(s) for s in args.estimate_scales.split(",")]
        save("fig11_estimates", estimates.section(estimate_scales, 1 if args.quick else 3, log))
    if 10 in wanted:
        from . import noindex  # SQLAlchemy/PyMySQL and a MariaDB server: only for figure 10

        n = args.noindex_scale
        log(f"figure 10: MariaDB and SQLite without indexes, then with the advised ones, {n:,} customers")
        save("fig10_noindex", noindex.section(n, 1 if args.quick else 3, args.noindex_timeout, log))
    if 9 in wanted:
        log(f"figure 9: TPC-DS sf={args.tpcds_sf:g}, DuckDB and PostgreSQL")
        rounds = {"duckdb": 1, "postgres": 1} if args.quick else {"duckdb": 5, "postgres": 3}
        save("fig9_tpcds", tpcds.section(args.tpcds_sf, rounds, log))
    log(f"wrote {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
