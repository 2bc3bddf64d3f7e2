"""Large static segments: ``in segment <static>`` as a semi-join on the stored members table (now) against
the list of values it was before, and against a hand-written semi-join on a keys table, in the same run.

    python -m bench.static_keys                         # DuckDB, SQLite, PostgreSQL, MariaDB; 200k customers
    python -m bench.static_keys --databases duckdb,sqlite --customers 100000 --keys 1000,10000

Per database and number of listed keys: the seconds of ``ws.static_segment`` (saving: the values are
checked against the customers and stored), then, best of ``--rounds`` (interleaved), the count of
``in segment s and age > 40`` (now), of ``<customer_id in (the values)> and age > 40`` (the definition
``in segment`` read before, parsed, compiled and sent as it was), and of the hand-written
``SELECT count(*) ... WHERE age > 40 AND customer_id IN (SELECT customer_id FROM keys)`` on a keys table
written with the backend's bulk writer. Ratios: now / hand, before / hand. The server databases are
scratch databases ``js_cancel_bench`` (dropped at the end); SQLite's file goes to /dev/shm.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

import jupyter_segments as js
from jupyter_segments.backends import open_backend
from jupyter_segments.static_segments import _listed

SCRATCH = "js_cancel_bench"
SERVERS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/",
}


def _server(kind: str, drop: bool = False) -> str:
    import sqlalchemy as sa

    base = SERVERS[kind]
    admin_db = "postgres" if kind == "postgres" else "mysql"
    engine = sa.create_engine(base + admin_db, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {SCRATCH}")
        if not drop:
            c.exec_driver_sql(f"CREATE DATABASE {SCRATCH}")
    engine.dispose()
    return base + SCRATCH


def _best(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run(database: str, customers: int, sizes: list[int], rounds: int, tmp: str) -> list[dict[str, Any]]:
    target = {"duckdb": "duckdb://", "sqlite": f"sqlite:///{tmp}/static_keys.db"}.get(database)
    url = target if target is not None else _server(database)
    backend = open_backend(url)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"customer_id": np.arange(1, customers + 1) * 3, "age": rng.integers(18, 90, customers)}
    )
    backend.write_table("customers", frame)
    if database in ("postgres", "mysql"):
        backend.execute(f"ANALYZE {'TABLE ' if database == 'mysql' else ''}customers")
    ws = js.Workspace(backend, catalog=f"{tmp}/catalog_{database}.sqlite")
    ws.customers("customers", key="customer_id")
    out = []
    try:
        for n in sizes:
            keys = sorted(int(k) for k in rng.choice(frame["customer_id"], n, replace=False))
            want = int(frame.loc[frame["customer_id"].isin(keys) & (frame["age"] > 40)].shape[0])
            name = f"s{n}"
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ws.static_segment(name, keys)
            save = time.perf_counter() - t
            backend.write_table(f"keys_{n}", pd.DataFrame({"customer_id": keys}))
            before = f"({_listed(['customer_id'], [(k,) for k in keys])}) and age > 40"
            hand = f"SELECT count(*) FROM customers c WHERE c.age > 40 AND c.customer_id IN (SELECT customer_id FROM keys_{n})"
            candidates = {
                "now": lambda name=name: ws.count(f"in segment {name} and age > 40"),
                "before": lambda before=before: ws.count(before),
                "hand": lambda hand=hand: int(backend.scalar(hand)),
            }
            for label, fn in candidates.items():
                got = fn()
                assert got == want, (database, n, label, got, want)
            best = {label: float("inf") for label in candidates}
            for _ in range(rounds):  # interleaved: a load spike hits all three alike
                for label, fn in candidates.items():
                    best[label] = min(best[label], _best(fn, 1))
            row = {"database": database, "keys": n, "save_s": save, **{f"{k}_s": v for k, v in best.items()}}
            row["now/hand"] = best["now"] / best["hand"]
            row["before/hand"] = best["before"] / best["hand"]
            print(
                f"{database:8} {n:>7,} keys  save {save:6.2f} s  now {best['now']:.4f}  before {best['before']:.4f}  "
                f"hand {best['hand']:.4f}  now/hand {row['now/hand']:.2f}  before/hand {row['before/hand']:.2f}",
                flush=True,
            )
            out.append(row)
    finally:
        ws.close()
        if database in SERVERS:
            _server(database, drop=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--databases", default="duckdb,sqlite,postgres,mysql")
    p.add_argument("--customers", type=int, default=200_000)
    p.add_argument("--keys", default="1000,10000,100000")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    sizes = [int(x) for x in args.keys.split(",")]
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="js_static_keys_", dir=base) as tmp:
        rows = []
        for database in args.databases.split(","):
            rows += run(database, args.customers, sizes, args.rounds, tmp)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
