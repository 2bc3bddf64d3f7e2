"""Apache Spark as a backend, for real: a local[2] SparkSession (started once per test run, see
conftest.spark_session) holding the demo data as tables of the run's own database.

The backend tests (test_backends) and the oracle suite (test_engine_oracle: every DSL form against the
hand-written pandas oracle) are imported here and run on Spark: this module's ``demo_backend`` fixture
hands them the Spark backend instead of the four databases of BACKEND_NAMES. The tests below them are
Spark's own: opening a backend from a session or a URL, Spark's column types, temporary views, time
zones, relative windows on Spark's clock, and many definitions compared in one shared query.

Without PySpark or Java these skip, or fail when JS_REQUIRE_ALL_BACKENDS=1 (as in CI).
"""

from __future__ import annotations

import datetime as dt
import sys
from functools import reduce

import oracle as O
import pandas as pd
import pytest
from conftest import DEMO_ANCHOR
from test_backends import (  # noqa: F401 - run here on Spark through this module's demo_backend
    _odd_frame,
    test_columns_classify_real_types,
    test_columns_of_missing_table_suggests,
    test_demo_data_survives_copy,
    test_iter_chunks_abandoned_leaves_backend_usable,
    test_iter_chunks_empty_result_keeps_columns,
    test_iter_chunks_streams_in_pieces,
    test_query_and_scalar_match_pandas,
    test_tables_lists_demo_tables,
    test_write_table_chunks_copies_a_query,
)
from test_engine_errors import INJECTIONS
from test_engine_errors import test_injection_in_literals_is_data as _injection_is_data
from test_engine_oracle import (  # noqa: F401 - the oracle suite, on Spark
    CASES,
    RELATIVE,
    SEGMENT_CASES,
    Demo,
    keys,
    test_count_and_members_agree,
    test_form_matches_oracle,
    test_measure_inlined,
    test_params_list_and_injection,
    test_project_columns,
    test_segment_reference_matches_oracle,
    workspace_for,
)
from test_refresh import SEGMENTS as REFRESH_SEGMENTS
from test_refresh import (
    oracle_sets,
    test_members_on_every_backend,  # noqa: F401 - refresh on Spark
)
from test_ui_builder import set_row

from bench import spark as bench_spark
from bench.harness import workspace as bench_workspace
from bench.suite import SUITE
from jupyter_segments import SegmentError, Workspace
from jupyter_segments import demo as demo_data
from jupyter_segments.backends import open_backend
from jupyter_segments.backends.spark_backend import SparkBackend, is_spark_session, is_spark_url
from jupyter_segments.refresh import combined_select
from jupyter_segments.ui.builder import SegmentBuilder
from jupyter_segments.ui.manager import SegmentManager
from jupyter_segments.ui.view import SegmentView


@pytest.fixture(scope="module")
def demo_backend(spark_backend):
    """The imported backend and oracle tests run on the Spark backend."""
    return spark_backend


@pytest.fixture
def ws(demo_backend):
    return workspace_for(demo_backend)


@pytest.fixture(scope="module")
def demo(demo_frames) -> Demo:
    return Demo(demo_frames)


@pytest.mark.parametrize("value", INJECTIONS, ids=[repr(v)[:20] for v in INJECTIONS])
def test_injection_in_literals_is_data(demo_backend, demo_frames, value: str) -> None:
    """test_engine_errors' injection test on Spark. A backslash in a LIKE pattern goes through
    dialects.like (Spark's LIKE takes backslash as its escape character without an ESCAPE clause)."""
    # The DSL pattern x\ reaches Spark as 'x\\\\' through dialects.like, as 'x\\' without it.
    assert r"'x\\\\'" in workspace_for(demo_backend).compile(r"first_name like 'x\'", dialect="spark")
    _injection_is_data(demo_backend, demo_frames, value)


