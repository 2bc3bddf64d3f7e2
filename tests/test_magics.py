"""The %segment / %%segment magics, driven through a real IPython InteractiveShell.

Oracles are hand-written SQL run on the demo DuckDB connection and pandas computations on the demo
tables -- never the Workspace's own output.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pandas as pd
import pytest
from conftest import DEMO_ANCHOR, server_url
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupyter_segments import SegmentError
from jupyter_segments.backends.sqlalchemy_backend import normalize_url
from jupyter_segments.display import SegmentResult

AS_OF = DEMO_ANCHOR.isoformat()


@pytest.fixture(scope="module")
def ip(demo_conn, tmp_path_factory):
    """One shell for the module, connected to the session demo DuckDB through a notebook variable."""
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_segments")
    catalog = tmp_path_factory.mktemp("magics") / "catalog.sqlite"
    shell.run_line_magic("config", f"SegmentMagic.catalog = {str(catalog)!r}")
    shell.user_ns["demo_db"] = demo_conn
    with capture_output():
        shell.run_line_magic("segment", "connect demo_db")
        shell.run_line_magic("segment", "customers customers --key customer_id")
        shell.run_line_magic("segment", "relate support_calls customers --on cust_id:customer_id")
    yield shell
    shell.run_line_magic("config", "SegmentMagic.short_errors = True")


@contextlib.contextmanager
def other_connection(shell):
    """Let a test connect the shared shell elsewhere, then restore the module's connection."""
    magic = shell.magics_manager.registry["SegmentMagic"]
    saved = (magic.ws, magic._owns_ws, magic._demo_dir, magic._demo_conn)
    magic.ws, magic._demo_dir, magic._demo_conn = None, None, None  # so connect does not close ours
    try:
        yield shell
    finally:
        magic._close()
        magic.ws, magic._owns_ws, magic._demo_dir, magic._demo_conn = saved


def run(ip, code: str):
    """Run a cell; return (result, captured) where captured has stdout, stderr and rich outputs."""
    with capture_output() as captured:
        result = ip.run_cell(code)
    return result, captured


def plain(captured) -> str:
    return "\n".join(o.data.get("text/plain", "") for o in captured.outputs)


def html(captured) -> str:
    return "\n".join(o.data.get("text/html", "") for o in captured.outputs)


