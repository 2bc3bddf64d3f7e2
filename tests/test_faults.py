"""Failure paths, by fault injection (as tests/test_reliability.py does with SIGKILL): a refresh canceled
or losing a dependency in the middle, a crash inside the refresh loop, a batched member swap that fails
after its renames ran, a member swap rolled back, and the sampling that intelligence falls back on.

Each test states what must hold afterwards -- statuses, members against a pandas oracle, no lease, no
staging table, the old members untouched -- never what the code happened to return.
"""

from __future__ import annotations

import math
import threading

import pandas as pd
import pytest
import test_catalog_support as H
from conftest import DEMO_ANCHOR
from test_refresh import SEGMENTS, make, truth

from jupyter_segments import Workspace
from jupyter_segments import refresh as R
from jupyter_segments.catalog import members as M
from jupyter_segments.intelligence import features as F
from jupyter_segments.intelligence.compare import QUANTILE_DIALECTS

# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def db():
    conn = H.fresh_demo()
    yield conn
    conn.close()


def members_of(ws: Workspace, name: str) -> set[int]:
    return set(int(k) for k in ws.get(name).keys())


def scratch_tables(ws: Workspace) -> set[str]:
    return {t for t in ws.backend.tables() if t.startswith("_js_")}


def assert_clean(ws: Workspace, before: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """No lease held, no scratch recorded, no staging or flags table left in the database (``before``:
    the ones already there, e.g. from an interrupted earlier run on a long-lived test database)."""
    rows = ws.catalog.segment_rows()
    assert [r["name"] for r in rows if r["lease_run_id"] is not None] == []
    assert ws.catalog.leftover_scratch() == []
    assert scratch_tables(ws) <= before


def change_data(conn) -> None:
    """Edits after which a completed refresh changes the members of every segment in SEGMENTS."""
    conn.execute("DELETE FROM orders WHERE customer_id % 7 = 0")
    conn.execute("UPDATE customers SET country = 'FR' WHERE country = 'DE' AND customer_id % 2 = 0")
    conn.execute("DELETE FROM support_calls WHERE cust_id % 5 = 0")
    conn.execute("UPDATE orders SET order_date = order_date - INTERVAL 20 DAY WHERE order_id % 3 = 0")


# --- refresh: cancel and skip in the middle of a run --------------------------------------------


@pytest.mark.parametrize("shared", [False, True])
def test_cancel_in_the_middle_keeps_earlier_results_and_old_members(db, monkeypatch, shared):
    """One by one: the cancel arrives once the first segment is written. Shared: it arrives after the
    one query and the member counts, just before the one swap of all segments."""
    ws = make(db)
    assert {r.status for r in ws.refresh(as_of=DEMO_ANCHOR, shared=shared)} == {"Successful"}
    old = truth(db)
    change_data(db)
    new = truth(db)
    assert all(old[n] != new[n] for n in SEGMENTS)

    stop = threading.Event()
    done: list[str] = []
    if shared:
        real_counts = M.member_counts

        def member_counts(*args, **kwargs):
            out = real_counts(*args, **kwargs)
            stop.set()
            return out

        monkeypatch.setattr(M, "member_counts", member_counts)
    else:
        real = R._Batch.materialize

        def materialize(self, item, *args, **kwargs):
            real(self, item, *args, **kwargs)
            done.append(item.row["name"])
            stop.set()

        monkeypatch.setattr(R._Batch, "materialize", materialize)
    runs = {r.segment: r for r in ws.refresh(as_of=DEMO_ANCHOR, shared=shared, cancel=stop)}
    assert stop.is_set()
    if not shared:
        assert done == ["de"]  # dependency order, then by name
        assert runs["de"].status == "Successful"
        assert members_of(ws, "de") == new["de"]
    for name, run in runs.items():
        if name in done:
            continue
        assert run.status == "Canceled", (name, run)
        assert run.errors == ["the refresh was canceled"]
        assert members_of(ws, name) == old[name], name  # the previous members stay, untouched
    assert_clean(ws)
    # Nothing is left half-done: the next refresh completes every segment.
    again = ws.refresh(as_of=DEMO_ANCHOR, shared=shared)
    assert {r.status for r in again} == {"Successful"}
    assert {n: members_of(ws, n) for n in SEGMENTS} == new


@pytest.mark.parametrize("shared", [False, True])
def test_a_dependency_failing_in_the_middle_skips_its_dependents(db, monkeypatch, shared):
    ws = make(db)
    assert {r.status for r in ws.refresh(as_of=DEMO_ANCHOR, shared=shared)} == {"Successful"}
    old = truth(db)
    change_data(db)
    new = truth(db)
    real = R._Batch._to_table

    def to_table(self, item, *args, **kwargs):  # writing vip's members fails (disk full, say)
        if item.row["name"] == "vip":
            raise RuntimeError("no space left on device")
        return real(self, item, *args, **kwargs)

    monkeypatch.setattr(R._Batch, "_to_table", to_table)
    monkeypatch.setattr(M, "run_in_transaction", _fail_batched_swap(M.run_in_transaction, "batched off"))
    runs = {r.segment: r for r in ws.refresh(as_of=DEMO_ANCHOR, shared=shared)}
    assert runs["vip"].status == "Failed" and "no space left" in runs["vip"].errors[0]
    for name in ("de_vip", "not_vip_callers"):  # both refer to vip
        assert runs[name].status == "Skipped", runs[name]
        assert runs[name].errors == ["skipped because segment 'vip', which it refers to, is Failed"]
    for name in ("vip", "de_vip", "not_vip_callers"):
        assert members_of(ws, name) == old[name], name
    for name in ("de", "recent", "returners"):
        assert runs[name].status == "Successful", runs[name]
        assert members_of(ws, name) == new[name], name
    assert_clean(ws)


def _fail_batched_swap(real, message: str):
    """run_in_transaction that, for the one swap of several segments at once, runs every real statement
    and then fails inside the same transaction (so the database must roll the renames back)."""

    def run_in_transaction(backend, statements):
        if sum("_js_stage_" in s and "RENAME" in s.upper() for s in statements) >= 2:
            return real(backend, [*statements, f"SELECT * FROM no_such_table_{message.replace(' ', '_')}"])
        return real(backend, statements)

    return run_in_transaction


# --- refresh: the crash handler -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status"), [(KeyboardInterrupt(), "Canceled"), (RuntimeError("bug in the loop"), "Failed")]
)
def test_crash_in_the_middle_leaves_nothing_queued_or_running(db, monkeypatch, exc, status):
    ws = make(db)
    assert {r.status for r in ws.refresh(as_of=DEMO_ANCHOR, shared=False)} == {"Successful"}
    old = truth(db)
    change_data(db)
    new = truth(db)
    calls: list[str] = []
    real = R._Batch.materialize

    def materialize(self, item, *args, **kwargs):  # the loop itself crashes at the third segment
        calls.append(item.row["name"])
        if len(calls) == 3:
            raise exc
        return real(self, item, *args, **kwargs)

    monkeypatch.setattr(R._Batch, "materialize", materialize)
    with pytest.raises(type(exc)):
        ws.refresh(as_of=DEMO_ANCHOR, shared=False)
    latest = {n: ws.get(n).runs()[-1] for n in SEGMENTS}  # each segment's newest run
    for name, run in latest.items():
        assert run.status in ("Successful", status), (name, run)
        if run.status == "Successful":
            assert members_of(ws, name) == new[name], name
        else:
            assert run.errors == [f"the refresh stopped: {type(exc).__name__}: {exc}"], run.errors
            assert members_of(ws, name) == old[name], name
    assert [r.status for r in latest.values()].count("Successful") == 2
    assert_clean(ws)
    monkeypatch.setattr(R._Batch, "materialize", real)
    assert {r.status for r in ws.refresh(as_of=DEMO_ANCHOR, shared=False)} == {
        "Successful"
    }  # no lease stands in the way
    assert {n: members_of(ws, n) for n in SEGMENTS} == new


