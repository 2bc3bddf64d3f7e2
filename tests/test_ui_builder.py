"""SegmentBuilder driven headlessly from Python: set widget values, click buttons, wait for the count.

Counts are checked against pandas on the same demo tables (the oracle), DSL against hand-written text.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import threading
import time

import pandas as pd
import pytest
from conftest import server_url

import jupyter_segments as js
from jupyter_segments.dsl import parse, to_text
from jupyter_segments.errors import SegmentError
from jupyter_segments.ui.builder import SegmentBuilder
from jupyter_segments.ui.debounce import Debouncer, WorkerDB
from jupyter_segments.ui.errors import Messages
from jupyter_segments.ui.state import Row, Schema, from_definition, to_definition

ANCHOR = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def ws():
    w = js.connect_demo(1500, seed=7, anchor=ANCHOR)
    yield w
    w.close()


@pytest.fixture(scope="module")
def frames(ws) -> dict[str, pd.DataFrame]:
    con = ws.backend.connection
    return {t: con.execute(f"SELECT * FROM {t}").df() for t in ("customers", "orders", "support_calls")}


def ids(frame: pd.DataFrame, mask) -> set[int]:
    return set(frame.loc[mask, "customer_id"].astype(int))


def row(b: SegmentBuilder, i: int):
    """Row views are rebuilt when a structural value changes: always look the row up afresh."""
    return b.row_views()[i]


def set_row(b: SegmentBuilder, i: int, **values) -> None:
    """Set a row's widgets in the order a user would (entity first, value last); the attribute is
    chosen in the searchable picker by its label."""
    for name in ("entity", "quantifier", "agg_attribute", "agg_op", "agg_value", "agg_value2", "attribute", "op",
                 "value", "value2", "text"):  # fmt: skip
        if name not in values:
            continue
        if name == "attribute":
            row(b, i).pick_attribute(values[name])
        else:
            getattr(row(b, i), name).value = values[name]


def test_customer_conditions_dsl_and_count(ws, frames):
    c = frames["customers"]
    b = SegmentBuilder(ws, delay=0.02)
    set_row(b, 0, attribute=("age",), op=">=", value="30")
    b.node_views()[0].add_condition.click()
    set_row(b, 1, attribute=("country",), op="in list", value="DE, FR")
    assert b.wait() == len(ids(c, (c.age >= 30) & c.country.isin(["DE", "FR"])))
    assert b.text == "age >= 30 AND country in ('DE', 'FR')"
    assert "counting" not in b.count_label.value and f"{b.count:,}" in b.count_label.value
    assert b.sql.value and "customers" in b.sql.value  # the compiled SQL is shown
    assert b.sql_accordion.selected_index is None  # ... collapsed
    # OR instead of AND, then remove the first condition
    b.node_views()[0].toggle.value = "or"
    assert b.wait() == len(ids(c, (c.age >= 30) | c.country.isin(["DE", "FR"])))
    row(b, 0).remove.click()
    assert b.text == "country in ('DE', 'FR')"
    assert b.wait() == len(ids(c, c.country.isin(["DE", "FR"])))


def test_operators_by_type(ws):
    b = SegmentBuilder(ws, delay=0.02)
    ops = {}
    for attr in ("age", "country", "signup_date", "newsletter"):
        set_row(b, 0, attribute=(attr,))
        ops[attr] = [v for _, v in row(b, 0).op.options]
    assert ops["age"] == ["=", "!=", "<", "<=", ">", ">=", "between", "is empty", "is not empty"]
    assert {"is", "is not", "contains", "starts with", "ends with", "in list", "is empty"} <= set(
        ops["country"]
    )
    assert {"before", "after", "between", "in last"} <= set(ops["signup_date"])
    assert ops["newsletter"] == ["is true", "is false"]


def test_dates_booleans_and_strings(ws, frames):
    c = frames["customers"]
    b = SegmentBuilder(ws, delay=0.02)
    set_row(b, 0, attribute=("signup_date",), op="before", value=dt.date(2024, 1, 1))  # the date picker
    b.node_views()[0].add_condition.click()
    set_row(b, 1, attribute=("newsletter",), op="is true")
    b.node_views()[0].add_condition.click()
    set_row(b, 2, attribute=("email",), op="ends with", value=".com")
    assert b.text == "signup_date before DATE '2024-01-01' AND newsletter = true AND email ends with '.com'"
    mask = (
        (pd.to_datetime(c.signup_date) < pd.Timestamp("2024-01-01"))
        & c.newsletter.fillna(False).astype(bool)
        & c.email.str.lower().str.endswith(".com").fillna(False)
    )
    assert b.wait() == len(ids(c, mask))
    set_row(b, 0, op="in last", value="2", value2="years")
    assert b.text.startswith("signup_date in last 2 years AND")


def test_related_entity_rows(ws, frames):
    c, o, s = frames["customers"], frames["orders"], frames["support_calls"]
    b = SegmentBuilder(ws, delay=0.02)
    set_row(b, 0, entity=("orders",), quantifier="sum", agg_attribute="amount", agg_op=">=", agg_value="500")
    spend = o.groupby("customer_id").amount.sum()
    assert b.text == "sum(orders.amount) >= 500"
    assert b.wait() == int((spend >= 500).sum())
    # the aggregate with a filter on the related records
    set_row(b, 0, attribute=("status",), op="is not", value="returned")
    spend2 = o[o.status != "returned"].groupby("customer_id").amount.sum()
    assert b.text == "sum(orders.amount where status != 'returned') >= 500"
    assert b.wait() == int((spend2 >= 500).sum())
    # count of records between two numbers
    set_row(b, 0, quantifier="count", agg_op="between", agg_value="2", agg_value2="4")
    set_row(b, 0, attribute=())
    n = o.groupby("customer_id").size()
    assert b.text == "count(orders) between 2 and 4"
    assert b.wait() == int(((n >= 2) & (n <= 4)).sum())
    # any / no record
    set_row(b, 0, entity=("support_calls",), quantifier="any", attribute=("escalated",), op="is true")
    assert b.text == "any(support_calls where escalated = true)"
    assert b.wait() == s[s.escalated.fillna(False).astype(bool)].cust_id.nunique()
    set_row(b, 0, entity=("orders",), quantifier="none")
    assert b.text == "none(orders)"
    assert b.wait() == len(set(c.customer_id) - set(o.customer_id))
    entity_labels = [label for label, _ in row(b, 0).entity.options]
    assert "orders › order_lines" in entity_labels  # a two-step relationship path is offered


def test_nested_groups_and_set_operations(ws, frames):
    c = frames["customers"]
    b = SegmentBuilder(ws, delay=0.02)
    set_row(b, 0, attribute=("age",), op="<", value="40")
    b.node_views()[0].add_nested.click()  # an OR group inside the AND
    nested = b.node_views()[1]
    assert nested.node.op == "or"
    set_row(b, 1, attribute=("loyalty_tier",), op="is", value="gold")
    b.node_views()[1].add_condition.click()
    set_row(b, 2, attribute=("loyalty_tier",), op="is", value="platinum")
    b.node_views()[1].add_nested.click()  # a third level
    set_row(b, 3, attribute=("gender",), op="is", value="f")
    assert b.text == "age < 40 AND (loyalty_tier = 'gold' OR loyalty_tier = 'platinum' OR gender = 'f')"
    b.add_group_button.click()
    b.group_views[1].combine.value = "except"
    set_row(b, 4, attribute=("newsletter",), op="is true")
    assert b.text == (
        "(age < 40 AND (loyalty_tier = 'gold' OR loyalty_tier = 'platinum' OR gender = 'f')) "
        "EXCEPT (newsletter = true)"
    )
    g1 = ids(c, (c.age < 40) & (c.loyalty_tier.isin(["gold", "platinum"]) | (c.gender == "f")))
    g2 = ids(c, c.newsletter.fillna(False).astype(bool))
    assert b.wait() == len(g1 - g2)
    b.group_views[1].combine.value = "intersect"
    assert b.wait() == len(g1 & g2)
    b.group_views[1].combine.value = "union"
    assert b.wait() == len(g1 | g2)
    b.group_views[1].remove.click()
    assert len(b.state.groups) == 1 and b.wait() == len(g1)


def test_projected_attributes(ws, frames):
    o = frames["orders"]
    b = SegmentBuilder(ws, delay=0.02)
    set_row(b, 0, attribute=("customer_id",), op="<=", value="50")
    b.add_projection_button.click()
    pv = b.projection_views[0]
    pv.func.value = "sum"
    pv = b.projection_views[0]
    pv.entity.value = ("orders",)
    pv = b.projection_views[0]
    pv.attribute.value = "amount"
    pv.alias.value = "spend"
    assert b.text == "customer_id <= 50\nPROJECT sum(orders.amount) AS spend"
    members = ws.members(b.definition).set_index("customer_id")["spend"]
    expected = o[o.customer_id <= 50].groupby("customer_id").amount.sum()
    expected = expected.reindex(members.index).fillna(0)
    assert members.round(6).equals(expected.round(6).rename("spend"))


def put_in_state(b: SegmentBuilder, i: int, **fields) -> None:
    """A value the row's typed input cannot hold (the number box refuses "thirty"), as a script or an
    older state puts it into the row: the row then shows it in a text box, to be fixed there."""
    rv = row(b, i)
    for name, value in fields.items():
        setattr(rv.row, name, value)
    rv.build()
    b.changed()


def test_invalid_input_shows_message_not_traceback(ws):
    b = SegmentBuilder(ws, delay=0.02)
    set_row(b, 0, attribute=("age",), op=">")
    assert type(row(b, 0).value).__name__ == "FloatText"  # a number box: letters cannot be typed
    put_in_state(b, 0, value="thirty")
    assert type(row(b, 0).value).__name__ == "Text" and row(b, 0).value.value == "thirty"
    assert b.definition is None
    assert "'thirty' is not a number" in html.unescape(b.summary_status.value)
    assert "Estimated members: —" in b.count_label.value
    assert "Traceback" not in b.summary_status.value
    b.save_button.click()  # no name
    assert b.messages.last_error == "enter a name for the segment"
    b.name.value = "x"
    b.save_button.click()
    assert "Condition 1 (age): 'thirty' is not a number" in b.messages.last_error
    # a DSL text row that does not parse reports line/column, and is fixed by editing it
    row(b, 0).convert_to_text()
    assert row(b, 0).text.value == "age > 'thirty'" or row(b, 0).text.value == ""
    set_row(b, 0, text="age >>> 3")
    assert b.definition is None and "column" in b.error
    set_row(b, 0, text="age > 60 and newsletter")
    assert b.text == "age > 60 AND newsletter"
    assert b.wait() == ws.count("age > 60 and newsletter")


def test_engine_errors_are_shown(ws):
    b = SegmentBuilder(ws, delay=0.02)
    b.node_views()[0].add_text.click()
    set_row(b, 1, text="in segment no_such_segment")
    assert b.definition is None
    assert "no_such_segment" in b.summary_status.value


ROUND_TRIP = [
    "age >= 30 AND country = 'DE'",
    "(age between 20 and 30 OR newsletter) AND regions.name = 'North'",
    "sum(orders.amount where status != 'returned') >= 1000\nPROJECT sum(orders.amount) AS spend, count(orders) AS n",
    "(country in ('DE', 'FR')) UNION (any(support_calls where escalated = true)) EXCEPT (none(orders))",
    "signup_date in last 90 days AND birth_date before DATE '1990-01-01' AND email ends with '.com'",
    "count(orders.order_lines where quantity > 2) between 1 and 5",
    "all(orders where amount > 10) AND avg(orders.amount) < 50.5 AND NOT (age > 70 OR age < 20)",
    "any(orders where amount > 100 and channel = 'web') OR first_name contains 'a'",
    "(age > 30) INTERSECT ((newsletter) UNION (age < 25))",
    "max(orders.amount) * 2 > 300 PROJECT max(orders.amount) - min(orders.amount) AS spread",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip_open_and_save_unchanged(ws, text):
    b = SegmentBuilder(ws, text=text, delay=0.02)
    original = parse(text)
    assert b.definition == original  # the same tree: nothing dropped, nothing changed
    assert parse(b.text) == original
    assert set(ws.member_keys(b.definition)) == set(ws.member_keys(text))
    assert b.wait() == ws.count(text)


def test_round_trip_keeps_unshowable_conditions_as_text(ws):
    text = "age > 30 AND (NOT newsletter OR {limit} < 3)"
    b = SegmentBuilder(ws, text=text, delay=0.02)
    texts = [r.row.text for r in b.row_views() if r.row.is_text]
    assert texts == ["NOT newsletter", "{limit} < 3"]
    assert b.state.groups[0].root.items[1].op == "or"
    # unchanged save -> identical tree
    assert to_definition(b.state, b.schema) == parse(text)


def test_unparsable_text_is_kept_whole(ws):
    b = SegmentBuilder(ws, text="sum(orders.amont) > ", delay=0.02)
    assert [r.row.text for r in b.row_views()] == ["sum(orders.amont) > "]
    assert b.definition is None and b.text == "sum(orders.amont) >"


def test_state_round_trip_on_structured_rows(ws):
    schema = Schema(ws.model)
    d = parse("sum(orders.amount) >= 10 AND any(support_calls where topic = 'billing')")
    state = from_definition(d, schema)
    rows = state.groups[0].root.items
    assert [r.is_text for r in rows] == [False, False]
    assert (rows[0].entity, rows[0].quantifier, rows[0].agg_attribute) == (("orders",), "sum", "amount")
    assert (rows[1].entity, rows[1].attribute, rows[1].op, rows[1].value) == (
        ("support_calls",), ("topic",), "is", "billing",
    )  # fmt: skip


def test_debounced_count_supersedes_and_never_blocks(ws, frames):
    """Rapid edits: one count for the last edit; earlier ones are dropped; the edit calls return while
    the worker is held inside a count (they never wait for the database)."""
    c = frames["customers"]
    b = SegmentBuilder(ws, delay=0.02)
    b.wait()
    gate, counted = threading.Event(), []
    count = b.debouncer.fn

    def held(definition):  # the worker's count, held until the edits are done
        counted.append(to_text(definition))
        if not gate.wait(60):
            raise TimeoutError("the test never released the count")
        return count(definition)

    b.debouncer.fn = held
    done0, dropped0 = b.debouncer.completed, b.debouncer.superseded
    set_row(b, 0, attribute=("age",), op=">")
    for v in ("2", "25", "35", "45"):
        row(b, 0).value.value = v
    # Every edit returned although no count can have finished: the worker is held.
    assert b.counted_text != "age > 45" and b.debouncer.busy
    gate.set()
    assert b.debouncer.wait(60)
    assert b.count == len(ids(c, c.age > 45)) and b.counted_text == "age > 45" and b.count_error is None
    assert "Estimated members: <b>" + f"{b.count:,}" in b.count_label.value
    # One result delivered (the last edit's); every other request was dropped, not counted: at most
    # one ran before it (the one the worker was holding), and its result was thrown away.
    assert b.debouncer.completed - done0 == 1
    # "age = 0" (the number box starts at 0 when the attribute is picked; the held count), "age > 0",
    # "age > 2", "age > 25", "age > 35"
    assert b.debouncer.superseded - dropped0 == 5
    assert counted[-1] == "age > 45" and len(counted) <= 2


def test_superseded_query_is_interrupted_on_a_worker_thread(ws):
    """A slow count is interrupted by a newer request; the worker never runs on the main thread."""
    db = WorkerDB(ws)
    threads: list[threading.Thread] = []
    results: list = []
    errors: list = []

    calls: list[str] = []
    ended: list[tuple[str, BaseException]] = []
    interrupts: list[int] = []

    def run(sql: str):
        threads.append(threading.current_thread())
        calls.append(sql)
        try:
            return db.scalar(sql)
        except BaseException as e:
            ended.append((sql, e))
            raise

    def cancel():
        interrupts.append(1)
        db.interrupt()

    d = Debouncer(run, results.append, errors.append, delay=0.0, cancel=cancel)
    # 10^14 rows: this never finishes on its own, so the newer request can only win by interrupting it.
    endless = "SELECT sum(a.range * b.range) FROM range(10000000) a, range(10000000) b"
    d.submit(endless)
    deadline = time.monotonic() + 60
    while db._active is None:  # the worker has handed the query to DuckDB
        assert time.monotonic() < deadline, "the endless query never started"
        time.sleep(0.01)
    # An interrupt that reaches DuckDB just before the query starts is lost; each newer request
    # interrupts again, so submit until the endless query has ended (it cannot end on its own).
    while not ended:
        assert time.monotonic() < deadline, "the endless query was never interrupted"
        d.submit("SELECT 42")
        time.sleep(0.2)
    assert d.wait(60)
    assert results == [42] and errors == []
    # The endless query ran and ended with DuckDB's interrupt (its error dropped: it was superseded);
    # then the worker ran the newest request (twice at most: a last submit may race the first run).
    assert calls[0] == endless and [sql for sql, _ in ended] == [endless]
    assert "interrupt" in str(ended[0][1]).lower(), ended[0][1]
    assert set(calls[1:]) == {"SELECT 42"} and len(calls) <= 3
    assert interrupts and d.superseded >= 1
    assert all(t is not threading.main_thread() for t in threads)
    d.close()


def test_error_handler_shows_any_exception_without_traceback():
    m = Messages()

    def boom():
        return 1 / 0

    assert m.guard(boom)() is None
    assert m.last_error == "ZeroDivisionError: division by zero"
    assert "Traceback" not in m.widget.value and "division by zero" in m.widget.value
    m.guard(lambda: (_ for _ in ()).throw(SegmentError("bad thing", text="abc", pos=1)))()
    assert m.last_error.startswith("line 1, column 2: bad thing")


def test_to_text_of_builder_tree_parses_back(ws):
    b = SegmentBuilder(ws, delay=0.02)
    set_row(b, 0, attribute=("first_name",), op="is", value="O'Brien")
    assert b.text == "first_name = 'O''Brien'"
    assert parse(b.text) == b.definition
    assert to_text(parse(b.text)) == b.text


# --- issue 14's forms in the rows, issue 17's row errors ------------------------------------------------

NEW_FORMS = [
    "lower(email) starts with 'a'",
    "year(signup_date) = 2024",
    "weekday(signup_date) >= 6",
    "signup_date in previous year",
    "signup_date in this month",
    "signup_date in month 2024-03",
    "signup_date in year 2024",
    "median(orders.amount) between 10 and 200",
    "percentile(orders.amount, 0.9) > 100",
    "stddev(orders.amount) < 50",
    "mode(orders.channel) = 'web'",
    "first(orders.channel by order_date) = 'web'",
    "last(orders.amount by order_date) > 30",
    "top 10% by sum(orders.amount)",
    "bottom 5 by age",
    "top 3 by count(orders where status = 'returned')",
    "any(orders where month(order_date) = 12)",
]
TEXT_FORMS = [
    "top 10% by sum(orders.amount) among country = 'DE'",
    "round(age, 1) > 3",
    "sum(orders.amount * 2) > 300",
    "year(signup_date) + 1 > 2024",
]


@pytest.mark.parametrize("text", NEW_FORMS)
def test_new_forms_open_as_rows_and_round_trip(ws, text):
    from jupyter_segments.dsl import parse

    b = SegmentBuilder(ws, text=text, delay=0.01)
    try:
        (rv,) = b.row_views()
        assert not rv.row.is_text, text
        assert b.definition == parse(text)  # exactly the same tree back
        assert b.wait() == len(ws.members(parse(text)))  # the engine's own count of the same text
    finally:
        b.close()


@pytest.mark.parametrize("text", TEXT_FORMS)
def test_other_forms_stay_dsl_text_rows(ws, text):
    from jupyter_segments.dsl import parse, to_text

    b = SegmentBuilder(ws, text=text, delay=0.01)
    try:
        (rv,) = b.row_views()
        assert rv.row.is_text and rv.row.text == to_text(parse(text))
        assert b.definition == parse(text)
    finally:
        b.close()


def test_function_and_calendar_rows_by_clicks(ws):
    b = SegmentBuilder(ws, delay=0.01)
    try:
        rv = b.row_views()[0]
        rv.pick_attribute(("email",))
        assert "lower" in rv.func.options[1]
        rv.func.value = "lower"
        b.row_views()[0].op.value = "ends with"
        b.row_views()[0].value.value = ".com"
        assert b.text == "lower(email) ends with '.com'"
        rv = b.row_views()[0]
        rv.pick_attribute(("signup_date",))
        rv = b.row_views()[0]
        assert rv.func.value == ""  # a new attribute starts without a function
        rv.op.value = "in previous"
        b.row_views()[0].value2.value = "quarter"
        assert b.text == "signup_date in previous quarter"
        b.row_views()[0].func.value = "year"
        rv = b.row_views()[0]
        rv.op.value = ">="
        b.row_views()[0].value.value = "2024"
        assert b.text == "year(signup_date) >= 2024"
    finally:
        b.close()


def test_ranking_row_by_clicks(ws):
    from jupyter_segments.dsl import parse

    b = SegmentBuilder(ws, delay=0.01)
    try:
        node = b.node_views()[0]
        node.add_rank.click()
        rows = b.row_views()
        assert rows[1].row.rank == "top"
        rows[1].entity.value = ("orders",)
        rv = b.row_views()[1]
        rv.quantifier.value = "median"
        assert b.text == "top 10% by median(orders.amount)"
        rv = b.row_views()[1]
        rv.rank.value, rv.rank_unit.value, rv.rank_amount.value = "bottom", False, "25"
        assert b.text == "bottom 25 by median(orders.amount)"
        assert b.wait() == len(ws.members(parse("bottom 25 by median(orders.amount)")))
    finally:
        b.close()


def test_text_row_error_has_caret_and_marks_the_row(ws):
    """Issue 17, item 3: the row's own text with a caret, and the row at fault outlined."""
    b = SegmentBuilder(ws, text="age > 30", delay=0.01)
    try:
        node = b.node_views()[0]
        node.add_text.click()
        b.row_views()[1].text.value = "country = 'DE' and agee > 3"
        rows = b.row_views()
        assert b.definition is None
        assert b.error.startswith("Condition 2 (text): line 1, column 20")
        assert "  country = 'DE' and agee > 3\n                     ^^^^" in b.error
        assert "jseg-row-error" in rows[1].box._dom_classes and "agee" in rows[1].error_html.value
        assert "jseg-row-error" not in rows[0].box._dom_classes
        rows[1].text.value = "country = 'DE' and age >> 3"  # a parse error: its column too
        assert "line 1, column 25" in b.error and "^" in b.row_views()[1].error_html.value
        b.row_views()[1].text.value = "country = 'DE' and age > 3"
        assert b.error is None and b.wait() is not None
        assert all("jseg-row-error" not in r.box._dom_classes for r in b.row_views())
        assert all(r.error_html.value == "" for r in b.row_views())
    finally:
        b.close()


