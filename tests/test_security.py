"""Security (issue 15): secrets are never printed or stored; a dbt model runs no template code from
segment text. Real servers on 127.0.0.1, real catalogs, jinja2 rendering the model as dbt does."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jinja2
import pytest
import sqlalchemy as sa
import test_catalog_support as H

from jupyter_segments import SegmentError
from jupyter_segments.backends.base import mask_url
from jupyter_segments.catalog import Catalog

SECRET = "S3cretXyz"  # grep every output for this


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv = self.server
        with srv.lock:
            srv.seen.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(srv.code)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    srv.lock, srv.seen, srv.code = threading.Lock(), [], 200
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def ws(tmp_path):
    conn = H.fresh_demo()
    w = H.workspace(conn, catalog=str(tmp_path / "catalog.db"))
    w.segment("vip", H.VIP, description="big spenders")
    w.refresh()
    yield w
    w.close()
    conn.close()


def _catalog_text(catalog: Catalog) -> str:
    """Every row of every table of the catalog, as text."""
    out = []
    with catalog.engine.connect() as c:
        for table in sa.inspect(c).get_table_names(schema=catalog.schema):
            out += [repr(tuple(r)) for r in c.execute(sa.text(f'SELECT * FROM "{table}"'))]
    return "\n".join(out)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://bob:S3cretXyz@h/db", "postgresql://bob:***@h/db"),
        ("postgresql+psycopg://bob:S3cretXyz@h:5432/db?sslmode=require", "postgresql+psycopg://bob:***@h:5432/db?sslmode=require"),
        ("sqlite://bob:S3cretXyz@/x.db", "sqlite://bob:***@/x.db"),
        ("https://S3cretXyz@hooks.example/x", "https://***@hooks.example/x"),
        ("https://h/x?token=S3cretXyz&batch=1", "https://h/x?token=***&batch=1"),
        ("https://h/x?a=1&api_key=S3cretXyz", "https://h/x?a=1&api_key=***"),
        ("https://h/x?X-Amz-Signature=S3cretXyz", "https://h/x?X-Amz-Signature=***"),
        ("error at mysql://root:S3cretXyz@127.0.0.1/db: refused", "error at mysql://root:***@127.0.0.1/db: refused"),
        ("mysql://root@127.0.0.1/db", "mysql://root@127.0.0.1/db"),
    ],
)  # fmt: skip
def test_mask_url(url, shown):
    assert mask_url(url) == shown


def test_webhook_with_secrets_in_the_url(ws, hook, caplog):
    caplog.set_level(logging.DEBUG)
    port = hook.server_port
    url = f"http://bob:{SECRET}@127.0.0.1:{port}/hook?token={SECRET}2"
    record = ws.get("vip").add_to("webhook", url=url, batch_size=500)
    # user:password@ is basic auth, and the URL sent has no user info.
    path, auth, _ = hook.seen[0]
    assert auth == "Basic " + base64.b64encode(f"bob:{SECRET}".encode()).decode()
    assert path == f"/hook?token={SECRET}2"
    shown = [repr(record), str(record.target), repr(ws.get("vip").exports().to_dict("records"))]
    # A failing send: the message and the logged error.
    hook.code = 400
    with pytest.raises(SegmentError) as e:
        ws.get("vip").add_to("webhook", url=url, batch_size=500, retries=0)
    shown += [str(e.value), repr(e.value)]
    with pytest.raises(SegmentError) as e2:
        ws.get("vip").add_to("webhook", url=f"http://bob:{SECRET}@127.0.0.1:9/x?token={SECRET}", retries=0)
    shown += [str(e2.value)]
    with pytest.raises(SegmentError) as e3:
        ws.get("vip").add_to("webhook", url=f"ftp://bob:{SECRET}@h/x")
    shown += [str(e3.value)]
    shown += [_catalog_text(ws.catalog), caplog.text, repr(ws.catalog)]
    for text in shown:
        assert SECRET not in text
    assert "token=***" in str(e.value)


def test_catalog_open_errors_mask_the_password(tmp_path):
    refused = f"postgresql://postgres:{SECRET}@127.0.0.1:1/nothing"
    with pytest.raises(SegmentError, match=r"cannot open the catalog at postgresql://postgres:\*\*\*@") as e:
        Catalog(refused)
    assert SECRET not in str(e.value)
    with pytest.raises(SegmentError) as e:
        Catalog(f"nosuchdb+nodriver://u:{SECRET}@h/x")
    assert SECRET not in str(e.value)
    # The CLI: a message, no traceback, no password.
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_segments.cli", "refresh", "--catalog", refused, "--db", refused],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode != 0 and SECRET not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr, out.stderr


# --- dbt: the model file is a Jinja template; segment text must not run in it -----------------------
HOSTILE = '{{ run_query("DROP TABLE customers") }}'


def _render_as_dbt(path, calls):
    env = jinja2.Environment()

    def run_query(sql):
        calls.append(sql)
        return ""

    return env.from_string(path.read_text(encoding="utf-8")).render(
        config=lambda **kw: "",
        source=lambda s, t: t,
        run_query=run_query,
        ref=lambda m: m,
    )


def test_dbt_model_runs_no_template_code_from_segment_text(tmp_path):
    conn = H.fresh_demo()
    try:
        w = H.workspace(conn)
        conn.execute("UPDATE customers SET first_name = ? WHERE customer_id = 1", [HOSTILE])
        w.segment(
            "hostile",
            f"first_name = '{HOSTILE}' or first_name = '{{% set x = 1 %}}{{# c #}}'",
            description="line one\r\nDROP TABLE customers; {{ run_query('x') }}\u2028bare line",
        )
        calls: list[str] = []
        for source in (None, "shop"):
            w.get("hostile").add_to("dbt", path=tmp_path / "models", source=source)
            model = tmp_path / "models" / "segment_hostile.sql"
            rendered = _render_as_dbt(model, calls)
            assert calls == []
            # Comments stay comments: every line is a comment, blank, config, or the SQL that follows.
            head = rendered.split("\n\n", 1)[0].splitlines()
            assert all(line.startswith("--") or not line.strip() for line in head), head
            # The rendered SQL finds the customer whose name is the hostile text: the literal survived.
            keys = conn.execute(rendered.split("\n\n", 1)[1]).fetchall()
            assert keys == [(1,)]
    finally:
        conn.close()


@pytest.mark.parametrize("model", ["../../x", "a/b", "x.sql", "", "a b", "{{ x }}"])
def test_dbt_model_names_must_be_identifiers(ws, tmp_path, model):
    with pytest.raises(SegmentError, match="plain dbt model name"):
        ws.get("vip").add_to("dbt", path=tmp_path / "models", model=model)
    assert not (tmp_path / "x.sql").exists() and not list(tmp_path.glob("**/*.sql"))


def test_connect_failures_are_segment_errors_with_a_timeout(monkeypatch):
    # A server that accepts connections and never answers hung the first query for 130 s.
    import socket
    import time

    import jupyter_segments as js
    from jupyter_segments.backends import sqlalchemy_backend as SB

    monkeypatch.setattr(SB, "CONNECT_TIMEOUT", 1)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        port = silent.getsockname()[1]
        cases = {
            f"postgresql://u:{SECRET}@127.0.0.1:{port}/x": "connection timeout expired",
            f"postgresql://u:{SECRET}@no-such-host.invalid/x": "no-such-host.invalid",
            f"postgresql://u:{SECRET}@127.0.0.1:1/x": "Connection refused",
        }
        for url, reason in cases.items():
            started = time.monotonic()
            with pytest.raises(SegmentError, match="cannot connect to postgresql") as e:
                js.connect(url).customers("customers", key="customer_id")
            assert reason in str(e.value) and SECRET not in str(e.value) and "u:***@" in str(e.value)
            assert time.monotonic() - started < 30  # the 1 s timeout, not the driver's minutes
    finally:
        silent.close()


def test_a_mysql_server_that_never_greets_times_out(monkeypatch):
    # PyMySQL's connect_timeout covers the TCP connect only: a server that accepted and never sent its
    # greeting hung js.connect(...) forever.
    import socket

    import jupyter_segments as js
    from jupyter_segments.backends import sqlalchemy_backend as SB

    monkeypatch.setattr(SB, "CONNECT_TIMEOUT", 1)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    outcome: list[object] = []

    def attempt() -> None:
        try:
            js.connect(f"mysql://u:{SECRET}@127.0.0.1:{silent.getsockname()[1]}/x").customers(
                "customers", key="customer_id"
            )
        except BaseException as e:  # noqa: BLE001 - what comes out is what the test checks
            outcome.append(e)

    # In a thread, so that a hang fails the test instead of blocking the run.
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(60)
    silent.close()
    assert not worker.is_alive(), "js.connect hung on a server that never sent its greeting"
    (error,) = outcome
    assert isinstance(error, SegmentError), repr(error)
    assert "cannot connect to mysql" in str(error) and "127.0.0.1" in str(error), str(error)
    assert SECRET not in str(error) and "u:***@" in str(error)


def test_the_mysql_handshake_timeout_does_not_limit_queries(monkeypatch):
    # The handshake's read timeout must not stay on the connection: a query may run longer.
    from conftest import server_url

    from jupyter_segments.backends import open_backend
    from jupyter_segments.backends import sqlalchemy_backend as SB

    monkeypatch.setattr(SB, "CONNECT_TIMEOUT", 1)
    url = sa.make_url(server_url("mysql")).set(database="mysql")  # the server only: no table is read
    backend = open_backend(url.render_as_string(hide_password=False))
    try:
        assert backend.scalar("SELECT SLEEP(2.5) + 42") == 42
    finally:
        backend.close()


def test_webhook_credentials_from_the_environment_and_callables(ws, hook, monkeypatch, caplog):
    # Credentials that never pass through the code or the catalog: the URL from an environment variable
    # at send time, headers and the URL from callables (a partial's repr shows what it holds).
    import functools

    caplog.set_level(logging.DEBUG)
    port = hook.server_port
    monkeypatch.setenv("JS_TEST_HOOK_URL", f"http://bob:{SECRET}@127.0.0.1:{port}/env?token={SECRET}")
    record = ws.get("vip").add_to("webhook", url="env:JS_TEST_HOOK_URL", batch_size=500)
    path, auth, _ = hook.seen[-1]
    assert (
        path == f"/env?token={SECRET}"
        and auth == "Basic " + base64.b64encode(f"bob:{SECRET}".encode()).decode()
    )
    assert record.rows == ws.get("vip").count
    plain = f"http://127.0.0.1:{port}/callable"
    ws.get("vip").add_to(
        "webhook",
        url=functools.partial(str, plain + f"?api_key={SECRET}"),
        headers=functools.partial(dict, Authorization=f"Bearer {SECRET}"),
        batch_size=500,
    )
    path, auth, _ = hook.seen[-1]
    assert path == f"/callable?api_key={SECRET}" and auth == f"Bearer {SECRET}"
    monkeypatch.delenv("JS_TEST_HOOK_URL")
    with pytest.raises(SegmentError, match="JS_TEST_HOOK_URL"):
        ws.get("vip").add_to("webhook", url="env:JS_TEST_HOOK_URL")
    options = (
        [json.loads(o) for o in ws.get("vip").exports()["options"]]
        if "options" in ws.get("vip").exports()
        else []
    )
    text = "\n".join(
        [
            _catalog_text(ws.catalog),
            caplog.text,
            repr(record),
            repr(ws.get("vip").exports().to_dict("records")),
        ]
    )
    assert SECRET not in text
    assert "JS_TEST_HOOK_URL" in _catalog_text(ws.catalog) and "called at send time" in _catalog_text(
        ws.catalog
    )
    assert options == [] or all(SECRET not in json.dumps(o) for o in options)


@pytest.mark.slow
def test_a_run_with_secrets_leaks_them_nowhere(tmp_path, hook, caplog, capsys):
    # Passwords in the database's and the catalog's URLs (PostgreSQL trusts local logins, so any password
    # connects), secrets in a webhook URL and in an export to another database: then every message,
    # repr, display, log line, catalog row, CLI output and exported file is searched for them.
    from conftest import server_url

    import jupyter_segments as js
    from jupyter_segments.backends import open_backend
    from jupyter_segments.backends.sqlalchemy_backend import normalize_url

    caplog.set_level(logging.DEBUG)
    server = normalize_url(server_url("postgres"))
    name = f"js_test_secrets_{os.getpid()}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.set(database=name, password=SECRET).render_as_string(hide_password=False)
    assert SECRET in url
    shown: list[str] = []
    try:
        loader = open_backend(url)
        conn = H.fresh_demo()
        for table in ("customers", "orders", "support_calls"):
            loader.write_table(table, conn.execute(f"SELECT * FROM {table}").df())
        loader.close()
        conn.close()
        ws = js.connect(url, catalog=url)
        ws.customers("customers", key="customer_id")
        ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
        vip = ws.segment("vip", H.VIP, description="big spenders")
        runs = ws.refresh()
        assert [r.status for r in runs] == ["Successful"], runs
        shown += [repr(ws), repr(vip), repr(runs), repr(ws.catalog), repr(ws.backend), ws.backend.display_url]
        shown += [str(ws.segments()), str(vip.history()), repr(vip.last_run)]
        shown += [
            getattr(ws, "_repr_html_", lambda: "")() or "",
            getattr(vip, "_repr_html_", lambda: "")() or "",
        ]
        files = tmp_path / "out"
        exports = [
            vip.add_to("csv", path=files / "vip.csv"),
            vip.add_to("parquet", path=files / "vip.parquet"),
            vip.add_to("dbt", path=files / "models"),
            vip.add_to("table", table="vip_copy"),
            vip.add_to("table", table="vip_copy", url=url),
            vip.add_to("webhook", url=f"http://bob:{SECRET}@127.0.0.1:{hook.server_port}/x?token={SECRET}"),
        ]
        shown += [repr(e) for e in exports] + [str(vip.exports())]
        # Failures: a definition that does not bind, a server that refuses, a webhook that refuses.
        for bad in (
            lambda: ws.count("agee > 1"),
            lambda: js.connect(url.replace("5432", "1"), catalog=":memory:").customers(
                "customers", key="customer_id"
            ),
            lambda: vip.add_to("webhook", url=f"http://bob:{SECRET}@127.0.0.1:9/x?token={SECRET}", retries=0),
        ):
            with pytest.raises(SegmentError) as e:
                bad()
            shown += [str(e.value), repr(e.value)]
        shown.append(_catalog_text(ws.catalog))
        ws.close()
        # The CLI: a refresh with both URLs on its command line.
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_segments.cli", "refresh", "--all", "--db", url, "--catalog", url],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        shown += [done.stdout, done.stderr, caplog.text, *capsys.readouterr()]
        shown += [p.read_bytes().decode("latin-1") for p in files.rglob("*") if p.is_file()]
        assert len([p for p in files.rglob("*") if p.is_file()]) >= 3
        for text in shown:
            assert SECRET not in text, text[:3000]
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_a_query_error_names_the_database(tmp_path):
    import jupyter_segments as js

    db = tmp_path / "shop.db"
    with pytest.raises(SegmentError) as e:  # a SQLite URL takes no user: the message showed the password
        js.connect(f"sqlite://bob:{SECRET}@/{db}", create=True)
    assert SECRET not in str(e.value) and "bob:***@" in str(e.value)
    ws = js.connect(f"sqlite:///{db}", create=True, catalog=":memory:")
    ws.backend.execute("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, age INTEGER)")
    ws.customers("customers", key="customer_id")
    assert ws.count("age > 1") == 0
    ws.backend.execute("DROP TABLE customers")  # the model still has it: the database refuses
    with pytest.raises(SegmentError, match=r"the database \(sqlite:///.*shop\.db\) rejected the query") as e:
        ws.count("age > 1")
    assert SECRET not in str(e.value)
    ws.close()


def test_a_failing_key_check_names_the_database(tmp_path):
    # The key check's query raised the driver's OperationalError ("no such table") to the user.
    import jupyter_segments as js

    db = tmp_path / "shop.db"
    ws = js.connect(f"sqlite:///{db}", create=True, catalog=":memory:")
    ws.backend.execute("CREATE TABLE customers (customer_id INTEGER, age INTEGER)")  # no primary key
    ws.customers("customers", key="customer_id")
    ws.backend.execute("DROP TABLE customers")
    with pytest.raises(SegmentError, match=r"the database \(sqlite:///.*shop\.db\) could not check the key"):
        ws.count("age > 1")
    ws.close()
