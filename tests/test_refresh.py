"""Refresh: counts against pandas, shared vs one-by-one, dependency order, added/removed vs set
arithmetic after the data changes, failure keeps previous members, lifecycle, Parquet location,
scheduler and the command line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time

import duckdb
import pandas as pd
import pytest
import test_catalog_support as H
from conftest import DEMO_ANCHOR
from sqlglot import exp

from jupyter_segments import SegmentError, Workspace
from jupyter_segments.refresh import apply_schedule, dependency_order

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SEGMENTS = {
    "vip": H.VIP,
    "de": H.DE,
    "de_vip": "in segment vip and in segment de",
    "not_vip_callers": "count(support_calls) >= 3 and not in segment vip",
    "recent": "any(orders where order_date in last 30 days) project max(orders.order_date) as last_order",
    "returners": "count(orders where status = 'returned') >= 2 project count(orders) as n_orders",
}


def oracle_sets(f: dict[str, pd.DataFrame], calls: pd.DataFrame) -> dict[str, set[int]]:
    """Independent membership of every segment above, in pandas."""
    o, c = f["orders"], f["customers"]
    vip, de = H.vip_keys(f), H.de_keys(f)
    n_calls = calls.groupby("cust_id").size()
    callers = set(int(k) for k in n_calls[n_calls >= 3].index)
    start = pd.Timestamp(DEMO_ANCHOR) - pd.Timedelta(days=30)
    recent_o = o[
        (pd.to_datetime(o["order_date"]) >= start)
        & (pd.to_datetime(o["order_date"]) <= pd.Timestamp(DEMO_ANCHOR))
    ]
    returned = o[o["status"] == "returned"].groupby("customer_id").size()
    return {
        "vip": vip,
        "de": de,
        "de_vip": vip & de,
        "not_vip_callers": (callers - vip) & set(int(k) for k in c["customer_id"]),
        "recent": set(int(k) for k in recent_o["customer_id"]),
        "returners": set(int(k) for k in returned[returned >= 2].index),
    }


@pytest.fixture
def db():
    conn = H.fresh_demo()
    yield conn
    conn.close()


def make(conn, **kw) -> Workspace:
    ws = H.workspace(conn, **kw)
    for name, text in SEGMENTS.items():
        ws.segment(name, text)
    return ws


def truth(conn) -> dict[str, set[int]]:
    return oracle_sets(H.frames(conn), conn.execute("SELECT * FROM support_calls").df())


@pytest.mark.parametrize("shared", [True, False])
def test_refresh_all_matches_pandas(db, shared):
    ws = make(db)
    runs = ws.refresh(shared=shared, as_of=DEMO_ANCHOR)
    expected = truth(db)
    assert {r.segment: r.status for r in runs} == dict.fromkeys(SEGMENTS, "Successful")
    for run in runs:
        seg = ws.get(run.segment)
        assert set(seg.keys()) == expected[run.segment], run.segment
        assert run.members == len(expected[run.segment]) == seg.count
        assert (run.added, run.removed) == (run.members, 0)
    # Projections are materialized with the keys and come back in preview/members.
    members = ws.get("returners").members().set_index("customer_id")
    o = H.frames(db)["orders"]
    n_orders = o.groupby("customer_id").size()
    assert (members["n_orders"] == n_orders.loc[members.index]).all()
    recent = ws.get("recent").preview()
    assert list(recent["customer_id"]) == sorted(expected["recent"])[:100]
    assert "last_order" in recent.columns and "first_name" in recent.columns


def test_shared_and_one_by_one_agree_and_one_scan(db):
    ws = make(db)
    from jupyter_segments.refresh import combined_select

    trees = [ws.parse(t) for t in SEGMENTS.values()]
    select = combined_select(ws.session, trees, DEMO_ANCHOR)
    # One derived table over orders serves the aggregates of all segments (vip, de_vip via vip,
    # not_vip_callers via vip, recent's projection, returners): shared aggregates, one scan.
    derived = [s.alias for s in select.find_all(exp.Subquery) if s.alias and s.alias != "flags"]
    assert sorted(a.rsplit("_", 1)[0] for a in derived) == ["orders_agg", "support_calls_agg"]
    a = {r.segment: set(ws.get(r.segment).keys()) for r in ws.refresh(shared=True, as_of=DEMO_ANCHOR)}
    b = {r.segment: set(ws.get(r.segment).keys()) for r in ws.refresh(shared=False, as_of=DEMO_ANCHOR)}
    assert a == b == truth(db)


def test_dependency_order_and_skipped_dependents(db):
    ws = make(db)
    order, deps, cycle = dependency_order([ws.catalog.segment_row(n) for n in SEGMENTS])
    names = [r["name"] for r in order]
    assert names.index("de_vip") > max(names.index("vip"), names.index("de"))
    assert names.index("not_vip_callers") > names.index("vip")
    assert not cycle
    runs = ws.refresh(as_of=DEMO_ANCHOR)
    assert [r.segment for r in runs] == names
    # Break 'vip' behind the catalog's back (as if its table changed): dependents are Skipped, not wrong.
    ws.measure("spend", "sum(orders.amount)")
    ws.get("vip").edit("spend >= 1000")
    cat = ws.catalog
    with cat.transaction() as c:
        c.execute(cat.t.measures.delete())
    by = {r.segment: r for r in ws.refresh(as_of=DEMO_ANCHOR)}
    assert by["vip"].status == "Failed" and "spend" in by["vip"].errors[0]
    assert by["de_vip"].status == "Skipped" and "'vip'" in by["de_vip"].errors[0]
    assert by["not_vip_callers"].status == "Skipped"
    assert by["de"].status == "Successful"
    # The failed refresh left the previous members and counts in place.
    assert set(ws.get("vip").keys()) == truth(db)["vip"]
    assert ws.get("vip").count == len(truth(db)["vip"])
    hist = ws.get("vip").history()
    assert list(hist["status"]) == ["Successful", "Failed"]


def test_cycle_is_failed(db):
    ws = H.workspace(db)
    ws.segment("a", "age > 1", draft=True)
    ws.segment("b", "in segment a")
    ws.get("a").edit("in segment b", draft=True)
    ws.catalog.update_segment(ws.get("a").id, state="active", draft=False)
    runs = {r.segment: r for r in ws.refresh()}
    assert runs["a"].status == runs["b"].status == "Failed"
    assert "cycle" in runs["a"].errors[0]


def test_added_removed_and_diff_follow_the_data(db):
    ws = make(db)
    ws.refresh(["vip", "de_vip"], as_of=DEMO_ANCHOR)
    before = truth(db)
    # Change the data: some VIPs lose their orders, some non-VIPs get a big order.
    losers = sorted(before["vip"])[:25]
    winners = sorted(set(H.frames(db)["customers"]["customer_id"]) - before["vip"])[:40]
    db.execute(f"DELETE FROM orders WHERE customer_id IN ({', '.join(map(str, losers))})")
    db.execute(
        "INSERT INTO orders SELECT 10000000 + customer_id, customer_id, DATE '2025-06-01', 'delivered', 'web', "
        f"5000.0, NULL FROM customers WHERE customer_id IN ({', '.join(map(str, winners))})"
    )
    after = truth(db)
    by = {r.segment: r for r in ws.refresh(["vip", "de_vip"], as_of=DEMO_ANCHOR)}
    for name in ("vip", "de_vip"):
        run = by[name]
        assert run.members == len(after[name])
        assert run.added == len(after[name] - before[name])
        assert run.removed == len(before[name] - after[name])
        diff = ws.get(name).diff()
        assert set(diff.loc[diff["change"] == "joined", "customer_id"]) == after[name] - before[name]
        assert set(diff.loc[diff["change"] == "left", "customer_id"]) == before[name] - after[name]
    assert by["vip"].added == 40 and by["vip"].removed == 25
    hist = ws.get("vip").history()
    assert list(hist["members"]) == [len(before["vip"]), len(after["vip"])]


def test_activation_lifecycle_and_schedule_later(db):
    ws = make(db)
    de = ws.get("de")
    de.refresh()
    table = de.members_table
    de.deactivate()
    assert de.state == "inactive" and de.count is None and table not in ws.backend.tables()
    with pytest.raises(SegmentError, match="no members: it is inactive"):
        de.preview()
    assert "de" not in {r.segment for r in ws.refresh(as_of=DEMO_ANCHOR)}
    skipped = ws.refresh(["de"])[0]
    assert skipped.status == "Skipped" and "inactive" in skipped.warnings[0]
    run = de.activate()  # evaluates at once
    assert run.status == "Successful" and run.members == len(truth(db)["de"])
    # Schedule later: nothing happens before the time, and it happens at the first tick after it.
    at = dt.datetime(2099, 1, 1, 9, 0)
    de.deactivate(at=at)
    assert de.state == "active" and ws.segments().set_index("name").loc["de", "deactivate_at"] == at
    assert apply_schedule(ws.session, ws.catalog, at=at - dt.timedelta(minutes=1)) == []
    assert apply_schedule(ws.session, ws.catalog, at=at) == ["de: deactivated"]
    assert de.state == "inactive"
    de.activate(at=at + dt.timedelta(days=1))
    assert de.state == "inactive"
    assert apply_schedule(ws.session, ws.catalog, at=at + dt.timedelta(days=2)) == ["de: activated"]
    assert de.state == "active"


def test_static_segment_is_a_snapshot(db):
    ws = H.workspace(db)
    snap = ws.segment("vip_snapshot", H.VIP, type="static")
    frozen = truth(db)["vip"]
    assert set(snap.keys()) == frozen and snap.history()["trigger"].tolist() == ["create"]
    db.execute("DELETE FROM orders WHERE customer_id IN (SELECT customer_id FROM orders LIMIT 50)")
    assert ws.refresh() == []
    run = snap.refresh()
    assert run.status == "Skipped" and "static" in run.warnings[0]
    assert set(snap.keys()) == frozen
    # A definition that refers to it reads the frozen members, not today's VIPs (issue 21).
    assert frozen != truth(db)["vip"], "the deletion no longer changes who is a VIP"
    assert ws.count("in segment vip_snapshot") == len(frozen)


def test_cancel_marks_runs_canceled(db):
    ws = make(db)
    stop = threading.Event()
    stop.set()
    runs = ws.refresh(cancel=stop)
    assert {r.status for r in runs} == {"Canceled"}
    assert ws.segments()["last_status"].eq("Canceled").all()


def test_parquet_members_when_database_is_read_only(tmp_path):
    path = str(tmp_path / "shop.duckdb")
    H.fresh_demo(path).close()
    ro = duckdb.connect(path, read_only=True)
    ws = H.workspace(ro, catalog=str(tmp_path / "cat" / "catalog.sqlite"))
    for name in ("vip", "de", "de_vip", "returners"):
        ws.segment(name, SEGMENTS[name])
    expected = truth(ro)
    runs = ws.refresh(as_of=DEMO_ANCHOR)
    assert {r.status for r in runs} == {"Successful"} and {r.location for r in runs} == {"parquet"}
    for run in runs:
        seg = ws.get(run.segment)
        assert set(seg.keys()) == expected[run.segment]
        assert run.members == len(expected[run.segment])
    vip = ws.get("vip")
    files = list((tmp_path / "cat" / "members" / str(vip.id)).iterdir())
    assert [f.suffix for f in files] == [".parquet"]
    assert list(vip.preview(5)["customer_id"]) == sorted(expected["vip"])[:5]
    runs2 = ws.refresh(["vip"], shared=False)
    assert (runs2[0].added, runs2[0].removed) == (0, 0) and vip.diff().empty
    assert len(list((tmp_path / "cat" / "members" / str(vip.id)).iterdir())) == 2  # current + previous
    ro.close()


def test_members_on_every_backend(demo_backend, demo_frames):
    ws = Workspace(demo_backend, catalog=":memory:")
    ws.customers("customers", key="customer_id")
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    ws.members_prefix = H.unique("seg_")
    for name in ("vip", "de", "de_vip", "returners"):
        ws.segment(name, SEGMENTS[name])
    expected = oracle_sets(demo_frames, demo_frames["support_calls"])
    try:
        for shared in (True, False):
            runs = ws.refresh(shared=shared)
            assert {r.status for r in runs} == {"Successful"}, [r.errors for r in runs]
            for run in runs:
                assert set(int(k) for k in ws.get(run.segment).keys()) == expected[run.segment], run.segment
                assert run.location == "table"
    finally:
        for name in ("de_vip", "vip", "de", "returners"):
            ws.get(name).delete()
    assert not [t for t in demo_backend.tables() if t.startswith(ws.members_prefix) or t.startswith("_js_")]


def test_scheduler_runs_in_background_and_stops(db):
    ws = make(db)
    ws.segment("off", "age > 50")
    ws.get("off").deactivate()
    with pytest.raises(SegmentError, match="not a cron expression"):
        ws.schedule("every hour")
    sched = ws.schedule("* * * * * *")  # every second (seconds field last)
    try:
        deadline = time.monotonic() + 20
        while sched.ticks < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sched.stop()
    assert sched.ticks >= 2 and not sched.running and not sched.errors
    statuses = {r.segment: r.status for r in sched.last_runs}
    assert statuses["off"] == "Skipped" and statuses["vip"] == "Successful"
    hist = ws.get("vip").history()
    assert (hist["trigger"] == "schedule").sum() >= 2
    ticks = sched.ticks
    time.sleep(1.5)
    assert sched.ticks == ticks  # stopped means stopped


def test_cli_refresh_all(tmp_path):
    path = str(tmp_path / "shop.duckdb")
    cat = str(tmp_path / "catalog.sqlite")
    conn = H.fresh_demo(path)
    expected = truth(conn)
    conn.close()
    ws = H.workspace(f"duckdb:///{path}", catalog=cat)
    for name in ("vip", "de", "de_vip"):
        ws.segment(name, SEGMENTS[name])
    ws.segment("off", "age > 50", draft=True)
    ws.close()
    env = {**os.environ, "PYTHONPATH": REPO}
    cmd = [
        sys.executable,
        "-m",
        "jupyter_segments.cli",
        "refresh",
        "--all",
        "--db",
        f"duckdb:///{path}",
        "--catalog",
        cat,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "vip: Successful" in out.stdout and "off: Skipped" in out.stdout
    check = H.workspace(f"duckdb:///{path}", catalog=cat)
    for name in ("vip", "de", "de_vip"):
        seg = check.get(name)
        assert set(seg.keys()) == expected[name]
        assert seg.history()["trigger"].tolist() == ["cli"]
    check.close()
    bad = subprocess.run(
        [*cmd[:4], "nope", *cmd[5:]], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert bad.returncode == 2 and "no saved segment 'nope'" in bad.stderr


def test_tables_that_vanish_do_not_break_refresh(db):
    # Scratch tables of another process's refresh are never part of the model; tables that
    # another process drops after this one listed them are re-read once.
    db.execute("CREATE TABLE _js_stage_other AS SELECT 1 AS customer_id")
    db.execute("CREATE TABLE old_scores AS SELECT customer_id FROM customers LIMIT 3")
    ws = H.workspace(db)
    assert "_js_stage_other" not in ws.tables() and "old_scores" in ws.tables()
    db.execute("DROP TABLE _js_stage_other")
    db.execute("DROP TABLE old_scores")
    ws.segment("vip", H.VIP, draft=True)  # saved without compiling, so the model is still stale
    ws.get("vip").edit(H.VIP, draft=True)
    ws.catalog.update_segment(ws.get("vip").id, state="active", draft=False)
    run = ws.refresh()[0]
    assert run.status == "Successful", run.errors
    assert set(ws.get("vip").keys()) == truth(db)["vip"]
