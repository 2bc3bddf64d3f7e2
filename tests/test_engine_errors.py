"""Bad input: one SegmentError with line, column, caret and a did-you-mean, raised before any SQL runs;
injection attempts are data, never SQL.

"Nothing reaches the database" is proved with a Backend wrapper that counts every statement sent
(query, scalar, iter_chunks, execute): reading the schema (tables, columns, foreign keys) is allowed,
running SQL is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import oracle as O
import pandas as pd
import pytest
from conftest import DEMO_ANCHOR

from jupyter_segments import SegmentError, Workspace
from jupyter_segments.backends import open_backend
from jupyter_segments.errors import did_you_mean

SEGMENTS = {
    "vip": "sum(orders.amount) >= 1000",
    "cycle_a": "age > 1 and in segment cycle_b",
    "cycle_b": "in segment cycle_a",
    "self_ref": "not in segment self_ref",
    "broken": "age >",
}


def segment_source(name: str) -> str:
    if name not in SEGMENTS:
        raise KeyError(did_you_mean(name, SEGMENTS))
    return SEGMENTS[name]


class CountingBackend:
    """Delegates to a real backend and counts the statements it runs."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.dialect = inner.dialect
        self.display_url = inner.display_url
        self.statements: list[str] = []

    def query(self, sql: str) -> pd.DataFrame:
        self.statements.append(sql)
        return self.inner.query(sql)

    def scalar(self, sql: str):
        self.statements.append(sql)
        return self.inner.scalar(sql)

    def iter_chunks(self, sql: str, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]:
        self.statements.append(sql)
        yield from self.inner.iter_chunks(sql, chunk_size)

    def execute(self, sql: str) -> None:
        self.statements.append(sql)
        self.inner.execute(sql)

    def __getattr__(self, name: str):  # schema reads and writes we do not count
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def counting(demo_conn) -> CountingBackend:
    return CountingBackend(open_backend(demo_conn))


@pytest.fixture(scope="module")
def ws(counting) -> Workspace:
    w = Workspace(counting)
    w.customers("customers", key="customer_id")
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    w.session.segment_source = segment_source
    # Read the schema of every table once, so that what follows can only be segment SQL.
    for table in w.tables():
        w.model.entity(table)
    # ... and whether each key is unique (one query per key, remembered by the model like the schema).
    w.model.require_unique("customers", "customer_id", "")
    for rel in w.model.relationships():
        w.model.require_parent_key(rel)
    counting.statements.clear()
    w.model.relationships()
    assert w.count("age > 200", as_of=DEMO_ANCHOR) == 0 and len(counting.statements) == 1
    return w


