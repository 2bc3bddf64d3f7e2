"""Data safety (issue 15): a refresh never replaces a table it did not create. A user's table named
like a members table (seg_members__vip) survives every refresh, on DuckDB, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
import test_catalog_support as H

from jupyter_segments import SegmentError
from jupyter_segments.backends import open_backend
from jupyter_segments.catalog import Catalog
from jupyter_segments.catalog.schema import SCHEMA_VERSION


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


# --- the catalog's own tables: prefixed, an old catalog migrated, an application's tables left alone ---
REPO = Path(__file__).parent.parent
OLD_CATALOG = Path(__file__).parent / "data" / "catalog_v1_unprefixed.sql"


def _rows(db: Path) -> dict[str, list[tuple]]:
    with closing(sqlite3.connect(db)) as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(c.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}


def test_an_old_catalog_without_the_prefix_is_migrated_on_open(tmp_path):
    db = tmp_path / "catalog.sqlite"
    with closing(sqlite3.connect(db)) as c:
        c.executescript(OLD_CATALOG.read_text(encoding="utf-8"))
    before = _rows(db)
    assert "segments" in before and "js_segments" not in before
    conn = H.fresh_demo()
    try:
        ws = H.workspace(conn, catalog=str(db))
        assert set(ws.segments()["name"]) == {"vip", "older"}  # (the catalog is opened when first used)
        # Every row is where it was, under the prefixed name; no unprefixed table is left.
        after = _rows(db)
        for name, rows in before.items():
            if name != "schema_version":
                assert after["js_" + name] == rows, name
        assert all(n.startswith("js_") for n in after), sorted(after)
        assert ws.catalog.schema_version() == SCHEMA_VERSION
        # ... and the workspace reads them: definitions, versions, measures, runs, exports.
        assert ws.get("older").definition == "age > 45" and len(ws.get("older").versions()) == 2
        assert ws.get("vip").description == "big spenders" and "spend" in set(ws.measures()["name"])
        assert list(ws.get("vip").history()["status"]) == ["Successful"]
        assert len(ws.get("vip").exports()) == 1
        runs = {r.segment: r for r in ws.refresh()}
        assert {r.status for r in runs.values()} == {"Successful"}, runs
        assert ws.get("vip").count == len(H.vip_keys(H.frames(conn), 1000))
        ws.close()
        # Opened again: nothing more to migrate, the same catalog.
        ws = H.workspace(conn, catalog=str(db))
        assert len(ws.get("vip").history()) == 2
        ws.close()
    finally:
        conn.close()


APP_TABLES = [
    "CREATE TABLE segments (id INTEGER PRIMARY KEY, title VARCHAR(40))",
    "INSERT INTO segments VALUES (1, 'the application''s own segment')",
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, note VARCHAR(40))",
    "INSERT INTO runs VALUES (7, 'a job of the application')",
    "CREATE TABLE schema_version (version INTEGER)",
    "INSERT INTO schema_version VALUES (42)",
]


@pytest.fixture(params=["sqlite", "postgres"])
def app_database(request, tmp_path):
    """An application's database (a SQLAlchemy URL) and an engine on it, dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        engine = sa.create_engine(url)
        yield url, engine
        engine.dispose()
        return
    from conftest import server_url

    from jupyter_segments.backends.sqlalchemy_backend import normalize_url

    server = normalize_url(server_url("postgres"))
    url = server.set(database=f"js_test_app_{os.getpid()}").render_as_string(hide_password=False)
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "js_test_app_{os.getpid()}"')
        c.exec_driver_sql(f'CREATE DATABASE "js_test_app_{os.getpid()}"')
    engine = sa.create_engine(url)
    yield url, engine
    engine.dispose()
    H.drop_postgres_database(url)
    admin.dispose()


