"""Property test: random definitions from the grammar, on small random data with NULLs and customers
without orders, compiled and run on DuckDB and SQLite (``JS_PROPERTY_EXAMPLES``, default 100) and on
PostgreSQL and MariaDB (``JS_PROPERTY_SERVER_EXAMPLES``, default 12: each example there creates its
tables anew), must select what the pandas oracle selects: member keys and count.

Each example draws a data set and a definition; the strategy builds the DSL text and the oracle
(a function of the frames, tests/oracle.py) side by side, so the oracle never looks at the compiler.
"""

from __future__ import annotations

import functools
import operator
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import oracle as O
import pandas as pd
import pytest
from conftest import _drop_session_database, _session_database, _unavailable, server_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_segments import Workspace, connect
from jupyter_segments.backends import open_backend
from jupyter_segments.backends.base import Backend


@dataclass
class Env:
    c: pd.DataFrame  # customers, indexed by customer_id
    o: pd.DataFrame  # orders, indexed by order_id


Cond = tuple[str, Callable[[Env], O.Bool]]  # DSL text, oracle on customers
OCond = tuple[str, Callable[[pd.DataFrame], O.Bool]]  # DSL text, oracle on order rows

COUNTRIES = ["DE", "FR", "US", ""]
STATUSES = ["new", "paid", "returned"]

# --- data -------------------------------------------------------------------------------------------


@st.composite
def datasets(draw) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(1, 8))
    customers = pd.DataFrame(
        {
            "customer_id": list(range(1, n + 1)),
            "age": draw(st.lists(st.one_of(st.none(), st.integers(0, 9)), min_size=n, max_size=n)),
            "country": draw(
                st.lists(st.one_of(st.none(), st.sampled_from(COUNTRIES)), min_size=n, max_size=n)
            ),
            "active": draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)),
        }
    )
    m = draw(st.integers(0, 14))
    orders = pd.DataFrame(
        {
            "order_id": list(range(1, m + 1)),
            # Some customers get no orders; an order may point at no customer (NULL foreign key).
            "customer_id": draw(st.lists(st.one_of(st.none(), st.integers(1, n)), min_size=m, max_size=m)),
            "amount": draw(st.lists(st.one_of(st.none(), st.integers(-2, 9)), min_size=m, max_size=m)),
            "status": draw(st.lists(st.one_of(st.none(), st.sampled_from(STATUSES)), min_size=m, max_size=m)),
        }
    )
    return customers, orders


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in r) for r in frame.astype(object).itertuples(index=False)]


def _workspaces(target) -> list[Workspace]:
    """Two workspaces on the loaded data: plain, and with the orders' integrity assumed (true: orders
    point at a customer or at NULL), so queries may read orders alone (compile._driven_by_child)."""
    ws = connect(target)
    ws.customers("customers", key="customer_id")
    assuming = connect(target)
    assuming.customers("customers", key="customer_id")
    assuming.relate("orders", "customers", on="customer_id", assume_integrity=True)
    return [ws, assuming]


def _load(customers: pd.DataFrame, orders: pd.DataFrame) -> list[Workspace]:
    """The data in a fresh DuckDB and a fresh SQLite database, with typed columns."""
    ddl = [
        "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, age INTEGER, country VARCHAR, active BOOLEAN)",
        "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, amount DOUBLE, status VARCHAR)",
    ]
    rows_c, rows_o = _rows(customers), _rows(orders)
    out = []
    d = duckdb.connect()
    s = sqlite3.connect(":memory:")
    for conn in (d, s):
        for stmt in ddl:
            conn.execute(stmt)
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", rows_c)
        if rows_o:
            conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows_o)
        out += _workspaces(conn)
    return out


_SERVER_DOUBLE = {"postgres": "DOUBLE PRECISION", "mysql": "DOUBLE"}


def _load_server(backend: Backend, customers: pd.DataFrame, orders: pd.DataFrame) -> list[Workspace]:
    """The data in the server's property-test database (its tables dropped and created anew)."""
    import sqlalchemy as sa

    double = _SERVER_DOUBLE[backend.dialect]
    with backend.engine.begin() as c:  # type: ignore[attr-defined]
        c.exec_driver_sql("DROP TABLE IF EXISTS orders")
        c.exec_driver_sql("DROP TABLE IF EXISTS customers")
        c.exec_driver_sql(
            "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, age INTEGER, country VARCHAR(8), "
            "active BOOLEAN)"
        )
        c.exec_driver_sql(
            f"CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, amount {double}, "
            "status VARCHAR(8))"
        )
        for table, frame in (("customers", customers), ("orders", orders)):
            if len(frame):
                cols = list(frame.columns)
                insert = sa.text(f"INSERT INTO {table} VALUES ({', '.join(':' + col for col in cols)})")
                c.execute(insert, [dict(zip(cols, r, strict=True)) for r in _rows(frame)])
    return _workspaces(backend)


# --- definitions ------------------------------------------------------------------------------------

_OPS = ["=", "!=", "<", "<=", ">", ">="]


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
    null_test = st.sampled_from(["amount", "status"]).map(
        lambda col: (f"{col} is null", lambda o, col=col: O.is_null(o[col]))
    )
    return st.one_of(amount_cmp, status_eq, status_in, null_test)


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


