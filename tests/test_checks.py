"""Static checks (jupyter_segments.bind.checks): warnings with spans for legal but almost certainly
wrong definitions, one test per check with cases that warn and cases that must not; and no warning on
the oracle suite's definitions except the ones written that way on purpose, listed below."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from test_engine_oracle import CASES, SEGMENT_CASES, segment_source

from jupyter_segments import demo
from jupyter_segments.backends import open_backend
from jupyter_segments.bind import bind, typed
from jupyter_segments.bind.checks import CheckWarning, warnings
from jupyter_segments.dsl import parse
from jupyter_segments.dsl.ast import Node
from jupyter_segments.errors import SegmentError
from jupyter_segments.model import Model


@pytest.fixture(scope="module")
def model() -> Iterator[Model]:
    """The demo's model, declared as the oracle suite declares it (built without a Workspace)."""
    conn = demo.generate(20, seed=1)
    m = Model(open_backend(conn))
    m.set_customer("customers", "customer_id")
    m.add_relationship("support_calls", "customers", "cust_id", "customer_id", False)
    yield m
    conn.close()


def found(model: Model, text: str, source=segment_source) -> list[tuple[str, str]]:
    """(message, the text under its span) for each warning; the span's text occurs once in ``text``,
    so it pins ``pos`` and ``end`` exactly."""
    out = []
    for w in warnings(bind(model, parse(text), source)):
        under = text[w.pos : w.end]
        assert text.count(under) == 1 and text.index(under) == w.pos, (text, w)
        out.append((w.message, under))
    return out


def contradiction(text: str, *parts: str) -> list[tuple[str, str]]:
    """The one contradiction warning of ``parts`` (as written in ``text``), spanning first to last;
    the message names a part without the parentheses around it."""
    names = [f"`{p[1:-1] if p.startswith('(') and p.endswith(')') else p}`" for p in parts]
    if len(names) == 2:
        message = f"{names[0]} and {names[1]} are never both true"
    else:
        message = f"{', '.join(names[:-1])} and {names[-1]} are never all true"
    return [(message, text[text.index(parts[0]) : text.index(parts[-1]) + len(parts[-1])])]


# --- contradictions on one attribute, within one AND ------------------------------------------------