# --- opening a Spark backend -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "spark"),
    [
        ("spark://host:7077", True),
        ("SPARK://host:7077?database=shop", True),
        ("sc://host:15002", True),
        ("sc://host:15002/;token=abc", True),
        ("local", True),
        ("local[2]", True),
        ("local[*]", True),
        ("local[4, 3]", True),
        ("local[x]", False),
        ("localhost", False),
        ("duckdb:///local[2]", False),
        ("postgresql://spark@h/db", False),
    ],
)
def test_spark_urls_are_recognised(url, spark):
    assert is_spark_url(url) is spark


def test_open_backend_takes_the_users_session(spark_session, spark_backend):
    b = open_backend(spark_session)
    assert isinstance(b, SparkBackend) and b.dialect == "spark"
    assert is_spark_session(spark_session) and not is_spark_session(b)
    assert b.database == spark_backend.database
    b.close()  # the user's session: left running
    assert spark_session.sql("SELECT 1").collect()[0][0] == 1


def test_url_reuses_the_running_session_and_leaves_it_running(spark_session, spark_backend):
    b = open_backend(f"local[2]?database={spark_backend.database}")
    try:
        assert isinstance(b, SparkBackend) and b.database == spark_backend.database
        assert int(b.scalar("SELECT COUNT(*) FROM regions")) == 6
    finally:
        b.close()
    assert spark_session.sql("SELECT 1").collect()[0][0] == 1


def test_unknown_database_is_a_segment_error(spark_session):
    with pytest.raises(SegmentError, match="no Spark database 'js_no_such_db'"):
        SparkBackend(spark_session, database="js_no_such_db")


def test_display_url_hides_secrets(spark_session):
    b = SparkBackend(spark_session, display_url="sc://host:15002/;token=s3cret;user_id=me")
    assert "s3cret" not in b.display_url and "token=***" in b.display_url
    assert "s3cret" not in repr(b)


def test_missing_pyspark_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(SegmentError, match="PySpark") as info:
        open_backend("local[2]")
    assert "jupyter-segments[spark]" in str(info.value)


def test_foreign_keys_are_none(spark_backend):
    assert spark_backend.foreign_keys() == []


# --- Spark's types, views and time zones ---------------------------------------------------------


def test_column_types_and_temporary_views(spark_backend):
    b = spark_backend
    b.execute(
        "CREATE OR REPLACE TEMPORARY VIEW js_types_view AS SELECT CAST(1 AS TINYINT) AS t, "
        "CAST(2.5 AS DECIMAL(12,3)) AS dec, CAST(1.5 AS FLOAT) AS f, DATE '2024-02-29' AS d, "
        "TIMESTAMP '2024-01-01 10:30:00' AS ts, CAST('2024-01-01 10:30:00' AS TIMESTAMP_NTZ) AS ntz, "
        "true AS b, 'x' AS s, CAST('y' AS VARCHAR(5)) AS v, array(1, 2) AS arr, "
        "named_struct('a', 1) AS st, map('k', 1) AS m, X'01' AS bin, INTERVAL 1 DAY AS iv"
    )
    try:
        assert "js_types_view" in b.tables()
        types = {c.name: c.type for c in b.columns("js_types_view")}
        assert types == {
            "t": "number", "dec": "number", "f": "number", "d": "date", "ts": "timestamp",
            "ntz": "timestamp", "b": "boolean", "s": "string", "v": "string", "arr": "other",
            "st": "other", "m": "other", "bin": "other", "iv": "other",
        }  # fmt: skip
        row = b.query("SELECT dec, d, ts, ntz, b FROM js_types_view").iloc[0]
        assert row["dec"] == 2.5 and row["d"] == dt.date(2024, 2, 29) and row["b"]
        assert row["ts"] == pd.Timestamp("2024-01-01 10:30:00") == row["ntz"]
        assert b.scalar("SELECT dec FROM js_types_view") == 2.5
    finally:
        b.execute("DROP VIEW IF EXISTS js_types_view")


