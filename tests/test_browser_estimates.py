"""The builder's estimate in JupyterLab (issue 22): '≈ n (low–high)' shown first, then the exact count.

The exact count is held back for a few seconds in the notebook (the demo is small, so it would
otherwise arrive before anyone could see the estimate): the page must show the estimate with its
interval, then the exact number in its place. A screenshot of the estimate is kept in
tests/artifacts/builder_estimate.png (and ESTIMATE_SCREENSHOT, if set).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from test_browser import ARTIFACTS, browser_page, open_notebook, run_all, skip_without_browser, start_lab
from test_browser import write_notebook as write_cells

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import time\n"
    "import jupyter_segments as js\n"
    "from jupyter_segments.estimate import Estimator\n"
    "from jupyter_segments.ui import SegmentBuilder\n"
    "ws = js.connect_demo(4000, seed=7)\n"
    "ws._estimator = Estimator(ws.session, size=1000, seed=3)  # a sample smaller than the demo\n"
    "ws.estimator.sample()\n"
    "exact = ws.count('count(orders) >= 3')",
    "builder = SegmentBuilder(ws, text='count(orders) >= 3')\n"
    "real_count = builder.db.count\n"
    "def held(definition):  # the exact count as slow as at 10M customers\n"
    "    if str(definition) != 'true':\n"
    "        time.sleep(8)\n"
    "    return real_count(definition)\n"
    "builder.db.count = held\n"
    "builder.recount()\n"
    "builder",
    "print(f'exact={exact}')",
]


def test_builder_shows_estimate_then_exact_count(tmp_path):
    skip_without_browser()
    write_cells(tmp_path / "estimates.ipynb", CELLS)
    with (
        start_lab(tmp_path) as (base, token),
        browser_page({"width": 1300, "height": 900}, "estimates_failure.png") as page,
    ):
        open_notebook(page, base, token, "estimates.ipynb")
        run_all(page)
        root = page.locator(".jseg-root").first
        root.wait_for(timeout=120_000)
        estimate = root.locator(".jseg-estimate")
        estimate.wait_for(timeout=60_000)
        text = estimate.inner_text()
        m = re.search(r"≈ ([\d,]+) \(([\d,]+)–([\d,]+)\)", text)
        assert m, text
        value, low, high = (int(g.replace(",", "")) for g in m.groups())
        assert low <= value <= high
        assert "95% interval" in (estimate.get_attribute("title") or "")
        assert "exact count…" in root.inner_text()
        shot = ARTIFACTS / "builder_estimate.png"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        root.screenshot(path=str(shot))
        if os.environ.get("ESTIMATE_SCREENSHOT"):
            Path(os.environ["ESTIMATE_SCREENSHOT"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, os.environ["ESTIMATE_SCREENSHOT"])
        # The exact count replaces it; the notebook printed it for comparison.
        page.wait_for_function(
            "() => { const b = document.querySelector('.jseg-root .jseg-count b');"
            " return b && /^[0-9,]+$/.test(b.innerText); }",
            timeout=60_000,
        )
        page.get_by_text(re.compile(r"exact=\d+")).wait_for(timeout=60_000)
        exact = int(
            re.search(r"exact=(\d+)", page.locator(".jp-OutputArea-output").last.inner_text()).group(1)
        )
        shown = int(root.locator(".jseg-count b").inner_text().replace(",", ""))
        assert shown == exact and "≈" not in root.locator(".jseg-count").inner_text()
        if os.environ.get("ESTIMATE_SCREENSHOT"):
            after = Path(os.environ["ESTIMATE_SCREENSHOT"]).with_name("builder_exact.png")
            root.screenshot(path=str(after))