CONTRADICTIONS: list[tuple[str, tuple[str, ...]]] = [
    # numbers: strict and non-strict bounds
    ("age > 50 and age < 30", ("age > 50", "age < 30")),
    ("age > 30 and age <= 30", ("age > 30", "age <= 30")),
    ("age >= 30 and age < 30", ("age >= 30", "age < 30")),
    ("age >= 30 and age <= 30", ()),
    ("age > 30 and age < 30.5", ()),
    ("age = 3 and age != 3", ("age = 3", "age != 3")),
    ("age = 3 and age = 3.0", ()),
    ("age between 10 and 20 and age > 30", ("age between 10 and 20", "age > 30")),
    ("age between 10 and 20 and age > 20", ("age between 10 and 20", "age > 20")),
    ("age between 10 and 20 and age >= 20", ()),
    ("age not between 10 and 20 and age > 12 and age < 18", ("age not between 10 and 20", "age > 12", "age < 18")),
    ("age not between 10 and 20 and age > 12 and age <= 20", ("age not between 10 and 20", "age > 12", "age <= 20")),
    ("age not between 10 and 20 and age > 12 and age < 21", ()),
    ("age in (1, 2) and age = 3", ("age in (1, 2)", "age = 3")),
    ("age in (1, 2) and age != 1 and age != 2", ("age in (1, 2)", "age != 1", "age != 2")),
    ("age in (1, 2) and age != 1", ()),
    ("age not in (1, 2) and age in (1, 2)", ("age not in (1, 2)", "age in (1, 2)")),
    ("age in (1, null) and age = 3", ()),  # a NULL in the list: left alone
    # the smallest set that contradicts, spanning from its first to its last
    ("age > 10 and age > 50 and age < 30", ("age > 50", "age < 30")),
    ("age > 50 and country = 'DE' and age < 30", ("age > 50", "age < 30")),
    ("(age < 10 or age > 20) and age = 15", ("(age < 10 or age > 20)", "age = 15")),
    ("(age < 10 or age > 20) and age = 25", ()),
    ("not (age > 50) and age > 60", ("not (age > 50)", "age > 60")),
    ("(age > 50) intersect (age < 30)", ("(age > 50)", "(age < 30)")),
    ("(age > 50) union (age < 30)", ()),
    ("age > 50 or age < 30", ()),
    ("age > 50 and churn_score < 30", ()),
    # NULL
    ("age is null and age > 3", ("age is null", "age > 3")),
    ("age is null and not (age > 3)", ("age is null", "not (age > 3)")),
    ("age is null and age is not null", ("age is null", "age is not null")),
    ("age is null and age is null", ()),
    ("email is empty and email = 'a@b.c'", ("email is empty", "email = 'a@b.c'")),
    ("email is not empty and email = ''", ("email is not empty", "email = ''")),
    ("email is empty and email is null", ()),
    # strings: different under every collation, ordered alike by every collation
    ("country = 'DE' and country = 'FR'", ("country = 'DE'", "country = 'FR'")),
    ("country = 'DE' and country != 'DE'", ("country = 'DE'", "country != 'DE'")),
    ("country in ('DE', 'FR') and country = 'US'", ("country in ('DE', 'FR')", "country = 'US'")),
    ("country = 'DE' and country = 'de'", ()),  # equal under a case-insensitive collation
    ("country = 'DE' and country = 'DE '", ()),  # equal where trailing spaces pad
    ("city = 'München' and city = 'Munchen'", ()),  # equal under an accent-insensitive collation
    ("city = 'München' and city = 'Berlin'", ("city = 'München'", "city = 'Berlin'")),
    ("city = '東京' and city = '大阪'", ()),  # some collations weigh such characters alike
    ("last_name > 'M' and last_name < 'C'", ("last_name > 'M'", "last_name < 'C'")),
    ("last_name > 'm' and last_name < 'c'", ("last_name > 'm'", "last_name < 'c'")),
    ("last_name > 'm' and last_name < 'C'", ()),  # 'm' < 'C' in some collations, not in others
    ("last_name > 'M-' and last_name < 'C'", ()),  # punctuation is ignored by some collations
    ("last_name >= 'C' and last_name <= 'C'", ()),
    ("last_name < 'C' and last_name = 'DE'", ("last_name < 'C'", "last_name = 'DE'")),
    # dates and timestamps
    ("signup_date > '2024-01-01' and signup_date < '2023-01-01'",
     ("signup_date > '2024-01-01'", "signup_date < '2023-01-01'")),
    ("signup_date before '2024-01-01' and signup_date after '2024-01-01'",
     ("signup_date before '2024-01-01'", "signup_date after '2024-01-01'")),
    ("signup_date >= '2024-01-01' and signup_date <= DATE '2024-01-01'", ()),
    ("signup_date > DATE '2024-01-02' and signup_date < TIMESTAMP '2024-01-01 10:00:00'", ()),
    ("any(support_calls where called_at > '2025-01-01 10:00:00' and called_at <= '2025-01-01 10:00:00')",
     ("called_at > '2025-01-01 10:00:00'", "called_at <= '2025-01-01 10:00:00'")),
    ("any(support_calls where called_at > '2025-01-01 10:00:00' and called_at < '2025-01-01 10:00:01')", ()),
    ("signup_date in last 30 days and signup_date < '2000-01-01'", ()),  # as_of is not known here
    # booleans
    ("newsletter and newsletter = false", ("newsletter", "newsletter = false")),
    ("newsletter and not newsletter", ("newsletter", "not newsletter")),
    ("newsletter = true and newsletter != false", ()),
    # the same aggregate (a count is a whole number)
    ("count(orders) > 5 and count(orders) < 3", ("count(orders) > 5", "count(orders) < 3")),
    ("count(orders) > 2 and count(orders) < 3", ("count(orders) > 2", "count(orders) < 3")),
    ("count(orders) > 2 and count(orders) <= 3", ()),
    ("sum(orders.amount) > 2 and sum(orders.amount) < 3", ()),
    ("sum(orders.amount) > 5 and sum(orders.amount) < 3", ("sum(orders.amount) > 5", "sum(orders.amount) < 3")),
    ("count(orders where status = 'x') > 5 and count(orders) < 3", ()),
    ("count(orders where channel = 'web') > 5 and count(orders where channel = 'web') < 3",
     ("count(orders where channel = 'web') > 5", "count(orders where channel = 'web') < 3")),
    ("age + 1 > 50 and age + 1 < 30", ("age + 1 > 50", "age + 1 < 30")),
    ("age + 1 > 50 and age < 30", ()),
    # within one aggregate's WHERE; a WHERE and the AND around its aggregate are different scopes
    ("count(orders where amount > 100 and amount < 50) >= 1", ("amount > 100", "amount < 50")),
    ("any(orders where status = 'a' and status = 'b')", ("status = 'a'", "status = 'b'")),
    ("any(orders where amount > 100) and none(orders where amount < 50)", ()),
    ("any(orders.order_lines where products.category = 'toys' and products.category = 'books')",
     ("products.category = 'toys'", "products.category = 'books'")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "parts"), CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS])