def test_an_applications_segments_table_is_left_alone(app_database):
    url, engine = app_database
    with engine.begin() as c:
        for sql in APP_TABLES:
            c.execute(sa.text(sql))
    conn = H.fresh_demo()
    ws = H.workspace(conn, catalog=url)
    ws.segment("vip", H.VIP)
    assert [r.status for r in ws.refresh()] == ["Successful"]
    assert ws.get("vip").definition == H.VIP
    ws.close()
    conn.close()
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT * FROM segments")).fetchall() == [
            (1, "the application's own segment")
        ]
        assert c.execute(sa.text("SELECT * FROM runs")).fetchall() == [(7, "a job of the application")]
        assert c.execute(sa.text("SELECT * FROM schema_version")).fetchall() == [(42,)]
        assert c.execute(sa.text("SELECT name FROM js_segments")).fetchall() == [("vip",)]


def test_a_foreign_table_with_a_catalog_tables_name_is_refused(app_database):
    url, engine = app_database
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE js_runs (id INTEGER PRIMARY KEY, note VARCHAR(40))"))
        c.execute(sa.text("INSERT INTO js_runs VALUES (7, 'not ours')"))
    with pytest.raises(SegmentError, match="js_runs") as e:
        Catalog(url)
    assert "did not create" in str(e.value)
    # Nothing was created beside it, and it is untouched.
    assert sa.inspect(engine).get_table_names() == ["js_runs"]
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT * FROM js_runs")).fetchall() == [(7, "not ours")]


# --- read-only and damaged catalogs: a clear SegmentError naming the catalog, nothing lost ------------
# Permissions do not stop root: as root the child drops to 'nobody' after its imports, so that the
# file system, not our code, is what refuses the writes.
READ_ONLY_CHILD = textwrap.dedent(
    """
    import json, os, sys
    import jupyter_segments as js
    from jupyter_segments import demo
    from jupyter_segments.backends import open_backend

    path = sys.argv[1]
    backend = open_backend(demo.generate(300, seed=1))
    warm = js.Workspace(backend, catalog=":memory:")
    warm.customers("customers", key="customer_id")
    warm.segment("w", "age > 1")
    warm.refresh()
    warm.get("w").history()
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    out = {}

    def attempt(what, f):
        try:
            out[what] = ["ok", f()]
        except js.SegmentError as e:
            out[what] = ["SegmentError", str(e)]
        except Exception as e:
            out[what] = [type(e).__name__, str(e)]

    ws = js.Workspace(backend, catalog=path)
    attempt("open", lambda: ws.customers("customers", key="customer_id") and None)
    attempt("names", lambda: sorted(ws.segments()["name"]))
    attempt("definition", lambda: ws.get("older").definition)
    attempt("history", lambda: list(ws.get("older").history()["status"]))
    attempt("save", lambda: ws.segment("x", "age > 3") and None)
    attempt("refresh", lambda: [r.status for r in ws.refresh()])
    print(json.dumps(out))
    """
)


def _catalog_folder() -> Path:
    """A folder the child can reach as 'nobody' (pytest's tmp_path is inside a folder only root enters)."""
    folder = Path(tempfile.mkdtemp(prefix="js_test_ro_"))
    folder.chmod(0o755)
    return folder


def _make_catalog(path: Path) -> None:
    conn = H.fresh_demo()
    ws = H.workspace(conn, catalog=str(path))
    ws.segment("older", "age > 40")
    ws.refresh()
    ws.close()
    conn.close()