def test_timestamps_keep_their_wall_clock_in_the_session_time_zone(spark_session, spark_backend):
    """A naive timestamp written and read back, and compared with a TIMESTAMP literal, is the same
    wall-clock time when the session zone is not the Python process's (and across a DST change)."""
    b = spark_backend
    old = spark_session.conf.get("spark.sql.session.timeZone")
    frame = pd.DataFrame(
        {"id": [1, 2, 3], "ts": pd.to_datetime(["2024-01-01 10:30:00", "2024-07-01 23:15:00", None])}
    )
    try:
        for zone in ("America/New_York", "Asia/Tokyo"):
            spark_session.conf.set("spark.sql.session.timeZone", zone)
            b.write_table("js_ts_zone", frame)
            got = b.query("SELECT id, ts FROM js_ts_zone ORDER BY id")
            assert got["ts"].tolist()[:2] == frame["ts"].tolist()[:2] and pd.isna(got["ts"][2])
            assert b.scalar("SELECT MAX(ts) FROM js_ts_zone") == dt.datetime(2024, 7, 1, 23, 15)
            n = b.scalar(
                "SELECT COUNT(*) FROM js_ts_zone WHERE ts = CAST('2024-07-01 23:15:00' AS TIMESTAMP)"
            )
            assert n == 1
            chunks = list(b.iter_chunks("SELECT ts FROM js_ts_zone ORDER BY id", chunk_size=2))
            assert pd.concat(chunks)["ts"].tolist()[:2] == frame["ts"].tolist()[:2]
    finally:
        spark_session.conf.set("spark.sql.session.timeZone", old)
        b.drop_table("js_ts_zone")


def test_write_table_keeps_spark_types(spark_backend):
    b = spark_backend
    frame = pd.DataFrame(
        {
            "k": pd.array([1, None, 3], dtype="Int64"),
            "mixed": [1, 2.5, None],  # ints and floats: DOUBLE
            "aware": pd.to_datetime(
                ["2024-01-01 10:00:00+02:00", None, "2024-06-01 00:00:00+00:00"], utc=True
            ),
            "d": [dt.date(2024, 1, 1), None, dt.date(2025, 12, 31)],
        }
    )
    try:
        b.write_table("js_types_written", frame)
        cols = {c.name: c.db_type for c in b.columns("js_types_written")}
        assert cols == {"k": "BIGINT", "mixed": "DOUBLE", "aware": "TIMESTAMP", "d": "DATE"}
        got = b.query("SELECT * FROM js_types_written ORDER BY k NULLS LAST")
        assert got["mixed"].tolist()[:2] == [1.0, 2.5] or got["mixed"].tolist()[0] == 1.0
        # An aware timestamp is the same instant; the session zone of the test run is UTC.
        assert pd.Timestamp("2024-01-01 08:00:00") in got["aware"].tolist()
    finally:
        b.drop_table("js_types_written")


# --- relative windows on Spark's own clock -------------------------------------------------------


def _spark_now(ws) -> dt.datetime:
    return (
        pd.Timestamp(ws.backend.scalar("SELECT CURRENT_TIMESTAMP()")).to_pydatetime().replace(microsecond=0)
    )


@pytest.mark.parametrize("text", RELATIVE)
def test_relative_sql_runs_on_spark_and_matches_literal_as_of(ws, text):
    """SQL compiled with as_of=None (CURRENT_DATE, CURRENT_TIMESTAMP - INTERVAL ...) runs on Spark and
    selects what the definition selects with a literal as_of of Spark's "now"."""
    sql = ws.compile(text, dialect="spark")
    before = _spark_now(ws)
    got = sorted(int(k) for k in ws.backend.query(sql).iloc[:, 0])
    after = _spark_now(ws) + dt.timedelta(seconds=1)
    lo, hi = keys(ws, text, as_of=before - dt.timedelta(seconds=1)), keys(ws, text, as_of=after)
    if lo != hi:
        pytest.skip("a record sits on the window boundary this second")
    assert got == lo
    assert 0 < len(got) < 2000


# --- many definitions in one query: the shared refresh's query, against the oracle ----------------


