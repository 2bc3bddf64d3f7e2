"""The oracle suite on the demo data as people store it (issue 13), loaded once per run for each store:

- SQLite written by ``pandas.to_sql``: dates and timestamps as TIMESTAMP text, booleans as 0/1
  INTEGERs, no keys, no indexes;
- MariaDB written by ``pandas.to_sql``: whatever types pandas picks there (DATETIME, TINYINT(1) for
  booleans, TEXT for strings, DOUBLE), no keys, no indexes;
- PostgreSQL written by ``pandas.to_sql`` into a schema ``shop`` that is not on the search_path: every
  table is reached as ``shop.<table>`` and every path still reads ``orders.amount``.

A definition must mean the same on data stored the way people store it as on the typed tables the
suite loads elsewhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import oracle as O
import pytest
import sqlalchemy as sa
import test_engine_oracle as EO
import test_language as L
from conftest import DEMO_ANCHOR, _drop_session_database, _session_database, server_url
from test_engine_oracle import Demo, demo  # noqa: F401 - the oracle's frames

from jupyter_segments import SegmentError, Workspace
from jupyter_segments import demo as demo_data
from jupyter_segments.backends import open_backend
from jupyter_segments.backends.sqlalchemy_backend import normalize_url
from jupyter_segments.refresh import combined_select

TABLES = ("regions", "customers", "products", "orders", "order_lines", "support_calls", "web_events")
SCHEMA = "shop"  # PostgreSQL: not on the default search_path ("$user", public)
STORES = [
    "sqlite",
    pytest.param("mysql", marks=pytest.mark.slow),
    pytest.param("postgres_schema", marks=pytest.mark.slow),
]


def _server_database(kind: str) -> str:
    """A fresh js_test_pandas_<pid> database on the server in JS_TEST_POSTGRES_URL / JS_TEST_MYSQL_URL."""
    return _session_database(kind, normalize_url(server_url(kind)).set(database="js_test_pandas"))


@pytest.fixture(scope="module", params=STORES)
def pandas_ws(request, demo_frames, tmp_path_factory) -> Iterator[Workspace]:
    store = request.param
    if store == "sqlite":
        path = tmp_path_factory.mktemp("pandas") / "demo.db"
        with sqlite3.connect(path) as conn:
            for table in TABLES:
                demo_frames[table].to_sql(table, conn, index=False)
        ws = Workspace(open_backend(f"sqlite:///{path}"))
        ws.customers("customers", key="customer_id")
        ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
        yield _with_segments(ws)
        ws.backend.close()
        return
    kind = "mysql" if store == "mysql" else "postgres"
    url = _server_database(kind)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if kind == "postgres":
                conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
            for table in TABLES:
                demo_frames[table].to_sql(
                    table, conn, schema=SCHEMA if kind == "postgres" else None, index=False, chunksize=5_000
                )
            # Fresh tables have no statistics; a real database has them (see EO.workspace_for).
            for table in TABLES:
                name = f"{SCHEMA}.{table}" if kind == "postgres" else table
                conn.exec_driver_sql(f"ANALYZE {'TABLE ' if kind == 'mysql' else ''}{name}")
        ws = Workspace(open_backend(url))
        if kind == "mysql":
            ws.customers("customers", key="customer_id")
            ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
        else:  # names are not inferred across schemas: every link is declared, by qualified name
            ws.customers(f"{SCHEMA}.customers", key="customer_id")
            for child, parent, child_column, parent_column in demo_data.RELATIONSHIPS:
                ws.relate(f"{SCHEMA}.{child}", f"{SCHEMA}.{parent}", on=(child_column, parent_column))
        yield _with_segments(ws)
        ws.backend.close()
    finally:
        engine.dispose()
        _drop_session_database(kind, url)


def _with_segments(ws: Workspace) -> Workspace:
    ws.session.segment_source = EO.segment_source
    return ws


def test_the_storage_is_what_pandas_writes(pandas_ws: Workspace) -> None:
    customers = pandas_ws.model.entity(pandas_ws.model.customer or "")
    types = {c.name: (c.type, c.db_type, c.flag) for c in customers.columns.values()}
    table = customers.name
    if pandas_ws.dialect == "sqlite":
        assert types["signup_date"] == ("timestamp", "TIMESTAMP", False)  # datetime64 -> TIMESTAMP text
        assert types["newsletter"] == ("number", "INTEGER", True)  # bool -> 0/1 INTEGER
        stored = pandas_ws.backend.query(f"SELECT signup_date, newsletter FROM {table} LIMIT 1")
        assert isinstance(stored.iloc[0, 0], str) and stored.iloc[0, 1] in (0, 1)
    elif pandas_ws.dialect == "mysql":
        assert types["signup_date"][:2] == ("timestamp", "DATETIME")
        assert types["newsletter"][:2] == ("boolean", "TINYINT(1)")  # how MariaDB stores BOOLEAN
        assert types["first_name"][1] == "TEXT"
    else:
        assert table == f"{SCHEMA}.customers"
        assert types["signup_date"][:2] == ("timestamp", "TIMESTAMP WITHOUT TIME ZONE")
        assert pandas_ws.backend.tables() == []  # nothing in the default schema: all of it is in shop
    # no keys, no indexes: nothing for the model to infer from but names
    assert all(r.origin != "foreign key" for r in pandas_ws.model.relationships())


def test_mariadb_queries_hash_joins_without_indexes(pandas_ws: Workspace) -> None:
    """pandas.to_sql writes no indexes: MariaDB's default nested-loop joins took over 60 s for one
    orders-to-order_lines aggregate of this suite; each query is sent with hash joins allowed
    (join_cache_level=4) for that statement only, leaving the session's settings as they were."""
    if pandas_ws.dialect != "mysql":
        pytest.skip("a MariaDB setting")
    backend = pandas_ws.backend
    session = "SHOW SESSION VARIABLES LIKE 'join_cache_level'"  # not a SELECT: sent as is
    before = backend.query(session).iloc[0, 1]
    assert int(backend.scalar("SELECT @@join_cache_level")) == 4
    assert "split_materialized=off" in backend.scalar("SELECT @@optimizer_switch")
    assert backend.query(session).iloc[0, 1] == before
    plan = backend.query(  # EXPLAIN is sent as is too: ask for the setting explicitly
        "SET STATEMENT join_cache_level=4 FOR EXPLAIN SELECT o.customer_id FROM orders o "
        "JOIN order_lines l ON l.order_id = o.order_id"
    )
    assert plan["Extra"].str.contains("BNLH").any()


