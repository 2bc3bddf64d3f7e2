"""RFM scores against a pandas computation of the same rule, on every backend; RFM segments reproduce labels."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO_ANCHOR

from jupyter_segments.errors import SegmentError
from jupyter_segments.intelligence import RFM_RULES, RfmRule
from jupyter_segments.workspace import Workspace, connect_demo

AS_OF = DEMO_ANCHOR


@pytest.fixture(scope="module")
def ws(demo_backend) -> Workspace:
    w = Workspace(demo_backend)
    w.customers("customers", key="customer_id")
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    return w


def _ntile(n: int, buckets: int = 5) -> np.ndarray:
    """SQL NTILE for positions 0..n-1: the first n % buckets groups get one row more."""
    q, r = divmod(n, buckets)
    out = np.empty(n, dtype=int)
    for i in range(n):
        out[i] = i // (q + 1) + 1 if i < r * (q + 1) else r + (i - r * (q + 1)) // q + 1
    return out


def _score(values: pd.Series, best_high: bool) -> pd.Series:
    """NTILE(5) in sort order (worst first), then each tie group takes round-half-up of its mean bucket."""
    order = values.sort_values(ascending=best_high, kind="stable")
    buckets = pd.Series(_ntile(len(order)), index=order.index)
    mean = buckets.groupby(order).transform("mean")
    return np.floor(mean + 0.5).astype(int).reindex(values.index)


def oracle(frames: dict[str, pd.DataFrame], as_of: dt.date, where=None) -> pd.DataFrame:
    """The documented RFM rule computed in pandas from the raw tables."""
    orders = frames["orders"].copy()
    orders["order_date"] = pd.to_datetime(orders["order_date"]).dt.date
    if where is not None:
        orders = orders[where(orders)]
    orders = orders[orders["order_date"] <= as_of]
    start = as_of.replace(year=as_of.year - 1)  # "in last 1 year": calendar year back, both ends included
    last = orders.groupby("customer_id")["order_date"].max()
    win = orders[orders["order_date"] >= start]
    frame = pd.DataFrame({"last": last})
    frame["recency_days"] = [(as_of - d).days for d in frame["last"]]
    frame["frequency"] = win.groupby("customer_id").size().reindex(frame.index).fillna(0).astype(int)
    frame["monetary"] = win.groupby("customer_id")["amount"].sum().reindex(frame.index).fillna(0.0)
    frame["r"] = _score(frame["recency_days"], best_high=False)
    frame["f"] = _score(frame["frequency"], best_high=True)
    frame["m"] = _score(frame["monetary"].round(6), best_high=True)

    def label(row) -> str:
        for rule in RFM_RULES:
            if all(lo <= row[s] <= hi for s, (lo, hi) in rule.ranges().items()):
                return rule.label
        return "Other"

    frame["label"] = frame.apply(label, axis=1)
    return frame.drop(columns="last").reset_index().rename(columns={"index": "customer_id"})


@pytest.fixture(scope="module")
def scores(ws):
    return ws.rfm("orders", date="order_date", amount="amount", window="1 year", as_of=AS_OF)


def test_scores_match_pandas_quintiles(scores, demo_frames):
    expected = oracle(demo_frames, AS_OF).set_index("customer_id").sort_index()
    got = pd.DataFrame(scores).set_index("customer_id").sort_index()
    assert list(got.index) == list(expected.index)
    assert (got["recency_days"] == expected["recency_days"]).all()
    assert (got["frequency"] == expected["frequency"]).all()
    assert np.allclose(got["monetary"], expected["monetary"], rtol=1e-9, atol=1e-6)
    for s in ("r", "f", "m"):
        mismatch = got.index[got[s] != expected[s]]
        assert len(mismatch) == 0, f"{s} differs for {list(mismatch[:5])}"
    assert (got["label"] == expected["label"]).all()


def test_ties_get_equal_scores(scores):
    for value, score in (("recency_days", "r"), ("frequency", "f"), ("monetary", "m")):
        per_value = scores.groupby(value)[score].nunique()
        assert (per_value == 1).all(), f"{value}: tied values with different scores"
        # and scores never fall as the value improves
        ordered = scores.sort_values(value, ascending=(value != "recency_days"))[score].to_numpy()
        assert (np.diff(ordered) >= 0).all()


def test_segment_definitions_reproduce_each_label(ws, scores):
    defs = scores.definitions()
    assert set(defs) == {r.label for r in RFM_RULES}
    for label, text in defs.items():
        expected = set(scores.loc[scores["label"] == label, "customer_id"])
        assert ws.count(text, as_of=AS_OF) == len(expected), (label, text)
        if expected and ws.dialect == "duckdb":
            assert set(ws.member_keys(text, as_of=AS_OF)) == expected, label


def test_user_rules_replace_the_table_and_unmatched_is_other(demo_frames):
    ws = connect_demo(400, seed=3, anchor=AS_OF)
    rules = [RfmRule("Top spenders", m=(5, 5)), RfmRule("Recent", r=(4, 5))]
    s = ws.rfm("orders", date="order_date", amount="amount", as_of=AS_OF, rules=rules)
    assert set(s["label"]) <= {"Top spenders", "Recent", "Other"}
    assert ((s["label"] == "Top spenders") == (s["m"] == 5)).all()
    assert ((s["label"] == "Recent") == ((s["m"] < 5) & (s["r"] >= 4))).all()
    for label, text in s.definitions().items():
        assert ws.count(text, as_of=AS_OF) == int((s["label"] == label).sum())


def test_where_filter_and_window_in_days():
    ws = connect_demo(500, seed=5, anchor=AS_OF)
    s = ws.rfm(
        "orders",
        date="order_date",
        amount="amount",
        window="90 days",
        as_of=AS_OF,
        where="status != 'cancelled'",
    )
    orders = ws.backend.query("SELECT customer_id, order_date, amount, status FROM orders")
    orders["order_date"] = pd.to_datetime(orders["order_date"]).dt.date
    ok = orders[(orders["status"] != "cancelled") & (orders["order_date"] <= AS_OF)]
    win = ok[ok["order_date"] >= AS_OF - dt.timedelta(days=90)]
    freq = win.groupby("customer_id").size()
    got = s.set_index("customer_id")["frequency"]
    assert set(got.index) == set(ok["customer_id"])
    assert (got[got > 0].sort_index() == freq.sort_index()).all()
    for label, text in s.definitions().items():
        assert ws.count(text, as_of=AS_OF) == int((s["label"] == label).sum()), label


def test_bad_arguments_are_segment_errors():
    ws = connect_demo(200, anchor=AS_OF)
    with pytest.raises(SegmentError, match="window"):
        ws.rfm("orders", date="order_date", amount="amount", window="a while")
    with pytest.raises(SegmentError, match="date"):
        ws.rfm("orders", date="status", amount="amount")
    with pytest.raises(SegmentError, match="amount"):
        ws.rfm("orders", date="order_date", amount="status")
    with pytest.raises(SegmentError, match="to-many"):
        ws.rfm("regions", date="name", amount="region_id")
    with pytest.raises(SegmentError, match="unknown column"):
        ws.rfm("orders", date="order_day", amount="amount")
    with pytest.raises(SegmentError):
        RfmRule("bad", r=(4, 2))


def test_rfm_segments_are_saved_and_refreshable(tmp_path):
    ws = connect_demo(600, seed=11, anchor=AS_OF, catalog=str(tmp_path / "cat.sqlite"))
    s = ws.rfm("orders", date="order_date", amount="amount", as_of=AS_OF)
    names = ws.rfm_segments(s, ["Champions", "Hibernating"])
    assert names == {"Champions": "rfm_champions", "Hibernating": "rfm_hibernating"}
    for label, name in names.items():
        assert ws.count(f"in segment {name}", as_of=AS_OF) == int((s["label"] == label).sum())
    # every present label by default; the same arguments work instead of a scores frame
    all_names = ws.rfm_segments("orders", date="order_date", amount="amount", as_of=AS_OF, prefix="r2_")
    assert set(all_names) == set(s["label"])
    assert set(ws.segments()["name"]) >= set(all_names.values())


def test_display_and_summary(scores):
    html = scores._repr_html_()
    assert "RFM" in html and "customers scored" in html
    summary = scores.summary
    assert summary["customers"].sum() == len(scores)
    assert math.isclose(summary["share"].sum(), 1.0)
    row = summary.set_index("label").iloc[0]
    members = scores[scores["label"] == summary["label"].iloc[0]]
    assert math.isclose(row["avg_monetary"], members["monetary"].mean())
    spec = scores.chart().to_dict()
    assert "hconcat" in spec