def test_all_cases_in_one_shared_query(ws, demo: Demo):
    """Every oracle case as one segment of ONE query (compile.build_flags, the shared refresh's
    evaluation): each segment's flag column selects the oracle's members."""
    from jupyter_segments.bind import bind
    from jupyter_segments.compile import build_flags
    from jupyter_segments.compile.compiler import Options

    cases = [(name, text, expected) for name, text, expected in CASES]
    definitions = [bind(ws.model, ws.session.parse(text)) for _, text, _ in cases]
    options = Options(dialect="spark", as_of=dt.datetime.combine(DEMO_ANCHOR, dt.time()), whole_day=True)
    sql = build_flags(ws.model, definitions, options).sql(dialect="spark")
    flags = ws.backend.query(sql)
    key = flags.columns[0]
    wrong = []
    for i, (name, _text, expected) in enumerate(cases):
        got = sorted(int(k) for k in flags.loc[flags[f"f_{i}"].astype(float) == 1, key])
        if got != O.members(expected(demo)):
            wrong.append(name)
    assert not wrong, wrong


# --- writing tables -------------------------------------------------------------------------------


def test_write_table_round_trip(spark_backend):
    """test_backends' round trip (odd values; append, replace, rename, drop) under table names Spark
    takes: letters, digits and _ only."""
    b, frame, name = spark_backend, _odd_frame(), "js_odd_values"
    b.drop_table(name)
    try:
        b.write_table(name, frame)
        assert name in b.tables()
        types = {c.name: c.type for c in b.columns(name)}
        assert types == {
            "id": "number", "name": "string", "d": "date", "ts": "timestamp", "flag": "boolean",
            "x": "number", "n": "number",
        }  # fmt: skip
        got = b.query(f"SELECT * FROM {name} ORDER BY id")
        assert got["id"].tolist() == [1, 2, 3]
        assert got["name"].tolist()[:2] == frame["name"].tolist()[:2] and pd.isna(got["name"][2])
        assert [None if pd.isna(v) else v for v in got["d"]] == frame["d"].tolist()
        assert [None if pd.isna(v) else v for v in got["ts"]] == [
            pd.Timestamp("2024-01-01 10:30:00"), None, pd.Timestamp("2025-06-30 23:59:59"),
        ]  # fmt: skip
        assert got["flag"].tolist() == [True, False, True]
        assert got["x"].isna().tolist() == [False, True, False] and got["x"][2] == -3.5
        assert got["n"].isna().tolist() == [False, True, False] and int(got["n"][2]) == 9
        assert b.scalar(f"SELECT COUNT(*) FROM {name} WHERE d > DATE '2000-01-01'") == 1
        b.write_table(name, frame, replace=False)  # append
        assert b.scalar(f"SELECT COUNT(*) FROM {name}") == 6
        b.write_table(name, frame.head(2))  # replace
        assert b.scalar(f"SELECT COUNT(*) FROM {name}") == 2
        b.rename_table(name, name + "_2")
        assert name + "_2" in b.tables() and name not in b.tables()
        b.drop_table(name + "_2")
        assert name + "_2" not in b.tables()
        assert not [t for t in b.tables() if t.startswith("_js_stage_")]
    finally:
        b.drop_table(name)
        b.drop_table(name + "_2")


def test_names_spark_cannot_store_are_a_segment_error(spark_backend):
    b = spark_backend
    frame = pd.DataFrame({'odd "col" `x`, 100%': [1, 2]})
    for bad in ('seg "vip"', "a b", "ü", "x`y", ""):
        with pytest.raises(SegmentError, match="letters, digits and _"):
            b.write_table(bad, frame)
        with pytest.raises(SegmentError, match="letters, digits and _"):
            b.write_table_chunks(bad, iter([frame]))
    assert not [t for t in b.tables() if t.startswith("_js_stage_")]
    try:
        b.write_table("js_odd_columns", frame)
        assert [c.name for c in b.columns("js_odd_columns")] == ['odd "col" `x`, 100%']
        assert b.query("SELECT * FROM js_odd_columns ORDER BY 1").iloc[:, 0].tolist() == [1, 2]
    finally:
        b.drop_table("js_odd_columns")