CASES = [(f"engine-{c[0]}", c[1], c[2]) for c in EO.CASES + EO.SEGMENT_CASES] + [
    (f"language-{c[0]}", c[1], c[2]) for c in L.CASES
]


BATCH = 25  # definitions per query on the servers


@pytest.fixture(scope="module")
def batched(pandas_ws: Workspace) -> dict[str, list[int]]:
    """On the servers, the members of every case from a few queries: the refresh's one query with a
    flag per definition (aggregates over one path share one scan; MariaDB joins tables without
    indexes slowly). A batch that fails leaves its cases to run one by one. SQLite runs each case as
    ``member_keys``, as users count."""
    if pandas_ws.dialect == "sqlite":
        return {}
    found: dict[str, list[int]] = {}
    texts = list(dict.fromkeys(text for _, text, _ in CASES))
    key = pandas_ws.model.customer_entity().key
    for start in range(0, len(texts), BATCH):
        part = texts[start : start + BATCH]
        try:
            query = combined_select(pandas_ws.session, [pandas_ws.parse(t) for t in part], DEMO_ANCHOR)
            flags = pandas_ws.backend.query(query.sql(dialect=pandas_ws.dialect))
        except SegmentError:
            continue
        for i, text in enumerate(part):
            found[text] = sorted(int(k) for k in flags.loc[flags[f"f_{i}"] == 1, key])
    return found


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pandas_written_data_matches_the_oracle(
    pandas_ws: Workspace,
    batched: dict[str, list[int]],
    demo: Demo,  # noqa: F811 - the fixture imported above
    text: str,
    expected,
) -> None:
    want = O.members(expected(demo))
    got = batched.get(text)
    if got is None:
        got = sorted(int(k) for k in pandas_ws.member_keys(text, as_of=DEMO_ANCHOR))
    assert got == want, (
        f"{pandas_ws.dialect}{' (one query for a batch of definitions)' if text in batched else ''}: "
        f"{len(got)} members, oracle {len(want)}\n{pandas_ws.compile(text, as_of=DEMO_ANCHOR)}"
    )
