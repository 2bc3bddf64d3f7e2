"""Issue 21: explain one customer, near misses, threshold sweeps, against the pandas oracle.

Each test runs on DuckDB, SQLite, PostgreSQL and MariaDB (the ``demo_backend`` fixture), on the demo
data, with a fixed ``as_of``. The oracle computes every condition with pandas (tests/oracle.py and the
Demo frames of test_engine_oracle), never with the compiler.
"""

from __future__ import annotations

import math

import oracle as O
import pandas as pd
import pytest
from conftest import DEMO_ANCHOR
from test_engine_oracle import CASES, SEGMENT_CASES, Demo, window, workspace_for

from jupyter_segments import SegmentError, Workspace


@pytest.fixture(scope="module")
def demo(demo_frames) -> Demo:
    return Demo(demo_frames)


@pytest.fixture
def ws(demo_backend) -> Workspace:
    return workspace_for(demo_backend)


def _truth(value) -> bool | None:
    return None if pd.isna(value) else bool(value)


def _same(got, want) -> bool:
    if want is None or (not isinstance(want, str) and pd.isna(want)):
        return got is None
    if isinstance(want, str):
        return got == want
    if isinstance(want, pd.Timestamp):
        return pd.Timestamp(got) == want
    return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-6)


# (definition, leaves: [(oracle truth, [oracle values of what it compared])], oracle of the whole)
EXPLAIN_CASES = [
    (
        "sum(orders.amount) >= 1000 and (country = 'DE' or age > 40) and any(support_calls where escalated)",
        lambda d: [
            (O.cmp(d.agg("sum", "orders", "amount"), ">=", 1000), [d.agg("sum", "orders", "amount")]),
            (O.cmp(d.c.country, "=", "DE"), [d.c.country]),
            (O.cmp(d.c.age, ">", 40), [d.c.age]),
            (
                d.ex("any", "support_calls", lambda r: O.tv(r.escalated)),
                [d.agg("count", "support_calls", where=lambda r: O.tv(r.escalated))],
            ),
        ],
        lambda d: (
            O.cmp(d.agg("sum", "orders", "amount"), ">=", 1000)
            & (O.cmp(d.c.country, "=", "DE") | O.cmp(d.c.age, ">", 40))
            & d.ex("any", "support_calls", lambda r: O.tv(r.escalated))
        ),
    ),
    (
        # A saved segment whose text is a set operator over two more saved segments; a NULL-able score.
        "in segment either and churn_score > 0.5",
        lambda d: [
            (O.cmp(d.c.country, "=", "DE"), [d.c.country]),
            (O.cmp(d.c.age, ">", 50), [d.c.age]),
            (O.cmp(d.c.churn_score, ">", 0.5), [d.c.churn_score]),
        ],
        lambda d: (
            O.union(O.cmp(d.c.country, "=", "DE"), O.cmp(d.c.age, ">", 50)) & O.cmp(d.c.churn_score, ">", 0.5)
        ),
    ),
    (
        # avg over no orders is NULL: the comparison is unknown, and so may the OR be.
        "none(orders where status = 'returned') or avg(orders.amount where channel = 'web') < 100",
        lambda d: [
            (
                d.ex("none", "orders", lambda r: O.cmp(r.status, "=", "returned")),
                [d.agg("count", "orders", where=lambda r: O.cmp(r.status, "=", "returned"))],
            ),
            (
                O.cmp(d.agg("avg", "orders", "amount", lambda r: O.cmp(r.channel, "=", "web")), "<", 100),
                [d.agg("avg", "orders", "amount", lambda r: O.cmp(r.channel, "=", "web"))],
            ),
        ],
        lambda d: (
            d.ex("none", "orders", lambda r: O.cmp(r.status, "=", "returned"))
            | O.cmp(d.agg("avg", "orders", "amount", lambda r: O.cmp(r.channel, "=", "web")), "<", 100)
        ),
    ),
]


EXPLAIN_CASES.append(
    (
        # between, in list, a date window and arithmetic on an aggregate; dates come back as dates.
        "age between 30 and 50 and country in ('DE', 'FR') and signup_date in last 2 years "
        "and count(orders) * 2 > 10",
        lambda d: [
            (O.between(d.c.age, 30, 50), [d.c.age]),
            (O.in_list(d.c.country, ["DE", "FR"]), [d.c.country]),
            (window(d.c.signup_date, pd.DateOffset(years=2)), [d.c.signup_date]),
            (O.cmp(d.agg("count", "orders") * 2, ">", 10), [d.agg("count", "orders") * 2]),
        ],
        lambda d: (
            O.between(d.c.age, 30, 50)
            & O.in_list(d.c.country, ["DE", "FR"])
            & window(d.c.signup_date, pd.DateOffset(years=2))
            & O.cmp(d.agg("count", "orders") * 2, ">", 10)
        ),
    )
)


