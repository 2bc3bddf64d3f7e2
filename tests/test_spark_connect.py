"""Spark Connect: ``js.connect("sc://host:port")`` against a real Spark Connect server (a second local[2]
JVM started once per test run, see conftest.spark_connect_url), through PySpark's Connect client.

A Connect session has no SparkContext, no RDDs and no py4j JVM: the backend must work through the
DataFrame and catalog APIs alone. The demo data is loaded through the backend (Arrow batches sent over
gRPC) into the run's own database on the server; the backend tests of test_backends run on it, and
definitions of every kind are compared with the pandas oracle (the whole oracle suite runs on the same
Spark version through the classic session in test_spark.py: the SQL sent is the same).
"""

from __future__ import annotations

import os

import oracle as O
import pytest
import test_spark
from conftest import DEMO_ANCHOR
from test_backends import (  # noqa: F401 - run here on the Connect backend through demo_backend
    test_columns_classify_real_types,
    test_columns_of_missing_table_suggests,
    test_demo_data_survives_copy,
    test_iter_chunks_abandoned_leaves_backend_usable,
    test_iter_chunks_empty_result_keeps_columns,
    test_iter_chunks_streams_in_pieces,
    test_query_and_scalar_match_pandas,
    test_write_table_chunks_copies_a_query,
)
from test_engine_oracle import CASES, SEGMENT_CASES, Demo, keys
from test_refresh import SEGMENTS as REFRESH_SEGMENTS
from test_refresh import oracle_sets

import jupyter_segments as js
from jupyter_segments import SegmentError
from jupyter_segments import demo as demo_data
from jupyter_segments.backends.spark_backend import SparkBackend, is_spark_session

DATABASE = f"js_test_connect_{os.getpid()}"

# One definition of each kind: attributes, strings, dates, relative windows, aggregates with filters,
# any/none/all, nested scopes, two-step aggregates, to-one paths, set operations.
SOME_CASES = [
    "str_eq", "ilike", "contains_quote", "between_dates", "last_months", "count_where",
    "count_distinct", "none", "all_nullable", "nested_any_sum", "via_parent_mixed", "to_one_in_agg",
    "avg_never", "except", "union_of_intersect",
]  # fmt: skip


@pytest.fixture(scope="module")
def connect_backend(spark_connect_url, demo_conn):
    """js.connect(url) opens a Connect session; the demo goes into this run's database on the server."""
    ws = js.connect(spark_connect_url, catalog=":memory:")
    backend = ws.backend
    backend.execute(f"DROP DATABASE IF EXISTS {DATABASE} CASCADE")
    backend.execute(f"CREATE DATABASE {DATABASE}")
    backend.spark.catalog.setCurrentDatabase(DATABASE)
    demo_data.copy_to(demo_conn, backend)
    for table in demo_data.TABLES:
        backend.spark.catalog.cacheTable(f"{DATABASE}.{table}")
    yield backend
    backend.execute(f"DROP DATABASE IF EXISTS {DATABASE} CASCADE")
    backend.close()


@pytest.fixture(scope="module")
def demo_backend(connect_backend):
    """The imported backend tests and test_spark's ws fixture run on the Connect backend."""
    return connect_backend


# test_spark's fixtures, on this module's demo_backend: a workspace for the oracle forms, the oracle's frames.
ws = test_spark.ws
demo = test_spark.demo


def test_the_session_is_a_connect_session_without_a_spark_context(connect_backend, spark_connect_url):
    spark = connect_backend.spark
    assert type(spark).__module__ == "pyspark.sql.connect.session" and is_spark_session(spark)
    with pytest.raises(Exception, match="(?i)sparkContext|not supported|JVM_ATTRIBUTE"):
        spark.sparkContext  # noqa: B018 - Connect has none; the backend never needs one
    assert connect_backend.dialect == "spark" and connect_backend.database == DATABASE
    assert connect_backend.display_url == spark_connect_url


def test_a_url_with_a_database_opens_it(connect_backend, spark_connect_url):
    """``?database=`` picks the server's database; the owning backend closes its session, the other
    session (the module's) keeps working."""
    other = js.connect(f"{spark_connect_url}?database={DATABASE}", catalog=":memory:")
    try:
        assert isinstance(other.backend, SparkBackend) and other.backend.database == DATABASE
        assert int(other.backend.scalar("SELECT COUNT(*) FROM regions")) == 6
    finally:
        other.close()
    with pytest.raises(SegmentError, match="no Spark database 'js_no_such_db'"):
        js.connect(f"{spark_connect_url}?database=js_no_such_db", catalog=":memory:")


@pytest.mark.parametrize("name", SOME_CASES)
def test_some_forms_match_the_oracle(ws, demo: Demo, name: str) -> None:
    [(text, expected)] = [c[1:] for c in CASES if c[0] == name]
    want = O.members(expected(demo))
    assert keys(ws, text) == want
    assert ws.count(text, as_of=DEMO_ANCHOR) == len(want)


def test_segment_references_and_members_frame(ws, demo: Demo) -> None:
    name, text, expected = SEGMENT_CASES[0]
    want = O.members(expected(demo))
    frame = ws.members(text, as_of=DEMO_ANCHOR)
    assert sorted(frame["customer_id"].astype(int)) == want, name
    assert {"customer_id", "country", "age"} <= set(frame.columns)


def test_shared_refresh_writes_members_tables_over_connect(connect_backend, demo_frames, tmp_path):
    """The shared refresh (one query, members tables built under a staging name and swapped in) and
    a CSV download streamed to the driver, against test_refresh's oracle."""
    ws = js.Workspace(connect_backend, catalog=":memory:")
    ws.customers("customers", key="customer_id")
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    ws.members_prefix = "js_connect_"
    for name, text in REFRESH_SEGMENTS.items():
        ws.segment(name, text)
    expected = oracle_sets(demo_frames, demo_frames["support_calls"])
    runs = ws.refresh(as_of=DEMO_ANCHOR)
    assert {r.status for r in runs} == {"Successful"}, [r.errors for r in runs]
    for run in runs:
        assert run.location == "table"
        assert {int(k) for k in ws.get(run.segment).keys()} == expected[run.segment], run.segment
    result = ws.get("vip").export("csv", path=str(tmp_path / "vip.csv"))
    assert result.rows == len(expected["vip"])
    for name in ("de_vip", "not_vip_callers", "vip", "de", "recent", "returners"):  # users first
        ws.get(name).delete()
    assert not [t for t in connect_backend.tables() if t.startswith(("js_connect_", "_js_"))]


@pytest.mark.slow
def test_cancel_interrupts_the_operation_over_connect(ws):
    """The widgets' Cancel over Spark Connect: the operation's tag is interrupted on the server, the
    call raises, and the session runs the next query."""
    import time

    since = time.monotonic()
    test_spark.cancel_a_slow_count(ws, started=lambda: time.monotonic() - since > 3)