def sql_count(conn, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


# --- counts against hand-written SQL --------------------------------------------------------------------


def test_cell_count_matches_hand_written_sql(ip, demo_conn):
    cell = (
        f"%%segment --as-of {AS_OF} -o big_de\n"
        "-- German customers who spent 300 or more in the 90 days to the anchor\n"
        "country = 'DE' and sum(orders.amount where order_date in last 90 days) >= 300\n"
    )
    result, out = run(ip, cell)
    assert result.error_in_exec is None, out.stderr
    expected = sql_count(
        demo_conn,
        f"""
        SELECT count(*) FROM customers c
        WHERE c.country = 'DE' AND (
            SELECT coalesce(sum(o.amount), 0) FROM orders o
            WHERE o.customer_id = c.customer_id
              AND o.order_date >= DATE '{AS_OF}' - INTERVAL 90 DAY AND o.order_date <= DATE '{AS_OF}'
        ) >= 300
        """,
    )
    assert expected > 0
    assert f"{expected:,} members" in plain(out)
    assert f"<b>{expected:,}</b> members" in html(out)
    assert ip.user_ns["big_de"].count == expected


def test_declared_relationship_is_used(ip, demo_conn):
    _, out = run(ip, "%%segment -o callers\nany(support_calls where escalated)")
    expected = sql_count(
        demo_conn,
        "SELECT count(DISTINCT s.cust_id) FROM support_calls s JOIN customers c ON c.customer_id = s.cust_id "
        "WHERE s.escalated",
    )
    assert ip.user_ns["callers"].count == expected, out.stderr


def test_demo_connect_count(ip):
    """A second shell state: `connect --demo` builds its own data; counts match SQL on that data."""
    with other_connection(ip) as shell:
        with capture_output() as out:
            shell.run_line_magic("segment", f"connect --demo --customers 300 --anchor {AS_OF} -o demo_ws")
        assert "300 customers" in plain(out)
        ws = shell.user_ns["demo_ws"]
        _, out = run(shell, f"%%segment -o r --as-of {AS_OF}\nany(support_calls) and newsletter")
        expected = int(
            ws.backend.scalar(
                "SELECT count(*) FROM customers c WHERE c.newsletter "
                "AND EXISTS (SELECT 1 FROM support_calls s WHERE s.cust_id = c.customer_id)"
            )
        )
        assert shell.user_ns["r"].count == expected
        assert f"{expected:,} members" in plain(out)


# --- -o result object ------------------------------------------------------------------------------------


def test_result_object_members_preview_and_sql(ip, demo_conn, demo_frames):
    _, out = run(
        ip,
        "%%segment --preview 4 -o res\n"
        "loyalty_tier in ('gold', 'platinum') and count(orders) >= 3\n"
        "PROJECT sum(orders.amount) AS spend, count(orders) AS n_orders",
    )
    res = ip.user_ns["res"]
    assert isinstance(res, SegmentResult)
    orders = demo_frames["orders"]
    per_customer = orders.groupby("customer_id").agg(spend=("amount", "sum"), n_orders=("order_id", "count"))
    customers = demo_frames["customers"].set_index("customer_id").join(per_customer)
    customers["n_orders"] = customers["n_orders"].fillna(0)
    want = customers[customers.loyalty_tier.isin(["gold", "platinum"]) & (customers.n_orders >= 3)]

    members = res.members().set_index("customer_id").sort_index()
    assert res.count == len(want) == len(members)
    assert list(members.index) == sorted(want.index)
    pd.testing.assert_series_equal(
        members["spend"].astype(float), want["spend"].sort_index().astype(float), check_names=False, rtol=1e-9
    )
    assert (members["n_orders"].astype(int) == want["n_orders"].sort_index().astype(int)).all()
    # The preview is the first members by key, with the projected columns.
    assert list(res.preview["customer_id"]) == sorted(want.index)[:4]
    assert {"spend", "n_orders"} <= set(res.preview.columns)
    # The SQL shown runs on its own and selects the same keys.
    keys = [r[0] for r in demo_conn.execute(res.sql).fetchall()]
    assert sorted(keys) == sorted(want.index)
    assert "<details>" in html(out) and "SQL (duckdb)" in html(out)


@pytest.mark.parametrize("backend_name", ["postgres"], indirect=True)
def test_sql_only_is_stored_with_o(ip, demo_backend, demo_frames, backend_name):
    """-o keeps the printed PostgreSQL text, which runs on PostgreSQL and selects the right customers."""
    result, out = run(ip, "%%segment --sql postgres -o pg_sql\nage >= 30 and country = 'DE'")
    assert result.error_in_exec is None
    sql = ip.user_ns["pg_sql"]
    assert isinstance(sql, str) and sql.strip() == plain(out).strip()
    got = sorted(int(k) for k in demo_backend.query(sql).iloc[:, 0])
    c = demo_frames["customers"]
    assert got == sorted(int(k) for k in c.loc[(c.age >= 30) & (c.country == "DE"), "customer_id"])
    assert 0 < len(got) < len(c)


# --- --sql per dialect: run the printed SQL on that database -------------------------------------------


@pytest.mark.parametrize("backend_name", ["duckdb", "sqlite", "postgres", "mysql"], indirect=True)
def test_sql_output_runs_on_each_dialect(ip, demo_backend, demo_frames, backend_name):
    dialect = {"duckdb": "duckdb", "sqlite": "sqlite", "postgres": "postgres", "mysql": "mysql"}[backend_name]
    _, out = run(
        ip,
        f"%%segment --sql {dialect} --as-of {AS_OF}\n"
        "city starts with 'M' and count(orders where order_date in last 1 year) >= 1 and not any(support_calls)",
    )
    sql = plain(out)
    assert sql.lstrip().upper().startswith("SELECT"), out.stderr
    got = sorted(int(k) for k in demo_backend.query(sql).iloc[:, 0])

    c, o, s = demo_frames["customers"], demo_frames["orders"], demo_frames["support_calls"]
    od = pd.to_datetime(o.order_date)
    anchor = pd.Timestamp(DEMO_ANCHOR)
    recent = o[(od >= anchor - pd.DateOffset(years=1)) & (od <= anchor)]
    want = c[
        c.city.str.lower().str.startswith("m")
        & c.customer_id.isin(recent.customer_id)
        & ~c.customer_id.isin(s.cust_id)
    ]
    assert got == sorted(want.customer_id)


# --- {var} binding -----------------------------------------------------------------------------------------


def test_namespace_binding_scalars_and_lists(ip, demo_frames):
    ip.user_ns.update(cities=["Berlin", "Paris", "Köln"], min_age=40, since=dt.date(2024, 1, 1))
    _, out = run(
        ip, "%%segment -o bound\ncity in {cities} and age >= {min_age} and signup_date after {since}"
    )
    got = sorted(ip.user_ns["bound"].members().customer_id)
    c = demo_frames["customers"]
    want = c[
        c.city.isin(["Berlin", "Paris", "Köln"])
        & (c.age >= 40)
        & (pd.to_datetime(c.signup_date) > "2024-01-01")
    ]
    assert got == sorted(want.customer_id) and got, out.stderr


def test_injection_through_bound_value_stays_data(ip, demo_conn, demo_frames):
    evil = "x'); DROP TABLE customers; --"
    ip.user_ns["names"] = [evil, "O'Brien", "D'Angelo"]
    ip.user_ns["evil"] = evil
    result, out = run(ip, "%%segment -o inj\nlast_name in {names} or city = {evil}")
    assert result.error_in_exec is None, out.stderr
    # The table is still there, and the result is what pandas finds for those literal values.
    assert sql_count(demo_conn, "SELECT count(*) FROM customers") == len(demo_frames["customers"])
    c = demo_frames["customers"]
    want = c[c.last_name.isin(["O'Brien", "D'Angelo", evil]) | (c.city == evil)]
    assert sorted(ip.user_ns["inj"].members().customer_id) == sorted(want.customer_id)
    assert len(want) > 0


def test_undefined_variable_is_a_clear_error(ip):
    ip.user_ns.pop("nope", None)
    result, out = run(ip, "%%segment\nage >= 30 and country = {nope}")
    assert isinstance(result.error_in_exec, UsageError)
    assert "undefined variable {nope}" in out.stderr
    assert "line 1, column 25" in out.stderr and "\n" + " " * 26 + "^^^^^^\n" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


# --- errors ------------------------------------------------------------------------------------------------


def test_dsl_error_short_with_caret_and_next_cell_works(ip):
    result, out = run(ip, "%%segment\nage >= 30\n  and sum(orders.amont) > 5")
    assert isinstance(result.error_in_exec, UsageError)
    assert "Traceback" not in out.stdout + out.stderr
    assert "line 2" in out.stderr and "amont" in out.stderr and "^" in out.stderr
    assert "did you mean 'amount'" in out.stderr
    result, out = run(ip, "%%segment -o after_error\nage >= 30")
    assert result.error_in_exec is None and ip.user_ns["after_error"].count > 0


def test_syntax_error_points_at_column(ip):
    result, out = run(ip, "%%segment\nage >> 3")
    lines = out.stderr.splitlines()
    assert lines[0] == "UsageError: line 1, column 6: expected a value, found '>'"
    assert lines[1:3] == ["  age >> 3", "       ^"]


def test_database_error_shows_database_message_and_sql(ip):
    """A table dropped under the notebook: the database's own message and the SQL sent, no traceback."""
    import duckdb

    conn = duckdb.connect()
    conn.execute("CREATE TABLE people AS SELECT range AS person_id, range % 7 AS score FROM range(20)")
    conn.execute("CREATE TABLE visits AS SELECT range AS visit_id, range % 20 AS person_id FROM range(50)")
    with other_connection(ip) as shell:
        shell.user_ns["people_db"] = conn
        with capture_output():
            shell.run_line_magic("segment", "connect people_db")
            shell.run_line_magic("segment", "customers people --key person_id")
            shell.run_line_magic("segment", "relate visits people --on person_id")
        _, out = run(shell, "%%segment -o before\ncount(visits) >= 3")
        assert shell.user_ns["before"].count == sql_count(
            conn,
            "SELECT count(*) FROM people p WHERE (SELECT count(*) FROM visits v WHERE v.person_id = p.person_id) >= 3",
        )
        conn.execute("DROP TABLE visits")
        result, out = run(shell, "%%segment\ncount(visits) >= 3")
        assert isinstance(result.error_in_exec, UsageError)
        text = out.stderr
        assert "Traceback" not in text + out.stdout
        assert "the database (duckdb://(connection)) rejected the query" in text and "visits" in text
        assert "SQL sent:" in text and "SELECT" in text
        # The kernel and the connection still work.
        result, out = run(shell, "%%segment -o after\nscore >= 5")
        assert result.error_in_exec is None and shell.user_ns["after"].count == sql_count(
            conn, "SELECT count(*) FROM people WHERE score >= 5"
        )
    conn.close()


def test_short_errors_off_brings_traceback_back(ip):
    ip.run_line_magic("config", "SegmentMagic.short_errors = False")
    try:
        result, out = run(ip, "%%segment\nage >> 3")
        assert isinstance(result.error_in_exec, SegmentError)
        assert "Traceback" in out.stdout + out.stderr
    finally:
        ip.run_line_magic("config", "SegmentMagic.short_errors = True")


def test_usage_errors(ip):
    with pytest.raises(UsageError, match="did you mean 'model'"):
        ip.run_line_magic("segment", "modle")
    with pytest.raises(UsageError, match="--key"):
        ip.run_line_magic("segment", "customers customers")
    with pytest.raises(UsageError, match="unknown SQL dialect"):
        ip.run_cell_magic("segment", "--sql nosuchdb name", "age > 1")
    with pytest.raises(UsageError, match="needs a NAME"):
        ip.run_cell_magic("segment", "--draft", "age > 1")
    with pytest.raises(UsageError, match="no variable 'not_defined_here'"):
        ip.run_line_magic("segment", "connect not_defined_here")
    with pytest.raises(UsageError, match="unknown column 'agee' on customers; did you mean 'age'"):
        ip.run_line_magic("segment", "customers customers --key agee")
    # None of these disturbed the connection.
    assert ip.run_cell("%%segment -o still\nage > 1").error_in_exec is None


def test_not_connected_message():
    from jupyter_segments.magics import SegmentMagic

    magic = SegmentMagic(InteractiveShell.instance())
    with pytest.raises(UsageError, match="not connected"):
        magic.segment("model")


# --- config --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_config_preview_rows_and_default_dialect(ip, demo_backend, demo_frames):
    """default_dialect changes the SQL shown (checked by running it on SQLite); preview_rows the preview."""
    ip.run_line_magic("config", "SegmentMagic.preview_rows = 3")
    ip.run_line_magic("config", "SegmentMagic.default_dialect = 'sqlite'")
    try:
        _, out = run(ip, "%%segment -o cfg\ncountry = 'FR' and email ends with '.com'")
    finally:
        ip.run_line_magic("config", "SegmentMagic.preview_rows = 10")
        ip.run_line_magic("config", "SegmentMagic.default_dialect = ''")
    cfg = ip.user_ns["cfg"]
    c = demo_frames["customers"]
    want = sorted(c[(c.country == "FR") & c.email.str.lower().str.endswith(".com")].customer_id)
    assert len(want) > 3
    assert len(cfg.preview) == 3 and list(cfg.preview.customer_id) == want[:3]
    assert cfg.count == len(want)
    assert sorted(int(k) for k in demo_backend.query(cfg.sql).iloc[:, 0]) == want
    assert "first 3" in plain(out)


# --- model, relate, help --------------------------------------------------------------------------------------


def test_model_lists_every_table_column_and_relationship(ip, demo_conn):
    with capture_output() as out:
        ip.run_line_magic("segment", "model")
    text = plain(out)
    rows = demo_conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name NOT LIKE '\\_%' ESCAPE '\\'"
    ).fetchall()
    for table, column, data_type in rows:
        assert f"\n{table}" in text
        assert column in text and data_type in text
    assert "support_calls.cust_id -> customers.customer_id  [declared]" in text
    assert "orders.customer_id -> customers.customer_id  [column name]" in text
    assert "customers (customer entity)  key: customer_id" in text
    assert "<b>customers</b> <i>(customer entity)</i>" in html(out)


