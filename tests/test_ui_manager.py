"""SegmentManager and SegmentView driven headlessly; catalog changes checked through the Python API and
counts against pandas."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time

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


def click(m, **event):
    """What the table's click handler sends from the browser (TABLE_SCRIPT)."""
    m.bridge.value = json.dumps({**event, "t": time.monotonic_ns()})


def rows(m) -> list[str]:
    """The segment names in the table's rows, top to bottom, read from the HTML the page shows."""
    return [html.unescape(n) for n in re.findall(r'<tr[^>]*data-name="([^"]*)"', m.table.value)]


def selected_rows(m) -> list[str]:
    return [
        html.unescape(n)
        for n in re.findall(r'<tr class="jseg-selected"[^>]*data-name="([^"]*)"', m.table.value)
    ]


def test_table_lists_segments_and_filters_as_you_type(ws):
    m = SegmentManager(ws)
    assert rows(m) == ["vip", "wip", "young"]
    assert "VIP" in m.table.value and "draft" in m.table.value and "inactive" in m.table.value
    m.search.value = "spend"  # matches the description
    assert rows(m) == ["vip"]
    m.search.value = "o"
    assert rows(m) == ["young"]
    m.search.value = ""
    assert len(rows(m)) == 3


def test_search_without_match_says_so_not_no_segments_yet(ws, tmp_path):
    """Bug 2: a search that matches nothing said 'No segments yet: save one from the builder'."""
    m = SegmentManager(ws)
    m.search.value = "zzz"
    assert "No segment matches" in m.table.value and "zzz" in m.table.value
    assert "No segments yet" not in m.table.value and "yet" not in m.count_label.value
    assert m.clear_search_button.layout.display == ""
    m.clear_search_button.click()
    assert rows(m) == ["vip", "wip", "young"] and m.clear_search_button.layout.display == "none"
    empty = js.connect_demo(100, seed=1, catalog=str(tmp_path / "empty.sqlite"))
    try:
        assert "No segments yet" in SegmentManager(empty).table.value
    finally:
        empty.close()


def test_an_old_error_goes_when_a_later_action_succeeds(ws):
    """Bug 1: 'select a segment first' stayed on screen after Refresh all succeeded."""
    m = SegmentManager(ws)
    m.view_button.click()  # Python can click a disabled button: the error it gives stays on screen
    assert "select a segment first" in m.messages.widget.value
    m.refresh_all_button.click()
    m.wait()
    assert m.messages.last_error is None and "select a segment first" not in m.messages.widget.value
    assert "2 of 2 done, 2 successful" in m.messages.widget.value


def test_click_shift_and_ctrl_select_rows_and_actions_follow(ws):
    m = SegmentManager(ws)
    assert m.view_button.disabled and m.delete_button.disabled and m.refresh_button.disabled
    click(m, row="vip")
    assert m.selected == {"vip"} and selected_rows(m) == ["vip"]
    assert not m.view_button.disabled and not m.edit_button.disabled and not m.delete_button.disabled
    assert m.deactivate_button.disabled is False and m.activate_button.disabled  # vip is active
    assert m.download_button.disabled  # never refreshed: no members to download
    click(m, row="young", shift=True)  # a range: vip, wip, young
    assert selected_rows(m) == ["vip", "wip", "young"]
    assert m.view_button.disabled and m.edit_button.disabled and not m.refresh_button.disabled
    assert not m.activate_button.disabled  # wip is inactive
    click(m, row="wip", ctrl=True)  # ctrl takes one out
    assert selected_rows(m) == ["vip", "young"]
    click(m, row="young")  # a plain click selects that row alone
    assert m.selected == {"young"}
    # double click opens the view, above the table
    click(m, row="vip", open=True)
    assert isinstance(m.detail, SegmentView) and m.detail.seg.name == "vip"
    children = list(m.widget.children)
    assert children.index(m.detail_panel) < children.index(m.table) and m.detail_panel.layout.display == ""
    m.close_detail_button.click()
    assert m.detail is None and m.detail_panel.layout.display == "none"


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
    assert 'data-sort="members"' in m.table.value
    click(m, sort="members")
    ordered = sorted(expected, key=expected.get)
    assert rows(m)[:2] == ordered
    assert re.search(r'aria-sort="ascending"[^>]*data-sort="members"[^>]*>Members ▲', m.table.value)
    click(m, sort="members")
    assert rows(m)[:2] == ordered[::-1]
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


def test_skipped_runs_say_why_and_zero_changes_have_no_sign(ws, customers):
    """Bug 8: refreshing a draft showed Skipped with an empty Errors column. Bug 11: 'Left -0', 'Joined +0'."""
    m = SegmentManager(ws)
    m.select("young", "wip")
    m.refresh_button.click()
    m.wait()
    table = m.runs_html.value
    skipped = re.search(r"<tr><td>wip</td>.*?</tr>", table).group(0)
    assert "Skipped" in skipped and "draft: fix the definition" in skipped
    n = int((customers.age < 30).sum())
    first = re.search(r"<tr><td>young</td>(.*?)</tr>", table).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', first)[:3] == [f"{n:,}", f"+{n:,}", "0"]
    m.select("young")
    m.refresh_button.click()
    m.wait()
    again = re.search(r"<tr><td>young</td>(.*?)</tr>", m.runs_html.value).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', again)[:3] == [f"{n:,}", "0", "0"]
    assert "+0" not in m.runs_html.value and "-0" not in m.runs_html.value and "−0" not in m.runs_html.value


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
    assert m.messages.last_error == "select a segment first (click its row)"
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