def _exists() -> st.SearchStrategy[Cond]:
    def build(t) -> Cond:
        kind, where = t
        text = f"{kind}(orders{' where ' + where[0] if where else ''})"
        return text, lambda e: O.exists(kind, e.o, "customer_id", e.c.index, where[1](e.o) if where else None)

    return st.tuples(st.sampled_from(["any", "none", "all"]), st.one_of(st.none(), _order_conditions())).map(
        build
    )


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
    return st.one_of(age_cmp, age_between, country, country_in, nulls, _aggregate(), _exists(), _new_forms())


def _ranked(e: Env, values: pd.Series, top: bool, amount: int, percent: bool) -> O.Bool:
    """``top/bottom amount[%] by values``: ranked among customers with a value, ties to the smaller key."""
    known = values[values.notna()].astype(float)
    frame = pd.DataFrame({"v": known, "k": known.index}).sort_values(["v", "k"], ascending=[not top, True])
    keep = -(-amount * len(frame) // 100) if percent else amount  # ceil in integers
    return O.tv(pd.Series(e.c.index.isin(frame["k"].iloc[:keep]), index=e.c.index))


def _new_forms() -> st.SearchStrategy[Cond]:
    """Issue 14's forms: functions, CASE, arithmetic inside an aggregate, ranking."""
    lower = st.sampled_from(["de", "fr", "DE"]).map(
        lambda v: (f"lower(country) = '{v}'", lambda e, v=v: O.cmp(e.c.country.str.lower(), "=", v))
    )
    coalesce = st.tuples(st.integers(0, 9), st.sampled_from(_OPS), st.integers(0, 9)).map(
        lambda t: (
            f"coalesce(age, {t[0]}) {t[1]} {t[2]}",
            lambda e, t=t: O.cmp(e.c.age.fillna(t[0]), t[1], t[2]),
        )
    )
    greatest = st.tuples(st.integers(0, 9), st.integers(0, 9)).map(
        lambda t: (
            f"greatest(age, {t[0]}) = {t[1]}",
            # NULL only when every argument is: greatest(NULL, 3) is 3
            lambda e, t=t: O.cmp(e.c.age.astype("Float64").fillna(t[0]).clip(lower=t[0]), "=", t[1]),
        )
    )
    case = st.integers(0, 9).map(
        lambda n: (
            f"case when age > {n} then 'old' else 'young' end = 'old'",
            lambda e, n=n: O.cmp(e.c.age, ">", n).fillna(False).astype("boolean"),
        )
    )
    times_two = st.tuples(st.sampled_from(_OPS), st.integers(-4, 20)).map(
        lambda t: (
            f"sum(orders.amount * 2 - 1) {t[0]} {t[1]}",
            lambda e, t=t: O.cmp(
                O.aggregate(e.o.assign(v=e.o.amount * 2 - 1), "customer_id", e.c.index, "sum", "v"),
                t[0],
                t[1],
            ),
        )
    )
    ranking = st.tuples(st.booleans(), st.integers(1, 5), st.booleans(), st.booleans()).map(
        lambda t: (
            f"{'top' if t[0] else 'bottom'} {t[1] * (20 if t[2] else 1)}{'%' if t[2] else ''} by "
            + ("sum(orders.amount)" if t[3] else "age"),
            lambda e, t=t: _ranked(
                e,
                O.aggregate(e.o, "customer_id", e.c.index, "sum", "amount") if t[3] else e.c.age,
                t[0],
                t[1] * (20 if t[2] else 1),
                t[2],
            ),
        )
    )
    return st.one_of(lower, coalesce, greatest, case, times_two, ranking)


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


@_SETTINGS
@given(data=datasets(), definition=_conditions())
def test_random_definitions_match_oracle(data, definition: Cond) -> None:
    _check(data, definition)


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


@_SERVER_SETTINGS
@given(data=datasets(), definition=st.one_of(_conditions(), _child_only_conditions()))
def test_random_definitions_match_oracle_on_servers(server: Backend, data, definition: Cond) -> None:
    _check(data, definition, lambda c, o: _load_server(server, c, o), close=False)


def _check(data, definition: Cond, load=_load, close: bool = True) -> None:
    customers, orders = data
    text, fn = definition
    c = customers.astype({"customer_id": "Int64", "age": "Int64", "country": "string", "active": "boolean"})
    o = orders.astype({"order_id": "Int64", "customer_id": "Int64", "amount": "Float64", "status": "string"})
    env = Env(c=c.set_index("customer_id", drop=False), o=o.set_index("order_id", drop=False))
    want = O.members(fn(env))
    workspaces = load(customers, orders)
    for ws in workspaces:
        got = sorted(int(k) for k in ws.member_keys(text))
        assert got == want, f"{ws.dialect}: {text}\n{ws.compile(text)}"
        assert ws.count(text) == len(want), f"{ws.dialect}: {text}\n{ws.compile(text)}"
    if close:  # the server's backend is the fixture's, shared by the examples
        for ws in workspaces:
            ws.close()
