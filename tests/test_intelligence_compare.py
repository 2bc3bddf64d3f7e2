"""compare(): overlap against set arithmetic on pandas member lists; statistics against pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jupyter_segments.errors import SegmentError
from jupyter_segments.workspace import Workspace, connect_demo

A_TEXT = "loyalty_tier in ('gold', 'platinum')"
B_TEXT = "newsletter and sum(orders.amount) > 500"
USING = ["age", "country", "newsletter", "sum(orders.amount)", "signup_date"]


@pytest.fixture(scope="module")
def ws(demo_backend) -> Workspace:
    w = Workspace(demo_backend)
    w.customers("customers", key="customer_id")
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    return w


@pytest.fixture(scope="module")
def people(demo_frames) -> pd.DataFrame:
    """Customers with the features the tests compare, computed in pandas from the raw tables."""
    c = demo_frames["customers"].copy()
    spend = demo_frames["orders"].groupby("customer_id")["amount"].sum()
    c["spend"] = c["customer_id"].map(spend).fillna(0.0)
    c["in_a"] = c["loyalty_tier"].isin(["gold", "platinum"])
    c["in_b"] = c["newsletter"].astype(bool) & (c["spend"] > 500)
    return c


@pytest.fixture(scope="module")
def cmp(ws):
    return ws.compare(A_TEXT, B_TEXT, using=USING, as_of="2025-06-30")


def test_overlap_matches_set_arithmetic(cmp, people):
    a = set(people.loc[people["in_a"], "customer_id"])
    b = set(people.loc[people["in_b"], "customer_id"])
    assert cmp.overlap == {"both": len(a & b), "only_a": len(a - b), "only_b": len(b - a)}
    assert cmp.sizes == {"a": len(a), "b": len(b)}


def _row(cmp, feature, value=None):
    d = cmp.differentiators
    sel = d[d["feature"] == feature]
    if value is not None:
        sel = sel[sel["value"] == value]
    assert len(sel) == 1, (feature, value, d[["feature", "value"]].head(30))
    return sel.iloc[0]


def test_numeric_statistics_match_pandas(cmp, people):
    for feature, col in (("age", "age"), ("sum(orders.amount)", "spend")):
        r = _row(cmp, feature)
        a = people.loc[people["in_a"], col].dropna().astype(float)
        b = people.loc[people["in_b"], col].dropna().astype(float)
        assert math.isclose(r["a"], a.mean(), rel_tol=1e-9) and math.isclose(r["b"], b.mean(), rel_tol=1e-9)
        for side, s in (("a", a), ("b", b)):
            for name, q in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
                # PERCENTILE_CONT and pandas' default are both linear interpolation; SQLite/MariaDB
                # use a sample, which here (2,000 customers < 20,000) is every member.
                assert math.isclose(r[f"{side}_{name}"], s.quantile(q), rel_tol=1e-9, abs_tol=1e-9), (
                    feature,
                    side,
                    name,
                )
        pooled = math.sqrt((a.var(ddof=0) + b.var(ddof=0)) / 2)
        assert math.isclose(r["std_diff"], (a.mean() - b.mean()) / pooled, rel_tol=1e-6)


def test_dates_are_days_since(cmp, people):
    r = _row(cmp, "days since signup_date")
    days = (pd.Timestamp("2025-06-30") - pd.to_datetime(people["signup_date"])).dt.days
    assert math.isclose(r["a"], days[people["in_a"]].mean(), rel_tol=1e-9)


def test_category_shares_match_pandas(cmp, people):
    a, b = people[people["in_a"]], people[people["in_b"]]
    for value in ("US", "DE"):
        r = _row(cmp, "country", value)
        assert math.isclose(r["a"], (a["country"] == value).mean())
        assert math.isclose(r["b"], (b["country"] == value).mean())
        assert math.isclose(r["lift"], r["a"] / r["b"])
    r = _row(cmp, "newsletter", True)
    assert math.isclose(r["a"], a["newsletter"].astype(bool).mean()) and r["b"] == 1.0


def test_ranking_is_by_absolute_standardized_difference(cmp):
    d = cmp.differentiators["std_diff"].abs().to_numpy()
    assert (np.diff(d) <= 1e-12).all()
    # B is defined by newsletter and spend: those lead the list
    assert set(cmp.differentiators["feature"].head(3)) <= {"newsletter", "sum(orders.amount)"}


def test_against_everyone_else(ws, people):
    c = ws.compare(A_TEXT, using=["age"])
    n_a = int(people["in_a"].sum())
    assert c.overlap == {"both": 0, "only_a": n_a, "only_b": len(people) - n_a}
    r = c.differentiators.iloc[0]
    assert math.isclose(r["b"], people.loc[~people["in_a"], "age"].dropna().mean(), rel_tol=1e-9)
    assert c.b_label == "everyone else"


def test_saved_segments_by_name_and_display(tmp_path):
    ws = connect_demo(500, seed=2, catalog=str(tmp_path / "cat.sqlite"))
    ws.segment("vip", "sum(orders.amount) >= 1000")
    ws.segment("churn_risk", "churn_score > 0.5")
    c = ws.compare("vip", "churn_risk", using=["age", "country"])
    vip = set(ws.member_keys("sum(orders.amount) >= 1000"))
    risk = set(ws.member_keys("churn_score > 0.5"))
    assert c.overlap == {"both": len(vip & risk), "only_a": len(vip - risk), "only_b": len(risk - vip)}
    html = c._repr_html_()
    assert "<svg" in html and "vip" in html and "churn_risk" in html
    assert c.chart().to_dict()["mark"]["type"] == "bar"
    with pytest.raises(SegmentError):
        ws.compare("no_such_segment")