def test_contradiction_on_one_attribute(model: Model, text: str, parts: tuple[str, ...]) -> None:
    assert found(model, text) == (contradiction(text, *parts) if parts else [])


# --- always true, never true ------------------------------------------------------------------------

SELF = "`{0}` compares `{1}` with itself: "
ALWAYS_TRUE_OR_FALSE: list[tuple[str, list[tuple[str, str]]]] = [
    ("age = age", [(SELF.format("age = age", "age") + "always true (except where `age` is NULL)", "age = age")]),
    ("age <= age", [(SELF.format("age <= age", "age") + "always true (except where `age` is NULL)", "age <= age")]),
    ("age != age", [(SELF.format("age != age", "age") + "never true", "age != age")]),
    ("age < age", [(SELF.format("age < age", "age") + "never true", "age < age")]),
    ("regions.name > regions.name", [(SELF.format("regions.name > regions.name", "regions.name") + "never true",
                                      "regions.name > regions.name")]),
    ("count(orders) = count(orders)",
     [(SELF.format("count(orders) = count(orders)", "count(orders)") + "always true",
       "count(orders) = count(orders)")]),
    ("age = churn_score", []),
    ("count(orders) > count(support_calls)", []),
    ("count(orders where channel = 'web') > count(orders where channel = 'app')", []),
    ("age between 10 and 1", [("`age between 10 and 1` is never true: 10 is above 1 (write the low bound first)",
                               "age between 10 and 1")]),
    ("age not between 10 and 1",
     [("`age not between 10 and 1` is always true (except where `age` is NULL): 10 is above 1 (write the low "
       "bound first)", "age not between 10 and 1")]),
    ("signup_date between '2024-02-01' and '2024-01-01'",
     [("`signup_date between '2024-02-01' and '2024-01-01'` is never true: '2024-02-01' is above '2024-01-01' "
       "(write the low bound first)", "signup_date between '2024-02-01' and '2024-01-01'")]),
    ("last_name between 'M' and 'C'", [("`last_name between 'M' and 'C'` is never true: 'M' is above 'C' (write "
                                        "the low bound first)", "last_name between 'M' and 'C'")]),
    ("last_name between 'b' and 'A'", []),  # mixed case: the order depends on the collation
    ("age between 1 and 10", []),
    ("age between 5 and 5", []),
    ("age between 1 and churn_score", []),
    ("all(orders)", [("`all(orders)` without WHERE is always true", "all(orders)")]),
    ("any(orders where all(order_lines))", [("`all(order_lines)` without WHERE is always true", "all(order_lines)")]),
    ("all(orders) and any(orders)", [("`all(orders)` without WHERE is always true", "all(orders)")]),
    ("any(orders)", []),
    ("none(orders)", []),
    # inside an aggregate's WHERE too
    ("count(orders where amount < amount) = 0", [(SELF.format("amount < amount", "amount") + "never true",
                                                  "amount < amount")]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), ALWAYS_TRUE_OR_FALSE, ids=[c[0] for c in ALWAYS_TRUE_OR_FALSE])