def _customers(d: Demo, whole: pd.Series) -> list[int]:
    """Three members, three non-members, a customer without orders, one whose truth is unknown."""
    members = O.members(whole)
    others = [k for k in d.K if k not in set(members)]
    no_orders = [k for k in d.K if k not in set(d.o.customer_id.dropna())]
    unknown = list(whole.index[whole.isna().to_numpy(dtype=bool)])
    picked = members[:3] + others[:3] + no_orders[:1] + unknown[:1]
    return list(dict.fromkeys(int(k) for k in picked))


@pytest.mark.parametrize("case", range(len(EXPLAIN_CASES)))
def test_explain_against_oracle(ws: Workspace, demo: Demo, case: int) -> None:
    text, leaves_of, whole_of = EXPLAIN_CASES[case]
    leaves, whole = leaves_of(demo), whole_of(demo)
    customers = _customers(demo, whole)
    assert any(whole.loc[k] is True or whole.loc[k] == True for k in customers)  # noqa: E712
    for key in customers:
        found = ws.explain(text, key, as_of=DEMO_ANCHOR, records=False)
        assert found.verdict == bool(whole.fillna(False).loc[key]), (key, str(found))
        assert found.tree.truth == _truth(whole.loc[key]), (key, str(found))
        got = [leaf for leaf in found.tree.leaves()]
        assert len(got) == len(leaves), str(found)
        for leaf, (truth, values) in zip(got, leaves, strict=True):
            assert leaf.truth == _truth(truth.loc[key]), (key, leaf.text, str(found))
            assert len(leaf.values) == len(values), (leaf.text, leaf.values)
            for (label, value), want in zip(leaf.values, values, strict=True):
                assert _same(value, want.loc[key]), (key, leaf.text, label, value, want.loc[key])
        assert "SELECT" in found.sql.upper() and found.sql.count("WHERE") >= 1
        assert str(found).startswith(f"customer {key}: ")
        assert "<li>" in found._repr_html_()


def test_explain_groups_and_records(ws: Workspace, demo: Demo) -> None:
    text = EXPLAIN_CASES[0][0]
    spend = demo.agg("sum", "orders", "amount")
    busy = [int(k) for k in demo.K if int((demo.o.customer_id == k).sum()) > 20][:1]
    few = [int(k) for k in demo.K if 0 < int((demo.o.customer_id == k).sum()) <= 5][:1]
    assert busy and few
    for key in busy + few:
        found = ws.explain(text, key, as_of=DEMO_ANCHOR)
        nodes = list(found.tree.walk())
        assert [n.kind for n in nodes][:1] == ["and"]
        orr = next(n for n in nodes if n.kind == "or")
        want_or = O.cmp(demo.c.country, "=", "DE") | O.cmp(demo.c.age, ">", 40)
        assert orr.truth == _truth(want_or.loc[key])
        total = next(n for n in nodes if n.kind == "condition" and n.text.startswith("sum("))
        ((label, frame),) = total.records
        want_orders = sorted(int(i) for i in demo.o.order_id[demo.o.customer_id == key])
        assert [int(i) for i in frame["order_id"]] == want_orders[:20]
        assert math.isclose(dict(total.values)["sum(orders.amount)"], float(spend.loc[key]), abs_tol=1e-6)
        calls = next(n for n in nodes if n.kind == "condition" and n.text.startswith("any("))
        ((_, rows),) = calls.records
        escalated = demo.sc[(demo.sc.cust_id == key) & demo.sc.escalated.fillna(False).astype(bool)]
        assert sorted(int(i) for i in rows["call_id"]) == sorted(int(i) for i in escalated.call_id)[:20]


