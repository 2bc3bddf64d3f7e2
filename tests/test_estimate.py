"""Instant estimates (issue 22): a definition counted on a fixed random sample of customers.

- The sampled evaluation is right: for a given sample, the members counted among the sampled
  customers equal pandas' count over the same keys (the oracle), on DuckDB and SQLite.
- The 95% interval is honest: over many definitions and sample seeds, the exact count falls inside
  it about 95% of the time.
- The builder shows the estimate first, the exact count replaces it, an edit cancels both.
"""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pytest
from test_engine_oracle import workspace_for

import jupyter_segments as js
from jupyter_segments import demo
from jupyter_segments.estimate import Estimator, interval
from jupyter_segments.ui.builder import SegmentBuilder

ANCHOR = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def ws():
    w = js.connect_demo(5000, seed=7, anchor=ANCHOR)
    yield w
    w.close()


@pytest.fixture(scope="module")
def frames(ws) -> dict[str, pd.DataFrame]:
    con = ws.backend.connection
    return {
        t: con.execute(f"SELECT * FROM {t}").df()
        for t in ("customers", "orders", "order_lines", "support_calls")
    }


# definition -> pandas: the set of members among the customers in ``c`` (frames restricted to them)
def _oracle_cases(f: dict[str, pd.DataFrame]):
    c, o, ol, s = f["customers"], f["orders"], f["order_lines"], f["support_calls"]
    spend = o.groupby("customer_id").amount.sum()
    n_orders = o.groupby("customer_id").size()
    big_orders = ol.groupby("order_id").quantity.sum()
    nested = o[o.order_id.isin(big_orders[big_orders > 30].index)].customer_id
    escalated = s[s.escalated.fillna(False).astype(bool)].cust_id
    return {
        "age >= 40": set(c.customer_id[c.age >= 40]),
        "sum(orders.amount) >= 1000": set(spend.index[spend >= 1000]),
        "count(orders) >= 3": set(n_orders.index[n_orders >= 3]),
        "any(orders where sum(order_lines.quantity) > 30)": set(nested),
        "none(support_calls where escalated)": set(c.customer_id) - set(escalated),
        "age < 30 and count(orders) between 1 and 5": set(c.customer_id[c.age < 30])
        & set(n_orders.index[(n_orders >= 1) & (n_orders <= 5)]),
    }


def _check_sample_counts(w, frames) -> None:
    est = Estimator(w.session, size=700, seed=3)
    keys = set(est.sample_keys().iloc[:, 0].astype(int))
    assert len(keys) == 700 and keys <= set(frames["customers"].customer_id)
    for definition, members in _oracle_cases(frames).items():
        e = est.estimate(definition)
        assert not e.exact and e.sample_size == 700 and e.population == 5000
        assert e.members_in_sample == len(members & keys), definition
        assert e.low <= e.value <= e.high
    est.drop()


def test_sampled_count_equals_pandas_on_the_same_keys_duckdb(ws, frames):
    _check_sample_counts(ws, frames)


def test_sampled_count_equals_pandas_on_the_same_keys_sqlite(ws, frames, tmp_path):
    w = js.connect(f"sqlite:///{tmp_path / 'demo.db'}", catalog=":memory:", create=True)
    demo.copy_to(ws.backend.connection, w.backend, ["customers", "orders", "order_lines", "support_calls"])
    w.model.invalidate()
    w.customers("customers", key="customer_id")
    w.relate("orders", "customers", on="customer_id")
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    _check_sample_counts(w, frames)
    # The sample tables are the connection's own (TEMP): the database file gets no new table.
    assert not [t for t in w.backend.tables() if t.startswith("_js_")]
    w.close()


# 24 definitions of many shapes and shares (from under 1% to over 90% of customers)
COVERAGE = [
    "age >= 40", "age < 25", "age between 30 and 35", "country = 'DE'", "country in ('US', 'GB')",
    "newsletter", "email ends with '.com'", "signup_date before DATE '2023-01-01'",
    "count(orders) >= 3", "count(orders) >= 15", "count(orders) = 0", "sum(orders.amount) >= 1000",
    "sum(orders.amount) >= 3000", "avg(orders.amount) > 120", "max(orders.amount) > 400",
    "any(orders where sum(order_lines.quantity) > 30)", "count(orders where sum(order_lines.quantity) > 30) >= 3",
    "count_distinct(orders.order_lines.product_id) >= 20", "none(support_calls where escalated)",
    "any(support_calls)", "count(support_calls) >= 4", "any(orders where channel = 'web') and age >= 50",
    "sum(orders.amount where status != 'returned') >= 500 or newsletter",
    "any(orders.order_lines where products.category = 'toys')",
]  # fmt: skip