def test_a_late_count_is_not_shown_for_an_invalid_definition(ws):
    """Seen in the browser: a count finishing after an edit made the definition invalid was shown as current."""
    b = SegmentBuilder(ws, text="age >= 30", delay=0.0)
    try:
        b.wait()
        b.add_item(b.state.groups[0].root, Row(text="agee > 3"))  # now invalid
        b._count_done((99, "age >= 30", 0.01))  # the worker delivers the count of the earlier definition
        assert b.definition is None and b.count is None
        assert "Estimated members: —" in b.count_label.value
    finally:
        b.close()


def _five_rows_with_a_nested_group(b: SegmentBuilder) -> None:
    """age >= 30, country is DE, (age < 60 OR newsletter), then an orders sum: the fifth visible row."""
    set_row(b, 0, attribute=("age",), op=">=", value="30")
    b.node_views()[0].add_condition.click()
    set_row(b, 1, attribute=("country",), op="is", value="DE")
    b.node_views()[0].add_nested.click()
    set_row(b, 2, attribute=("age",), op="<", value="60")
    b.node_views()[1].add_condition.click()
    set_row(b, 3, attribute=("newsletter",), op="is true")
    b.node_views()[0].add_condition.click()
    set_row(b, 4, entity=("orders",), quantifier="sum", agg_attribute="amount", agg_op=">=", agg_value=500)
    set_row(b, 4, attribute=("status",), op="is not", value="returned")
    put_in_state(b, 4, agg_value="5OO")  # typed before the row had a number box


