"""Property test: random definitions from the grammar, on small random data with NULLs and customers
without orders, compiled and run on DuckDB and SQLite (``JS_PROPERTY_EXAMPLES``, default 100) and on
PostgreSQL and MariaDB (``JS_PROPERTY_SERVER_EXAMPLES``, default 12: each example there creates its
tables anew), must select what the pandas oracle selects: member keys and count.

Each example draws a data set and a definition; the strategy builds the DSL text and the oracle
(a function of the frames, tests/oracle.py) side by side, so the oracle never looks at the compiler.
The grammar covers issue 14's forms too: arithmetic (division by zero included), CASE, the
functions, date arithmetic, calendar periods, median/percentile/stddev/mode/first/last and ranking.
tests/test_differential.py runs the same grammar on one data set loaded into the four databases.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import numpy as np
import oracle as O
import pandas as pd
import pytest
from conftest import _drop_session_database, _session_database, _unavailable, server_url
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jupyter_segments import SegmentError, Workspace, connect
from jupyter_segments.backends import open_backend
from jupyter_segments.backends.base import Backend
from jupyter_segments.dsl import parse


@dataclass
class Env:
    c: pd.DataFrame  # customers, indexed by customer_id
    o: pd.DataFrame  # orders, indexed by order_id


Cond = tuple[str, Callable[[Env], O.Bool]]  # DSL text, oracle on customers
OCond = tuple[str, Callable[[pd.DataFrame], O.Bool]]  # DSL text, oracle on order rows
Value = tuple[str, Callable[[Env], pd.Series]]  # a customer's number: DSL text, oracle (Float64)
# A number of an order: DSL text with {p} where the path goes ("orders." inside an aggregate's value,
# "" inside a where filter), and its oracle on the order rows.
OValue = tuple[str, Callable[[pd.DataFrame], pd.Series]]

COUNTRIES = ["DE", "FR", "US", ""]
STATUSES = ["new", "paid", "returned"]
CHANNELS = ["web", "shop", "app", "Web"]
# Case, Latin-1 letters, LIKE's wildcards, a quote and a backslash inside values.
NAMES = ["Ann", "ann", " ANN ", "Émile", "émile", "ÉMILE", "Zoë", "O'Neil", "50%_off", "back\\", ""]
# Binary fractions (sums are exact in any order), a half to round and 2.675 (2.67499... as a double).
AMOUNTS = [-2, -0.5, 0, 0.125, 1, 1.5, 2.5, 2.675, 3, 7, 9]
# Around AS_OF (a Friday): month and year ends, a leap day, the Monday/Sunday of its week, the days
# Europe and the US switch to summer time, AS_OF itself and the day after.
DATES = [
    dt.date(2023, 1, 31),
    dt.date(2023, 3, 26),
    dt.date(2023, 12, 31),
    dt.date(2024, 1, 1),
    dt.date(2024, 2, 29),
    dt.date(2024, 3, 10),
    dt.date(2024, 3, 11),
    dt.date(2024, 3, 15),
    dt.date(2024, 3, 16),
    dt.date(2024, 3, 31),
]
TIMES = [dt.time(0, 0), dt.time(2, 30), dt.time(12, 0), dt.time(23, 59, 59)]
AS_OF = dt.date(2024, 3, 15)

# --- data -------------------------------------------------------------------------------------------


def _maybe(values) -> st.SearchStrategy:
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def datasets(draw, max_customers: int = 8, max_orders: int = 14) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(1, max_customers))

    def column(values) -> list:
        return draw(st.lists(values, min_size=n, max_size=n))

    customers = pd.DataFrame(
        {
            "customer_id": list(range(1, n + 1)),
            "age": column(st.one_of(st.none(), st.integers(0, 9))),
            "country": column(_maybe(COUNTRIES)),
            "active": column(st.one_of(st.none(), st.booleans())),
            "name": column(_maybe(NAMES)),
            "signup_date": column(_maybe(DATES)),
        },
        dtype=object,  # ints and dates as drawn, None for NULL
    )
    m = draw(st.integers(0, max_orders))

    def order_column(values) -> list:
        return draw(st.lists(values, min_size=m, max_size=m))

    days = order_column(_maybe(DATES))
    orders = pd.DataFrame(
        {
            "order_id": list(range(1, m + 1)),
            # Some customers get no orders; an order may point at no customer (NULL foreign key).
            "customer_id": order_column(st.one_of(st.none(), st.integers(1, n))),
            "amount": order_column(_maybe(AMOUNTS)),
            "status": order_column(_maybe(STATUSES)),
            "order_date": days,
            # Mostly on the order's day (ties in first/last), sometimes on another one.
            "placed_at": [
                None if t is None else dt.datetime.combine(d or DATES[0], t)
                for d, t in zip(days, order_column(_maybe(TIMES)), strict=True)
            ],
            "channel": order_column(_maybe(CHANNELS)),
        },
        dtype=object,
    )
    return customers, orders


def _rows(frame: pd.DataFrame, text_dates: bool = False) -> list[tuple]:
    """The frame's rows as Python values (NULL for NaN); dates as ISO text for SQLite."""

    def plain(v):
        if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, pd.Timestamp):
            v = v.to_pydatetime()
        if text_dates and isinstance(v, dt.date):
            return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
        return v

    return [tuple(plain(v) for v in r) for r in frame.astype(object).itertuples(index=False)]