def test_builder_asks_before_replacing_and_drops_the_old_display_name(ws):
    """Bug 9: saving under an existing name overwrote it without asking, and the form kept the previous
    segment's display name."""
    m = SegmentManager(ws)
    m.select("vip")
    m.edit_button.click()
    b = m.detail
    assert (b.display_name.value, b.description.value) == ("VIP", "big spenders")
    b.name.value = "young"  # another saved segment's name
    assert (b.display_name.value, b.description.value) == ("", "")
    b.save_button.click()
    assert "a segment named 'young'" in b.messages.last_error and "Replace" in b.messages.last_error
    assert ws.get("young").definition == "age < 30" and ws.get("young").version == 1
    assert b.replace_button.layout.display == ""
    b.replace_button.click()
    assert b.messages.last_error is None and b.replace_button.layout.display == "none"
    young = ws.get("young")
    assert young.definition == "sum(orders.amount) >= 500" and young.version == 2
    b.save_button.click()  # this builder now edits 'young': saving again asks nothing
    assert b.messages.last_error is None and ws.get("vip").display_name == "VIP"


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
    assert len(v.shown_points) == 2
    # the chart: an inline SVG stretched to the width, a tooltip per point with its time and count
    chart = v.chart_html.value
    assert (
        "<svg" in chart
        and 'preserveAspectRatio="none"' in chart
        and "https://" not in chart.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert chart.count(f"{n:,} members</title>") == 2
    assert "var(--jp-brand-color1" in chart and "#" not in re.sub(
        r"var\([^)]*\)|&#\w+;", "", chart.split("<style>")[1].split("</style>")[0]
    )
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
    assert later.shown_points.empty and "No successful run in this range" in later.chart_html.value
    assert "choose All" in later.chart_html.value
    later.range.value = "All"
    assert len(later.shown_points) == 2
    # the custom range takes ISO dates
    later.range.value = "Custom"
    later.start.value = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    later.end.value = dt.date.today().isoformat()
    assert len(later.shown_points) == 2 and later.messages.last_error is None
    later.start.value = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert "after it ends" in later.messages.last_error
    later.end.value = "12/02/2026"
    assert "write it as YYYY-MM-DD" in later.messages.last_error
    # exported notebooks: the same chart, the preview and the history as HTML
    static = v.static_html()
    assert "<svg" in static and f"{n:,} members</title>" in static and static.count("<tr") > 20


def test_view_of_a_never_refreshed_segment(ws):
    v = SegmentView(ws, "vip")
    assert v.points.empty and "Not refreshed yet: press Refresh now" in v.chart_html.value
    assert v.preview_error  # the catalog explains there are no members yet
    assert v.refresh_button.button_style == "primary"
    v.refresh_button.click()
    assert v.messages.last_error is None and len(v.points) == 1 and "<svg" in v.chart_html.value


def test_time_axis_follows_the_span_and_never_repeats_a_label():
    """Bug 6: the trend repeated 'Dec 02' on every tick and showed minutes only."""

    def labels(*times):
        pts = pd.DataFrame({"date": pd.to_datetime(list(times)), "members": range(len(times))})
        found = re.findall(r'class="xlab[^"]*"[^>]*>(.*?)</div>', charts.trend_html(pts))
        return [re.sub(r"<br><span[^>]*>(.*?)</span>", r" \1", t) for t in found]  # time, then the day

    within_a_day = labels("2026-12-02 07:21", "2026-12-02 11:40", "2026-12-02 18:05")
    assert within_a_day[0].endswith(" 2026-12-02") and all(
        re.fullmatch(r"\d\d:00", t) for t in within_a_day[1:]
    )
    seconds = labels("2026-12-02 07:21:03", "2026-12-02 07:21:04", "2026-12-02 07:21:09")
    assert all(re.match(r"\d\d:\d\d:\d\d\b", t) for t in seconds)
    months = labels("2026-09-01", "2026-10-15", "2026-12-02")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", t) for t in months)
    years = labels("2023-01-01", "2026-12-02")
    assert all(re.fullmatch(r"\d{4}(-\d\d)?", t) for t in years)
    for found in (within_a_day, seconds, months, years):
        assert len(found) >= 2 and len(set(found)) == len(found)
    # runs within a second still get a time axis (a minute around them)
    close = labels("2026-12-02 07:21:03.1", "2026-12-02 07:21:03.2", "2026-12-02 07:21:03.4")
    assert len(close) >= 2 and len(set(close)) == len(close)
    # the tooltip has the time to the second: runs a second apart differ
    pts = pd.DataFrame(
        {"date": pd.to_datetime(["2026-12-02 07:21:03", "2026-12-02 07:21:04"]), "members": [5, 6]}
    )
    assert re.findall(r"<title>([^<]*)</title>", charts.trend_html(pts)) == [
        "2026-12-02 07:21:03: 5 members",
        "2026-12-02 07:21:04: 6 members",
    ]


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
