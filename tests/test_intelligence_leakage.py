"""similar() on planted truth: no leakage from the definition, lookalikes that carry a hidden trait, and an
honest "no similar customers" when nothing but the defining column carries signal.

The data is generated here, so the answer is known: a hidden trait (never a column) drives both
membership, through the definition's own column (spend on orders), and other attributes and behaviour.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import require_module

from jupyter_segments.errors import SegmentError
from jupyter_segments.workspace import Workspace, connect

sklearn = require_module("sklearn", module_level=True)  # a default dependency; skip/fail through conftest
from sklearn.metrics import roc_auc_score  # noqa: E402

N = 4000
SPEND = 1500  # the segment: sum(orders.amount) >= SPEND


def _workspace(
    customers: pd.DataFrame, orders: pd.DataFrame, visits: pd.DataFrame, catalog=None
) -> Workspace:
    conn = duckdb.connect()
    for name, frame in (("customers", customers), ("orders", orders), ("visits", visits)):
        conn.register("f", frame)
        conn.execute(f"CREATE TABLE {name} AS SELECT * FROM f")
        conn.unregister("f")
    ws = connect(conn, catalog=catalog)
    ws.customers("customers", key="customer_id")
    ws.relate("orders", "customers", on="customer_id")
    ws.relate("visits", "customers", on="customer_id")
    return ws


def _data(seed: int, signal: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Customers, orders and web visits. With ``signal`` a hidden trait (25%) makes customers spend more
    (so about half of them reach SPEND), be older, more often gold, on the newsletter and visit more;
    without it spend is the only thing that differs, and every other column is independent noise."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, N + 1)
    trait = rng.random(N) < 0.25
    t = trait if signal else np.zeros(N, dtype=bool)
    age = np.where(t, rng.normal(55, 7, N), rng.normal(38, 10, N)).round().astype(int)
    tier = np.where(rng.random(N) < np.where(t, 0.55, 0.12), "gold", rng.choice(["basic", "silver"], N))
    newsletter = rng.random(N) < np.where(t, 0.7, 0.25)
    country = rng.choice(["DE", "FR", "US", "PL"], N)
    n_orders = rng.poisson(np.where(trait, 12, 4))  # the trait drives spend in both data sets
    amount = rng.gamma(2.0, 60.0, n_orders.sum()).round(2)
    n_visits = rng.poisson(np.where(t, 20, 6))
    customers = pd.DataFrame(
        {"customer_id": ids, "age": age, "birth_year": 2025 - age, "tier": tier, "newsletter": newsletter,
         "country": country}
    )  # fmt: skip
    orders = pd.DataFrame(
        {
            "order_id": np.arange(1, n_orders.sum() + 1),
            "customer_id": np.repeat(ids, n_orders),
            "amount": amount,
        }
    )
    visits = pd.DataFrame(
        {"visit_id": np.arange(1, n_visits.sum() + 1), "customer_id": np.repeat(ids, n_visits)}
    )
    return customers, orders, visits, trait


def _members(customers: pd.DataFrame, orders: pd.DataFrame) -> set[int]:
    """The segment's members computed in pandas (the oracle, not the engine)."""
    spend = orders.groupby("customer_id")["amount"].sum()
    return set(spend[spend >= SPEND].index.astype(int))


@pytest.fixture(scope="module")
def trait_world():
    customers, orders, visits, trait = _data(7, signal=True)
    return _workspace(customers, orders, visits), customers, orders, trait


@pytest.fixture(scope="module")
def noise_world():
    customers, orders, visits, trait = _data(8, signal=False)
    return _workspace(customers, orders, visits), customers, orders, trait


def test_definition_features_are_left_out_and_named(trait_world):
    ws, customers, orders, _ = trait_world
    sim = ws.similar(f"sum(orders.amount) >= {SPEND}")
    excluded = dict(zip(sim.excluded["feature"], sim.excluded["reason"], strict=True))
    # The aggregate the definition reads, and everything else over the same path.
    assert set(excluded) == {"count(orders)", "sum(orders.amount)"}
    assert excluded["sum(orders.amount)"] == "the definition reads orders.amount"
    assert excluded["count(orders)"] == "the definition reads orders"
    assert not set(sim.info.features) & set(excluded)
    assert set(sim.importances["feature"]) == set(sim.info.features)
    assert {"age", "count(visits)"} <= set(sim.info.features)


