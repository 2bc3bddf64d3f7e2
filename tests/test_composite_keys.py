"""Composite keys (issue 13): a customer keyed by (region, account_no), links on several columns, two
roles between the same tables and a composite to-one step (a return -> its sale by ticket AND item).

A small schema is written to every database; every definition is checked against SQL written by hand
in the test (composite joins, NULL keys left out), and every refusal shows its message and that no
segment query ran.
"""

from __future__ import annotations

import json
import statistics
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from test_modelling import written

from jupyter_segments import SegmentError, Workspace
from jupyter_segments.backends.base import Backend
from jupyter_segments.display import ModelView

TABLES = ("ck_accounts", "ck_orders", "ck_sales", "ck_returns", "nk_people", "pk_accounts")
DDL = [
    "CREATE TABLE ck_accounts (region VARCHAR(10), account_no INTEGER, tier VARCHAR(10))",
    "CREATE TABLE ck_orders (order_id INTEGER, region VARCHAR(10), account_no INTEGER, "
    "ship_region VARCHAR(10), ship_account_no INTEGER, amount INTEGER)",
    "CREATE TABLE ck_sales (s_ticket INTEGER, s_item INTEGER, region VARCHAR(10), account_no INTEGER, s_qty INTEGER)",
    "CREATE TABLE ck_returns (r_ticket INTEGER, r_item INTEGER, region VARCHAR(10), account_no INTEGER, r_qty INTEGER)",
    "CREATE TABLE nk_people (id INTEGER, tier VARCHAR(10))",
    "CREATE TABLE pk_accounts (region VARCHAR(10) NOT NULL, account_no INTEGER NOT NULL, tier VARCHAR(10), "
    "PRIMARY KEY (region, account_no))",
]
ROWS = {
    # account_no 1 and 2 exist in two regions: a join on account_no alone would mix them up.
    # (NULL, 4) and ('us', NULL) have no whole key: never members, whatever they hold.
    "ck_accounts": [
        ("eu", 1, "gold"), ("us", 1, "basic"), ("eu", 2, "basic"), ("us", 2, "gold"), ("eu", 3, "basic"),
        (None, 4, "gold"), ("us", None, "gold"),
    ],
    "ck_orders": [
        (1, "eu", 1, "eu", 1, 10), (2, "eu", 1, "us", 2, 20), (3, "us", 1, "us", 1, 5), (4, "eu", 2, "eu", 1, 30),
        (5, "us", 2, None, None, 15), (6, "us", 2, "us", 2, 7), (7, None, 4, "eu", 3, 50), (8, "us", None, "us", 1, 9),
        (9, "eu", 9, "eu", 3, 40),
    ],
    # ticket 100 and 102 have two items: the ticket alone is not a key of a sale
    "ck_sales": [
        (100, 1, "eu", 1, 3), (100, 2, "eu", 1, 4), (101, 1, "us", 1, 1), (102, 1, "eu", 2, 5), (102, 2, "eu", 2, 1),
    ],
    "ck_returns": [(100, 2, "eu", 1, 1), (101, 1, "us", 1, 1), (102, 2, "eu", 2, 1), (102, 1, "us", 2, 2)],
    "nk_people": [(1, "gold"), (2, "basic"), (None, "gold"), (3, "gold")],
    "pk_accounts": [("eu", 1, "gold"), ("us", 1, "basic"), ("eu", 2, "basic")],
}  # fmt: skip
BOTH = [("region", "region"), ("account_no", "account_no")]


@pytest.fixture
def schema(demo_backend: Backend) -> Iterator[Backend]:
    yield from written(demo_backend, TABLES, DDL, ROWS)


def composite_ws(backend: Backend, catalog: str | None = None) -> Workspace:
    ws = Workspace(backend, catalog=catalog)
    ws.customers("ck_accounts", key=("region", "account_no"))
    ws.relate("ck_orders", "ck_accounts", on=BOTH, name="orders", parent_name="account")
    ws.relate(
        "ck_orders",
        "ck_accounts",
        on=[("ship_region", "region"), ("ship_account_no", "account_no")],
        name="shipped_orders",
        parent_name="ship_to",
    )
    ws.relate("ck_sales", "ck_accounts", on=BOTH, name="sales", parent_name="account")
    ws.relate("ck_returns", "ck_accounts", on=BOTH, name="returns", parent_name="account")
    ws.relate(
        "ck_returns",
        "ck_sales",
        on=[("r_ticket", "s_ticket"), ("r_item", "s_item")],
        name="returns",
        parent_name="sale",
    )
    return ws