def test_interval_covers_the_exact_count_about_95_percent(ws):
    """10 seeds x 24 definitions = 240 cases of n=500 of N=5,000. If each interval covers with
    probability 0.95, the hits are about Binomial(240, 0.95): mean 228, sd 3.4; P(hits < 216, i.e.
    below 90%) ~ 4e-4 and P(hits > 237, above 98.75%) ~ 3e-3. Outside [216, 237] the interval is too
    narrow or needlessly wide (the cases share samples, so this is a guide, not an exact test: the
    seeds are fixed, the outcome deterministic)."""
    exact = {d: ws.count(d) for d in COVERAGE}
    assert len({v for v in exact.values()}) > 15 and min(exact.values()) < 100 < 4000 < max(exact.values())
    hits = cases = 0
    for seed in range(10):
        est = Estimator(ws.session, size=500, seed=1000 + seed)
        for d in COVERAGE:
            e = est.estimate(d)
            cases += 1
            hits += e.low <= exact[d] <= e.high
        est.drop()
    assert cases == 240
    assert 216 <= hits <= 237, f"{hits} of {cases} intervals hold the exact count"


def test_interval_edges():
    assert interval(0, 100, 100) == (0, 0, 0)  # the whole table: exact
    v, lo, hi = interval(0, 100, 10_000)
    assert v == 0 and lo == 0 and 0 < hi < 10_000 * 0.05  # none in the sample: a few percent at most
    v, lo, hi = interval(100, 100, 10_000)
    assert v == 10_000 and 9_500 < lo < 10_000 and hi == 10_000
    v, lo, hi = interval(30, 100, 101)  # all but one sampled: the missing one is in or out
    assert (lo, hi) == (30, 31)


def test_small_tables_are_exact_and_text(ws):
    est = Estimator(ws.session)  # 10,000 >= 5,000 customers: the whole table
    e = est.estimate("age >= 40")
    assert e.exact and e.value == e.low == e.high == ws.count("age >= 40")
    assert e.text() == f"{e.value:,}"
    e2 = Estimator(ws.session, size=500, seed=1).estimate("age >= 40")
    assert e2.text().startswith("≈ ") and "–" in e2.text()


def test_ws_estimate_api(ws):
    e = ws.estimate("count(orders) >= {n}", params={"n": 3})
    assert e.exact and e.value == ws.count("count(orders) >= 3")
    with pytest.raises(js.SegmentError):
        ws.estimate("count(ordrs) >= 3")


def test_tables_linked_twice_are_left_whole():
    """A second link from orders to customers (a referrer): a to-one step from an order to its referrer
    could reach customers outside the sample, so there are no estimates (exact counts, with a note)."""
    w = js.connect_demo(600, seed=7, anchor=ANCHOR)
    w.backend.execute("ALTER TABLE orders ADD COLUMN referrer_id INTEGER")
    w.backend.execute("UPDATE orders SET referrer_id = (customer_id * 7) % 600 + 1")
    w.model.invalidate()
    demo.declare_model(w.model)
    w.relate(
        "orders", "customers", on=("referrer_id", "customer_id"), name="referred", parent_name="referrer"
    )
    est = Estimator(w.session, size=200, seed=5)
    order, _via = est.sampled_tables()
    assert order == []  # a link back into customers: a to-one step could leave the sample
    e = est.estimate("any(orders where referrer.age > 60)")
    assert e.exact and e.value == w.count("any(orders where referrer.age > 60)")
    assert "leads back to the customers" in e.note and "leads back" in (est.unavailable or "")
    w.close()


# -- the builder -----------------------------------------------------------------------------------


def _slow_exact(b: SegmentBuilder) -> threading.Event:
    """Hold the builder's exact counts until the returned event is set (the estimate is not held)."""
    gate = threading.Event()
    real = b.db.count

    def count(definition):
        if definition is not None and str(definition) != "true":
            # held like a slow query; an edit or a cancel interrupts it, as the database's would
            while not gate.wait(0.01):
                if not b.debouncer.still_current():
                    raise js.SegmentError("interrupted")
        return real(definition)

    b.db.count = count  # type: ignore[method-assign]
    return gate


def _until(cond, timeout=20.0) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_builder_shows_the_estimate_then_the_exact_count(ws, frames):
    ws._estimator = Estimator(ws.session, size=400, seed=11)
    try:
        b = SegmentBuilder(ws, text="count(orders) >= 3", delay=0.02)
        b.debouncer.wait()  # the first count (not held): exact, while the sample is made aside
        assert b.count is not None and "≈" not in b.count_label.value
        assert _until(ws.estimator.ready)
        gate = _slow_exact(b)
        b.row_views()[0].agg_value.value = 5
        assert b.text == "count(orders) >= 5"
        assert _until(lambda: b.estimate is not None)
        e = b.estimate
        assert b.count is None and "≈" in b.count_label.value and e.text() in b.count_label.value
        assert "95% interval" in b.count_label.value  # the tooltip
        keys = set(ws.estimator.sample_keys().iloc[:, 0].astype(int))
        n = frames["orders"].groupby("customer_id").size()
        assert e.members_in_sample == len(set(n.index[n >= 5]) & keys)  # pandas over the sampled keys
        gate.set()
        assert b.wait() == int((n >= 5).sum())  # the exact count replaces it
        assert "≈" not in b.count_label.value and f"{b.count:,}" in b.count_label.value
        assert b.estimate is None
    finally:
        ws._estimator = None