def test_lookalikes_carry_the_hidden_trait(trait_world):
    ws, customers, orders, trait = trait_world
    members = _members(customers, orders)
    sim = ws.similar(f"sum(orders.amount) >= {SPEND}")
    outside = customers.loc[~customers["customer_id"].isin(members), "customer_id"]
    has_trait = pd.Series(trait, index=customers["customer_id"])
    assert len(sim) == math.ceil(0.2 * len(outside))  # the best 20% of the audience, always
    assert not set(sim["customer_id"]) & members
    base = has_trait[outside].mean()
    lift = has_trait[sim["customer_id"]].mean() / base
    assert lift >= 2.5, (lift, base)
    assert 0.8 <= sim.auc < 0.99 and sim.quality == "good", sim.verdict
    # Honest AUC against the hidden trait, over every non-member scored (not only the chosen).
    everyone = ws.similar(f"sum(orders.amount) >= {SPEND}", size=1.0)
    assert set(everyone["customer_id"]) == set(outside)
    trait_auc = roc_auc_score(has_trait[everyone["customer_id"]], everyone["similarity"])
    assert trait_auc > 0.85, trait_auc


def test_without_leakage_protection_the_model_learns_the_rule_back(trait_world):
    """The same question with the defining features put back (using=): the model scores the definition
    itself (AUC near 1) and says so instead of calling it good."""
    ws, customers, orders, trait = trait_world
    sim = ws.similar(
        f"sum(orders.amount) >= {SPEND}",
        using=["sum(orders.amount)", "count(orders)", "age", "count(visits)"],
    )
    assert sim.auc >= 0.99 and sim.quality == "perfectly separable"
    assert "perfectly separable by sum(orders.amount)" in sim.verdict
    assert sim.importances["feature"].iloc[0] == "sum(orders.amount)"
    assert len(sim.excluded) == 0  # what the user names is used
    # and the near-members it finds carry the hidden trait far less often than real lookalikes do
    members = _members(customers, orders)
    has_trait = pd.Series(trait, index=customers["customer_id"])
    base = has_trait[customers.loc[~customers["customer_id"].isin(members), "customer_id"]].mean()
    assert has_trait[sim["customer_id"]].mean() / base < 2.5


def test_nothing_but_the_defining_column_means_no_lookalikes(noise_world):
    ws, customers, orders, _ = noise_world
    members = _members(customers, orders)
    assert 200 < len(members) < 1200  # the segment exists: the trait still drives spend
    sim = ws.similar(f"sum(orders.amount) >= {SPEND}")
    assert len(sim) == 0
    assert abs(sim.auc - 0.5) < 0.08, sim.auc
    assert sim.quality == "no signal"
    assert (
        sim.verdict.startswith("no similar customers: ") and "members look like everyone else" in sim.verdict
    )
    assert "no similar customers" in sim._repr_html_() and "no similar customers" in repr(sim)
    with pytest.raises(SegmentError, match="nothing to save: no similar customers"):
        sim.save("empty")


def test_reads_through_measures_segments_and_nearly_decisive_features(trait_world, tmp_path):
    ws0, customers, orders, _ = trait_world
    ws = connect(ws0.backend, catalog=str(tmp_path / "c.sqlite"))
    ws.customers("customers", key="customer_id")
    ws.relate("orders", "customers", on="customer_id")
    ws.relate("visits", "customers", on="customer_id")
    ws.measure("spend", "sum(orders.amount)")
    ws.segment("big", f"spend >= {SPEND}")
    ws.segment("big_and_old", "in segment big and age >= 30")
    sim = ws.similar("big_and_old")  # a saved name: the definition, its segment and its measure are read
    reasons = dict(zip(sim.excluded["feature"], sim.excluded["reason"], strict=True))
    assert reasons["count(orders)"] == "the definition reads orders"
    assert reasons["age"] == "the definition reads age"
    # birth_year is not read and does not separate this segment alone (it needs spend too): it stays.
    assert "birth_year" in sim.info.features
    # A definition on age alone: birth_year (2025 - age) determines membership by itself.
    sim_age = ws.similar("age >= 50")
    reasons = dict(zip(sim_age.excluded["feature"], sim_age.excluded["reason"], strict=True))
    assert reasons["age"] == "the definition reads age"
    assert reasons["birth_year"].startswith("alone separates members (held-out AUC ")
    assert float(reasons["birth_year"].split("AUC ")[1].rstrip(")")) > 0.95
    assert "birth_year" not in sim_age.info.features
