"""Issue 21, membership changes: recorded at each refresh, pushed to subscriptions, read back by period.

The oracle: the members before and after, computed by pandas on the demo tables, and their set
differences written by hand; on DuckDB, SQLite, PostgreSQL and MariaDB (members in tables), and on
DuckDB with members in Parquet files.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from IPython.utils.capture import capture_output
from test_segments_as_code import magic_shell, shown

import jupyter_segments as js
from jupyter_segments import SegmentError
from jupyter_segments.backends.duckdb_backend import DuckDBBackend
from jupyter_segments.cli import main as cli_main

BEFORE = "sum(orders.amount) >= 1000\nPROJECT sum(orders.amount) AS spend"
AFTER = "sum(orders.amount) >= 800 and country != 'DE'\nPROJECT sum(orders.amount) AS spend"


def oracle_members(frames: dict[str, pd.DataFrame], text: str) -> dict[int, float]:
    """Member key -> spend, by pandas, for BEFORE and AFTER."""
    spend = frames["orders"].groupby("customer_id")["amount"].sum()
    customers = frames["customers"].set_index("customer_id")
    if text == BEFORE:
        keys = spend.index[spend >= 1000]
    else:
        country = customers["country"].reindex(spend.index)
        keys = spend.index[(spend >= 800) & country.notna() & (country != "DE")]
    return {int(k): float(spend[k]) for k in keys}


@pytest.fixture
def ws(demo_backend, tmp_path):
    workspace = js.Workspace(demo_backend, catalog=str(tmp_path / "catalog.sqlite"))
    workspace.customers("customers", key="customer_id")
    workspace.members_prefix = "t21ch_"
    yield workspace
    for name in workspace.catalog.names():
        workspace.get(name).delete()  # drops its members tables
    for table in ("t21ch_log",):
        if table in workspace.backend.tables():
            workspace.backend.execute(f"DROP TABLE {table}")
    workspace.catalog.close()


def _keys(frame: pd.DataFrame) -> set[int]:
    return {int(k) for k in frame["customer_id"]}


def test_changes_are_recorded_and_delivered(ws, demo_frames, tmp_path):
    check_changes(ws, demo_frames, tmp_path)


def test_changes_with_members_in_parquet_files(demo_ws, demo_frames, tmp_path):
    try:
        check_changes(demo_ws, demo_frames, tmp_path)
    finally:
        demo_ws.backend.execute("DROP TABLE IF EXISTS t21ch_log")  # the session's demo database


def check_changes(ws, demo_frames, tmp_path):
    before, after = oracle_members(demo_frames, BEFORE), oracle_members(demo_frames, AFTER)
    joined, left = set(after) - set(before), set(before) - set(after)
    assert joined and left  # the case means something

    seg = ws.segment("vip", BEFORE)
    received = []
    seg.on_change(received.append)
    seg.on_change("table", table="t21ch_log")
    seg.on_change("csv", path=str(tmp_path / "changes_{run_id}.csv"))
    first = seg.refresh()
    assert first.ok and received == [] and seg.changes().empty  # the baseline: nothing changed yet
    assert seg.exports().empty

    ws.segment("vip", AFTER)  # version 2
    run = seg.refresh()
    assert run.ok and (run.added, run.removed) == (len(joined), len(left)) and not run.warnings

    # The callable got the changes with the projected column of each side.
    (got,) = received
    assert got.run_id == run.id and _keys(got.joined) == joined and _keys(got.left) == left
    for frame, members in ((got.joined, after), (got.left, before)):
        spend = dict(zip(frame["customer_id"].astype(int), frame["spend"].astype(float), strict=True))
        assert all(abs(spend[k] - members[k]) < 1e-6 for k in spend)

    # The table destination appended a change log; the CSV went to the run's own file.
    log = ws.backend.query("SELECT * FROM t21ch_log")
    assert _keys(log[log["change"] == "joined"]) == joined and _keys(log[log["change"] == "left"]) == left
    assert set(log["run_id"].astype(int)) == {run.id}
    csv = pd.read_csv(tmp_path / f"changes_{run.id}.csv")
    assert list(csv.columns) == ["customer_id", "change", "run_id", "spend"] and len(csv) == len(
        joined
    ) + len(left)

    # Every delivery is in the export record, with its subscription.
    exports = seg.exports()
    assert list(exports["status"]) == ["Completed"] * 3 and set(exports["run_id"]) == {run.id}
    assert sorted(exports["destination"]) == ["csv", "python", "table"]
    assert set(exports["rows"].astype(int)) == {len(joined) + len(left)}

    # Back again (definition BEFORE): the changes reverse, and the period view adds them up.
    ws.segment("vip", BEFORE)
    back = seg.refresh()
    assert (back.added, back.removed) == (len(left), len(joined))
    history = seg.changes()
    assert list(history.columns) == ["run_id", "finished_at", "change", "customer_id"]
    assert len(history) == 2 * (len(joined) + len(left))
    assert _keys(history.query("run_id == @run.id and change == 'joined'")) == joined
    assert _keys(history.query("run_id == @back.id and change == 'joined'")) == left
    assert seg.changes(net=True).empty  # there and back: nobody's membership changed over the period
    since_back = seg.changes(since=history["finished_at"].max())
    assert set(since_back["run_id"]) == {back.id}
    log = ws.backend.query("SELECT * FROM t21ch_log")
    assert len(log) == 2 * (len(joined) + len(left))  # appended

    # A refresh that changes nobody records and sends nothing.
    same = seg.refresh()
    assert (same.added, same.removed) == (0, 0) and len(received) == 2 and len(seg.exports()) == 6


@pytest.fixture
def hook():
    """A webhook receiver on 127.0.0.1: records bodies and headers; answers 500 to the first ``fail``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.calls.append((body, dict(self.headers)))
            status = 500 if server.fail > 0 else 200
            server.fail -= 1
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.calls, server.fail = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def demo_ws(demo_conn, tmp_path):
    workspace = js.Workspace(DuckDBBackend(demo_conn), catalog=str(tmp_path / "catalog.sqlite"))
    workspace.customers("customers", key="customer_id")
    workspace.members_storage = "parquet"  # the session's demo connection keeps its tables as they are
    yield workspace
    workspace.catalog.close()


