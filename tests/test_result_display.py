"""The ``%%segment`` result as users see it (issue 24): one renderer for every members preview.

Key column, then the projected columns, then the customer columns; text left and numbers right with
thousands separators; dates on one line in ISO form; one NULL; a one-line header; a text form that fits
100 columns. The expected values come from the demo tables read with pandas and from hand-written
formatting, never from the renderer itself. The last test looks at a real JupyterLab in Chromium.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import unicodedata
from decimal import Decimal
from html import unescape

import numpy as np
import pandas as pd
import pytest
import test_magics
from conftest import DEMO_ANCHOR, require_module
from IPython.core.error import UsageError
from test_magics import html, plain, run

from jupyter_segments import render
from jupyter_segments.display import FrameView, SegmentCard, SegmentResult

AS_OF = DEMO_ANCHOR.isoformat()
ip = test_magics.ip  # the IPython shell connected to the demo database (a fixture)
PROJECT_CELL = (
    f"%%segment --as-of {AS_OF} -o top\n"
    "country = 'DE' and age > 40\n"
    "PROJECT sum(orders.amount where order_date in last 365 days) AS spend_1y, count(orders) AS orders_total,\n"
    "  max(orders.order_date) AS last_order"
)


# --- reading the HTML back ---------------------------------------------------------------------------------


def header_cells(markup: str) -> list[tuple[str, str]]:
    """(class attribute, text) of each <th> of the members table."""
    table = markup[markup.index("<table class='jseg-members'>") :]
    head = table[: table.index("</thead>")]
    return [
        (cls, unescape(re.sub("<[^>]+>", "", text)))
        for cls, text in re.findall(r"<th class='([^']*)'[^>]*>(.*?)</th>", head)
    ]


def body_rows(markup: str) -> list[list[tuple[str, str]]]:
    """Rows of (class attribute, text) of the members table's body."""
    body = markup[markup.index("<tbody>") : markup.index("</tbody>")]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body):
        cells = re.findall(r"<td class='([^']*)'[^>]*>(.*?)</td>", tr)
        rows.append([(cls, unescape(re.sub("<[^>]+>", "", text))) for cls, text in cells])
    return rows


def column(markup: str, name: str) -> list[tuple[str, str]]:
    names = [text for _, text in header_cells(markup)]
    i = names.index(name)
    return [row[i] for row in body_rows(markup)]


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@pytest.fixture(scope="module")
def oracle(demo_frames):
    """The members of PROJECT_CELL computed with pandas, by customer_id."""
    customers = demo_frames["customers"].set_index("customer_id")
    orders = demo_frames["orders"]
    dates = pd.to_datetime(orders["order_date"])
    last_year = orders[
        (dates > pd.Timestamp(DEMO_ANCHOR) - pd.Timedelta(days=365)) & (dates <= pd.Timestamp(DEMO_ANCHOR))
    ]
    frame = customers[(customers.country == "DE") & (customers.age > 40)].copy()
    frame["spend_1y"] = last_year.groupby("customer_id")["amount"].sum().reindex(frame.index).fillna(0.0)
    frame["orders_total"] = orders.groupby("customer_id").size().reindex(frame.index).fillna(0).astype(int)
    frame["last_order"] = orders.groupby("customer_id")["order_date"].max().reindex(frame.index)
    return frame.sort_index()


# --- the %%segment cell --------------------------------------------------------------------------------------


def test_key_then_projected_then_customer_columns(ip, demo_frames):
    result, out = run(ip, PROJECT_CELL)
    assert result.error_in_exec is None, out.stderr
    customer_columns = [c for c in demo_frames["customers"].columns if c != "customer_id"]
    want = ["customer_id", "spend_1y", "orders_total", "last_order", *customer_columns]
    heads = header_cells(html(out))
    assert [text for _, text in heads] == want
    # The key and the projected columns are sticky, the last of them draws the edge; the others scroll.
    for cls, text in heads:
        assert ("jseg-sticky" in cls) == (text in want[:4]), (text, cls)
    assert "jseg-edge" in dict((t, c) for c, t in heads)["last_order"]
    assert "jseg-key" in heads[0][0] and all("jseg-proj" in heads[i][0] for i in (1, 2, 3))
    # Offsets to the left grow column by column, so the sticky columns sit side by side.
    lefts = re.findall(
        r"<th class='[^']*jseg-sticky[^']*' style='left:calc\(([\d.]+)em \+ (\d+)px\)'", html(out)
    )
    assert [float(a) for a, _ in lefts] == sorted(float(a) for a, _ in lefts) and lefts[0] == ("0.00", "0")
    assert len(lefts) == 4
    # The text table has the same order, as far as it fits.
    text_head = plain(out).splitlines()[
        plain(out)
        .splitlines()
        .index(next(line for line in plain(out).splitlines() if line.startswith("first ")))
        + 1
    ]
    assert text_head.split()[:5] == want[:5]


