"""The SQL shapes docs/sql-shape.md promises, checked on the generated SQL and by running it."""

from __future__ import annotations

import re

import pytest

import jupyter_segments as js


@pytest.fixture(scope="module")
def ws():
    """The demo as connect_demo models it: its links to customers are declared with assume_integrity."""
    return js.connect_demo(2_000, seed=11)


@pytest.fixture(scope="module")
def plain_ws(ws):
    """The same tables, modelled by someone who cannot vouch for them: no integrity assumed."""
    plain = js.connect(ws.backend.connection)
    plain.customers("customers", key="customer_id")
    plain.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    return plain


def scans(sql: str, table: str) -> int:
    return len(re.findall(rf"\bFROM {table} AS", sql))


def keys(ws, sql: str) -> set:
    return set(ws.backend.query(sql).iloc[:, 0])


@pytest.mark.parametrize(
    "text",
    [
        "any(orders where channel = 'app') and sum(orders.amount) > 500",
        "sum(orders.amount) > 500 and any(orders where channel = 'app')",
    ],
)
def test_aggregates_and_existence_on_one_path_share_one_scan(ws, text):
    sql = ws.compile(text, pretty=False)
    assert scans(sql, "orders") == 1 and " IN (" not in sql
    hand = """SELECT customer_id FROM customers WHERE customer_id IN (
                SELECT customer_id FROM orders GROUP BY customer_id
                HAVING sum(amount) > 500 AND count(*) FILTER (WHERE channel = 'app') > 0)"""
    assert keys(ws, sql) == keys(ws, hand)


def test_existence_alone_is_a_semi_join(plain_ws):
    sql = plain_ws.compile("any(orders where amount > 500)", pretty=False)
    assert re.search(r"c\.customer_id IN \(SELECT", sql) and "GROUP BY" not in sql


@pytest.mark.parametrize(("dialect", "anti"), [("duckdb", "NOT (EXISTS("), ("postgres", "NOT (EXISTS("),
                                               ("sqlite", "NOT (c.customer_id IN"), ("mysql", "NOT (c.customer_id IN")])  # fmt: skip
def test_absence_uses_each_databases_fastest_anti_join(ws, dialect, anti):
    sql = ws.compile("none(support_calls where escalated)", dialect=dialect, pretty=False)
    assert anti in sql


def test_set_operators_are_one_scan_of_customers(ws):
    sql = ws.compile("(country = 'DE') UNION (age > 60) EXCEPT (newsletter)", dialect="mysql", pretty=False)
    assert scans(sql, "customers") == 1
    assert not re.search(r"\b(UNION|INTERSECT|EXCEPT)\b", sql)


def test_several_aggregates_share_one_derived_table(ws):
    sql = ws.compile(
        "sum(orders.amount where status != 'returned') > 100 and count(orders where channel = 'web') >= 2",
        pretty=False,
    )
    assert scans(sql, "orders") == 1 and "CASE WHEN" in sql


@pytest.mark.parametrize(
    "text",
    [
        "count(orders where count(order_lines) >= 5) >= 2 and "
        "sum(orders.order_lines.quantity where orders.status != 'cancelled') >= 60",
        # the order of the parts does not matter
        "sum(orders.order_lines.quantity where orders.status != 'cancelled') >= 60 and "
        "count(orders where count(order_lines) >= 5) >= 2",
        "count(orders where count(order_lines) >= 5) >= 2 and "
        "none(orders.order_lines where orders.status = 'cancelled' and quantity > 3)",
    ],
)
def test_two_step_aggregate_reads_the_nested_scopes_per_order_table(ws, text):
    sql = ws.compile(text, pretty=False)
    assert scans(sql, "order_lines") == 1 and scans(sql, "orders") == 1
    nested = "o.order_id IN (SELECT order_id FROM order_lines GROUP BY order_id HAVING count(*) >= 5)"
    if "none(" in text:
        second = """NOT EXISTS (SELECT 1 FROM order_lines l JOIN orders o ON o.order_id = l.order_id
                    WHERE o.customer_id = c.customer_id AND o.status = 'cancelled' AND l.quantity > 3)"""
    else:
        second = """coalesce((SELECT sum(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id
                     WHERE o.customer_id = c.customer_id AND o.status != 'cancelled'), 0) >= 60"""
    hand = f"""SELECT customer_id FROM customers c
               WHERE (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id AND {nested}) >= 2
                 AND {second}"""
    assert keys(ws, sql) == keys(ws, hand)