def test_invalid_value_names_the_visible_row_and_keeps_the_dsl_form(ws, frames):
    """Issue 17, bug 10: '5OO' in the fifth row printed "orders sum status is not returned" and the
    message said "condition 4" (the nested group counted as a condition)."""
    b = SegmentBuilder(ws, delay=0.01)
    try:
        _five_rows_with_a_nested_group(b)
        assert b.definition is None
        # The draft text is DSL: the value as typed, quoted, inside the aggregate it belongs to.
        assert b.text == (
            "age >= 30 AND country = 'DE' AND (age < 60 OR newsletter = true) "
            "AND sum(orders.amount where status != 'returned') >= '5OO'"
        )
        assert "orders sum status" not in html.unescape(b.dsl.value)
        # Every message names the row by the number the row shows (the fifth), also on save.
        numbers = [re.sub("<[^>]+>", "", rv.number.value) for rv in b.row_views()]
        assert numbers == ["1", "2", "3", "4", "5"]
        assert b.error == "Condition 5 (sum of orders.amount): '5OO' is not a number"
        assert "Condition 5" in html.unescape(b.summary_status.value)
        assert "jseg-row-error" in b.row_views()[4].box._dom_classes
        assert "'5OO' is not a number" in html.unescape(b.row_views()[4].error_html.value)
        b.name.value = "bad_value"
        b.save_button.click()
        assert b.messages.last_error == "Condition 5 (sum of orders.amount): '5OO' is not a number"
        # An empty value: still the DSL form, the value left out.
        set_row(b, 4, agg_value="")
        assert b.text.endswith("AND sum(orders.amount where status != 'returned') >=")
        assert b.error == "Condition 5 (sum of orders.amount): enter a value"
        set_row(b, 4, agg_value="500")
        c, o = frames["customers"], frames["orders"]
        kept = o[o.status.ne("returned").fillna(True) & o.status.notna()]
        spend = kept.groupby("customer_id").amount.sum()
        rich = set(spend[spend >= 500].index.astype(int))
        mask = (c.age >= 30) & (c.country == "DE") & ((c.age < 60) | c.newsletter.fillna(False).astype(bool))
        assert b.error is None and b.wait() == len(ids(c, mask) & rich)
    finally:
        b.close()


