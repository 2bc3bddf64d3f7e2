"""The kernel side of the JupyterLab extension: diagnostics and hover for ``%%segment`` cells.

Positions are checked against offsets found in the cell text by hand (``str.index``), top values against
pandas on the demo tables, joins against the demo's schema; the comm is driven in a real kernel.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from conftest import DEMO_ANCHOR, DEMO_SEED, DEMO_SIZE, require_module

import jupyter_segments as js
from jupyter_segments import demo, editor
from jupyter_segments.editor import diagnostics, handle, hover, split_cell

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def own_demo():
    """The session's demo data in a database of our own: refreshing 'vip' writes a members table."""
    conn = demo.generate(DEMO_SIZE, seed=DEMO_SEED, anchor=DEMO_ANCHOR)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def frames(own_demo):
    return demo.frames(own_demo)


@pytest.fixture(scope="module")
def ws(own_demo, tmp_path_factory):
    w = js.connect(own_demo, catalog=str(tmp_path_factory.mktemp("editor") / "catalog.sqlite"))
    w.customers("customers", key="customer_id")
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    w.segment("vip", "sum(orders.amount) >= 500", display_name="VIP customers", description="spent 500+")
    w.refresh(["vip"])
    w.measure("total_spend", "sum(orders.amount where status != 'returned')")
    return w


def span(code: str, d: dict) -> str:
    return code[d["from"] : d["to"]]


# --- the cell -----------------------------------------------------------------------------------------


def test_split_cell_follows_the_magic():
    assert split_cell("%%segment\nage > 30") == editor.Cell("%%segment\nage > 30", "age > 30", 10)
    assert split_cell("%%segment vip --as-of 2024-01-01\n\n\nage > 30\n\n").body == "age > 30"
    code = "\n  \n%%segment\n\nage > 30"  # IPython drops blank lines before the magic
    cell = split_cell(code)
    assert cell is not None and code[cell.offset :] == "age > 30"
    assert split_cell("%%segment") == editor.Cell("%%segment", "", 9)
    for other in ("%%sql\nselect 1", "%%segments\nage > 3", "x = 1\n%%segment\nage > 3", "", "   "):
        assert split_cell(other) is None, other


# --- diagnostics --------------------------------------------------------------------------------------


def test_unknown_attribute_is_underlined_with_did_you_mean(ws):
    code = "%%segment vip_de\n-- German spenders\nsum(orders.amount) > 100 and\n    contry = 'DE'"
    [d] = diagnostics(ws, code)
    assert span(code, d) == "contry"
    assert d["from"] == code.index("contry")
    assert (d["line"], d["column"], d["end_line"], d["end_column"]) == (4, 5, 4, 11)
    assert d["severity"] == "error"
    assert "did you mean 'country'" in d["message"]
    assert d["message"].startswith("unknown attribute 'contry'")


def test_positions_skip_blank_lines_after_the_magic(ws):
    code = "%%segment\n\n\nage >= 30 and sum(orders.amont) > 3\n"
    [d] = diagnostics(ws, code)
    assert span(code, d) == "amont"
    assert (d["line"], d["column"]) == (4, code.split("\n")[3].index("amont") + 1)
    assert "did you mean 'amount'" in d["message"]


def test_offsets_count_utf16_units_as_the_browser_does(ws):
    code = "%%segment\n-- 🎯 Zielgruppe\ncontry = 'DE'"
    [d] = diagnostics(ws, code)
    i = code.index("contry")
    assert d["from"] == i + 1  # the emoji is two UTF-16 units
    assert d["to"] == i + 1 + len("contry")
    assert (d["line"], d["column"]) == (3, 1)  # lines and columns count characters
    assert editor.index_of_utf16(code, d["from"]) == i


def test_parse_errors_and_other_faults(ws):
    code = "%%segment\nage >= "
    [d] = diagnostics(ws, code)
    assert d["from"] == d["to"] == len(code) and (d["line"], d["column"]) == (2, 8)
    code = "%%segment\nage >= 30 and 'abc"
    [d] = diagnostics(ws, code)
    assert span(code, d) == "'abc" and "unterminated" in d["message"]
    code = "%%segment\nage >= 30 and not in segment nope"
    [d] = diagnostics(ws, code)
    assert span(code, d) == "not in segment nope" and "unknown segment 'nope'" in d["message"]
    code = "%%segment\ncount(orders) > 2 PROJECT count(orders) AS age"
    [d] = diagnostics(ws, code)
    assert "clashes" in d["message"] and code.index("count(orders) AS") <= d["from"]


def test_static_check_warnings_are_warnings_where_they_point(ws):
    code = "%%segment\n-- impossible\nsum(orders.amount) > 3 and\n  age > 50 and age < 30"
    [d] = diagnostics(ws, code)
    assert d["severity"] == "warning" and "never both true" in d["message"]
    assert code.index("age > 50") <= d["from"] < d["to"] <= len(code)
    assert d["line"] == 4
    code = "%%segment\ncount(orders) >= 0"
    [d] = diagnostics(ws, code)
    assert d["severity"] == "warning" and span(code, d) == "count(orders) >= 0"
    assert [d["severity"] for d in diagnostics(ws, "%%segment\nage > 50 and age < 30 and contry = 1")] == [
        "error"
    ]