def frames(customers: pd.DataFrame, orders: pd.DataFrame) -> Env:
    """The oracle's frames: nullable dtypes, dates as datetime64, indexed by key."""
    c = customers.astype(
        {"customer_id": "Int64", "age": "Int64", "country": "string", "active": "boolean", "name": "string"}
    )
    c["signup_date"] = pd.to_datetime(customers["signup_date"])
    o = orders.astype(
        {
            "order_id": "Int64",
            "customer_id": "Int64",
            "amount": "Float64",
            "status": "string",
            "channel": "string",
        }
    )
    o["order_date"] = pd.to_datetime(orders["order_date"])
    o["placed_at"] = pd.to_datetime(orders["placed_at"])
    return Env(c=c.set_index("customer_id", drop=False), o=o.set_index("order_id", drop=False))


def _workspaces(target) -> list[Workspace]:
    """Two workspaces on the loaded data: plain, and with the orders' integrity assumed (true: orders
    point at a customer or at NULL), so queries may read orders alone (compile._driven_by_child)."""
    ws = connect(target)
    ws.customers("customers", key="customer_id")
    assuming = connect(target)
    assuming.customers("customers", key="customer_id")
    assuming.relate("orders", "customers", on="customer_id", assume_integrity=True)
    return [ws, assuming]


# Column types per database: {0} TEXT, {1} DOUBLE, {2} TIMESTAMP.
TYPES = {
    "duckdb": ("VARCHAR", "DOUBLE", "TIMESTAMP"),
    "sqlite": ("VARCHAR", "DOUBLE", "TIMESTAMP"),
    "postgres": ("VARCHAR(16)", "DOUBLE PRECISION", "TIMESTAMP"),
    # MariaDB's TIMESTAMP converts to the session's time zone and updates itself: DATETIME is plain.
    "mysql": ("VARCHAR(16)", "DOUBLE", "DATETIME"),
}
TABLES = [
    (
        "customers",
        "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, age INTEGER, country {0}, active BOOLEAN, "
        "name {0}, signup_date DATE)",
    ),
    (
        "orders",
        "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, amount {1}, status {0}, "
        "order_date DATE, placed_at {2}, channel {0})",
    ),
]


def load_local(conn, dialect: str, customers: pd.DataFrame, orders: pd.DataFrame) -> None:
    """The data in a DuckDB or SQLite connection, with typed columns."""
    for (table, ddl), frame in zip(TABLES, (customers, orders), strict=True):
        conn.execute(ddl.format(*TYPES[dialect]))
        if len(frame):
            marks = ", ".join("?" * len(frame.columns))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", _rows(frame, dialect == "sqlite"))


def _load(customers: pd.DataFrame, orders: pd.DataFrame) -> list[Workspace]:
    """The data in a fresh DuckDB and a fresh SQLite database."""
    out = []
    for conn, dialect in ((duckdb.connect(), "duckdb"), (sqlite3.connect(":memory:"), "sqlite")):
        load_local(conn, dialect, customers, orders)
        out += _workspaces(conn)
    return out


def load_server(backend: Backend, customers: pd.DataFrame, orders: pd.DataFrame) -> None:
    """The data in a server database (its tables dropped and created anew)."""
    import sqlalchemy as sa

    with backend.engine.begin() as c:  # type: ignore[attr-defined]
        c.exec_driver_sql("DROP TABLE IF EXISTS orders")
        c.exec_driver_sql("DROP TABLE IF EXISTS customers")
        for (table, ddl), frame in zip(TABLES, (customers, orders), strict=True):
            c.exec_driver_sql(ddl.format(*TYPES[backend.dialect]))
            if len(frame):
                cols = list(frame.columns)
                insert = sa.text(f"INSERT INTO {table} VALUES ({', '.join(':' + col for col in cols)})")
                c.execute(insert, [dict(zip(cols, r, strict=True)) for r in _rows(frame)])


def _load_server(backend: Backend, customers: pd.DataFrame, orders: pd.DataFrame) -> list[Workspace]:
    load_server(backend, customers, orders)
    return _workspaces(backend)


# --- values -----------------------------------------------------------------------------------------

_OPS = ["=", "!=", "<", "<=", ">", ">="]
# Thresholds for numbers: around the data's values, halves included.
_THRESHOLDS = [-1, 0, 0.5, 1, 2, 2.5, 3, 5, 8]


def _number(n) -> str:
    return f"({n})" if n < 0 else str(n)  # "a - -1" would start a comment


def _const(n) -> Callable:
    return lambda frame: pd.Series(float(n), index=frame.index, dtype="Float64")


def _divide(a: pd.Series, b: pd.Series) -> pd.Series:
    """SQL division in the language: never truncates, NULL for a zero divisor."""
    a, b = a.astype("Float64"), b.astype("Float64")
    return (a / b.mask((b == 0).fillna(False))).astype("Float64")