def _hold_counts(b: SegmentBuilder) -> threading.Event:
    """Hold the builder's worker inside each count until the returned gate is set."""
    gate, count = threading.Event(), b.debouncer.fn

    def held(definition):
        if not gate.wait(60):
            raise TimeoutError("the test never released the count")
        return count(definition)

    b.debouncer.fn = held
    return gate


def test_summary_shows_share_and_greys_the_previous_count_while_counting(ws, frames):
    c = frames["customers"]
    b = SegmentBuilder(ws, text="age >= 30", delay=0.0)
    try:
        n = b.wait()
        assert n == len(ids(c, c.age >= 30))
        share = f"{n / len(c):.1%} of {len(c):,} customers"  # the whole: every customer row (pandas)
        assert f"Estimated members: <b>{n:,}</b>" in b.count_label.value and share in b.count_label.value
        assert b.cancel_button.layout.display == "none"
        gate = _hold_counts(b)
        set_row(b, 0, value=40)
        # While the recount runs: the earlier number greyed (not bold, not current), a spinner, the
        # elapsed time and Cancel.
        label = b.count_label.value
        assert b.count is None and b.previous == n
        assert f'<span class="jseg-stale" title="the count of the previous definition">{n:,}</span>' in label
        assert "<b>" not in label and 'role="progressbar"' in label and "counting…" in label
        assert b.cancel_button.layout.display == "flex"
        gate.set()
        m = b.wait()
        assert m == len(ids(c, c.age >= 40)) and f"<b>{m:,}</b>" in b.count_label.value
        assert "jseg-stale" not in b.count_label.value and b.cancel_button.layout.display == "none"
        # Save and refresh from the summary: the members stored are the oracle's.
        b.name.value = "over_40_summary"
        run = b.save_and_refresh()
        assert run.ok and run.members == m
        assert f"refreshed it: {m:,} members" in b.messages.last_message
        assert set(ws.get("over_40_summary").members()["customer_id"]) == ids(c, c.age >= 40)
        # The 10-row preview, one click away.
        b.preview_button.click()
        assert list(b.preview_frame["customer_id"]) == sorted(ids(c, c.age >= 40))[:10]
    finally:
        b.close()


