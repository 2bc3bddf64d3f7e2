"""The DSL parser and printer: every form of the issue parses to the tree written out here by hand,
``parse(to_text(t)) == t`` on a corpus and on random texts from the grammar, and parse errors name the
line and column with a caret under the fault.

The expected trees are written literally (not produced by the parser), so a parser change that alters
the meaning of a form fails here.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_segments.dsl import ast as A
from jupyter_segments.dsl import bind_params, parse, parse_condition, to_text
from jupyter_segments.errors import SegmentError

# --- tiny tree builders (keep the expected trees readable) ----------------------------------------


def N(*parts: str) -> A.Name:
    return A.Name(tuple(parts))


def L(value) -> A.Literal:
    return A.Literal(value)


def B(operand) -> A.BoolTest:
    return A.BoolTest(operand)


def cond(text: str) -> A.Expr:
    return parse(text).condition


# --- every DSL form of the issue, with its tree ---------------------------------------------------

FORMS: list[tuple[str, A.Expr]] = [
    ("age = 30", A.Compare("=", N("age"), L(30))),
    ("age != 30", A.Compare("!=", N("age"), L(30))),
    ("age <> 30", A.Compare("!=", N("age"), L(30))),
    ("age < 30", A.Compare("<", N("age"), L(30))),
    ("age <= 30", A.Compare("<=", N("age"), L(30))),
    ("age > 30", A.Compare(">", N("age"), L(30))),
    ("age >= 30.5", A.Compare(">=", N("age"), L(30.5))),
    ("age >= -3", A.Compare(">=", N("age"), L(-3))),
    ("churn_score < 1e-3", A.Compare("<", N("churn_score"), L(0.001))),
    ("age BETWEEN 20 AND 30", A.Between(N("age"), L(20), L(30))),
    ("age not between 20 and 30", A.Between(N("age"), L(20), L(30), negated=True)),
    ("country IN ('DE', 'FR')", A.InList(N("country"), (L("DE"), L("FR")))),
    ("country NOT IN ('DE')", A.InList(N("country"), (L("DE"),), negated=True)),
    ("country in {countries}", A.InList(N("country"), (A.Param("countries"),))),
    ("age IS NULL", A.IsNull(N("age"))),
    ("age IS NOT NULL", A.IsNull(N("age"), negated=True)),
    ("email LIKE '%@example.com'", A.Like(N("email"), L("%@example.com"))),
    ("email not like 'a%'", A.Like(N("email"), L("a%"), negated=True)),
    ("email ILIKE 'A%'", A.Like(N("email"), L("A%"), case_insensitive=True)),
    ("email NOT ILIKE 'A%'", A.Like(N("email"), L("A%"), case_insensitive=True, negated=True)),
    ("city contains 'berl'", A.TextMatch("contains", N("city"), L("berl"))),
    ("city CONTAINS 'berl'", A.TextMatch("contains", N("city"), L("berl"))),
    ("city not contains 'berl'", A.TextMatch("contains", N("city"), L("berl"), negated=True)),
    ("city starts with 'Ber'", A.TextMatch("starts_with", N("city"), L("Ber"))),
    ("city Starts With 'Ber'", A.TextMatch("starts_with", N("city"), L("Ber"))),
    ("city ends with 'lin'", A.TextMatch("ends_with", N("city"), L("lin"))),
    ("email is empty", A.IsEmpty(N("email"))),
    ("email IS NOT EMPTY", A.IsEmpty(N("email"), negated=True)),
    ("signup_date in last 90 days", A.InLast(N("signup_date"), 90, "day")),
    ("signup_date in last 1 day", A.InLast(N("signup_date"), 1, "day")),
    ("signup_date IN LAST 2 weeks", A.InLast(N("signup_date"), 2, "week")),
    ("signup_date in last 1 week", A.InLast(N("signup_date"), 1, "week")),
    ("signup_date in last 6 months", A.InLast(N("signup_date"), 6, "month")),
    ("signup_date in last 1 month", A.InLast(N("signup_date"), 1, "month")),
    ("signup_date in last 3 years", A.InLast(N("signup_date"), 3, "year")),
    ("signup_date in last 1 year", A.InLast(N("signup_date"), 1, "year")),
    ("signup_date before '2024-01-01'", A.BeforeAfter("before", N("signup_date"), L("2024-01-01"))),
    ("signup_date AFTER DATE '2024-01-01'", A.BeforeAfter("after", N("signup_date"), L(dt.date(2024, 1, 1)))),
    (
        "called_at > TIMESTAMP '2024-01-01 10:30:00'",
        A.Compare(">", N("called_at"), L(dt.datetime(2024, 1, 1, 10, 30))),
    ),
    ("newsletter", B(N("newsletter"))),
    ("newsletter = true", A.Compare("=", N("newsletter"), L(True))),
    ("newsletter is true", A.Compare("=", N("newsletter"), L(True))),
    ("newsletter is not false", A.Not(A.Compare("=", N("newsletter"), L(False)))),
    ("NOT newsletter", A.Not(B(N("newsletter")))),
    ("age = null", A.Compare("=", N("age"), L(None))),
    ("last_name = 'O''Brien'", A.Compare("=", N("last_name"), L("O'Brien"))),
    ('"last name" = \'x\'', A.Compare("=", N("last name"), L("x"))),
    ('"a""b" = 1', A.Compare("=", N('a"b'), L(1))),
    ("regions.name = 'North'", A.Compare("=", N("regions", "name"), L("North"))),
    ("count(orders) > 5", A.Compare(">", A.Aggregate("count", ("orders",)), L(5))),
    ("sum(orders.amount) >= 1000", A.Compare(">=", A.Aggregate("sum", ("orders", "amount")), L(1000))),
    ("avg(orders.amount) > 10", A.Compare(">", A.Aggregate("avg", ("orders", "amount")), L(10))),
    ("min(orders.order_date) < '2024-01-01'", A.Compare("<", A.Aggregate("min", ("orders", "order_date")), L("2024-01-01"))),
    ("max(orders.amount) > 10", A.Compare(">", A.Aggregate("max", ("orders", "amount")), L(10))),
    (
        "count_distinct(orders.order_lines.product_id) >= 3",
        A.Compare(">=", A.Aggregate("count_distinct", ("orders", "order_lines", "product_id")), L(3)),
    ),
    (
        "sum(orders.amount where status != 'returned' and order_date in last 90 days) > 100",
        A.Compare(
            ">",
            A.Aggregate(
                "sum",
                ("orders", "amount"),
                A.And((A.Compare("!=", N("status"), L("returned")), A.InLast(N("order_date"), 90, "day"))),
            ),
            L(100),
        ),
    ),
    ("median(orders.amount) > 10", A.Compare(">", A.Aggregate("median", ("orders", "amount")), L(10))),
    ("stddev(orders.amount) > 10", A.Compare(">", A.Aggregate("stddev", ("orders", "amount")), L(10))),
    ("mode(orders.order_lines.products.category) = 'toys'",
     A.Compare("=", A.Aggregate("mode", ("orders", "order_lines", "products", "category")), L("toys"))),
    ("percentile(orders.amount, 0.9 where status = 'x') > 1",
     A.Compare(">", A.Aggregate("percentile", ("orders", "amount"), A.Compare("=", N("status"), L("x")),
                                fraction=L(0.9)), L(1))),
    ("first(orders.channel by order_date) = 'web'",
     A.Compare("=", A.Aggregate("first", ("orders", "channel"), by=N("order_date")), L("web"))),
    ("LAST(orders.amount * 2 by order_date + 1 day where amount > 0) > 1",
     A.Compare(">", A.Aggregate("last", (), A.Compare(">", N("amount"), L(0)),
                                A.Arith("*", N("orders", "amount"), L(2)),
                                by=A.Arith("+", N("order_date"), A.Interval(1, "day"))), L(1))),
    ("any(orders where amount > 100)", A.Exists("any", ("orders",), A.Compare(">", N("amount"), L(100)))),
    ("none(support_calls where escalated)", A.Exists("none", ("support_calls",), B(N("escalated")))),
    ("all(orders where status = 'delivered')", A.Exists("all", ("orders",), A.Compare("=", N("status"), L("delivered")))),
    ("ANY(orders)", A.Exists("any", ("orders",))),
    (
        "any(orders where sum(order_lines.quantity) > 300)",
        A.Exists("any", ("orders",), A.Compare(">", A.Aggregate("sum", ("order_lines", "quantity")), L(300))),
    ),
    (
        "any(orders.order_lines where products.category = 'toys')",
        A.Exists("any", ("orders", "order_lines"), A.Compare("=", N("products", "category"), L("toys"))),
    ),
    ("in segment vip", A.SegmentRef("vip")),
    ("not in segment vip", A.SegmentRef("vip", negated=True)),
    ('IN SEGMENT "big spenders"', A.SegmentRef("big spenders")),
    (
        "age > 1 and age < 5 and country = 'DE'",
        A.And((A.Compare(">", N("age"), L(1)), A.Compare("<", N("age"), L(5)), A.Compare("=", N("country"), L("DE")))),
    ),
    (
        "a or b and c",
        A.Or((B(N("a")), A.And((B(N("b")), B(N("c")))))),
    ),
    (
        "(a or b) and not c",
        A.And((A.Or((B(N("a")), B(N("b")))), A.Not(B(N("c"))))),
    ),
    ("not not a", A.Not(A.Not(B(N("a"))))),
    ("((((a))))", B(N("a"))),
    ("(a) UNION (b)", A.SetOp("union", B(N("a")), B(N("b")))),
    (
        "(a) union (b) intersect (c) except (d)",
        A.SetOp("except", A.SetOp("intersect", A.SetOp("union", B(N("a")), B(N("b"))), B(N("c"))), B(N("d"))),
    ),
    ("(a) EXCEPT ((b) UNION (c))", A.SetOp("except", B(N("a")), A.SetOp("union", B(N("b")), B(N("c"))))),
    ("age + 1 > 2 * 3", A.Compare(">", A.Arith("+", N("age"), L(1)), A.Arith("*", L(2), L(3)))),
    # Parentheses around a value keep it a value: (age + 1) * 2 is arithmetic, not a condition.
    ("(age + 1) * 2 > 10", A.Compare(">", A.Arith("*", A.Arith("+", N("age"), L(1)), L(2)), L(10))),
    ("(count(orders)) > 2", A.Compare(">", A.Aggregate("count", ("orders",)), L(2))),
    ("x = -(y)", A.Compare("=", N("x"), A.Neg(N("y")))),
    ("- -x > 1", A.Compare(">", A.Neg(A.Neg(N("x"))), L(1))),
    ("a - b - c = 0", A.Compare("=", A.Arith("-", A.Arith("-", N("a"), N("b")), N("c")), L(0))),
    ("a - (b - c) = 0", A.Compare("=", A.Arith("-", N("a"), A.Arith("-", N("b"), N("c"))), L(0))),
    ("age > {min_age}", A.Compare(">", N("age"), A.Param("min_age"))),
    # Keywords are recognised by position: a column may be called date or last.
    ("date = 1", A.Compare("=", N("date"), L(1))),
    ("last > 1", A.Compare(">", N("last"), L(1))),
    ("first = mode", A.Compare("=", N("first"), N("mode"))),
    ("age > 30 -- a comment\n and country = 'DE' -- another", A.And((A.Compare(">", N("age"), L(30)), A.Compare("=", N("country"), L("DE"))))),
]  # fmt: skip


@pytest.mark.parametrize(("text", "tree"), FORMS, ids=[f[0][:40] for f in FORMS])
def test_every_form_parses_to_its_tree(text: str, tree: A.Expr) -> None:
    assert cond(text) == tree
    # ... and prints back to text that parses to the same tree.
    assert cond(to_text(parse(text))) == tree


def test_project_clause() -> None:
    d = parse(
        "age > 3 PROJECT sum(orders.amount where order_date in last 90 days) AS spend_90d, "
        'count(support_calls) AS calls, age + 1 AS "next age"'
    )
    assert d.condition == A.Compare(">", N("age"), L(3))
    assert d.projections == (
        A.Projection(
            A.Aggregate("sum", ("orders", "amount"), A.InLast(N("order_date"), 90, "day")), "spend_90d"
        ),
        A.Projection(A.Aggregate("count", ("support_calls",)), "calls"),
        A.Projection(A.Arith("+", N("age"), L(1)), "next age"),
    )
    assert parse(to_text(d)) == d


def test_positions_point_into_the_text() -> None:
    text = "age > 3 and sum(orders.amount) >= 10"
    tree = parse(text).condition
    assert isinstance(tree, A.And)
    agg = tree.items[1].left
    assert text[agg.pos : agg.end] == "sum(orders.amount)"
    assert text[tree.items[0].pos : tree.items[0].end] == "age > 3"


def test_parse_condition_and_bind_params() -> None:
    # A lone value is wrapped as a condition (the compiler unwraps it where a value is wanted: measures).
    assert parse_condition("sum(orders.amount)") == B(A.Aggregate("sum", ("orders", "amount")))
    assert parse_condition("(sum(orders.amount)) / 2") == B(
        A.Arith("/", A.Aggregate("sum", ("orders", "amount")), L(2))
    )
    d = bind_params(parse("country in {cs} and age > {a}"), {"cs": ["DE", "FR"], "a": 30})
    assert d.condition == A.And((A.InList(N("country"), (L("DE"), L("FR"))), A.Compare(">", N("age"), L(30))))
    with pytest.raises(SegmentError, match=r"undefined variable \{b\}"):
        bind_params(parse("age > {b}"), {})
    with pytest.raises(SegmentError, match="is a list; use it with IN"):
        bind_params(parse("age > {a}"), {"a": [1, 2]})
    with pytest.raises(SegmentError, match="empty list"):
        bind_params(parse("age in {a}"), {"a": []})


# --- round trip on a corpus -------------------------------------------------------------------------

CORPUS = [
    "sum(orders.amount) >= 1000",
    "country = 'DE' and (age between 30 and 40 or loyalty_tier in ('gold', 'platinum'))",
    "not (a or b) and not c and (d or not e)",
    "(sum(orders.amount where status != 'returned') > 100) UNION (count(support_calls) = 0)",
    "(a) UNION (b) INTERSECT ((c) EXCEPT (d))",
    "any(orders where sum(order_lines.quantity where products.category = 'toys') > 30 and status = 'x')",
    "all(orders where status = 'delivered') and none(support_calls where escalated)",
    "first_name = 'it''s' and \"weird \"\" name\" = 'a''''b'",
    '"and" = 1 or "where" = 2 or "count" = 3 or "DATE" = 4',
    "x = DATE '2024-02-29' or y < TIMESTAMP '2024-01-01 00:00:01'",
    "a * (b + c) / (d - e) - -f >= -1.5",
    "- -x > 1 and -(-y) = 2",
    "(((x))) and ((y) = 1)",
    "x not in (1, 2, 3) and y in ({a}, 2) and z in {b} and w not in {c}",
    "t in last 12 months and t before '2024-01-01' and t after DATE '2020-01-01'",
    'in segment vip and not in segment "vip 2" and not (in segment x)',
    'count(orders) > 1 PROJECT sum(orders.amount) AS s, count(support_calls) AS "n calls"',
    "email not ilike '%X%' and email is not empty and city not contains 'ber'",
    "newsletter is true and flag is not false and null is null",
    "ünïcödé = 'ß' and 東京 = '大阪'",
    "any(orders where median(order_lines.quantity) > 2) PROJECT percentile(orders.amount, {p}) AS p, "
    "first(orders.amount - orders.discount by -amount where status != 'x') AS f, mode(orders.channel) AS m",
    '"first" = 1 and "median" < last(orders."first" by "mode")',
]


@pytest.mark.parametrize("text", CORPUS)
def test_round_trip_corpus(text: str) -> None:
    tree = parse(text)
    printed = to_text(tree)
    assert parse(printed) == tree
    assert to_text(parse(printed)) == printed  # printing is a fixed point


# --- round trip on random texts from the grammar -------------------------------------------------

_names = st.sampled_from(["age", "x", "orders", "amount", '"date"', '"a b"', '"x; drop"', "ümlaut", "last"])
_values = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(repr),
    st.text(alphabet="ab'% _\"-x;", max_size=6).map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.sampled_from(["true", "false", "null", "DATE '2024-01-31'", "{p}"]),
    _names,
)


def _value_text() -> st.SearchStrategy[str]:
    return st.recursive(
        _values,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: " ".join(t)),
            inner.map(lambda v: f"-{v}" if not v.startswith("-") else f"- {v}"),
            inner.map(lambda v: f"({v})"),
            st.tuples(
                st.sampled_from(["sum", "count", "min"]), st.sampled_from(["orders.amount", "orders"])
            ).map(lambda t: f"{t[0]}({t[1]})"),
            st.sampled_from(
                [
                    "median(orders.amount)",
                    "stddev(orders.amount where x > 1)",
                    "mode(orders.x)",
                    "percentile(orders.amount, 0.25)",
                    "first(orders.x by y)",
                    "last(orders.x - 1 by -y where z)",
                ]
            ),  # fmt: skip
            # issue 14: functions, CASE, date arithmetic
            st.tuples(
                st.sampled_from(
                    [
                        "lower",
                        "upper",
                        "trim",
                        "length",
                        "abs",
                        "round",
                        "floor",
                        "ceil",
                        "year",
                        "quarter",
                        "month",
                        "day",
                        "weekday",
                        "date",
                    ]
                ),
                inner,
            ).map(lambda t: f"{t[0]}({t[1]})"),  # fmt: skip
            st.tuples(
                st.sampled_from(["coalesce", "concat", "least", "greatest", "days_between", "round"]),
                st.lists(inner, min_size=2, max_size=3),
            ).map(lambda t: f"{t[0]}({', '.join(t[1][:2] if t[0] in ('days_between', 'round') else t[1])})"),
            st.tuples(inner, inner, st.one_of(st.none(), inner)).map(
                lambda t: f"case when {t[0]} > 1 then {t[1]}{'' if t[2] is None else ' else ' + t[2]} end"
            ),
            st.tuples(
                inner,
                st.sampled_from("+-"),
                st.integers(0, 40),
                st.sampled_from(["days", "week", "months", "hours"]),
            ).map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]}"),
        ),
        max_leaves=4,
    )


def _condition_text() -> st.SearchStrategy[str]:
    v = _value_text()
    atoms = st.one_of(
        st.tuples(v, st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="]), v).map(" ".join),
        st.tuples(v, v, v).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
        st.tuples(v, st.lists(v, min_size=1, max_size=3)).map(lambda t: f"{t[0]} not in ({', '.join(t[1])})"),
        v.map(lambda x: f"{x} is not null"),
        v.map(lambda x: f"{x} is empty"),
        v.map(lambda x: f"{x} ends with 'a'"),
        v.map(lambda x: f"{x} in last 3 weeks"),
        st.tuples(
            v, st.sampled_from(["this year", "previous quarter", "this week", "year 2024", "month 2024-03"])
        ).map(lambda t: f"{t[0]} in {t[1]}"),
        st.tuples(
            st.sampled_from(["top 10", "bottom 20%", "top 2.5%"]),
            v,
            st.one_of(st.none(), st.just("country = 'DE'")),
        ).map(lambda t: f"{t[0]} by {t[1]}{'' if t[2] is None else ' among ' + t[2]}"),
        _names,
        st.sampled_from(
            ["in segment vip", "not in segment vip", "any(orders where amount > 1)", "none(orders)"]
        ),
    )
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" and ", " or ", " AND "]), inner).map("".join),
            inner.map(lambda c: f"not {c}"),
            inner.map(lambda c: f"({c})"),
            st.tuples(inner, st.sampled_from(["union", "intersect", "except"]), inner).map(
                lambda t: f"({t[0]}) {t[1]} ({t[2]})"
            ),
            inner.map(lambda c: f"all(orders where {c})"),
        ),
        max_leaves=6,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_condition_text())
def test_round_trip_random_texts(text: str) -> None:
    try:
        tree = parse(text)
    except SegmentError:
        return  # e.g. "a = b = c" from nesting: not a definition; the printer is only for trees
    printed = to_text(tree)
    assert parse(printed) == tree, printed


# --- errors: line, column, caret ------------------------------------------------------------------

PARSE_ERRORS = [
    # (text, message fragment, line, column)
    ("age >", "expected a value, found end of text", 1, 6),
    ("age > 30 and", "expected a value, found end of text", 1, 13),
    ("name = 'unterminated", "unterminated string literal", 1, 8),
    ('"unterminated = 1', "unterminated quoted name", 1, 1),
    ("age > 30\n  and country = 'DE\n", "unterminated string literal", 2, 17),
    ("age > 30\nand (country = 'DE'", "expected ')'", 2, 20),
    ("age ! 3", "unexpected character '!'", 1, 5),
    ("age > 30 country = 'DE'", "unexpected 'country'", 1, 10),
    ("foo(orders) > 1", "unknown function 'foo'", 1, 1),
    ("x in last ninety days", "expected a whole number after IN LAST", 1, 11),
    ("x in last 9 fortnights", "expected days, weeks, months or years", 1, 13),
    ("x in last 1.5 days", "expected a whole number", 1, 11),
    ("x is maybe", "expected NULL, EMPTY, TRUE or FALSE after IS", 1, 6),
    ("x between 1 or 2", "expected AND in BETWEEN", 1, 13),
    ("x in 1, 2", "'(' to open the IN list", 1, 6),
    ("sum(orders.amount", "')' to close the aggregate", 1, 18),
    ("any(orders where amount > 1", "')' to close ANY", 1, 28),
    ("sum(1)", "expected a relationship path", 1, 5),
    ("x = DATE '2024-13-01'", "not a valid DATE literal", 1, 10),
    ("x not foo", "unexpected 'not'", 1, 3),
    ("x not in last 3 days", "expected '(' to open the IN list, found 'last'", 1, 10),
    ("age > 1 PROJECT count(orders)", "expected AS", 1, 30),
    ("age > 1 PROJECT count(orders) AS 5", "expected a column name after AS", 1, 34),
    ("in segment 'vip'", "expected a segment name", 1, 12),
    ("", "empty definition", 1, 1),
    ("-- only a comment", "empty definition", 1, 18),
    ("1abc = 1", "a name cannot start with a digit", 1, 1),
    ('"" = 1', "empty quoted name", 1, 1),
    ("x = {1}", "expected a Python variable name", 1, 6),
    ("first(orders.channel) = 'x'", "expected BY and the order of the records", 1, 21),
    ("last(orders.channel where x > 1 by d) = 'x'", "BY and the order go before WHERE", 1, 21),
    ("percentile(orders.amount) > 1", "expected ',' and a fraction from 0 to 1", 1, 25),
    ("sum(orders.amount, 2) > 1", "sum() takes one value", 1, 18),
    ("max(orders.amount by order_date) > 1", "max() has no BY", 1, 19),
    ("age > 3 and and", "expected a value, found 'and'", 1, 13),
]


@pytest.mark.parametrize(
    ("text", "fragment", "line", "column"), PARSE_ERRORS, ids=[e[0][:30] or "empty" for e in PARSE_ERRORS]
)
def test_parse_errors_name_line_column_with_caret(text: str, fragment: str, line: int, column: int) -> None:
    with pytest.raises(SegmentError) as info:
        parse(text)
    err = info.value
    assert fragment in err.reason
    assert (err.line, err.column) == (line, column), str(err)
    message = str(err).splitlines()
    assert message[0].startswith(f"line {line}, column {column}: ")
    source_line = text.splitlines()[line - 1] if text.strip() else text
    assert message[1] == f"  {source_line}"
    # The caret sits under the column named.
    assert message[2].index("^") == 2 + column - 1
