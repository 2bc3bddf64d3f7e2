"""Issue 21 in the widgets, driven from Python on the demo data: the builder's near-miss counts per row,
"Why?" on a members preview (builder and segment view), static segments shown with their type (page and
builder). Counts and verdicts are checked against pandas on the same tables."""

from __future__ import annotations

import datetime as dt
import html
import re

import pandas as pd
import pytest
from test_engine_oracle import workspace_for

import jupyter_segments as js
from jupyter_segments.ui.builder import SegmentBuilder
from jupyter_segments.ui.manager import SegmentManager
from jupyter_segments.ui.view import SegmentView
from jupyter_segments.ui.why import near_miss_label

ANCHOR = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = js.connect_demo(
        1500, seed=7, anchor=ANCHOR, catalog=str(tmp_path_factory.mktemp("why") / "cat.sqlite")
    )
    yield w
    w.close()


@pytest.fixture(scope="module")
def frames(ws) -> dict[str, pd.DataFrame]:
    con = ws.backend.connection
    return {t: con.execute(f"SELECT * FROM {t}").df() for t in ("customers", "orders")}


def order_counts(frames) -> pd.Series:
    """count(orders) per customer, 0 for none, indexed like the customers frame."""
    c, o = frames["customers"], frames["orders"]
    per = o.groupby("customer_id").size()
    return c["customer_id"].map(per).fillna(0).astype(int)


def only_failing(conditions: list[pd.Series]) -> list[int]:
    """The oracle: per condition, the customers failing it and passing every other one."""
    passed = pd.concat([c.fillna(False).astype(bool) for c in conditions], axis=1)
    failed = ~passed
    one = failed.sum(axis=1) == 1
    return [int((one & failed.iloc[:, i]).sum()) for i in range(len(conditions))]


def label_counts(b: SegmentBuilder) -> list[int | None]:
    """The numbers the top-level items show, in order (None: no label)."""
    out: list[int | None] = []
    for v in b.group_views[0].root.items:
        m = re.search(r"([\d,]+) customers? miss", v.near_miss.value)
        out.append(int(m.group(1).replace(",", "")) if m else None)
    return out


def test_near_miss_count_per_row_against_pandas(ws, frames):
    c = frames["customers"]
    orders = order_counts(frames)
    text = "age >= 30 AND country = 'DE' AND (count(orders) >= 3 OR newsletter) AND churn_score < 0.5"
    b = SegmentBuilder(ws, text=text, delay=0.02)
    b.wait()
    assert b.near_misses.wait()
    conds = [c.age >= 30, c.country == "DE", (orders >= 3) | c.newsletter.fillna(False), c.churn_score < 0.5]
    expected = only_failing(conds)
    assert min(expected) > 0  # every row has near misses on this data: the comparison means something
    # rows 1, 2, the nested group (one item, its label in its header) and row 6; the nested rows have none
    assert label_counts(b) == expected
    nested = b.group_views[0].root.items[2]
    assert all(r.near_miss.value == "" for r in nested.row_views())

    # an edit: the last numbers stay greyed until the recount lands, then they follow the new threshold
    slow = SegmentBuilder(ws, text=text, delay=3.0)
    slow.wait(20)
    assert slow.near_misses.wait(20) and label_counts(slow) == expected
    row0 = slow.row_views()[0]
    row0.value.value = "40"
    assert "jseg-stale" in row0.near_miss.value  # right after the edit, before the 3 s debounce
    slow.wait(20)
    assert slow.near_misses.wait(20)
    assert label_counts(slow) == only_failing([c.age >= 40, *conds[1:]])
    assert "jseg-stale" not in row0.near_miss.value
    slow.close()
    b.close()


def test_near_misses_are_one_query_and_only_for_an_and(ws):
    b = SegmentBuilder(ws, text="age >= 30 AND country = 'DE' AND count(orders) >= 3", delay=0.02)
    b.wait()
    b.near_misses.wait()
    sent: list[str] = []
    run = b.near_misses.db.frame
    b.near_misses.db.frame = lambda sql: sent.append(sql) or run(sql)  # a spy: the real query runs
    b.row_views()[2].agg_value.value = "4"
    b.wait()
    b.near_misses.wait()
    assert len(sent) == 1 and all(n is not None for n in label_counts(b))
    # OR at the top: no condition is "the only one missed"; nothing shown
    b.node_views()[0].toggle.value = "or"
    b.wait()
    b.near_misses.wait()
    assert label_counts(b) == [None, None, None]
    # two groups combined by a set operation: nothing shown either
    b.node_views()[0].toggle.value = "and"
    b.add_group()
    b.row_views()[3].pick_attribute(("age",))
    b.row_views()[3].op.value = "<"
    b.row_views()[3].value.value = "60"
    b.wait()
    b.near_misses.wait()
    assert b.definition is not None and " UNION " in b.text.upper()
    assert all(v.near_miss.value == "" for v in b.row_views())
    b.close()