@pytest.fixture
def slow_ws():
    """A DuckDB workspace whose customers view takes minutes to read: only an interrupt ends a count."""
    from jupyter_segments import demo
    from jupyter_segments.backends import open_backend

    conn = demo.generate(300, seed=1)
    conn.execute("ALTER TABLE customers RENAME TO base_customers")
    conn.execute("CREATE VIEW customers AS SELECT * FROM base_customers")
    w = js.Workspace(open_backend(conn))
    w.customers("customers", key="customer_id")
    w.count("age >= 30")  # the key's uniqueness is checked (once) on the fast view
    conn.execute(
        # A count over a trillion generated rows: runs for hours in constant memory (70 MB), unlike a
        # windowed cross join, whose buffers reached 9 GB before a late cancel.
        "CREATE OR REPLACE VIEW customers AS SELECT b.* FROM base_customers b "
        "WHERE (SELECT count(*) FROM range(1000000000000) r(i) WHERE r.i * 0 = 0) > 0"
    )
    yield w
    w.close()


def _slow_server_ws(kind: str, admin, name: str, fill: str, sleepy_view: str):
    """A workspace over a database of its own on a server: customers first read from a fast view (the
    key check), then from ``sleepy_view``, where every customer row sleeps a second. Dropped at the end."""
    import sqlalchemy as sa

    from jupyter_segments.backends import open_backend

    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    target = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(target)
    w = None
    try:
        with engine.begin() as c:
            c.exec_driver_sql("CREATE TABLE base_customers (customer_id integer PRIMARY KEY, age integer)")
            c.exec_driver_sql(fill)
            c.exec_driver_sql("CREATE VIEW customers AS SELECT * FROM base_customers")
        w = js.Workspace(open_backend(target))
        w.customers("customers", key="customer_id")
        w.count("age >= 30")  # the key checked on the fast view
        with engine.begin() as c:
            c.exec_driver_sql(
                f"CREATE OR REPLACE VIEW customers AS SELECT * FROM base_customers WHERE {sleepy_view}"
            )
        yield w
    finally:
        if w is not None:
            w.close()
        engine.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(
                f"DROP DATABASE IF EXISTS {name}{' WITH (FORCE)' if kind == 'postgres' else ''}"
            )
        admin.dispose()


