"""Export: CSV/Parquet downloads, table, dbt model, webhook (a real HTTP server on 127.0.0.1), plug-ins."""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
import test_catalog_support as H

from jupyter_segments import SegmentError
from jupyter_segments.export import destinations, resolve
from jupyter_segments.export.webhook import WebhookError


@pytest.fixture(scope="module")
def conn():
    c = H.fresh_demo()
    yield c
    c.close()


@pytest.fixture(scope="module")
def oracle(conn):
    return H.frames(conn)


@pytest.fixture(scope="module")
def ws(conn):
    w = H.workspace(conn)
    w.segment("vip", H.VIP + " project sum(orders.amount) as spend", description="big spenders")
    w.segment("nobody", "age > 1000")
    w.refresh()
    return w


def test_csv_download_streams_all_members(ws, oracle, tmp_path):
    path = tmp_path / "out" / "vip.csv"
    record = ws.get("vip").export("csv", path=path, chunk_size=37)  # many small chunks
    frame = pd.read_csv(path)
    expected = H.vip_keys(oracle)
    assert set(frame["customer_id"]) == expected and len(frame) == len(expected)
    assert list(frame.columns) == [*oracle["customers"].columns, "spend"]
    spend = oracle["orders"].groupby("customer_id")["amount"].sum()
    assert (frame.set_index("customer_id")["spend"] - spend.loc[sorted(expected)]).abs().max() < 1e-6
    # Unicode names survive (the demo has Zoë, Müller, 東京).
    merged = frame.merge(oracle["customers"], on="customer_id", suffixes=("", "_o"))
    assert (merged["last_name"] == merged["last_name_o"]).all()
    log = ws.get("vip").exports()
    assert log.iloc[-1]["status"] == "Completed" and log.iloc[-1]["rows"] == len(expected)
    assert log.iloc[-1]["destination"] == "csv" and log.iloc[-1]["target"] == str(path)
    assert record.rows == len(expected)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_parquet_download_and_keys_only(ws, oracle, tmp_path):
    ws.get("vip").export("parquet", path=tmp_path / "vip.parquet")
    frame = pd.read_parquet(tmp_path / "vip.parquet")
    assert set(frame["customer_id"]) == H.vip_keys(oracle) and "spend" in frame.columns
    ws.get("vip").add_to("csv", path=tmp_path / "keys.csv", columns="keys")
    keys = pd.read_csv(tmp_path / "keys.csv")
    assert list(keys.columns) == ["customer_id"] and set(keys["customer_id"]) == H.vip_keys(oracle)
    ws.get("nobody").export("parquet", path=tmp_path / "none.parquet")  # an empty segment: an empty file
    assert len(pd.read_parquet(tmp_path / "none.parquet")) == 0
    with pytest.raises(SegmentError, match="'csv' or 'parquet'"):
        ws.get("vip").export("xlsx")


