"""Issue 21's widget parts in a real JupyterLab (headless Chromium): the builder shows "n customers miss
only this condition" under each row (the numbers a pandas count in the notebook prints), Preview then
Why? shows the explanation tree; screenshots light and dark under tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import json
import re
import time

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
    "import json, tempfile\n"
    "import jupyter_segments as js\n"
    "from jupyter_segments.ui import SegmentBuilder\n"
    "ws = js.connect_demo(2000, seed=7, catalog=tempfile.mkdtemp() + '/catalog.sqlite')\n"
    "ws.static_segment('campaign', [1, 2, 3])",
    # the oracle: customers failing only that condition, counted by pandas on the same tables
    "import pandas as pd\n"
    "c = ws.backend.connection.execute('SELECT * FROM customers').df()\n"
    "orders = ws.backend.connection.execute('SELECT * FROM orders').df().groupby('customer_id').size()\n"
    "ok = pd.concat([c.age >= 30, c.country == 'DE', c.customer_id.map(orders).fillna(0) >= 3], axis=1)\n"
    "failed = ~ok.fillna(False).astype(bool)\n"
    "one = failed.sum(axis=1) == 1\n"
    "print('ORACLE', json.dumps([int((one & failed.iloc[:, i]).sum()) for i in range(3)]))",
    "builder = SegmentBuilder(ws, text=\"age >= 30 AND country = 'DE' AND count(orders) >= 3\")\nbuilder",
]


def test_near_misses_and_why_in_jupyterlab(tmp_path):
    skip_without_browser()
    write_notebook(tmp_path / "why.ipynb", CELLS)
    viewport = {"width": 1280, "height": 1600}
    with start_lab(tmp_path) as (base, token), browser_page(viewport, "why_failure.png") as page:
        open_notebook(page, base, token, "why.ipynb")
        run_all(page)
        wait_cells_run(page, len(CELLS))
        builder = page.locator(".jseg-builder").first
        page.wait_for_function(
            "() => document.querySelectorAll('.jseg-builder .jseg-near-miss:not(.jseg-stale)').length === 3",
            timeout=60_000,
        )
        printed = page.get_by_text(re.compile(r"^ORACLE \[")).inner_text()
        oracle = json.loads(printed.split("ORACLE", 1)[1])
        shown = builder.locator(".jseg-near-miss").all_inner_texts()
        assert [int(re.match(r"[\d,]+", t).group(0).replace(",", "")) for t in shown] == oracle
        # the static segment appears in the picker with its type
        picker = builder.locator(".jseg-segment-picker select")
        assert "campaign (static)" in picker.inner_text().replace("\xa0", " ")
        assert picker.evaluate("s => s.selectedIndex") == 0  # shown chosen, not blank
        builder.get_by_role("button", name=re.compile("Preview")).click()
        builder.locator(".jseg-why-customer select").wait_for(timeout=30_000)
        builder.get_by_role("button", name="Why?").click()
        builder.locator(".js-explain").wait_for(timeout=30_000)
        tree = builder.locator(".js-explain").inner_text()
        assert "member" in tree and "age >= 30" in tree and "records of count(orders)" in tree
        time.sleep(0.5)
        builder.screenshot(path=str(ARTIFACTS / "why_light.png"))
        switch_theme(page, "JupyterLab Dark")
        builder.screenshot(path=str(ARTIFACTS / "why_dark.png"))
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