# --- Spark rules in compile/dialects.py, run on Spark --------------------------------------------

LIKE_VALUES = ["a\\b", "x\\'y", "50\\%", "\\", "\\_", "plain"]
LIKE_PATTERNS = ["a\\b", "x\\'%", "50\\%", "%\\", "\\_", "%\\%", "a%", "_\\__"]


def test_like_patterns_with_backslashes_mean_what_the_dsl_means(spark_backend):
    """dialects.like / like_ci for Spark: a backslash in a user's pattern is an ordinary character
    (the DSL's LIKE has no escape character), as oracle.like reads it; Spark alone would take it as
    an escape (and refuse x\\')."""
    from sqlglot import exp

    from jupyter_segments.compile import dialects as D

    rows = " UNION ALL ".join(
        f"SELECT {i} AS i, {exp.Literal.string(v).sql('spark')} AS v" for i, v in enumerate(LIKE_VALUES)
    )
    values = pd.Series(LIKE_VALUES, dtype="string")
    for pattern in LIKE_PATTERNS:
        for ci in (False, True):
            p = exp.Literal.string(pattern)
            node = D.like_ci(exp.column("v"), p, "spark", None) if ci else D.like(exp.column("v"), p, "spark")
            sql = f"SELECT i FROM ({rows}) AS t WHERE {node.sql('spark')} ORDER BY i"
            got = spark_backend.query(sql)["i"].tolist()
            want = O.members(O.like(values, pattern, case_insensitive=ci))
            assert got == want, (pattern, ci, sql)


# --- refresh, members tables and export on a Spark workspace ------------------------------------


def test_refresh_export_and_dbt_on_spark(spark_backend, demo_frames, tmp_path):
    """The catalog (SQLite, in memory) beside a Spark database: refresh shared and one by one (members
    tables in the run's Spark database, added/removed, preview), CSV and Parquet downloads streamed to
    the driver, a table destination, and dbt models for spark and databricks whose SQL runs on Spark."""
    ws = Workspace(spark_backend, catalog=":memory:")
    ws.customers("customers", key="customer_id")
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    ws.members_prefix = "js_spark_"
    for name, text in REFRESH_SEGMENTS.items():
        ws.segment(name, text)
    expected = oracle_sets(demo_frames, demo_frames["support_calls"])
    try:
        for shared, fresh in ((True, True), (False, False)):
            runs = ws.refresh(shared=shared, as_of=DEMO_ANCHOR)
            assert {r.status for r in runs} == {"Successful"}, [r.errors for r in runs]
            for run in runs:
                assert set(int(k) for k in ws.get(run.segment).keys()) == expected[run.segment], run.segment
                assert run.location == "table" and run.members == len(expected[run.segment])
                assert (run.added, run.removed) == ((run.members, 0) if fresh else (0, 0))
        assert "js_spark_members__vip" in spark_backend.tables()
        returners = ws.get("returners")
        preview = returners.preview(5)
        assert preview["customer_id"].astype(int).tolist() == sorted(expected["returners"])[:5]
        n_orders = demo_frames["orders"].groupby("customer_id").size()
        members = returners.members().set_index("customer_id")
        assert (members["n_orders"].astype(int) == n_orders.loc[members.index.astype(int)]).all()

        csv = returners.export("csv", path=str(tmp_path / "r.csv"))
        parquet = returners.export("parquet", path=str(tmp_path / "r.parquet"))
        assert csv.rows == parquet.rows == len(expected["returners"])
        assert set(pd.read_csv(tmp_path / "r.csv")["customer_id"]) == expected["returners"]
        assert set(pd.read_parquet(tmp_path / "r.parquet")["customer_id"]) == expected["returners"]
        table = returners.add_to("table", table="js_spark_export")
        assert table.status == "Completed" and table.rows == len(expected["returners"])
        got = spark_backend.query("SELECT customer_id FROM js_spark_export")["customer_id"]
        assert set(got.astype(int)) == expected["returners"]

        for dialect in ("spark", "databricks"):
            result = returners.add_to("dbt", path=str(tmp_path / dialect), dialect=dialect)
            text = (tmp_path / dialect / "segment_returners.sql").read_text()
            assert f"-- Dialect: {dialect}" in text and result.status == "Completed"
            sql = text.split("\n\n", 1)[1]  # after the header: the model's SQL, no jinja without source=
            assert set(spark_backend.query(sql).iloc[:, 0].astype(int)) == expected["returners"]
    finally:
        for name in ("de_vip", "not_vip_callers", "vip", "de", "recent", "returners"):
            ws.get(name).delete()
        spark_backend.drop_table("js_spark_export")
    assert not [t for t in spark_backend.tables() if t.startswith(("js_spark_", "_js_"))]


