"""The catalog: saving, versions, lifecycle, names and texts stored exactly, measures, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest
import sqlalchemy as sa
import test_catalog_support as H

import jupyter_segments as js
from jupyter_segments import SegmentError
from jupyter_segments.catalog import Catalog, UnknownSegment
from jupyter_segments.catalog.schema import SCHEMA_VERSION


@pytest.fixture(scope="module")
def conn():
    c = H.fresh_demo()
    yield c
    c.close()


@pytest.fixture(scope="module")
def oracle(conn):
    return H.frames(conn)


@pytest.fixture
def ws(conn):
    w = H.workspace(conn)
    w.members_prefix = H.unique("seg_")  # tables of different tests never collide
    yield w
    w.catalog.close()


# Texts that break naive SQL or encodings; all must come back byte for byte.
STRANGE_NAMES = [
    "vip'; DROP TABLE segments; --",
    'quote"double',
    "Zoë's 東京 – „best“ customers 😀",
    "  leading and trailing  ",
    "percent % and underscore _ and backslash \\",
]


def test_texts_are_stored_exactly(tmp_path, conn):
    path = tmp_path / "cat.sqlite"
    ws = H.workspace(conn, catalog=str(path))
    description = 'Zoë\'s "best" 東京\n-- not a comment; DELETE FROM runs; /* */ \t tab'
    draft_text = "city = '東京' and last_name = 'O''Brien' ; DROP TABLE customers; --"
    for i, name in enumerate(STRANGE_NAMES):
        ws.segment(name, f"age >= {20 + i}", description=description, display_name=name[::-1])
    ws.segment("draft 😀", draft_text, draft=True)
    ws.catalog.close()

    # A new process would see exactly the same: reopen from the file.
    again = H.workspace(conn, catalog=str(path))
    for i, name in enumerate(STRANGE_NAMES):
        seg = again.get(name)
        assert seg.name == name
        assert seg.display_name == name[::-1]
        assert seg.description == description
        assert seg.definition == f"age >= {20 + i}"
    assert again.get("draft 😀").definition == draft_text
    assert sorted(again.segments()["name"]) == sorted([*STRANGE_NAMES, "draft 😀"])
    # The raw rows too (not only through our own read path).
    with sa.create_engine(f"sqlite:///{path}").connect() as c:
        stored = dict(c.exec_driver_sql("SELECT name, description FROM js_segments").fetchall())
    assert stored[STRANGE_NAMES[0]] == description


def test_strange_name_refreshes_into_a_safe_table(ws, oracle):
    seg = ws.segment(STRANGE_NAMES[0], H.DE)
    run = seg.refresh()
    assert run.status == "Successful"
    assert set(seg.keys()) == H.de_keys(oracle)
    assert seg.members_table.startswith(ws.members_prefix + "members__vip_drop_table_segments")
    assert "customers" in ws.backend.tables()  # nothing was dropped


def test_saving_again_adds_a_version(ws):
    seg = ws.segment("vip", H.VIP, description="first")
    t1 = seg.updated_at
    ws.segment("vip", "sum(orders.amount) >= 2000")
    seg.edit("sum(orders.amount) >= 3000", description="third")
    versions = seg.versions()
    assert list(versions["version"]) == [1, 2, 3]
    assert list(versions["definition"]) == [H.VIP, "sum(orders.amount) >= 2000", "sum(orders.amount) >= 3000"]
    assert seg.definition == "sum(orders.amount) >= 3000" and seg.version == 3
    assert seg.description == "third"
    assert seg.updated_at >= t1
    # Saving the same text again is not a new version.
    seg.edit()
    assert seg.version == 3


def test_invalid_definition_is_refused_and_nothing_is_written(ws):
    with pytest.raises(SegmentError, match="amont"):
        ws.segment("bad", "sum(orders.amont) > 1")
    assert ws.segments().empty
    ws.segment("vip", H.VIP)
    with pytest.raises(SegmentError):
        ws.get("vip").edit("sum(orders.amont) > 1")
    assert ws.get("vip").version == 1


def test_draft_lifecycle(ws, oracle):
    wip = ws.segment("wip", "sum(orders.amont) >= 1000", draft=True)
    assert wip.draft and wip.state == "inactive"
    row = ws.segments().set_index("name").loc["wip"]
    assert bool(row["draft"]) and row["state"] == "inactive" and row["last_status"] == "Not started"
    with pytest.raises(SegmentError, match="cannot activate 'wip'.*draft"):
        wip.activate()
    assert ws.refresh() == []  # drafts are not refreshed with "all"
    wip.edit("sum(orders.amount) >= 1000", draft=True)  # still a draft, now valid
    run = wip.activate()  # validates, clears the draft flag, evaluates at once
    assert run.status == "Successful" and run.trigger == "activate"
    assert not wip.draft and wip.state == "active"
    assert run.members == len(H.vip_keys(oracle))


def test_segments_listing_search_and_sort(ws, oracle):
    ws.segment("vip", H.VIP, description="big spenders")
    ws.segment("de", H.DE, display_name="Germany")
    ws.segment("everyone", "customer_id > 0")
    ws.segment("later", "age > 30")
    ws.refresh(["vip", "de", "everyone"])
    listing = ws.segments(sort="members")
    expected = sorted(
        [
            ("vip", len(H.vip_keys(oracle))),
            ("de", len(H.de_keys(oracle))),
            ("everyone", len(oracle["customers"])),
        ],
        key=lambda p: -p[1],
    )
    assert [tuple(r) for r in listing[["name", "members"]].head(3).itertuples(index=False)] == expected
    assert listing.iloc[3]["name"] == "later" and pd.isna(listing.iloc[3]["members"])
    assert listing.iloc[3]["last_status"] == "Not started"
    assert set(listing.columns) >= {
        "name",
        "display_name",
        "type",
        "state",
        "draft",
        "members",
        "last_refresh",
        "last_status",
    }
    assert list(ws.segments(search="SPEND")["name"]) == ["vip"]  # description, case-insensitive
    assert list(ws.segments(search="germ")["name"]) == ["de"]  # display name
    assert list(ws.segments(sort="-name")["name"]) == ["vip", "later", "everyone", "de"]
    with pytest.raises(SegmentError, match="cannot sort by"):
        ws.segments(sort="colour")


def test_get_unknown_names_the_nearest(ws):
    ws.segment("vip", H.VIP)
    with pytest.raises(SegmentError, match="did you mean 'vip'"):
        ws.get("vipp")
    with pytest.raises(KeyError):
        ws["nope"]
    assert ws["vip"] == ws.get("vip")
    with pytest.raises(UnknownSegment):
        ws.refresh(["vip", "nope"])
    assert ws.get("vip").history().empty  # the unknown name stopped everything before a run was queued


def test_rename_duplicate_and_delete(ws, oracle):
    vip = ws.segment("vip", H.VIP)
    vip.refresh()
    old_table = vip.members_table
    vip.rename("vip2")
    assert vip.name == "vip2"
    assert vip.members_table != old_table and old_table not in ws.backend.tables()
    assert set(vip.keys()) == H.vip_keys(oracle)  # members moved with it
    with pytest.raises(SegmentError, match="already exists"):
        ws.segment("other", H.DE).rename("vip2")
    copy = ws.duplicate("vip2", "vip3")
    assert copy.definition == H.VIP and copy.status == "Not started"
    ws.segment("de_vip", "in segment vip3 and country = 'DE'")
    with pytest.raises(SegmentError, match="cannot delete 'vip3': segment 'de_vip' refers to it"):
        copy.delete()
    with pytest.raises(SegmentError, match="cannot rename 'vip3': segment 'de_vip' refers to it"):
        copy.rename("vip4")
    assert ws.get("vip3")  # still there
    table = vip.members_table
    vip.delete()
    assert "vip2" not in set(ws.segments()["name"])
    assert table not in ws.backend.tables()
    ws.get("de_vip").delete()
    copy.delete()
    assert sorted(ws.segments()["name"]) == ["other"]


def test_measures(ws, oracle):
    ws.measure("total_spend", "sum(orders.amount where status != 'returned')", description="net of returns")
    o = oracle["orders"]
    net = o[o["status"] != "returned"].groupby("customer_id")["amount"].sum()
    expected = set(int(k) for k in net[net >= 1000].index)
    assert set(ws.member_keys("total_spend >= 1000")) == expected
    frame = ws.measures()
    assert list(frame["name"]) == ["total_spend"] and frame.iloc[0]["description"] == "net of returns"
    seg = ws.segment("net_vip", "total_spend >= 1000 and country = 'DE'")
    de = H.de_keys(oracle)
    assert seg.refresh().members == len(expected & de)
    # Changing a measure changes what uses it, at the next refresh.
    ws.measure("total_spend", "sum(orders.amount)")
    assert seg.refresh().members == len(H.vip_keys(oracle) & de)
    with pytest.raises(SegmentError, match="amont"):
        ws.measure("broken", "sum(orders.amont)")
    with pytest.raises(SegmentError, match="already a column"):
        ws.measure("age", "count(orders)")
    with pytest.raises(SegmentError, match="plain identifier"):
        ws.measure("two words", "count(orders)")


def test_measure_that_breaks_is_reported_when_used(ws):
    ws.measure("n_orders", "count(orders)")
    # The measure's text goes bad behind our back (as if a column were dropped): reported on use.
    cat = ws.catalog
    with cat.transaction() as c:
        c.execute(cat.t.measures.update().values(expression="sum(orders.gone)"))
    with pytest.raises(SegmentError, match="measure 'n_orders'.*gone"):
        ws.count("n_orders > 2")


def test_default_catalog_is_created_lazily(tmp_path, monkeypatch, conn):
    monkeypatch.chdir(tmp_path)
    ws = H.workspace(conn, catalog=None)
    assert ws.count(H.DE) > 0 and len(ws.members(H.DE, limit=3)) == 3
    with pytest.raises(SegmentError, match="unknown segment 'vip'"):
        ws.count("in segment vip")
    assert not (tmp_path / ".segments").exists()  # count/members/compile never write files
    ws.segment("de", H.DE)
    assert (tmp_path / ".segments" / "catalog.sqlite").exists()
    assert ws.count("in segment de") == ws.count(H.DE)
    ws.catalog.close()


def test_schema_version_and_newer_catalog_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    cat = Catalog(str(path))
    assert cat.schema_version() == SCHEMA_VERSION
    with sa.create_engine(f"sqlite:///{path}").begin() as c:
        mode = c.exec_driver_sql("PRAGMA journal_mode").scalar()
        c.exec_driver_sql(f"UPDATE js_schema_version SET version = {SCHEMA_VERSION + 1}")
    assert mode == "wal"
    cat.close()
    with pytest.raises(SegmentError, match="newer than this"):
        Catalog(str(path))


def test_model_is_saved_for_a_fresh_process(tmp_path, conn, oracle):
    path = str(tmp_path / "c.sqlite")
    ws = H.workspace(conn, catalog=path)
    ws.segment("calls", "count(support_calls) >= 3")  # needs the declared support_calls relationship
    ws.catalog.close()
    bare = js.connect(conn, catalog=path)  # no customers(), no relate()
    run = bare.refresh()[0]
    assert run.status == "Successful", run.errors
    assert bare.model.customer == "customers"
    assert not any(r.assume_integrity for r in bare.model.declared)
    # a promise of integrity is part of the model too
    ws.relate("orders", "customers", on="customer_id", assume_integrity=True)
    ws.segment("calls", "count(support_calls) >= 3")
    ws.catalog.close()
    again = js.connect(conn, catalog=path)
    assert again.refresh()[0].status == "Successful"
    assert [r.child for r in again.model.declared if r.assume_integrity] == ["orders"]


def test_catalog_on_postgresql(conn, oracle):
    url = H.postgres_url()
    schema = H.unique("js_cat_")
    cat = Catalog(url, schema=schema)
    try:
        ws = H.workspace(conn, catalog=cat)
        ws.members_prefix = H.unique("seg_")
        name = STRANGE_NAMES[2]
        description = "O'Brien; DROP TABLE x; -- 東京"
        seg = ws.segment(name, H.VIP, description=description)
        ws.segment("de", H.DE)
        runs = ws.refresh()
        assert [r.status for r in runs] == ["Successful", "Successful"]
        assert {r.segment: r.members for r in runs} == {
            name: len(H.vip_keys(oracle)),
            "de": len(H.de_keys(oracle)),
        }
        ws.measure("spend", "sum(orders.amount)")
        assert ws.count("spend >= 1000") == len(H.vip_keys(oracle))
        # Read back from a second connection to the same schema.
        other = Catalog(url, schema=schema)
        row = other.segment_row(name)
        assert row["description"] == description and row["definition"] == H.VIP
        assert other.schema_version() == SCHEMA_VERSION
        assert len(other.run_rows(seg.id)) == 1
        other.close()
        with pytest.raises(SegmentError, match="already exists"):  # the UNIQUE constraint, on PostgreSQL
            cat.create_segment(
                "de", H.DE, description=None, display_name=None, type="dynamic", state="active", draft=False
            )
    finally:
        with cat.engine.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        cat.close()
        H.drop_postgres_database(url)  # tests leave no database behind


def test_catalog_url_for_sqlite(tmp_path):
    cat = Catalog(f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert cat.path == tmp_path / "x.sqlite" and os.path.exists(cat.path)
    assert cat.members_dir == tmp_path / "members"
    cat.close()
    with pytest.raises(SegmentError):
        Catalog("nosuchdb://x/y")


def test_times_are_local_and_ordered(ws):
    before = dt.datetime.now().replace(microsecond=0)
    seg = ws.segment("de", H.DE)
    run = seg.refresh()
    assert before <= seg.created_at <= dt.datetime.now()
    assert before <= run.started_at < run.finished_at <= dt.datetime.now()
    # The duration is the run's processing time: positive, and the time between its start and finish
    # (measured on another clock, so within a few milliseconds).
    elapsed = (run.finished_at - run.started_at).total_seconds()
    assert run.duration is not None and 0 < run.duration
    assert abs(run.duration - elapsed) < 0.05, (run.duration, elapsed)
    # Read back from the catalog, not only from the returned Run.
    assert [round(r.duration, 6) for r in seg.runs()] == [round(run.duration, 6)]