# (text, message fragment (regex), line, column)
BAD = [
    ("sum(orders.status) > 3", r"sum\(\) needs a number, but orders\.status is a string", 1, 1),
    ("avg(orders.channel) > 3", r"avg\(\) needs a number, but orders\.channel is a string", 1, 1),
    ("age contains 'x'", r"contains needs a string, but age is a number", 1, 1),
    ("age starts with 'x'", r"starts with needs a string", 1, 1),
    ("age like 'a%'", r"LIKE needs a string, but age is a number", 1, 1),
    ("country > 5", r"cannot compare a string \(country\) with a number \(5\)", 1, 11),
    ("newsletter > 3", r"cannot compare a boolean", 1, 14),
    ("age + country > 3", r"arithmetic needs numbers", 1, 7),
    ("age in last 3 days", r"'in last' needs a date or timestamp, but age is a number", 1, 1),
    ("signup_date before 3", r"cannot compare a date", 1, 20),
    ("signup_date > 'yesterday'", r"'yesterday' is not a date", 1, 15),
    ("contry = 'DE'", r"unknown attribute 'contry' on customers; did you mean 'country'\?", 1, 1),
    ("Country = 'DE' and lastname = 'x'", r"unknown attribute 'lastname' on customers; did you mean 'last_name'\?", 1, 20),
    ("regions.nme = 'x'", r"unknown attribute 'nme' on regions; did you mean 'name'\?", 1, 1),
    ("regoins.name = 'x'", r"unknown relationship 'regoins' from customers; did you mean 'regions'\?", 1, 1),
    ("any(ordrs where amount > 1)", r"unknown relationship 'ordrs' from customers; did you mean 'orders'\?", 1, 1),
    ("count(suport_calls) > 1", r"unknown relationship 'suport_calls' from customers; did you mean 'support_calls'\?", 1, 1),
    ("any(orders where amout > 1)", r"unknown attribute 'amout' on orders; did you mean 'amount'\?", 1, 18),
    ("none(support_calls where escalatd)", r"unknown attribute 'escalatd' on support_calls; did you mean 'escalated'\?", 1, 26),
    ("sum(orders.order_lines.quantit) > 1", r"unknown attribute 'quantit' on order_lines; did you mean 'quantity'\?", 1, 24),
    # A where on a path that does not exist:
    ("any(orders.payments where amount > 1)", r"unknown relationship 'payments' from orders", 1, 1),
    ("count(orders.order_line where quantity > 1) > 0", r"unknown attribute 'order_line' on orders; did you mean 'order_lines'\?", 1, 14),
    ("sum(orders.amount where foo.bar = 1) > 0", r"unknown relationship 'foo' from orders", 1, 25),
    # An aggregate (or any value) used as a boolean:
    ("count(orders)", r"an aggregate is not a condition: compare it", 1, 1),
    ("age > 3 and sum(orders.amount)", r"an aggregate is not a condition", 1, 13),
    ("age", r"a number is not a condition", 1, 1),
    ("avg(orders) > 1", r"avg\(\) needs an attribute", 1, 1),
    ("sum(age) > 1", r"'age' is an attribute of customers; an aggregate needs a related table", 1, 1),
    ("orders.amount > 5", r"'orders' is a to-many relationship from customers: use an aggregate", 1, 1),
    ("orders > 5", r"'orders' is a relationship, not an attribute", 1, 1),
    ("any(orders.amount)", r"any\(\) takes a relationship path, not an attribute", 1, 1),
    ("any(orders where (status = 'x') union (amount > 1))", r"UNION combines segments; inside WHERE use AND", 1, 18),
    ("any(orders where in segment vip)", r"'in segment' tests customers", 1, 18),
    ("age > 3 PROJECT count(orders) AS age", r"projected column 'age' clashes", 1, 17),
    ("age > 3 PROJECT sum(orders.status) AS s", r"sum\(\) needs a number", 1, 17),
    ("in segment vpi", r"unknown segment 'vpi'; did you mean 'vip'\?", 1, 1),
    ("in segment cycle_a", r"segment reference cycle: cycle_a -> cycle_b -> cycle_a", 1, 1),
    ("age > 3 and in segment self_ref", r"segment reference cycle: self_ref -> self_ref", 1, 13),
    ("in segment broken", r"segment 'broken' does not parse", 1, 1),
    ("age > {x}", r"undefined variable \{x\}", 1, 7),
    # Parse errors go through the same path:
    ("name = 'unterminated", r"unterminated string literal", 1, 8),
    ("age > 30\n  and sum(orders.status) > 3", r"sum\(\) needs a number", 2, 7),
    ("age > 30 and\n\n   country = 'DE' and\n   contry = 'FR'", r"did you mean 'country'\?", 4, 4),
    ("-- a comment\nage > 30 and (country = 'DE'", r"expected '\)'", 2, 29),
    ("coun\u200btry = 1", r"unexpected character '\\u200b'", 1, 5),
    ("country ＝ 'DE'", r"unexpected character '＝'", 1, 9),
]  # fmt: skip


@pytest.mark.parametrize(("text", "fragment", "line", "column"), BAD, ids=[b[0][:40] for b in BAD])
def test_bad_definition_is_one_clear_error_and_runs_nothing(
    ws: Workspace, counting: CountingBackend, text: str, fragment: str, line: int, column: int
) -> None:
    before = len(counting.statements)
    for call in (
        lambda: ws.count(text, as_of=DEMO_ANCHOR),
        lambda: ws.members(text, limit=5, as_of=DEMO_ANCHOR),
        lambda: ws.members(text, as_of=DEMO_ANCHOR),
        lambda: ws.member_keys(text, as_of=DEMO_ANCHOR),
        lambda: list(ws.iter_members(text, as_of=DEMO_ANCHOR)),
        lambda: ws.compile(text, dialect="tsql"),
        lambda: ws.check(text),
    ):
        with pytest.raises(SegmentError) as info:
            call()
        err = info.value
        assert re.search(fragment, str(err)), str(err)
        assert (err.line, err.column) == (line, column), str(err)
        lines = str(err).splitlines()
        assert lines[0].startswith(f"line {line}, column {column}: ")
        source_line = text.splitlines()[line - 1]
        assert lines[1] == f"  {source_line}"
        caret = lines[2]
        assert set(caret.strip()) == {"^"} and caret.index("^") == 2 + column - 1, str(err)
    assert len(counting.statements) == before, counting.statements[before:]