def test_parquet_members_under_a_path_the_user_names(spark_backend, demo_frames, tmp_path):
    """members_storage = "parquet" with members_path: each run's members streamed from Spark into a
    Parquet file under that path, replacing the last only when complete; refresh of one, of a list and
    of all (shared); a refresh that fails leaves the previous members in force."""
    spark_backend.execute("CREATE OR REPLACE TEMPORARY VIEW js_calls_view AS SELECT * FROM support_calls")
    ws = Workspace(spark_backend, catalog=str(tmp_path / "catalog.sqlite"))
    ws.customers("customers", key="customer_id")
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    ws.relate("js_calls_view", "customers", on=("cust_id", "customer_id"))
    ws.members_storage = "parquet"
    ws.members_path = str(tmp_path / "lake" / "segments")
    expected = oracle_sets(demo_frames, demo_frames["support_calls"])
    for name, text in REFRESH_SEGMENTS.items():
        ws.segment(name, text)
    ws.segment("callers", "count(js_calls_view) >= 3")  # the view is dropped below: its refresh fails
    n_calls = demo_frames["support_calls"].groupby("cust_id").size()
    expected["callers"] = {int(k) for k in n_calls[n_calls >= 3].index}
    lake = tmp_path / "lake" / "segments"

    def files(name: str) -> list:
        return sorted((lake / str(ws.catalog.segment_row(name)["id"])).glob("*"))

    try:
        one = ws.get("vip").refresh(as_of=DEMO_ANCHOR)
        many = ws.refresh(["de", "de_vip", "callers"], as_of=DEMO_ANCHOR)
        every = ws.refresh(as_of=DEMO_ANCHOR)  # shared: one Spark query for all seven
        assert {r.segment for r in many} == {"de", "de_vip", "callers"}
        for run in [one, *many, *every]:
            assert run.status == "Successful" and run.location == "parquet", (run.segment, run.errors)
            assert run.members == len(expected[run.segment]), run.segment
        for name, want in expected.items():
            row = ws.catalog.segment_row(name)
            assert str(lake) in row["members_file"]
            assert set(pd.read_parquet(row["members_file"])["customer_id"].astype(int)) == want, name
            assert {int(k) for k in ws.get(name).keys()} == want, name
            assert not [f for f in files(name) if f.name.endswith(".tmp")], name
        assert len(files("vip")) == 2  # the current run's file and the previous one (diff), no more
        recent = pd.read_parquet(ws.catalog.segment_row("recent")["members_file"])
        assert "last_order" in recent.columns  # the projection travels with the members

        before = ws.catalog.segment_row("callers")["members_file"]
        spark_backend.execute("DROP VIEW js_calls_view")
        [failed] = ws.refresh(["callers"], as_of=DEMO_ANCHOR)
        assert failed.status == "Failed" and failed.errors
        assert ws.catalog.segment_row("callers")["members_file"] == before
        assert {int(k) for k in ws.get("callers").keys()} == expected["callers"]
        assert not [f for f in files("callers") if f.name.endswith(".tmp")]
    finally:
        spark_backend.execute("DROP VIEW IF EXISTS js_calls_view")
        ws.close()
    assert not [t for t in spark_backend.tables() if t.startswith(("seg_", "_js_"))]


