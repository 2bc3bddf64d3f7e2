"""The SQL shapes docs/sql-shape.md promises, checked on the generated SQL and by running it."""

from __future__ import annotations

import re

import pandas as pd
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


@pytest.fixture(scope="module")
def gaps_ws():
    """Customers with sales whose customer or date key is NULL, or names no date row (issue 22's
    TPC-DS shapes): ``any`` semi-joins over NULL keys, aggregates of a parent's value with missing
    parents. One workspace trusts the links (assume_integrity), one does not."""
    import duckdb

    conn = duckdb.connect()
    conn.execute("CREATE TABLE customer (ck INTEGER, born INTEGER)")
    conn.execute("INSERT INTO customer SELECT i, 1930 + i % 50 FROM range(1, 41) t(i)")
    conn.execute("CREATE TABLE date_dim (dk INTEGER, d DATE, y INTEGER)")
    conn.execute(
        "INSERT INTO date_dim SELECT i, CAST(DATE '2000-01-01' + to_days(CAST(i * 40 AS INTEGER)) AS DATE), 2000 + i * 40 // 365 "
        "FROM range(1, 60) t(i)"
    )
    conn.execute("CREATE TABLE sales (sk INTEGER, ck INTEGER, dk INTEGER, paid DOUBLE)")
    # customer key NULL every 7th row; date key NULL every 5th, a missing date (dk 100+) every 11th
    conn.execute(
        """INSERT INTO sales SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + i % 30 END,
           CASE WHEN i % 5 = 0 THEN NULL WHEN i % 11 = 0 THEN 100 + i ELSE 1 + (i * 13) % 59 END,
           (i * 37) % 100 FROM range(1, 200) t(i)"""
    )
    conn.execute("INSERT INTO sales VALUES (900, 35, NULL, 50), (901, 35, 555, 60), (902, 36, NULL, 99)")
    conn.execute("CREATE TABLE web (wk INTEGER, ck INTEGER, paid DOUBLE)")
    conn.execute(
        "INSERT INTO web SELECT i, CASE WHEN i % 9 = 0 THEN NULL ELSE 1 + i % 25 END, "
        "CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 53) % 80 END FROM range(1, 120) t(i)"
    )
    conn.execute("CREATE TABLE calls (ck INTEGER)")
    conn.execute("INSERT INTO calls SELECT 1 + (i * 7) % 40 FROM range(1, 50) t(i)")
    out = {}
    for trusted in (False, True):
        ws = js.connect(conn, catalog=":memory:")
        ws.customers("customer", key="ck")
        ws.relate("sales", "customer", on="ck", assume_integrity=trusted)
        ws.relate("sales", "date_dim", on="dk")
        ws.relate("web", "customer", on="ck", assume_integrity=trusted)
        ws.relate("calls", "customer", on="ck", assume_integrity=trusted)
        out[trusted] = ws
    return out


@pytest.mark.parametrize("trusted", [False, True])
def test_any_filters_null_keys_only_under_not(gaps_ws, trusted):
    """``key IN (SELECT fk ...)`` is NULL, not FALSE, for a non-member when some fk is NULL: the same
    to a filter, so ``fk IS NOT NULL`` (which flipped DuckDB's semi-join build side) is only added
    under NOT, and where the child's keys drive the query (a NULL key is no customer)."""
    ws = gaps_ws[trusted]  # ("NULL": DuckDB writes NOT (x IS NULL) as x IS NOT NULL, D.IS_NOT_NULL_FILTER)
    text = "any(sales where paid > 90)"
    sql = ws.compile(text, pretty=False)
    hand = "SELECT DISTINCT ck FROM sales WHERE paid > 90 AND ck IS NOT NULL"
    assert set(ws.member_keys(text)) == keys(ws, hand) and None not in set(ws.member_keys(text))
    assert ("NULL" in sql) == trusted  # the DISTINCT keys of the driving child
    beside = "born < 1960 and any(sales where paid > 90)"
    hand_beside = f"SELECT ck FROM customer WHERE born < 1960 AND ck IN ({hand})"
    assert set(ws.member_keys(beside)) == keys(ws, hand_beside)
    if not trusted:
        assert "NULL" not in ws.compile(beside, pretty=False)
    negated = "not any(sales where paid > 90)"
    assert "NULL" in ws.compile(negated, pretty=False) or "EXISTS" in ws.compile(negated, pretty=False)
    assert set(ws.member_keys(negated)) == keys(ws, f"SELECT ck FROM customer EXCEPT {hand}")
    for dialect in ("postgres", "sqlite", "mysql"):  # PostgreSQL: NOT EXISTS (D.NOT_ANY_AS_EXISTS)
        other = ws.compile(f"born < 1960 and {negated}", dialect=dialect, pretty=False)
        assert "NULL" in other or (dialect == "postgres" and "EXISTS" in other)


