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

from jupyter_segments import SegmentError, Workspace
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
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_language_matches_oracle(ws: Workspace, demo: Demo, text: str, expected) -> None:  # noqa: F811
    want = O.members(expected(demo))
    got = keys(ws, text)
    assert got == want, (
        f"{ws.dialect}: {len(got)} members, oracle {len(want)}\n{ws.compile(text, as_of=AS_OF)}"
    )


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
]  # fmt: skip


@pytest.mark.parametrize(("text", "message", "column"), TEACHING, ids=[t[0] for t in TEACHING])
def test_errors_teach_the_language(ws: Workspace, text: str, message: str, column: int) -> None:  # noqa: F811
    with pytest.raises(SegmentError) as info:
        ws.check(text)
    assert info.value.column == column, str(info.value)
    assert re.search(message, str(info.value)), str(info.value)
