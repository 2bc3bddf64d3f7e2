"""Shared refresh into tables, bookkeeping batched: counts vs pandas on every backend, one count query."""

from __future__ import annotations

import pandas as pd
import pytest
import test_catalog_support as H

from jupyter_segments import Workspace
from jupyter_segments.catalog import members as M


def _spend(f: dict[str, pd.DataFrame], threshold: float) -> set[int]:
    return H.vip_keys(f, threshold)


def _de_older(f: dict[str, pd.DataFrame], age: int) -> set[int]:
    c = f["customers"]
    return set(int(k) for k in c.loc[(c["country"] == "DE") & (c["age"] >= age), "customer_id"])


@pytest.mark.parametrize("shared", [True, False])
def test_added_removed_on_every_backend(demo_backend, demo_frames, monkeypatch, shared):
    """Edits change the members; added/removed must match set differences computed in pandas."""
    ws = Workspace(demo_backend, catalog=":memory:")
    ws.customers("customers", key="customer_id")
    ws.members_prefix = H.unique("seg_")
    calls: list[int] = []
    real = M.member_counts

    def spy(backend, pairs, key):  # the real counting runs; we only note how many segments per query
        calls.append(len(pairs))
        return real(backend, pairs, key)

    monkeypatch.setattr(M, "member_counts", spy)
    defs = {"big": (1000, 800), "de": (30, 50), "huge": (5000, 100000)}  # huge ends up empty
    ws.segment("big", "sum(orders.amount) >= 1000")
    ws.segment("de", "country = 'DE' and age >= 30")
    ws.segment("huge", "sum(orders.amount) >= 5000")
    try:
        first = {r.segment: r for r in ws.refresh(shared=shared)}
        before = {
            "big": _spend(demo_frames, 1000),
            "de": _de_older(demo_frames, 30),
            "huge": _spend(demo_frames, 5000),
        }
        for name, run in first.items():
            assert run.status == "Successful", run.errors
            assert (run.members, run.added, run.removed) == (len(before[name]), len(before[name]), 0)
        ws.get("big").edit("sum(orders.amount) >= 800")
        ws.get("de").edit("country = 'DE' and age >= 50")
        ws.get("huge").edit("sum(orders.amount) >= 100000")
        after = {
            "big": _spend(demo_frames, defs["big"][1]),
            "de": _de_older(demo_frames, defs["de"][1]),
            "huge": set(),
        }
        calls.clear()
        second = {r.segment: r for r in ws.refresh(shared=shared)}
        for name, run in second.items():
            assert run.status == "Successful", run.errors
            assert not [w for w in run.warnings if "batched" in w], run.warnings
            assert run.members == len(after[name])
            assert run.added == len(after[name] - before[name])
            assert run.removed == len(before[name] - after[name])
            assert set(int(k) for k in ws.get(name).keys()) == after[name]
            diff = ws.get(name).diff()
            assert set(diff.loc[diff["change"] == "left", "customer_id"]) == before[name] - after[name]
        assert second["big"].added > 0 and second["de"].removed > 0 and second["huge"].removed > 0
        # Shared (not MySQL, whose DDL is not transactional): one count query for all segments.
        batched = shared and demo_backend.dialect != "mysql"
        assert calls == ([3] if batched else [1, 1, 1])
    finally:
        for name in ("big", "de", "huge"):
            ws.get(name).delete()
    assert not [t for t in demo_backend.tables() if t.startswith(ws.members_prefix) or t.startswith("_js_")]