def test_relate_forms_and_remove(ip, demo_conn):
    ip.run_line_magic("segment", "relate support_calls customers --remove")
    with pytest.raises(UsageError, match="support_calls"):
        ip.run_cell_magic("segment", "", "any(support_calls)")
    with capture_output() as out:
        ip.run_line_magic("segment", "relate support_calls customers --on cust_id:customer_id")
    assert "support_calls.cust_id -> customers.customer_id (declared)" in plain(out)
    with capture_output():
        ip.run_line_magic("segment", "relate orders customers --on customer_id")
        ip.run_cell_magic("segment", "-o rel", "count(orders) >= 5 and any(support_calls)")
    expected = sql_count(
        demo_conn,
        "SELECT count(*) FROM customers c WHERE (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id) >= 5 "
        "AND EXISTS (SELECT 1 FROM support_calls s WHERE s.cust_id = c.customer_id)",
    )
    assert ip.user_ns["rel"].count == expected
    with capture_output() as out:
        ip.run_line_magic("segment", "relate orders customers --on customer_id --assume-integrity")
        ip.run_cell_magic("segment", "-o rel", "count(orders) >= 5 and any(support_calls)")
    assert "(declared, integrity assumed)" in plain(out)
    assert ip.user_ns["rel"].count == expected
    assert "FROM customers" not in ip.user_ns["rel"].sql
    with capture_output() as out:
        ip.run_line_magic("segment", "model")
    assert "orders.customer_id -> customers.customer_id  [declared, integrity assumed]" in plain(out)


