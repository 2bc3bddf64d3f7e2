"""Tables in schemas (issue 13): ``ws.customers("sales.customers")`` and ``ws.relate("sales.orders", ...)``
on PostgreSQL (a schema off the search_path), DuckDB (a schema and an attached database), MariaDB
(other databases on the server) and SQLite (attached files).

Paths in definitions use the relationships' names (the bare table name by default), so the schema
never appears in the DSL; counts are checked against SQL written by hand with qualified names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_segments import SegmentError, Workspace
from jupyter_segments.backends import open_backend
from jupyter_segments.backends.base import Backend, TableName
from jupyter_segments.display import ModelView

ROWS = {
    "sales.customers": [(1, "ann"), (2, "bob"), (3, "cy"), (4, "dee")],
    "sales.orders": [(1, 1, 10, 10), (2, 1, 11, 20), (3, 2, 10, 30), (4, 3, 12, 5)],
    # the same bare name as sales.orders, in the other schema
    "archive.orders": [(1, 1, 7), (2, 3, 8), (3, 3, 9)],
    "archive.products": [(10, "books"), (11, "games"), (12, "books")],
}
DDL = {
    "sales.customers": "(customer_id INTEGER, name VARCHAR(20))",
    "sales.orders": "(order_id INTEGER, customer_id INTEGER, product_id INTEGER, amount INTEGER)",
    "archive.orders": "(order_id INTEGER, customer_id INTEGER, amount INTEGER)",
    "archive.products": "(product_id INTEGER, category VARCHAR(20))",
}
PREFIX = "js13s_"  # members tables of the refresh test, dropped afterwards


class Schemas:
    """The two schemas' names on one database (``sales``, ``archive``), and SQL on their tables."""

    def __init__(self, backend: Backend, sales: str, archive: str) -> None:
        self.backend, self.sales, self.archive = backend, sales, archive

    def name(self, table: str) -> str:
        """'sales.orders' -> the qualified name on this database (js13_sales.orders, ...)."""
        schema, bare = table.split(".")
        return f"{getattr(self, schema)}.{bare}"

    def sql(self, text: str) -> str:
        """Hand-written SQL with {sales.orders}-style placeholders for qualified names."""
        return re.sub(r"\{(\w+\.\w+)\}", lambda m: self.name(m.group(1)), text)

    def keys(self, text: str) -> list[int]:
        return sorted(int(k) for k in self.backend.query(self.sql(text)).iloc[:, 0])


def _create(backend: Backend, name: str, tmp: Path) -> tuple[str, str]:
    """Create the two schemas (or databases, or attached files) and return their names."""
    if name == "duckdb":
        backend.execute("CREATE SCHEMA js13_sales")
        backend.execute(f"ATTACH '{tmp / 'archive.duckdb'}' AS js13_archive")  # read as js13_archive.main
        return "js13_sales", "js13_archive"
    if name == "sqlite":
        backend.execute(f"ATTACH DATABASE '{tmp / 'sales.db'}' AS js13_sales")
        backend.execute(f"ATTACH DATABASE '{tmp / 'archive.db'}' AS js13_archive")
        return "js13_sales", "js13_archive"
    if name == "postgres":  # schemas that are not on the search_path
        for schema in ("js13_sales", "js13_archive"):
            backend.execute(f"CREATE SCHEMA {schema}")
        return "js13_sales", "js13_archive"
    sales, archive = f"js13_sales_{os.getpid()}", f"js13_archive_{os.getpid()}"  # databases on the server
    for db in (sales, archive):
        backend.execute(f"DROP DATABASE IF EXISTS {db}")
        backend.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
    return sales, archive


def _drop(backend: Backend, name: str, s: Schemas) -> None:
    for table in backend.tables():
        if table.startswith(PREFIX):
            backend.drop_table(table)
    if name == "duckdb":
        backend.execute("DROP SCHEMA js13_sales CASCADE")
        backend.execute("DETACH js13_archive")
    elif name == "sqlite":
        backend.execute("DETACH DATABASE js13_sales")
        backend.execute("DETACH DATABASE js13_archive")
    elif name == "postgres":
        backend.execute("DROP SCHEMA js13_sales, js13_archive CASCADE")
    else:
        backend.execute(f"DROP DATABASE {s.sales}")
        backend.execute(f"DROP DATABASE {s.archive}")