def _give_to_nobody(path: Path) -> None:
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("what", ["file", "folder", "new"])
def test_a_read_only_catalog_reads_and_refuses_writes_clearly(what):
    folder = _catalog_folder()
    try:
        inner = folder / "cat"
        inner.mkdir()
        catalog = inner / "catalog.sqlite"
        if what != "new":
            _make_catalog(catalog)
        if what == "file":  # the file read-only, its folder writable
            catalog.chmod(0o444)
            _give_to_nobody(inner)
        elif what == "folder":  # the file writable, its folder read-only
            _give_to_nobody(catalog)
            inner.chmod(0o555)
        else:  # no catalog yet, in a read-only folder
            inner.chmod(0o555)
        before = {p.name: p.read_bytes() for p in inner.iterdir()}
        script = folder / "child.py"
        script.write_text(READ_ONLY_CHILD)
        done = subprocess.run(
            [sys.executable, str(script), str(catalog)], capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": REPO},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        if what == "new":
            status, message = out["names"]  # (the catalog is opened when first used)
            assert status == "SegmentError" and str(catalog) in message, out
            assert "read-only" in message or "cannot be created" in message, message
        else:
            assert out["open"] == ["ok", None], out
            assert out["names"] == ["ok", ["older"]] and out["definition"] == ["ok", "age > 40"]
            assert out["history"] == ["ok", ["Successful"]]
            for write in ("save", "refresh"):
                status, message = out[write]
                assert status == "SegmentError", out
                assert f"the catalog {catalog} is read-only" in message and "nothing was written" in message
        # Nothing lost or changed (SQLite may add its -wal and -shm files beside a file it reads).
        after = {p.name: p.read_bytes() for p in inner.iterdir() if not p.name.endswith(("-wal", "-shm"))}
        assert after == before
    finally:
        for p in folder.rglob("*"):
            p.chmod(0o755) if p.is_dir() else None
        folder.chmod(0o755)
        shutil.rmtree(folder)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "random bytes":
        path.write_bytes(os.urandom(len(data)))
    elif how == "pages overwritten":
        path.write_bytes(data[:100] + os.urandom(4000) + data[4100:])
    else:  # truncated
        path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("how", ["random bytes", "pages overwritten", "truncated"])
def test_a_damaged_catalog_file_is_a_clear_error_and_left_as_it_is(tmp_path, how):
    catalog = tmp_path / "catalog.sqlite"
    _make_catalog(catalog)
    _damage(catalog, how)
    damaged = catalog.read_bytes()
    with pytest.raises(SegmentError) as e:
        Catalog(str(catalog))
    message = str(e.value)
    assert f"cannot open the catalog at {catalog}" in message
    assert "damaged" in message and "backup" in message and "server" not in message, message
    assert catalog.read_bytes() == damaged


def test_a_malformed_row_is_a_clear_error(tmp_path):
    catalog = tmp_path / "catalog.sqlite"
    _make_catalog(catalog)
    with closing(sqlite3.connect(catalog)) as c:
        c.execute("UPDATE js_runs SET errors = '[\"unfinished' ")
        c.commit()
    conn = H.fresh_demo()
    try:
        ws = H.workspace(conn, catalog=str(catalog))
        with pytest.raises(
            SegmentError, match=rf"the catalog {re.escape(str(catalog))} has a malformed row"
        ) as e:
            ws.get("older").history()
        assert "js_runs" in str(e.value) and "errors" in str(e.value)
        ws.close()
    finally:
        conn.close()


# --- a mistyped SQLite path is an error, not a new empty database --------------------------------------
def test_a_missing_sqlite_file_is_an_error_unless_creating_is_asked_for(tmp_path):
    import jupyter_segments as js

    missing = tmp_path / "shpo.db"
    for attempt in (
        lambda: js.connect(f"sqlite:///{missing}"),
        lambda: open_backend(f"sqlite:///{missing}", create=False),
    ):
        with pytest.raises(SegmentError, match=rf"no SQLite database at {re.escape(str(missing))}") as e:
            attempt()
        assert "create=True" in str(e.value)
        assert not missing.exists()
    # The CLI: a message, no traceback, no file.
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_segments.cli", "compile", "age > 1", "--db", f"sqlite:///{missing}"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 2 and str(missing) in done.stderr and "Traceback" not in done.stderr
    assert re.search("no (SQLite )?database( file)? at", done.stderr) or "no database file" in done.stderr
    assert not missing.exists()
    # Asked for, it is created; an existing file needs nothing.
    ws = js.connect(f"sqlite:///{missing}", create=True, catalog=":memory:")
    ws.backend.execute("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, age INTEGER)")
    ws.backend.execute("INSERT INTO customers VALUES (1, 30), (2, 50)")
    ws.close()
    ws = js.connect(f"sqlite:///{missing}", catalog=":memory:")
    ws.customers("customers", key="customer_id")
    assert ws.count("age > 40") == 1
    ws.close()