def test_webhook_subscription_with_headers_from_the_environment_and_a_failure(
    demo_ws, demo_frames, hook, monkeypatch
):
    before, after = oracle_members(demo_frames, BEFORE), oracle_members(demo_frames, AFTER)
    url = f"http://127.0.0.1:{hook.server_port}/vip"
    seg = demo_ws.segment("vip", BEFORE)
    monkeypatch.setenv("T21_HOOK_TOKEN", "Bearer s3cret")
    sid = seg.on_change(
        "webhook", url=url, batch_size=100, headers_from_env={"Authorization": "T21_HOOK_TOKEN"}
    )
    seg.refresh()
    demo_ws.segment("vip", AFTER)
    run = seg.refresh()
    bodies = [b for b, _ in hook.calls]
    assert [b["batch"] for b in bodies] == list(range(len(bodies))) and {b["run"] for b in bodies} == {run.id}
    assert all(len(b["joined"]) + len(b["left"]) <= 100 for b in bodies)
    joined = {r["customer_id"]: r["spend"] for b in bodies for r in b["joined"]}
    left = {r["customer_id"] for b in bodies for r in b["left"]}
    assert set(joined) == set(after) - set(before) and left == set(before) - set(after)
    assert all(abs(joined[k] - after[k]) < 1e-6 for k in joined)
    assert {h["Authorization"] for _, h in hook.calls} == {"Bearer s3cret"}
    # The secret is in no catalog row: not in the subscription, not in the export record.
    assert "s3cret" not in repr(seg.subscriptions().to_dict()) + repr(seg.exports().to_dict())

    # The receiver fails (500, past the retries): the refresh stays Successful, with a warning.
    hook.calls.clear()
    hook.fail = 10
    seg.unsubscribe(sid)
    seg.on_change("webhook", url=url, retries=1, backoff=0)
    demo_ws.segment("vip", BEFORE)
    failed = seg.refresh()
    assert failed.ok and len(hook.calls) == 2  # one try and one retry
    assert failed.warnings and "not delivered" in failed.warnings[0] and "answered 500" in failed.warnings[0]
    assert seg.exports().iloc[-1]["status"] == "Failed"
    assert len(seg.changes()) == 2 * (len(joined) + len(left))  # recorded all the same