def _round(x: pd.Series, digits: int) -> pd.Series:
    """Halves away from zero on the decimal value (what the user sees: 2.675 -> 2.68)."""
    step = Decimal(1).scaleb(-digits)
    return x.map(
        lambda v: pd.NA if pd.isna(v) else float(Decimal(repr(float(v))).quantize(step, ROUND_HALF_UP))
    ).astype("Float64")


def _extreme(name: str, a: pd.Series, b: pd.Series) -> pd.Series:
    """greatest/least: the largest/smallest argument that is not NULL."""
    both = pd.concat([a.astype("Float64"), b.astype("Float64")], axis=1)
    return (both.max(axis=1, skipna=True) if name == "greatest" else both.min(axis=1, skipna=True)).astype(
        "Float64"
    )


def _case(when: O.Bool, then: pd.Series, other: pd.Series | None) -> pd.Series:
    """CASE WHEN when THEN then ELSE other END (a NULL condition takes the ELSE)."""
    fallback = other if other is not None else pd.Series(pd.NA, index=then.index, dtype="Float64")
    return then.astype("Float64").where(when.fillna(False).astype(bool), fallback.astype("Float64"))


_UNARY = {
    "abs": lambda x: x.abs(),
    "floor": lambda x: np.floor(x),
    "ceil": lambda x: np.ceil(x),
    "round": lambda x: _round(x, 0),
    "-": lambda x: -x,
}


def _combine(inner, when) -> st.SearchStrategy:
    """Arithmetic, functions and CASE over the values of ``inner`` (works for both value kinds: the
    oracles take one argument, the customer Env or the order rows). ``when`` gives CASE's conditions
    with the same argument."""

    def unary(t):
        name, (text, fn) = t
        shown = f"-({text})" if name == "-" else f"{name}({text})"
        return shown, lambda x, fn=fn, name=name: _UNARY[name](fn(x).astype("Float64")).astype("Float64")

    def binary(t):
        (a, fa), op, (b, fb) = t
        if op == "/":
            return f"({a} / {b})", lambda x: _divide(fa(x), fb(x))
        f = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]
        return f"({a} {op} {b})", lambda x: f(fa(x).astype("Float64"), fb(x).astype("Float64"))

    def rounded(t):
        (text, fn), digits = t
        return f"round({text}, {digits})", lambda x: _round(fn(x).astype("Float64"), digits)

    def extreme(t):
        name, (a, fa), (b, fb) = t
        return f"{name}({a}, {b})", lambda x: _extreme(name, fa(x), fb(x))

    def case(t):
        (c, fc), (a, fa), other = t
        if other is None:
            return f"case when {c} then {a} end", lambda x: _case(fc(x), fa(x), None)
        b, fb = other
        return f"case when {c} then {a} else {b} end", lambda x: _case(fc(x), fa(x), fb(x))

    return st.one_of(
        st.tuples(st.sampled_from(list(_UNARY)), inner).map(unary),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(binary),
        st.tuples(inner, st.integers(0, 2)).map(rounded),
        st.tuples(st.sampled_from(["greatest", "least"]), inner, inner).map(extreme),
        st.tuples(when, inner, st.one_of(st.none(), inner)).map(case),
    )


def _days_between(a: pd.Series, b: pd.Series) -> pd.Series:
    return (b.dt.normalize() - a.dt.normalize()).dt.days.astype("Float64")


_PARTS = {
    "year": lambda d: d.dt.year,
    "quarter": lambda d: d.dt.quarter,
    "month": lambda d: d.dt.month,
    "day": lambda d: d.dt.day,
    "weekday": lambda d: d.dt.day_of_week + 1,  # 1 = Monday
}


def _order_value_atoms() -> st.SearchStrategy[OValue]:
    amount = st.just(("{p}amount", lambda o: o.amount.astype("Float64")))
    literal = st.sampled_from([-1, 0, 0.5, 2, 3]).map(lambda n: (_number(n), _const(n)))
    part = st.tuples(st.sampled_from(list(_PARTS)), st.sampled_from(["order_date", "placed_at"])).map(
        lambda t: (f"{t[0]}({{p}}{t[1]})", lambda o, t=t: _PARTS[t[0]](o[t[1]]).astype("Float64"))
    )
    between = st.just(
        ("days_between({p}order_date, {p}placed_at)", lambda o: _days_between(o.order_date, o.placed_at))
    )
    return st.one_of(amount, amount, literal, part, between)


def _order_values() -> st.SearchStrategy[OValue]:
    """Numbers of an order. CASE conditions on an order: its status (the path written with {p})."""
    when = st.sampled_from(STATUSES).map(
        lambda v: (f"{{p}}status = '{v}'", lambda o, v=v: O.cmp(o.status, "=", v))
    )
    return st.recursive(_order_value_atoms(), lambda inner: _combine(inner, when), max_leaves=3)