def on_ticket_alone(ws: Workspace) -> None:
    """A return related to its sale by the ticket alone: half of the sale's key."""
    ws.relate(
        "ck_returns",
        "ck_sales",
        on=("r_ticket", "s_ticket"),
        name="returns",
        parent_name="sale",
        replace=True,
    )


Key = tuple[str, int]


def keys_of(frame) -> set[Key]:
    return {(str(r), int(a)) for r, a in zip(frame["region"], frame["account_no"], strict=True)}


def hand(backend: Backend, where: str) -> set[Key]:
    """The accounts (with a whole key) for which ``where`` holds, ``a`` being the account row."""
    sql = (
        "SELECT a.region, a.account_no FROM ck_accounts a "
        f"WHERE a.region IS NOT NULL AND a.account_no IS NOT NULL AND ({where})"
    )
    return keys_of(backend.query(sql))


ORDERS = "FROM ck_orders o WHERE o.region = a.region AND o.account_no = a.account_no"
SHIPPED = "FROM ck_orders o WHERE o.ship_region = a.region AND o.ship_account_no = a.account_no"
RETURNS_WITH_SALE = (
    "FROM ck_returns r JOIN ck_sales s ON s.s_ticket = r.r_ticket AND s.s_item = r.r_item "
    "WHERE r.region = a.region AND r.account_no = a.account_no"
)
SALES = "FROM ck_sales s WHERE s.region = a.region AND s.account_no = a.account_no"
RETURNS_OF_SALE = "FROM ck_returns r WHERE r.r_ticket = s.s_ticket AND r.r_item = s.s_item"

CASES: list[tuple[str, str, str]] = [
    ("count", "count(orders) >= 2", f"(SELECT COUNT(*) {ORDERS}) >= 2"),
    ("any_role", "any(shipped_orders where amount > 10)", f"EXISTS (SELECT 1 {SHIPPED} AND o.amount > 10)"),
    ("none", "none(orders)", f"NOT EXISTS (SELECT 1 {ORDERS})"),
    ("or_of_semi_joins", "any(orders where amount > 20) or any(sales where s_qty >= 5)",
     f"EXISTS (SELECT 1 {ORDERS} AND o.amount > 20) OR EXISTS (SELECT 1 {SALES} AND s.s_qty >= 5)"),
    ("all", "all(orders where amount >= 10)", f"NOT EXISTS (SELECT 1 {ORDERS} AND NOT (o.amount >= 10))"),
    ("not", "not (count(orders) >= 2)", f"NOT ((SELECT COUNT(*) {ORDERS}) >= 2)"),
    ("sum_and_attribute", "sum(orders.amount) > 25 and tier = 'basic'",
     f"(SELECT SUM(o.amount) {ORDERS}) > 25 AND a.tier = 'basic'"),
    ("max_role", "max(shipped_orders.amount) >= 20", f"(SELECT MAX(o.amount) {SHIPPED}) >= 20"),
    ("to_one_step_in_aggregate", "count(returns where sale.s_qty >= 3) >= 1",
     f"(SELECT COUNT(*) {RETURNS_WITH_SALE} AND s.s_qty >= 3) >= 1"),
    ("to_one_step_compared", "any(returns where sale.s_qty > r_qty)",
     f"EXISTS (SELECT 1 {RETURNS_WITH_SALE} AND s.s_qty > r.r_qty)"),
    ("to_one_role_in_path", "any(orders where ship_to.tier = 'gold')",
     f"EXISTS (SELECT 1 {ORDERS} AND EXISTS (SELECT 1 FROM ck_accounts t WHERE t.region = o.ship_region "
     "AND t.account_no = o.ship_account_no AND t.tier = 'gold'))"),
    ("nested_scope", "any(sales where count(returns) >= 1)",
     f"EXISTS (SELECT 1 {SALES} AND EXISTS (SELECT 1 {RETURNS_OF_SALE}))"),
    ("two_steps", "sum(sales.returns.r_qty) >= 2",
     "(SELECT SUM(r.r_qty) FROM ck_sales s JOIN ck_returns r ON r.r_ticket = s.s_ticket AND r.r_item = s.s_item "
     "WHERE s.region = a.region AND s.account_no = a.account_no) >= 2"),
    ("union", "(tier = 'gold') union (count(orders) >= 2)",
     f"a.tier = 'gold' OR (SELECT COUNT(*) {ORDERS}) >= 2"),
    ("except", "(tier = 'basic') except (any(orders))", f"a.tier = 'basic' AND NOT EXISTS (SELECT 1 {ORDERS})"),
    ("median", "median(orders.amount) >= 15", "a.region = 'eu' AND a.account_no IN (1, 2)"),
    ("last", "last(orders.amount by order_id) >= 15",
     f"(SELECT o.amount {ORDERS} ORDER BY o.order_id DESC LIMIT 1) >= 15"),
    ("sums_of_two_paths", "sum(orders.amount) + sum(sales.s_qty) >= 30",
     f"COALESCE((SELECT SUM(o.amount) {ORDERS}), 0) + COALESCE((SELECT SUM(s.s_qty) {SALES}), 0) >= 30"),
]  # fmt: skip