def test_always_true_or_never_true(model: Model, text: str, expected: list[tuple[str, str]]) -> None:
    assert found(model, text) == expected


# --- all() that a customer with no records satisfies ------------------------------------------------

ALONE = "all() is also true for {0} with no {1}; add any({1}) for 'every ..., and at least one'"
ALL_WITHOUT_ANY: list[tuple[str, str | None]] = [
    ("all(orders where status = 'delivered')", "all(orders where status = 'delivered')"),
    ("all(orders where status = 'delivered') or age > 30", "all(orders where status = 'delivered')"),
    ("all(orders where status = 'delivered') and count(orders) >= 0", "all(orders where status = 'delivered')"),
    ("all(orders where status = 'delivered') and any(support_calls)", "all(orders where status = 'delivered')"),
    ("all(orders.order_lines where quantity > 1) and any(orders)", "all(orders.order_lines where quantity > 1)"),
    ("(all(orders where status = 'delivered')) union (any(orders))", "all(orders where status = 'delivered')"),
    ("not (all(orders where status = 'delivered') or none(orders))", None),
    ("not not all(orders where status = 'delivered')", "all(orders where status = 'delivered')"),
    # something beside it that makes sure there is at least one order
    ("all(orders where status = 'delivered') and any(orders)", None),
    ("any(orders) and all(orders where status = 'delivered')", None),
    ("all(orders where status = 'delivered') and any(orders where amount > 5)", None),
    ("all(orders where status = 'delivered') and any(orders.order_lines)", None),
    ("all(orders where status = 'delivered') and not none(orders)", None),
    ("all(orders where status = 'delivered') and count(orders) > 0", None),
    ("all(orders where status = 'delivered') and count(orders) >= 1", None),
    ("all(orders where status = 'delivered') and count(orders) != 0", None),
    ("all(orders where status = 'delivered') and not (count(orders) = 0)", None),
    ("all(orders where status = 'delivered') and sum(orders.amount) > 100", None),
    ("all(orders where status = 'delivered') and min(orders.amount) >= 0", None),
    ("all(orders where status = 'delivered') and max(orders.order_date) after '2025-01-01'", None),
    ("all(orders where status = 'delivered') and (any(orders) or count(orders) > 3)", None),
    ("all(orders where status = 'delivered') and (any(orders) or age > 3)", "all(orders where status = 'delivered')"),
    ("any(orders) and (all(orders where status = 'delivered') or age > 30)", None),
    ("(all(orders where status = 'delivered')) intersect (any(orders))", None),
    ("(any(orders)) except (all(orders where status = 'delivered'))", None),
    ("(all(orders where status = 'delivered')) except (none(orders))", None),
    # a customer with no orders has no min: the right side is NULL, so he is not in it and stays
    ("(all(orders where status = 'delivered')) except (min(orders.amount) < 5)",
     "all(orders where status = 'delivered')"),
    ("(all(orders where status = 'delivered')) except (count(orders) = 0)", None),
    ("all(orders.order_lines where quantity > 1) and any(orders where sum(order_lines.quantity) > 0)", None),
    ("all(orders.order_lines where quantity > 1) and any(orders where any(order_lines))", None),
    # negated: "not every order is delivered" means what it says
    ("not all(orders where status = 'delivered')", None),
    ("none(orders where status = 'x') and not all(orders where status = 'delivered')", None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "span"), ALL_WITHOUT_ANY, ids=[c[0] for c in ALL_WITHOUT_ANY])