@pytest.fixture
def schemas(demo_backend: Backend, backend_name: str, tmp_path: Path) -> Iterator[Schemas]:
    s = Schemas(demo_backend, *_create(demo_backend, backend_name, tmp_path))
    try:
        for table, columns in DDL.items():
            demo_backend.execute(f"CREATE TABLE {s.name(table)} {columns}")
            values = ", ".join(f"({', '.join(repr(v) for v in row)})" for row in ROWS[table])
            demo_backend.execute(f"INSERT INTO {s.name(table)} VALUES {values}")
        yield s
    finally:
        _drop(demo_backend, backend_name, s)


def shop(s: Schemas, catalog: str | None = None) -> Workspace:
    ws = Workspace(s.backend, catalog=catalog)
    ws.customers(s.name("sales.customers"), key="customer_id")
    ws.relate(s.name("sales.orders"), s.name("sales.customers"), on=("customer_id", "customer_id"))
    ws.relate(s.name("sales.orders"), s.name("archive.products"), on=("product_id", "product_id"))
    ws.relate(
        s.name("archive.orders"),
        s.name("sales.customers"),
        on=("customer_id", "customer_id"),
        name="archived",
    )
    return ws


def members(ws: Workspace, text: str) -> list[int]:
    return sorted(int(k) for k in ws.member_keys(text))


# (definition, hand-written SQL over qualified names)
CASES = [
    (
        "count(orders) >= 2",
        "SELECT customer_id FROM {sales.orders} GROUP BY customer_id HAVING COUNT(*) >= 2",
    ),
    (
        "any(orders where products.category = 'books')",  # a to-one step into the other schema
        "SELECT DISTINCT o.customer_id FROM {sales.orders} o JOIN {archive.products} p "
        "ON p.product_id = o.product_id WHERE p.category = 'books'",
    ),
    (
        "sum(archived.amount) > 10 or none(orders)",
        "SELECT c.customer_id FROM {sales.customers} c WHERE "
        "(SELECT SUM(a.amount) FROM {archive.orders} a WHERE a.customer_id = c.customer_id) > 10 "
        "OR NOT EXISTS (SELECT 1 FROM {sales.orders} o WHERE o.customer_id = c.customer_id)",
    ),
    (
        "name != 'bob' and count(archived where amount >= 8) = 0 and any(orders)",
        "SELECT c.customer_id FROM {sales.customers} c WHERE c.name <> 'bob' "
        "AND NOT EXISTS (SELECT 1 FROM {archive.orders} a WHERE a.customer_id = c.customer_id AND a.amount >= 8) "
        "AND EXISTS (SELECT 1 FROM {sales.orders} o WHERE o.customer_id = c.customer_id)",
    ),
]


def test_tables_in_other_schemas_match_hand_written_sql(schemas: Schemas) -> None:
    ws = shop(schemas)
    for text, sql in CASES:
        want = schemas.keys(sql)
        assert members(ws, text) == want, (text, ws.compile(text))
        assert ws.count(text) == len(want)
    # the SQL reaches the tables by their qualified names; the definition never names a schema
    compiled = ws.compile("any(orders where products.category = 'books')")
    for table in ("sales.customers", "sales.orders", "archive.products"):
        # DuckDB's attached js13_archive.products is js13_archive.main.products
        qualified = ws.model.find_table(schemas.name(table))
        assert re.search(rf"\b{re.escape(qualified)}\b", compiled.replace('"', "").replace("`", ""))
    # the key check, the orphan counts and explain read the qualified tables too
    report = ws.check_integrity(all_relationships=True)
    ours = report[report["relationship"].astype(str).str.contains("js13_", na=False)]  # the key, 3 links
    assert len(ours) == 4 and ours["ok"].all() and (ours["orphans"].fillna(0) == 0).all()
    assert str(ws.explain("count(orders) >= 2", customer=1)).startswith("customer 1: MEMBER")
    preview = ws.members("count(orders) >= 2")
    assert list(preview.columns) == ["customer_id", "name"] and preview["name"].tolist() == ["ann"]