@pytest.mark.parametrize(
    ("text", "inner", "hand"),
    [
        (
            "min(sales.date_dim.d) >= '2001-01-01'",
            True,
            "SELECT s.ck FROM sales s JOIN date_dim d USING (dk) GROUP BY s.ck HAVING min(d.d) >= DATE '2001-01-01'",
        ),
        (
            "count_distinct(sales.date_dim.y) < 2",  # 0 matches: customers without dated sales too
            True,
            """SELECT ck FROM customer EXCEPT SELECT s.ck FROM sales s JOIN date_dim d USING (dk)
               GROUP BY s.ck HAVING count(DISTINCT d.y) >= 2""",
        ),
        (
            "not (max(sales.date_dim.d) < '2004-01-01')",
            True,
            "SELECT s.ck FROM sales s JOIN date_dim d USING (dk) GROUP BY s.ck HAVING max(d.d) >= DATE '2004-01-01'",
        ),
        (
            "sum(sales.date_dim.y where paid > 50) > 8000",
            True,
            "SELECT s.ck FROM sales s JOIN date_dim d USING (dk) WHERE paid > 50 GROUP BY s.ck HAVING sum(y) > 8000",
        ),
        (  # a count of records: a sale without its date still counts
            "max(sales.date_dim.d) < '2006-01-01' and count(sales) >= 6",
            False,
            """SELECT s.ck FROM sales s LEFT JOIN date_dim d USING (dk) GROUP BY s.ck
               HAVING max(d.d) < DATE '2006-01-01' AND count(*) >= 6""",
        ),
        (  # a value of the sale itself: a sale without its date still counts
            "min(sales.date_dim.d) >= '2001-01-01' and sum(sales.paid) > 300",
            False,
            """SELECT s.ck FROM sales s LEFT JOIN date_dim d USING (dk) GROUP BY s.ck
               HAVING min(d.d) >= DATE '2001-01-01' AND sum(paid) > 300""",
        ),
    ],
)
@pytest.mark.parametrize("trusted", [False, True])
def test_aggregate_of_a_parents_value_inner_joins_the_parent(gaps_ws, trusted, text, inner, hand):
    """A record without its parent row adds only NULLs to an aggregate of the parent's value, which
    skips them: INNER JOIN gives the same aggregates (the hand-written JOIN ... GROUP BY)."""
    ws = gaps_ws[trusted]
    sql = ws.compile(text, pretty=False)
    assert ("LEFT JOIN date_dim" not in sql) == inner and "JOIN date_dim" in sql
    assert set(ws.member_keys(text)) == {k for k in keys(ws, hand) if not pd.isna(k)}


CHANNELS = """SELECT ck FROM customer c WHERE {not_} (
    COALESCE((SELECT sum(paid) FROM sales s LEFT JOIN date_dim d USING (dk) WHERE s.ck = c.ck {sales_where}), 0)
    + COALESCE((SELECT sum(paid) FROM web w WHERE w.ck = c.ck), 0) > {n})"""