def test_all_without_any(model: Model, text: str, span: str | None) -> None:
    warned = [w for w in found(model, text) if w[0].startswith("all() is")]
    if span is None:
        assert warned == []
    else:
        path = span[4 : span.index(" where")]
        assert warned == [(ALONE.format("customers", path), span)]


def test_all_without_any_in_a_nested_scope(model: Model) -> None:
    """In an aggregate's WHERE the records are the scope: orders with no order lines pass all()."""
    text = "any(orders where all(order_lines where quantity > 1))"
    assert found(model, text) == [
        (ALONE.format("orders", "order_lines"), "all(order_lines where quantity > 1)")
    ]
    assert found(model, "any(orders where all(order_lines where quantity > 1) and any(order_lines))") == []
    # any(orders.order_lines) at the customer does not say every order has lines
    text = "any(orders.order_lines) and any(orders where all(order_lines where quantity > 1))"
    assert found(model, text) == [
        (ALONE.format("orders", "order_lines"), "all(order_lines where quantity > 1)")
    ]


# --- a count compared with a value it never takes ---------------------------------------------------

NEVER = "`{}` is never true: a count is a whole number, 0 or more"
ALWAYS = "`{}` is always true: a count is a whole number, 0 or more"
COUNT_VALUES: list[tuple[str, str | None]] = [
    ("count(orders) < 0", NEVER),
    ("count(orders) <= -1", NEVER),
    ("count(orders) = -1", NEVER),
    ("count(orders) = 2.5", NEVER),
    ("count(orders) > 2 and count(orders) = 2.5", NEVER),
    ("0 > count(orders)", NEVER),
    ("count(orders) between -3 and -1", NEVER),
    ("count(orders) between 2.1 and 2.9", NEVER),
    ("count(orders) in (-1, 0.5)", NEVER),
    ("count(orders) is null", NEVER),
    ("count(orders where status = 'x') < 0", NEVER),
    ("count(orders.discount) < 0", NEVER),
    ("count_distinct(orders.channel) < 0", NEVER),
    ("count_distinct(orders.channel) = 1.5", NEVER),
    ("count(orders) >= 0", ALWAYS),
    ("count(orders) > -1", ALWAYS),
    ("count(orders) > -0.5", ALWAYS),
    ("count(orders) != 2.5", ALWAYS),
    ("count(orders) is not null", ALWAYS),
    ("count(orders) not between -5 and -1", ALWAYS),
    ("count(orders) not in (-1)", ALWAYS),
    ("count(orders) >= 1.5", None),  # 2, 3, ...
    ("count(orders) > 2.5", None),
    ("count(orders) = 0", None),
    ("count(orders) < 1", None),
    ("count(orders) <= 0", None),
    ("count(orders) between 0 and 0.5", None),
    ("count(orders) > age / 3", None),
    ("sum(orders.amount) < 0", None),  # a sum may be negative
    ("avg(orders.amount) is null", None),
    ("min(orders.amount) = 2.5", None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "template"), COUNT_VALUES, ids=[c[0] for c in COUNT_VALUES])
def test_count_compared_with_a_value_it_never_takes(model: Model, text: str, template: str | None) -> None:
    atom = "count" + text.split(" and count")[-1] if " and count" in text else text  # the last one
    assert found(model, text) == ([(template.format(atom), atom)] if template else [])


# --- PROJECT columns no member fills ----------------------------------------------------------------