# --- refresh: the batched swap fails after its renames ran ---------------------------------------


@pytest.mark.parametrize("backend_name", ["duckdb", "sqlite", "postgres"], indirect=True)
def test_batched_swap_failure_rolls_back_and_falls_back(demo_backend, demo_frames, monkeypatch, backend_name):
    """MariaDB does not batch (its DDL commits statement by statement): not here."""
    ws = Workspace(demo_backend, catalog=":memory:")
    ws.customers("customers", key="customer_id")
    ws.members_prefix = H.unique("seg_")
    ws.segment("big", "sum(orders.amount) >= 1000")
    ws.segment("de", "country = 'DE' and age >= 30")
    before_tables = scratch_tables(ws)
    try:
        assert {r.status for r in ws.refresh(as_of=DEMO_ANCHOR)} == {"Successful"}
        ws.get("big").edit("sum(orders.amount) >= 800")
        ws.get("de").edit("country = 'DE' and age >= 50")
        monkeypatch.setattr(M, "run_in_transaction", _fail_batched_swap(M.run_in_transaction, "boom"))
        runs = {r.segment: r for r in ws.refresh(as_of=DEMO_ANCHOR)}
        c = demo_frames["customers"]
        want = {
            "big": H.vip_keys(demo_frames, 800),
            "de": set(int(k) for k in c.loc[(c["country"] == "DE") & (c["age"] >= 50), "customer_id"]),
        }
        before = {"big": H.vip_keys(demo_frames, 1000)}
        for name, run in runs.items():
            assert run.status == "Successful", run
            assert [w for w in run.warnings if w.startswith("batched members step failed")], run.warnings
            assert run.members == len(want[name])
            assert members_of(ws, name) == want[name]
        # added/removed against the members before: the rolled-back swap left the old table in place
        assert runs["big"].added == len(want["big"] - before["big"]) and runs["big"].removed == 0
        prev_table = M.prev_name(ws.catalog.segment_row("big")["members_table"])
        prev = ws.backend.query(f"SELECT COUNT(*) FROM {M.quote(prev_table, ws.dialect)}")
        assert int(prev.iloc[0, 0]) == len(before["big"])
        assert_clean(ws, before_tables)
    finally:
        for name in ("big", "de"):
            ws.get(name).delete()
    assert not [t for t in demo_backend.tables() if t.startswith(ws.members_prefix)]


