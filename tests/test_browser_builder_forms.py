"""The builder's rows for issue 14's forms and a text row at fault (issue 17, item 3), in a real
JupyterLab (headless Chromium), light and dark; screenshots under tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import pytest
from test_browser import (
    ARTIFACTS,
    browser_page,
    open_notebook,
    run_all,
    skip_without_browser,
    start_lab,
    switch_theme,
    write_notebook,
)

pytestmark = pytest.mark.browser

TEXT = (
    "age >= 30 AND lower(email) ends with '.com' AND signup_date in previous year"
    " AND (top 10% by sum(orders.amount) OR median(orders.amount) > 50)"
    " AND first(orders.channel by order_date) = 'web'"
)
CELLS = [
    "import jupyter_segments as js\n"
    "from jupyter_segments.ui import SegmentBuilder\n"
    "from jupyter_segments.ui.state import Row\n"
    "ws = js.connect_demo(2000, seed=7)",
    f"builder = SegmentBuilder(ws, text={TEXT!r})\n"
    "builder.add_item(builder.state.groups[0].root, Row(text=\"country = 'DE' and agee > 3\"))\n"
    "builder",
]


def test_builder_new_forms_and_row_error(tmp_path):
    skip_without_browser()
    write_notebook(tmp_path / "forms.ipynb", CELLS)
    viewport = {"width": 1400, "height": 1600}
    with start_lab(tmp_path) as (base, token), browser_page(viewport, "builder_forms_failure.png") as page:
        open_notebook(page, base, token, "forms.ipynb")
        run_all(page)
        root = page.locator(".jseg-root").first
        root.wait_for(timeout=120_000)
        bad = root.locator(".jseg-row-error")
        bad.wait_for(timeout=30_000)
        assert bad.count() == 1
        assert "agee" in bad.locator("input").input_value()
        msg = root.locator(".jseg-row-msg pre").first.inner_text()
        assert "Condition 7 (text): line 1, column 20" in msg and "^^^^" in msg, msg
        selects = root.locator(".jseg-row select")
        labels = [
            selects.nth(i).locator("option:checked").inner_text().replace("\xa0", " ")
            for i in range(selects.count())
        ]
        for shown in ("lower", "in previous", "year", "top", "%", "median of", "first (earliest) of"):
            assert shown in labels, (shown, labels)
        root.screenshot(path=str(ARTIFACTS / "builder_forms_light.png"))
        switch_theme(page, "JupyterLab Dark")
        root.screenshot(path=str(ARTIFACTS / "builder_forms_dark.png"))
