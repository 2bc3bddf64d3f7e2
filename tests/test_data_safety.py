"""Data safety (issue 15): a refresh never replaces a table it did not create. A user's table named
like a members table (seg_members__vip) survives every refresh, on DuckDB, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import test_catalog_support as H

from jupyter_segments.backends import open_backend


@pytest.fixture(params=["duckdb", "sqlite", "postgres"])
def target(request, tmp_path):
    conn = H.fresh_demo()
    if request.param == "duckdb":
        yield open_backend(conn)
    else:
        if request.param == "sqlite":
            backend = open_backend(f"sqlite:///{tmp_path / 'shop.db'}")
        else:
            # A database of its own, dropped at the end (the run's shared one has the demo with keys).
            from conftest import server_url

            url = sa.make_url(server_url("postgres"))
            own = f"{url.database}_safety"
            admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{own}"'))
                c.execute(sa.text(f'CREATE DATABASE "{own}"'))
            backend = open_backend(url.set(database=own).render_as_string(hide_password=False))
        for table in ("customers", "orders", "support_calls"):
            backend.write_table(table, conn.execute(f"SELECT * FROM {table}").df())
        yield backend
        backend.close()
        if request.param == "postgres":
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
            admin.dispose()
    conn.close()


@pytest.mark.parametrize("shared", [True, False])
def test_refresh_never_replaces_a_users_table(target, shared):
    backend = target
    ws = H.workspace(backend)
    backend.drop_table("seg_members__vip")
    backend.execute("CREATE TABLE seg_members__vip (note VARCHAR(40))")
    backend.execute("INSERT INTO seg_members__vip VALUES ('the user''s own data')")
    ws.segment("vip", H.VIP)
    ws.segment("older", "age > 40")
    runs = {r.segment: r for r in ws.refresh(shared=shared)}
    # The collision is that segment's failure, naming the table and the settings to change ...
    assert runs["vip"].status == "Failed", runs
    assert "seg_members__vip" in runs["vip"].errors[0] and "members_prefix" in runs["vip"].errors[0]
    # ... the user's table is untouched, and the other segment is refreshed.
    assert backend.query("SELECT note FROM seg_members__vip")["note"].tolist() == ["the user's own data"]
    assert runs["older"].status == "Successful"
    # With another prefix the segment refreshes, and the user's table still stands.
    ws.members_prefix = "myseg_"
    (run,) = ws.refresh("vip")
    assert run.status == "Successful" and ws.get("vip").members_table == "myseg_members__vip"
    assert backend.query("SELECT note FROM seg_members__vip")["note"].tolist() == ["the user's own data"]
    # Our own table is replaced on the next refresh as before.
    (run,) = ws.refresh("vip")
    assert run.status == "Successful"
    for table in (
        "myseg_members__vip",
        "myseg_members__vip__prev",
        "seg_members__older",
        "seg_members__older__prev",
    ):
        backend.drop_table(table)


def test_a_deleted_catalog_file_is_an_error_not_a_silent_loss(tmp_path):
    # SQLite keeps writing to an unlinked file: saves and refreshes "succeeded", and were gone on reopen.
    from jupyter_segments import SegmentError

    conn = H.fresh_demo()
    try:
        catalog = tmp_path / "catalog.db"
        ws = H.workspace(conn, catalog=str(catalog))
        ws.segment("vip", H.VIP)
        ws.refresh()
        catalog.unlink()
        for write in (lambda: ws.segment("older", "age > 40"), ws.refresh, lambda: ws.get("vip").refresh()):
            with pytest.raises(SegmentError, match="was deleted or replaced after it was opened"):
                write()
        # Replaced by another file of that name (a restore, a sync tool): also refused.
        catalog.write_bytes(b"")
        with pytest.raises(SegmentError, match="deleted or replaced"):
            ws.segment("older", "age > 40")
        ws.close()
        # Opened again, the catalog there is a fresh one, and it works.
        catalog.unlink()
        ws = H.workspace(conn, catalog=str(catalog))
        ws.segment("older", "age > 40")
        assert [r.status for r in ws.refresh()] == ["Successful"]
        ws.close()
    finally:
        conn.close()