def test_help_lists_every_command_with_example(ip):
    from jupyter_segments.magics import SegmentMagic

    with capture_output() as out:
        ip.run_line_magic("segment", "help")
    text = plain(out)
    magic = ip.magics_manager.registry["SegmentMagic"]
    assert isinstance(magic, SegmentMagic)
    listed = [
        line.split()[0] for line in text.splitlines() if line.startswith("  ") and not line.startswith("   ")
    ]
    for command in magic._commands:
        assert command in listed, f"{command} missing from %segment help"
    examples = [line.split("e.g. ", 1)[1] for line in text.splitlines() if "e.g. " in line]
    assert len(examples) == len(listed) and all(e.startswith(("%segment", "%%segment")) for e in examples)
    assert "<th>example</th>" in html(out)


def test_subcommand_help_does_not_raise(ip):
    with capture_output() as out:
        ip.run_line_magic("segment", "relate -h")
    assert "--on" in out.stdout


# --- completion ------------------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = {
    "customer_id", "first_name", "last_name", "email", "country", "city", "region_id", "gender", "age",
    "birth_date", "signup_date", "newsletter", "loyalty_tier", "churn_score",
}  # fmt: skip
ORDER_COLUMNS = {"order_id", "customer_id", "order_date", "status", "channel", "amount", "discount"}