def test_values_alignment_and_null(ip, oracle):
    _, out = run(ip, PROJECT_CELL)
    markup = html(out)
    first = oracle.head(10)
    # Numbers right with thousands separators, as Python formats them; text left; dates ISO on one line.
    keys = column(markup, "customer_id")
    assert [t for _, t in keys] == [f"{k:,}" for k in first.index]
    assert all("jseg-num" in cls for cls, _ in keys)
    spend = column(markup, "spend_1y")
    assert [t for _, t in spend] == [f"{v:,.2f}" for v in first["spend_1y"]]
    assert all("jseg-num" in cls for cls, _ in spend)
    assert [t for _, t in column(markup, "first_name")] == list(first["first_name"])
    assert all("jseg-text" in cls for cls, _ in column(markup, "first_name"))
    births = column(markup, "birth_date")
    assert [t for _, t in births] == [pd.Timestamp(v).strftime("%Y-%m-%d") for v in first["birth_date"]]
    assert all("jseg-date" in cls for cls, _ in births)
    # Customers without orders: NULL for max(), 0 for count(), the same NULL in HTML and text.
    last = column(markup, "last_order")
    for (cls, text), value in zip(last, first["last_order"], strict=True):
        if pd.isna(value):
            assert text == "NULL" and "jseg-null" in cls
        else:
            assert text == pd.Timestamp(value).strftime("%Y-%m-%d") and "jseg-null" not in cls
    assert first["last_order"].isna().any(), "the test needs a member without orders in the first 10"
    assert " NULL " in plain(out) or plain(out).count("NULL") >= 1
    # The stylesheet: nothing wraps, numbers right, text left, NULL greyed.
    css = markup[markup.index("<style>") : markup.index("</style>")]
    assert "white-space: nowrap" in css
    assert re.search(r"\.jseg-num \{ text-align: right", css) and re.search(
        r"\.jseg-text,[^{]*\{ text-align: left", css
    )
    assert re.search(r"td\.jseg-null \{ color: var\(--jp-ui-font-color3", css)
    assert "position: sticky" in css


def test_one_line_header(ip, demo_conn, oracle):
    before = time.perf_counter()
    _, out = run(ip, PROJECT_CELL)
    elapsed = time.perf_counter() - before
    total = int(demo_conn.execute("SELECT count(*) FROM customers").fetchone()[0])
    share = f"{100 * len(oracle) / total:.1f}".rstrip("0").rstrip(".") + "%"
    header = plain(out).splitlines()[0]
    assert header.startswith(
        f"unnamed segment · {len(oracle):,} members · {share} of {total:,} customers · took "
    )
    assert header.endswith(f" · as of {AS_OF} · ad hoc")
    seconds = re.search(r"took ([\d.]+) s", header)
    assert seconds and 0 < float(seconds.group(1)) <= elapsed + 0.01
    res = ip.user_ns["top"]
    assert res.total == total and 0 < res.seconds <= elapsed
    head = html(out)[: html(out).index("</div>")]
    assert f"<b>{len(oracle):,}</b> members" in head and f"{share} of {total:,} customers" in head
    assert "took " in head and f"as of {AS_OF}" in head and "ad hoc" in head


def test_header_of_a_saved_segment_with_warnings(ip):
    try:
        result, out = run(
            ip, f"%%segment js_header_warn --as-of {AS_OF}\nage > 50 and age < 30 or country = 'FR'"
        )
        assert result.error_in_exec is None, out.stderr
        lines = plain(out).splitlines()
        # Longer than 100 characters, the text header wraps between fields; the warning comes next.
        assert len(lines[0]) <= 100 and lines[2].startswith("warning: ")
        header = " · ".join(lines[:2])
        assert header.startswith("segment js_header_warn · ") and header.endswith(" · saved · 1 warning")
        assert "1 warning</span>" in html(out)
        head = html(out)[: html(out).index("</div>")]  # the HTML header is one line
        assert "js_header_warn" in head and "1 warning" in head and "saved" in head
    finally:
        run(ip, "%segment delete js_header_warn")