def test_table_destination_in_another_database(ws, oracle, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    ws.get("vip").add_to("table", url=url, table="vip_customers")
    engine = sa.create_engine(url)
    with engine.connect() as c:
        got = pd.read_sql("SELECT * FROM vip_customers", c)
    assert set(got["customer_id"]) == H.vip_keys(oracle)
    ws.get("vip").add_to("table", url=url, table="vip_customers", if_exists="append", columns="keys")
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT COUNT(*) FROM vip_customers").scalar() == 2 * len(H.vip_keys(oracle))
    log = ws.get("vip").exports()
    assert log.iloc[-1]["target"].endswith(":: vip_customers") and log.iloc[-1]["status"] == "Completed"
    with pytest.raises(SegmentError, match="give the table"):
        ws.get("vip").add_to("table", url=url)
    assert ws.get("vip").exports().iloc[-1]["status"] == "Failed"


def test_dbt_model_runs_in_the_warehouse(ws, conn, oracle, tmp_path):
    ws.get("vip").add_to("dbt", path=tmp_path / "models", dialect="duckdb")
    model = (tmp_path / "models" / "segment_vip.sql").read_text()
    assert model.startswith("{{ config(materialized='table') }}")
    assert "-- Definition: " + H.VIP in model
    sql = "\n".join(line for line in model.splitlines() if not line.startswith(("{{", "--")))
    keys = set(conn.execute(sql).df()["customer_id"])
    assert keys == H.vip_keys(oracle)
    rec = ws.get("vip").add_to("dbt", path=tmp_path / "pg" / "vip_pg.sql", dialect="postgres", source="shop")
    pg = (tmp_path / "pg" / "vip_pg.sql").read_text()
    assert "{{ source('shop', 'orders') }}" in pg and "{{ source('shop', 'customers') }}" in pg
    assert rec.target == str(tmp_path / "pg" / "vip_pg.sql")
    with pytest.raises(SegmentError, match="dbt source name"):
        ws.get("vip").add_to("dbt", path=tmp_path, source="x') }}{{ evil")


def _render_sources(model: str, schema: str) -> str:
    """The model's SQL as dbt would run it: config and comment lines dropped, each
    ``{{ source('shop', 't') }}`` replaced by the table in the sources' schema."""
    sql = "\n".join(line for line in model.splitlines() if not line.startswith(("{{ config", "--")))
    sql = re.sub(r"\{\{ source\('shop', '(\w+)'\) \}\}", lambda m: f'"{schema}"."{m.group(1)}"', sql)
    assert "{{" not in sql and "}}" not in sql, sql
    return sql


@pytest.mark.parametrize("backend_name", ["postgres"], indirect=True)
def test_dbt_model_for_postgres_runs_on_postgres(ws, demo_backend, demo_frames, tmp_path, backend_name):
    """The PostgreSQL models (with dbt sources) run on PostgreSQL select the segment's members -- keys, and
    members with their projected spend -- computed in pandas from the same demo data."""
    spend = demo_frames["orders"].groupby("customer_id")["amount"].sum()
    want = spend[spend >= 1000]
    for shape in ("keys", "members"):
        path = tmp_path / f"vip_{shape}.sql"
        ws.get("vip").add_to("dbt", path=path, dialect="postgres", source="shop", shape=shape)
        model = path.read_text()
        assert "-- Dialect: postgres" in model
        got = demo_backend.query(_render_sources(model, "public"))
        assert sorted(int(k) for k in got["customer_id"]) == sorted(int(k) for k in want.index), shape
        if shape == "members":
            got = got.set_index(got["customer_id"].astype(int))
            assert (got["spend"].astype(float) - want.loc[got.index]).abs().max() < 1e-6


@pytest.mark.parametrize("backend_name", ["postgres", "mysql"], indirect=True)
def test_table_destination_on_a_server(ws, demo_backend, oracle, backend_name):
    """Members written into PostgreSQL / MariaDB (the test server's database), replaced and appended."""
    url = demo_backend.engine.url.render_as_string(hide_password=False)
    table = H.unique("vip_out_")
    quoted = demo_backend.engine.dialect.identifier_preparer.quote(table)
    want = H.vip_keys(oracle)
    spend = oracle["orders"].groupby("customer_id")["amount"].sum()
    try:
        ws.get("vip").add_to("table", url=url, table=table)
        got = demo_backend.query(f"SELECT * FROM {quoted}")
        assert sorted(int(k) for k in got["customer_id"]) == sorted(want)
        assert list(got.columns) == [*oracle["customers"].columns, "spend"]
        got = got.set_index(got["customer_id"].astype(int))
        assert (got["spend"].astype(float) - spend.loc[got.index]).abs().max() < 1e-6
        ws.get("vip").add_to("table", url=url, table=table)  # replace (the default): still once each
        assert int(demo_backend.scalar(f"SELECT COUNT(*) FROM {quoted}")) == len(want)
        ws.get("vip").add_to("table", url=url, table=table, if_exists="append", columns="keys")
        keys = demo_backend.query(f"SELECT customer_id FROM {quoted}")["customer_id"].astype(int)
        assert keys.value_counts().to_dict() == dict.fromkeys(want, 2)
        log = ws.get("vip").exports()
        assert log.iloc[-1]["status"] == "Completed" and log.iloc[-1]["target"].endswith(f":: {table}")
        assert "password" not in log.iloc[-1]["target"]
    finally:
        demo_backend.execute(f"DROP TABLE IF EXISTS {quoted}")


class _Hook(BaseHTTPRequestHandler):
    """Collects POSTed batches; the first ``fail`` requests answer ``code``."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv = self.server
        with srv.lock:
            srv.requests += 1
            failing = srv.requests <= srv.fail
            if not failing:
                srv.batches.append(json.loads(body))
                srv.auth.append(self.headers.get("Authorization"))
        self.send_response(srv.code if failing else 200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    srv.lock, srv.requests, srv.fail, srv.code, srv.batches, srv.auth = threading.Lock(), 0, 0, 503, [], []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_webhook_batches_with_retries(ws, oracle, hook):
    hook.fail, hook.code = 2, 503  # two transient failures, then success
    url = f"http://127.0.0.1:{hook.server_port}/segments"
    rec = ws.get("vip").add_to(
        "webhook", url=url, batch_size=100, backoff=0.01, headers={"Authorization": "Bearer s3cret"}
    )
    expected = H.vip_keys(oracle)
    keys = [k for b in hook.batches for k in b["keys"]]
    assert sorted(keys) == sorted(expected)  # each key exactly once, none lost to the retries
    assert len(hook.batches) == -(-len(expected) // 100)
    assert [b["batch"] for b in hook.batches] == list(range(len(hook.batches)))
    assert {b["segment"] for b in hook.batches} == {"vip"} and set(hook.auth) == {"Bearer s3cret"}
    assert rec.rows == len(expected)
    log = ws.catalog.export_rows(ws.get("vip").id)[-1]
    assert log["status"] == "Completed" and "s3cret" not in log["options"]


def test_webhook_permanent_failure_is_logged(ws, hook):
    hook.fail, hook.code = 10**6, 400
    url = f"http://127.0.0.1:{hook.server_port}/x"
    with pytest.raises(WebhookError, match="answered 400"):
        ws.get("vip").add_to("webhook", url=url, batch_size=50, backoff=0.01)
    assert hook.requests == 1  # a 4xx is not retried
    log = ws.get("vip").exports().iloc[-1]
    assert log["status"] == "Failed" and "400" in log["error"] and log["rows"] == 0
    with pytest.raises(WebhookError, match="failed after 2 attempt"):
        ws.get("vip").add_to("webhook", url="http://127.0.0.1:9/nothing-listens", retries=1, backoff=0.01)


def test_unknown_destination_and_entry_point_plugin(ws, tmp_path, monkeypatch):
    with pytest.raises(SegmentError, match="unknown destination 'webhok'; did you mean 'webhook'"):
        ws.get("vip").add_to("webhok")
    # A plug-in package registered through the entry point group, found by importlib.metadata.
    site = tmp_path / "site"
    (site / "myplugin").mkdir(parents=True)
    (site / "myplugin" / "__init__.py").write_text(
        "from jupyter_segments.export import ExportResult\n"
        "SENT = []\n"
        "class Memory:\n"
        "    name = 'memory'\n"
        "    def send(self, segment, **options):\n"
        "        keys = [k for c in segment.iter_members(keys_only=True) for k in c.iloc[:, 0]]\n"
        "        SENT.extend(keys)\n"
        "        return ExportResult(len(keys), 'memory://')\n"
    )
    dist = site / "myplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[jupyter_segments.destinations]\nmemory = myplugin:Memory\n")
    monkeypatch.syspath_prepend(str(site))
    assert destinations()["memory"] == "myplugin:Memory"
    rec = ws.get("vip").add_to("memory")
    import myplugin

    assert rec.rows == len(myplugin.SENT) > 0 and rec.target == "memory://"
    assert type(resolve("csv")).__name__ == "CsvDestination"
    sys.modules.pop("myplugin", None)


def test_export_of_a_segment_without_members(ws, tmp_path):
    ws.segment("fresh", "age > 30")
    with pytest.raises(SegmentError, match="not refreshed yet"):
        ws.get("fresh").export("csv", path=tmp_path / "f.csv")
    assert not (tmp_path / "f.csv").exists()


def test_csv_export_from_parquet_members(tmp_path, oracle):
    path = str(tmp_path / "shop.duckdb")
    H.fresh_demo(path).close()
    ro = duckdb.connect(path, read_only=True)
    w = H.workspace(ro, catalog=str(tmp_path / "c.sqlite"))
    w.segment("vip", H.VIP)
    assert w.refresh()[0].location == "parquet"
    w.get("vip").export("csv", path=tmp_path / "v.csv", chunk_size=50)
    frame = pd.read_csv(tmp_path / "v.csv")
    assert set(frame["customer_id"]) == H.vip_keys(oracle)
    assert list(frame.columns) == list(oracle["customers"].columns)
    assert (
        frame.set_index("customer_id")["last_name"]
        == oracle["customers"].set_index("customer_id").loc[frame["customer_id"], "last_name"]
    ).all()
    ro.close()