def complete(ip, text: str) -> set[str]:
    with provisionalcompleter():
        return {c.text for c in ip.Completer.completions(text, len(text))}


def test_completion_customer_attributes_and_steps(ip):
    got = complete(ip, "%%segment\nage > 3 and c")
    want = {n for n in CUSTOMER_COLUMNS if n.startswith("c")} | {"count", "count_distinct"}
    assert got == want | {"coalesce", "concat", "ceil"}  # and the functions
    assert complete(ip, "%%segment\nany(su") == {"support_calls", "sum"}
    assert complete(ip, "%%segment\nreg") == {"region_id", "regions"}


def test_completion_dotted_paths(ip):
    assert complete(ip, "%%segment\nsum(orders.am") == {"orders.amount"}
    got = complete(ip, "%%segment\ncount_distinct(orders.order_lines.pro")
    assert got == {"orders.order_lines.product_id", "orders.order_lines.products"}
    assert complete(ip, "%%segment\nregions.") == {"regions.region_id", "regions.name", "regions.customers"}


def test_completion_inside_aggregate_filter_uses_that_entity(ip):
    got = complete(ip, "%%segment\nsum(orders.amount where st")
    assert got == {"status"}
    got = complete(ip, "%%segment\ncountry = 'DE'\n  and any(orders where sum(order_lines.quantity where qu")
    assert got == {"quantity", "quarter"}  # quarter(): a function
    # After the aggregate closes we are back on the customer.
    got = complete(ip, "%%segment\nsum(orders.amount where status = 'x') > 3 and ag")
    assert got == {"age"}


def test_completion_suppresses_python_and_skips_strings(ip):
    from jupyter_segments.completion import candidates

    ip.user_ns["country_code_var"] = 1
    # DSL names replace Python completions (builtins such as 'compile' or the variable are gone) ...
    assert complete(ip, "%%segment\ncou") == {"country", "count", "count_distinct"}
    # ... while outside a %%segment cell Python completion is untouched.
    assert "country_code_var" in complete(ip, "country_c")
    ws = ip.magics_manager.registry["SegmentMagic"].ws
    assert candidates(ws, "city = 'Be") == []
    assert candidates(ws, "age > 3 -- co") == []
    assert candidates(ws, "city = 'it''s' and co") == [
        "country",
        "count",
        "count_distinct",
        "coalesce",
        "concat",
    ]


