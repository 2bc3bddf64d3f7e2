"""Every widget and intelligence result reads as plain text where no widget can render (issue 17, bugs 12
and 13): a terminal IPython (``ipython -c`` in a subprocess, as a user types it) and plain Python."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

SETUP = """
import tempfile, jupyter_segments as js
ws = js.connect_demo(1500, seed=7, catalog=tempfile.mkdtemp() + "/c.sqlite")
ws.segment("vip", "sum(orders.amount) >= 500", display_name="VIP")
ws.segment("young", "age < 30")
ws.refresh()
"""


def run(args: list[str], code: str) -> str:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    done = subprocess.run(
        [*args, textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def assert_readable(out: str) -> None:
    for junk in ("VBox(", "HTML(value=", "<style", "<div", "Output(", "\x1b]", "$schema", "Empty Lookalikes"):
        assert junk not in out, f"{junk!r} in the output:\n{out[:2000]}"
    assert not re.search(r"\d\.\d{12,}", out), f"a float printed to full precision:\n{out[:2000]}"


@pytest.mark.slow
def test_widgets_and_results_in_a_terminal_ipython():
    out = run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--quick", "-c"],
        SETUP
        + """
ip = get_ipython()
ip.run_line_magic("load_ext", "jupyter_segments")
ip.run_line_magic("segment", "connect ws")
print("=== builder"); ip.run_line_magic("segment", "builder vip")
print("=== manager"); ip.run_line_magic("segment", "manager")
print("=== view"); ip.run_line_magic("segment", "view vip")
print("=== quick"); ip.run_line_magic("segment", "quick")
print("=== compare"); display(ws.compare("vip", "young"))
print("=== chart"); display(ws.compare("vip", "young").chart())
print("=== similar"); display(ws.similar("vip"))
print("=== suggest"); display(ws.suggest("sum(orders.amount)", using=["country", "age"]))
print("=== end")
""",
    )
    assert_readable(out)
    parts = dict(re.findall(r"=== (\w+)\n(.*?)(?==== )", out, re.S))
    assert (
        parts["builder"].startswith("Segment builder: ") and "sum(orders.amount) >= 500" in parts["builder"]
    )
    assert parts["manager"].startswith("Segments page: 2 segments")
    assert re.search(
        r"vip\s+dynamic\s+active\s+[\d,]+\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+Successful", parts["manager"]
    )
    assert (
        parts["view"].startswith("Segment view: VIP (vip)") and "sum(orders.amount) >= 500" in parts["view"]
    )
    assert "Member count over time:" in parts["view"]
    assert parts["quick"].startswith("Quick segment")
    assert parts["compare"].startswith("Compare vip")
    assert parts["chart"].startswith("<chart: top differences, vip vs young")
    assert parts["similar"].startswith("Similar to vip")
    assert parts["suggest"].startswith("Suggested segments for sum(orders.amount)")


@pytest.mark.slow
def test_a_view_outside_a_notebook_prints_nothing():
    """Bug 13: constructing SegmentView in plain Python printed the whole Vega spec."""
    out = run(
        [sys.executable, "-c"],
        SETUP
        + """
from jupyter_segments.ui import SegmentManager, SegmentView, QuickSegment
v = SegmentView(ws, "vip"); v.range.value = "30 days"; v.range.value = "All"
m = SegmentManager(ws); m.select("vip"); m.view_button.click()
q = QuickSegment(ws); q.wait()
print("=== repr"); print(repr(v))
""",
    )
    before, after = out.split("=== repr\n")
    assert before == ""
    assert after.startswith("Segment view: VIP (vip)") and "$schema" not in after
