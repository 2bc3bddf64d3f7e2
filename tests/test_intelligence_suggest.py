"""suggest(): rediscovers planted rules; sizes and averages are the database's, checked against pandas."""

from __future__ import annotations

import math
import operator
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import require_module

from jupyter_segments.errors import SegmentError
from jupyter_segments.workspace import Workspace, connect

require_module("sklearn", module_level=True)  # skip, or fail when CI needs all


_OPS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def rule_mask(rule: str, frame: pd.DataFrame) -> pd.Series:
    """Evaluate one suggested rule in pandas, independently of the compiler: the forms the tree's rules
    take (``x``, ``NOT x``, ``x op literal``, ``... OR x IS NULL``, ``a AND b``); ``frame`` has a column per
    feature expression. NULL compares as false, as in SQL."""
    rule = rule.strip()
    if rule.startswith("(") and rule.endswith(")"):
        rule = rule[1:-1]
    if " OR " in rule:
        parts = rule.split(" OR ")
        out = rule_mask(parts[0], frame)
        for part in parts[1:]:
            out = out | rule_mask(part, frame)
        return out
    if " AND " in rule:
        parts = rule.split(" AND ")
        out = rule_mask(parts[0], frame)
        for part in parts[1:]:
            out = out & rule_mask(part, frame)
        return out
    if m := re.fullmatch(r"(\S+) IS NULL", rule):
        return frame[m[1]].isna()
    if m := re.fullmatch(r"NOT (\S+)", rule):
        return frame[m[1]].notna() & ~frame[m[1]].fillna(False).astype(bool)
    if m := re.fullmatch(r"(\S+) (=|!=|<=|>=|<|>) (.+)", rule):
        col, op, lit = m[1], m[2], m[3]
        value: object = lit[1:-1] if lit.startswith("'") else float(lit)
        s = frame[col]
        return s.notna() & _OPS[op](s, value)
    return frame[rule].fillna(False).astype(bool)


@pytest.fixture(scope="module")
def demo_ws(demo_conn) -> Workspace:
    ws = connect(demo_conn)
    ws.customers("customers", key="customer_id")
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    return ws


def test_rediscovers_north_newsletter_spend(demo_ws, demo_frames):
    """The demo plants: customers in region North with the newsletter spend about 3x as much."""
    sugg = demo_ws.suggest(
        measure="sum(orders.amount)",
        using=["country", "age", "count(support_calls)", "regions.name", "newsletter"],
    )
    assert sugg, "no suggestion"
    top = sugg[0]
    assert "regions.name = 'North'" in top.definition and "newsletter" in top.definition
    assert top.lift > 2.5

    # Size and inside/outside averages come from the database: check them against pandas.
    c = demo_frames["customers"]
    regions = demo_frames["regions"].set_index("region_id")["name"]
    spend = c["customer_id"].map(demo_frames["orders"].groupby("customer_id")["amount"].sum()).fillna(0.0)
    planted = (c["region_id"].map(regions) == "North") & c["newsletter"].astype(bool)
    features = c.assign(**{"regions.name": c["region_id"].map(regions), "count(support_calls)": 0})
    calls = demo_frames["support_calls"].groupby("cust_id").size()
    features["count(support_calls)"] = c["customer_id"].map(calls).fillna(0)
    inside = pd.Series(True, index=c.index)
    for rule in top.rules:  # membership from the rules, evaluated in pandas
        inside &= rule_mask(rule, features)
    assert (inside & ~planted).sum() == 0 and inside.sum() >= 0.8 * planted.sum()  # the planted group
    assert top.size == int(inside.sum())
    assert math.isclose(top.measure_inside, spend[inside].mean(), rel_tol=1e-9)
    assert math.isclose(top.measure_outside, spend[~inside].mean(), rel_tol=1e-9)
    assert math.isclose(top.lift, top.measure_inside / top.measure_outside)
    assert top.p_value < 1e-6
    assert top.holdout_lift > 2.0  # it holds on the half of the sample the tree did not see
    assert "Suggested segments" in sugg._repr_html_()
    text = repr(sugg)
    assert text.startswith("Suggested segments for sum(orders.amount):") and "Suggestion(" not in text
    assert f"{top.lift:.2f}" in text and "holdout_lift" in text


