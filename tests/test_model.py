"""The model: relationships declared, inferred (foreign keys, column names), corrected; internal tables hidden."""

from __future__ import annotations

import duckdb
import pytest

import jupyter_segments as js
from jupyter_segments import demo


def _pairs(frame):
    return {(r.child, r.parent): (r.child_column, r.parent_column, r.origin) for r in frame.itertuples()}


@pytest.fixture
def small_shop():
    conn = duckdb.connect()
    conn.execute(
        """
        create table customers(customer_id int primary key, country varchar);
        create table orders(order_id int primary key, customer_id int, amount double);
        create table notes(note_id int, author int references customers(customer_id), body varchar);
        insert into customers values (1, 'DE'), (2, 'FR'), (3, 'DE');
        insert into orders values (10, 1, 5.0), (11, 1, 7.0), (12, 2, 1.0);
        insert into notes values (1, 3, 'hi');
        """
    )
    ws = js.connect(conn)
    ws.customers("customers", key="customer_id")
    return ws


def test_inferred_from_names_and_foreign_keys(small_shop):
    pairs = _pairs(small_shop.relationships())
    assert pairs[("orders", "customers")] == ("customer_id", "customer_id", "column name")
    assert pairs[("notes", "customers")] == ("author", "customer_id", "foreign key")
    # and they work: hand-computed from the rows above
    assert small_shop.count("sum(orders.amount) > 6") == 1
    assert small_shop.count("count(notes) = 1") == 1


def test_declared_overrides_and_unrelate_rejects(small_shop):
    small_shop.unrelate("orders", "customers")
    assert ("orders", "customers") not in _pairs(small_shop.relationships())
    with pytest.raises(js.SegmentError, match="unknown relationship 'orders'"):
        small_shop.count("count(orders) > 0")
    small_shop.relate("orders", "customers", on="customer_id")
    assert _pairs(small_shop.relationships())[("orders", "customers")][2] == "declared"
    assert small_shop.count("count(orders) = 0") == 1


def test_relate_checks_columns(small_shop):
    with pytest.raises(
        js.SegmentError, match="unknown column 'custmer_id' on orders; did you mean 'customer_id'"
    ):
        small_shop.relate("orders", "customers", on="custmer_id")
    with pytest.raises(js.SegmentError, match="unknown table 'ordrs'; did you mean 'orders'"):
        small_shop.relate("ordrs", "customers", on="customer_id")


def test_demo_relationships_are_all_found(tmp_path):
    ws = js.connect_demo(1_000, catalog=str(tmp_path / "c.sqlite"))
    found = {(c, p, cc, pc) for (c, p), (cc, pc, _) in _pairs(ws.relationships()).items()}
    assert found == set(demo.RELATIONSHIPS)


def test_members_tables_do_not_become_relationships(tmp_path):
    ws = js.connect_demo(1_000, catalog=str(tmp_path / "c.sqlite"))
    ws.segment("vip", "sum(orders.amount) >= 1000").activate()
    assert any("members__" in t for t in ws.backend.tables())  # the refresh stored members in the database
    ws.refresh_model()
    assert not any("members__" in t for t in ws.tables())
    assert not any("members__" in c for c in ws.relationships()["child"])