def test_explain_saved_name_and_unknown_key(ws: Workspace, demo: Demo) -> None:
    vip = O.cmp(demo.agg("sum", "orders", "amount"), ">=", 1000)
    member, other = O.members(vip)[0], next(int(k) for k in demo.K if not vip.fillna(False).loc[k])
    assert ws.explain("vip", member, as_of=DEMO_ANCHOR).verdict is True
    assert ws.explain("vip", str(other), as_of=DEMO_ANCHOR).verdict is False  # a key typed as text
    with pytest.raises(SegmentError, match="no customer with key"):
        ws.explain("vip", 10**9, as_of=DEMO_ANCHOR)


def test_near_misses_against_oracle(ws: Workspace, demo: Demo) -> None:
    text = "sum(orders.amount) >= 1000 and country = 'DE' and age > 30"
    spend = demo.agg("sum", "orders", "amount")
    parts = [O.cmp(spend, ">=", 1000), O.cmp(demo.c.country, "=", "DE"), O.cmp(demo.c.age, ">", 30)]
    failing = pd.concat([~p.fillna(False) for p in parts], axis=1, keys=range(3)).astype(int)
    n_failed = failing.sum(axis=1)
    found = ws.near_misses(text, as_of=DEMO_ANCHOR, limit=100_000)
    assert found.members == int((n_failed == 0).sum())
    want_counts = [int(((n_failed == 1) & (failing[i] == 1)).sum()) for i in range(3)]
    assert found.counts["customers"].tolist() == want_counts
    assert found.counts["condition"].tolist() == ["sum(orders.amount) >= 1000", "country = 'DE'", "age > 30"]
    got = {int(r.customer_id): r for r in found.customers.itertuples()}
    want = {int(k) for k in n_failed.index[n_failed == 1]}
    assert set(got) == want
    for k in list(want)[:50]:
        failed = [i for i in range(3) if failing.loc[k, i] == 1]
        assert got[k].failed == [found.conditions[failed[0]]]
        if failed == [0]:
            assert math.isclose(got[k].gap, 1000 - float(spend.loc[k]), abs_tol=1e-6)
    gaps = found.customers["gap"].dropna().tolist()
    assert gaps == sorted(gaps)


def test_near_miss_counts_alone_are_one_query(ws: Workspace, demo: Demo, monkeypatch) -> None:
    """What the builder shows beside each top-level row (a nested group is one row): limit=0."""
    text = "sum(orders.amount) >= 1000 and (country = 'DE' or age > 60)"
    spend = demo.agg("sum", "orders", "amount")
    parts = [O.cmp(spend, ">=", 1000), O.cmp(demo.c.country, "=", "DE") | O.cmp(demo.c.age, ">", 60)]
    failing = pd.concat([~p.fillna(False) for p in parts], axis=1, keys=range(2)).astype(int)
    only = [int(((failing.sum(axis=1) == 1) & (failing[i] == 1)).sum()) for i in range(2)]
    sent = []
    fetch = ws.session.fetch
    monkeypatch.setattr(ws.session, "fetch", lambda sql: sent.append(sql) or fetch(sql))
    found = ws.near_misses(text, as_of=DEMO_ANCHOR, limit=0)
    assert len(sent) == 1 and found.customers.empty
    assert found.counts["customers"].tolist() == only
    assert found.counts["condition"].tolist() == ["sum(orders.amount) >= 1000", "country = 'DE' or age > 60"]


@pytest.mark.parametrize(
    ("template", "grid"),
    [
        ("sum(orders.amount where channel = 'web') >= {x}", {"x": [0, 100, 500, 1000, 2000, 10**7]}),
        ("age > {a} and count(orders) >= {n}", {"a": [30, 60], "n": [1, 5, 10]}),
    ],
)
def test_sweep_against_oracle_and_counts(ws: Workspace, demo: Demo, template: str, grid: dict) -> None:
    frame = ws.sweep(template, as_of=DEMO_ANCHOR, **grid)
    web = demo.agg("sum", "orders", "amount", lambda r: O.cmp(r.channel, "=", "web"))
    n_orders = demo.agg("count", "orders")
    for row in frame.to_dict("records"):
        if "x" in row:
            want = len(O.members(O.cmp(web, ">=", row["x"])))
        else:
            want = len(O.members(O.cmp(demo.c.age, ">", row["a"]) & O.cmp(n_orders, ">=", row["n"])))
        assert row["members"] == want, row
        params = {k: v for k, v in row.items() if k != "members"}
        assert ws.count(template, as_of=DEMO_ANCHOR, params=params) == want
    assert len(frame) == math.prod(len(v) for v in grid.values())