@pytest.fixture(scope="module")
def planted_ws():
    """Own data: churn is likely (60%) for young web customers, 8% otherwise; plan is pure noise."""
    rng = np.random.default_rng(1)
    n = 6000
    age = rng.integers(18, 80, n)
    channel = rng.choice(["web", "store", "phone"], n)
    plan = rng.choice(["basic", "plus"], n)
    score = rng.normal(50, 10, n)
    risky = (age < 30) & (channel == "web")
    churned = rng.random(n) < np.where(risky, 0.6, 0.08)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "age": age,
            "channel": channel,
            "plan": plan,
            "score": score,
            "churned": churned,
        }
    )
    conn = duckdb.connect()
    conn.register("frame", frame)
    conn.execute("CREATE TABLE customers AS SELECT * FROM frame")
    conn.unregister("frame")
    ws = connect(conn)
    ws.customers("customers", key="customer_id")
    return ws, risky, churned, frame


def test_categorical_measure_finds_the_planted_group(planted_ws):
    ws, risky, churned, frame = planted_ws
    sugg = ws.suggest(measure="churned", using=["age", "channel", "plan", "score"])
    top = [s for s in sugg if str(s.category).lower() == "true"]
    assert top, sugg.frame()
    best = top[0]
    assert "channel = 'web'" in best.definition and "age" in best.definition
    members = pd.Series(True, index=frame.index)
    for rule in best.rules:  # membership from the rules, evaluated in pandas
        members &= rule_mask(rule, frame)
    members = members.to_numpy()
    # the group found is (almost) the planted one, and its churn share is the database's
    assert (members & risky).sum() / risky.sum() > 0.9 and (members & ~risky).sum() / members.sum() < 0.1
    assert best.size == members.sum()
    assert math.isclose(best.measure_inside, churned[members].mean(), rel_tol=1e-9)
    assert math.isclose(best.measure_outside, churned[~members].mean(), rel_tol=1e-9)


def test_no_signal_no_suggestion(planted_ws):
    ws, _, _, _ = planted_ws
    sugg = ws.suggest(measure="score", using=["plan", "channel"])
    assert list(sugg) == []
    assert "No group differs significantly" in sugg._repr_html_()


def test_within_restricts_and_is_part_of_the_definition(planted_ws):
    ws, risky, churned, _ = planted_ws
    sugg = ws.suggest(measure="churned", using=["age", "plan"], within="channel = 'web'")
    assert sugg and all(s.definition.startswith("channel = 'web'") for s in sugg)


def test_bad_measures(planted_ws, demo_ws):
    ws, _, _, _ = planted_ws
    with pytest.raises(SegmentError, match="is a condition"):
        ws.suggest(measure="age > 30")  # a condition is not a measure
    with pytest.raises(SegmentError):
        ws.suggest(measure="no_such_column")
    with pytest.raises(SegmentError, match="at most 10"):
        demo_ws.suggest(measure="first_name", using=["age"])


def test_save_to_a_catalog(tmp_path, planted_ws):
    ws, _, _, _ = planted_ws
    sugg = ws.suggest(measure="churned", using=["age", "channel"])
    ws2 = connect(ws.backend, catalog=str(tmp_path / "c.sqlite"))
    ws2.customers("customers", key="customer_id")
    sugg[0]._save = ws2.segment  # what ws2.suggest(...) would have given it
    seg = sugg[0].save("risky")
    assert seg.name == "risky" and seg.definition == sugg[0].definition
    assert ws2.count("in segment risky") == sugg[0].size


def test_rules_that_do_not_hold_on_the_check_half_are_dropped(planted_ws):
    """Lenient thresholds on pure noise (score has no relation to plan, channel or age): the fit half
    finds rules, the check half rejects them; what is kept must have held there."""
    ws, _, _, frame = planted_ws
    sugg = ws.suggest(
        measure="score", using=["plan", "channel", "age"], alpha=0.5, min_lift=1.01, max_depth=4
    )
    assert any(n.startswith("dropped, did not hold on the check half: ") for n in sugg.notes), sugg.notes
    for s in sugg:
        assert s.holdout_lift >= 1.01 or s.holdout_lift <= 1 / 1.01
    # and on the planted group the check half confirms it (a lift near the fit half's)
    churn = ws.suggest(measure="churned", using=["age", "channel"])
    assert churn and all(s.holdout_lift > 0.7 * s.lift for s in churn if s.category is not None)