def test_text_form_fits_100_columns(ip, demo_frames):
    _, out = run(ip, PROJECT_CELL)
    text = plain(out)
    table = text[: text.index("SQL (duckdb):")].splitlines()
    assert all(display_width(line) <= 100 for line in table), [
        line for line in table if display_width(line) > 100
    ]
    # Customer columns that do not fit are named in a note; the key and projected columns are there.
    head = table[2].split()
    assert head[:4] == ["customer_id", "spend_1y", "orders_total", "last_order"]
    note = table[-1]
    shown = set(head)
    left_out = [c for c in demo_frames["customers"].columns if c not in shown]
    assert left_out and note.startswith(f"({len(left_out)} more columns not shown")
    # Numbers end at their column's right edge; text starts at its left edge.
    spend_end = table[2].index("spend_1y") + len("spend_1y")
    for line in table[3:13]:
        assert line[spend_end - 1] != " " and line[spend_end] == " "


def test_no_preview_is_not_no_members(ip):
    _, out = run(ip, f"%%segment --as-of {AS_OF} --preview 0\nage > 40")
    assert "no preview (--preview 0)" in plain(out) and "no members" not in plain(out)
    assert "no preview (--preview 0)" in html(out) and "<table class='jseg-members'>" not in html(out)
    _, out = run(ip, f"%%segment --as-of {AS_OF}\nage > 400")
    assert "\nno members\n" in plain(out) and "no members" in html(out)


def test_o_variable_displays_the_same(ip):
    _, out = run(ip, PROJECT_CELL)
    res = ip.user_ns["top"]
    assert isinstance(res, SegmentResult)
    assert res._repr_html_() == html(out)
    assert str(res) == plain(out)
    # and shown again later (a cell with just the name): what Jupyter's display formatter makes of it
    data, _ = ip.display_formatter.format(res)
    assert data["text/html"] == html(out) and data["text/plain"] == plain(out)


def test_columns_option_and_config(ip, demo_frames):
    _, out = run(ip, PROJECT_CELL.replace("-o top", "-o top --columns 'age, country'"))
    assert [t for _, t in header_cells(html(out))] == [
        "customer_id",
        "spend_1y",
        "orders_total",
        "last_order",
        "age",
        "country",
    ]
    assert "not chosen" in plain(out)
    ip.run_line_magic("config", "SegmentMagic.preview_columns = ['email', 'first_name']")
    try:
        _, out = run(ip, f"%%segment --as-of {AS_OF}\nage > 40")
        assert [t for _, t in header_cells(html(out))] == ["customer_id", "email", "first_name"]
        # a cell's --columns wins over the setting
        _, out = run(ip, f"%%segment --as-of {AS_OF} --columns city\nage > 40")
        assert [t for _, t in header_cells(html(out))] == ["customer_id", "city"]
    finally:
        ip.run_line_magic("config", "SegmentMagic.preview_columns = []")
    # A misspelt column is a short error before anything runs.
    result, out = run(ip, f"%%segment --as-of {AS_OF} --columns contry\nage > 40")
    assert isinstance(result.error_in_exec, UsageError)
    assert "unknown column 'contry'" in str(result.error_in_exec) and "did you mean 'country'" in str(
        result.error_in_exec
    )


def test_show_card_and_lists_use_the_same_renderer(ip):
    try:
        run(ip, "%%segment js_card\nage > 70\nPROJECT count(orders) AS n_orders")
        _, out = run(ip, "%segment show js_card")
        heads = [t for _, t in header_cells(html(out))]
        assert heads[:2] == ["customer_id", "n_orders"]
        assert "jseg-members" in html(out)
        _, out = run(ip, "%segment list")
        assert "jseg-members" in html(out)
    finally:
        run(ip, "%segment delete js_card")


# --- the renderer on frames written by hand ------------------------------------------------------------------


