"""SegmentManager and SegmentView driven headlessly; catalog changes checked through the Python API and
counts against pandas."""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd
import pytest

import jupyter_segments as js
from jupyter_segments.ui import charts
from jupyter_segments.ui.builder import SegmentBuilder
from jupyter_segments.ui.manager import SegmentManager, sparkline
from jupyter_segments.ui.view import SegmentView

ANCHOR = dt.date(2025, 6, 30)


@pytest.fixture()
def ws(tmp_path):
    w = js.connect_demo(800, seed=7, anchor=ANCHOR, catalog=str(tmp_path / "cat.sqlite"))
    w.segment("vip", "sum(orders.amount) >= 500", description="big spenders", display_name="VIP")
    w.segment("young", "age < 30")
    w.segment("wip", "sum(orders.amont) > 1", draft=True)
    yield w
    w.close()


@pytest.fixture()
def customers(ws) -> pd.DataFrame:
    return ws.backend.connection.execute("SELECT * FROM customers").df()


@pytest.fixture()
def orders(ws) -> pd.DataFrame:
    return ws.backend.connection.execute("SELECT * FROM orders").df()


def test_table_lists_segments_and_filters_as_you_type(ws):
    m = SegmentManager(ws)
    assert list(m.frame["name"]) == ["vip", "wip", "young"]
    shown = " ".join(c.value for c in m.table.children if isinstance(getattr(c, "value", None), str))
    assert "VIP" in shown and "draft" in shown and "inactive" in shown
    m.search.value = "spend"  # matches the description
    assert list(m.frame["name"]) == ["vip"]
    m.search.value = "o"
    assert list(m.frame["name"]) == ["young"]
    m.search.value = ""
    assert len(m.checkboxes) == 3


def test_refresh_all_progress_statuses_and_sorting(ws, customers, orders):
    m = SegmentManager(ws)
    m.refresh_all_button.click()
    runs = m.wait()
    spend = orders.groupby("customer_id").amount.sum()
    expected = {"vip": int((spend >= 500).sum()), "young": int((customers.age < 30).sum())}
    assert {r.segment: r.members for r in runs} == expected
    assert all(r.status == "Successful" for r in runs)
    assert m.progress.value == m.progress.max == 2
    assert m.progress_text.startswith("2 of 2 done, 2 successful")
    assert "Successful" in m.runs_html.value
    assert dict(zip(m.frame["name"], m.frame["members"], strict=True))["vip"] == expected["vip"]
    # sort by members ascending, then descending (clicking the header again reverses)
    header = next(c for c in m.table.children if getattr(c, "description", "").startswith("Members"))
    header.click()
    ordered = sorted(expected, key=expected.get)
    assert list(m.frame["name"])[:2] == ordered
    header = next(c for c in m.table.children if getattr(c, "description", "").startswith("Members"))
    assert header.description.endswith("▲")
    header.click()
    assert list(m.frame["name"])[:2] == ordered[::-1]
    # a second refresh gives a two-point trend
    m.select("young")
    m.refresh_button.click()
    m.wait()
    assert m.trends["young"] == [expected["young"]] * 2
    assert "→" in sparkline(m.trends["young"])


def test_failed_run_shows_its_errors(ws):
    m = SegmentManager(ws)
    ws.backend.execute("CREATE TABLE scratch AS SELECT customer_id FROM customers")
    ws.refresh_model()
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    ws.segment("fragile", "any(scratch)")
    ws.backend.execute("DROP TABLE scratch")
    m.render()
    m.select("fragile")
    m.refresh_button.click()
    runs = m.wait()
    assert [r.status for r in runs] == ["Failed"]
    assert "Failed" in m.runs_html.value and html.escape(runs[0].errors[0])[:30] in m.runs_html.value


def test_actions_change_the_catalog(ws, tmp_path, customers):
    m = SegmentManager(ws)
    m.select("young")
    m.new_name.value = "young_copy"
    m.duplicate_button.click()
    assert "young_copy" in set(ws.segments()["name"]) and m.messages.last_error is None
    m.select("young_copy")
    m.new_name.value = "juniors"
    m.rename_button.click()
    assert set(ws.segments()["name"]) == {"vip", "wip", "young", "juniors"}
    # deactivate now, schedule activation later
    m.select("juniors")
    m.deactivate_button.click()
    assert ws.get("juniors").state == "inactive"
    m.schedule_at.value = "2099-01-01 09:00"
    m.activate_button.click()
    seg = ws.segments().set_index("name").loc["juniors"]
    assert seg["state"] == "inactive" and pd.Timestamp(seg["activate_at"]) == pd.Timestamp("2099-01-01 09:00")
    m.schedule_at.value = "not a date"
    m.activate_button.click()
    assert "is not a date and time" in m.messages.last_error
    m.schedule_at.value = ""
    m.activate_button.click()
    assert ws.get("juniors").state == "active"
    # a draft that does not validate cannot be activated: the message says why
    m.select("wip")
    m.activate_button.click()
    assert "amont" in m.messages.last_error and "Traceback" not in m.messages.widget.value
    # download CSV
    m.select("juniors")
    path = tmp_path / "juniors.csv"
    m.csv_path.value = str(path)
    m.download_button.click()
    assert m.messages.last_error is None
    assert set(pd.read_csv(path)["customer_id"]) == set(customers.loc[customers.age < 30, "customer_id"])
    # add to a parquet file
    m.destination.value = "parquet"
    m.destination_target.value = str(tmp_path / "j.parquet")
    m.add_to_button.click()
    assert m.messages.last_error is None
    assert len(pd.read_parquet(tmp_path / "j.parquet")) == int((customers.age < 30).sum())
    # delete asks for confirmation; cancel keeps it
    m.delete_button.click()
    assert "cannot be undone" in m.confirm_box.children[0].value
    m.cancel_delete_button.click()
    assert "juniors" in set(ws.segments()["name"]) and not m.confirm_box.children
    m.delete_button.click()
    m.confirm_delete_button.click()
    assert "juniors" not in set(ws.segments()["name"])


