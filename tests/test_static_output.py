"""Static output (issue 17, bug 5): notebooks/widgets.ipynb executed by nbclient, exported by
``jupyter nbconvert --to html`` and opened in Chromium with every network request refused shows each
widget's last state: the builder's definition, count and SQL; the quick segment's table; the segments
page's rows with status and counts; the view's chart (inline SVG) and preview rows.

The counts are checked against hand-written SQL on the same demo data (same size and seed), not against
what the widgets computed.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import require_module, require_program

import jupyter_segments as js

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    require_module("nbclient")
    from nbclient import NotebookClient

    work = tmp_path_factory.mktemp("static")
    nb = nbformat.read(ROOT / "notebooks" / "widgets.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()
    executed = work / "widgets.ipynb"
    nbformat.write(nb, executed)
    # the saved widget state is there: nbconvert shows widget views for it (what hid the fallback before)
    assert nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return work / "widgets.html"


@pytest.fixture(scope="module")
def oracle() -> dict[str, int]:
    """The notebook's counts by hand-written SQL on the same generated data."""
    ws = js.connect_demo(5_000)
    con = ws.backend.connection
    try:
        one = lambda sql: int(con.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "builder": one(
                "SELECT count(*) FROM customers c WHERE c.age >= 30 AND "
                "(SELECT coalesce(sum(amount), 0) FROM orders o WHERE o.customer_id = c.customer_id) >= 500"
            ),
            "vip": one(
                "SELECT count(*) FROM customers c WHERE (SELECT coalesce(sum(amount), 0) FROM orders o "
                "WHERE o.customer_id = c.customer_id AND o.status <> 'returned') >= 1000"
            ),
            "north_news": one(
                "SELECT count(*) FROM customers c JOIN regions r ON r.region_id = c.region_id "
                "WHERE r.name = 'North' AND c.newsletter"
            ),
        }
    finally:
        ws.close()


def test_each_widget_is_a_widget_view_then_its_html_copy(exported):
    """In a kernel a widget displays as the widget, then the HTML copy nbconvert and GitHub show."""
    nb = nbformat.read(exported.with_suffix(".ipynb"), as_version=4)
    shown = [
        [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        for cell in nb.cells
        if cell.cell_type == "code"
        and re.fullmatch(r"builder|quick|(SegmentManager|SegmentView)\(ws.*", cell.source.splitlines()[-1])
    ]
    assert len(shown) == 4
    for outputs in shown:
        widget, copy = outputs[-2], outputs[-1]
        assert "application/vnd.jupyter.widget-view+json" in widget.data
        assert 'class="jseg-mirror"' in copy.data["text/html"]
        assert "application/vnd.jupyter.widget-view+json" not in copy.data


def test_exported_notebook_shows_every_widget_offline(exported, oracle):
    require_program(CHROMIUM, "Chromium")
    require_module("playwright")
    from playwright.sync_api import sync_playwright

    requested: list[str] = []

    def refuse(route):
        requested.append(route.request.url)
        route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route(re.compile(r"^(?!file:).*"), refuse)  # nothing but the file itself
            page.goto(exported.as_uri())
            page.wait_for_load_state("load")
            mirrors = page.locator(".jseg-mirror")
            assert mirrors.count() == 4
            texts = [m.inner_text() for m in mirrors.all()]
            for m in mirrors.all():
                assert m.is_visible()
            builder, quick, manager, view = texts
            # the last state, not the first display (bug 5: "Estimated members: —", "Reading the distribution")
            assert "Estimated members: —" not in builder and "Reading the distribution" not in quick
            # builder: definition, count, SQL
            assert "age >= 30 AND sum(orders.amount) >= 500" in builder
            assert f"{oracle['builder']:,}" in builder and "SELECT" in builder
            # quick segment: the field's distribution as a table, and the condition with its count
            assert "Quick segment" in quick and mirrors.nth(1).locator("tr").count() >= 3
            assert re.search(r"Estimated size: [\d,]+ customers", quick), quick
            # segments page: each row with its status and count
            for name in ("vip", "recent", "north_news"):
                assert re.search(rf"{name}\b.*Successful", manager), manager
            assert f"{oracle['vip']:,}" in manager and f"{oracle['north_news']:,}" in manager
            # view: the chart drawn (an SVG with a point per run) and preview rows
            chart = page.locator(".jseg-mirror .jseg-chart svg")
            assert chart.count() == 1 and chart.first.is_visible()
            box = chart.first.bounding_box()
            assert box["width"] > 600 and box["height"] > 100
            assert (
                f"{oracle['vip']:,} members"
                in page.locator(".jseg-mirror .jseg-chart title").first.inner_html()
            )
            assert view.count("\n") > 20 and "customer_id" in view
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "static-export.png"), full_page=True)
            assert any(
                "unpkg" in u or "jsdelivr" in u or "cdn" in u for u in requested
            )  # it tried, and failed
        finally:
            browser.close()


def test_a_count_that_lands_after_the_cell_updates_the_copy():
    """The builder counts after its debounce delay, after the cell has finished: the count still reaches
    the HTML copy (update_display_data on its display id), so a notebook saved then shows it."""
    require_module("jupyter_client")
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        printed: list[str] = []

        def stdout(msg) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])

        reply = kc.execute_interactive(
            "import jupyter_segments as js\nfrom jupyter_segments.ui import SegmentBuilder\n"
            "ws = js.connect_demo(1000, seed=7)\n"
            "sql = 'SELECT count(*) FROM customers WHERE age >= 30'  # the oracle, by hand\n"
            "print(f'{ws.backend.connection.execute(sql).fetchone()[0]:,}')",
            timeout=120,
            output_hook=stdout,
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        count = "".join(printed).strip()
        msg_id = kc.execute("b = SegmentBuilder(ws, text='age >= 30', delay=1.5)\nb")
        mirror_id, updates, idle = None, [], False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (idle and updates):
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "display_data" and "jseg-mirror" in content["data"].get("text/html", ""):
                mirror_id = content["transient"]["display_id"]
                assert "Estimated members: <b>—</b>" in content["data"]["text/html"]  # not counted yet
            elif kind == "status" and msg["parent_header"].get("msg_id") == msg_id:
                idle = idle or content["execution_state"] == "idle"
            elif kind == "update_display_data" and content["transient"]["display_id"] == mirror_id:
                assert idle, "the count was meant to land after the cell had finished"
                updates.append(content["data"]["text/html"])
        assert mirror_id and updates, "no update of the HTML copy after the count"
        assert f"Estimated members: <b>{count}</b>" in updates[-1]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