def test_caret_spans_the_faulty_name(ws: Workspace) -> None:
    with pytest.raises(SegmentError) as info:
        ws.check("age > 3 and contry = 'DE'")
    assert str(info.value).splitlines()[2] == "  " + " " * 12 + "^" * len("contry")


# --- injection: data, never SQL ---------------------------------------------------------------------

INJECTIONS = [
    "'; DROP TABLE customers; --",
    "x' OR '1'='1",
    "x\\' OR 1=1 -- ",
    "\\'; DROP TABLE orders; --",
    "O'Brien",
    "%' OR 1=1 --",
    '"; DROP TABLE customers; --',
    "DE\x00",
    "D\u0395",  # Greek capital epsilon, looks like DE
    "ᴰᴱ",
    "DE\u200b",
]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@pytest.mark.parametrize("value", INJECTIONS, ids=[repr(v)[:20] for v in INJECTIONS])
def test_injection_in_literals_is_data(demo_backend, demo_frames, value: str) -> None:
    from test_engine_oracle import workspace_for

    ws = workspace_for(demo_backend)
    if "\x00" in value:
        # A NUL in definition text is refused by the tokenizer on every database (issue 15: PostgreSQL
        # and SQLite's drivers refuse it anyway), with the caret on it; nothing runs.
        with pytest.raises(SegmentError, match="NUL") as e:
            ws.count(f"last_name = {_literal(value)}", as_of=DEMO_ANCHOR)
        assert e.value.column == len("last_name = 'DE") + 1
        assert int(demo_backend.scalar("SELECT COUNT(*) FROM customers")) == len(demo_frames["customers"])
        return
    c = O.nullable(demo_frames["customers"]).set_index("customer_id", drop=False)
    lit = _literal(value)
    text = (
        f"last_name = {lit} or country = {lit} or city contains {lit} or first_name like {lit} "
        f"or any(orders where status = {lit})"
    )
    # The oracle: pandas equality and substring tests on the frames.
    want = O.members(
        O.cmp(c.last_name, "=", value)
        | O.cmp(c.country, "=", value)
        | O.text_match(c.city, "contains", value)
        | O.like(c.first_name, value, case_insensitive=demo_backend.dialect in ("sqlite", "mysql"))
    )
    got = sorted(int(k) for k in ws.member_keys(text, as_of=DEMO_ANCHOR))
    if demo_backend.dialect == "mysql" and value in ("D\u0395", "ᴰᴱ", "DE\u200b"):
        # MariaDB's default utf8mb4_general_ci collation folds some look-alikes; only check that
        # nothing but look-alike matches came back.
        assert set(got) <= set(want) | set(c.index[c.country == "DE"])
    else:
        assert got == want
    # Same through a bound parameter.
    got_param = sorted(
        int(k) for k in ws.member_keys("last_name = {v}", params={"v": value}, as_of=DEMO_ANCHOR)
    )
    assert got_param == O.members(O.cmp(c.last_name, "=", value)) or demo_backend.dialect == "mysql"
    # The tables are all still there, with every row.
    for table in ("customers", "orders"):
        assert int(demo_backend.scalar(f"SELECT COUNT(*) FROM {table}")) == len(demo_frames[table])


def test_quoted_names_are_checked_against_the_model(ws: Workspace, counting: CountingBackend) -> None:
    before = len(counting.statements)
    for text in (
        '"x; drop" = 1',
        '"customers; DROP TABLE customers; --" = 1',
        "\"country'; DROP TABLE customers; --\" = 'DE'",
        'sum("orders; DROP TABLE orders".amount) > 1',
        'any("orders" where "amount"" OR 1=1 --" > 1)',
        "cоuntry = 'DE'",  # Cyrillic o
        "\"country\u200b\" = 'DE'",
    ):
        with pytest.raises(SegmentError, match=r"unknown (attribute|relationship)"):
            ws.count(text, as_of=DEMO_ANCHOR)
    assert len(counting.statements) == before
    # A quoted name that exists works, and spells the column as the model knows it.
    assert ws.count("\"country\" = 'DE'", as_of=DEMO_ANCHOR) == ws.count("country = 'DE'", as_of=DEMO_ANCHOR)


def test_cyrillic_lookalike_suggests_the_real_name(ws: Workspace) -> None:
    with pytest.raises(SegmentError, match=r"did you mean 'country'\?"):
        ws.check("cоuntry = 'DE'")