def test_widgets_on_a_spark_workspace(spark_backend, demo_frames, tmp_path):
    """The builder counts on Spark, the segments page refreshes every segment on Spark (members
    tables), and a segment's view shows its trend point and a preview read from Spark."""
    ws = Workspace(spark_backend, catalog=str(tmp_path / "catalog.sqlite"))
    ws.customers("customers", key="customer_id")
    ws.members_prefix = "js_widgets_"
    c, orders = demo_frames["customers"], demo_frames["orders"]
    try:
        b = SegmentBuilder(ws, delay=0.02)
        set_row(b, 0, attribute=("age",), op=">=", value="30")
        b.node_views()[0].add_condition.click()
        set_row(b, 1, attribute=("country",), op="in list", value="DE, FR")
        want = int(((c.age >= 30) & c.country.isin(["DE", "FR"])).sum())
        assert b.wait(600) == want and f"{want:,}" in b.count_label.value
        b.name.value = "de_fr_30"
        b.save()
        ws.segment("big", "sum(orders.amount) >= 500")
        m = SegmentManager(ws)
        m.refresh_all_button.click()
        runs = m.wait(600)
        spend = orders.groupby("customer_id").amount.sum()
        expected = {"de_fr_30": want, "big": int((spend >= 500).sum())}
        assert {r.segment: (r.status, r.members) for r in runs} == {
            k: ("Successful", n) for k, n in expected.items()
        }
        assert m.progress.value == m.progress.max == 2
        assert dict(zip(m.frame["name"], m.frame["members"], strict=True)) == expected
        v = SegmentView(ws, "big")
        assert list(v.points["members"]) == [expected["big"]]
        big = set(spend[spend >= 500].index.astype(int))
        assert len(v.preview) == min(100, len(big)) and set(v.preview["customer_id"].astype(int)) <= big
        for name in expected:
            ws.get(name).delete()
    finally:
        ws.close()
    assert not [t for t in spark_backend.tables() if t.startswith(("js_widgets_", "_js_"))]


# --- bench/spark.py's candidates, checked where the test data is ---------------------------------------


@pytest.mark.slow
def test_bench_dataframe_code_counts_what_the_segments_count(spark_session, spark_backend):
    """Figure 7's PySpark DataFrame code selects as many customers as the compiled segment, for every
    count segment of the bench suite (on the test demo). Two Spark jobs: the DataFrames' counts in
    one union, the segments' in one shared query (the refresh's)."""
    from pyspark.sql import functions as F  # PySpark is optional: this module skips without it

    ws = bench_workspace(spark_session)
    code = bench_spark.dataframe_code()
    tables = {t: spark_session.table(t) for t in demo_data.TABLES}
    segments = [seg for seg in SUITE if seg.name in code]
    assert len(segments) == len(code) >= 27  # the suite's count segments (new ones may come first)
    frames = [code[seg.name](tables).select(F.lit(seg.name).alias("segment")) for seg in segments]
    got = {
        r["segment"]: r["count"]
        for r in reduce(lambda a, b: a.unionAll(b), frames).groupBy("segment").count().collect()
    }
    select = combined_select(ws.session, [ws.parse(seg.dsl) for seg in segments], DEMO_ANCHOR)
    sums = ", ".join(f"SUM(CASE WHEN f_{i} = 1 THEN 1 ELSE 0 END)" for i in range(len(segments)))
    flags = spark_session.sql(f"SELECT {sums} FROM ({select.sql(dialect='spark')}) AS t").head()
    want = {seg.name: int(flags[i] or 0) for i, seg in enumerate(segments)}
    assert {name: got.get(name, 0) for name in want} == want


# --- the magics on a Spark session ------------------------------------------------------------------