def test_python_variables_come_from_the_namespace(ws):
    code = "%%segment\ncountry in {countries} and age > {min_age}"
    [d] = diagnostics(ws, code, {"min_age": 30})
    assert span(code, d) == "{countries}" and "countries" in d["message"]
    assert diagnostics(ws, code, {"countries": ["DE", "FR"], "min_age": 30}) == []


def test_valid_cells_and_other_cells_have_no_diagnostics(ws):
    assert diagnostics(ws, "%%segment big\nsum(orders.amount) >= 1000 and in segment vip") == []
    assert diagnostics(ws, "%%segment\n   \n") == []  # empty: the magic says so when run
    assert diagnostics(ws, "x = contry") == []
    assert diagnostics(ws, "%%sql\nselect contry") == []


def test_without_a_workspace_nothing_is_checked():
    reply = handle({"id": 3, "type": "check", "code": "%%segment\ncontry = 'DE'"}, None)
    assert reply == {"id": 3, "type": "check", "connected": False, "diagnostics": []}
    reply = handle({"id": 4, "type": "hover", "code": "%%segment\nage > 3", "offset": 11}, None)
    assert reply == {"id": 4, "type": "hover", "connected": False, "hover": None}
    assert "error" in handle({"id": 5, "type": "nonsense", "code": ""}, None)
    assert "error" in handle({"id": 6, "type": "check"}, None)


def test_a_database_failure_is_a_warning_not_a_crash():
    class Broken:
        def check(self, text, params=None):
            raise RuntimeError("server went away")

    code = "%%segment\nage > 3"
    [d] = diagnostics(Broken(), code)
    assert d["severity"] == "warning" and "server went away" in d["message"]
    assert span(code, d) == "%%segment"


# --- hover --------------------------------------------------------------------------------------------


def hover_at(ws, code: str, word: str, nth: int = 0) -> dict | None:
    i = -1
    for _ in range(nth + 1):
        i = code.index(word, i + 1)
    return hover(ws, code, editor.utf16_offset(code, i + 1))


def test_hover_attribute_shows_table_type_and_top_values(ws, frames):
    code = "%%segment\ncountry = 'DE' and age > 30"
    h = hover_at(ws, code, "country")
    assert h["kind"] == "attribute" and h["title"] == "customers.country"
    assert span(code, h) == "country"
    assert h["detail"][0].startswith("string (") and "in table customers" in h["detail"][0]
    counts = frames["customers"]["country"].value_counts(dropna=True)
    rows = len(frames["customers"])
    top = counts.sort_values(ascending=False).head(3)
    expected = ", ".join(f"'{v}' {100 * n / rows:.0f}%" for v, n in top.items())
    assert f"most common in the {rows:,} rows: {expected}" in h["detail"]
    age = hover_at(ws, code, "age")
    ages = frames["customers"]["age"]
    assert f"from {int(ages.min())} to {int(ages.max())} in the {rows:,} rows" in age["detail"]
    nulls = ages.isna().mean() * 100
    assert f"NULL in {nulls:.0f}% of them" in age["detail"]


def test_hover_resolves_names_in_their_scope(ws):
    code = "%%segment\nany(orders where status = 'returned' and sum(order_lines.quantity) > 3)"
    h = hover_at(ws, code, "status")
    assert h["title"] == "orders.status"
    h = hover_at(ws, code, "quantity")
    assert h["title"] == "order_lines.quantity" and h["detail"][0].startswith("number")
    code = "%%segment\nregions.name = 'North' and sum(orders.order_lines.quantity where products.category = 'x') > 1"
    assert hover_at(ws, code, "name")["title"] == "regions.name"
    assert hover_at(ws, code, "category")["title"] == "products.category"


def test_hover_relationship_shows_its_join(ws):
    code = "%%segment\nsum(orders.order_lines.quantity where products.category = 'toys') > 1 and regions.name = 'x'"
    h = hover_at(ws, code, "orders")
    assert h["kind"] == "relationship" and h["title"] == "orders" and span(code, h) == "orders"
    assert "join: orders.customer_id = customers.customer_id" in h["detail"]
    assert h["detail"][0].startswith("customers -> orders, to-many")
    h = hover_at(ws, code, "order_lines")
    assert "join: order_lines.order_id = orders.order_id" in h["detail"]
    h = hover_at(ws, code, "products")
    assert h["detail"][0].startswith("order_lines -> products, to-one")
    assert "join: order_lines.product_id = products.product_id" in h["detail"]
    h = hover_at(ws, code, "regions")
    assert "join: customers.region_id = regions.region_id" in h["detail"]
    h = hover_at(ws, "%%segment\ncount(support_calls) > 1", "support_calls")
    assert "join: support_calls.cust_id = customers.customer_id" in h["detail"]


