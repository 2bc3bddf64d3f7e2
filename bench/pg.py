"""The PostgreSQL copy of the demo data (figure 1 at a smaller scale), loaded once per scale."""

from __future__ import annotations

import psycopg

from jupyter_segments import demo
from jupyter_segments.backends import open_backend

from .data import open_db

SERVER = "postgresql://postgres@127.0.0.1:5432"


def db_name(customers: int) -> str:
    return f"segments_bench_{customers}"


def url(customers: int) -> str:
    return f"{SERVER}/{db_name(customers)}"


def ensure_pg(customers: int) -> str:
    """A PostgreSQL database holding the demo at ``customers`` (with keys, analyzed); returns its URL."""
    name = db_name(customers)
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')  # name is ours: segments_bench_<int>
    with psycopg.connect(url(customers), autocommit=True) as conn:
        done = conn.execute("SELECT to_regclass('public.bench_loaded')").fetchone()[0]
        if done is not None:
            return url(customers)
    source = open_db(customers)
    backend = open_backend(url(customers).replace("postgresql://", "postgresql+psycopg://"))
    try:
        demo.copy_to(source, backend, constraints=True)
    finally:
        backend.close()
        source.close()
    with psycopg.connect(url(customers), autocommit=True) as conn:
        # Indexes a DBA would add for the foreign keys the suite joins on, then fresh statistics.
        for table, col in (("orders", "customer_id"), ("order_lines", "order_id"), ("support_calls", "cust_id"),
                           ("web_events", "customer_id")):  # fmt: skip
            conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_{col}_idx ON {table} ({col})")
        conn.execute("ANALYZE")
        conn.execute("CREATE TABLE bench_loaded (ok int)")
    return url(customers)


if __name__ == "__main__":
    import sys
    import time

    for n in map(int, sys.argv[1:]):
        t = time.perf_counter()
        print(ensure_pg(n), f"{time.perf_counter() - t:.1f}s", flush=True)