def test_magics_connect_to_a_spark_session_variable(spark_backend, spark_session, demo_frames, tmp_path):
    """%segment connect spark takes the notebook's SparkSession; a %%segment cell then counts on Spark
    what pandas counts."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_segments")
    shell.run_line_magic("config", f"SegmentMagic.catalog = {str(tmp_path / 'catalog.sqlite')!r}")
    shell.user_ns["spark"] = spark_session
    magic = shell.magics_manager.registry["SegmentMagic"]
    previous = magic.ws
    try:
        with capture_output() as out:
            shell.run_line_magic("segment", "connect spark")
            shell.run_line_magic("segment", "customers customers --key customer_id")
            shell.run_cell_magic("segment", "-o de_big", "country = 'DE' and count(orders) >= 3")
        assert "(spark)" in out.stdout + "".join(o.data.get("text/plain", "") for o in out.outputs)
        orders = demo_frames["orders"].groupby("customer_id").size()
        c = demo_frames["customers"]
        want = int(((c["country"] == "DE") & c["customer_id"].map(orders).fillna(0).ge(3)).sum())
        assert shell.user_ns["de_big"].count == want > 0
        assert magic.ws.dialect == "spark"
    finally:
        magic.ws = previous


def cancel_a_slow_count(ws, started=lambda: True):
    """Run a query of hours on a WorkerDB's thread, wait for ``started()`` (its job is running), cancel
    it as the widgets' Cancel does (WorkerDB.cancel); the error it ended with, once it has ended."""
    import threading
    import time

    from jupyter_segments.ui.debounce import WorkerDB

    db = WorkerDB(ws)
    ended: list[BaseException] = []

    def count() -> None:
        try:
            db.frame("SELECT sum(id % 7) AS s FROM range(1000000000000)")  # hours on two cores
        except BaseException as e:  # noqa: BLE001 - recorded for the asserts below
            ended.append(e)

    worker = threading.Thread(target=count, daemon=True)
    worker.start()
    deadline = time.monotonic() + 120
    while db._running is None or not started():
        assert time.monotonic() < deadline and worker.is_alive(), ("the job never started", ended)
        time.sleep(0.05)
    db.cancel()
    worker.join(60)
    assert not worker.is_alive(), "the canceled job kept running"
    assert len(ended) == 1 and isinstance(ended[0], SegmentError), ended
    assert "the query was canceled: " in str(ended[0]) and "CANCEL" in str(ended[0]).upper(), ended[0]
    assert db.scalar("SELECT 42") == 42  # the session runs the next query
    return ended[0]


@pytest.mark.slow
def test_cancel_stops_the_spark_job_and_the_session_stays(ws, spark_session):
    """The widgets' Cancel cancels the count's Spark job, which otherwise ran on: the call raises, no
    job is left active, and the session runs the next queries."""
    import time

    tracker = spark_session.sparkContext.statusTracker()
    ended = cancel_a_slow_count(ws, started=lambda: bool(tracker.getActiveJobsIds()))
    assert "SPARK_JOB_CANCELLED" in str(ended)
    deadline = time.monotonic() + 10  # the scheduler's bookkeeping may trail the error
    while tracker.getActiveJobsIds() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tracker.getActiveJobsIds() == []
    assert ws.count("age >= 40") > 0


def test_static_segment_reads_its_members_table_on_spark(ws, demo_frames):
    """``in segment <static>`` is a semi-join on the members table on Spark too (against pandas)."""
    customers = demo_frames["customers"]
    listed = customers["customer_id"].iloc[::3].tolist()
    name = "spark_listed"
    seg = ws.static_segment(name, listed)
    try:
        members = customers["customer_id"].isin(listed)
        older = customers["age"] > 40
        assert ws.count(f"in segment {name} and age > 40") == int((members & older).sum())
        assert ws.count(f"not (in segment {name})") == int((~members).sum())
        assert "seg_members__" in ws.compile(f"in segment {name}")
    finally:
        seg.delete()