def test_near_misses_two_failed_and_dates(ws: Workspace, demo: Demo) -> None:
    text = "signup_date >= '2024-01-01' and count(orders) >= 10 and newsletter"
    n_orders = demo.agg("count", "orders")
    parts = [
        O.cmp(demo.c.signup_date, ">=", pd.Timestamp("2024-01-01")),
        O.cmp(n_orders, ">=", 10),
        O.tv(demo.c.newsletter),
    ]
    failing = pd.concat([~p.fillna(False) for p in parts], axis=1, keys=range(3)).astype(int)
    n_failed = failing.sum(axis=1)
    found = ws.near_misses(text, max_failed=2, as_of=DEMO_ANCHOR, limit=100_000)
    got = {int(r.customer_id): r for r in found.customers.itertuples()}
    assert set(got) == {int(k) for k in n_failed.index[(n_failed >= 1) & (n_failed <= 2)]}
    assert found.counts["customers"].tolist() == [
        int(((n_failed == 1) & (failing[i] == 1)).sum()) for i in range(3)
    ]
    only_date = [k for k in got if n_failed.loc[k] == 1 and failing.loc[k, 0] == 1]
    assert only_date
    for k in only_date[:20]:
        signup = pd.Timestamp(demo.c.signup_date.loc[k])
        assert got[k].gap == (pd.Timestamp("2024-01-01") - signup).days
        assert pd.Timestamp(got[k].value) == signup
    two = [k for k in got if n_failed.loc[k] == 2]
    assert two and all(len(got[k].failed) == 2 and pd.isna(got[k].gap) for k in two[:20])


ALL_FORMS = CASES + SEGMENT_CASES


# Oracles that answer FALSE where SQL's answer is NULL (they only model membership).
TWO_VALUED = {"division_by_zero"}


@pytest.mark.parametrize(("case", "text", "expected"), ALL_FORMS, ids=[c[0] for c in ALL_FORMS])
def test_explain_verdict_on_every_form(ws: Workspace, demo: Demo, case: str, text: str, expected) -> None:
    """Every DSL form of the oracle suite: the verdict and the whole condition's three-valued truth
    for two members, two non-members and one customer whose condition is unknown, if any."""
    whole = expected(demo)
    members = O.members(whole)
    false = list(whole.index[(whole == False).fillna(False).to_numpy(dtype=bool)])  # noqa: E712
    unknown = list(whole.index[whole.isna().to_numpy(dtype=bool)])
    for key in list(dict.fromkeys(int(k) for k in members[:2] + false[:2] + unknown[:1])):
        found = ws.explain(text, key, as_of=DEMO_ANCHOR, records=False)
        assert found.verdict == (key in members), (key, str(found))
        if case not in TWO_VALUED:
            assert found.tree.truth == _truth(whole.loc[key]), (key, str(found))


def test_explain_records_two_steps_and_all(ws: Workspace, demo: Demo) -> None:
    """The records of a two-step aggregate (order lines through orders) and the offending records of
    all() (those whose condition is not TRUE, NULL included), against pandas."""
    text = "sum(orders.order_lines.quantity where quantity > 3) > 10 and all(support_calls where escalated = false)"
    lines, calls = demo.ol, demo.sc
    with_calls = calls.cust_id.dropna().astype(int).unique().tolist()
    for key in with_calls[:3] + [int(k) for k in demo.K if int(k) not in set(with_calls)][:1]:
        found = ws.explain(text, key, as_of=DEMO_ANCHOR)
        leaves = found.tree.leaves()
        ((_, rows),) = leaves[0].records
        want = lines[(lines.customer_id == key) & (lines.quantity > 3).fillna(False)]
        assert [int(i) for i in rows["line_id"]] == sorted(int(i) for i in want.line_id)[:20]
        ((_, offending),) = leaves[1].records
        own = calls[calls.cust_id == key]
        bad = own[~(own.escalated == False).fillna(False).astype(bool)]  # noqa: E712
        assert sorted(int(i) for i in offending["call_id"]) == sorted(int(i) for i in bad.call_id)[:20]
        assert leaves[1].truth == (len(bad) == 0)


def test_explain_unknown_name_names_the_nearest_segment(ws: Workspace) -> None:
    with pytest.raises(SegmentError, match=r"no saved segment 'vipp'.*did you mean.*vip.*as a definition"):
        ws.explain("vipp", 1, as_of=DEMO_ANCHOR)
