"""Issue 21: the pytest plugin (``segments_workspace``, ``assert_segment``), run with pytester on the demo
data; the expected counts and members come from pandas on the same demo tables, not from the plugin."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import DEMO_ANCHOR, DEMO_SEED, DEMO_SIZE

from jupyter_segments import pytest_plugin

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
DEMO = f"demo?customers={DEMO_SIZE}&seed={DEMO_SEED}&anchor={DEMO_ANCHOR.isoformat()}"


@pytest.fixture
def spend(demo_frames) -> pd.Series:
    """Total order amount per customer (customers without orders: none), by pandas."""
    return demo_frames["orders"].groupby("customer_id")["amount"].sum()


@pytest.fixture
def project(pytester, monkeypatch):
    """A user's project: pytest.ini pointing at the demo, a segments/ folder, the plugin loaded by name
    (autoload off, so an installed entry point does not register it twice)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeini(
        f"""
        [pytest]
        segments_db = {DEMO}
        segments_dir = segments
        """
    )
    seg = pytester.mkdir("segments")
    (seg / "vip.segment").write_text("-- name: vip\n-- tags: value\nsum(orders.amount) >= 1000\n")
    (seg / "recent.segment").write_text("any(orders where order_date in last 90 days)\n")
    return pytester


def run(pytester, code: str):
    pytester.makepyfile(test_user=textwrap.dedent(code))
    return pytester.runpytest("-p", "jupyter_segments.pytest_plugin", "-p", "no:cacheprovider")


def test_expectations_that_hold_pass(project, spend, demo_frames):
    vip = spend[spend >= 1000]
    member = int(vip.index[0])
    outsider = int(spend[spend < 1000].index[0])
    orders = demo_frames["orders"]
    as_of = pd.Timestamp("2025-03-31")
    recent = orders[
        (orders.order_date > as_of - pd.Timedelta(days=90))
        & (orders.order_date <= as_of + pd.Timedelta(days=1))
    ]
    result = run(
        project,
        f"""
        def test_vip(assert_segment):
            assert_segment("vip", count={len(vip)}, count_between=({len(vip) - 5}, {len(vip) + 5}),
                           includes=[{member}], excludes=[{outsider}])

        def test_a_definition_as_of_a_date(assert_segment, segments_workspace):
            assert segments_workspace.model.customer == "customers"
            assert_segment("recent", as_of="2025-03-31", includes={sorted(recent.customer_id.unique()[:3].tolist())})

        def test_the_sync_put_the_files_in_the_catalog(segments_workspace):
            assert sorted(segments_workspace.segments()["name"]) == ["recent", "vip"]
        """,
    )
    result.assert_outcomes(passed=3)


def test_failures_say_what_was_expected_found_and_why(project, spend):
    vip = spend[spend >= 1000]
    member = int(vip.index[0])
    outsider = int(spend[spend < 1000].index[0])
    result = run(
        project,
        f"""
        def test_count(assert_segment):
            assert_segment("vip", count_between=(1, 10))

        def test_sides(assert_segment):
            assert_segment("vip", includes=[{outsider}], excludes=[{member}])

        def test_a_text(assert_segment):
            assert_segment("country = 'DE' and age > 200", count_between=(1, 5))
        """,
    )
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert (
        f"segment 'vip':\nE         has {len(vip):,} members, expected between 1 and 10 ({len(vip) - 10:,} more)"
        in out
    )
    assert f"customer {outsider} is not a member (expected in)" in out
    assert f"customer {member} is a member (expected out)" in out
    # Why: the condition evaluated for that customer, with the value it compared (pandas' sum).
    assert f"FALSE  sum(orders.amount) >= 1000    [sum(orders.amount) = {spend[outsider]:.2f}]" in out
    assert (
        "definition \"country = 'DE' and age > 200\":\nE         has 0 members, expected between 1 and 5 (1 fewer)"
        in out
    )


def test_bad_settings_fail_with_a_message(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeini("[pytest]\nsegments_db = demo?size=10\n")
    result = run(
        pytester, "def test_x(assert_segment):\n    assert_segment('age > 1', count_between=(0, 9))\n"
    )
    result.assert_outcomes(errors=1)
    assert "unknown demo setting 'size'" in result.stdout.str()

    pytester.makeini(f"[pytest]\nsegments_db = {DEMO}\nsegments_dir = segments\n")
    pytester.mkdir("segments")
    (pytester.path / "segments" / "bad.segment").write_text("sum(orders.amout) > 1\n")
    result = run(
        pytester, "def test_x(assert_segment):\n    assert_segment('age > 1', count_between=(0, 9))\n"
    )
    result.assert_outcomes(errors=1)
    assert "do not sync" in result.stdout.str() and "did you mean 'amount'" in result.stdout.str()


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib is 3.11+; the package supports 3.10)
    assert '[project.entry-points.pytest11]\njupyter_segments = "jupyter_segments.pytest_plugin"\n' in text
    assert callable(pytest_plugin.pytest_addoption)
    assert {"segments_workspace", "assert_segment"} <= set(vars(pytest_plugin))