def test_two_step_aggregate_alone_joins_the_two_steps(ws):
    # Without a per-order table to reuse, one join of lines to orders is cheaper than building one.
    sql = ws.compile(
        "sum(orders.order_lines.quantity where orders.status != 'cancelled') >= 60", pretty=False
    )
    assert scans(sql, "orders") == 1 and re.search(r"JOIN order_lines AS", sql)


UNION_OF_GROUPS = "(country = 'US' and sum(orders.amount) > 1500) union (any(support_calls where escalated))"


def test_top_level_union_of_aggregating_groups_is_a_union_of_queries_on_duckdb(ws):
    sql = ws.compile(UNION_OF_GROUPS, pretty=False)
    assert re.search(r"\bUNION\b", sql) and scans(sql, "customers") == 2
    hand = """SELECT c.customer_id FROM customers c JOIN orders o ON o.customer_id = c.customer_id
              WHERE c.country = 'US' GROUP BY c.customer_id HAVING sum(o.amount) > 1500
              UNION SELECT customer_id FROM customers WHERE customer_id IN
                (SELECT cust_id FROM support_calls WHERE escalated)"""
    assert keys(ws, sql) == keys(ws, hand)
    assert ws.count(UNION_OF_GROUPS) == len(keys(ws, hand))
    # PostgreSQL plans the OR over one scan faster; attribute-only groups stay one scan everywhere.
    assert not re.search(r"\bUNION\b", ws.compile(UNION_OF_GROUPS, dialect="postgres", pretty=False))
    assert not re.search(r"\bUNION\b", ws.compile("(age > 60) union (country = 'DE')", pretty=False))


@pytest.fixture(scope="module")
def fk_ws(tmp_path_factory):
    """The demo with its PRIMARY and FOREIGN KEYs declared (DuckDB enforces them)."""
    from jupyter_segments import demo

    source = demo.generate(2_000, seed=11)
    target = js.connect(f"duckdb:///{tmp_path_factory.mktemp('fk') / 'fk.duckdb'}")
    demo.copy_to(source, target.backend, constraints=True)
    target.customers("customers", key="customer_id")
    return target


def test_any_alone_over_an_enforced_foreign_key_reads_only_the_child(fk_ws, plain_ws):
    text = "any(support_calls where escalated and topic = 'billing')"
    sql = fk_ws.compile(text, pretty=False)
    assert scans(sql, "customers") == 0 and "DISTINCT" in sql
    hand = """SELECT customer_id FROM customers c WHERE EXISTS (SELECT 1 FROM support_calls s
              WHERE s.cust_id = c.customer_id AND s.escalated AND s.topic = 'billing')"""
    assert set(fk_ws.member_keys(text)) == keys(fk_ws, hand)
    assert fk_ws.count(text) == len(keys(fk_ws, hand))
    # Not without the key (the demo in DuckDB declares none), nor on SQLite (declared keys unenforced).
    assert scans(plain_ws.compile(text, pretty=False), "customers") == 1
    assert scans(fk_ws.compile(text, dialect="sqlite", pretty=False), "customers") == 1
    # A relationship the user declares as well is still the database's foreign key.
    fk_ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    assert scans(fk_ws.compile(text, pretty=False), "customers") == 0
    # Anything more than one any() keeps the customer table.
    assert scans(fk_ws.compile(text + " and age > 30", pretty=False), "customers") == 1


@pytest.mark.parametrize(
    "text",
    [
        # the nested per-order table would be joined to every order: a semi-join on its matches is cheaper
        "sum(orders.amount) > 100 and any(orders where sum(order_lines.quantity) > 30)",
        # products would be joined to every order line of the shared table
        "count(orders where count(order_lines) >= 5) >= 1 and "
        "any(orders.order_lines where products.category = 'toys' and quantity >= 5)",
    ],
)
def test_existence_that_needs_a_new_join_stays_a_semi_join(ws, text):
    sql = ws.compile(text, pretty=False)
    assert " IN (SELECT" in sql
    if "products" in text:
        nested = "o.order_id IN (SELECT order_id FROM order_lines GROUP BY order_id HAVING count(*) >= 5)"
        hand = f"""SELECT customer_id FROM customers c
                   WHERE (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id AND {nested}) >= 1
                     AND EXISTS (SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.order_id
                                 JOIN products p ON p.product_id = l.product_id
                                 WHERE o.customer_id = c.customer_id AND p.category = 'toys' AND l.quantity >= 5)"""
    else:
        hand = """SELECT customer_id FROM customers c
                  WHERE (SELECT sum(amount) FROM orders o WHERE o.customer_id = c.customer_id) > 100
                    AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND
                                (SELECT sum(quantity) FROM order_lines l WHERE l.order_id = o.order_id) > 30)"""
    assert keys(ws, sql) == keys(ws, hand)