def test_completion_offers_functions_with_signatures(ip):
    with provisionalcompleter():
        found = {c.text: c.type for c in ip.Completer.completions("%%segment\nweek", 14)}
    assert found == {"weekday": "weekday(date) -> number, 1 = Monday ... 7 = Sunday"}
    assert complete(ip, "%%segment\nage > 3 and days_") == {"days_between"}


def test_completion_measures(ip):
    ws = ip.magics_manager.registry["SegmentMagic"].ws
    ws.model.measures["total_spend"] = "sum(orders.amount)"
    try:
        assert "total_spend" in complete(ip, "%%segment\ntot")
    finally:
        del ws.model.measures["total_spend"]


def test_completion_of_commands(ip):
    assert complete(ip, "%segment mo") == {"model"}
    assert {"relate", "refresh", "rename", "rfm"} == complete(ip, "%segment r")


# --- password masking ------------------------------------------------------------------------------------------


def test_password_never_printed(ip):
    with other_connection(ip) as shell:
        # An unreachable server: the error must not echo the password.
        result, out = run(shell, "%segment connect postgresql://alice:s3cr3t-pw@127.0.0.1:1/db")
        assert isinstance(result.error_in_exec, UsageError)
        assert "s3cr3t-pw" not in out.stdout + out.stderr
        # A URL that is not one: masked in the message too.
        result, out = run(shell, "%segment connect alice:s3cr3t-pw@somewhere")
        assert "s3cr3t-pw" not in out.stdout + out.stderr
        # The test server (JS_TEST_POSTGRES_URL; its always-present database 'postgres'): the URL's own
        # password if it has one, else a made-up one that trust authentication ignores.
        url = normalize_url(server_url("postgres")).set(database="postgres")
        secret = url.password or "s3cr3t-pw"
        url = url.set(password=secret)
        result, out = run(shell, f"%segment connect {url.render_as_string(hide_password=False)} -o pg_ws")
        assert result.error_in_exec is None, out.stderr
        assert f"://{url.username}:***@{url.host}:{url.port or 5432}/postgres" in plain(out)
        shown = plain(out) + html(out) + repr(shell.user_ns["pg_ws"])
        _, out = run(shell, "%segment model")
        shown += plain(out) + html(out) + out.stdout + out.stderr
        _, out = run(shell, "%%segment\nage > 3")  # no customer entity: an error naming the fix
        shown += out.stdout + out.stderr
        assert secret not in shown and "s3cr3t-pw" not in shown


# --- saved segments (catalog lifecycle) -------------------------------------------------------------------------


def _keys(conn, sql: str) -> list[int]:
    return sorted(int(r[0]) for r in conn.execute(sql).fetchall())


DE_REPEAT_SQL = (
    "SELECT customer_id FROM customers c WHERE country = 'DE' "
    "AND (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id) >= 2"
)


