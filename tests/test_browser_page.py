"""The segments page and the segment view in a real JupyterLab (headless Chromium): click, shift-click
and ctrl-click rows, sort by a header, open the view above the table, the trend chart filling the width
with nothing loaded from the network, the HTML copy hidden while the widget shows; light, dark and high
contrast themes; screenshots under tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import re

import pytest
from test_browser import (
    ARTIFACTS,
    browser_page,
    open_notebook,
    run_all,
    skip_without_browser,
    start_lab,
    switch_theme,
    wait_cells_run,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import tempfile\n"
    "import jupyter_segments as js\n"
    "from jupyter_segments.ui import SegmentManager, SegmentView\n"
    "ws = js.connect_demo(2000, seed=7, catalog=tempfile.mkdtemp() + '/catalog.sqlite')\n"
    "ws.segment('vip', 'sum(orders.amount) >= 500', display_name='VIP customers')\n"
    "ws.segment('young', 'age < 30')\n"
    "ws.segment('seniors', 'age >= 65')\n"
    "ws.segment('wip', 'sum(orders.amont) > 1', draft=True)\n"
    "ws.refresh(); ws.refresh(['vip']); ws.refresh(['vip'])",
    "page = SegmentManager(ws)\npage",
    "view = SegmentView(ws, 'vip')\nview",
    "ws.compare('vip', 'young').chart()",
]


def rows(page_widget) -> list[str]:
    return page_widget.locator("table.jseg-grid tbody tr").evaluate_all("rs => rs.map(r => r.dataset.name)")


def selected(page_widget) -> list[str]:
    return page_widget.locator("table.jseg-grid tr.jseg-selected").evaluate_all(
        "rs => rs.map(r => r.dataset.name)"
    )


def wait_selected(page, want: list[str]) -> None:
    page.wait_for_function(
        """want => JSON.stringify([...document.querySelectorAll('.jseg-root table.jseg-grid tr.jseg-selected')]
            .map(r => r.dataset.name)) === JSON.stringify(want)""",
        arg=want,
        timeout=20_000,
    )


def test_segments_page_and_view_in_jupyterlab(tmp_path):
    skip_without_browser()
    from playwright.sync_api import expect

    write_notebook(tmp_path / "page.ipynb", CELLS)
    outside: list[str] = []
    viewport = {"width": 1280, "height": 1800}
    with start_lab(tmp_path) as (base, token), browser_page(viewport, "page_failure.png") as page:
        page.on(
            "request",
            lambda r: None if r.url.startswith(base) or r.url.startswith("data:") else outside.append(r.url),
        )
        open_notebook(page, base, token, "page.ipynb")
        run_all(page)
        roots = page.locator(".jseg-root")
        roots.nth(1).wait_for(timeout=120_000)
        manager, view = roots.nth(0), roots.nth(1)
        # clicks reach the kernel between cells: wait until every cell has run
        wait_cells_run(page, len(CELLS))
        manager.locator("table.jseg-grid").wait_for(timeout=30_000)
        # the HTML copies are in the notebook but hidden while the widgets show
        assert page.locator(".jseg-mirror").count() == 2
        assert not page.locator(".jseg-mirror").first.is_visible()
        assert rows(manager) == ["seniors", "vip", "wip", "young"]
        view_button = manager.get_by_role("button", name="View")
        expect(view_button).to_be_disabled()
        # click, shift-click, ctrl-click
        manager.locator("tr[data-name=seniors]").click()
        wait_selected(page, ["seniors"])
        # the button's state is another widget's message: wait for it, as for the rows
        expect(view_button).to_be_enabled()
        manager.locator("tr[data-name=wip]").click(modifiers=["Shift"])
        wait_selected(page, ["seniors", "vip", "wip"])
        expect(view_button).to_be_disabled()  # one segment only
        manager.locator("tr[data-name=vip]").click(modifiers=["Control"])
        wait_selected(page, ["seniors", "wip"])
        # sort by members, largest first after a second click
        manager.locator("th[data-sort=members]").click()
        page.wait_for_function(
            "() => document.querySelector('.jseg-root th[data-sort=members]').getAttribute('aria-sort') === 'ascending'",
            timeout=20_000,
        )
        manager.locator("th[data-sort=members]").click()
        page.wait_for_function(
            "() => document.querySelector('.jseg-root th[data-sort=members]').getAttribute('aria-sort') === 'descending'",
            timeout=20_000,
        )
        counts = manager.locator("table.jseg-grid tbody td.num").all_inner_texts()
        numbers = [int(c.replace(",", "")) for c in counts if re.fullmatch(r"[\d,]+", c)]
        assert numbers == sorted(numbers, reverse=True) and len(numbers) == 3
        # open the view of vip above the table (selected from the keyboard: focus, Enter)
        manager.locator("tr[data-name=vip]").focus()
        page.keyboard.press("Enter")
        wait_selected(page, ["vip"])
        view_button.click()
        detail = manager.locator(".jseg-root")  # the view inside the page
        detail.first.wait_for(timeout=30_000)
        assert detail.first.bounding_box()["y"] < manager.locator("table.jseg-grid").bounding_box()["y"]
        manager.screenshot(path=str(ARTIFACTS / "page_light.png"))
        # the view's chart fills the width and shows three points with their counts
        chart = view.locator(".jseg-chart svg")
        chart.wait_for(timeout=30_000)
        assert chart.bounding_box()["width"] > 0.8 * view.bounding_box()["width"] - 80
        assert view.locator(".jseg-chart .dot").count() == 3
        labels = view.locator(".jseg-chart .xlab").all_inner_texts()
        assert len(labels) == len(set(labels)) >= 2
        view.screenshot(path=str(ARTIFACTS / "view_light.png"))
        # the compare chart: rendered by JupyterLab's own Vega, from nothing but the page
        page.locator(".vega-embed").first.wait_for(timeout=60_000)
        assert "Error loading script" not in page.locator(".jp-Notebook").inner_text()
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
        colours = {}
        for name in ("JupyterLab Dark", "JupyterLab Dark High Contrast", "JupyterLab Light"):
            switch_theme(page, name)
            colours[name] = page.evaluate(
                "() => [getComputedStyle(document.querySelector('.jseg-grid td')).color,"
                " getComputedStyle(document.querySelector('.jseg-chart .line')).stroke]"
            )
            short = {"JupyterLab Dark": "dark", "JupyterLab Dark High Contrast": "high_contrast"}.get(name)
            if short:
                manager.screenshot(path=str(ARTIFACTS / f"page_{short}.png"))
                view.screenshot(path=str(ARTIFACTS / f"view_{short}.png"))
        assert colours["JupyterLab Dark"][0] != colours["JupyterLab Light"][0]
        assert not outside, outside
