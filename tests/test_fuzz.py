"""Fuzzing (issue 15): definitions generated from the grammar, mutated, and made of random tokens.

Whatever the text, ``ws.compile``, ``ws.count`` and ``ws.check`` either work or raise a
``SegmentError`` with a line, a column and a caret under the fault: never a Python exception
(RecursionError, ValueError, OverflowError, AttributeError ...) and never a database error that the
text did not point at. A few thousand examples per run; ``JS_FUZZ_EXAMPLES=n`` runs n per strategy.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_segments as js
from jupyter_segments import SegmentError

EXAMPLES = int(os.environ.get("JS_FUZZ_EXAMPLES", "700"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing left behind in .hypothesis/
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def ws():
    w = js.connect_demo(300)
    yield w
    w.close()


def _holds(ws, text: str) -> None:
    for call in (ws.compile, ws.check, ws.count):
        try:
            call(text)
        except SegmentError as e:
            where = (e.line, e.column, "^" in str(e))
            assert e.line is not None and e.column is not None and "^" in str(e), (
                call.__name__,
                text,
                str(e),
                where,
            )


# --- the grammar ---------------------------------------------------------------------------------------
NUMBERS = ["age", "churn_score", "region_id", "customer_id"]
TEXTS = ["first_name", "country", "city", "loyalty_tier", "email", "gender"]
DATES = ["signup_date", "birth_date"]
ORDER_NUMBERS = ["orders.amount", "orders.discount", "orders.order_id"]
NUMBER_LITERALS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda f: repr(round(f, 3))),
    st.sampled_from(["0", "1e400", "-1e400", "9" * 400, "1e-400", ".5", "0.0", "2147483648", "1e18"]),
)
TEXT_LITERALS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8
).map(lambda s: "'" + s.replace("'", "''") + "'")
DATE_LITERALS = st.sampled_from(
    [
        "date '2024-01-31'",
        "date '0001-01-01'",
        "date '9999-12-31'",
        "date '2024-02-30'",
        "timestamp '2024-01-01 10:00'",
    ]
)

number = st.deferred(
    lambda: st.one_of(
        st.sampled_from(NUMBERS),
        NUMBER_LITERALS,
        st.builds(lambda a, op, b: f"{a} {op} {b}", number, st.sampled_from("+-*/%"), number),
        st.builds(lambda a: f"-{a}", number),
        st.builds(lambda a: f"({a})", number),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["abs", "round", "floor", "ceil"]), number),
        st.builds(
            lambda f, a, b: f"{f}({a}, {b})",
            st.sampled_from(["least", "greatest", "coalesce"]),
            number,
            number,
        ),
        st.builds(lambda a: f"length({a})", text),
        st.builds(
            lambda f, d: f"{f}({d})", st.sampled_from(["year", "month", "day", "quarter", "weekday"]), date
        ),
        st.builds(lambda a, b: f"days_between({a}, {b})", date, date),
        st.builds(
            lambda f, c: f"{f}({c})",
            st.sampled_from(["sum", "avg", "min", "max", "median", "stddev"]),
            st.sampled_from(ORDER_NUMBERS),
        ),
        st.builds(
            lambda f, c, w: f"{f}({c} where {w})",
            st.sampled_from(["sum", "count_distinct", "max"]),
            st.sampled_from(ORDER_NUMBERS),
            condition,
        ),
        st.just("count(orders)"),
        st.builds(lambda w: f"count(orders where {w})", condition),
        st.builds(lambda p: f"percentile(orders.amount, {p})", NUMBER_LITERALS),
        st.builds(lambda c, a, b: f"case when {c} then {a} else {b} end", condition, number, number),
        st.just("{x}"),
    )
)
text = st.deferred(
    lambda: st.one_of(
        st.sampled_from(TEXTS),
        TEXT_LITERALS,
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["lower", "upper", "trim"]), text),
        st.builds(lambda a, b: f"concat({a}, {b})", text, text),
        st.just("{name}"),
    )
)
date = st.deferred(
    lambda: st.one_of(
        st.sampled_from(DATES),
        DATE_LITERALS,
        st.builds(
            lambda d, n, u: f"{d} + {n} {u}",
            st.sampled_from(DATES),
            st.integers(0, 10**7),
            st.sampled_from(["days", "months", "years"]),
        ),
        st.builds(lambda d: f"date({d})", st.sampled_from(DATES)),
    )
)
condition = st.deferred(
    lambda: st.one_of(
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            number,
            st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "<>"]),
            number,
        ),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            text,
            st.sampled_from(["=", "!=", "like", "ilike", "contains", "starts with", "ends with"]),
            text,
        ),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}", date, st.sampled_from(["<", ">", "=", "before", "after"]), date
        ),
        st.builds(lambda a, lo, hi: f"{a} between {lo} and {hi}", number, number, number),
        st.builds(
            lambda a, xs: f"{a} in ({', '.join(xs)})", text, st.lists(TEXT_LITERALS, min_size=1, max_size=4)
        ),
        st.builds(
            lambda d, n, u: f"{d} in last {n} {u}",
            st.sampled_from(DATES + ["orders.order_date"]),
            st.integers(0, 10**12),
            st.sampled_from(["days", "weeks", "months", "years"]),
        ),
        st.builds(
            lambda d, w: f"{d} in {w}",
            st.sampled_from(DATES),
            st.sampled_from(["this year", "previous month", "year 2024", "month 2024-13", "year 0000"]),
        ),
        st.builds(
            lambda a, n: f"{a} is {n}",
            st.sampled_from(NUMBERS + TEXTS + DATES),
            st.sampled_from(["null", "not null", "empty"]),
        ),
        st.sampled_from(["newsletter", "not newsletter", "newsletter = true"]),
        st.builds(lambda k, w: f"{k}(orders where {w})", st.sampled_from(["any", "none", "all"]), condition),
        st.builds(
            lambda w: f"any(support_calls where {w})",
            st.sampled_from(["escalated", "duration_minutes > 10", "topic = 'billing'"]),
        ),
        st.builds(lambda a, b: f"{a} and {b}", condition, condition),
        st.builds(lambda a, b: f"{a} or {b}", condition, condition),
        st.builds(lambda a: f"not {a}", condition),
        st.builds(lambda a: f"({a})", condition),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            condition,
            st.sampled_from(["union", "intersect", "except"]),
            condition,
        ),
        st.builds(
            lambda d, n, p, b: f"{d} {n}{p} by {b}",
            st.sampled_from(["top", "bottom"]),
            st.integers(0, 10**6),
            st.sampled_from(["", "%"]),
            number,
        ),
        st.just("in segment nothing_saved"),
    )
)
definition = st.builds(
    lambda c, proj: c + proj,
    condition,
    st.sampled_from(["", "\nproject sum(orders.amount) as spend", "\nproject age + 1 as next_age"]),
)

TOKENS = [
    "age", "country", "orders", "orders.amount", "sum", "count", "any", "none", "all", "where", "and", "or",
    "not", "in", "last", "days", "segment", "union", "between", "like", "is", "null", "empty", "true", "top",
    "by", "%", "project", "as", "case", "when", "then", "else", "end", "(", ")", ",", ".", "=", "<", ">=",
    "+", "-", "*", "/", "{", "}", "{x}", "'DE'", "'", '"', '"age"', "1", "0", "-1", "1e400", "2.5", "²", "١٢",
    "\t", "\n", "日本", "date", "'2024-01-01'", "--", "\x00", "\u200b", "least", "ceil", "abs(",
]  # fmt: skip
random_tokens = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map(" ".join)


@st.composite
def mutated(draw) -> str:
    """A grammatical definition, then a few edits: a span cut, a token or character put in, a span doubled."""
    s = draw(definition)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(s)))
        j = draw(st.integers(i, min(len(s), i + 12)))
        edit = draw(st.sampled_from(["cut", "insert", "char", "double"]))
        if edit == "cut":
            s = s[:i] + s[j:]
        elif edit == "insert":
            s = s[:i] + " " + draw(st.sampled_from(TOKENS)) + " " + s[i:]
        elif edit == "char":
            s = s[:i] + draw(st.characters(blacklist_categories=("Cs",))) + s[i:]
        else:
            s = s[:j] + s[i:j] + s[j:]
    return s


PARAMS = {"x": 5, "name": "DE"}


def _holds_with_params(ws, text: str) -> None:
    for call in (ws.compile, ws.check, ws.count):
        try:
            call(text, params=PARAMS)
        except SegmentError as e:
            assert e.line is not None and e.column is not None and "^" in str(e), (
                call.__name__,
                text,
                str(e),
            )


@pytest.mark.slow
@FUZZ
@given(text=definition)
def test_grammatical_definitions(ws, text):
    _holds_with_params(ws, text)


@pytest.mark.slow
@FUZZ
@given(text=mutated())
def test_mutated_definitions(ws, text):
    _holds_with_params(ws, text)


@pytest.mark.slow
@FUZZ
@given(text=random_tokens)
def test_random_tokens(ws, text):
    _holds(ws, text)
