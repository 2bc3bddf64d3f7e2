"""`%%segment` cells in a real JupyterLab with the extension built into jupyter_segments/labextension.

One JupyterLab (the extension found through JUPYTER_PATH, as ``pip install .`` places it), one headless
Chromium page, one test: token classes for each kind of token in JupyterLab's own colours (light and
dark), an error underline with its message while typing (debounced: a few checks, not one per key),
hover cards, and the kernel's completion inside the cell. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json
import time

import pytest
from test_browser import (
    ARTIFACTS,
    ROOT,
    browser_page,
    open_notebook,
    skip_without_browser,
    start_lab,
    switch_theme,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BUILT = ROOT / "jupyter_segments" / "labextension"

SETUP = (
    "import tempfile\n"
    "import jupyter_segments as js\n"
    "%load_ext jupyter_segments\n"
    "ws = js.connect_demo(2000, seed=7, catalog=tempfile.mkdtemp() + '/catalog.sqlite')\n"
    "ws.segment('vip', 'sum(orders.amount) >= 500', display_name='VIP customers')\n"
    "ws.refresh(['vip'])\n"
    "%segment connect ws"
)
SHOWCASE = (
    "%%segment big_spenders --as-of 2025-06-30\n"
    "-- customers who spent a lot and never escalated\n"
    "sum(orders.amount where order_date in last 1 year) >= 1000\n"
    "and country in {countries} and signup_date >= DATE '2024-01-01'\n"
    "and regions.name = 'North' and not newsletter and age between 30 and 40.5\n"
    "and none(support_calls where escalated = true) and not in segment vip\n"
    "PROJECT count(orders) AS n_orders"
)
COUNTER = "from jupyter_segments import editor\nprint(json.dumps(dict(editor.REQUESTS)))"

# Token text expected under each class (a subset: every kind of token at least once).
EXPECTED = {
    "magic": {"%%segment", "--as-of"},
    "segment": {"big_spenders", "vip"},
    "comment": {"-- customers who spent a lot and never escalated"},
    "function": {"sum", "none", "count"},
    "relationship": {"orders", "regions", "support_calls"},
    "attribute": {"amount", "order_date", "country", "signup_date", "name", "newsletter", "age", "escalated"},
    "keyword": {"where", "in", "last", "year", "and", "DATE", "not", "between", "segment", "PROJECT", "AS"},
    "operator": {">=", "="},
    "number": {"1", "1000", "30", "40.5"},
    "string": {"'North'"},
    "date": {"'2024-01-01'"},
    "atom": {"true"},
    "variable": {"{countries}"},
    "alias": {"n_orders"},
}
# The JupyterLab colour variable each kind is painted with.
COLOUR_VARS = {
    "keyword": "--jp-mirror-editor-keyword-color",
    "function": "--jp-mirror-editor-builtin-color",
    "string": "--jp-mirror-editor-string-color",
    "date": "--jp-mirror-editor-string-2-color",
    "number": "--jp-mirror-editor-number-color",
    "comment": "--jp-mirror-editor-comment-color",
    "attribute": "--jp-mirror-editor-property-color",
    "relationship": "--jp-mirror-editor-tag-color",
    "variable": "--jp-mirror-editor-variable-2-color",
    "operator": "--jp-mirror-editor-operator-color",
}

TOKENS_JS = """cell => {
    const out = {};
    for (const span of cell.querySelectorAll('.cm-content [class*="jseg-tok-"]')) {
        for (const c of span.classList) {
            if (c.startsWith('jseg-tok-')) {
                (out[c.slice(9)] = out[c.slice(9)] || []).push(span.textContent);
            }
        }
    }
    return out;
}"""
COLOURS_JS = """([cell, vars]) => {
    const probe = document.createElement('span');
    cell.appendChild(probe);
    const out = {};
    for (const [kind, v] of Object.entries(vars)) {
        const span = cell.querySelector('.cm-content .jseg-tok-' + kind);
        probe.style.color = 'var(' + v + ')';
        out[kind] = [getComputedStyle(span).color, getComputedStyle(probe).color];
    }
    probe.remove();
    return out;
}"""


@pytest.fixture(scope="module")
def lab_with_extension(tmp_path_factory):
    skip_without_browser()
    work = tmp_path_factory.mktemp("lab_editor")
    write_notebook(work / "segment_cells.ipynb", [SETUP, SHOWCASE, "", "import json"])
    (work / "vip.segment").write_text("-- big spenders\nsum(orders.amount) >= 500 and country = 'DE'\n")
    # Where `pip install .` puts the extension (share/jupyter/labextensions/jupyter-segments).
    data = work / "jupyter_path"
    (data / "labextensions").mkdir(parents=True)
    (data / "labextensions" / "jupyter-segments").symlink_to(BUILT, target_is_directory=True)
    with start_lab(work, {"JUPYTER_PATH": str(data)}) as (base, token):
        yield base, token, work


def _run_cell(page, cell) -> None:
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


def _wait_executed(page, cell, timeout=120_000) -> None:
    cell.locator(".jp-InputArea-prompt").filter(has_text="[").wait_for(timeout=timeout)
    page.wait_for_function(
        "cell => /\\[\\d+\\]/.test(cell.querySelector('.jp-InputArea-prompt').textContent)",
        arg=cell.element_handle(),
        timeout=timeout,
    )


def _check_colours(page, cell, theme: str) -> None:
    colours = page.evaluate(COLOURS_JS, [cell.element_handle(), COLOUR_VARS])
    for kind, (painted, wanted) in colours.items():
        assert painted == wanted, (
            f"{theme}: {kind} is {painted}, JupyterLab's {COLOUR_VARS[kind]} is {wanted}"
        )


def test_segment_cells_in_jupyterlab(lab_with_extension):
    base, token, work = lab_with_extension
    errors: list[str] = []
    with browser_page({"width": 1300, "height": 1400}, "segment_failure.png") as page:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_notebook(page, base, token, "segment_cells.ipynb")
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        cells.nth(3).wait_for(timeout=60_000)
        setup, showcase, scratch, counter = (cells.nth(i) for i in range(4))

        # Highlighting needs no kernel: every kind of token has its class.
        showcase.locator(".jseg-tok-alias").wait_for(timeout=30_000)
        tokens = page.evaluate(TOKENS_JS, showcase.element_handle())
        for kind, texts in EXPECTED.items():
            missing = texts - set(tokens.get(kind, []))
            assert not missing, f"{kind}: {missing} not highlighted as {kind} (got {tokens.get(kind)})"
        assert page.evaluate(TOKENS_JS, setup.element_handle()) == {}  # Python stays Python
        _check_colours(page, showcase, "light")
        showcase.screenshot(path=str(ARTIFACTS / "segment_cell_light.png"))

        # Before the kernel knows the extension: highlighting only, no error.
        _run_cell(page, setup)
        _wait_executed(page, setup)
        assert "Error" not in setup.inner_text()

        # Typing an unknown attribute: an underline under it, the message on hover.
        scratch.locator(".cm-content").click()
        page.keyboard.type("%%segment\n", delay=30)
        page.keyboard.type("age >= 30 and contry = 'DE'", delay=60)
        underline = scratch.locator(".cm-lintRange-error")
        underline.wait_for(timeout=30_000)
        assert underline.inner_text() == "contry"
        underline.hover()
        tooltip = page.locator(".cm-tooltip-lint")
        tooltip.wait_for(timeout=10_000)
        assert "did you mean 'country'" in tooltip.inner_text()
        time.sleep(0.3)
        page.screenshot(path=str(ARTIFACTS / "segment_error_tooltip.png"), clip=_clip(scratch, tooltip))

        # Fixing it removes the underline.
        page.keyboard.press("End")
        for _ in range(len("contry = 'DE'")):
            page.keyboard.press("Backspace")
        page.keyboard.type("country = 'DE'", delay=60)
        page.wait_for_function(
            "cell => !cell.querySelector('.cm-lintRange-error')",
            arg=scratch.element_handle(),
            timeout=30_000,
        )

        # Hover: an attribute with its table, type and common values; a relationship with its join.
        page.mouse.move(0, 0)
        showcase.locator(".jseg-tok-attribute", has_text="country").first.hover()
        card = page.locator(".jseg-hover")
        card.wait_for(timeout=20_000)
        text = card.inner_text()
        assert "customers.country" in text and "string" in text and "most common" in text, text
        time.sleep(0.3)
        page.screenshot(path=str(ARTIFACTS / "segment_hover.png"), clip=_clip(showcase, card))
        page.mouse.move(0, 0)
        card.wait_for(state="detached", timeout=10_000)
        showcase.locator(".jseg-tok-relationship", has_text="support_calls").first.hover()
        card.wait_for(timeout=20_000)
        assert "join: support_calls.cust_id = customers.customer_id" in card.inner_text()
        page.mouse.move(0, 0)

        # Completion stays the kernel's, inside the cell too (function names included).
        scratch.locator(".cm-content").click()
        page.keyboard.press("Control+End")
        page.keyboard.type(" and cou", delay=30)
        page.keyboard.press("Tab")
        completer = page.locator(".jp-Completer")
        completer.wait_for(timeout=20_000)
        items = set(completer.locator(".jp-Completer-match").all_inner_texts())
        assert {"count", "country"} <= items, items
        page.keyboard.press("Escape")

        # The checks were debounced: a few requests for ~40 keystrokes.
        counter.locator(".cm-content").click()
        page.keyboard.press("Control+End")
        page.keyboard.type("\n" + COUNTER)
        _run_cell(page, counter)
        output = counter.locator(".jp-OutputArea-output")
        output.wait_for(timeout=30_000)
        requests = json.loads(output.inner_text().strip())
        print("requests answered by the kernel:", requests)
        assert 1 <= requests.get("check", 0) <= 12, requests

        # Dark theme: the same classes, JupyterLab's dark colours.
        switch_theme(page, "JupyterLab Dark")
        _check_colours(page, showcase, "dark")
        showcase.scroll_into_view_if_needed()
        showcase.screenshot(path=str(ARTIFACTS / "segment_cell_dark.png"))
        showcase.locator(".jseg-tok-relationship", has_text="orders").first.hover()
        card.wait_for(timeout=20_000)
        assert "join: orders.customer_id = customers.customer_id" in card.inner_text()
        time.sleep(0.3)
        page.screenshot(path=str(ARTIFACTS / "segment_hover_dark.png"), clip=_clip(showcase, card))
        page.mouse.move(0, 0)

        # A .segment file opens in the editor with the same highlighting.
        page.goto(f"{base}/lab/tree/vip.segment?token={token}")
        editor = page.locator(".jp-FileEditor .cm-content")
        editor.locator(".jseg-tok-function").first.wait_for(timeout=60_000)
        tokens = page.evaluate(TOKENS_JS, page.locator(".jp-FileEditor").element_handle())
        assert {"sum"} <= set(tokens["function"]) and {"orders"} <= set(tokens["relationship"]), tokens
        assert {"amount", "country"} <= set(tokens["attribute"]), tokens
    ours = [e for e in errors if "segment" in e.lower() or "codemirror" in e.lower()]
    assert not ours, ours


def _clip(cell, popup) -> dict:
    """A screenshot box around a cell and its tooltip."""
    a, b = cell.bounding_box(), popup.bounding_box()
    x0, y0 = min(a["x"], b["x"]) - 4, min(a["y"], b["y"]) - 4
    x1, y1 = (
        max(a["x"] + a["width"], b["x"] + b["width"]) + 4,
        max(a["y"] + a["height"], b["y"] + b["height"]) + 4,
    )
    return {"x": max(0, x0), "y": max(0, y0), "width": x1 - max(0, x0), "height": y1 - max(0, y0)}