def _in_orders(value: OValue) -> tuple[str, Callable]:
    """An order value as the argument of an aggregate over orders: every name starts with orders."""
    return value[0].replace("{p}", "orders."), value[1]


def _in_filter(value: OValue) -> tuple[str, Callable]:
    return value[0].replace("{p}", ""), value[1]


# --- conditions on orders ---------------------------------------------------------------------------


def _shift(x: pd.Series, amount: int, unit: str) -> pd.Series:
    """``x + amount unit`` (a month after January 31 is the end of February)."""
    if unit in ("month", "year"):
        offset = pd.DateOffset(months=amount * (12 if unit == "year" else 1))
        return x.map(lambda v: pd.NaT if pd.isna(v) else v + offset).astype(x.dtype)
    return x + pd.Timedelta(**{f"{unit}s": amount})


def _period(unit: str, which: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``in this/previous unit`` relative to AS_OF: [start, end) with end the day after AS_OF for this."""
    day = pd.Timestamp(AS_OF)
    if unit == "week":
        start = day - pd.Timedelta(days=day.day_of_week)
        previous = start - pd.Timedelta(days=7)
    else:
        month = {"year": 1, "quarter": 3 * ((day.month - 1) // 3) + 1, "month": day.month}[unit]
        start = pd.Timestamp(day.year, month, 1)
        previous = start - pd.DateOffset(months={"year": 12, "quarter": 3, "month": 1}[unit])
    return (start, day + pd.Timedelta(days=1)) if which == "this" else (previous, start)


def _calendar(column: str) -> st.SearchStrategy[tuple[str, Callable]]:
    """``column in this/previous week/month/quarter/year``, ``in year Y``, ``in month Y-M``; the
    oracle takes the frame that holds ``column``."""

    def relative(t):
        which, unit = t
        start, end = _period(unit, which)
        return (
            f"{column} in {which} {unit}",
            lambda f: O.cmp(f[column], ">=", start) & O.cmp(f[column], "<", end),
        )

    def fixed(t):
        year, month = t
        if month is None:
            start, end, shown = pd.Timestamp(year, 1, 1), pd.Timestamp(year + 1, 1, 1), f"year {year}"
        else:
            start = pd.Timestamp(year, month, 1)
            end, shown = start + pd.DateOffset(months=1), f"month {year}-{month:02d}"
        return f"{column} in {shown}", lambda f: O.cmp(f[column], ">=", start) & O.cmp(f[column], "<", end)

    return st.one_of(
        st.tuples(
            st.sampled_from(["this", "previous"]), st.sampled_from(["week", "month", "quarter", "year"])
        ).map(relative),
        st.tuples(st.sampled_from([2023, 2024]), st.one_of(st.none(), st.sampled_from([1, 2, 3, 12]))).map(
            fixed
        ),
    )


def _date_arithmetic(column: str, units: list[str], against: list) -> st.SearchStrategy:
    """``column +/- n unit op 'literal'``; the oracle takes the frame that holds ``column``."""

    def build(t):
        sign, amount, unit, op, value = t
        literal = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
        plural = "s" if amount != 1 else ""
        text = f"{column} {sign} {amount} {unit}{plural} {op} '{literal}'"
        n = amount if sign == "+" else -amount
        return text, lambda f: O.cmp(_shift(f[column], n, unit), op, pd.Timestamp(value))

    return st.tuples(
        st.sampled_from("+-"),
        st.integers(1, 40),
        st.sampled_from(units),
        st.sampled_from(_OPS),
        st.sampled_from(against),
    ).map(build)


def _order_atoms() -> st.SearchStrategy[OCond]:
    amount_cmp = st.tuples(st.sampled_from(_OPS), st.integers(-1, 8)).map(
        lambda t: (f"amount {t[0]} {t[1]}", lambda o, t=t: O.cmp(o.amount, t[0], t[1]))
    )
    status_eq = st.sampled_from(STATUSES).map(
        lambda v: (f"status = '{v}'", lambda o, v=v: O.cmp(o.status, "=", v))
    )
    status_in = st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2).map(
        lambda vs: (
            f"status not in ({', '.join(repr(v) for v in vs)})",
            lambda o, vs=vs: ~O.in_list(o.status, vs),
        )
    )
    null_test = st.sampled_from(["amount", "status", "order_date", "channel"]).map(
        lambda col: (f"{col} is null", lambda o, col=col: O.is_null(o[col]))
    )
    channel = st.tuples(st.sampled_from(["=", "!=", "<", ">="]), st.sampled_from(CHANNELS)).map(
        lambda t: (f"channel {t[0]} '{t[1]}'", lambda o, t=t: O.cmp(o.channel, t[0], t[1]))
    )
    upper_channel = st.sampled_from(["WEB", "web", "APP"]).map(
        lambda v: (f"upper(channel) = '{v}'", lambda o, v=v: O.cmp(o.channel.str.upper(), "=", v))
    )
    value_cmp = st.tuples(_order_values(), st.sampled_from(_OPS), st.sampled_from(_THRESHOLDS)).map(
        lambda t: (
            f"{_in_filter(t[0])[0]} {t[1]} {t[2]}",
            lambda o, t=t: O.cmp(t[0][1](o), t[1], t[2]),
        )
    )
    columns = st.sampled_from(
        [
            ("placed_at > order_date + 1 day", lambda o: O.cmp(o.placed_at, ">", o.order_date + pd.Timedelta(days=1))),
            ("date(placed_at) = order_date", lambda o: O.cmp(o.placed_at.dt.normalize(), "=", o.order_date)),
            ("placed_at + 2 hours >= order_date + 1 day",
             lambda o: O.cmp(o.placed_at + pd.Timedelta(hours=2), ">=", o.order_date + pd.Timedelta(days=1))),
        ]
    )  # fmt: skip
    timestamps = [dt.datetime.combine(d, t) for d in DATES[4:8] for t in TIMES[1:3]]
    return st.one_of(
        amount_cmp,
        status_eq,
        status_in,
        null_test,
        channel,
        upper_channel,
        value_cmp,
        value_cmp,
        columns,
        _calendar("order_date"),
        _calendar("placed_at"),
        _date_arithmetic("order_date", ["day", "week", "month", "year"], DATES),
        _date_arithmetic("placed_at", ["hour", "minute", "day", "month"], timestamps),
    )


def _order_conditions() -> st.SearchStrategy[OCond]:
    return st.recursive(
        _order_atoms(),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(
                lambda t: (f"({t[0][0]} and {t[1][0]})", lambda o, t=t: t[0][1](o) & t[1][1](o))
            ),
            st.tuples(inner, inner).map(
                lambda t: (f"({t[0][0]} or {t[1][0]})", lambda o, t=t: t[0][1](o) | t[1][1](o))
            ),
            inner.map(lambda a: (f"not ({a[0]})", lambda o, a=a: ~a[1](o))),
        ),
        max_leaves=3,
    )


# --- aggregates -------------------------------------------------------------------------------------


def _filter(where) -> tuple[str, Callable]:
    """`` where ...`` and the rows' condition (None: every row)."""
    if where is None:
        return "", lambda o: None
    return f" where {where[0]}", where[1]


def _aggregate() -> st.SearchStrategy[Cond]:
    func_col = st.sampled_from(
        [
            ("count", None),
            ("count", "amount"),
            ("sum", "amount"),
            ("avg", "amount"),
            ("min", "amount"),
            ("max", "amount"),
            ("count_distinct", "status"),
            ("count_distinct", "amount"),
            ("count_distinct", "channel"),
        ]
    )

    def build(t) -> Cond:
        (func, col), where, op, value = t
        path = "orders" if col is None else f"orders.{col}"
        text = f"{func}({path}{' where ' + where[0] if where else ''}) {op} {value}"

        def fn(e: Env) -> O.Bool:
            agg = O.aggregate(e.o, "customer_id", e.c.index, func, col, where[1](e.o) if where else None)
            return O.cmp(agg, op, value)

        return text, fn

    return st.tuples(
        func_col, st.one_of(st.none(), _order_conditions()), st.sampled_from(_OPS), st.integers(-1, 12)
    ).map(build)


_PLAIN = ["sum", "avg", "min", "max"]
_ORDERED = ["median", "percentile", "stddev"]


def _aggregate_values() -> st.SearchStrategy[Value]:
    """A customer's number from the orders: count, sum/avg/min/max, median/percentile/stddev of an
    order value (an expression of the order's columns), with or without a filter."""

    def count(where) -> Value:
        shown, cond = _filter(where)
        return f"count(orders{shown})", lambda e: O.aggregate(
            e.o, "customer_id", e.c.index, "count", None, cond(e.o)
        ).astype("Float64")

    def of_value(t) -> Value:
        func, value, fraction, where = t
        text, values = _in_orders(value)
        shown, cond = _filter(where)
        argument = f", {fraction}" if func == "percentile" else ""

        def fn(e: Env) -> pd.Series:
            if func in _PLAIN:
                frame = e.o.assign(_v=values(e.o))
                return O.aggregate(frame, "customer_id", e.c.index, func, "_v", cond(e.o)).astype("Float64")
            return O.ordered_aggregate(
                e.o, "customer_id", e.c.index, func, values(e.o), cond(e.o), fraction=fraction
            ).astype("Float64")

        return f"{func}({text}{argument}{shown})", fn

    where = st.one_of(st.none(), _order_conditions())
    return st.one_of(
        where.map(count),
        st.tuples(
            st.sampled_from(_PLAIN + _ORDERED),
            _order_values().filter(lambda v: "{p}" in v[0]),  # of the orders' columns, not constants
            st.sampled_from([0, 0.25, 0.5, 0.9, 1]),
            where,
        ).map(of_value),
    )


def _by_record() -> st.SearchStrategy[Cond]:
    """mode / first / last of the orders' channel or amount, compared with a value."""

    def build(t) -> Cond:
        func, (column, (op, literal)), by, where = t
        by = None if func == "mode" else by
        shown, cond = _filter(where)
        order = f" by {by}" if by else ""
        shown_literal = f"'{literal}'" if column == "channel" else _number(literal)

        def fn(e: Env) -> O.Bool:
            got = O.ordered_aggregate(
                e.o, "customer_id", e.c.index, func, e.o[column], cond(e.o), by=e.o[by] if by else None
            )
            return O.cmp(got, op, literal)

        return f"{func}(orders.{column}{order}{shown}) {op} {shown_literal}", fn

    compared = st.one_of(
        st.tuples(
            st.just("channel"), st.tuples(st.sampled_from(["=", "!=", "<"]), st.sampled_from(CHANNELS))
        ),
        st.tuples(st.just("amount"), st.tuples(st.sampled_from(_OPS), st.sampled_from(_THRESHOLDS))),
    )
    return st.tuples(
        st.sampled_from(["mode", "first", "last"]),
        compared,
        st.sampled_from(["order_date", "placed_at"]),
        st.one_of(st.none(), _order_conditions()),
    ).map(build)


def _text_extreme() -> st.SearchStrategy[Cond]:
    """min/max of the orders' channel: text in code-point order, 'Web' and 'web' two values."""

    def build(t) -> Cond:
        func, where, op, literal = t
        shown, cond = _filter(where)

        def fn(e: Env) -> O.Bool:
            got = O.aggregate(e.o, "customer_id", e.c.index, func, "channel", cond(e.o))
            return O.cmp(got, op, literal)

        return f"{func}(orders.channel{shown}) {op} '{literal}'", fn

    return st.tuples(
        st.sampled_from(["min", "max"]),
        st.one_of(st.none(), _order_conditions()),
        st.sampled_from(["=", "!=", "<", ">="]),
        st.sampled_from(CHANNELS),
    ).map(build)


def _exists() -> st.SearchStrategy[Cond]:
    def build(t) -> Cond:
        kind, where = t
        text = f"{kind}(orders{' where ' + where[0] if where else ''})"
        return text, lambda e: O.exists(kind, e.o, "customer_id", e.c.index, where[1](e.o) if where else None)

    return st.tuples(st.sampled_from(["any", "none", "all"]), st.one_of(st.none(), _order_conditions())).map(
        build
    )


# --- conditions on customers ------------------------------------------------------------------------


def _simple_customer_atoms() -> st.SearchStrategy[Cond]:
    age_cmp = st.tuples(st.sampled_from(_OPS), st.integers(0, 9)).map(
        lambda t: (f"age {t[0]} {t[1]}", lambda e, t=t: O.cmp(e.c.age, t[0], t[1]))
    )
    country = st.tuples(st.sampled_from(["=", "!="]), st.sampled_from(COUNTRIES)).map(
        lambda t: (f"country {t[0]} '{t[1]}'", lambda e, t=t: O.cmp(e.c.country, t[0], t[1]))
    )
    flags = st.sampled_from(
        [("active", lambda e: O.tv(e.c.active)), ("active = false", lambda e: O.cmp(e.c.active, "=", False))]
    )
    return st.one_of(age_cmp, country, flags)


def _customer_value_atoms() -> st.SearchStrategy[Value]:
    age = st.just(("age", lambda e: e.c.age.astype("Float64")))
    literal = st.sampled_from([-1, 0, 0.5, 2, 3]).map(lambda n: (_number(n), lambda e, n=n: _const(n)(e.c)))
    length = st.just(("length(name)", lambda e: e.c.name.str.len().astype("Float64")))
    coalesce = st.integers(0, 9).map(
        lambda n: (f"coalesce(age, {n})", lambda e, n=n: e.c.age.fillna(n).astype("Float64"))
    )
    part = st.sampled_from(list(_PARTS)).map(
        lambda p: (f"{p}(signup_date)", lambda e, p=p: _PARTS[p](e.c.signup_date).astype("Float64"))
    )
    since = st.sampled_from(
        [
            ("days_between(signup_date, '2024-03-15')",
             lambda e: _days_between(e.c.signup_date, pd.Series(pd.Timestamp(AS_OF), index=e.c.index))),
            ("days_between(max(orders.placed_at), signup_date)",
             lambda e: _days_between(O.aggregate(e.o, "customer_id", e.c.index, "max", "placed_at"), e.c.signup_date)),
        ]
    )  # fmt: skip
    return st.one_of(
        age, age, literal, length, coalesce, part, since, _aggregate_values(), _aggregate_values()
    )


def _customer_values() -> st.SearchStrategy[Value]:
    when = _simple_customer_atoms()
    return st.recursive(_customer_value_atoms(), lambda inner: _combine(inner, when), max_leaves=3)


def _text_atoms() -> st.SearchStrategy[Cond]:
    """Text functions and matches on a name with case, Latin-1 letters, wildcards and a backslash."""
    functions = {
        "lower(name)": lambda s: s.str.lower(),
        "upper(name)": lambda s: s.str.upper(),
        "trim(name)": lambda s: s.str.strip(" "),
        "concat(name, '!')": lambda s: s.fillna("") + "!",
        "coalesce(name, 'none')": lambda s: s.fillna("none"),
        "name": lambda s: s,
    }
    targets = ["ann", "ANN", "Ann", "émile", "ÉMILE", "Émile", "zoë", "ZOË", "Ann!", "!", "none", ""]
    compare = st.tuples(
        st.sampled_from(list(functions)), st.sampled_from(["=", "!=", ">"]), st.sampled_from(targets)
    ).map(lambda t: (f"{t[0]} {t[1]} '{t[2]}'", lambda e, t=t: O.cmp(functions[t[0]](e.c.name), t[1], t[2])))
    patterns = ["%_off", "A%", "a%", "%\\", "%k\\%", "_nn", "_mile", "%é%", "É%", "%!%"]
    like = st.tuples(st.sampled_from(["name", "lower(name)"]), st.sampled_from(patterns)).map(
        lambda t: (f"{t[0]} like '{t[1]}'", lambda e, t=t: O.like(functions[t[0]](e.c.name), t[1]))
    )
    matches = st.tuples(
        st.sampled_from(
            [("contains", "contains"), ("starts with", "starts_with"), ("ends with", "ends_with")]
        ),
        st.sampled_from(["é", "É", "ann", "%", "\\", "Ë"]),
    ).map(lambda t: (f"name {t[0][0]} '{t[1]}'", lambda e, t=t: O.text_match(e.c.name, t[0][1], t[1])))
    return st.one_of(compare, like, matches)


def _date_atoms() -> st.SearchStrategy[Cond]:
    def on_customers(cond) -> Cond:
        return cond[0], lambda e, f=cond[1]: f(e.c)

    return st.one_of(
        _calendar("signup_date").map(on_customers),
        _date_arithmetic("signup_date", ["day", "week", "month", "year"], DATES).map(on_customers),
    )


def _ranked(e: Env, values: pd.Series, top: bool, amount: float, percent: bool, among=None) -> O.Bool:
    """``top/bottom amount[%] by values [among ...]``: ranked among the customers with a value (and
    the population's condition TRUE), ties to the smaller key."""
    keep_rows = values.notna() if among is None else values.notna() & among.fillna(False).astype(bool)
    known = values[keep_rows.to_numpy(dtype=bool)].astype(float)
    frame = pd.DataFrame({"v": known, "k": known.index}).sort_values(["v", "k"], ascending=[not top, True])
    keep = int(np.ceil(amount * len(frame) / 100)) if percent else int(amount)
    return O.tv(pd.Series(e.c.index.isin(frame["k"].iloc[:keep]), index=e.c.index))


def _ranking() -> st.SearchStrategy[Cond]:
    def build(t) -> Cond:
        top, (amount, percent), (value, fv), among = t
        shown = f"{'top' if top else 'bottom'} {amount}{'%' if percent else ''} by {value}"
        if among is None:
            return shown, lambda e: _ranked(e, fv(e), top, amount, percent)
        return f"({shown} among {among[0]})", lambda e: _ranked(e, fv(e), top, amount, percent, among[1](e))

    # Values whose ties are exact on every database: no stddev (its last digit may differ).
    rank_by = st.one_of(
        st.just(("age", lambda e: e.c.age.astype("Float64"))),
        st.just(("signup_date", lambda e: e.c.signup_date.astype("int64").where(e.c.signup_date.notna()))),
        _aggregate_values().filter(lambda v: not v[0].startswith("stddev")),
    )
    sizes = st.one_of(
        st.integers(1, 5).map(lambda n: (n, False)),
        st.sampled_from([10, 20, 25, 50, 60, 100, 12.5]).map(lambda p: (p, True)),
    )
    return st.tuples(st.booleans(), sizes, rank_by, st.one_of(st.none(), _simple_customer_atoms())).map(build)


def _customer_atoms() -> st.SearchStrategy[Cond]:
    age_cmp = st.tuples(st.sampled_from(_OPS), st.integers(0, 9)).map(
        lambda t: (f"age {t[0]} {t[1]}", lambda e, t=t: O.cmp(e.c.age, t[0], t[1]))
    )
    age_between = st.tuples(st.integers(0, 9), st.integers(0, 9)).map(
        lambda t: (f"age between {t[0]} and {t[1]}", lambda e, t=t: O.between(e.c.age, t[0], t[1]))
    )
    country = st.tuples(st.sampled_from(["=", "!="]), st.sampled_from(COUNTRIES)).map(
        lambda t: (f"country {t[0]} '{t[1]}'", lambda e, t=t: O.cmp(e.c.country, t[0], t[1]))
    )
    country_in = st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3).map(
        lambda vs: (
            f"country in ({', '.join(repr(v) for v in vs)})",
            lambda e, vs=vs: O.in_list(e.c.country, vs),
        )
    )
    nulls = st.sampled_from(
        [
            ("age is null", lambda e: O.is_null(e.c.age)),
            ("age is not null", lambda e: ~O.is_null(e.c.age)),
            ("country is empty", lambda e: O.is_empty(e.c.country)),
            ("country is not empty", lambda e: ~O.is_empty(e.c.country)),
            ("active", lambda e: O.tv(e.c.active)),
            ("active = false", lambda e: O.cmp(e.c.active, "=", False)),
        ]
    )
    value_cmp = st.tuples(_customer_values(), st.sampled_from(_OPS), st.sampled_from(_THRESHOLDS)).map(
        lambda t: (f"{t[0][0]} {t[1]} {t[2]}", lambda e, t=t: O.cmp(t[0][1](e), t[1], t[2]))
    )
    return st.one_of(
        age_cmp,
        age_between,
        country,
        country_in,
        nulls,
        _aggregate(),
        _exists(),
        value_cmp,
        value_cmp,
        _text_atoms(),
        _date_atoms(),
        _by_record(),
        _text_extreme(),
        _ranking(),
    )