PROJECT: list[tuple[str, list[tuple[str, str]]]] = [
    ("none(orders) PROJECT sum(orders.amount) AS spend",
     [("PROJECT column `spend` is always 0: the definition requires `none(orders)`", "sum(orders.amount) AS spend")]),
    ("none(orders) and age > 30 PROJECT avg(orders.amount) AS a, count(orders.order_lines) AS n, age AS years",
     [("PROJECT column `a` is always empty: the definition requires `none(orders)`", "avg(orders.amount) AS a"),
      ("PROJECT column `n` is always 0: the definition requires `none(orders)`", "count(orders.order_lines) AS n")]),
    ("count(orders) = 0 PROJECT max(orders.order_date) AS last",
     [("PROJECT column `last` is always empty: the definition requires `count(orders) = 0`",
       "max(orders.order_date) AS last")]),
    ("not any(orders) PROJECT sum(orders.amount) AS spend",
     [("PROJECT column `spend` is always 0: the definition requires `any(orders)`", "sum(orders.amount) AS spend")]),
    ("(age > 30) except (any(orders)) PROJECT sum(orders.amount) AS spend",
     [("PROJECT column `spend` is always 0: the definition requires `any(orders)`", "sum(orders.amount) AS spend")]),
    ("none(orders where status = 'x') PROJECT count(orders where status = 'x') AS n",
     [("PROJECT column `n` is always 0: the definition requires `none(orders where status = 'x')`",
       "count(orders where status = 'x') AS n")]),
    ("count(orders where status = 'x') <= 0 PROJECT min(orders.amount where status = 'x') AS m",
     [("PROJECT column `m` is always empty: the definition requires `count(orders where status = 'x') <= 0`",
       "min(orders.amount where status = 'x') AS m")]),
    ("age > 3 PROJECT sum(orders.amount where amount > 5 and amount < 3) AS s",
     [("PROJECT column `s` is always 0: its WHERE is never true", "sum(orders.amount where amount > 5 and amount < 3) AS s"),
      ("`amount > 5` and `amount < 3` are never both true", "amount > 5 and amount < 3")]),
    ("age > 3 PROJECT count(orders where amount < amount) AS n",
     [("PROJECT column `n` is always 0: its WHERE is never true", "count(orders where amount < amount) AS n"),
      ("`amount < amount` compares `amount` with itself: never true", "amount < amount")]),
    # members may have such records: no warning
    ("none(orders where status = 'x') PROJECT sum(orders.amount) AS spend", []),
    ("none(orders where status = 'x') PROJECT count(orders where status = 'y') AS n", []),
    ("none(orders) or age > 30 PROJECT sum(orders.amount) AS spend", []),
    ("not none(orders) PROJECT sum(orders.amount) AS spend", []),
    ("none(support_calls) PROJECT sum(orders.amount) AS spend", []),
    ("none(orders.order_lines) PROJECT sum(orders.amount) AS spend", []),
    ("count(orders) < 2 PROJECT sum(orders.amount) AS spend", []),
    ("count(orders.discount) = 0 PROJECT count(orders) AS n", []),
    ("none(orders) PROJECT age AS years, sum(support_calls.duration_minutes) AS talk", []),
    ("age > 3 PROJECT sum(orders.amount where amount > 5 or amount < 3) AS s", []),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PROJECT, ids=[c[0] for c in PROJECT])
def test_project_column_never_filled(model: Model, text: str, expected: list[tuple[str, str]]) -> None:
    assert sorted(found(model, text), key=lambda w: text.index(w[1])) == expected


# --- what is not read, what is not known, how a warning reads ---------------------------------------


def test_measures_and_referenced_segments_are_not_checked(model: Model) -> None:
    """Their nodes point into their own texts: only the user's text is warned on."""
    segments = {"bad": "age > 50 and age < 30", "lonely": "all(orders where status = 'x')"}
    model.measures["odd_count"] = "count(orders where amount > 5 and amount < 3)"
    try:
        assert found(model, "in segment bad", segments.__getitem__) == []
        assert found(model, "in segment lonely and not in segment bad", segments.__getitem__) == []
        assert found(model, "odd_count >= 0") == []
        # a measure used twice in the user's text is one attribute of the customer
        assert found(model, "odd_count > 5 and odd_count < 3") == contradiction(
            "odd_count > 5 and odd_count < 3", "odd_count > 5", "odd_count < 3"
        )
    finally:
        del model.measures["odd_count"]