# --- catalog/members.py: a member swap rolled back -----------------------------------------------


def test_member_swap_rolls_back(demo_backend):
    """A swap whose rename fails halfway leaves the current members (and, where DDL is transactional,
    the previous ones) exactly as they were."""
    b = demo_backend
    current = H.unique("swap_")
    prev = M.prev_name(current)
    for table, keys in ((current, (1, 2, 3)), (prev, (9,))):
        name = M.quote(table, b.dialect)
        b.execute(f"CREATE TABLE {name} (k INTEGER)")
        b.execute(f"INSERT INTO {name} VALUES {', '.join(f'({k})' for k in keys)}")
    try:
        with pytest.raises(Exception):  # noqa: B017,PT011 - the database's own error for the missing stage
            M.swap_in(b, H.unique("_js_stage_missing_"), current, keep_prev=True, has_current=True)

        def rows(t: str) -> list[int]:
            return sorted(int(v) for v in b.query(f"SELECT k FROM {M.quote(t, b.dialect)}").iloc[:, 0])

        assert rows(current) == [1, 2, 3]
        if b.dialect == "mysql":  # DDL commits one statement at a time; the RENAME itself is atomic
            assert prev not in b.tables() or rows(prev) == [9]
        else:
            assert rows(prev) == [9]  # the DROP of the old previous members was rolled back too
    finally:
        M.drop_tables(b, [current, prev])


# --- intelligence/features.py: sampling, and compare's quartiles from a sample -------------------


@pytest.fixture(scope="module")
def iws(demo_backend) -> Workspace:
    w = Workspace(demo_backend)
    w.customers("customers", key="customer_id")
    w.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    return w


def _spend(frames: dict[str, pd.DataFrame]) -> pd.Series:
    return frames["orders"].groupby("customer_id")["amount"].sum()


SAMPLED = "age >= 30"