def test_named_cell_saves_and_lifecycle_commands(ip, demo_conn, tmp_path):
    want = _keys(demo_conn, DE_REPEAT_SQL)
    result, out = run(
        ip, "%%segment de_repeat -o saved\n-- repeat buyers in Germany\ncountry = 'DE' and count(orders) >= 2"
    )
    assert result.error_in_exec is None, out.stderr
    assert ip.user_ns["saved"].count == len(want) and "saved" in plain(out)

    # list: the segment with the members stored by the refresh after saving
    run(ip, "%segment list -o segs")
    segs = ip.user_ns["segs"].set_index("name")
    assert segs.loc["de_repeat", "members"] == len(want)
    assert segs.loc["de_repeat", "state"] == "active" and segs.loc["de_repeat", "last_status"] == "Successful"

    # show: definition as written (comment kept), member count
    _, out = run(ip, "%segment show de_repeat")
    text = plain(out)
    assert "-- repeat buyers in Germany" in text and f"members: {len(want):,}" in text

    # sql: the saved definition compiled; it selects the same customers
    _, out = run(ip, "%segment sql de_repeat --dialect duckdb")
    assert _keys(demo_conn, plain(out)) == want

    # a reference to the saved segment from an ad-hoc cell
    _, out = run(ip, "%%segment -o ref\nin segment de_repeat and newsletter")
    assert ip.user_ns["ref"].count == len(
        _keys(
            demo_conn,
            f"SELECT customer_id FROM customers WHERE newsletter AND customer_id IN ({DE_REPEAT_SQL})",
        )
    )

    # refresh and history
    _, out = run(ip, "%segment refresh de_repeat")
    assert "refresh: 1 of 1 successful" in plain(out)
    run(ip, "%segment history de_repeat -o hist")
    hist = ip.user_ns["hist"]
    assert len(hist) == 2 and list(hist["members"]) == [len(want), len(want)]

    # export: the CSV holds exactly the members
    target = tmp_path / "de.csv"
    _, out = run(ip, f"%segment export de_repeat {target}")
    assert f"({len(want):,} members)" in plain(out), out.stderr
    assert sorted(pd.read_csv(target)["customer_id"]) == want

    # rename, duplicate, deactivate, activate, delete
    result, out = run(ip, "%segment rename de_repeat de_loyal")
    assert result.error_in_exec is None, out.stderr
    result, out = run(ip, "%segment show de_repeat")
    assert isinstance(result.error_in_exec, UsageError) and "'de_repeat'" in out.stderr
    run(ip, "%segment duplicate de_loyal de_copy")
    run(ip, "%segment deactivate de_copy")
    run(ip, "%segment list -o segs")
    assert ip.user_ns["segs"].set_index("name").loc["de_copy", "state"] == "inactive"
    _, out = run(ip, "%segment activate de_copy")
    run(ip, "%segment list -o segs")
    segs = ip.user_ns["segs"].set_index("name")
    assert segs.loc["de_copy", "state"] == "active" and segs.loc["de_copy", "members"] == len(want)
    run(ip, "%segment delete de_copy")
    run(ip, "%segment list -o segs")
    assert set(ip.user_ns["segs"]["name"]) >= {"de_loyal"} and "de_copy" not in set(
        ip.user_ns["segs"]["name"]
    )
    run(ip, "%segment delete de_loyal")


def test_draft_and_bound_values_are_saved(ip):
    result, out = run(ip, "%%segment wip --draft\nsum(orders.amont) > 1")
    assert result.error_in_exec is None, out.stderr
    ws = ip.magics_manager.registry["SegmentMagic"].ws
    seg = ws.get("wip")
    assert seg.draft and seg.state == "inactive" and seg.definition == "sum(orders.amont) > 1"
    # {vars} are saved as the literal values they had: the saved segment does not depend on the kernel.
    ip.user_ns["cc"] = ["DE", "FR"]
    run(ip, "%%segment de_fr\ncountry in {cc}")
    saved = ws.get("de_fr").definition
    assert "'DE'" in saved and "'FR'" in saved and "{cc}" not in saved
    run(ip, "%segment delete de_fr")
    run(ip, "%segment delete wip")


def test_completion_of_segment_names(ip):
    run(ip, "%%segment comp_target\nage > 60")
    try:
        assert complete(ip, "%segment show comp_") == {"comp_target"}
        assert "comp_target" in complete(ip, "%%segment\nage > 3 and in segment comp")
    finally:
        run(ip, "%segment delete comp_target")


# --- widgets ------------------------------------------------------------------------------------------------------

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def test_widget_commands_display_widgets(ip):
    """This shell has no kernel (no widget can render): each widget prints its plain text (issue 17, bug
    12). In a kernel they display as widgets (tests/test_static_output.py, tests/test_browser_page.py)."""
    from jupyter_segments.ui import QuickSegment, SegmentBuilder, SegmentManager, SegmentView

    run(ip, "%%segment widget_seg\ncount(orders) >= 4")
    try:
        for command, cls, head in (
            ("builder -o w", SegmentBuilder, "Segment builder: "),
            ("builder widget_seg -o w", SegmentBuilder, "Segment builder: "),
            ("quick -o w", QuickSegment, "Quick segment"),
            ("manager -o w", SegmentManager, "Segments page: "),
            ("view widget_seg -o w", SegmentView, "Segment view: widget_seg"),
        ):
            result, out = run(ip, f"%segment {command}")
            assert result.error_in_exec is None, (command, out.stderr)
            assert out.stdout.startswith(head) and "VBox(" not in out.stdout, (command, out.stdout[:300])
            assert not any(WIDGET_MIME in o.data for o in out.outputs), command
            assert isinstance(ip.user_ns["w"], cls), command
        run(ip, "%segment builder widget_seg -o w")
        assert ip.user_ns["w"].name.value == "widget_seg"
        result, out = run(ip, "%segment view no_such_segment")
        assert isinstance(result.error_in_exec, UsageError) and "no_such_segment" in out.stderr
    finally:
        run(ip, "%segment delete widget_seg")