@pytest.mark.parametrize(
    ("text", "hand"),
    [
        (
            "count(orders where status = 'delivered') >= 3",
            "SELECT customer_id FROM orders WHERE status = 'delivered' GROUP BY customer_id HAVING count(*) >= 3",
        ),
        (
            "sum(orders.amount) > 800 and none(orders where channel = 'app')",
            """SELECT customer_id FROM orders GROUP BY customer_id
               HAVING sum(amount) > 800 AND count(*) FILTER (WHERE channel = 'app') = 0""",
        ),
        (
            "count(orders) >= 2 and all(orders where status = 'delivered') and any(support_calls)",
            """SELECT customer_id FROM orders WHERE customer_id IN (SELECT cust_id FROM support_calls)
               GROUP BY customer_id HAVING count(*) >= 2 AND bool_and(status = 'delivered')""",
        ),
        (
            "any(orders where channel = 'app') and max(orders.amount) < 300 and count(web_events) > 5",
            """SELECT o.customer_id FROM orders o JOIN (SELECT customer_id FROM web_events GROUP BY
               customer_id HAVING count(*) > 5) w USING (customer_id) GROUP BY o.customer_id
               HAVING count(*) FILTER (WHERE channel = 'app') > 0 AND max(amount) < 300""",
        ),
    ],
)
def test_aggregate_over_a_link_with_assumed_integrity_reads_the_child_alone(ws, plain_ws, text, hand):
    """A condition that needs a row in an aggregate table, over a link whose child rows all have their
    customer, is that table's keys: GROUP BY ... HAVING, as written by hand, without the customer table."""
    sql = ws.compile(text, pretty=False)
    assert scans(sql, "customers") == 0
    assert set(ws.member_keys(text)) == keys(ws, hand) == set(plain_ws.member_keys(text))
    assert ws.count(text) == len(keys(ws, hand))
    assert scans(plain_ws.compile(text, pretty=False), "customers") == 1


@pytest.mark.parametrize(
    "text",
    [
        "count(orders) >= 3 and age > 40",  # reads a customer column
        "count(orders) = 0",  # 0 matches customers without orders
        "sum(orders.amount) > 900 or any(support_calls where escalated)",  # no single table needed
        "not (count(orders) >= 3)",
        "count(orders) >= 3 and regions.name = 'North'",  # a to-one join from the customer
    ],
)
def test_conditions_that_need_the_customer_table_keep_it(ws, plain_ws, text):
    assert scans(ws.compile(text, pretty=False), "customers") == 1
    assert set(ws.member_keys(text)) == set(plain_ws.member_keys(text))


def test_an_any_beside_other_conditions_drives_the_query_on_duckdb_only(ws):
    text = "any(web_events where event_type = 'checkout') and none(orders where channel = 'app')"
    duck = ws.compile(text, pretty=False)
    assert scans(duck, "customers") == 0 and "DISTINCT" in duck
    hand = """SELECT customer_id FROM web_events WHERE event_type = 'checkout'
              EXCEPT SELECT customer_id FROM orders WHERE channel = 'app'"""
    assert set(ws.member_keys(text)) == keys(ws, hand)
    # PostgreSQL plans the semi- and anti-join from customers faster (D.SEMI_JOIN_DRIVES_ALL) ...
    assert scans(ws.compile(text, dialect="postgres", pretty=False), "customers") == 1
    # ... and reads the child's distinct keys only for a one-step any() alone.
    alone = "any(web_events where event_type = 'checkout')"
    assert scans(ws.compile(alone, dialect="postgres", pretty=False), "customers") == 0
    two_steps = "any(orders.order_lines where quantity > 8)"
    assert scans(ws.compile(two_steps, dialect="postgres", pretty=False), "customers") == 1
    assert scans(ws.compile(two_steps, pretty=False), "customers") == 0


def test_the_same_aggregate_written_twice_is_computed_once(plain_ws):
    text = "sum(orders.amount) > 300 and sum(orders.amount) < 900 and count(orders) >= 2 and any(orders)"
    sql = plain_ws.compile(text, pretty=False)
    assert sql.count("SUM(orders_1.amount)") == 1 and sql.count("COUNT(*)") == 1
    hand = """SELECT customer_id FROM orders GROUP BY customer_id
              HAVING sum(amount) > 300 AND sum(amount) < 900 AND count(*) >= 2"""
    assert set(plain_ws.member_keys(text)) == keys(plain_ws, hand)
