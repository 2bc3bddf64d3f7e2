"""Helpers (no tests) shared by the catalog, refresh, export and reliability tests (oracles live in the tests)."""

from __future__ import annotations

import uuid

import duckdb
import pandas as pd
from conftest import DEMO_ANCHOR, DEMO_SEED, DEMO_SIZE, server_url, unavailable

import jupyter_segments as js
from jupyter_segments import demo
from jupyter_segments.backends import open_backend

VIP = "sum(orders.amount) >= 1000"
DE = "country = 'DE'"


def fresh_demo(path: str | None = None) -> duckdb.DuckDBPyConnection:
    """A private copy of the demo data (tests here change data, so never the session one)."""
    return demo.generate(DEMO_SIZE, seed=DEMO_SEED, anchor=DEMO_ANCHOR, path=path)


def workspace(target, catalog=":memory:") -> js.Workspace:
    ws = js.Workspace(open_backend(target), catalog=catalog)
    ws.customers("customers", key="customer_id")
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    return ws


def frames(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    return {t: conn.execute(f'SELECT * FROM "{t}"').df() for t in ("customers", "orders")}


def vip_keys(f: dict[str, pd.DataFrame], threshold: float = 1000) -> set[int]:
    """Oracle: customers whose orders sum to at least ``threshold`` (pandas)."""
    spend = f["orders"].groupby("customer_id")["amount"].sum()
    return set(int(k) for k in spend[spend >= threshold].index)


def de_keys(f: dict[str, pd.DataFrame]) -> set[int]:
    c = f["customers"]
    return set(int(k) for k in c.loc[c["country"] == "DE", "customer_id"])


def postgres_url() -> str:
    """A database of our own on the test server (never the js_test database other tests recreate)."""
    import sqlalchemy as sa

    from jupyter_segments.backends.sqlalchemy_backend import normalize_url

    u = normalize_url(server_url("postgres"))
    name = "js_test_catalog"
    try:
        admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            if not c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).first():
                c.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        admin.dispose()
    except Exception as e:  # noqa: BLE001 - unreachable server, bad credentials
        unavailable(f"PostgreSQL at JS_TEST_POSTGRES_URL is not usable: {type(e).__name__}: {e}")
    return u.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop the database ``postgres_url`` made (after the test's connections are closed)."""
    import sqlalchemy as sa

    u = sa.make_url(url)
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        admin.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"
