"""The demo generator: deterministic, the right shape, and carrying the patterns demos rely on."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import DEMO_ANCHOR, DEMO_SIZE

from jupyter_segments import demo
from jupyter_segments.backends import open_backend
from jupyter_segments.backends.base import ForeignKey

SMALL = 300


def _small(seed: int = 7, anchor: dt.date = DEMO_ANCHOR) -> dict[str, pd.DataFrame]:
    conn = demo.generate(SMALL, seed=seed, anchor=anchor)
    try:
        return demo.frames(conn)
    finally:
        conn.close()


def test_same_arguments_same_data():
    a, b = _small(), _small()
    assert set(a) == set(demo.TABLES)
    for table in demo.TABLES:
        pd.testing.assert_frame_equal(a[table], b[table], obj=table)


def test_other_seed_other_data():
    a, b = _small(seed=7), _small(seed=8)
    assert a["customers"]["first_name"].tolist() != b["customers"]["first_name"].tolist()
    assert (
        len(a["orders"]) != len(b["orders"])
        or a["orders"]["amount"].tolist() != b["orders"]["amount"].tolist()
    )


def test_anchor_moves_dates():
    later = DEMO_ANCHOR + dt.timedelta(days=100)
    a, b = _small(), _small(anchor=later)
    assert a["orders"]["order_date"].max().date() <= DEMO_ANCHOR
    assert b["orders"]["order_date"].max().date() > DEMO_ANCHOR
    # Same customers, shifted in time: signup dates move by exactly the anchor shift.
    shift = (b["customers"]["signup_date"] - a["customers"]["signup_date"]).dt.days
    assert (shift == 100).all()


def test_sizes_and_ratios(demo_frames):
    f = demo_frames
    n = DEMO_SIZE
    assert len(f["customers"]) == n
    assert f["customers"]["customer_id"].is_unique
    assert f["regions"]["name"].tolist() == ["North", "South", "East", "West", "Central", "Islands"]
    assert len(f["products"]) == 500
    assert set(f["products"]["category"]) == {
        "toys", "books", "garden", "electronics", "fashion", "food", "sports", "beauty",
    }  # fmt: skip
    assert 8 <= len(f["orders"]) / n <= 12
    assert 2.4 <= len(f["order_lines"]) / len(f["orders"]) <= 3.6
    assert 1.5 <= len(f["support_calls"]) / n <= 2.5
    assert 4 <= len(f["web_events"]) / n <= 6
    for table, pk in demo.PRIMARY_KEYS.items():
        assert f[table][pk].is_unique, table


def test_customers_without_children(demo_frames):
    f = demo_frames
    ids = f["customers"]["customer_id"]
    no_orders = ~ids.isin(f["orders"]["customer_id"])
    assert 0.05 <= no_orders.mean() <= 0.11
    assert (~ids.isin(f["support_calls"]["cust_id"])).mean() > 0.2
    assert (~f["orders"]["order_id"].isin(f["order_lines"]["order_id"])).sum() > 0


def test_customer_columns(demo_frames):
    c = demo_frames["customers"]
    countries = c["country"].value_counts()
    assert set(countries.index) == {"US", "DE", "FR", "GB", "NL", "ES", "IT", "SE", "PL", "CA", "AU", "JP"}
    assert countries.index[0] == "US" and countries.iloc[0] > 3 * countries.iloc[-1]
    assert {"O'Brien", "D'Angelo", "Müller"} <= set(c["last_name"]) and "Zoë" in set(c["first_name"])
    assert c["email"].isna().sum() > 0 and (c["email"] == "").sum() > 0
    assert set(c["gender"].dropna()) == {"F", "M", "X"} and c["gender"].isna().sum() > 0
    age = c["age"]
    assert 0.02 <= age.isna().mean() <= 0.08 and age.min() >= 18 and age.max() <= 90
    assert set(c["loyalty_tier"].dropna()) == {"bronze", "silver", "gold", "platinum"}
    assert 0.15 <= c["loyalty_tier"].isna().mean() <= 0.25
    assert 0.01 <= c["region_id"].isna().mean() <= 0.06
    assert c["churn_score"].between(0, 1).all()
    # birth_date agrees with age at the anchor
    anchor = pd.Timestamp(DEMO_ANCHOR)
    known = c.dropna(subset=["age"])
    years = (anchor - known["birth_date"]).dt.days / 365.25
    assert ((years - known["age"]).abs() < 1.01).all()
    assert c["signup_date"].between(anchor - pd.Timedelta(days=5 * 366), anchor).all()


def test_relationships_hold(demo_frames):
    f = demo_frames
    for child, parent, col, pcol in demo.RELATIONSHIPS:
        values = f[child][col].dropna()
        assert values.isin(f[parent][pcol]).all(), (child, col)


def test_dates_relative_to_anchor(demo_frames):
    f = demo_frames
    anchor = pd.Timestamp(DEMO_ANCHOR)
    orders = f["orders"].merge(f["customers"][["customer_id", "signup_date"]], on="customer_id")
    assert orders["order_date"].max() <= anchor
    assert orders["order_date"].min() >= anchor - pd.Timedelta(days=3 * 365)
    assert (orders["order_date"] >= orders["signup_date"]).all()
    days_ago = (anchor - orders["order_date"]).dt.days
    assert (days_ago < 90).sum() > 0
    assert (days_ago < 365).sum() > 1.5 * ((days_ago >= 730) & (days_ago < 1095)).sum()  # recent is likelier
    end = anchor + pd.Timedelta(days=1)
    assert f["support_calls"]["called_at"].max() < end and f["web_events"]["event_time"].max() < end


def test_planted_north_newsletter_rule(demo_frames):
    f = demo_frames
    spend = f["orders"].groupby("customer_id")["amount"].sum()
    c = f["customers"].merge(f["regions"].rename(columns={"name": "region"}), on="region_id", how="left")
    c["spend"] = c["customer_id"].map(spend).fillna(0.0)
    planted = (c["region"] == "North") & c["newsletter"]
    ratio = c.loc[planted, "spend"].mean() / c.loc[~planted, "spend"].mean()
    assert 2.4 <= ratio <= 3.8
    # ... and it is the combination: North alone or the newsletter alone is far weaker.
    north_only = (c["region"] == "North") & ~c["newsletter"]
    assert c.loc[north_only, "spend"].mean() < 1.5 * c.loc[~planted, "spend"].mean()


def test_tier_and_newsletter_correlations(demo_frames):
    f = demo_frames
    o = f["orders"].merge(f["customers"], on="customer_id")
    by_tier = o.groupby("loyalty_tier")["amount"].mean()
    assert by_tier["platinum"] > by_tier["gold"] > by_tier["bronze"]
    per_customer = f["orders"].groupby("customer_id").size()
    c = f["customers"].assign(n=lambda d: d["customer_id"].map(per_customer).fillna(0))
    assert c.loc[c["newsletter"], "n"].mean() > 1.2 * c.loc[~c["newsletter"], "n"].mean()


def test_copy_to_subset_declares_only_keys_it_can(demo_conn):
    backend = open_backend("sqlite:///:memory:")
    try:
        counts = demo.copy_to(demo_conn, backend, tables=["customers", "regions", "orders"], constraints=True)
        assert counts == {
            t: demo_conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("regions", "customers", "orders")
        }
        assert set(backend.foreign_keys()) == {
            ForeignKey("customers", "region_id", "regions", "region_id"),
            ForeignKey("orders", "customer_id", "customers", "customer_id"),
        }
        demo.copy_to(demo_conn, backend, tables=["products"])  # no constraints asked: none declared
        assert backend.scalar("SELECT COUNT(*) FROM products") == 500
        with pytest.raises(ValueError, match="not demo tables"):
            demo.copy_to(demo_conn, backend, tables=["nope"])
    finally:
        backend.close()


def test_generate_to_file(tmp_path):
    path = tmp_path / "demo.duckdb"
    conn = demo.generate(50, seed=1, anchor=DEMO_ANCHOR, path=str(path))
    conn.close()
    again = demo.generate(50, seed=1, anchor=DEMO_ANCHOR, path=str(path))  # replaces, not appends
    try:
        assert again.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 50
        assert not again.execute(
            "SELECT * FROM duckdb_tables() WHERE table_name LIKE '\\_c%' ESCAPE '\\'"
        ).fetchall()
    finally:
        again.close()