def _conditions() -> st.SearchStrategy[Cond]:
    return st.recursive(
        _customer_atoms(),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(
                lambda t: (f"({t[0][0]} and {t[1][0]})", lambda e, t=t: t[0][1](e) & t[1][1](e))
            ),
            st.tuples(inner, inner).map(
                lambda t: (f"({t[0][0]} or {t[1][0]})", lambda e, t=t: t[0][1](e) | t[1][1](e))
            ),
            inner.map(lambda a: (f"not ({a[0]})", lambda e, a=a: ~a[1](e))),
            st.tuples(inner, st.sampled_from(["union", "intersect", "except"]), inner).map(
                lambda t: (
                    f"(({t[0][0]}) {t[1]} ({t[2][0]}))",
                    lambda e, t=t: {"union": O.union, "intersect": O.intersect, "except": O.except_}[t[1]](
                        t[0][1](e), t[2][1](e)
                    ),
                )
            ),
        ),
        max_leaves=5,
    )


def _child_only_conditions() -> st.SearchStrategy[Cond]:
    """Conjunctions of aggregates and any/none/all over orders: the definitions that may read the
    orders table alone when its integrity is assumed (random mixes with customer columns rarely do)."""

    def build(atoms: list[Cond]) -> Cond:
        text = " and ".join(f"({a[0]})" for a in atoms)
        return text, lambda e: functools.reduce(operator.and_, (a[1](e) for a in atoms))

    return st.lists(st.one_of(_aggregate(), _exists()), min_size=1, max_size=3).map(build)


