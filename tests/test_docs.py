"""The README and docs/*.md as a new user reads them: every code block runs as written, and the site builds.

Fenced blocks by language:

- ``python``: run in order, one namespace per file, in a folder where the README's first Quickstart
  command has run (``jupyter-segments demo``, here with 10,000 customers, leaving ``demo.duckdb``);
- ``ipython``: notebook cells (magics), run in order in one IPython shell per file, same folder;
- ``segment``: a definition, evaluated on ``js.connect_demo(10_000)``: it must select somebody;
- ``bash``: shown, not run, unless marked ``<!-- docs-test: run -->`` (then run in that folder);
- ``text`` and ``crontab``: output, grammar or configuration, not run.

A marker on the line before a block changes that: ``<!-- docs-test: skip (why) -->``,
``<!-- docs-test: postgres -->`` / ``mysql`` (run against JS_TEST_POSTGRES_URL / JS_TEST_MYSQL_URL loaded
with the demo tables, the URL in the block replaced by that server's: skipped without the server, failing
under JS_REQUIRE_ALL_BACKENDS=1 as everywhere in the suite). An unlabelled fence fails the test: every
block is either run or says why not.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import require_module

import jupyter_segments as js
from jupyter_segments.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"python", "ipython", "segment", "bash", "text", "crontab", "ini"}
DEMO_CUSTOMERS = 10_000
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(\w+)(.*?)-->\s*$")
_SERVER_URL = {
    "postgres": re.compile(r"postgresql://[^\"']+"),
    "mysql": re.compile(r"mysql\+pymysql://[^\"']+"),
}


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    code: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m[1]
        marker = None
        if start > 0 and (mk := _MARKER.match(lines[start - 1])):
            marker = mk[1]
        i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        found.append(Block(path, start + 1, lang, "\n".join(body) + "\n", marker))
        i += 1
    return found


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def test_every_block_says_what_it_is():
    bad = [f"{b.where}: ```{b.lang}" for p in DOC_FILES for b in blocks(p) if b.lang not in LANGUAGES]
    assert not bad, "label each fence with one of " + ", ".join(sorted(LANGUAGES)) + ":\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """A folder after the README's first command: ``jupyter-segments demo`` has left demo.duckdb."""
    d = tmp_path_factory.mktemp("after_quickstart")
    cwd = os.getcwd()
    os.chdir(d)
    try:
        assert cli_main(["demo", "--customers", str(DEMO_CUSTOMERS)]) == 0
    finally:
        os.chdir(cwd)
    assert (d / "demo.duckdb").exists()
    return d


@pytest.fixture(scope="module")
def demo_ws():
    ws = js.connect_demo(DEMO_CUSTOMERS)
    yield ws
    ws.close()


def _server(name: str, request) -> str:
    """The URL of the suite's server database ``name``, loaded with the demo tables (or skip/fail)."""
    backends = request.getfixturevalue("_backends")
    backends.get(name, request.getfixturevalue("demo_conn"))
    return backends.server_urls[name]


@pytest.mark.parametrize("path", DOC_FILES, ids=_ids(DOC_FILES))
def test_code_blocks_run_as_written(path, demo_dir, tmp_path, monkeypatch, request, capsys):
    runnable = [b for b in blocks(path) if b.lang in ("python", "ipython") or b.marker == "run"]
    # Blocks for a server are self-contained and run last: without the server the rest still runs.
    runnable.sort(key=lambda b: b.marker in _SERVER_URL)
    if not runnable:
        pytest.skip("no runnable blocks")
    work = tmp_path / "work"
    shutil.copytree(demo_dir, work)
    monkeypatch.chdir(work)
    namespace: dict = {"__name__": "__docs__"}
    shell = None
    opened: list = []
    try:
        for b in runnable:
            if b.marker == "skip":
                continue
            code = b.code
            if b.marker in _SERVER_URL:
                url = _server(b.marker, request)
                code = _SERVER_URL[b.marker].sub(url, code)
            if b.lang == "bash":
                env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
                proc = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", code], capture_output=True, text=True, env=env
                )
                assert proc.returncode == 0, f"{b.where} failed:\n{proc.stdout}\n{proc.stderr}"
                assert "Traceback" not in proc.stderr, f"{b.where}:\n{proc.stderr}"
            elif b.lang == "python":
                exec(compile(code, b.where, "exec"), namespace)
                opened += [v for v in namespace.values() if isinstance(v, js.Workspace) and v not in opened]
            else:
                shell = shell or _ipython()
                result = shell.run_cell(code, store_history=False)
                if result.error_before_exec or result.error_in_exec:
                    raise AssertionError(
                        f"{b.where} failed: {result.error_before_exec or result.error_in_exec!r}"
                    )
    finally:
        for ws in opened:
            ws.close()
        if shell is not None:
            magics = shell.magics_manager.registry.get("SegmentMagic")
            if magics is not None and getattr(magics, "ws", None) is not None:
                magics.ws.close()
            shell.run_line_magic("unload_ext", "jupyter_segments")