def test_actions_need_a_selection(ws):
    m = SegmentManager(ws)
    m.view_button.click()
    assert m.messages.last_error == "select a segment first (tick its box)"
    m.select("vip", "young")
    m.edit_button.click()
    assert m.messages.last_error == "select exactly one segment for this action"


def test_edit_opens_builder_and_saves_a_new_version(ws):
    m = SegmentManager(ws)
    m.select("vip")
    m.edit_button.click()
    b = m.detail
    assert isinstance(b, SegmentBuilder) and b.name.value == "vip" and b.display_name.value == "VIP"
    b.save_button.click()  # unchanged save: same definition
    assert b.messages.last_error is None
    assert ws.get("vip").definition == "sum(orders.amount) >= 500"  # unchanged save: same definition
    b.row_views()[0].agg_value.value = "800"
    b.save_button.click()
    assert ws.get("vip").definition == "sum(orders.amount) >= 800" and ws.get("vip").version == 2


def test_builder_round_trip_through_the_catalog(ws):
    text = "(age < 30 AND newsletter = true) UNION (count(orders where channel = 'web') >= 2)\nPROJECT count(orders) AS n"
    ws.segment("mix", text)
    b = SegmentBuilder(ws, "mix", delay=0.02)
    b.save_button.click()
    assert b.messages.last_error is None
    from jupyter_segments.dsl import parse

    assert parse(ws.get("mix").definition) == parse(text)
    assert set(ws.member_keys(ws.get("mix").definition)) == set(ws.member_keys(text))


def test_builder_save_as_draft(ws):
    b = SegmentBuilder(ws, delay=0.02)
    b.node_views()[0].add_text.click()
    b.row_views()[1].text.value = "sum(orders.amont) > 3"
    b.name.value = "draft_one"
    b.save_button.click()
    assert "amont" in b.messages.last_error
    assert "draft_one" not in set(ws.segments()["name"])
    b.draft_button.click()
    assert b.messages.last_error is None
    seg = ws.get("draft_one")
    assert seg.draft and seg.definition == "sum(orders.amont) > 3"


def test_view_trend_preview_history(ws, customers):
    ws.get("young").refresh()
    ws.get("young").refresh()
    v = SegmentView(ws, "young")
    n = int((customers.age < 30).sum())
    assert list(v.points["members"]) == [n, n]
    assert len(v.shown_points) == 2 and v.chart is not None
    spec = v.chart.to_dict()
    tooltip = [t["field"] for layer in spec["layer"] for t in layer.get("encoding", {}).get("tooltip", [])]
    assert tooltip == ["date", "members"] and {layer["mark"]["type"] for layer in spec["layer"]} == {
        "line",
        "point",
    }
    # preview: first 100 members, sortable, with the export note
    assert len(v.preview) == 100 and set(v.preview["customer_id"]) <= set(customers.customer_id)
    v.sort_by.value = "age"
    v.descending.value = True
    assert list(v.shown_preview["age"]) == sorted(v.preview["age"], reverse=True)
    assert "A preview" in v.preview_note.value and "export('csv'" in v.preview_note.value
    # history: both runs, newest first, with joined / left
    assert v.history_html.value.count("Successful") == 2
    # time ranges: a fixed "now" a year later leaves no point in the last 30 days
    later = SegmentView(ws, "young", now=dt.datetime.now() + dt.timedelta(days=400))
    later.range.value = "30 days"
    assert later.shown_points.empty and "No successful runs" in later.chart_note.value
    later.range.value = "All"
    assert len(later.shown_points) == 2
    later.range.value = "Custom"
    later.start.value = dt.date.today() - dt.timedelta(days=1)
    later.end.value = dt.date.today()
    assert len(later.shown_points) == 2
    # static fallback for exported notebooks: PNG chart + HTML tables
    bundle = v._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "data:image/png;base64," in bundle["text/html"] and "<table" in bundle["text/html"]


def test_view_of_a_never_refreshed_segment(ws):
    v = SegmentView(ws, "vip")
    assert v.points.empty and "No successful runs" in v.chart_note.value
    assert v.preview_error  # the catalog explains there are no members yet
    v.refresh_button.click()
    assert v.messages.last_error is None and len(v.points) == 1


def test_trend_window_and_sparkline():
    pts = pd.DataFrame(
        {"date": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-06-01"]), "members": [5, 9, 7]}
    )
    now = dt.datetime(2025, 6, 10)
    assert list(charts.window(pts, 30, now=now)["members"]) == [7]
    assert list(charts.window(pts, 365, now=now)["members"]) == [5, 9, 7]
    assert list(charts.window(pts, None, start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 1))["members"]) == [
        9
    ]
    assert sparkline([5, 9, 7]) == "▁█▅ ↓"
    assert sparkline([4, 4]) == "▄▄ →"
    assert sparkline([]) == ""
