"""compare(): overlap against set arithmetic on pandas member lists; statistics against pandas."""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pytest

from jupyter_segments.errors import SegmentError
from jupyter_segments.workspace import Workspace, connect, connect_demo

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
    assert set(cmp.differentiators["feature"].head(2)) == {"newsletter", "sum(orders.amount)"}


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


# --- planted truth: effect, significance corrected for the number of tests, too few to tell ----------------


@pytest.fixture(scope="module")
def planted():
    """Segment A (``score > 60``) is planted to differ on age (+0.6 sd) and plan ('plus' 55% vs 25%);
    ten noise columns do not differ; 'rare' has a value held by 6 customers."""
    import duckdb

    rng = np.random.default_rng(3)
    n = 3000
    score = rng.normal(50, 10, n)
    in_a = score > 60
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "score": score,
            "age": np.where(in_a, rng.normal(46, 10, n), rng.normal(40, 10, n)),
            "plan": np.where(rng.random(n) < np.where(in_a, 0.55, 0.25), "plus", "basic"),
            "rare": np.where(np.arange(n) < 6, "odd", "usual"),
            **{f"noise_{i}": rng.normal(0, 1, n) for i in range(10)},
        }
    )
    conn = duckdb.connect()
    conn.register("f", frame)
    conn.execute("CREATE TABLE customers AS SELECT * FROM f")
    conn.unregister("f")
    ws = connect(conn)
    ws.customers("customers", key="customer_id")
    return ws, frame, in_a


def test_planted_differentiators_are_found_and_noise_is_not(planted):
    from scipy import stats

    ws, frame, in_a = planted
    using = ["age", "plan", "rare"] + [f"noise_{i}" for i in range(10)]
    c = ws.compare("score > 60", using=using)
    d = c.differentiators
    assert set(d.loc[d["status"] == "significant", "feature"]) == {"plan", "age"}
    assert set(list(dict.fromkeys(d["feature"]))[:2]) == {"plan", "age"}  # ranked first by effect
    assert (d.loc[d["feature"].str.startswith("noise_"), "status"] == "not significant").all()
    # too few to tell: the 6-member value is marked, not tested, and comes last
    odd = d[(d["feature"] == "rare") & (d["value"] == "odd")].iloc[0]
    assert odd["status"] == "too few members" and math.isnan(odd["p_value"])
    few = (d["status"] == "too few members").to_numpy()
    assert few.any() and not few[: (~few).sum()].any()  # every untested row after every tested one
    # p-values: Welch's t-test and Holm, computed independently with scipy over the same rows
    a, b = frame.loc[in_a, "age"], frame.loc[~in_a, "age"]
    age = d[d["feature"] == "age"].iloc[0]
    assert math.isclose(age["p_value"], stats.ttest_ind(a, b, equal_var=False).pvalue, rel_tol=1e-6)
    tested = d[d["status"] != "too few members"]
    m = len(tested)
    ranked = np.sort(tested["p_value"].to_numpy())
    holm = np.maximum.accumulate(np.minimum(1, (m - np.arange(m)) * ranked))
    assert np.allclose(np.sort(tested["p_adj"].to_numpy()), holm)
    ranked_rows = d[d["status"] != "too few members"]["std_diff"].abs().to_numpy()
    assert (np.diff(ranked_rows) <= 1e-12).all()
    text = repr(c)
    assert text.startswith("Compare score > 60 (") and "Comparison(" not in text and "significant" in text


# --- which members: the last refresh, an as_of given or shared, RFM segments at their as_of --------------


def test_saved_segments_compare_on_their_last_refresh(tmp_path, demo_frames):
    """After a refresh the data changes: compare still reports the refreshed members (and says which
    refresh); with as_of it evaluates the definitions instead."""
    ws = connect_demo(800, seed=5, anchor=dt.date(2025, 6, 30), catalog=str(tmp_path / "c.sqlite"))
    ws.segment("older", "age >= 50")
    ws.segment("de", "country = 'DE'")
    ws.refresh(as_of="2025-06-30")
    people = ws.session.fetch("SELECT customer_id, age, country FROM customers")
    older = set(people.loc[people["age"] >= 50, "customer_id"])
    de = set(people.loc[people["country"] == "DE", "customer_id"])
    ws.session.backend.execute("UPDATE customers SET age = age + 40 WHERE age < 50")  # everyone 'older' now
    c = ws.compare("older", "de", using=["age"])
    assert c.overlap == {"both": len(older & de), "only_a": len(older - de), "only_b": len(de - older)}
    assert any(n.startswith(f"older: the {len(older):,} members of refresh #") for n in c.notes), c.notes
    now = ws.compare("older", "de", using=["age"], as_of="2025-06-30")
    assert now.sizes["a"] == people["age"].notna().sum() and any(
        "evaluated as of 2025-06-30 (given)" in n for n in now.notes
    )
    # a definition (not a saved name) is evaluated; everyone else is the complement of the stored members
    rest = ws.compare("older", using=["age"])
    assert rest.overlap == {"both": 0, "only_a": len(older), "only_b": len(people) - len(older)}