def test_renderer_values_on_a_hand_made_frame():
    frame = pd.DataFrame(
        {
            "name": ["Ann", None, "李小龍", "a\nb"],
            "amount": [1234.5, np.nan, -0.25, 1_000_000.0],
            "whole": [3.0, 4.0, np.nan, 1234.0],  # ints with a NULL: pandas makes them floats
            "n": pd.array([1, None, 12_345, 7], dtype="Int64"),
            "when": pd.to_datetime(
                ["2024-03-01 14:22:05", None, "2024-12-31 00:00:00", "2025-01-02 03:04:05.5"],
                format="ISO8601",
            ),
            "day": [dt.date(2024, 3, 1), None, dt.date(1999, 12, 31), dt.date(2000, 1, 1)],
            "flag": [True, False, None, True],
            "price": [Decimal("1.50"), Decimal("1234.00"), None, Decimal("2")],
            "id": [10, 11, 12, 13],
        }
    )
    table = render.MembersTable(frame, key="id", projected=["n"])
    assert table.names == ["id", "n", "name", "amount", "whole", "when", "day", "flag", "price"]
    cells = {c.name: c.cells for c in table.columns}
    kinds = {c.name: c.kind for c in table.columns}
    assert cells["amount"] == ["1,234.50", None, "-0.25", "1,000,000.00"]
    assert cells["whole"] == ["3", "4", None, "1,234"]
    assert cells["n"] == ["1", None, "12,345", "7"]
    assert cells["when"] == ["2024-03-01 14:22:05", None, "2024-12-31 00:00:00", "2025-01-02 03:04:05.500000"]
    assert cells["day"] == ["2024-03-01", None, "1999-12-31", "2000-01-01"]
    assert cells["flag"] == ["true", "false", None, "true"]
    assert cells["price"] == ["1.50", "1,234.00", None, "2.00"]
    assert cells["name"] == ["Ann", None, "李小龍", "a b"]  # one line
    assert kinds == {
        "id": "num",
        "n": "num",
        "name": "text",
        "amount": "num",
        "whole": "num",
        "when": "date",
        "day": "date",
        "flag": "bool",
        "price": "num",
    }
    markup = table.html()
    assert len(re.findall(r"<td class='[^']*jseg-null", markup)) == 8
    assert all(text == "NULL" for row in body_rows(markup) for cls, text in row if "jseg-null" in cls)
    lines = table.text().splitlines()
    assert lines[0].split() == ["id", "n", "name", "amount", "whole", "when", "day", "flag", "price"]
    assert lines[2].split()[:3] == ["11", "NULL", "NULL"]
    # Numbers right-aligned and CJK characters two columns wide: with the amounts last, every line ends
    # in the same terminal column.
    small = render.frame_text(frame[["id", "name", "amount"]], key="id").splitlines()
    assert small[3] == "12  李小龍         -0.25"
    assert len({display_width(line) for line in small}) == 1


def test_text_table_cuts_wide_values_and_leaves_out_columns():
    frame = pd.DataFrame(
        {"customer_id": [1, 2], "note": ["x" * 80, "short"], **{f"col_{i}": ["value"] * 2 for i in range(20)}}
    )
    text = render.frame_text(frame, key="customer_id")
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[1].split()[1] == "x" * 29 + "…"  # cut at 30 characters with an ellipsis
    left_out = [f"col_{i}" for i in range(20) if f"col_{i}" not in lines[0].split()]
    assert left_out and lines[-1].startswith(f"({len(left_out)} more columns not shown")
    # Too many projected columns for 100 characters: the key stays, what does not fit is named.
    wide = pd.DataFrame({"k": [1], **{f"projected_number_{i}": [i * 1000] for i in range(10)}})
    text = render.frame_text(wide, key="k", projected=[f"projected_number_{i}" for i in range(10)])
    assert all(len(line) <= 100 for line in text.splitlines())
    assert text.splitlines()[0].startswith("k  projected_number_0")
    # No width: every column, nothing cut (the lists of %segment list keep all their columns).
    full = render.frame_text(frame, key="customer_id", width=None)
    assert "x" * 80 in full and "col_19" in full