def test_builder_edit_cancels_estimate_and_count_no_stale_result(ws, frames):
    ws._estimator = Estimator(ws.session, size=400, seed=11)
    try:
        b = SegmentBuilder(ws, text="count(orders) >= 3", delay=0.02)
        b.debouncer.wait()
        assert _until(ws.estimator.ready)
        gate = _slow_exact(b)
        b.row_views()[0].agg_value.value = 5
        assert _until(lambda: b.estimate is not None)  # estimate shown, exact count held
        b.row_views()[0].agg_value.value = 7  # the edit: the held count is for a stale definition
        assert b.estimate is None or "count(orders) >= 7" == b.text
        assert _until(lambda: b.estimate is not None and b.debouncer.superseded > 0)
        n = frames["orders"].groupby("customer_id").size()
        keys = set(ws.estimator.sample_keys().iloc[:, 0].astype(int))
        assert b.estimate.members_in_sample == len(set(n.index[n >= 7]) & keys)
        gate.set()
        assert b.wait() == int((n >= 7).sum())  # the newest definition's count, never >= 5's
        assert b.counted_text == "count(orders) >= 7"
        # Cancel: the estimate goes with the count
        gate.clear()
        b.row_views()[0].agg_value.value = 4
        assert _until(lambda: b.estimate is not None)
        assert b.cancel_count()
        assert b.estimate is None and "≈" not in b.count_label.value and "canceled" in b.count_label.value
        gate.set()
        b.debouncer.wait()
        assert b.count is None and "canceled" in b.count_label.value
    finally:
        ws._estimator = None


def test_builder_without_sample_tables_notes_it(ws, frames):
    class NoSamples(Estimator):
        def supported(self):
            return (
                "estimates need sample tables on the connection; on this database only exact counts are shown"
            )

    ws._estimator = NoSamples(ws.session, size=400)
    try:
        b = SegmentBuilder(ws, text="age >= 40", delay=0.02)
        c = frames["customers"]
        assert b.wait() == int((c.age >= 40).sum())
        assert "only exact counts" in b.count_label.value and "≈" not in b.count_label.value
    finally:
        ws._estimator = None


def test_bench_figure_11_report():
    """bench figure 11's table and summary row (the measurement itself: python -m bench --figures 11)."""
    from bench.estimates import markdown, summary

    row = dict(customers=10_000_000, shape="nested count", definition="d", estimate_s=0.04, exact_s=80.0,
               speedup=2000.0, builder_estimate_s=0.079, builder_exact_s=59.0, value=1_576_000, low=1_505_936,
               high=1_648_691, exact=1_597_115, inside=True, sample_build_s=20.7, sample_rows=490_000)  # fmt: skip
    md = "\n".join(markdown([row, {**row, "customers": 1_000_000, "builder_estimate_s": 0.3}]))
    assert "| 10,000,000 | nested count | 40 ms | 80000 ms | 2000x | 79 ms | 59000 ms |" in md
    figure, measured, target, met = summary([row, {**row, "customers": 1_000_000, "builder_estimate_s": 0.3}])
    assert "10,000,000" in figure and measured.startswith("79 ms") and target == "<= 150 ms" and met == "yes"
    assert summary([{**row, "builder_estimate_s": 0.2}])[3] == "**no**"
    assert summary([]) is None


def test_every_database(demo_backend, demo_frames, backend_name):
    """DuckDB and SQLite estimate on their sample (the count among the sampled keys as pandas counts
    it); PostgreSQL and MariaDB count exactly and say why (their pooled connections would not share a
    temporary table)."""
    w = workspace_for(demo_backend)
    est = Estimator(w.session, size=500, seed=2)
    o = demo_frames["orders"]
    n = o.groupby("customer_id").size()
    e = est.estimate("count(orders) >= 3")
    if backend_name in ("duckdb", "sqlite"):
        keys = set(est.sample_keys().iloc[:, 0].astype(int))
        assert not e.exact and e.members_in_sample == len(set(n.index[n >= 3]) & keys)
        est.drop()
    else:
        assert e.exact and e.value == int((n >= 3).sum()) and "only exact counts" in e.note