@pytest.mark.parametrize(
    ("text", "hand"),
    [
        ("sum(sales.paid) + sum(web.paid) > 300", CHANNELS.format(not_="", sales_where="", n=300)),
        ("not (sum(sales.paid) + sum(web.paid) > 300)", CHANNELS.format(not_="NOT", sales_where="", n=300)),
        (
            "sum(sales.paid where date_dim.y >= 2002) + sum(web.paid) > 150",
            CHANNELS.format(not_="", sales_where="AND d.y >= 2002", n=150),
        ),
    ],
)
@pytest.mark.parametrize("trusted", [False, True])
def test_sums_over_several_paths_are_one_union_all_on_duckdb(gaps_ws, trusted, text, hand):
    """sum(a.x) + sum(b.y) over two paths nothing else reads: one UNION ALL of the records and one
    GROUP BY (D.UNION_SUMS: DuckDB and PostgreSQL; TPC-DS sf=1 three channels ~1.35x -> ~1.1x the hand-written
    UNION ALL), the same members as the sum of the COALESCEd per-path sums."""
    ws = gaps_ws[trusted]
    sql = ws.compile(text, pretty=False)
    assert "UNION ALL" in sql and sql.count("GROUP BY") == 1
    assert set(ws.member_keys(text)) == keys(ws, hand)
    assert "UNION ALL" in ws.compile(text, dialect="postgres", pretty=False)  # (test_tpcds_shapes)
    assert "UNION" not in ws.compile(text, dialect="sqlite", pretty=False)


@pytest.mark.parametrize(
    "text",
    [
        "sum(sales.paid) + sum(web.paid) > 300 and count(sales) > 3",  # sales has an aggregate table anyway
        "sum(sales.paid) + sum(web.paid) > 300 and any(web where paid > 70)",
        "sum(sales.paid) + count(web) > 300",
        "sum(sales.paid) - sum(web.paid) > 10",
    ],
)
def test_sums_over_paths_read_otherwise_keep_their_tables(gaps_ws, text):
    ws = gaps_ws[False]
    sql = ws.compile(text, pretty=False)
    assert "UNION" not in sql


def test_sums_over_several_paths_join_the_table_that_drives_the_query(gaps_ws):
    """With a condition that needs a row of another aggregate table over trusted links, that table
    drives the query and the UNION ALL table joins it (no customer table)."""
    ws = gaps_ws[True]
    text = "sum(sales.paid) + sum(web.paid) > 350 and count(calls) >= 2"
    sql = ws.compile(text, pretty=False)
    assert "UNION ALL" in sql and scans(sql, "customer") == 0
    hand = (
        CHANNELS.format(not_="", sales_where="", n=350)
        + " AND (SELECT count(*) FROM calls x WHERE x.ck = c.ck) >= 2"
    )
    assert set(ws.member_keys(text)) == keys(ws, hand) == set(gaps_ws[False].member_keys(text))


@pytest.mark.parametrize(
    ("text", "hand"),
    [
        (
            "born < 1960 and (any(sales where paid > 80) or any(web where paid > 70))",
            """SELECT ck FROM customer WHERE born < 1960 AND ck IN (SELECT ck FROM sales WHERE paid > 80
               UNION SELECT ck FROM web WHERE paid > 70)""",
        ),
        (
            "any(sales where paid > 95) or any(web where paid > 75) or born > 1975",
            """SELECT ck FROM customer WHERE born > 1975 OR ck IN (SELECT ck FROM sales WHERE paid > 95
               UNION SELECT ck FROM web WHERE paid > 75)""",
        ),
        (
            "not (any(sales where paid > 80) or any(web where paid > 70))",  # under NOT: two anti-joins
            """SELECT ck FROM customer EXCEPT (SELECT ck FROM sales WHERE paid > 80
               UNION SELECT ck FROM web WHERE paid > 70)""",
        ),
    ],
)
@pytest.mark.parametrize("trusted", [False, True])
def test_an_or_of_semi_joins_from_one_key_is_one_semi_join_on_duckdb(gaps_ws, trusted, text, hand):
    """``k IN (a) OR k IN (b)`` is ``k IN (a UNION ALL b)`` (same truth value, NULLs included); DuckDB
    ran two MARK joins over every child key (TPC-DS sf=1: 4.8x the hand-written IN (... UNION ...))."""
    ws = gaps_ws[trusted]
    sql = ws.compile(text, pretty=False)
    assert ("UNION ALL" in sql) == (not text.startswith("not"))
    on_postgres = ws.compile(text, dialect="postgres", pretty=False)  # PostgreSQL too (test_tpcds_shapes)
    assert ("UNION ALL" in on_postgres) == (not text.startswith("not"))
    assert set(ws.member_keys(text)) == {k for k in keys(ws, hand) if not pd.isna(k)}