# --- intelligence -------------------------------------------------------------------------------------------------


def test_intelligence_commands(ip, demo_conn, demo_frames):
    run(ip, "%%segment intel_a\ncount(orders) >= 8")
    run(ip, "%%segment intel_b\ncountry in ('DE', 'FR')")
    try:
        a = set(
            _keys(
                demo_conn,
                "SELECT customer_id FROM customers c WHERE (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id) >= 8",
            )
        )
        b = set(_keys(demo_conn, "SELECT customer_id FROM customers WHERE country IN ('DE', 'FR')"))
        result, out = run(ip, "%segment compare intel_a intel_b -o cmp")
        assert result.error_in_exec is None, out.stderr
        assert ip.user_ns["cmp"].overlap == {"both": len(a & b), "only_a": len(a - b), "only_b": len(b - a)}
        assert "text/html" in out.outputs[0].data

        result, out = run(ip, f"%segment rfm orders --date order_date --amount amount --as-of {AS_OF} -o rfm")
        assert result.error_in_exec is None, out.stderr
        scores = ip.user_ns["rfm"].set_index("customer_id")
        orders = demo_frames["orders"]
        last = pd.to_datetime(orders.groupby("customer_id").order_date.max())
        recency = (pd.Timestamp(DEMO_ANCHOR) - last).dt.days
        common = recency.index.intersection(scores.index)
        assert len(common) == len(recency)
        assert (scores.loc[common, "recency_days"].astype(int) == recency.loc[common]).all()

        result, out = run(
            ip, "%segment suggest --measure 'sum(orders.amount)' --using country newsletter -o sugg"
        )
        assert result.error_in_exec is None, out.stderr
        sugg = ip.user_ns["sugg"]
        assert sugg and sugg[0].definition == "newsletter"  # the demo's newsletter customers spend more
        c = demo_frames["customers"]
        spend = c["customer_id"].map(demo_frames["orders"].groupby("customer_id")["amount"].sum()).fillna(0.0)
        news = c["newsletter"].astype(bool)
        assert sugg[0].size == int(news.sum())
        assert sugg[0].measure_inside == pytest.approx(spend[news].mean(), rel=1e-9)
        assert sugg[0].lift == pytest.approx(spend[news].mean() / spend[~news].mean(), rel=1e-9)

        # intel_a is count(orders) >= 8: every feature over orders is left out, and on what remains the
        # demo's members look like everyone else; the honest answer is no lookalikes, said in words.
        result, out = run(ip, "%segment similar intel_a --size 0.1 -o sim")
        assert result.error_in_exec is None, out.stderr
        sim = ip.user_ns["sim"]
        assert len(sim) == 0 and sim.auc < 0.6
        assert {"count(orders)", "sum(orders.amount)"} <= set(sim.excluded["feature"])
        assert "no similar customers" in plain(out)
    finally:
        run(ip, "%segment delete intel_a")
        run(ip, "%segment delete intel_b")


# --- static checks --------------------------------------------------------------------------------


def test_cell_shows_static_check_warnings_above_the_members(ip):
    result, out = run(ip, f"%%segment --as-of {AS_OF}\nage > 50 and age < 30\n")
    assert result.error_in_exec is None, out.stderr
    text = plain(out)
    assert "0 members" in text
    assert "warning: line 1, column 1: `age > 50` and `age < 30` are never both true" in text
    assert text.index("warning:") < text.index("SQL (")
    assert "warning: line 1, column 1: `age &gt; 50` and `age &lt; 30` are never both true" in html(out)
    result, out = run(ip, f"%%segment --as-of {AS_OF}\nage > 50\n")
    assert "warning" not in plain(out) + html(out)


def test_check_command_on_text_and_saved_segments(ip):
    result, out = run(ip, "%segment check \"count(orders) < 0 and country = 'DE'\"")
    assert result.error_in_exec is None, out.stderr
    assert "`count(orders) < 0` is never true: a count is a whole number, 0 or more" in plain(out)
    ws = ip.magics_manager.registry["SegmentMagic"].ws
    ws.segment("js_check_all", "all(orders where status = 'delivered')")
    try:
        _, out = run(ip, "%segment check js_check_all")
        assert "all() is also true for customers with no orders; add any(orders)" in plain(out)
        _, out = run(ip, '%segment check "age > 50"')
        assert "no problems found" in plain(out)
    finally:
        ws.get("js_check_all").delete()