def test_the_same_bare_name_in_two_schemas_needs_a_name(schemas: Schemas) -> None:
    ws = Workspace(schemas.backend)
    ws.customers(schemas.name("sales.customers"), key="customer_id")
    ws.relate(
        schemas.name("sales.orders"), schemas.name("sales.customers"), on=("customer_id", "customer_id")
    )
    with pytest.raises(SegmentError) as e:
        ws.relate(
            schemas.name("archive.orders"), schemas.name("sales.customers"), on=("customer_id", "customer_id")
        )
    message = str(e.value)
    assert "'orders' already leads from" in message and "name=" in message
    assert (
        schemas.name("sales.orders") in message
        and ws.model.find_table(schemas.name("archive.orders")) in message
    )
    assert [r.child for r in ws.model.declared] == [schemas.name("sales.orders")]  # nothing replaced


def test_names_resolve_ignoring_case_when_unambiguous(schemas: Schemas) -> None:
    ws = Workspace(schemas.backend)
    ws.customers(schemas.name("sales.customers").upper(), key="customer_id")
    assert ws.model.customer == schemas.name("sales.customers")  # the table's own spelling
    assert isinstance(ws.model.customer, TableName)
    with pytest.raises(SegmentError, match=r"unknown table 'js13_nowhere\.customers'"):
        ws.customers("js13_nowhere.customers", key="customer_id")
    with pytest.raises(SegmentError, match=r"unknown table"):
        ws.customers(f"{schemas.sales}.custmers", key="customer_id")


def test_catalog_and_model_view_keep_qualified_names(schemas: Schemas, tmp_path: Path) -> None:
    catalog = str(tmp_path / "catalog.sqlite")
    ws = shop(schemas, catalog=catalog)
    ws.members_prefix = PREFIX
    ws.segment("two_orders", "count(orders) >= 2 or sum(archived.amount) > 10")
    [run] = ws.refresh()
    want = schemas.keys(
        "SELECT customer_id FROM {sales.orders} GROUP BY customer_id HAVING COUNT(*) >= 2 "
        "UNION SELECT customer_id FROM {archive.orders} GROUP BY customer_id HAVING SUM(amount) > 10"
    )
    assert run.status == "Successful" and want == [1, 3]
    # members tables stay where they always go: the connection's default schema
    table = ws.get("two_orders").members_table
    assert table is not None and table in schemas.backend.tables()
    saved = ws.get("two_orders").members()
    assert sorted(saved["customer_id"].astype(int)) == want and set(saved["name"]) == {"ann", "cy"}

    text = ModelView(ws).to_text()
    for table in ("sales.customers", "sales.orders", "archive.orders", "archive.products"):
        assert ws.model.find_table(schemas.name(table)) in text
    assert f"{schemas.name('sales.customers')} (customer entity)" in text

    again = Workspace(schemas.backend, catalog=catalog)  # a new session: the model comes from the catalog
    again.catalog  # noqa: B018 - opening the catalog restores the model
    assert again.model.customer == schemas.name("sales.customers")
    assert members(again, "count(orders) >= 2 or sum(archived.amount) > 10") == want
    assert members(again, "any(orders where products.category = 'books')") == [1, 2, 3]


def test_duckdb_attached_database_by_either_name(tmp_path: Path) -> None:
    """DuckDB reads ``other.t`` as the attached database's main schema: both spellings are one table,
    and a schema and an attached database of the same name are ambiguous."""
    backend = open_backend("duckdb:///:memory:")
    backend.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS other")
    backend.execute("CREATE TABLE other.main.people (id INTEGER, age INTEGER)")
    backend.execute("INSERT INTO other.main.people VALUES (1, 30), (2, 40)")
    backend.execute("CREATE TABLE visits (person_id INTEGER)")
    backend.execute("INSERT INTO visits VALUES (1), (1), (2)")
    ws = Workspace(backend)
    ws.customers("other.people", key="id")
    assert ws.model.customer == "other.main.people"
    ws.relate("visits", "other.main.people", on=("person_id", "id"))
    assert members(ws, "count(visits) >= 2 and age < 35") == [1]
    backend.execute("CREATE SCHEMA memory.other")  # DuckDB itself now needs memory.other.people
    backend.execute("CREATE TABLE memory.other.people (id INTEGER)")
    ws.model.invalidate()
    with pytest.raises(
        SegmentError,
        match=r"'other\.people' could be any of the tables 'memory\.other\.people', 'other\.main\.people'",
    ):
        Workspace(backend).customers("other.people", key="id")
    fresh = Workspace(backend)
    fresh.customers("memory.other.people", key="id")
    assert fresh.count("true") == 0  # the schema's empty table, reached by its full path
    backend.close()