def _ipython():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def _cli_commands(block: Block) -> list[str]:
    """The ``jupyter-segments ...`` arguments of each crontab line or systemd ExecStart in ``block``."""
    found = []
    for line in block.code.splitlines():
        if "jupyter-segments " in line and not line.lstrip().startswith("#"):
            args = line.split("jupyter-segments ", 1)[1].split(">>")[0].strip()
            found.append(args)
    return found


SCHEDULE_BLOCKS = [b for p in DOC_FILES for b in blocks(p) if b.lang in ("crontab", "ini")]


@pytest.mark.parametrize("block", SCHEDULE_BLOCKS, ids=[b.where for b in SCHEDULE_BLOCKS])
def test_schedules_are_valid_and_their_command_runs(block, demo_dir, tmp_path, monkeypatch):
    """Each crontab line's schedule is a valid cron expression, and its command (the one a systemd unit
    runs too) succeeds in the folder the page's other blocks prepared (a catalog with saved segments)."""
    from croniter import croniter

    if block.lang == "crontab":
        for line in block.code.splitlines():
            if line.strip() and not line.startswith("#"):
                assert croniter.is_valid(" ".join(line.split()[:5])), line
    commands = _cli_commands(block)
    assert commands, f"{block.where}: no jupyter-segments command"
    work = tmp_path / "work"
    shutil.copytree(demo_dir, work)
    monkeypatch.chdir(work)
    ws = js.connect("duckdb:///demo.duckdb", catalog="segments/catalog.sqlite")
    ws.customers("customers", key="customer_id")
    ws.segment("vip", "sum(orders.amount) >= 2000")
    ws.close()
    for args in commands:
        assert cli_main(args.split()) == 0, f"{block.where}: jupyter-segments {args}"


SEGMENT_BLOCKS = [b for p in DOC_FILES for b in blocks(p) if b.lang == "segment" and b.marker != "skip"]


@pytest.mark.parametrize("block", SEGMENT_BLOCKS, ids=[b.where for b in SEGMENT_BLOCKS])
def test_segment_blocks_select_somebody_on_the_demo(block, demo_ws):
    assert demo_ws.count(block.code) > 0, f"{block.where} selects nobody on the demo"


def _readme_language_examples() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## The language", 1)[1].split("\n## ", 1)[0]
    examples = []
    for row in table.splitlines()[3:]:
        cells = row.split("|")
        if len(cells) < 3:
            continue
        examples += re.findall(r"`([^`]+)`", cells[2])
    return examples


def test_readme_language_examples_select_somebody_on_the_demo(demo_ws):
    examples = _readme_language_examples()
    assert len(examples) >= 20
    # Fragments (`... PROJECT`) only parse; the Python values and the segment referred to are given here.
    demo_ws.segment("churned", "churn_score > 0.7")
    params = {"countries": ["DE", "FR"], "min_spend": 500}
    empty = [e for e in examples if "..." not in e and demo_ws.count(e, params=params) == 0]
    assert not empty, f"README examples that select nobody on the demo: {empty}"


def test_magics_reference_is_generated_from_the_help_table():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import hooks
    finally:
        sys.path.remove(str(ROOT / "docs"))
    page = (ROOT / "docs" / "magics.md").read_text(encoding="utf-8")
    assert hooks.command_table() in page, "docs/magics.md is stale: run python docs/hooks.py"


def test_documentation_site_builds_without_warnings(tmp_path):
    require_module("mkdocs")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ("index.html", "dsl/index.html", "magics/index.html", "api/index.html"):
        assert (tmp_path / "site" / page).exists(), page
    assert "%segment refresh" in (tmp_path / "site" / "magics/index.html").read_text()
