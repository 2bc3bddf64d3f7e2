"""Assumed referential integrity: what it lets the compiler skip, and what it must never change.

``ws.relate(..., assume_integrity=True)`` is the user's word that every non-NULL child value has its
parent. Segments that only need the child's rows then read the child table alone (GROUP BY ...
HAVING) instead of joining the customer table. On data that keeps the promise the members are the
same (checked against the pandas oracle on every database); NULL child values never become members;
without the promise, orphans never become members; ``ws.check_integrity()`` counts the orphans.
"""

from __future__ import annotations

import re

import oracle as O
import pandas as pd
import pytest
from conftest import DEMO_ANCHOR
from test_engine_oracle import CASES, Demo, workspace_for

from jupyter_segments import Workspace, demo
from jupyter_segments.backends.base import Backend

_ASSUMING: dict[int, Workspace] = {}


def assuming_workspace(backend: Backend) -> Workspace:
    """The oracle suite's workspace, modelled as connect_demo models the demo: integrity assumed."""
    ws = _ASSUMING.get(id(backend))
    if ws is None:
        plain = workspace_for(backend)  # also analyzes the server databases' tables
        ws = Workspace(backend)
        demo.declare_model(ws.model)
        ws.session.segment_source = plain.session.segment_source
        _ASSUMING[id(backend)] = ws
    return ws


@pytest.fixture(scope="module")
def frames_demo(demo_frames) -> Demo:
    return Demo(demo_frames)


def test_the_demo_keeps_its_promise(demo_backend):
    report = assuming_workspace(demo_backend).check_integrity()
    assert report["ok"].all() and (report["duplicates"] == 0).all() and (report["null_keys"] == 0).all()
    assert (
        report["check"].iloc[0] == "customer key"
        and report["relationship"].iloc[0] == "customers.customer_id"
    )
    assert int(report["orphans"].notna().sum()) == 3 and (report["orphans"].dropna() == 0).all()


def test_every_case_that_skips_the_customer_table_matches_the_oracle(demo_backend, frames_demo):
    """Every oracle case that the promise lets skip the customer table gives the oracle's members.

    (On DuckDB and PostgreSQL the demo's declared FOREIGN KEYs already allow it for orders and
    support calls: test_engine_oracle covers those too.)"""
    assuming = assuming_workspace(demo_backend)
    skipped = []
    for name, text, expected in CASES:
        sql = assuming.compile(text, as_of=DEMO_ANCHOR, pretty=False)
        if re.search(r"\bFROM customers\b", sql):
            continue
        skipped.append(name)
        want = O.members(expected(frames_demo))
        got = sorted(int(k) for k in assuming.member_keys(text, as_of=DEMO_ANCHOR))
        assert got == want, f"{demo_backend.dialect} {name}: {len(got)} members, oracle {len(want)}\n{sql}"
        assert assuming.count(text, as_of=DEMO_ANCHOR) == len(want), name
    assert len(skipped) >= 10, skipped  # the shortcut is exercised, not bypassed


@pytest.fixture
def orphans(demo_backend, demo_frames):
    """``ix_orders``: orders of real customers, of customers that do not exist, and of nobody (NULL)."""
    real = demo_frames["customers"]["customer_id"].astype("int64").tolist()[:40]
    rows = [(i, k, 10.0 * (i % 7)) for i, k in enumerate(real * 3)]
    missing = [10_000_000 + i for i in range(5)]
    rows += [(1000 + i, k, 50.0) for i, k in enumerate(missing * 4)]
    rows += [(2000 + i, None, 70.0) for i in range(6)]
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "amount"])
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    demo_backend.write_table("ix_orders", frame)
    yield frame
    demo_backend.drop_table("ix_orders")


def _oracle(frame: pd.DataFrame, customers: pd.Series, least: int) -> list[int]:
    """Customers with at least ``least`` ix_orders, computed in pandas."""
    counts = frame.dropna(subset=["customer_id"]).groupby("customer_id").size()
    return sorted(int(k) for k in counts[counts >= least].index if k in set(customers.astype("int64")))


def _workspace(backend: Backend, *, assume: bool) -> Workspace:
    ws = Workspace(backend)
    ws.customers("customers", key="customer_id")
    ws.relate("ix_orders", "customers", on="customer_id", assume_integrity=assume)
    return ws


def test_orphans_are_never_members_without_the_promise(demo_backend, demo_frames, orphans):
    ws = _workspace(demo_backend, assume=False)
    want = _oracle(orphans, demo_frames["customers"]["customer_id"], 2)
    assert len(want) == 40
    assert sorted(int(k) for k in ws.member_keys("count(ix_orders) >= 2")) == want
    assert ws.count("count(ix_orders) >= 2") == len(want)
    assert sorted(int(k) for k in ws.member_keys("any(ix_orders where amount >= 50)")) == _oracle(
        orphans[orphans["amount"] >= 50], demo_frames["customers"]["customer_id"], 1
    )
    report = ws.check_integrity(all_relationships=True)
    row = report[report["relationship"].str.startswith("ix_orders.customer_id ")]
    assert row["orphans"].tolist() == [20] and not row["ok"].any()
    default = ws.check_integrity()  # nothing is assumed: no orphans counted, the keys still checked
    assert default["orphans"].isna().all() and default["ok"].all()


def test_null_child_values_are_never_members_with_the_promise(demo_backend, demo_frames, orphans):
    kept = pd.concat([orphans[orphans["customer_id"] < 10_000_000], orphans[orphans["customer_id"].isna()]])
    demo_backend.write_table("ix_orders", kept.reset_index(drop=True))
    ws = _workspace(demo_backend, assume=True)
    report = ws.check_integrity()
    assert report[report["orphans"].notna()]["relationship"].str.startswith("ix_orders.").tolist() == [True]
    assert report["ok"].all()  # the link's orphans (none: the NULLs point nowhere), every key
    customers = demo_frames["customers"]["customer_id"]
    # The NULL group has 6 orders of 70.0: it would pass both tests if it were a member.
    for text, want in [
        ("count(ix_orders) >= 3", _oracle(kept, customers, 3)),
        (
            "sum(ix_orders.amount) >= 100",
            sorted(
                int(k)
                for k, v in kept.dropna(subset=["customer_id"]).groupby("customer_id")["amount"].sum().items()
                if v >= 100
            ),
        ),
        ("any(ix_orders where amount = 70)", []),
    ]:
        assert "FROM customers" not in ws.compile(text, pretty=False), text
        assert sorted(int(k) for k in ws.member_keys(text)) == want, text
        assert ws.count(text) == len(want), text