@pytest.fixture
def slow_postgres_ws():
    """The same on PostgreSQL (a database of its own): every customer row sleeps a second."""
    import sqlalchemy as sa

    url = sa.make_url(server_url("postgres"))
    # The server's maintenance database: the URL's own (js_test in CI) need not exist.
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    yield from _slow_server_ws(
        "postgres",
        admin,
        f"js_test_cancel_{os.getpid()}",
        "INSERT INTO base_customers SELECT i, 20 + mod(i, 50) FROM generate_series(1, 300) i",
        "pg_sleep(1) IS NOT NULL",
    )


@pytest.fixture
def slow_mysql_ws():
    """The same on MariaDB/MySQL (a database of its own): every customer row sleeps a second."""
    import sqlalchemy as sa

    from jupyter_segments.backends.sqlalchemy_backend import normalize_url

    url = normalize_url(server_url("mysql"))
    admin = sa.create_engine(url.set(database="mysql"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        mariadb = "mariadb" in c.exec_driver_sql("SELECT VERSION()").scalar_one().lower()
    yield from _slow_server_ws(
        "mysql",
        admin,
        f"js_cancel_{os.getpid()}",
        "INSERT INTO base_customers SELECT seq, 20 + MOD(seq, 50) FROM seq_1_to_300"
        if mariadb
        else "INSERT INTO base_customers WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL "
        "SELECT i + 1 FROM s WHERE i < 300) SELECT i, 20 + MOD(i, 50) FROM s",
        "SLEEP(1) = 0",
    )


def _mysql_queries(workspace) -> list[int]:
    """Ids of the connections running a statement in the workspace's database, seen from a connection
    of its own (not one of the workspace's pool)."""
    import sqlalchemy as sa

    engine = sa.create_engine(workspace.backend.engine.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as c:
            return [
                int(i)
                for (i,) in c.exec_driver_sql(
                    "SELECT id FROM information_schema.PROCESSLIST WHERE db = DATABASE() "
                    "AND command = 'Query' AND id <> CONNECTION_ID()"
                )
            ]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["duckdb", "postgres", "mysql"])
def test_cancel_interrupts_the_running_count(request, database):
    """Cancel ends the query in the database (DuckDB's interrupt, PostgreSQL's cancel request,
    MariaDB's KILL QUERY of the worker's connection)."""
    workspace = request.getfixturevalue(
        {"duckdb": "slow_ws", "postgres": "slow_postgres_ws", "mysql": "slow_mysql_ws"}[database]
    )
    b = SegmentBuilder(workspace, delay=0.0)  # empty: nothing counted yet
    ended: list[BaseException] = []
    frame = b.db.frame

    def recorded(sql):
        try:
            return frame(sql)
        except BaseException as e:
            ended.append(e)
            raise

    b.db.frame = recorded
    try:
        b.load("age >= 30")
        deadline = time.monotonic() + 60
        while b.db._running is None:  # the count is in DuckDB (the customers view never finishes)
            assert time.monotonic() < deadline, "the count never started"
            time.sleep(0.01)
        if database == "mysql":
            while not (running := _mysql_queries(workspace)):  # the count is on the server
                assert time.monotonic() < deadline, "the count never reached the server"
                time.sleep(0.05)
        b.cancel_button.click()
        assert b.debouncer.wait(60), "the canceled query kept running"
        # It ended with the database's interrupt, no count was shown, and the summary says so.
        said = {
            "duckdb": "interrupt",
            "postgres": "canceling statement due to user request",
            "mysql": "query execution was interrupted",
        }[database]
        assert len(ended) == 1 and said in str(ended[0]).lower(), ended
        assert isinstance(ended[0], SegmentError)
        if database == "mysql":
            # Nothing runs on the server any more, and the worker's connection (the one that ran the
            # count, not a replacement) answers the next query.
            deadline = time.monotonic() + 5  # the server's bookkeeping may trail its error reply
            while _mysql_queries(workspace) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _mysql_queries(workspace) == []
            assert int(b.db.scalar("SELECT CONNECTION_ID()")) == running[0]
        assert b.count is None and b.count_error is None
        assert "count canceled after" in b.count_label.value
        assert b.cancel_button.layout.display == "none" and b.recount_button.layout.display == "flex"
        assert b.cancel_count() is False  # nothing left to cancel
    finally:
        b.close()


def test_attribute_picker_groups_by_entity_keys_last_and_typed_inputs(ws, frames):
    c, o = frames["customers"], frames["orders"]
    b = SegmentBuilder(ws, delay=0.01)
    try:
        rv = row(b, 0)
        labels = list(rv.attribute.options)
        entity_of = [label.split(" › ")[0] for label in labels]
        keys = {"customers › customer_id", "customers › region_id", "regions › region_id"}
        assert set(labels[-len(keys) :]) == keys  # keys and join columns last
        rest = entity_of[: -len(keys)]
        assert rest == sorted(rest, key=["customers", "regions"].index)  # grouped: one block per entity
        assert "customers › age" in labels and "regions › name" in labels
        # Typed inputs: a number box, a date picker, and the values of a text attribute with few of them.
        set_row(b, 0, attribute=("age",), op=">=")
        assert type(row(b, 0).value).__name__ == "FloatText"
        set_row(b, 0, attribute=("signup_date",), op="after")
        assert type(row(b, 0).value).__name__ == "DatePicker"
        set_row(b, 0, attribute=("country",), op="is")
        picker = row(b, 0).value
        assert type(picker).__name__ == "Combobox"
        counts = c.country.dropna().astype(str).value_counts()
        assert list(picker.options) == sorted(counts.index, key=lambda v: (-counts[v], v))
        set_row(b, 0, value="DE")
        assert b.wait() == len(ids(c, c.country == "DE"))
        set_row(b, 0, attribute=("email",), op="is")  # thousands of values: typed, no picker
        assert type(row(b, 0).value).__name__ == "Text"
        # On a related entity: its own columns first, then its to-one neighbours', keys last.
        set_row(b, 0, entity=("orders",))
        labels = list(row(b, 0).attribute.options)
        assert labels[0] == "(no filter on the records)" and labels[1].startswith("orders › ")
        assert labels[-1].endswith("_id")
        set_row(b, 0, attribute=("status",), op="is")
        statuses = o.status.dropna().astype(str).value_counts()
        assert set(row(b, 0).value.options) == set(statuses.index)
    finally:
        b.close()