@dataclasses.dataclass(frozen=True)
class Someday(Node):
    """A node type the checks do not know (as the binder may grow), holding a condition."""

    operand: typed.Cond


def test_unknown_node_types_are_walked_through(model: Model) -> None:
    text = "age > 50 and age < 30 and all(orders where status = 'x')"
    bound = bind(model, parse(text))
    wrapped = dataclasses.replace(bound, condition=Someday(bound.condition, pos=0, end=len(text)))
    # The contradiction inside is found; all() under a node of unknown meaning is left alone.
    assert [w.message for w in warnings(wrapped)] == ["`age > 50` and `age < 30` are never both true"]
    # An unknown node inside an AND is no constraint on anything.
    assert isinstance(bound.condition, typed.And)
    items = (Someday(bound.condition.items[0], pos=0, end=8), *bound.condition.items[1:])
    inside = dataclasses.replace(bound, condition=dataclasses.replace(bound.condition, items=items))
    assert [w.message for w in warnings(inside)] == [ALONE.format("customers", "orders")]


def test_a_warning_reads_like_an_error(model: Model) -> None:
    text = "country = 'DE'\n  and age > 50 and age < 30"
    (w,) = warnings(bind(model, parse(text)))
    assert (w.message, w.pos, w.end, w.line, w.column) == (
        "`age > 50` and `age < 30` are never both true",
        21,
        42,
        2,
        7,
    )
    assert w == CheckWarning("`age > 50` and `age < 30` are never both true", 21, 42)
    assert str(w) == (
        "line 2, column 7: `age > 50` and `age < 30` are never both true\n"
        "    and age > 50 and age < 30\n"
        "        ^^^^^^^^^^^^^^^^^^^^^"
    )
    # one piece of code draws the carets of both
    assert str(w) == str(SegmentError(w.message, text=text, pos=w.pos, end=w.end))
    assert str(CheckWarning("no text", 0, 3)) == "no text"


# --- the oracle suite: no warning, except where a case is written that way on purpose ---------------

COUNT_AT_LEAST_0 = [(ALWAYS.format("count(orders) >= 0"), "count(orders) >= 0")]
ON_PURPOSE: dict[str, list[tuple[str, str]]] = {
    # all() alone: these cases test that all() holds for customers with no records
    "all": [(ALONE.format("customers", "orders"), "all(orders where status = 'delivered')")],
    "all_nullable": [(ALONE.format("customers", "support_calls"), "all(support_calls where escalated = false)")],
    "all_bare": [("`all(orders)` without WHERE is always true", "all(orders)")],
    # `count(orders) >= 0` is there to give the compiler a shape to choose (via_parent)
    "via_parent_sum": COUNT_AT_LEAST_0,
    "via_parent_min_max": COUNT_AT_LEAST_0,
    "via_parent_none": COUNT_AT_LEAST_0,
    "via_parent_mixed": COUNT_AT_LEAST_0,
    "via_parent_all": COUNT_AT_LEAST_0,
    "via_parent_count_zero": [(ALWAYS.format("count(orders where count(order_lines) >= 1) >= 0"),
                               "count(orders where count(order_lines) >= 1) >= 0")],
}  # fmt: skip

ORACLE = [(c[0], c[1]) for c in CASES + SEGMENT_CASES]


@pytest.mark.parametrize(("case", "text"), ORACLE, ids=[c[0] for c in ORACLE])
def test_no_warning_on_the_oracle_suite(model: Model, case: str, text: str) -> None:
    assert found(model, text) == ON_PURPOSE.get(case, [])


def test_on_purpose_cases_exist() -> None:
    assert set(ON_PURPOSE) <= {c[0] for c in ORACLE}