def test_columns_are_checked_and_ordered():
    frame = pd.DataFrame({"k": [1], "a": [1], "b": [2], "p": [3]})
    assert render.MembersTable(frame, key="k", projected=["p"], columns=["b", "a"]).names == [
        "k",
        "p",
        "b",
        "a",
    ]
    assert render.MembersTable(frame, key="k", projected=["p"], columns=["b"]).hidden == ["a"]
    with pytest.raises(Exception, match="unknown column 'c'"):
        render.MembersTable(frame, key="k", columns=["c"])
    assert render.parse_columns(" a, b ,,c") == ["a", "b", "c"] and render.parse_columns("") is None


def test_share_and_duration_texts():
    assert render.share(123, 1000) == "12.3%" and render.share(1, 100_000) == "<0.1%"
    assert (
        render.share(0, 10) == "0%"
        and render.share(10, 10) == "100%"
        and render.share(9999, 10_000) == ">99.9%"
    )
    assert (
        render.duration(0.0834) == "0.08 s"
        and render.duration(4.26) == "4.3 s"
        and render.duration(125) == "2 min 05 s"
    )


def test_frame_view_writes_null_like_the_previews():
    view = FrameView(pd.DataFrame({"segment": ["a", "b"], "members": [None, 1200]}), title="t")
    assert "NULL" in view.to_text() and "1,200" in view.to_text()
    assert "jseg-null" in view._repr_html_()


def test_card_without_definition_projections():
    class Seg:
        name, display_name, description, type, state, draft, version, count, status = (
            "s",
            None,
            None,
            "dynamic",
            "active",
            False,
            1,
            2,
            "Successful",
        )
        definition = "age > 1\nPROJECT count(orders) AS n"
        last_run = None

        def preview(self, n):
            return pd.DataFrame({"customer_id": [1, 2], "age": [30, None], "n": [0, 4]})

    card = SegmentCard(Seg(), key="customer_id")
    assert [t for _, t in header_cells(card._repr_html_())] == ["customer_id", "n", "age"]
    assert "NULL" in card.to_text()


# --- the widgets' previews ------------------------------------------------------------------------------------


def test_segment_view_and_builder_previews(tmp_path):
    require_module("ipywidgets")
    import jupyter_segments as js
    from jupyter_segments.ui import SegmentBuilder, SegmentView

    ws = js.connect_demo(300, seed=7, anchor=DEMO_ANCHOR, catalog=str(tmp_path / "c.sqlite"))
    try:
        ws.segment("proj", "age > 30\nPROJECT max(orders.order_date) AS last_order, count(orders) AS n")
        ws.refresh(["proj"])
        view = SegmentView(ws, "proj")
        heads = header_cells(view.preview_html.value)
        assert [t for _, t in heads][:3] == ["customer_id", "last_order", "n"]
        assert all("jseg-sticky" in cls for cls, _ in heads[:3]) and "jseg-sticky" not in heads[3][0]
        assert "max-height:380px" in view.preview_html.value
        nulls = [t for cls, t in column(view.preview_html.value, "last_order") if "jseg-null" in cls]
        want_nulls = int(view.preview.head(100)["last_order"].isna().sum())
        assert len(nulls) == want_nulls and set(nulls) <= {"NULL"}

        b = SegmentBuilder(ws, text="age > 30\nPROJECT count(orders) AS n", delay=0.01)
        b.wait()
        assert b.preview_frame is None and b.preview_html.value == ""
        frame = b.preview()
        keys = ws.backend.connection.execute(
            "SELECT customer_id FROM customers WHERE age > 30 ORDER BY customer_id LIMIT 10"
        ).fetchall()
        assert list(frame["customer_id"]) == [k for (k,) in keys]
        assert [t for _, t in header_cells(b.preview_html.value)][:2] == ["customer_id", "n"]
        assert "jseg-members" in b.static_html()
        b.load("age > 31")  # an edit: the members shown were for the old definition
        assert b.preview_frame is None and "definition changed" in b.preview_html.value
        b.close()
    finally:
        ws.close()


def test_customer_count_is_one_count_of_the_customer_table(demo_conn):
    import jupyter_segments as js

    ws = js.connect(demo_conn)
    ws.customers("customers", key="customer_id")
    assert ws.customer_count() == int(demo_conn.execute("SELECT count(*) FROM customers").fetchone()[0])
    # Nothing is kept: a customer added shows in the next count (on a demo of its own, not the shared one).
    own = js.connect_demo(50, seed=1, anchor=DEMO_ANCHOR)
    try:
        assert own.customer_count() == 50
        own.backend.connection.execute("INSERT INTO customers (customer_id) VALUES (1000000)")
        assert own.customer_count() == 51
    finally:
        own.close()


