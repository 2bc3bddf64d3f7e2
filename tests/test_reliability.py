"""Reliability: SIGKILL in the middle of writing members, two processes on one catalog, stale runs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest
import sqlalchemy as sa
import test_catalog_support as H

from jupyter_segments import demo
from jupyter_segments.backends import open_backend
from jupyter_segments.catalog import Catalog
from jupyter_segments.catalog.store import HOST

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": REPO}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

# The child refreshes through a real DuckDB backend that stalls once the new members are half
# written (a staging table in the database / the first Parquet row groups), so the parent can kill it there.
CHILD = textwrap.dedent(
    """
    import sys, time
    import duckdb
    import jupyter_segments as js
    from jupyter_segments.backends.duckdb_backend import DuckDBBackend

    db, cat, marker, mode = sys.argv[1:]

    def stall():
        open(marker, "w").write("writing members")
        time.sleep(300)

    class Stalling(DuckDBBackend):
        def execute(self, sql):
            super().execute(sql)
            if sql.startswith('CREATE TABLE "_js_stage_'):
                stall()

        def iter_chunks(self, sql, chunk_size=50_000):
            for n, chunk in enumerate(super().iter_chunks(sql, 50)):
                yield chunk
                if n == 1:
                    stall()

    if mode == "table":
        backend = Stalling.from_url("duckdb:///" + db)
    else:
        backend = Stalling(duckdb.connect(db, read_only=True))
    ws = js.Workspace(backend, catalog=cat)
    ws.refresh()
    print("finished without being killed", flush=True)
    """
)


def _kill_while_writing(tmp_path, mode: str) -> None:
    db, cat = str(tmp_path / "shop.duckdb"), str(tmp_path / "catalog.sqlite")
    H.fresh_demo(db).close()
    conn = duckdb.connect(db, read_only=mode == "parquet")
    ws = H.workspace(conn, catalog=cat)
    ws.segment("vip", H.VIP)
    ws.segment("de", H.DE)
    first = {r.segment: r for r in ws.refresh()}
    assert {r.status for r in first.values()} == {"Successful"}
    before_f = H.frames(conn)
    before = {"vip": H.vip_keys(before_f), "de": H.de_keys(before_f)}
    location = first["vip"].location
    assert location == mode
    ws.catalog.close()
    conn.close()

    # Change the data so that a completed refresh would change the members.
    with duckdb.connect(db) as w:
        losers = sorted(before["vip"])[:30]
        w.execute(f"DELETE FROM orders WHERE customer_id IN ({', '.join(map(str, losers))})")
        w.execute("UPDATE customers SET country = 'FR' WHERE country = 'DE' AND customer_id % 2 = 0")

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, str(script), db, cat, str(marker), mode],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never started writing members"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    # The catalog opens cleanly and is consistent.
    with sa.create_engine(f"sqlite:///{cat}").connect() as c:
        assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    conn = duckdb.connect(db, read_only=mode == "parquet")
    # It really was killed half-way: the new members were being written next to the old ones.
    if mode == "table":
        staged = conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '_js_stage_%'"
        ).fetchall()
        assert staged
    else:
        assert [p for p in (tmp_path / "members").rglob("*") if p.name.endswith(".tmp")]
    ws = H.workspace(conn, catalog=cat)
    listing = ws.segments().set_index("name")
    for name in ("vip", "de"):
        seg = ws.get(name)
        # The interrupted run is shown as Failed, the previous members and counts are intact.
        assert listing.loc[name, "last_status"] == "Failed"
        assert "interrupted" in seg.last_run.errors[0] or "never started" in seg.last_run.errors[0]
        assert listing.loc[name, "members"] == len(before[name]) == seg.count
        assert set(seg.keys()) == before[name]
        assert list(seg.preview(10)["customer_id"]) == sorted(before[name])[:10]
        hist = seg.history()
        assert list(hist["status"]) == ["Successful", "Failed"]
        assert list(hist["members"].iloc[:1]) == [len(before[name])]
    # A reader that keeps its connection open must not block the writers below.
    reader = ws.catalog.engine.connect()
    assert not reader.execute(
        sa.text("SELECT COUNT(*) FROM js_runs WHERE status IN ('Queued', 'Running')")
    ).scalar()

    # The next refresh works, counts from the surviving members, and clears the leftovers.
    after_f = H.frames(conn)
    after = {"vip": H.vip_keys(after_f), "de": H.de_keys(after_f)}
    if mode == "parquet":
        conn.close()
        conn = duckdb.connect(db, read_only=True)
        ws = H.workspace(conn, catalog=cat)
    runs = {r.segment: r for r in ws.refresh()}
    for name in ("vip", "de"):
        assert runs[name].status == "Successful", runs[name].errors
        assert set(ws.get(name).keys()) == after[name]
        assert runs[name].added == len(after[name] - before[name])
        assert runs[name].removed == len(before[name] - after[name]) > 0
    reader.close()
    if mode == "table":
        assert not [t for t in ws.backend.tables() if t.startswith("_js_")], [
            (r["id"], r["status"], r["scratch"]) for r in ws.catalog.run_rows()
        ]
    else:
        leftovers = [p for p in (tmp_path / "members").rglob("*") if p.name.endswith(".tmp")]
        assert leftovers == []
    conn.close()


def test_sigkill_while_writing_member_table(tmp_path):
    _kill_while_writing(tmp_path, "table")


def test_sigkill_while_writing_parquet_members(tmp_path):
    _kill_while_writing(tmp_path, "parquet")


CONCURRENT = textwrap.dedent(
    """
    import os, sys, time
    import jupyter_segments as js

    db, cat, go, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ws = js.connect("sqlite:///" + db, catalog=cat)
    while not os.path.exists(go):
        time.sleep(0.01)
    for i in range(rounds):
        runs = ws.refresh(shared=bool(i % 2))
        print(" ".join(r.status for r in runs), flush=True)
        for r in runs:
            for e in r.errors:
                print(r.segment, e, file=sys.stderr)
    """
)


def test_two_processes_refresh_one_catalog(tmp_path, demo_conn, demo_frames):
    db, cat = str(tmp_path / "shop.db"), str(tmp_path / "catalog.sqlite")
    backend = open_backend(f"sqlite:///{db}")
    demo.copy_to(demo_conn, backend)
    backend.close()
    ws = H.workspace(f"sqlite:///{db}", catalog=cat)
    ws.segment("vip", H.VIP)
    ws.segment("de", H.DE)
    ws.segment("de_vip", "in segment vip and in segment de")
    ws.close()
    script = tmp_path / "child.py"
    script.write_text(CONCURRENT)
    go = tmp_path / "go"
    rounds = 4
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), db, cat, str(go), str(rounds)],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)
    go.write_text("go")
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.split() == ["Successful"] * 3 * rounds, (out, err)

    with sa.create_engine(f"sqlite:///{cat}").connect() as c:
        assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    check = H.workspace(f"sqlite:///{db}", catalog=cat)
    expected = {"vip": H.vip_keys(demo_frames), "de": H.de_keys(demo_frames)}
    expected["de_vip"] = expected["vip"] & expected["de"]
    for name, keys in expected.items():
        seg = check.get(name)
        hist = seg.history()
        # Every run of both processes is there (none lost), each Successful with the right count.
        assert len(hist) == 2 * rounds
        assert set(hist["status"]) == {"Successful"} and set(hist["members"]) == {len(keys)}
        assert set(int(k) for k in seg.keys()) == keys
        assert seg.count == len(keys)
    assert not [t for t in check.backend.tables() if t.startswith("_js_")]
    check.close()


def test_stale_runs_are_failed_and_live_ones_kept(tmp_path):
    cat = Catalog(str(tmp_path / "c.sqlite"))
    seg_id = cat.create_segment(
        "x", "age > 1", description=None, display_name=None, type="dynamic", state="active", draft=False
    )
    row = cat.segment_row("x")
    dead, live, remote_old, remote_new = cat.queue_runs([row] * 4, "manual", True)
    # A process id that cannot exist, on this host: its run is dead at once.
    cat.update_run(dead, status="Running", pid=2**22 + 12345)
    cat.update_run(live, status="Running")  # our own pid: alive
    old = dt.datetime.now() - dt.timedelta(hours=1)
    cat.update_run(remote_old, status="Running", host=HOST + "-elsewhere", heartbeat_at=old)
    cat.update_run(remote_new, host=HOST + "-elsewhere")
    assert cat.acquire_lease(seg_id, dead, dt.timedelta(minutes=5))
    assert not cat.acquire_lease(seg_id, live, dt.timedelta(minutes=5))  # held
    assert sorted(cat.recover()) == sorted([dead, remote_old])
    status = {r["id"]: r["status"] for r in cat.run_rows(seg_id)}
    assert status == {dead: "Failed", live: "Running", remote_old: "Failed", remote_new: "Queued"}
    assert "process" in cat.run_row(dead)["errors"][0]
    assert cat.acquire_lease(seg_id, live, dt.timedelta(minutes=5))  # released by the recovery
    cat.close()


def test_closing_a_demo_workspace_interrupts_a_running_query() -> None:
    """A widget's estimate may still run in its thread when the notebook closes the workspace: DuckDB
    refuses to close a busy connection, so the query is interrupted and the close goes through."""
    import threading
    import time

    import jupyter_segments as js

    ws = js.connect_demo(500)
    outcome: list[str] = []
    started = threading.Event()

    def endless() -> None:
        started.set()
        try:
            ws.backend.query("SELECT COUNT(*) FROM range(100000000000) AS a")
            outcome.append("finished")
        except Exception as e:  # noqa: BLE001 - the interrupt is what we wait for
            outcome.append(type(e).__name__)

    worker = threading.Thread(target=endless)
    worker.start()
    started.wait(5)
    time.sleep(0.2)  # inside the query: it runs for minutes unless interrupted
    ws.close()
    worker.join(10)
    assert not worker.is_alive()
    assert outcome == ["InterruptException"]
