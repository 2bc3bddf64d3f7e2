"""Composite customer keys in issue 21's features: the pytest plugin's includes/excludes (a customer given
as a tuple in key order or a {column: value} dict), static segments (rows of the key columns),
membership changes and the widgets' Why? panel, checked against SQL written by hand on the composite
schema of test_composite_keys (account_no 1 and 2 exist in two regions) on every database."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from test_composite_keys import ORDERS, composite_ws, hand, keys_of, schema  # noqa: F401 - a fixture
from test_magics import other_connection

from jupyter_segments import SegmentError
from jupyter_segments.pytest_plugin import expect_segment
from jupyter_segments.ui.errors import Messages
from jupyter_segments.ui.why import WhyPanel

EVERY_ACCOUNT = "a.region IS NOT NULL"  # hand() keeps the whole keys; this selects them all


def test_includes_and_excludes_with_a_composite_key(schema):  # noqa: F811 - the fixture
    ws = composite_ws(schema)
    definition = "count(orders) >= 2"
    members = hand(schema, f"(SELECT COUNT(*) {ORDERS}) >= 2")
    outside = hand(schema, EVERY_ACCOUNT) - members
    # the data mixes a region's account 1 up with the other's if the region were ignored
    assert ("eu", 1) in members and ("us", 1) in outside
    expect_segment(ws, definition, includes=sorted(members), excludes=sorted(outside))
    expect_segment(ws, definition, includes=[{"account_no": 1, "region": "eu"}], excludes=[["us", 1]])
    with pytest.raises(AssertionError) as wrong:
        expect_segment(ws, definition, includes=[("us", 1)], excludes=[("eu", 1)])
    text = str(wrong.value)
    assert "customer ('us', 1) is not a member (expected in)" in text
    assert "customer ('eu', 1) is a member (expected out)" in text
    assert "count(orders) >= 2" in text  # each is explained
    with pytest.raises(SegmentError, match=r"the customer key is \(region, account_no\)"):
        expect_segment(ws, definition, includes=[1])


def test_static_segment_of_a_composite_key(schema, tmp_path):  # noqa: F811 - the fixture
    ws = composite_ws(schema, catalog=str(tmp_path / "catalog.sqlite"))
    with pytest.warns(UserWarning, match=r"1 value of \(region, account_no\) matches no customer"):
        seg = ws.static_segment("picked", [("eu", 1), ("us", 2), ("eu", 9), ("us", 1)])
    assert seg.unknown_keys == [("eu", 9)]  # ck_orders has it, ck_accounts does not
    assert keys_of(seg.keys()) == {("eu", 1), ("us", 2), ("us", 1)}
    # 'in segment' reads the stored rows on both key columns: ('eu', 2) is not in, though 2 is listed
    busy = hand(schema, f"(SELECT COUNT(*) {ORDERS}) >= 2")
    assert keys_of(ws.members("in segment picked and count(orders) >= 2")) == busy & {
        ("eu", 1),
        ("us", 2),
        ("us", 1),
    }
    # a DataFrame: rows with a NULL part are left out, '2' is the number 2
    frame = pd.DataFrame({"region": ["us", None, "eu"], "account_no": ["2", "1", "3"], "x": [1, 2, 3]})
    other = ws.static_segment("from_frame", frame)
    assert keys_of(other.keys()) == {("us", 2), ("eu", 3)} and other.unknown_keys == []
    with pytest.raises(SegmentError, match=r"list each customer as a tuple of 2 values"):
        ws.static_segment("bad", [1, 2])


def test_membership_changes_of_a_composite_key(schema, tmp_path):  # noqa: F811 - the fixture
    ws = composite_ws(schema, catalog=str(tmp_path / "catalog.sqlite"))
    seg = ws.segment("busy", "count(orders) >= 2")
    received = []
    seg.on_change(received.append)  # the MembershipChanges of each refresh, in this kernel
    seg.refresh()  # the baseline
    busy = f"(SELECT COUNT(*) {ORDERS}) >= 2"
    before = hand(schema, busy)
    # ('us', 1) gets a second order and joins; ('us', 2) loses one and leaves; ('eu', 1) stays
    schema.execute("INSERT INTO ck_orders VALUES (10, 'us', 1, NULL, NULL, 3)")
    schema.execute("DELETE FROM ck_orders WHERE order_id = 6")
    assert seg.refresh().status == "Successful"
    after = hand(schema, busy)
    joined, left = after - before, before - after
    assert joined == {("us", 1)} and left == {("us", 2)}  # the data does what the comment says
    frame = seg.changes()
    assert list(frame.columns) == ["run_id", "finished_at", "change", "region", "account_no"]
    assert keys_of(frame[frame.change == "joined"]) == joined
    assert keys_of(frame[frame.change == "left"]) == left
    # net over the period: ('us', 1) leaving again cancels its joining
    schema.execute("DELETE FROM ck_orders WHERE order_id = 10")
    seg.refresh()
    net = seg.changes(net=True)
    assert keys_of(net) == {("us", 2)} and set(net.change) == {"left"}
    # the function got the key columns of each change
    assert [keys_of(c.frame()) for c in received] == [{("us", 1), ("us", 2)}, {("us", 1)}]
    assert list(received[0].frame().columns[:4]) == ["region", "account_no", "change", "run_id"]


def test_why_panel_with_a_composite_key(schema):  # noqa: F811 - the fixture
    ws = composite_ws(schema)
    definition = "count(orders) >= 2"
    panel = WhyPanel(ws, lambda: definition, Messages())
    panel.show_customers(ws.members(definition))
    members = hand(schema, f"(SELECT COUNT(*) {ORDERS}) >= 2")
    assert {k for _, k in panel.customer.options} == members
    assert "region=eu, account_no=1" in [label for label, _ in panel.customer.options]
    panel.customer.value = ("eu", 1)
    panel.button.click()
    assert panel.explanation.verdict is True and "count(orders) = 2" in str(panel.explanation)
    assert panel.why(("us", 1)).verdict is False  # one order: the same account number, another region


def test_static_magic_with_key_columns(schema, tmp_path):  # noqa: F811 - the fixture
    if schema.dialect != "duckdb":
        pytest.skip("the magic parses the same text for every database: DuckDB is enough")
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_segments")
    ws = composite_ws(schema, catalog=str(tmp_path / "catalog.sqlite"))
    shell.user_ns["ck_ws"] = ws  # a workspace passed in: the magic does not close it
    shell.user_ns["picked"] = pd.DataFrame({"region": ["eu", "us", "eu"], "account_no": [2, 1, 7]})
    with other_connection(shell), capture_output() as captured:
        shell.run_line_magic("segment", "connect ck_ws")
        shell.run_line_magic("segment", "static picked_list picked --key region,account_no")
    shown = "".join(o.data.get("text/plain", "") for o in captured.outputs) + captured.stdout
    assert "saved static segment 'picked_list': 2 members" in shown
    assert "1 value matched no customer: ('eu', 7)" in shown
    assert keys_of(ws.get("picked_list").keys()) == {("eu", 2), ("us", 1)}
