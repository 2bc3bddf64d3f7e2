"""Real schemas (issue 13): tables linked twice (roles), keys that are not keys, mismatched columns.

A small TPC-DS-shaped schema is written to every database; counts are checked against SQL written by
hand in the test, and every refusal names what is wrong and how to say it right.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest

from jupyter_segments import SegmentError, Workspace
from jupyter_segments.backends.base import Backend
from jupyter_segments.display import ModelView

TABLES = ("m13_customer", "m13_web_sales", "m13_store_sales", "m13_store_returns")
DDL = [
    "CREATE TABLE m13_customer (c_sk INTEGER, c_birth_year INTEGER, c_code VARCHAR(10))",
    "CREATE TABLE m13_web_sales (ws_id INTEGER, ws_bill_sk INTEGER, ws_ship_sk INTEGER, ws_amount INTEGER)",
    "CREATE TABLE m13_store_sales (ss_ticket INTEGER, ss_item INTEGER, ss_c_sk INTEGER, ss_quantity INTEGER)",
    "CREATE TABLE m13_store_returns (sr_ticket INTEGER, sr_item INTEGER, sr_c_sk INTEGER)",
]
ROWS = {
    "m13_customer": [(1, 1970, "a"), (2, 1980, "b"), (3, 1990, "c"), (4, None, "d")],
    # bill-to and ship-to differ: customer 1 buys for 2 and 3; customer 2 for itself
    "m13_web_sales": [(1, 1, 2, 10), (2, 1, 3, 20), (3, 2, 2, 30), (4, 1, 1, 5), (5, 3, None, 7)],
    # ticket 100 has two items: the ticket alone is not a key
    "m13_store_sales": [(100, 1, 1, 3), (100, 2, 1, 4), (101, 1, 2, 1)],
    "m13_store_returns": [(100, 1, 1), (101, 1, 2)],
}


@pytest.fixture
def schema(demo_backend: Backend) -> Iterator[Backend]:
    yield from written(demo_backend, TABLES, DDL, ROWS)


def written(
    backend: Backend, tables: Sequence[str], ddl: Sequence[str], rows: dict[str, list[tuple]]
) -> Iterator[Backend]:
    """``backend`` with ``tables`` created by ``ddl`` and filled with ``rows``; dropped afterwards, with
    any table the test created (members tables of refreshes)."""
    before = set(backend.tables())
    for table in tables:
        backend.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in ddl:
        backend.execute(statement)
    for table, values in rows.items():
        for row in values:
            literals = ", ".join("NULL" if v is None else repr(v) for v in row)
            backend.execute(f"INSERT INTO {table} VALUES ({literals})")
    yield backend
    for table in tables:
        backend.execute(f"DROP TABLE IF EXISTS {table}")
    for table in set(backend.tables()) - before - set(tables):
        backend.drop_table(table)


def roles_ws(backend: Backend) -> Workspace:
    ws = Workspace(backend)
    ws.customers("m13_customer", key="c_sk")
    ws.relate(
        "m13_web_sales", "m13_customer", on=("ws_bill_sk", "c_sk"), name="web_sales", parent_name="bill_to"
    )
    ws.relate(
        "m13_web_sales",
        "m13_customer",
        on=("ws_ship_sk", "c_sk"),
        name="shipped_web_sales",
        parent_name="ship_to",
    )
    return ws


def hand(backend: Backend, sql: str) -> list[int]:
    return sorted(int(k) for k in backend.query(sql).iloc[:, 0])


def members(ws: Workspace, text: str) -> list[int]:
    return sorted(int(k) for k in ws.member_keys(text))


def test_two_roles_between_the_same_tables(schema: Backend) -> None:
    ws = roles_ws(schema)
    assert members(ws, "count(web_sales) >= 2") == hand(
        schema, "SELECT ws_bill_sk FROM m13_web_sales GROUP BY ws_bill_sk HAVING COUNT(*) >= 2"
    )
    assert members(ws, "count(shipped_web_sales) >= 2") == hand(
        schema, "SELECT ws_ship_sk FROM m13_web_sales GROUP BY ws_ship_sk HAVING COUNT(*) >= 2"
    )
    # both in one definition: two aggregate tables, not one
    assert members(ws, "sum(web_sales.ws_amount) > 30 and sum(shipped_web_sales.ws_amount) < 30") == hand(
        schema,
        "SELECT c_sk FROM m13_customer c WHERE "
        "(SELECT SUM(ws_amount) FROM m13_web_sales WHERE ws_bill_sk = c.c_sk) > 30 AND "
        "COALESCE((SELECT SUM(ws_amount) FROM m13_web_sales WHERE ws_ship_sk = c.c_sk), 0) < 30",
    )
    # from a web_sales row, each role is its own to-one step
    text = "any(web_sales where ship_to.c_birth_year > bill_to.c_birth_year)"
    assert members(ws, text) == hand(
        schema,
        "SELECT DISTINCT w.ws_bill_sk FROM m13_web_sales w JOIN m13_customer b ON b.c_sk = w.ws_bill_sk "
        "JOIN m13_customer s ON s.c_sk = w.ws_ship_sk WHERE s.c_birth_year > b.c_birth_year",
    )
    assert members(ws, "count(shipped_web_sales where bill_to.c_code = 'a') >= 1") == [1, 2, 3]
    frame = ws.relationships()
    assert len(frame) >= 2 and {"shipped_web_sales", "ship_to"} <= set(
        ws.model.steps_from("m13_web_sales")
    ) | set(ws.model.steps_from("m13_customer"))


def test_a_second_link_without_names_is_refused(schema: Backend) -> None:
    ws = Workspace(schema)
    ws.customers("m13_customer", key="c_sk")
    ws.relate("m13_web_sales", "m13_customer", on=("ws_bill_sk", "c_sk"))
    ws.relate(
        "m13_web_sales", "m13_customer", on=("ws_bill_sk", "c_sk"), assume_integrity=True
    )  # again: fine
    with pytest.raises(
        SegmentError,
        match=r"already related on m13_web_sales\.ws_bill_sk = m13_customer\.c_sk; "
        r"to add this link too, name its roles",
    ) as info:
        ws.relate("m13_web_sales", "m13_customer", on=("ws_ship_sk", "c_sk"))
    assert "replace=True" in str(info.value)
    assert members(ws, "count(m13_web_sales) >= 2") == [1]  # the first link is still the one in use
    ws.relate("m13_web_sales", "m13_customer", on=("ws_ship_sk", "c_sk"), replace=True)
    assert members(ws, "count(m13_web_sales) >= 2") == [2]


def test_role_names_that_clash_are_refused(schema: Backend) -> None:
    ws = roles_ws(schema)
    with pytest.raises(SegmentError, match=r"'web_sales' already leads from m13_customer through"):
        ws.relate("m13_store_sales", "m13_customer", on=("ss_c_sk", "c_sk"), name="web_sales")
    with pytest.raises(SegmentError, match=r"'c_code' is a column of m13_customer: give this relationship"):
        ws.relate("m13_store_sales", "m13_customer", on=("ss_c_sk", "c_sk"), name="c_code")


def test_a_parent_that_is_not_unique_is_refused(schema: Backend) -> None:
    """A to-one step to a parent with duplicate keys would multiply rows (7,073 customers instead of
    2 on TPC-DS): refused before any segment query runs."""
    ws = Workspace(schema)
    ws.customers("m13_customer", key="c_sk")
    ws.relate("m13_store_returns", "m13_customer", on=("sr_c_sk", "c_sk"))
    ws.relate("m13_store_returns", "m13_store_sales", on=("sr_ticket", "ss_ticket"))
    message = (
        r"m13_store_sales\.ss_ticket is not unique: 1 value appears more than once \(e\.g\. 100\); "
        r"m13_store_returns rows would each meet several m13_store_sales rows"
    )
    with pytest.raises(SegmentError, match=message):
        ws.check("count(m13_store_returns where m13_store_sales.ss_quantity >= 0) >= 1")
    # what it would have counted: 2 returns for customer 1 where there is 1
    multiplied = hand(
        schema,
        "SELECT r.sr_c_sk FROM m13_store_returns r JOIN m13_store_sales s ON s.ss_ticket = r.sr_ticket "
        "GROUP BY r.sr_c_sk HAVING COUNT(*) >= 2",
    )
    assert multiplied == [1]


def test_relating_backwards_from_the_customer_says_the_right_form(schema: Backend) -> None:
    ws = Workspace(schema)
    ws.customers("m13_customer", key="c_sk")
    ws.relate("m13_customer", "m13_store_sales", on=("c_sk", "ss_c_sk"))
    with pytest.raises(SegmentError) as info:
        ws.check("m13_store_sales.ss_quantity > 1")
    assert "ws.relate('m13_store_sales', 'm13_customer', on=('ss_c_sk', 'c_sk'))" in str(info.value)


def test_a_customer_key_that_is_not_unique_is_refused(schema: Backend) -> None:
    ws = Workspace(schema)
    ws.customers("m13_store_sales", key="ss_ticket")
    with pytest.raises(
        SegmentError, match=r"m13_store_sales\.ss_ticket is not unique.*a key must identify one customer"
    ):
        ws.count("ss_quantity > 0")


def test_columns_of_different_kinds_are_refused_at_relate(schema: Backend) -> None:
    ws = Workspace(schema)
    ws.customers("m13_customer", key="c_sk")
    with pytest.raises(SegmentError) as info:
        ws.relate("m13_web_sales", "m13_customer", on=("ws_bill_sk", "c_code"))
    assert re.search(
        r"cannot relate m13_web_sales\.ws_bill_sk \(.+?\) to m13_customer\.c_code \(VARCHAR", str(info.value)
    )


def test_roles_are_kept_in_the_catalog_and_shown(schema: Backend, tmp_path) -> None:
    catalog = str(tmp_path / "catalog.sqlite")
    ws = roles_ws(schema)
    ws._catalog_target = catalog  # a catalog file the next session opens again
    ws.segment("ships_a_lot", "count(shipped_web_sales) >= 2")
    again = Workspace(schema, catalog=catalog)
    assert again.get("ships_a_lot").definition == "count(shipped_web_sales) >= 2"
    assert (
        members(again, "count(shipped_web_sales) >= 2") == members(ws, "count(shipped_web_sales) >= 2") == [2]
    )
    listed = again.relationships().set_index("name")
    assert listed.loc["shipped_web_sales", "parent_name"] == "ship_to"
    assert listed.loc["shipped_web_sales", "child_column"] == "ws_ship_sk"
    assert (
        "as shipped_web_sales (from m13_customer) / ship_to (from m13_web_sales)"
        in ModelView(again).to_text()
    )
    again.unrelate("m13_web_sales", "m13_customer", name="shipped_web_sales")
    with pytest.raises(SegmentError, match="unknown relationship 'shipped_web_sales'"):
        again.check("count(shipped_web_sales) >= 2")
    assert members(again, "count(web_sales) >= 2") == [1]


def test_table_names_bind_exactly_and_members_tables_stay_hidden(schema: Backend) -> None:
    schema.execute("CREATE TABLE club_members__2024 (c_sk INTEGER, since INTEGER)")
    try:
        ws = Workspace(schema)
        assert "club_members__2024" in ws.tables()  # the user's own table, whatever its name looks like
        ws.customers("m13_customer", key="c_sk")
        ws.relate("club_members__2024", "m13_customer", on="c_sk")
        assert members(ws, "any(club_members__2024)") == []
        ws.members_prefix = "club_"  # now it is where this workspace would keep members: not listed
        assert "club_members__2024" not in ws.tables()
    finally:
        schema.execute("DROP TABLE IF EXISTS club_members__2024")


def test_a_name_that_matches_two_tables_but_for_case_is_refused(demo_backend: Backend) -> None:
    if demo_backend.dialect != "postgres":
        pytest.skip("only PostgreSQL keeps two tables whose names differ only in case")
    demo_backend.execute('CREATE TABLE "M13_Case" (k INTEGER)')
    demo_backend.execute("CREATE TABLE m13_case (k INTEGER)")
    try:
        ws = Workspace(demo_backend)
        ws.customers("m13_case", key="k")  # the exact name binds
        assert ws.model.customer == "m13_case"
        with pytest.raises(
            SegmentError, match=r"'M13_CASE' could be any of the tables 'M13_Case', 'm13_case'"
        ):
            ws.customers("M13_CASE", key="k")
    finally:
        demo_backend.execute('DROP TABLE IF EXISTS "M13_Case"')
        demo_backend.execute("DROP TABLE IF EXISTS m13_case")


def test_text_dates_and_integer_flags_mean_what_they_say(demo_backend: Backend) -> None:
    """Dates kept as ISO text with either separator, and booleans kept as integers (SQLite; MariaDB's
    TINYINT(1) is its BOOLEAN, and it reads 2 as true): the same answers as typed columns."""
    if demo_backend.dialect not in ("sqlite", "mysql"):
        pytest.skip("the storage conventions of SQLite and MariaDB")
    date_type = "TEXT" if demo_backend.dialect == "sqlite" else "DATE"
    flag_type = "INTEGER" if demo_backend.dialect == "sqlite" else "TINYINT(1)"
    demo_backend.execute("DROP TABLE IF EXISTS m13_kept")
    demo_backend.execute(
        f"CREATE TABLE m13_kept (k INTEGER, d {date_type}, ts VARCHAR(30), flag {flag_type})"
    )
    rows = [
        (1, "'2024-01-01'", "'2024-01-01T10:00:00'", 1),
        (2, "'2024-01-01'", "'2024-01-01 09:00:00'", 0),
        (3, "'2024-01-02'", "'2024-01-02 08:30'", 2 if demo_backend.dialect == "mysql" else 1),
        (4, "NULL", "NULL", "NULL"),
    ]
    for row in rows:
        demo_backend.execute(f"INSERT INTO m13_kept VALUES ({', '.join(map(str, row))})")
    try:
        ws = Workspace(demo_backend)
        ws.customers("m13_kept", key="k")
        assert members(ws, "d = TIMESTAMP '2024-01-01 00:00:00'") == [1, 2]
        assert members(ws, "flag") == members(ws, "flag is true") == members(ws, "flag = true") == [1, 3]
        assert members(ws, "flag is false") == members(ws, "not flag") == [2]
        if demo_backend.dialect == "sqlite":  # TEXT sampled as timestamps; 'T' and ' ' both read
            assert ws.attributes("m13_kept").set_index("column").loc["ts", "type"] == "timestamp"
            assert members(ws, "ts > '2024-01-01 09:30:00'") == [1, 3]
            assert members(ws, "d < ts") == [1, 2, 3]
            assert members(ws, "ts in last 1 days") == []
            assert sorted(int(k) for k in ws.member_keys("ts after '2024-01-01'", as_of="2024-01-03")) == [
                1,
                2,
                3,
            ]
    finally:
        demo_backend.execute("DROP TABLE IF EXISTS m13_kept")


def test_types_say_what_text_and_integer_columns_hold(demo_backend: Backend, tmp_path) -> None:
    """ws.types: dates kept as text and flags kept as integers, read as what they are on every
    database, kept in the catalog's model and shown by %segment model."""
    demo_backend.execute("DROP TABLE IF EXISTS m13_typed")
    demo_backend.execute(
        "CREATE TABLE m13_typed (k INTEGER, d VARCHAR(20), flag INTEGER, amount VARCHAR(20))"
    )
    for row in ((1, "'2024-01-05'", 1, "'10.5'"), (2, "'2023-12-31'", 0, "'3'"), (3, "NULL", 2, "NULL")):
        demo_backend.execute(f"INSERT INTO m13_typed VALUES ({', '.join(map(str, row))})")
    try:
        catalog = str(tmp_path / "catalog.sqlite")
        ws = Workspace(demo_backend, catalog=catalog)
        ws.customers("m13_typed", key="k")
        if demo_backend.dialect != "sqlite":  # SQLite's ISO text is sampled as dates already
            with pytest.raises(SegmentError, match="'in year' needs a date or timestamp, but d is a string"):
                ws.check("d in year 2024")  # text, until told otherwise
        ws.types("m13_typed", d="date", flag="boolean", amount="number")
        assert members(ws, "d > '2024-01-01'") == [1]
        assert members(ws, "year(d) = 2023") == [2]
        assert members(ws, "flag") == members(ws, "flag = true") == [1, 3]
        assert members(ws, "amount * 2 > 10") == [1]
        with pytest.raises(SegmentError, match="unknown type 'datetime'"):
            ws.types("m13_typed", d="datetime")
        ws.segment("recent", "d in year 2024")
        again = Workspace(demo_backend, catalog=catalog)
        assert again.get("recent").definition == "d in year 2024"  # opens the catalog: its model too
        assert members(again, "d in year 2024") == [1]
        assert re.search(
            r"\n  d +date \(VARCHAR", ModelView(again).to_text()
        )  # read as a date, stored as text
    finally:
        demo_backend.execute("DROP TABLE IF EXISTS m13_typed")