def test_hover_function_segment_and_measure(ws):
    code = "%%segment\nin segment vip and count_distinct(orders.channel) > 1 and total_spend > 10"
    h = hover_at(ws, code, "count_distinct")
    assert h["kind"] == "function" and h["title"].startswith("count_distinct(path.attribute")
    h = hover_at(ws, code, "vip")
    assert h["kind"] == "segment" and h["code"] == "sum(orders.amount) >= 500"
    count = ws.get("vip").count
    assert any(line.startswith(f"{count:,} members") for line in h["detail"])
    assert "VIP customers" in h["detail"]
    h = hover_at(ws, code, "total_spend")
    assert h["kind"] == "measure" and h["code"] == "sum(orders.amount where status != 'returned')"


def test_no_hover_on_keywords_literals_comments_or_broken_text(ws):
    code = "%%segment\n-- country here\nage > 30 and country = 'country'"
    assert hover_at(ws, code, "and") is None
    assert hover_at(ws, code, "30") is None
    assert hover_at(ws, code, "country") is None  # in the comment
    assert hover_at(ws, code, "country", 2) is None  # in the string
    assert hover_at(ws, "%%segment\nsum(orders.amount) > 'x' and age > 3", "age") is None  # does not bind
    assert hover_at(ws, "%%segment\nsum(orders.amount) > 'x'", "sum")["kind"] == "function"
    assert hover(ws, "x = 1", 2) is None


def test_hover_works_beside_an_undefined_variable(ws):
    code = "%%segment\ncountry in {countries} and age > {min_age}"
    assert hover_at(ws, code, "age")["title"] == "customers.age"
    assert hover(ws, code, code.index("age") + 1, {"min_age": 3})["title"] == "customers.age"


def test_top_values_are_read_once_per_column_from_a_bounded_sample(ws, monkeypatch):
    calls: list[str] = []
    fetch = ws.session.fetch

    def counting(sql):
        calls.append(sql)
        return fetch(sql)

    monkeypatch.setattr(ws.session, "fetch", counting)
    top = editor.TopValues(limit=2, sample=100)
    first = top(ws, "orders", "status")
    again = top(ws, "orders", "status")
    assert first == again and len(calls) == 2  # top values + summary, once
    assert first.rows == 100 and len(first.top) <= 2
    assert all("LIMIT 100" in sql for sql in calls)
    top.ttl = 0.0
    time.sleep(0.01)
    assert top(ws, "orders", "status") == first and len(calls) == 4  # read again once expired


# --- the comm in a real kernel ------------------------------------------------------------------------


def _comm_reply(kc, comm_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["header"]["msg_type"] in ("comm_msg", "comm_close") and msg["content"]["comm_id"] == comm_id:
            return {"type": msg["header"]["msg_type"], "data": msg["content"].get("data", {})}
    raise AssertionError("no reply on the comm")


def _send(kc, comm_id: str, data: dict) -> None:
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))


def _open(kc, data: dict) -> str:
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": editor.COMM_TARGET, "data": {}})
    )
    _send(kc, comm_id, data)
    return comm_id


@pytest.mark.slow
def test_comm_in_a_kernel_before_and_after_load_ext(tmp_path):
    jupyter_client = require_module("jupyter_client")  # skip, or fail under JS_REQUIRE_ALL_BACKENDS=1
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        # Before %load_ext: the kernel has no such target and closes the comm (the browser then stays quiet).
        comm = _open(kc, {"id": 1, "type": "check", "code": "%%segment\ncontry = 'DE'"})
        assert _comm_reply(kc, comm)["type"] == "comm_close"
        kc.execute_interactive("%load_ext jupyter_segments", timeout=60)
        # Loaded, not connected: answered, nothing to show.
        comm = _open(kc, {"id": 2, "type": "check", "code": "%%segment\ncontry = 'DE'"})
        reply = _comm_reply(kc, comm)["data"]
        assert reply == {"id": 2, "type": "check", "connected": False, "diagnostics": []}
        kc.execute_interactive(
            f"%segment connect --demo --customers 300 --catalog {tmp_path / 'c.sqlite'}", timeout=120
        )
        comm = _open(kc, {"id": 3, "type": "check", "code": "%%segment\ncontry = 'DE'"})
        reply = _comm_reply(kc, comm)["data"]
        assert reply["connected"] is True
        [d] = reply["diagnostics"]
        assert (d["from"], d["to"], d["line"], d["column"]) == (10, 16, 2, 1)
        assert "did you mean 'country'" in d["message"]
        _send(kc, comm, {"id": 4, "type": "hover", "code": "%%segment\nage > 3", "offset": 11})
        h = _comm_reply(kc, comm)["data"]["hover"]
        assert h["title"] == "customers.age" and (h["from"], h["to"]) == (10, 13)
        # {vars} come from the notebook's namespace.
        kc.execute_interactive("few = ['DE', 'FR']", timeout=30)
        code = "%%segment\ncountry in {few} and age > {nothing}"
        _send(kc, comm, {"id": 5, "type": "check", "code": code})
        [d] = _comm_reply(kc, comm)["data"]["diagnostics"]
        assert code[d["from"] : d["to"]] == "{nothing}"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