def test_near_miss_wording():
    assert ">1 customer misses only this condition<" in near_miss_label(1)
    assert ">1,234 customers miss only this condition<" in near_miss_label(1234)


def test_why_on_the_builder_preview(ws, frames):
    c = frames["customers"]
    b = SegmentBuilder(ws, text="age >= 30 AND country = 'DE'", delay=0.02)
    b.wait()
    assert b.why.widget.layout.display == "none"  # nothing to pick before a preview
    frame = b.preview()
    keys = [int(k) for k in frame["customer_id"]]
    assert [v for _, v in b.why.customer.options] == keys
    b.why.customer.value = keys[1]
    b.why.button.click()
    e = b.why.explanation
    person = c[c.customer_id == keys[1]].iloc[0]
    assert e is not None and e.verdict is True and person.age >= 30 and person.country == "DE"
    shown = html.unescape(b.why.result.value)
    assert f"customer {keys[1]}" in shown and "member" in shown
    assert f"age = {int(person.age)}" in shown and "age >= 30" in shown
    # a non-member asked directly: the verdict and the failing condition's value agree with pandas
    outsider = int(c[(c.age < 30) & (c.country == "DE")].customer_id.iloc[0])
    e = b.why.why(outsider)
    assert e.verdict is False and f"age = {int(c[c.customer_id == outsider].age.iloc[0])}" in str(e)
    # an edit takes the preview away, and its customers with it
    b.row_views()[0].value.value = "31"
    assert b.why.widget.layout.display == "none" and b.why.result.value == ""
    b.close()


def test_why_on_the_segment_view(ws, frames):
    c, o = frames["customers"], frames["orders"]
    ws.segment("spenders_de", "country = 'DE' AND sum(orders.amount) >= 800").refresh()
    v = SegmentView(ws, "spenders_de")
    spent = o.groupby("customer_id")["amount"].sum()
    members = set(c[(c.country == "DE") & (c.customer_id.map(spent).fillna(0) >= 800)].customer_id)
    picked = [k for _, k in v.why.customer.options]
    assert picked == [int(k) for k in v.shown_preview["customer_id"].head(len(picked))]
    assert set(picked) <= members and len(picked) == min(len(members), 100)
    v.why.customer.value = picked[-1]
    v.why.button.click()
    e = v.why.explanation
    assert e.verdict is True and f"{spent[picked[-1]]:.2f}" in str(e)
    assert "records of sum(orders.amount)" in str(e)  # the orders the sum counted
    v.why.close_button.click()
    assert v.why.result.value == "" and v.why.explanation is None
    v.close()


def test_static_segments_show_their_type(ws, frames):
    ws.static_segment("campaign", [1, 2, 3])
    ws.segment("adults", "age >= 18")
    m = SegmentManager(ws)
    row = re.search(r'<tr[^>]*data-name="campaign".*?</tr>', m.table.value)
    assert row is not None and "<td>static</td>" in row.group(0)
    row = re.search(r'<tr[^>]*data-name="adults".*?</tr>', m.table.value)
    assert row is not None and "<td>dynamic</td>" in row.group(0)
    b = SegmentBuilder(ws, text="age >= 40", delay=0.02)
    labels = dict((name, label) for label, name in b.segment_picker.options)
    assert labels["campaign"] == "campaign (static)" and labels["adults"] == "adults (dynamic)"
    b.segment_picker.value = "campaign"
    b.add_segment_button.click()
    assert b.text == "age >= 40 AND in segment campaign"
    c = frames["customers"]
    assert b.wait() == int((c.customer_id.isin([1, 2, 3]) & (c.age >= 40)).sum())
    b.close()


def test_builder_near_misses_on_every_database(demo_backend, demo_frames):
    """The builder's worker runs the near-miss query on its own connection (WorkerDB) on each database."""
    c = demo_frames["customers"]
    orders = c["customer_id"].map(demo_frames["orders"].groupby("customer_id").size()).fillna(0)
    b = SegmentBuilder(
        workspace_for(demo_backend), text="age >= 30 AND country = 'DE' AND count(orders) >= 3", delay=0.02
    )
    assert b.wait(120) is not None and b.near_misses.wait(120)
    assert label_counts(b) == only_failing([c.age >= 30, c.country == "DE", orders >= 3])
    b.close()