def test_sample_of_a_segment_larger_than_the_sample(iws, demo_frames):
    c = demo_frames["customers"]
    members = set(int(k) for k in c.loc[c["age"] >= 30, "customer_id"])
    feats = F.make_features(iws.session, ["age", "sum(orders.amount)", "country"])
    cond = iws.session.parse(SAMPLED).condition
    for max_rows in (50, 300):
        step = math.ceil(len(members) / max_rows)
        picked = sorted(k for k in members if k % step == 0)  # the documented rule: MOD(key, step) = 0
        frame = F.sample_frame(iws.session, cond, feats, max_rows=max_rows, as_of="2025-06-30")
        keys = [int(k) for k in frame["customer_id"]]
        assert len(keys) == len(set(keys)) == min(max_rows, len(picked)), (max_rows, len(keys), len(picked))
        assert set(keys) <= set(picked)
        # the feature columns are the members' own values
        got = frame.set_index(frame["customer_id"].astype(int))
        spend = _spend(demo_frames)
        by_key = c.set_index("customer_id")
        for k in keys:
            age, total, country = (got.loc[k, f.alias] for f in feats)
            assert age == by_key.loc[k, "age"]
            assert math.isclose(total, float(spend.get(k, 0.0)), abs_tol=1e-9), (k, total)
            want_country = by_key.loc[k, "country"]
            assert (country is None and pd.isna(want_country)) or country == want_country


def test_sample_with_a_text_key_is_random_but_bounded(tmp_path):
    import duckdb

    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE people AS SELECT 'p' || LPAD(CAST(i AS VARCHAR), 4, '0') AS code, i % 90 AS age "
        "FROM range(1000) t(i)"
    )
    ws = H.js.connect(conn)
    ws.customers("people", key="code")
    feats = F.make_features(ws.session, ["age"])
    cond = ws.session.parse("age >= 45").condition
    members = {f"p{i:04d}" for i in range(1000) if i % 90 >= 45}
    seen: set[str] = set()
    for _ in range(3):
        frame = F.sample_frame(ws.session, cond, feats, max_rows=40)
        keys = list(frame["code"])
        assert len(keys) == len(set(keys)) == 40 and set(keys) <= members
        assert all(frame[feats[0].alias] >= 45)
        seen |= set(keys)
    assert len(seen) > 40  # ORDER BY RANDOM(): not the same 40 every time
    conn.close()


def test_compare_quartiles_on_a_sampled_segment(iws, demo_frames):
    """With ``sample`` below the segment's size, DuckDB and PostgreSQL still give exact quartiles
    (PERCENTILE_CONT); SQLite and MariaDB give the quartiles of the documented sample, and say so."""
    c = demo_frames["customers"].copy()
    a_keys = c.loc[c["age"] >= 30, "customer_id"].astype(int)
    n = len(a_keys)
    # A sample size whose systematic sample (every step-th key) fits in it whole, so it is exact.
    for sample in range(150, 400):
        step = math.ceil(n / sample)
        if (a_keys % step == 0).sum() <= sample:
            break
    cmp = iws.compare(SAMPLED, "country = 'DE'", using=["age"], as_of="2025-06-30", sample=sample)
    row = cmp.differentiators[cmp.differentiators["feature"] == "age"].iloc[0]
    ages = c.set_index(c["customer_id"].astype(int))["age"]
    if iws.dialect in QUANTILE_DIALECTS:
        used = ages.loc[a_keys].dropna().astype(float)
        assert not [note for note in cmp.notes if "sample" in note]
    else:
        used = ages.loc[[k for k in a_keys if k % step == 0]].dropna().astype(float)
        assert [note for note in cmp.notes if "sample" in note and SAMPLED in note], cmp.notes
        # the sample really differs from everyone: the check below can tell them apart
        everyone = ages.loc[a_keys].dropna().astype(float)
        assert any(not math.isclose(used.quantile(q), everyone.quantile(q)) for q in (0.25, 0.5, 0.75))
    for name, q in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
        assert math.isclose(row[f"a_{name}"], used.quantile(q), rel_tol=1e-9, abs_tol=1e-9), (
            name,
            iws.dialect,
        )
    # the mean is exact everywhere (computed by the database over every member)
    assert math.isclose(row["a"], ages.loc[a_keys].dropna().astype(float).mean(), rel_tol=1e-9)