def test_secrets_are_refused_and_subscriptions_listed(demo_ws):
    seg = demo_ws.segment("vip", BEFORE)
    with pytest.raises(SegmentError, match="headers_from_env"):
        seg.on_change("webhook", url="https://user:pw@hooks.example.com/x")
    with pytest.raises(SegmentError, match="may hold a secret"):
        seg.on_change("webhook", url="https://hooks.example.com/x", headers={"Authorization": "t"})
    with pytest.raises(SegmentError, match="unknown destination 'webhok'; did you mean 'webhook'"):
        seg.on_change("webhok", url="https://hooks.example.com/x")
    with pytest.raises(SegmentError, match="plain data"):
        seg.on_change("csv", path=object())
    stored = seg.on_change("csv", path="x_{run_id}.csv")

    def tell(changes):
        return changes

    kernel = seg.on_change(tell)
    subs = seg.subscriptions()
    assert list(subs["id"]) == [stored, kernel] and list(subs["stored"]) == [True, False]
    assert subs.iloc[1]["target"].endswith("tell")
    seg.unsubscribe(kernel)
    seg.unsubscribe(stored)
    assert seg.subscriptions().empty
    with pytest.raises(SegmentError, match="no subscription 99"):
        seg.unsubscribe(99)
    with pytest.raises(SegmentError, match="since must be a date"):
        seg.changes(since="last week")


def test_a_cli_refresh_delivers_stored_subscriptions_not_callables(demo_conn, demo_frames, tmp_path, capsys):
    db = tmp_path / "shop.duckdb"
    demo_conn.execute(f"ATTACH '{db}' AS shop")
    for table in js.demo.TABLES:
        demo_conn.execute(f"CREATE TABLE shop.{table} AS SELECT * FROM {table}")
    demo_conn.execute("DETACH shop")
    catalog = str(tmp_path / "catalog.sqlite")
    ws = js.connect(f"duckdb:///{db}", catalog=catalog)
    ws.customers("customers", key="customer_id")
    seg = ws.segment("vip", BEFORE)
    calls = []
    seg.on_change(calls.append)
    seg.on_change("csv", path=str(tmp_path / "cli_{run_id}.csv"))
    seg.refresh()
    ws.segment("vip", AFTER)
    ws.close()  # the kernel's workspace goes; its callable with it

    assert cli_main(["refresh", "vip", "--db", f"duckdb:///{db}", "--catalog", catalog]) == 0
    capsys.readouterr()
    before, after = oracle_members(demo_frames, BEFORE), oracle_members(demo_frames, AFTER)
    (written,) = list(tmp_path.glob("cli_*.csv"))
    frame = pd.read_csv(written)
    assert set(frame.loc[frame["change"] == "joined", "customer_id"]) == set(after) - set(before)
    assert calls == []


def test_magic_changes(demo_conn, tmp_path):
    with magic_shell(demo_conn, tmp_path / "m.sqlite") as (shell, ws):
        ws.members_storage = "parquet"
        seg = ws.segment("vip", BEFORE)
        seg.refresh()
        ws.segment("vip", AFTER)
        run = seg.refresh()
        since = (dt.datetime.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
        with capture_output() as out:
            shell.run_line_magic("segment", f"changes vip --since '{since}' -o ch")
        assert f"{run.added} joined, {run.removed} left over 1 refresh" in shown(out)
        assert len(shell.user_ns["ch"]) == run.added + run.removed