def test_rfm_segments_are_evaluated_at_their_as_of(tmp_path):
    ws = connect_demo(1500, seed=42, anchor=dt.date(2025, 6, 30), catalog=str(tmp_path / "c.sqlite"))
    scores = ws.rfm("orders", date="order_date", amount="amount", window="1 year", as_of="2025-06-30")
    ws.rfm_segments(scores, ["Champions", "At risk"])
    champions = set(scores.loc[scores["label"] == "Champions", "customer_id"])
    assert champions
    c = ws.compare("rfm_champions", using=["age"])  # not refreshed: the definition, at the RFM as_of
    assert c.sizes["a"] == len(champions)
    assert any("evaluated as of 2025-06-30 (recorded with rfm_champions)" in n for n in c.notes), c.notes
    c2 = ws.compare("rfm_champions", "rfm_at_risk", using=["age"])
    assert c2.sizes == {"a": len(champions), "b": int((scores["label"] == "At risk").sum())}
    assert c2.overlap["both"] == 0
    # a segment recorded at another date cannot be mixed in without a date
    later = ws.rfm("orders", date="order_date", amount="amount", window="1 year", as_of="2025-03-31")
    ws.rfm_segments(later, ["Champions"], prefix="q1_")
    with pytest.raises(SegmentError, match="different dates .*pass as_of="):
        ws.compare("rfm_champions", "q1_champions", using=["age"])
    # an empty side is said, not silently compared
    ws.segment("nobody", "age > 500")
    e = ws.compare("nobody", using=["age"], as_of="2025-06-30")
    assert e.notes[0] == "nobody has no members: there is nothing to compare on its side"
    assert (e.differentiators["status"] == "too few members").all()


def test_members_kept_in_parquet_and_plain_text_forms(tmp_path):
    """A workspace that keeps members in Parquet files: compare reads the keys from the file."""
    ws = connect_demo(600, seed=9, anchor=dt.date(2025, 6, 30), catalog=str(tmp_path / "c.sqlite"))
    ws.members_storage = "parquet"
    ws.segment("gold", "loyalty_tier = 'gold'")
    ws.refresh(as_of="2025-06-30")
    assert ws.segments().set_index("name").loc["gold", "location"] == "parquet"
    people = ws.session.fetch("SELECT customer_id, loyalty_tier FROM customers")
    gold = set(people.loc[people["loyalty_tier"] == "gold", "customer_id"])
    ws.session.backend.execute("UPDATE customers SET loyalty_tier = 'gold'")  # the definition moves on
    c = ws.compare("gold", using=["age"])
    assert c.overlap == {"both": 0, "only_a": len(gold), "only_b": len(people) - len(gold)}
    assert c.notes[0].startswith(f"gold: the {len(gold):,} members of refresh #")
    # terminal IPython shows the plain-text form: readable, rounded, no dataclass repr
    scores = ws.rfm("orders", date="order_date", amount="amount", as_of="2025-06-30")
    text = repr(scores)
    assert text.startswith("RFM of orders as of 2025-06-30, window 1 year: ") and "Champions" in text
    assert re.search(r"\d\.\d{3,}", text.split("first rows:")[0]) is None  # averages rounded
    assert "Comparison(" not in repr(c) and "std_diff" not in repr(c)


def test_sampling_a_group_larger_than_the_sample(ws, people):
    """features.sample_frame caps a big group in the database (systematic on a numeric key), and the
    quartiles compare estimates from such a sample (SQLite, MariaDB) land near the exact ones."""
    from jupyter_segments.intelligence import features as F
    from jupyter_segments.intelligence.compare import _sampled_quartiles

    feats = F.make_features(ws.session, ["age"])
    cond = ws.parse("age >= 30").condition
    members = people.loc[people["age"] >= 30]
    frame = F.sample_frame(ws.session, cond, feats, max_rows=300)
    step = math.ceil(len(members) / 300)
    expected = members.loc[members["customer_id"] % step == 0, "customer_id"]
    assert sorted(frame["customer_id"].astype(int)) == sorted(expected.astype(int))[:300]
    assert 0 < len(frame) <= 300
    q = _sampled_quartiles(ws.session, cond, feats, dt.datetime(2025, 6, 30), 300)[feats[0].alias]
    exact = members["age"].astype(float)
    for name, p in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
        assert abs(q[name] - exact.quantile(p)) <= 3, (name, q[name], exact.quantile(p))
