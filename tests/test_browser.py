"""A real browser: JupyterLab on 127.0.0.1 with a token, driven by Playwright in headless Debian Chromium.

It opens a notebook that displays the builder, the quick segment, the segments page and a segment view on
the demo data, runs it, adds a condition in the builder, waits for the count to change, and saves a
screenshot of each widget under tests/artifacts/ (ignored by git) for a human to look at.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module, require_program

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip

CELLS = [
    "import tempfile\n"
    "import jupyter_segments as js\n"
    "from jupyter_segments.ui import QuickSegment, SegmentBuilder, SegmentManager, SegmentView\n"
    "ws = js.connect_demo(2000, seed=7, catalog=tempfile.mkdtemp() + '/catalog.sqlite')\n"
    "ws.segment('vip', 'sum(orders.amount) >= 500', display_name='VIP customers', description='spent 500+')\n"
    "ws.segment('young', 'age < 30')\n"
    "ws.segment('wip', 'sum(orders.amont) > 1', draft=True)\n"
    "ws.refresh(); ws.refresh(['vip']); ws.refresh(['vip'])",
    "builder = SegmentBuilder(ws, text='age >= 30')\nbuilder",
    "QuickSegment(ws)",
    "SegmentManager(ws)",
    "SegmentView(ws, 'vip')",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, sources: list[str] = CELLS) -> None:
    """A notebook of code cells, not run yet."""
    cells = [
        {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
        for src in sources
    ]
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


def _settings(config: Path) -> None:
    """Lab settings for a quiet, deterministic page: every cell rendered, no news pop-up."""
    user = config / "lab" / "user-settings" / "@jupyterlab"
    (user / "notebook-extension").mkdir(parents=True)
    (user / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    (user / "apputils-extension").mkdir(parents=True)
    (user / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def skip_without_browser() -> None:
    """Skip without Chromium or Playwright; fail instead under JS_REQUIRE_ALL_BACKENDS=1 (CI)."""
    require_program(CHROMIUM, "install Debian's chromium package to run the browser test")
    require_module("playwright.sync_api")


@contextlib.contextmanager
def start_lab(work: Path, env_extra: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``work`` on a free port with a token, quiet settings; yields (base URL, token)."""
    _settings(work / "config")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["JUPYTER_CONFIG_DIR"] = str(work / "config")  # no user settings, no saved workspace
    env["JUPYTER_RUNTIME_DIR"] = str(work / "runtime")
    env.update(env_extra or {})
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
        f"--LabApp.workspaces_dir={work / 'workspaces'}", "--LabApp.news_url=", "--ServerApp.port_retries=0",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    log = open(work / "lab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + (work / "lab.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def switch_theme(page, name: str) -> None:
    """Settings > Theme > ``name`` (e.g. "JupyterLab Dark"), then wait until JupyterLab applied it."""
    page.get_by_role("menuitem", name="Settings", exact=True).click()
    page.get_by_text("Theme", exact=True).hover()
    page.get_by_text(name, exact=True).click()
    page.wait_for_function(f"() => document.body.dataset.jpThemeName === {name!r}", timeout=20_000)
    time.sleep(0.8)  # the theme's stylesheet applied


@contextlib.contextmanager
def screenshot_on_failure(page, path: Path) -> Iterator[None]:
    """Evidence for whoever reads a failure: the page as it was; never hides the original error."""
    try:
        yield
    except Exception:
        try:
            page.screenshot(path=str(path), timeout=10_000)
        except Exception:  # noqa: BLE001
            pass
        raise


@contextlib.contextmanager
def browser_page(viewport: dict[str, int], failure: str) -> Iterator[Any]:
    """A page of headless Chromium ``viewport`` in size; on an error a screenshot of it as
    ``ARTIFACTS/failure``; the browser closed at the end."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            with screenshot_on_failure(page, ARTIFACTS / failure):
                yield page
        finally:
            browser.close()


def open_notebook(page, base: str, token: str, name: str) -> None:
    """Open the notebook ``name`` of the lab's folder and wait for its cells."""
    page.goto(f"{base}/lab/tree/{name}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)


def run_all(page) -> None:
    """Once the kernel is up, Run > Run All Cells; again if the click came too early (no cell started)."""
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    for _attempt in range(4):
        time.sleep(2)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputPrompt')].some(p => /\\[(\\*|\\d+)\\]/.test(p.innerText))",
                timeout=20_000,
            )
            return
        except Exception:  # noqa: BLE001 - not started: try again
            continue
    raise AssertionError("the notebook's cells never started running")


def wait_cells_run(page, cells: int, timeout: int = 240_000) -> None:
    """Wait until ``cells`` cells show an execution count: every cell has run."""
    page.wait_for_function(
        f"() => [...document.querySelectorAll('.jp-InputPrompt')].filter(p => /\\[\\d+\\]/.test(p.innerText)).length === {cells}",
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    skip_without_browser()
    work = tmp_path_factory.mktemp("lab")
    write_notebook(work / "widgets_test.ipynb")
    with start_lab(work) as (base, token):
        yield base, token, work


# (selector, CSS property, the JupyterLab variable ui/theme.py gives it)
THEMED = [
    (".jseg-root", "color", "--jp-ui-font-color1"),
    (".jseg-root", "background-color", "--jp-layout-color1"),
    (".jseg-count b", "color", "--jp-brand-color1"),
    (".jseg-code pre, pre.jseg-code", "background-color", "--jp-layout-color2"),
    (".jseg-table th", "background-color", "--jp-layout-color2"),
    (".jseg-table th", "color", "--jp-ui-font-color1"),
]

# Each element's computed value, and the theme variable's value resolved the same way (a probe element
# styled with var(...)), both as the browser's rgb() strings.
THEMED_JS = """checks => checks.map(([sel, prop, name]) => {
    const el = document.querySelector(sel);
    if (!el) return [sel, prop, null, null];
    const probe = document.createElement('div');
    probe.style.setProperty(prop, `var(${name})`);
    el.parentElement.appendChild(probe);
    const want = getComputedStyle(probe).getPropertyValue(prop);
    probe.remove();
    return [sel, prop, getComputedStyle(el).getPropertyValue(prop), want];
})"""


def _luminance(rgb: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _themed(page) -> dict[tuple[str, str], str]:
    """Computed colours of the widgets; each must be its JupyterLab variable's value in the current theme."""
    out = {}
    for sel, prop, got, want in page.evaluate(THEMED_JS, THEMED):
        assert got is not None, f"no {sel} on the page"
        assert got == want, f"{sel} {prop} is {got}, the theme's variable is {want}"
        out[(sel, prop)] = got
    return out


def test_widgets_in_jupyterlab(lab):
    base, token, _work = lab
    with browser_page({"width": 1400, "height": 2200}, "failure.png") as page:
        open_notebook(page, base, token, "widgets_test.ipynb")
        run_all(page)
        roots = page.locator(".jseg-root")
        roots.nth(3).wait_for(timeout=120_000)  # builder, quick, manager, view
        assert roots.count() == 4

        builder = roots.nth(0)
        count = builder.locator(".jseg-count b")
        count.wait_for(timeout=30_000)
        page.wait_for_function(
            "() => !document.querySelector('.jseg-root').innerText.includes('counting')", timeout=30_000
        )
        page.wait_for_function(
            "() => /^[0-9,]+$/.test(document.querySelector('.jseg-root .jseg-count b').innerText)",
            timeout=30_000,
        )
        before = count.inner_text()
        assert re.fullmatch(r"[\d,]+", before), before
        # Add a condition: country is DE.
        builder.get_by_role("button", name="Condition").first.click()
        rows = builder.locator(".jseg-row")
        rows.nth(1).wait_for()
        picker = rows.nth(1).locator(".jseg-f-attribute input")  # the searchable attribute picker
        picker.fill("customers › country")
        picker.press("Enter")
        rows.nth(1).locator(".jseg-f-value input").wait_for()
        rows.nth(1).locator(".jseg-f-value input").fill("DE")
        page.wait_for_function(
            """before => {
                const root = document.querySelector('.jseg-root');
                const b = root.querySelector('.jseg-count b');
                return b && /^[0-9,]+$/.test(b.innerText) && b.innerText !== before
                    && root.innerText.includes("country = 'DE'") && !root.innerText.includes('counting');
            }""",
            arg=before,
            timeout=30_000,
        )
        after = count.inner_text()
        assert re.fullmatch(r"[\d,]+", after), after
        assert int(after.replace(",", "")) < int(before.replace(",", ""))
        assert "age >= 30 AND country = 'DE'" in builder.inner_text()

        # The segment view's chart: an inline SVG (ui/charts.py).
        view = roots.nth(3)
        view.scroll_into_view_if_needed()
        view.locator(".jseg-chart svg").first.wait_for(timeout=30_000)
        assert "A preview" in view.inner_text()
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()

        for i, name in enumerate(["builder", "quick", "manager", "view"]):
            roots.nth(i).scroll_into_view_if_needed()
            roots.nth(i).screenshot(path=str(ARTIFACTS / f"{name}.png"))
        light = _themed(page)
        # Dark theme: the same widgets with JupyterLab's dark theme variables.
        switch_theme(page, "JupyterLab Dark")
        # The theme's stylesheet is in once the root's background follows the dark variable.
        page.wait_for_function(
            """light => getComputedStyle(document.querySelector('.jseg-root')).backgroundColor !== light""",
            arg=light[(".jseg-root", "background-color")],
            timeout=20_000,
        )
        dark = _themed(page)  # every colour is the dark theme's variable...
        for key in THEMED:  # ...and differs from the light one
            assert dark[key[:2]] != light[key[:2]], (key, light[key[:2]])
        bg, fg = (".jseg-root", "background-color"), (".jseg-root", "color")
        assert _luminance(dark[bg]) < _luminance(light[bg]) and _luminance(dark[fg]) > _luminance(light[fg])
        assert _luminance(dark[fg]) - _luminance(dark[bg]) > 100  # light text on a dark background
        roots.nth(0).scroll_into_view_if_needed()
        roots.nth(0).screenshot(path=str(ARTIFACTS / "builder_dark.png"))
        roots.nth(2).scroll_into_view_if_needed()
        roots.nth(2).screenshot(path=str(ARTIFACTS / "manager_dark.png"))
    assert all(
        (ARTIFACTS / f"{n}.png").stat().st_size > 5_000 for n in ("builder", "quick", "manager", "view")
    )
    shutil.rmtree(ARTIFACTS / "tmp", ignore_errors=True)