_SETTINGS = settings(
    max_examples=int(os.environ.get("JS_PROPERTY_EXAMPLES", "100")),  # more for a bug hunt
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.slow
@_SETTINGS
@given(data=datasets(), definition=_conditions())
def test_random_definitions_match_oracle(data, definition: Cond) -> None:
    _check(data, definition)


@pytest.mark.slow
@_SETTINGS
@given(data=datasets(), definition=_child_only_conditions())
def test_random_child_only_definitions_match_oracle(data, definition: Cond) -> None:
    _check(data, definition)


_SERVER_SETTINGS = settings(_SETTINGS, max_examples=int(os.environ.get("JS_PROPERTY_SERVER_EXAMPLES", "12")))


@pytest.fixture(scope="module", params=["postgres", "mysql"])
def server(request) -> Backend:
    """A database of this test's own on the PostgreSQL / MariaDB test server, dropped at the end."""
    from jupyter_segments.backends.sqlalchemy_backend import normalize_url

    name = request.param
    url = (
        normalize_url(server_url(name)).set(database="js_test_property").render_as_string(hide_password=False)
    )
    try:
        url = _session_database(name, url)  # js_test_property_<pid>, fresh
        backend = open_backend(url)
    except Exception as e:  # noqa: BLE001 - unreachable server, missing driver
        _unavailable(f"{name} test server is not usable: {type(e).__name__}: {e}")
    yield backend
    backend.close()
    _drop_session_database(name, url)


@pytest.mark.slow
@_SERVER_SETTINGS
@given(data=datasets(), definition=st.one_of(_conditions(), _child_only_conditions()))
def test_random_definitions_match_oracle_on_servers(server: Backend, data, definition: Cond) -> None:
    _check(data, definition, lambda c, o: _load_server(server, c, o), close=False)


def within_nesting_limit(text: str) -> bool:
    """False for a random definition nested deeper than the parser allows (parser.MAX_DEPTH: refused
    alike on every database, with its own test in test_hostile_input)."""
    try:
        parse(text)
    except SegmentError as e:
        if "nested too deeply" in str(e):
            return False
        raise
    return True


def _check(data, definition: Cond, load=_load, close: bool = True) -> None:
    customers, orders = data
    text, fn = definition
    assume(within_nesting_limit(text))
    want = O.members(fn(frames(customers, orders)))
    workspaces = load(customers, orders)
    for ws in workspaces:
        got = sorted(int(k) for k in ws.member_keys(text, as_of=AS_OF))
        assert got == want, f"{ws.dialect}: {text}\n{ws.compile(text, as_of=AS_OF)}"
        assert ws.count(text, as_of=AS_OF) == len(want), (
            f"{ws.dialect}: {text}\n{ws.compile(text, as_of=AS_OF)}"
        )
    if close:  # the server's backend is the fixture's, shared by the examples
        for ws in workspaces:
            ws.close()