def test_median_case_is_what_python_says(schema: Backend) -> None:
    """The median case's hand-written answer, from the order rows by Python's statistics.median."""
    rows = schema.query("SELECT region, account_no, amount FROM ck_orders").itertuples(index=False)
    amounts: dict[Key, list[int]] = {}
    for region, account, amount in rows:
        if not (pd.isna(region) or pd.isna(account)):
            amounts.setdefault((str(region), int(account)), []).append(int(amount))
    accounts = hand(schema, "1 = 1")
    want = {k for k in accounts if k in amounts and statistics.median(amounts[k]) >= 15}
    assert want == {("eu", 1), ("eu", 2)}


@pytest.mark.parametrize(("text", "where"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_composite_paths_match_hand_written_sql(schema: Backend, text: str, where: str) -> None:
    ws = composite_ws(schema)
    want = hand(schema, where)
    assert 0 < len(want) < 5, f"{text}: the case cannot tell right from wrong"
    assert keys_of(ws.member_keys(text)) == want, f"{ws.dialect}: keys of {text}"
    assert ws.count(text) == len(want), f"{ws.dialect}: count of {text}"
    frame = ws.members(text)
    assert list(frame.columns[:3]) == ["region", "account_no", "tier"]
    assert keys_of(frame) == want, f"{ws.dialect}: members of {text}"
    assert keys_of(ws.members(text, limit=2)) <= want


def test_ranking_measures_projections_and_segment_references(schema: Backend, tmp_path) -> None:
    ws = composite_ws(schema, catalog=str(tmp_path / "catalog.sqlite"))
    spend = {k: 0 for k in hand(schema, "1 = 1")}
    for region, account, amount in schema.query(
        "SELECT region, account_no, amount FROM ck_orders WHERE region IS NOT NULL AND account_no IS NOT NULL"
    ).itertuples(index=False):
        if (str(region), int(account)) in spend:
            spend[(str(region), int(account))] += int(amount)
    # (NULL, 4) spent 50 and would be first: a customer without a whole key is never ranked.
    by_spend = sorted(spend, key=lambda k: (-spend[k], k))
    assert keys_of(ws.member_keys("top 3 by sum(orders.amount)")) == set(by_spend[:3])
    assert ws.count("top 40% by sum(orders.amount)") == 2  # ceil(0.4 * 5)

    ws.measure("spend", "sum(orders.amount)")
    assert keys_of(ws.member_keys("spend >= 22")) == {k for k, v in spend.items() if v >= 22}

    frame = ws.members("count(orders) >= 1 PROJECT sum(orders.amount) AS total")
    got = {
        (str(r), int(a)): int(t)
        for r, a, t in zip(frame["region"], frame["account_no"], frame["total"], strict=True)
    }
    assert got == {k: v for k, v in spend.items() if v > 0}

    ws.segment("busy", "count(orders) >= 2")
    want = hand(schema, f"(SELECT COUNT(*) {ORDERS}) >= 2 OR a.tier = 'gold'")
    assert keys_of(ws.member_keys("in segment busy or tier = 'gold'")) == want
    assert keys_of(ws.member_keys("not in segment busy")) == hand(
        schema, f"NOT ((SELECT COUNT(*) {ORDERS}) >= 2)"
    )


def test_null_keys_are_never_members(schema: Backend) -> None:
    """A customer row with a NULL key (any key column NULL, for a composite key) is in no segment."""
    ws = Workspace(schema)
    ws.customers("nk_people", key="id")
    assert sorted(int(k) for k in ws.member_keys("tier = 'gold'")) == [1, 3]
    assert ws.count("tier = 'gold'") == 2
    assert ws.count("not (tier = 'basic')") == 2
    assert ws.members("tier = 'gold'")["id"].notna().all()
    ws = composite_ws(schema)
    assert keys_of(ws.member_keys("tier = 'gold'")) == {("eu", 1), ("us", 2)}
    assert ws.count("none(orders)") == 1  # ('eu', 3): not (NULL, 4) nor ('us', NULL)


def test_explain_takes_a_tuple_or_a_dict(schema: Backend) -> None:
    ws = composite_ws(schema)
    text = "count(orders) >= 2 and tier = 'gold'"
    member = ws.explain(text, customer=("eu", 1))
    assert member.verdict is True
    by_name = ws.explain(text, customer={"account_no": 2, "region": "eu"})
    assert by_name.verdict is False
    other = ws.explain(text, customer=("us", 1))  # account 1 of the other region: 1 order
    assert other.verdict is False
    with pytest.raises(SegmentError, match=r"ck_accounts is keyed by \(region, account_no\)"):
        ws.explain(text, customer=1)


def test_near_misses_name_every_key_column(schema: Backend) -> None:
    ws = composite_ws(schema)
    found = ws.near_misses("count(orders) >= 2 and tier = 'basic'")
    few = hand(schema, f"(SELECT COUNT(*) {ORDERS}) < 2 AND a.tier = 'basic'")
    gold = hand(schema, f"(SELECT COUNT(*) {ORDERS}) >= 2 AND a.tier <> 'basic'")
    assert found.members == len(hand(schema, f"(SELECT COUNT(*) {ORDERS}) >= 2 AND a.tier = 'basic'")) == 0
    assert found.counts["customers"].tolist() == [len(few), len(gold)] == [3, 2]
    customers = found.customers
    assert list(customers.columns[:2]) == ["region", "account_no"]
    failed = {
        (str(r), int(a)): f
        for r, a, f in zip(customers["region"], customers["account_no"], customers["failed"], strict=True)
    }
    assert failed == {**dict.fromkeys(few, ["count(orders) >= 2"]), **dict.fromkeys(gold, ["tier = 'basic'"])}


class Sent:
    """Every statement the backend is asked to run, recorded on the real backend."""

    def __init__(self, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sql: list[str] = []
        for method in ("query", "scalar", "iter_chunks", "execute"):
            real = getattr(backend, method)
            monkeypatch.setattr(backend, method, self._spy(real))

    def _spy(self, real: Callable) -> Callable:
        def spy(sql, *args, **kwargs):
            self.sql.append(sql)
            return real(sql, *args, **kwargs)

        return spy

    def segment_queries(self) -> list[str]:
        """Statements other than a key check (one GROUP BY of the key columns)."""
        return [s for s in self.sql if "HAVING COUNT(*) > 1" not in s]


def test_a_composite_to_one_step_on_half_its_key_is_refused(schema: Backend, monkeypatch) -> None:
    ws = composite_ws(schema)
    on_ticket_alone(ws)
    sent = Sent(schema, monkeypatch)
    with pytest.raises(SegmentError) as info:
        ws.count("count(returns where sale.s_qty >= 3) >= 1")
    assert str(info.value) == (
        "ck_sales.s_ticket is not unique: 2 values appear more than once (e.g. 100); ck_returns rows would "
        "each meet several ck_sales rows: relate on (s_ticket, s_item)? ws.relate('ck_returns', 'ck_sales', "
        "on=[('r_ticket', 's_ticket'), ('r_item', 's_item')], replace=True)"
    )
    assert sent.segment_queries() == []
    assert sent.sql, "the key was checked by a query"


def test_a_composite_customer_key_that_is_not_unique_is_refused(schema: Backend, monkeypatch) -> None:
    ws = Workspace(schema)
    ws.customers("ck_orders", key=("region", "account_no"))
    sent = Sent(schema, monkeypatch)
    with pytest.raises(SegmentError) as info:
        ws.count("amount > 0")
    assert str(info.value) == (
        "ck_orders.(region, account_no) is not unique: 2 values appear more than once (e.g. ('eu', 1)); "
        "a key must identify one customer"
    )
    assert sent.segment_queries() == []


def test_composite_links_that_do_not_pair_up_are_refused(schema: Backend) -> None:
    ws = Workspace(schema)
    with pytest.raises(SegmentError, match=r"unknown column 'acount_no' on ck_accounts"):
        ws.customers("ck_accounts", key=("region", "acount_no"))
    ws.customers("ck_accounts", key=("region", "account_no"))
    with pytest.raises(
        SegmentError, match=r"cannot relate ck_orders\.region \(.+\) to ck_accounts\.account_no"
    ):
        ws.relate("ck_orders", "ck_accounts", on=[("region", "account_no"), ("account_no", "region")])
    with pytest.raises(
        SegmentError, match=r"give a shared column name, a \(child_column, parent_column\) pair"
    ):
        ws.relate("ck_orders", "ck_accounts", on=[("region", "region", "x")])
    assert ws.relationships().query("child == 'ck_orders' and origin == 'declared'").empty


def test_check_integrity_reports_duplicate_and_null_keys_and_orphans(schema: Backend) -> None:
    ws = composite_ws(schema)
    on_ticket_alone(ws)
    report = ws.check_integrity(all_relationships=True).set_index("relationship")
    customer = report.loc["ck_accounts.(region, account_no)"]
    assert (customer["check"], customer["duplicates"], customer["null_keys"], customer["ok"]) == (
        "customer key", 0, 2, False,
    )  # fmt: skip
    bill = report.loc[
        "ck_orders.(region, account_no) -> ck_accounts.(region, account_no) as orders / account (declared)"
    ]
    assert (bill["orphans"], bill["duplicates"], bill["ok"]) == (1, 0, False)  # ('eu', 9) has no account
    ticket = report.loc["ck_returns.r_ticket -> ck_sales.s_ticket as returns / sale (declared)"]
    assert (ticket["orphans"], ticket["duplicates"], ticket["null_keys"], ticket["ok"]) == (0, 2, 0, False)
    # by hand: the accounts without a whole key, the bill-to orders without an account
    nulls = schema.query("SELECT COUNT(*) FROM ck_accounts WHERE region IS NULL OR account_no IS NULL").iloc[
        0, 0
    ]
    orphans = schema.query(
        "SELECT COUNT(*) FROM ck_orders o WHERE o.region IS NOT NULL AND o.account_no IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM ck_accounts a WHERE a.region = o.region AND a.account_no = o.account_no)"
    ).iloc[0, 0]
    assert (int(nulls), int(orphans)) == (2, 1)
    shipped = report.loc[
        "ck_orders.(ship_region, ship_account_no) -> ck_accounts.(region, account_no) as shipped_orders / ship_to "
        "(declared)"
    ]
    assert (shipped["orphans"], shipped["ok"]) == (0, True)


def test_key_checks_are_remembered_by_the_catalog_and_shown(schema: Backend, tmp_path, monkeypatch) -> None:
    catalog = str(tmp_path / "catalog.sqlite")
    ws = composite_ws(schema, catalog=catalog)
    ws.segment("returned_big", "count(returns where sale.s_qty >= 3) >= 1")  # checks both keys, then saves
    reopened = Workspace(schema, catalog=catalog)
    reopened.catalog  # noqa: B018 - opening the catalog restores the model it keeps
    assert reopened.model.customer_keys == ("region", "account_no")
    sent = Sent(schema, monkeypatch)
    assert keys_of(reopened.member_keys("count(returns where sale.s_qty >= 3) >= 1")) == hand(
        schema, f"(SELECT COUNT(*) {RETURNS_WITH_SALE} AND s.s_qty >= 3) >= 1"
    )
    assert sent.sql and sent.segment_queries() == sent.sql, "a key check ran again"
    text = ModelView(reopened).to_text()
    when = {(t, c): k.checked_at for t, c, k in reopened.model.key_checks()}
    checked = when[("ck_accounts", ("region", "account_no"))]
    assert checked.endswith("+00:00")
    assert f"  ck_accounts.(region, account_no): unique, 2 NULL (checked {checked})" in text
    assert "  ck_sales.(s_ticket, s_item): unique (checked " in text


@pytest.mark.parametrize("storage", ["table", "parquet"])
def test_member_tables_previews_diffs_and_exports_carry_every_key_column(
    schema: Backend, tmp_path, storage: str
) -> None:
    ws = composite_ws(schema, catalog=str(tmp_path / "catalog.sqlite"))
    ws.members_storage = storage
    text = "count(orders) >= 1"
    seg = ws.segment("buyers", text)
    seg.refresh()
    want = hand(schema, f"EXISTS (SELECT 1 {ORDERS})")
    assert keys_of(seg.keys()) == want and list(seg.keys().columns) == ["region", "account_no"]
    members = seg.members()
    assert list(members.columns) == ["region", "account_no", "tier"] and keys_of(members) == want
    tiers = {
        (str(r), int(a)): t
        for r, a, t in schema.query("SELECT * FROM ck_accounts").itertuples(index=False)
        if not (pd.isna(r) or pd.isna(a))
    }
    assert {(str(r), int(a)): t for r, a, t in members.itertuples(index=False)} == {k: tiers[k] for k in want}
    preview = seg.preview(2)
    assert keys_of(preview) == set(sorted(want)[:2])  # the first two by (region, account_no)

    schema.execute("INSERT INTO ck_orders VALUES (10, 'eu', 3, NULL, NULL, 1)")  # ('eu', 3) joins
    schema.execute("DELETE FROM ck_orders WHERE region = 'us' AND account_no = 1")  # ('us', 1) leaves
    seg.refresh()
    diff = seg.diff()
    assert list(diff.columns) == ["region", "account_no", "change"]
    assert {(str(r), int(a), c) for r, a, c in diff.itertuples(index=False)} == {
        ("eu", 3, "joined"), ("us", 1, "left"),
    }  # fmt: skip
    last = seg.last_run
    assert (last.added, last.removed) == (1, 1)
    now = hand(schema, f"EXISTS (SELECT 1 {ORDERS})")
    assert keys_of(seg.keys()) == now

    csv = seg.export("csv", str(tmp_path / "buyers.csv"))
    assert keys_of(pd.read_csv(csv.target if hasattr(csv, "target") else tmp_path / "buyers.csv")) == now
    seg.export("parquet", str(tmp_path / "buyers.parquet"))
    assert keys_of(pd.read_parquet(tmp_path / "buyers.parquet")) == now
    seg.add_to("dbt", path=str(tmp_path / "models"))
    model = (tmp_path / "models" / "segment_buyers.sql").read_text()
    sql = "\n".join(line for line in model.splitlines() if not line.startswith(("{{", "--")))
    assert keys_of(schema.query(sql)) == now


def test_webhook_sends_every_key_column(schema: Backend, tmp_path) -> None:
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ws = composite_ws(schema, catalog=str(tmp_path / "catalog.sqlite"))
        seg = ws.segment("buyers", "count(orders) >= 1")
        seg.refresh()
        seg.add_to("webhook", url=f"http://127.0.0.1:{server.server_port}/hook", batch_size=2)
    finally:
        server.shutdown()
        server.server_close()
    sent = [k for batch in received for k in batch["keys"]]
    assert {(k["region"], k["account_no"]) for k in sent} == hand(schema, f"EXISTS (SELECT 1 {ORDERS})")
    assert len(sent) == 4


def test_null_keys_are_never_in_a_member_table(schema: Backend, tmp_path) -> None:
    ws = Workspace(schema, catalog=str(tmp_path / "catalog.sqlite"))
    ws.customers("nk_people", key="id")
    seg = ws.segment("gold", "tier = 'gold'")
    other = ws.segment("not_basic", "not (tier = 'basic')")
    ws.refresh()  # both in one shared query
    assert sorted(int(k) for k in seg.keys()) == [1, 3] == sorted(int(k) for k in other.keys())
    assert seg.last_run.members == 2


def test_similar_customers_carry_every_key_column(tmp_path) -> None:
    """Lookalikes of a composite-key segment: each chosen customer by (region, account_no), outside the
    segment, and the saved snapshot selects exactly them. DuckDB only (the model is the same anywhere)."""
    import duckdb

    from jupyter_segments.backends.duckdb_backend import DuckDBBackend

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE sim_accounts AS SELECT r.region, i AS account_no, (i * 7 + length(r.region)) % 60 + 18 AS age, "
        "(i * 13) % 100 AS income FROM range(1, 201) t(i), (VALUES ('eu'), ('us')) r(region)"
    )
    con.execute(
        "CREATE TABLE sim_orders AS SELECT a.region, a.account_no, o AS order_no, a.income * 2 + o AS amount "
        "FROM sim_accounts a, range(0, 6) t(o) WHERE o < (a.income / 20) + (CASE WHEN a.region = 'eu' THEN 1 ELSE 0 END)"
    )
    backend = DuckDBBackend(con)
    ws = Workspace(backend, catalog=str(tmp_path / "catalog.sqlite"))
    ws.customers("sim_accounts", key=("region", "account_no"))
    ws.relate("sim_orders", "sim_accounts", on=BOTH, name="orders")
    ws.segment("buyers", "count(orders) >= 3")
    found = ws.similar("buyers", size=25, using=["age", "income", "sum(orders.amount)"])
    assert list(found.columns[:2]) == ["region", "account_no"] and len(found) == 25
    chosen = {(str(r), int(a)) for r, a in zip(found["region"], found["account_no"], strict=True)}
    assert len(chosen) == 25
    buyers = keys_of(
        con.execute(
            "SELECT region, account_no FROM sim_orders GROUP BY region, account_no HAVING COUNT(*) >= 3"
        ).df()
    )
    assert chosen.isdisjoint(buyers) and 0 < len(buyers) < 400
    accounts = keys_of(con.execute("SELECT region, account_no FROM sim_accounts").df())
    assert chosen <= accounts
    assert list(found["similarity"]) == sorted(found["similarity"], reverse=True)
    assert keys_of(ws.member_keys(found.definition())) == chosen
    snapshot = found.save("lookalikes")
    assert keys_of(snapshot.keys()) == chosen
    ws.close()


def test_magics_declare_composite_keys_and_show_their_checks(schema: Backend) -> None:
    if schema.dialect != "duckdb":
        pytest.skip("the magics parse the same text for every database: DuckDB is enough")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_segments")
    magic = shell.magics_manager.registry["SegmentMagic"]
    saved = (magic.ws, magic._owns_ws, magic._demo_dir, magic._demo_conn)  # another module's connection
    magic.ws, magic._demo_dir, magic._demo_conn = None, None, None
    ws = Workspace(schema)
    shell.user_ns["ck_ws"] = ws
    try:
        with capture_output() as captured:
            for line in (
                "connect ck_ws",
                "customers ck_accounts --key region,account_no",
                "relate ck_orders ck_accounts --on region,account_no --name orders --parent-name account",
                "relate ck_sales ck_accounts --on region:region,account_no:account_no --name sales",
                "relate ck_returns ck_sales --on r_ticket:s_ticket,r_item:s_item --name returns --parent-name sale",
            ):
                shell.run_line_magic("segment", line)
        assert "customer entity: ck_accounts (key region, account_no)" in captured.stdout + "".join(
            o.data.get("text/plain", "") for o in captured.outputs
        )
        assert ws.model.customer_keys == ("region", "account_no")
        text = "count(orders) >= 2 or any(sales where count(returns) >= 1)"
        want = hand(
            schema,
            f"(SELECT COUNT(*) {ORDERS}) >= 2 OR EXISTS (SELECT 1 {SALES} AND EXISTS (SELECT 1 {RETURNS_OF_SALE}))",
        )
        assert keys_of(ws.member_keys(text)) == want
        with capture_output() as captured:
            shell.run_line_magic("segment", "model")
        shown = "".join(o.data.get("text/plain", "") for o in captured.outputs)
        assert "ck_sales.(s_ticket, s_item): unique (checked " in shown
        assert "ck_accounts.(region, account_no): unique, 2 NULL (checked " in shown
    finally:
        magic.ws, magic._owns_ws, magic._demo_dir, magic._demo_conn = saved


def test_a_declared_primary_key_is_not_counted_again(schema: Backend, monkeypatch) -> None:
    """The database's PRIMARY KEY answers the key check: no GROUP BY, and no NULL filter is needed."""
    ws = Workspace(schema)
    ws.customers("pk_accounts", key=("account_no", "region"))  # in any order
    ws.relate("ck_orders", "pk_accounts", on=BOTH, name="orders")
    sent = Sent(schema, monkeypatch)
    assert keys_of(ws.member_keys("count(orders) >= 2")) == {("eu", 1)}
    assert sent.segment_queries() == sent.sql and sent.sql, "a key check query ran"
    check = ws.model.duplicates("pk_accounts", ("account_no", "region"))
    assert (check.repeated, check.nulls, check.source) == (0, 0, "primary key")
    assert "IS NULL" not in ws.compile("count(orders) >= 2")