# --- in JupyterLab ------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_result_in_jupyterlab_shows_key_and_projected_columns(tmp_path):
    """At 1,280 px the key and projected columns are on screen without scrolling, and stay when the table
    scrolls sideways; light and dark screenshots in tests/artifacts/."""
    from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, skip_without_browser, start_lab

    skip_without_browser()
    from playwright.sync_api import sync_playwright

    cells = [
        "%load_ext jupyter_segments\n%segment connect --demo --customers 2000 --anchor 2025-06-30",
        PROJECT_CELL.replace(" -o top", ""),
    ]
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
            for s in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "result.ipynb").write_text(json.dumps(nb))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with start_lab(tmp_path) as (base, token), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{base}/lab/tree/result.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            time.sleep(2)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            result = page.locator(".jseg-result")
            result.wait_for(timeout=120_000)
            frame = result.locator(".jseg-frame")
            viewport = {"left": 0, "right": 1280}
            box = frame.bounding_box()
            assert box is not None
            # The table is wider than the cell: it scrolls sideways ...
            assert frame.evaluate("e => e.scrollWidth > e.clientWidth + 100")
            heads = result.locator("th")
            names = [heads.nth(i).inner_text() for i in range(4)]
            assert names == ["customer_id", "spend_1y", "orders_total", "last_order"]

            def boxes():
                return [heads.nth(i).bounding_box() for i in range(4)]

            before = boxes()
            # ... and the key and projected columns are on screen, side by side, inside the output.
            for b in before:
                assert (
                    b is not None
                    and b["x"] >= box["x"] - 1
                    and b["x"] + b["width"] <= min(box["x"] + box["width"], viewport["right"]) + 1
                )
            for a, b in zip(before, before[1:], strict=False):
                assert abs(a["x"] + a["width"] - b["x"]) < 1.5, (a, b)
            # One line per row: no cell wraps (all rows as high as the first), text left, numbers right.
            heights = frame.evaluate(
                "e => [...e.querySelectorAll('tbody tr')].map(r => r.getBoundingClientRect().height)"
            )
            assert max(heights) - min(heights) < 1, heights
            style = frame.evaluate(
                """e => { const s = c => getComputedStyle(e.querySelector(c));
                    return [s('td.jseg-text').textAlign, s('td.jseg-num').textAlign, s('td.jseg-date').whiteSpace]; }"""
            )
            assert style == ["left", "right", "nowrap"]
            result.screenshot(path=str(ARTIFACTS / "segment_result.png"))
            page.screenshot(path=str(ARTIFACTS / "segment_result_page.png"))  # the whole 1,280 px window
            # Scrolled sideways: the sticky columns stay where they were, the customer columns move.
            first_customer = result.locator("th").nth(4).bounding_box()
            frame.evaluate("e => { e.scrollLeft = 400; }")
            time.sleep(0.3)
            after = boxes()
            assert all(abs(a["x"] - b["x"]) < 1 for a, b in zip(before, after, strict=True)), (before, after)
            moved = result.locator("th").nth(4).bounding_box()
            assert first_customer and moved and moved["x"] < first_customer["x"] - 300
            result.screenshot(path=str(ARTIFACTS / "segment_result_scrolled.png"))
            frame.evaluate("e => { e.scrollLeft = 0; }")
            # Dark theme.
            page.get_by_role("menuitem", name="Settings", exact=True).click()
            page.get_by_text("Theme", exact=True).hover()
            page.get_by_text("JupyterLab Dark", exact=True).click()
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
            time.sleep(1)
            frame.evaluate("e => { e.scrollLeft = 250; }")
            result.screenshot(path=str(ARTIFACTS / "segment_result_dark.png"))
            assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
        except Exception:
            try:
                page.screenshot(path=str(ARTIFACTS / "segment_result_failure.png"), timeout=10_000)
            except Exception:  # noqa: BLE001 - evidence only
                pass
            raise
        finally:
            browser.close()
    for name in ("segment_result", "segment_result_scrolled", "segment_result_dark"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
