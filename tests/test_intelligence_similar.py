"""similar(): recovers held-back members of a planted group far better than chance."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import require_module

from jupyter_segments.errors import SegmentError
from jupyter_segments.intelligence.similar import BANDS, band
from jupyter_segments.workspace import connect

require_module("sklearn", module_level=True)  # skip, or fail when CI needs all
from sklearn.metrics import roc_auc_score  # noqa: E402

N = 4000


@pytest.fixture(scope="module")
def planted():
    """A hidden group (12%) that is older, more often gold and orders more; nothing names the group.

    The seed segment lists half of the group's keys; the other half is held back."""
    rng = np.random.default_rng(42)
    ids = np.arange(1, N + 1)
    group = rng.random(N) < 0.12
    age = np.where(group, rng.normal(58, 6, N), rng.normal(40, 12, N)).round().astype(int)
    tier = np.where(rng.random(N) < np.where(group, 0.6, 0.1), "gold", rng.choice(["basic", "silver"], N))
    country = rng.choice(["DE", "FR", "US"], N)
    n_orders = rng.poisson(np.where(group, 9, 3))
    customers = pd.DataFrame({"customer_id": ids, "age": age, "tier": tier, "country": country})
    orders = pd.DataFrame(
        {
            "order_id": np.arange(1, n_orders.sum() + 1),
            "customer_id": np.repeat(ids, n_orders),
            "amount": rng.gamma(2.0, 30.0, n_orders.sum()).round(2),
        }
    )
    conn = duckdb.connect()
    for name, frame in (("customers", customers), ("orders", orders)):
        conn.register("f", frame)
        conn.execute(f"CREATE TABLE {name} AS SELECT * FROM f")
        conn.unregister("f")
    members = ids[group]
    seed = members[::2]
    held = np.setdiff1d(members, seed)
    ws = connect(conn)
    ws.customers("customers", key="customer_id")
    seed_text = "customer_id in (" + ", ".join(str(k) for k in seed) + ")"
    return ws, seed_text, set(seed.tolist()), set(held.tolist())


@pytest.fixture(scope="module")
def scored_all(planted):
    ws, seed_text, _, _ = planted
    return ws.similar(seed_text, size=1.0, min_score=0.0)


def test_recovers_held_back_members(planted, scored_all):
    ws, _, seed, held = planted
    sim = scored_all
    assert sim.auc > 0.8  # held-out AUC reported by the model
    assert not (set(sim["customer_id"]) & seed), "members are excluded by default"
    assert len(sim) == N - len(seed)  # size=1.0, min_score=0: every non-member, scored
    # Independent check: ROC AUC of the scores for held-back group members vs everyone else.
    truth = sim["customer_id"].isin(held).to_numpy()
    assert roc_auc_score(truth, sim["similarity"]) > 0.8
    k = len(held)
    precision = truth[:k].mean()  # the frame is sorted best first
    base_rate = truth.mean()
    assert precision > 3 * base_rate, (precision, base_rate)
    assert (np.diff(sim["similarity"].to_numpy()) <= 0).all()


def test_importances_name_the_planted_features(scored_all):
    top = list(scored_all.importances["feature"].head(3))
    assert "age" in top and "count(orders)" in top
    assert "country" not in top


def test_default_output_is_the_best_fifth(planted, scored_all):
    ws, seed_text, seed, _ = planted
    sim = ws.similar(seed_text)
    audience = N - len(seed)
    assert len(sim) == math.ceil(0.2 * audience)  # no score floor by default: always the best 20%
    # the chosen ones are the best-scored of the audience (same model, same seed)
    best = scored_all.head(len(sim))
    assert set(sim["customer_id"]) == set(best["customer_id"])
    assert all(sim["band"] == [band(s) for s in sim["similarity"]])
    assert sim.bands["customers"].sum() == audience
    expected = [
        ((scored_all["similarity"] >= lo) & (scored_all["similarity"] < hi)).sum() for lo, hi, _ in BANDS[:-1]
    ]
    assert list(sim.bands["customers"][:-1]) == expected
    # min_score filters only when given
    floor = ws.similar(seed_text, min_score=0.9)
    assert set(floor["customer_id"]) == set(best.loc[best["similarity"] >= 0.9, "customer_id"])
    assert len(floor) < len(sim) and "min_score 0.9 kept fewer" in floor.verdict


def test_top_n_target_and_include_members(planted):
    ws, seed_text, seed, _ = planted
    sim = ws.similar(seed_text, size=25, min_score=0.0)
    assert len(sim) == 25
    assert len(ws.similar(seed_text, size=25.0, min_score=0.0)) == 25  # as %segment similar --size passes it
    older = set(ws.member_keys("age >= 50"))
    sim_t = ws.similar(seed_text, target="age >= 50", size=1.0, min_score=0.0)
    assert set(sim_t["customer_id"]) == older - seed
    sim_m = ws.similar(seed_text, include_members=True, size=1.0, min_score=0.0)
    assert len(sim_m) == N and set(sim_m["customer_id"]) >= seed


def test_save_as_static_segment_and_display(planted, tmp_path):
    ws, seed_text, _, _ = planted
    ws2 = connect(ws.backend, catalog=str(tmp_path / "c.sqlite"))
    ws2.customers("customers", key="customer_id")
    sim = ws2.similar(seed_text, size=30, min_score=0.0)
    seg = sim.save("lookalikes")
    assert ws2.segments().set_index("name").loc["lookalikes", "type"] == "static"
    assert seg.type == "static" and seg.count == 30  # members frozen at creation
    assert set(seg.keys()) == set(sim["customer_id"])
    assert set(ws2.member_keys(sim.definition())) == set(sim["customer_id"])
    # a static segment can be compared by name: its frozen keys stand in for a definition
    assert ws2.compare("lookalikes", using=["age"]).overlap["only_a"] == 30
    html = sim._repr_html_()
    assert "ROC AUC" in html and "very similar" in html


def test_errors(planted):
    ws, _, _, _ = planted
    with pytest.raises(SegmentError, match="at least 20"):
        ws.similar("customer_id = 1")
    with pytest.raises(SegmentError, match="size"):
        ws.similar("age > 50", size=0)
    with pytest.raises(SegmentError, match="size"):
        ws.similar("age > 50", size=2.5)
