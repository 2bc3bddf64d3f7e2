"""The language's expressions, functions, date arithmetic and ranking, against the pandas oracle on
every database (DuckDB and SQLite always; PostgreSQL and MariaDB where their URLs are set).

The oracle is written here with pandas, independently of the compiler: each case spells out what
the definition means (issue 14's normative forms) on the demo frames.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import oracle as O
import pandas as pd
import pytest
from conftest import DEMO_ANCHOR
from test_engine_oracle import AS_OF, Demo, demo, keys, ws  # noqa: F401 - fixtures, shared
from test_integrity import assuming_workspace

from jupyter_segments import SegmentError, Workspace
from jupyter_segments.compile import dialects as CD
from jupyter_segments.dsl import parse, to_text

D = pd.DateOffset


def lines_value(d: Demo) -> pd.Series:
    return d.ol["quantity"].astype("Float64") * d.ol["unit_price"].astype("Float64")


def agg_of(d: Demo, frame: pd.DataFrame, values: pd.Series, func: str, where=None) -> pd.Series:
    """``func`` over derived per-record ``values`` of ``frame`` (indexed like it), per customer."""
    return O.aggregate(frame.assign(_v=values), "customer_id", d.K, func, "_v", where)


def greatest(*series: pd.Series) -> pd.Series:
    return pd.concat([s.astype("Float64") for s in series], axis=1).max(axis=1, skipna=True)


def round_half_away(x: pd.Series, decimals: int = 0) -> pd.Series:
    step = Decimal(1).scaleb(-decimals)
    return x.map(
        lambda v: pd.NA if pd.isna(v) else float(Decimal(repr(float(v))).quantize(step, ROUND_HALF_UP))
    ).astype("Float64")


def ranked(d: Demo, values: pd.Series, top: bool, amount: float, percent: bool, among=None) -> O.Bool:
    """The customers kept by ``top/bottom amount[%] by values [among ...]`` (issue 14's semantics)."""
    pop = values.notna() if among is None else values.notna() & among.fillna(False).astype(bool)
    frame = pd.DataFrame({"v": values[pop].astype("Float64"), "k": d.K[pop.to_numpy(dtype=bool)]})
    frame = frame.sort_values(["v", "k"], ascending=[not top, True])
    n = len(frame)
    keep = math.ceil(amount * n / 100) if percent else int(amount)
    chosen = set(frame["k"].iloc[:keep])
    return O.tv(pd.Series(d.K.isin(chosen), index=d.K))


def this_start(d: Demo, unit: str) -> pd.Timestamp:
    """The first day of the as_of date's week (Monday), month, quarter or year."""
    day = AS_OF.normalize()
    if unit == "week":
        return day - pd.Timedelta(days=day.day_of_week)
    if unit == "year":
        return pd.Timestamp(day.year, 1, 1)
    month = day.month if unit == "month" else 3 * ((day.month - 1) // 3) + 1
    return pd.Timestamp(day.year, month, 1)


def period(x: pd.Series, start: pd.Timestamp, end: pd.Timestamp, end_included: bool = False) -> O.Bool:
    return O.cmp(x, ">=", start) & O.cmp(x, "<=" if end_included else "<", end)


def ordered(d: Demo, func: str, child: str, values, where=None, **kw) -> pd.Series:
    """median/percentile/stddev/mode/first/last (``O.ordered_aggregate``) per customer over a child
    table; ``values``, ``where`` and the ``by``/``key`` keywords are a column name or a function of
    the child frame."""
    frame, fk = d.child(child)
    at = {k: frame[v] if isinstance(v, str) else v(frame) for k, v in kw.items() if k in ("by", "key")}
    vals = frame[values] if isinstance(values, str) else values(frame)
    return O.ordered_aggregate(
        frame, fk, d.K, func, vals, where(frame) if where else None, fraction=kw.get("fraction"), **at
    )


def per_order(d: Demo, func: str, values: str, **kw) -> pd.Series:
    """The same per order, over its lines (a nested scope)."""
    at = {k: d.ol[v] for k, v in kw.items() if k in ("by", "key")}
    return O.ordered_aggregate(
        d.ol, "order_id", d.o.index, func, d.ol[values], fraction=kw.get("fraction"), **at
    )


# (id, DSL text, oracle)
CASES: list[tuple[str, str, object]] = [
    # --- arithmetic inside aggregates and filters ---
    ("agg_expression", "sum(orders.order_lines.quantity * orders.order_lines.unit_price) > 500",
     lambda d: O.cmp(agg_of(d, d.ol, lines_value(d), "sum"), ">", 500)),
    ("agg_expression_where", "avg(orders.amount - orders.discount where amount - discount > 100) > 150",
     lambda d: O.cmp(agg_of(d, d.o, d.o.amount - d.o.discount, "avg",
                            O.cmp(d.o.amount - d.o.discount, ">", 100)), ">", 150)),
    ("agg_ratio", "count(orders) / count(support_calls) > 2",
     lambda d: O.cmp(d.agg("count", "orders") / d.agg("count", "support_calls").replace(0, pd.NA), ">", 2)),
    # --- CASE ---
    ("case_value", "case when country = 'DE' then churn_score * 2 else churn_score end > 0.8",
     lambda d: O.cmp(d.c.churn_score.where(~O.cmp(d.c.country, "=", "DE").fillna(False), d.c.churn_score * 2),
                     ">", 0.8)),
    ("case_in_aggregate", "sum(case when orders.channel = 'web' then orders.amount else 0 end) > 300",
     lambda d: O.cmp(agg_of(d, d.o, d.o.amount.where(O.cmp(d.o.channel, "=", "web").fillna(False), 0.0), "sum"),
                     ">", 300)),
    ("case_no_else", "case when age > 60 then 'senior' end = 'senior'", lambda d: O.cmp(d.c.age, ">", 60)),
    # --- text functions ---
    ("lower_trim", "lower(trim(city)) = 'berlin'",
     lambda d: O.cmp(d.c.city.str.strip().str.lower(), "=", "berlin")),
    ("upper", "upper(country) = 'DE'", lambda d: O.cmp(d.c.country.str.upper(), "=", "DE")),
    ("length", "length(last_name) >= 7", lambda d: O.cmp(d.c.last_name.str.len(), ">=", 7)),
    ("coalesce", "coalesce(gender, 'unknown') = 'unknown'", lambda d: O.is_null(d.c.gender)),
    ("concat", "concat(first_name, ' ', gender) = concat(first_name, ' ')",
     lambda d: O.cmp(d.c.first_name.fillna(""), "=", d.c.first_name.fillna("")) & O.is_null(d.c.gender)),
    # --- number functions ---
    ("abs", "abs(churn_score - 0.5) < 0.05", lambda d: O.cmp((d.c.churn_score - 0.5).abs(), "<", 0.05)),
    ("round", "round(sum(orders.amount)) = round(sum(orders.amount), 0) and round(churn_score, 1) = 0.5",
     lambda d: O.cmp(round_half_away(d.c.churn_score, 1), "=", 0.5)),
    ("round_whole", "round(churn_score * 10) = 5", lambda d: O.cmp(round_half_away(d.c.churn_score * 10), "=", 5)),
    ("floor_ceil", "floor(churn_score * 10) = 3 and ceil(churn_score * 10) = 4",
     lambda d: O.cmp(np.floor(d.c.churn_score * 10), "=", 3) & O.cmp(np.ceil(d.c.churn_score * 10), "=", 4)),
    ("floor_negative", "floor(0 - churn_score * 10) = -4",
     lambda d: O.cmp(np.floor(-(d.c.churn_score * 10)), "=", -4)),
    ("greatest_skips_nulls", "greatest(age, 40) = 40", lambda d: O.cmp(greatest(d.c.age, pd.Series(40, index=d.K)), "=", 40)),
    ("least_dates", "least(signup_date, max(orders.order_date)) < '2022-01-01'",
     lambda d: O.cmp(pd.concat([d.c.signup_date, d.agg("max", "orders", "order_date")], axis=1).min(axis=1),
                     "<", pd.Timestamp("2022-01-01"))),
    # --- date functions ---
    ("year_month", "year(signup_date) = 2023 and month(signup_date) = 3",
     lambda d: O.cmp(d.c.signup_date.dt.year, "=", 2023) & O.cmp(d.c.signup_date.dt.month, "=", 3)),
    ("quarter_day", "quarter(signup_date) = 4 and day(signup_date) >= 25",
     lambda d: O.cmp(d.c.signup_date.dt.quarter, "=", 4) & O.cmp(d.c.signup_date.dt.day, ">=", 25)),
    ("weekday", "weekday(signup_date) = 7", lambda d: O.cmp(d.c.signup_date.dt.day_of_week + 1, "=", 7)),
    ("weekday_ts", "any(support_calls where weekday(called_at) = 1)",
     lambda d: d.ex("any", "support_calls", lambda r: O.cmp(r.called_at.dt.day_of_week + 1, "=", 1))),
    ("days_between", "days_between(signup_date, max(orders.order_date)) > 900",
     lambda d: O.cmp((d.agg("max", "orders", "order_date") - d.c.signup_date).dt.days, ">", 900)),
    ("days_between_ts", "any(support_calls where days_between(called_at, '2025-06-30') < 3)",
     lambda d: d.ex("any", "support_calls",
                    lambda r: O.cmp((pd.Timestamp("2025-06-30") - r.called_at.dt.normalize()).dt.days, "<", 3))),
    ("date_of_ts", "any(support_calls where date(called_at) = '2025-06-01')",
     lambda d: d.ex("any", "support_calls", lambda r: O.cmp(r.called_at.dt.normalize(), "=", pd.Timestamp("2025-06-01")))),
    # --- date arithmetic ---
    ("plus_days", "signup_date + 30 days > '2025-06-01'",
     lambda d: O.cmp(d.c.signup_date + pd.Timedelta(days=30), ">", pd.Timestamp("2025-06-01"))),
    ("columns_compare", "max(orders.order_date) < signup_date + 1 year",
     lambda d: O.cmp(d.agg("max", "orders", "order_date"), "<", d.c.signup_date + D(years=1))),
    ("minus_months", "signup_date - 1 month >= '2025-02-28'",
     lambda d: O.cmp(d.c.signup_date - D(months=1), ">=", pd.Timestamp("2025-02-28"))),
    ("month_end", "signup_date + 1 month = '2024-02-29'",
     lambda d: O.cmp(d.c.signup_date + D(months=1), "=", pd.Timestamp("2024-02-29"))),
    ("plus_weeks", "birth_date + 2 weeks < '1960-01-01'",
     lambda d: O.cmp(d.c.birth_date + pd.Timedelta(weeks=2), "<", pd.Timestamp("1960-01-01"))),
    ("ts_hours", "any(support_calls where called_at + 6 hours > '2025-06-30 20:00:00')",
     lambda d: d.ex("any", "support_calls",
                    lambda r: O.cmp(r.called_at + pd.Timedelta(hours=6), ">", pd.Timestamp("2025-06-30 20:00:00")))),
    ("ts_minus_month", "any(support_calls where called_at - 1 month > '2025-05-29 12:00:00')",
     lambda d: d.ex("any", "support_calls",
                    lambda r: O.cmp(r.called_at - D(months=1), ">", pd.Timestamp("2025-05-29 12:00:00")))),
    # --- calendar periods (as_of is the demo's anchor date, a Monday-started week) ---
    ("this_year", "signup_date in this year", lambda d: period(d.c.signup_date, this_start(d, "year"), AS_OF, True)),
    ("this_quarter", "signup_date in this quarter",
     lambda d: period(d.c.signup_date, this_start(d, "quarter"), AS_OF, True)),
    ("this_month_ts", "any(support_calls where called_at in this month)",
     lambda d: d.ex("any", "support_calls",
                    lambda r: period(r.called_at, this_start(d, "month"), AS_OF + pd.Timedelta(days=1)))),
    ("this_week_ts", "any(web_events where event_time in this week)",
     lambda d: d.ex("any", "web_events",
                    lambda r: period(r.event_time, this_start(d, "week"), AS_OF + pd.Timedelta(days=1)))),
    ("previous_year", "signup_date in previous year",
     lambda d: period(d.c.signup_date, this_start(d, "year") - D(years=1), this_start(d, "year"))),
    ("previous_quarter_ts", "count(support_calls where called_at in previous quarter) >= 1",
     lambda d: d.ex("any", "support_calls",
                    lambda r: period(r.called_at, this_start(d, "quarter") - D(months=3), this_start(d, "quarter")))),
    ("previous_week", "signup_date in previous week",
     lambda d: period(d.c.signup_date, this_start(d, "week") - pd.Timedelta(days=7), this_start(d, "week"))),
    ("year_fixed", "signup_date in year 2023",
     lambda d: period(d.c.signup_date, pd.Timestamp("2023-01-01"), pd.Timestamp("2024-01-01"))),
    ("month_fixed", "max(orders.order_date) in month 2024-02",
     lambda d: period(d.agg("max", "orders", "order_date"), pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01"))),
    # --- ranking ---
    ("top_n", "top 100 by sum(orders.amount)", lambda d: ranked(d, d.agg("sum", "orders", "amount"), True, 100, False)),
    ("top_percent", "top 10% by sum(orders.amount)",
     lambda d: ranked(d, d.agg("sum", "orders", "amount"), True, 10, True)),
    ("bottom_percent", "bottom 20% by count(orders)",
     lambda d: ranked(d, d.agg("count", "orders"), False, 20, True)),
    ("top_among", "top 2.5% by sum(orders.amount) among country = 'DE'",
     lambda d: ranked(d, d.agg("sum", "orders", "amount"), True, 2.5, True, O.cmp(d.c.country, "=", "DE"))),
    ("top_nullable", "top 50 by age", lambda d: ranked(d, d.c.age, True, 50, False)),
    ("top_ties", "bottom 7 by age among age = 30", lambda d: ranked(d, d.c.age, False, 7, False, O.cmp(d.c.age, "=", 30))),
    ("top_combined", "top 10% by churn_score and not (bottom 50% by age) and newsletter",
     lambda d: ranked(d, d.c.churn_score, True, 10, True) & ~ranked(d, d.c.age, False, 50, True) & O.tv(d.c.newsletter)),
    ("top_dates", "top 3% by signup_date", lambda d: ranked(d, d.c.signup_date.astype("int64").where(d.c.signup_date.notna()), True, 3, True)),
    # --- median, percentile (PERCENTILE_CONT), stddev (sample), mode, first/last; NULL for no records ---
    ("median", "median(orders.amount) > 50", lambda d: O.cmp(ordered(d, "median", "orders", "amount"), ">", 50)),
    ("median_empty", "median(orders.amount where status = 'cancelled') is null",
     lambda d: O.is_null(ordered(d, "median", "orders", "amount", lambda r: O.cmp(r.status, "=", "cancelled")))),
    ("median_expression", "median(orders.amount - orders.discount) > 40",
     lambda d: O.cmp(ordered(d, "median", "orders", lambda r: r.amount - r.discount), ">", 40)),
    ("percentile", "percentile(orders.amount, 0.9) > 100",
     lambda d: O.cmp(ordered(d, "percentile", "orders", "amount", fraction=0.9), ">", 100)),
    ("percentile_where", "percentile(orders.order_lines.quantity, 0.25 where unit_price > 20) >= 2",
     lambda d: O.cmp(ordered(d, "percentile", "order_lines", "quantity", lambda r: O.cmp(r.unit_price, ">", 20),
                             fraction=0.25), ">=", 2)),
    ("percentile_ends", "percentile(orders.amount, 0) = min(orders.amount) and percentile(orders.amount, 1.0) = max(orders.amount)",
     lambda d: O.cmp(d.agg("count", "orders"), ">", 0)),
    ("stddev", "stddev(orders.amount) > 30", lambda d: O.cmp(ordered(d, "stddev", "orders", "amount"), ">", 30)),
    ("stddev_one_value", "stddev(orders.amount where status = 'returned') is null",
     lambda d: O.is_null(ordered(d, "stddev", "orders", "amount", lambda r: O.cmp(r.status, "=", "returned")))),
    ("mode", "mode(orders.channel) = 'store'", lambda d: O.cmp(ordered(d, "mode", "orders", "channel"), "=", "store")),
    ("mode_category", "mode(orders.order_lines.products.category) = 'toys'",
     lambda d: O.cmp(ordered(d, "mode", "order_lines", "category"), "=", "toys")),
    ("mode_where", "mode(orders.channel where status = 'delivered') = 'app'",
     lambda d: O.cmp(ordered(d, "mode", "orders", "channel", lambda r: O.cmp(r.status, "=", "delivered")), "=", "app")),
    ("mode_number", "mode(orders.order_lines.quantity) >= 3",
     lambda d: O.cmp(ordered(d, "mode", "order_lines", "quantity"), ">=", 3)),
    # orders are keyed by order_id (order lines point to it): ties on the date go to the smaller order_id
    ("first", "first(orders.channel by order_date) = 'store'",
     lambda d: O.cmp(ordered(d, "first", "orders", "channel", by="order_date", key="order_id"), "=", "store")),
    ("last", "last(orders.channel by order_date) = 'app'",
     lambda d: O.cmp(ordered(d, "last", "orders", "channel", by="order_date", key="order_id"), "=", "app")),
    ("last_where", "last(orders.amount by order_date where status = 'delivered') > 60",
     lambda d: O.cmp(ordered(d, "last", "orders", "amount", lambda r: O.cmp(r.status, "=", "delivered"),
                             by="order_date", key="order_id"), ">", 60)),
    ("first_null_value", "first(orders.discount by order_date) is null and count(orders) > 0",
     lambda d: O.is_null(ordered(d, "first", "orders", "discount", by="order_date", key="order_id"))
     & O.cmp(d.agg("count", "orders"), ">", 0)),
    ("first_by_expression", "first(orders.channel by 0 - amount) = 'store'",
     lambda d: O.cmp(ordered(d, "first", "orders", "channel", by=lambda r: -r.amount, key="order_id"), "=", "store")),
    # no key is known for support calls and order lines: ties go to the smaller value
    ("first_no_key", "first(support_calls.topic by called_at) = 'billing'",
     lambda d: O.cmp(ordered(d, "first", "support_calls", "topic", by="called_at"), "=", "billing")),
    ("last_ties_by_value", "last(orders.order_lines.product_id by orders.order_date) < 30",
     lambda d: O.cmp(ordered(d, "last", "order_lines", "product_id",
                             by=lambda r: O.lookup(r.order_id, d.o, "order_id", "order_date")), "<", 30)),
    # nested scopes: per order, over its lines
    ("nested_median", "any(orders where median(order_lines.quantity) > 2)",
     lambda d: d.ex("any", "orders", lambda r: O.cmp(per_order(d, "median", "quantity"), ">", 2))),
    ("nested_first", "count(orders where first(order_lines.product_id by quantity) < 100) >= 3",
     lambda d: O.cmp(d.agg("count", "orders", None,
                           lambda r: O.cmp(per_order(d, "first", "product_id", by="quantity"), "<", 100)), ">=", 3)),
    ("nested_mode", "any(orders where mode(order_lines.products.category) = 'books' and status = 'delivered')",
     lambda d: d.ex("any", "orders", lambda r: O.cmp(per_order(d, "mode", "category"), "=", "books")
                    & O.cmp(r.status, "=", "delivered"))),
    ("nested_stddev_percentile", "any(orders where stddev(order_lines.unit_price) > 100 or percentile(order_lines.quantity, 0.8) > 20.5)",
     lambda d: d.ex("any", "orders", lambda r: O.cmp(per_order(d, "stddev", "unit_price"), ">", 100)
                    | O.cmp(per_order(d, "percentile", "quantity", fraction=0.8), ">", 20.5))),
    # beside the other aggregates of the same records, under NOT, ranked
    ("ordered_beside_shared", "median(orders.amount) > 40 and sum(orders.amount) > 500 and count(orders where status = 'returned') >= 1",
     lambda d: O.cmp(ordered(d, "median", "orders", "amount"), ">", 40) & O.cmp(d.agg("sum", "orders", "amount"), ">", 500)
     & O.cmp(d.agg("count", "orders", None, lambda r: O.cmp(r.status, "=", "returned")), ">=", 1)),
    ("not_percentile", "not (percentile(orders.amount, 0.75) > 60)",
     lambda d: ~O.cmp(ordered(d, "percentile", "orders", "amount", fraction=0.75), ">", 60)),
    ("top_by_median", "top 5% by median(orders.amount)",
     lambda d: ranked(d, ordered(d, "median", "orders", "amount"), True, 5, True)),
]  # fmt: skip


ORDERED = re.compile(r"\b(median|percentile|mode|stddev|first|last)\(")
ORDERED_CASES = [c for c in CASES if ORDERED.search(c[1])]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_language_matches_oracle(ws: Workspace, demo: Demo, text: str, expected) -> None:  # noqa: F811
    want = O.members(expected(demo))
    got = keys(ws, text)
    assert got == want, (
        f"{ws.dialect}: {len(got)} members, oracle {len(want)}\n{ws.compile(text, as_of=AS_OF)}"
    )


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in ORDERED_CASES], ids=[c[0] for c in ORDERED_CASES]
)
def test_window_forms_match_the_oracle_where_a_plain_aggregate_exists(
    ws: Workspace,  # noqa: F811
    demo: Demo,  # noqa: F811
    text: str,
    expected,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite and MariaDB (and T-SQL, BigQuery, Trino) get median, percentile, mode and stddev from
    window-function tables; DuckDB and PostgreSQL have plain aggregates (and DuckDB FIRST(x ORDER BY)
    for mode, first and last). Here they run the portable window forms too, so those are checked on
    four databases."""
    own_forms = ws.dialect in CD.FIRST_ORDER_BY or any(
        ws.dialect in templates for templates in CD.AGGREGATE_TEMPLATES.values()
    )
    if not own_forms:
        pytest.skip(f"{ws.dialect} runs the window forms in test_language_matches_oracle")
    for templates in CD.AGGREGATE_TEMPLATES.values():
        monkeypatch.delitem(templates, ws.dialect, raising=False)
    monkeypatch.setattr(CD, "FIRST_ORDER_BY", set())
    sql = ws.compile(text, as_of=AS_OF)
    assert not re.search(r"QUANTILE|PERCENTILE|STDDEV|MODE\(|FIRST\(", sql), sql
    want = O.members(expected(demo))
    got = keys(ws, text)
    assert got == want, f"{ws.dialect}: {len(got)} members, oracle {len(want)}\n{sql}"


DRIVEN = [
    ("median(orders.amount) > 100", lambda d: O.cmp(ordered(d, "median", "orders", "amount"), ">", 100)),
    ("first(orders.channel by order_date) = 'store'",
     lambda d: O.cmp(ordered(d, "first", "orders", "channel", by="order_date", key="order_id"), "=", "store")),
    ("stddev(orders.amount) > 30 and any(support_calls where escalated)",
     lambda d: O.cmp(ordered(d, "stddev", "orders", "amount"), ">", 30)
     & d.ex("any", "support_calls", lambda r: O.tv(r.escalated))),
    ("mode(orders.channel where status = 'delivered') = 'app' and none(web_events)",
     lambda d: O.cmp(ordered(d, "mode", "orders", "channel", lambda r: O.cmp(r.status, "=", "delivered")), "=", "app")
     & d.ex("none", "web_events")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), DRIVEN, ids=[t.split("(")[0] for t, _ in DRIVEN])
def test_ordered_aggregates_can_drive_the_query(ws: Workspace, demo: Demo, text: str, expected) -> None:  # noqa: F811
    """With integrity assumed, a comparison on a window-function table (or on the shared table) reads
    the records' keys without the customer table, and selects what the oracle selects."""
    assuming = assuming_workspace(ws.backend)
    sql = assuming.compile(text, as_of=AS_OF, pretty=False)
    assert not re.search(r"\bFROM customers\b", sql), sql
    want = O.members(expected(demo))
    got = sorted(int(k) for k in assuming.member_keys(text, as_of=AS_OF))
    assert got == want, f"{ws.dialect}: {len(got)} members, oracle {len(want)}\n{sql}"
    assert assuming.count(text, as_of=AS_OF) == len(want)


def test_language_cases_are_not_trivial(demo: Demo) -> None:  # noqa: F811
    sizes = {c[0]: len(O.members(c[2](demo))) for c in CASES}
    assert [k for k, n in sizes.items() if n in (0, len(demo.K))] == []


def test_count_matches_members(ws: Workspace) -> None:  # noqa: F811
    for _, text, _ in CASES:
        assert ws.count(text, as_of=DEMO_ANCHOR) == len(keys(ws, text)), text


@pytest.mark.parametrize("text", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_new_forms_print_back(text: str) -> None:
    tree = parse(text)
    assert parse(to_text(tree)) == tree


def test_projected_expressions(ws: Workspace, demo: Demo) -> None:  # noqa: F811
    got = ws.members(
        "country = 'DE' PROJECT sum(orders.order_lines.quantity * orders.order_lines.unit_price) AS basket, "
        "signup_date + 1 month AS next_month, weekday(signup_date) AS dow, concat(first_name, '!') AS hi",
        as_of=AS_OF,
    ).set_index("customer_id")
    de = demo.c[O.cmp(demo.c.country, "=", "DE").fillna(False).to_numpy(dtype=bool)]
    basket = agg_of(demo, demo.ol, lines_value(demo), "sum").reindex(de.index)
    assert np.allclose(got["basket"].astype(float).reindex(de.index), basket.astype(float))
    assert (pd.to_datetime(got["next_month"]).reindex(de.index) == (de.signup_date + D(months=1))).all()
    assert (got["dow"].astype(int).reindex(de.index) == de.signup_date.dt.day_of_week + 1).all()
    assert (got["hi"].reindex(de.index) == de.first_name.fillna("") + "!").all()


def test_projected_ordered_aggregates(ws: Workspace, demo: Demo) -> None:  # noqa: F811
    """Each new aggregate as a PROJECT column, value by value (NULL where the oracle has none)."""
    got = ws.members(
        "country = 'DE' PROJECT median(orders.amount) AS med, percentile(orders.amount, 0.9) AS p90, "
        "stddev(orders.amount) AS sd, mode(orders.channel) AS top_channel, "
        "mode(orders.order_lines.products.category) AS fav, first(orders.channel by order_date) AS first_channel, "
        "last(orders.order_date by order_date where status = 'delivered') AS last_delivered, "
        "first(support_calls.topic by called_at) AS first_topic",
        as_of=AS_OF,
    ).set_index("customer_id")
    de = demo.K[O.cmp(demo.c.country, "=", "DE").fillna(False).to_numpy(dtype=bool)]
    assert sorted(got.index.astype(int)) == sorted(de)
    numbers = {
        "med": ordered(demo, "median", "orders", "amount"),
        "p90": ordered(demo, "percentile", "orders", "amount", fraction=0.9),
        "sd": ordered(demo, "stddev", "orders", "amount"),
    }
    for column, want in numbers.items():
        have = pd.to_numeric(got[column]).astype("float64").reindex(de)
        expected = want.reindex(de).astype("float64")
        assert (have.isna() == expected.isna()).all(), column
        assert np.allclose(have.dropna(), expected.dropna(), rtol=1e-9, atol=0), column
    texts = {
        "top_channel": ordered(demo, "mode", "orders", "channel"),
        "fav": ordered(demo, "mode", "order_lines", "category"),
        "first_channel": ordered(demo, "first", "orders", "channel", by="order_date", key="order_id"),
        "first_topic": ordered(demo, "first", "support_calls", "topic", by="called_at"),
    }
    for column, want in texts.items():
        have = got[column].reindex(de).astype(object).where(got[column].reindex(de).notna(), None)
        assert have.tolist() == want.reindex(de).astype(object).where(want.reindex(de).notna(), None).tolist()
    delivered = ordered(demo, "last", "orders", "order_date", lambda r: O.cmp(r.status, "=", "delivered"),
                        by="order_date", key="order_id")  # fmt: skip
    have_dates = pd.to_datetime(got["last_delivered"]).reindex(de)
    assert (have_dates.isna() == delivered.reindex(de).isna()).all()
    assert (have_dates.dropna() == delivered.reindex(de).dropna()).all()


# (text, message (regex), column)
TEACHING = [
    ("country = \"DE\"", r"double quotes name columns; did you mean the string 'DE'\?", 11),
    ("count(distinct orders.channel) > 1", r"use count_distinct\(orders\.channel\)", 7),
    ("count(*) > 5", r"count what\? count\(<relationship>\), as in count\(orders\)", 1),
    ("age = null", r"'= null' is never true: use  is null", 1),
    ("age != null", r"'!= null' is never true: use  is not null", 1),
    ("any(orders.order_lines where category = 'toys')",
     r"unknown attribute 'category' on order_lines: 'category' is an attribute of products: write products\.category", 30),
    ("amount > 3", r"'amount' is an attribute of orders, a to-many relationship: use an aggregate", 1),
    ("lower(age) = 'x'", r"lower\(\) needs a string as argument 1, but age is a number: lower\(text\) -> text", 7),
    ("round(churn_score, 1, 2) > 0", r"wrong number of arguments: round\(number\[, decimals\]\) -> number", 1),
    ("round(churn_score, age) > 0", r"round\(\) needs a whole number here", 20),
    ("weekday(country) = 1", r"weekday\(\) needs a date or timestamp as argument 1", 9),
    ("coalesce(age, 'x') = 1", r"coalesce\(\) needs values of one type", 15),
    ("foo(age) > 1", r"unknown function 'foo'", 1),
    ("age + 3 days > 1", r"'\+ 3 days' needs a date or timestamp, but age is a number", 1),
    ("sum(orders.amount * support_calls.duration_minutes) > 1",
     r"the values of one aggregate come from the same records: 'orders.amount' and "
     r"'support_calls.duration_minutes' do not", 21),
    ("top 10 by newsletter", r"top \.\.\. by needs a number, text or date to rank by, not a boolean", 11),
    ("any(orders where top 3 by amount)", r"ranks customers; it cannot be used inside WHERE", 18),
    ("top 150% by age", r"a percentage is more than 0 and at most 100", 5),
    ("case when age > 3 then 'x' else 2 end = 'x'", r"CASE needs values of one type: 2 is a number, 'x' is a string", 24),
    ("regions = 'North'", r"'regions' is a to-one relationship from customers: name one of its attributes, "
     r"as in regions\.region_id", 1),
    # median, percentile, stddev, mode, first, last
    ("median(orders.channel) > 1",
     r"median\(\) needs a number, but orders\.channel is a string; mode\(orders\.channel\) is the most frequent value", 1),
    ("stddev(orders.order_date) > 1", r"stddev\(\) needs a number, but orders\.order_date is a date; min\(\) and max\(\)", 1),
    ("percentile(orders.amount, 90) > 1", r"percentile\(\) takes a fraction from 0 to 1, not 90; 90 percent is 0\.9", 27),
    ("percentile(orders.amount, -0.5) > 1", r"percentile\(\) takes a fraction from 0 to 1, not -0\.5", 27),
    ("percentile(orders.amount, age) > 1",
     r"percentile\(\) takes a fraction from 0 to 1 written as a number, as in percentile\(orders\.amount, 0\.9\)", 27),
    ("percentile(orders.amount) > 1", r"expected ',' and a fraction from 0 to 1, as in  percentile\(orders\.amount, 0\.9\)", 25),
    ("percentile(orders.amount where amount > 1, 0.5) > 1",
     r"the fraction goes before WHERE, as in  percentile\(orders\.amount, 0\.9 where \.\.\.\)", 26),
    ("median(orders.amount, 0.9) > 1", r"median\(\) takes one value; percentile takes a fraction", 21),
    ("first(orders.channel) = 'web'",
     r"expected BY and the order of the records, as in  first\(orders\.channel by order_date\)", 21),
    ("first(orders.channel by orders.order_date) = 'web'",
     r"BY is read on the orders records, as WHERE is: write  by order_date", 25),
    ("last(support_calls.topic by escalated) = 'x'",
     r"last\(\.\.\. by \.\.\.\) needs a number, text or date to order the records by, but escalated is a boolean", 29),
    ("first(orders.channel by sum(order_lines.quantity)) = 'web'",
     r"orders the records by one of their own values, not by an aggregate", 25),
    ("sum(orders.amount by order_date) > 1", r"sum\(\) has no BY; first\(\.\.\.\) and last\(\.\.\.\) do", 19),
    ("mode(support_calls) = 1", r"mode\(\) needs an attribute: mode\(support_calls\.<attribute>\)", 1),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message", "column"), TEACHING, ids=[t[0] for t in TEACHING])
def test_errors_teach_the_language(ws: Workspace, text: str, message: str, column: int) -> None:  # noqa: F811
    with pytest.raises(SegmentError) as info:
        ws.check(text)
    assert info.value.column == column, str(info.value)
    assert re.search(message, str(info.value)), str(info.value)
