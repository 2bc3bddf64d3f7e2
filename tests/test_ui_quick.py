"""QuickSegment driven headlessly; distributions and counts checked against pandas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import jupyter_segments as js
from jupyter_segments.backends import open_backend
from jupyter_segments.ui.quick import SHOWN, QuickSegment, Stats

ANCHOR = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = js.connect_demo(1500, seed=7, anchor=ANCHOR, catalog=str(tmp_path_factory.mktemp("q") / "cat.sqlite"))
    # An "intelligence table": one model score per customer (every third customer scored).
    w.backend.execute(
        "CREATE TABLE churn_model AS SELECT customer_id, (customer_id * 37 % 100) / 100.0 AS score, "
        "CASE WHEN customer_id % 3 = 0 THEN 'high' ELSE 'low' END AS band FROM customers WHERE customer_id % 3 <> 1"
    )
    w.refresh_model()
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    w.measure("total_spend", "sum(orders.amount)")
    yield w
    w.close()


@pytest.fixture(scope="module")
def frames(ws):
    con = ws.backend.connection
    return {
        t: con.execute(f"SELECT * FROM {t}").df()
        for t in ("customers", "orders", "support_calls", "churn_model")
    }


def pick_source(q: QuickSegment, kind: str, label: str | None = None) -> None:
    q.source.value = next(
        s for _, s in q.source.options if s.kind == kind and (label is None or s.label == label)
    )


def test_numeric_customer_field(ws, frames):
    c = frames["customers"]
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("age", "numeric")
    q.wait()
    expected = np.percentile(c.age.dropna(), SHOWN)  # linear interpolation = quantile_cont
    got = [q.stats.percentiles[p - 1] for p in SHOWN]
    assert np.allclose(got, expected)
    assert not q.stats.sampled and "computed in the database" in q.stats_html.value
    for p in SHOWN:
        assert f">p{p}<" in q.stats_html.value
    q.operator.value = ">"
    q.value.value = "50"
    assert q.wait() == int((c.age > 50).sum())
    assert q.text == "age > 50"
    # the percentile the value falls at: the percentiles equal to it (age is whole years: ties)
    equal = [p for p in range(1, 100) if np.percentile(c.age.dropna(), p) == 50]
    shown = q.percentile_label.value.split("<b>")[1].split("<")[0]
    assert shown == (f"p{equal[0]}" if len(equal) == 1 else f"p{equal[0]}–p{equal[-1]}")
    q.operator.value = "between"
    q.value2.value = "60"
    assert q.text == "age between 50 and 60"
    assert q.wait() == int(c.age.between(50, 60).sum())


def test_categorical_top_values(ws, frames):
    c = frames["customers"]
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("country", "categorical")
    q.wait()
    expected = c.groupby("country").customer_id.nunique().sort_values(ascending=False).head(10)
    top = q.stats.top.set_index("value")["customers"]
    assert dict(top.astype(int)) == dict(expected.astype(int))
    assert len(q.choice.options) == 10
    q.choice.value = "FR"
    assert q.text == "country = 'FR'"
    assert q.wait() == int((c.country == "FR").sum())


def test_measure_source(ws, frames):
    c, o = frames["customers"], frames["orders"]
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "measure")
    assert q.field.value == ("total_spend", "numeric")
    q.wait()
    spend = o.groupby("customer_id").amount.sum().reindex(c.customer_id).fillna(0)  # no orders -> 0
    assert np.allclose([q.stats.percentiles[p - 1] for p in SHOWN], np.percentile(spend, SHOWN))
    q.operator.value = ">"
    q.value.value = "400"
    assert q.text == "total_spend > 400"
    assert q.wait() == int((spend > 400).sum())


def test_intelligence_table_source(ws, frames):
    m = frames["churn_model"]
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "table", "churn_model")
    q.field.value = ("score", "numeric")
    q.value.value = "0.8"
    q.wait()
    assert np.allclose([q.stats.percentiles[p - 1] for p in SHOWN], np.percentile(m.score, SHOWN))
    assert q.text == "any(churn_model where score > 0.8)"
    assert q.wait() == m[m.score > 0.8].customer_id.nunique()
    q.field.value = ("band", "categorical")
    q.wait()
    q.choice.value = "high"
    assert q.text == "any(churn_model where band = 'high')"
    assert q.wait() == int((m.band == "high").sum())


def test_boolean_field_on_related_table(ws, frames):
    s = frames["support_calls"]
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "table", "support_calls")
    q.field.value = ("escalated", "categorical")
    q.wait()
    q.choice.value = True
    assert q.text == "any(support_calls where escalated = true)"
    assert q.wait() == s[s.escalated.fillna(False).astype(bool)].cust_id.nunique()


def test_save_creates_a_normal_segment(ws, frames):
    c = frames["customers"]
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("age", "numeric")
    q.wait()
    q.operator.value = "<"
    q.value.value = "25"
    q.save_button.click()
    assert q.messages.last_error == "enter a name for the segment"
    q.name.value = "quick_young"
    q.description.value = "under 25"
    q.save_button.click()
    assert q.messages.last_error is None
    seg = ws.get("quick_young")
    assert seg.definition == "age < 25" and seg.description == "under 25" and not seg.draft
    assert seg.refresh().members == int((c.age < 25).sum())


def test_bad_value_is_reported_inline(ws):
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("age", "numeric")
    q.wait()
    q.value.value = "abc"
    assert q.definition is None and "not a number" in q.count_label.value
    q.name.value = "bad"
    q.save_button.click()
    assert "not a number" in q.messages.last_error


def test_sampled_percentiles_on_sqlite(ws, frames, tmp_path):
    """SQLite has no percentile function: a bounded sample is read and the UI says how it was computed."""
    from jupyter_segments import demo

    path = tmp_path / "demo.sqlite"
    backend = open_backend(f"sqlite:///{path}")
    demo.copy_to(ws.backend.connection, backend, tables=["customers"])
    sws = js.Workspace(backend)
    sws.customers("customers", key="customer_id")
    q = QuickSegment(sws, delay=0.02)
    q.field.value = ("churn_score", "numeric")
    q.wait()
    c = frames["customers"]
    assert np.allclose(
        [q.stats.percentiles[p - 1] for p in SHOWN], np.percentile(c.churn_score.dropna(), SHOWN)
    )
    assert not q.stats.in_database and not q.stats.sampled
    assert "read from the database (it has no percentile function)" in q.stats_html.value
    q.value.value = "0.5"
    assert q.wait() == int((c.churn_score > 0.5).sum())
    backend.close()


def test_percentile_of_bounds(ws):
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("age", "numeric")
    q.wait()
    assert q.percentile_of(-5) == "below p1"
    assert q.percentile_of(10_000) == "above p99"


def test_value_is_not_carried_into_another_field(ws, frames):
    """Issue 17, item 4: age 67 (p75) must not become 'total_spend > 67' after switching field."""
    c = frames["customers"]
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("age", "numeric")
    q.wait()
    age_p75 = np.percentile(c.age.dropna(), 75)
    assert float(q.value.value) == pytest.approx(age_p75, rel=0.01)
    q.value.value = "67"
    q.wait()
    pick_source(q, "measure")
    q.wait()
    field = q.field.value[0]
    assert q.value.value != "67"
    assert q.text.startswith(f"{field} > ")
    assert q.stats.percentiles[74] == pytest.approx(float(q.value.value), rel=0.01)


def test_a_value_equal_to_a_percentile_is_named_by_it(ws, frames):
    """Bug 11: '66 falls at p74' beside a table saying p75 = 66."""
    ages = frames["customers"].age.dropna()
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("age", "numeric")
    q.wait()
    p75 = np.percentile(ages, 75)
    assert float(q.value.value) == p75
    label = q.percentile_label.value
    equal = [p for p in range(1, 100) if np.percentile(ages, p) == p75]
    assert 75 in equal
    assert f"{q.value.value} falls at <b>" in label
    named = label.split("<b>")[1].split("<")[0]
    assert named == (f"p{equal[0]}" if len(equal) == 1 else f"p{equal[0]}–p{equal[-1]}")
    # between two percentiles, interpolated: a value just above p75 lands between p75 and the next one
    above = next(p for p in range(76, 100) if np.percentile(ages, p) > p75)
    middle = (p75 + np.percentile(ages, above)) / 2
    got = int(q.percentile_of(middle)[1:])
    assert equal[-1] <= got <= above


def test_a_tie_at_p74_and_p75_is_not_reported_as_p74_alone(ws):
    """Bug 11 as seen: 66 was at p74 and p75; the label said 'p74' beside a table showing p75 = 66."""
    values = np.concatenate(
        [np.linspace(1, 65, 735), np.full(20, 66.0), np.linspace(67, 90, 245)]
    )  # 66s at p74-p75
    pct = list(np.percentile(values, range(1, 100)))
    equal = [p for p in range(1, 100) if pct[p - 1] == 66]
    assert 75 in equal and len(equal) >= 2  # the situation of the bug: a tie that includes p75
    q = QuickSegment(ws, delay=0.02)
    q.stats = Stats("numeric", percentiles=pct, non_null=len(values))
    assert q.percentile_of(66) == f"p{equal[0]}–p{equal[-1]}"


def test_saving_under_a_taken_name_asks_and_the_form_starts_empty(ws, frames):
    """Bug 9: saving under an existing name overwrote without asking; the display name stayed for the next."""
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    q.field.value = ("age", "numeric")
    q.wait()
    q.operator.value = ">"
    q.value.value = "60"
    q.name.value, q.display_name.value = "quick_old", "Older customers"
    q.save_button.click()
    assert q.messages.last_error is None and ws.get("quick_old").display_name == "Older customers"
    assert q.name.value == q.display_name.value == q.description.value == ""
    q.value.value = "70"
    q.name.value = "quick_old"
    q.save_button.click()
    assert "exists already" in q.messages.last_error and "Replace" in q.messages.last_error
    assert ws.get("quick_old").definition == "age > 60" and ws.get("quick_old").version == 1
    assert q.replace_button.layout.display == ""
    q.replace_button.click()
    assert q.messages.last_error is None
    seg = ws.get("quick_old")
    assert seg.definition == "age > 70" and seg.version == 2 and q.replace_button.layout.display == "none"


def test_threshold_sweep_counts_one_query_per_field(ws, frames, monkeypatch):
    """The count at each shown percentile (field > x) equals pandas; one ws.sweep, one query per field."""
    c, scores = frames["customers"], frames["churn_model"]
    sweeps, sweep_queries, queries = [], [], []
    real_sweep, real_query = ws.sweep, ws.backend.query

    def counted_sweep(*a, **k):  # the sweep's SQL runs on the widget's worker connection (fetch=)
        sweeps.append(a)
        worker = k["fetch"]
        return real_sweep(*a, **{**k, "fetch": lambda sql: sweep_queries.append(sql) or worker(sql)})

    monkeypatch.setattr(ws, "sweep", counted_sweep)
    # Nothing runs on the notebook's own connection from the widget's thread.
    monkeypatch.setattr(
        ws.backend, "query", lambda sql, *a, **k: queries.append(sql) or real_query(sql, *a, **k)
    )
    q = QuickSegment(ws, delay=0.02)
    pick_source(q, "customer")
    cases = [  # (a categorical field to start from, the numeric field, pandas count of field > t)
        ("country", ("age", "numeric"), lambda t: int((c.age > t).sum())),
        ("band", ("score", "numeric"), lambda t: scores.loc[scores.score > t, "customer_id"].nunique()),
    ]
    for before, field, oracle in cases:
        if field[0] == "score":
            pick_source(q, "table", "churn_model")
        q.field.value = (before, "categorical")
        q.wait()
        sweeps.clear()
        sweep_queries.clear()
        queries.clear()
        q.field.value = field
        q.wait()
        assert len(sweeps) == 1 and len(sweep_queries) == 1 and queries == []
        pct = q.stats.percentiles
        xs = sorted({pct[p - 1] for p in SHOWN})
        assert list(q.stats.sweep["x"]) == xs
        assert [int(m) for m in q.stats.sweep["members"]] == [oracle(t) for t in xs]
        for t in xs:  # the table beside the chart shows each count
            assert f'<td class="num">{oracle(t):,}</td>' in q.sweep_html.value
        # the chosen threshold (p75 at first) is marked; typing another value moves the mark, no new sweep
        assert q.sweep_html.value.count('class="num chosen"') == 1
        q.value.value = repr(float(xs[0]))
        q.wait()
        assert len(sweeps) == 1
        assert q.sweep_html.value.count('class="num chosen"') == 1 and 'class="chosen"' in q.sweep_html.value
        line = next(ln for ln in q.to_text().splitlines() if "> x:" in ln)  # the plain-text copy
        assert [int(part.rsplit(":", 1)[1].replace(",", "")) for part in line.split("> x:")[1].split()] == [
            oracle(t) for t in xs
        ]
        assert q.sweep_html.value in q.static_html()
    q.close()
