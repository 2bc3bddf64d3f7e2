"""The segment definition tree: what the parser builds, the builder edits and the printer prints.

Every node carries ``pos``/``end`` (character offsets into the source text) so that binding errors can
point at the fault. Nodes are frozen dataclasses: transformations build new trees.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal as TLiteral
from typing import Union, cast

AggFunc = TLiteral[
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "median",
    "percentile",
    "mode",
    "first",
    "last",
    "stddev",
]
ExistsKind = TLiteral["any", "none", "all"]
SetOpKind = TLiteral["union", "intersect", "except"]
TimeUnit = TLiteral["day", "week", "month", "year"]
IntervalUnit = TLiteral["day", "week", "month", "year", "hour", "minute"]
RankDirection = TLiteral["top", "bottom"]
PeriodUnit = TLiteral["week", "month", "quarter", "year"]


@dataclass(frozen=True)
class Node:
    pos: int = field(default=0, compare=False, kw_only=True)
    end: int = field(default=0, compare=False, kw_only=True)


# --- values -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal(Node):
    """A number, string, boolean, NULL or DATE literal."""

    value: int | float | str | bool | dt.date | dt.datetime | None


@dataclass(frozen=True)
class Param(Node):
    """``{name}``: a value taken from the notebook namespace and bound as a literal before compiling."""

    name: str


@dataclass(frozen=True)
class Name(Node):
    """An attribute, possibly through to-one steps: ``age``, ``regions.name``, ``products.category``."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class Aggregate(Node):
    """``sum(orders.amount where status != 'returned')``; ``count(orders)`` has no column.

    With an expression of the records instead of a path (``sum(order_lines.quantity *
    order_lines.unit_price)``), ``path`` is empty and ``value`` holds the expression as written.

    ``first(orders.channel by order_date)`` / ``last(...)``: ``by`` orders the records (read on them,
    like ``where``); ``percentile(orders.amount, 0.9)``: ``fraction`` is the expression after the comma
    (the binder checks it is a number from 0 to 1).
    """

    func: AggFunc
    path: tuple[str, ...]  # relationship steps, then the column (if any): resolved by the binder
    where: Expr | None = None
    value: Expr | None = None
    by: Expr | None = None
    fraction: Expr | None = None


@dataclass(frozen=True)
class Func(Node):
    """``lower(email)``, ``round(amount, 1)``, ``days_between(signup_date, order_date)``: one of the
    fixed set of functions (``jupyter_segments.bind.functions``)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class When(Node):
    condition: Expr
    value: Expr


@dataclass(frozen=True)
class Case(Node):
    """``case when country = 'DE' then amount * 1.19 else amount end``."""

    whens: tuple[When, ...]
    default: Expr | None = None


@dataclass(frozen=True)
class Interval(Node):
    """``30 days`` in ``signup_date + 30 days``: a span added to or taken from a date or timestamp."""

    amount: int
    unit: IntervalUnit


@dataclass(frozen=True)
class Rank(Node):
    """``top 10% by sum(orders.amount) among country = 'DE'``: the first customers by a value.

    Ranked descending (top) or ascending (bottom) among the customers where ``among`` is TRUE and the
    value is not NULL; ties go to the smaller customer key. ``percent``: ``amount`` is a percentage of
    that population, rounded up.
    """

    direction: RankDirection
    amount: int | float
    percent: bool
    by: Expr
    among: Expr | None = None


@dataclass(frozen=True)
class Arith(Node):
    op: TLiteral["+", "-", "*", "/"]
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg(Node):
    operand: Expr


# --- conditions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare(Node):
    op: TLiteral["=", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Between(Node):
    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(frozen=True)
class InList(Node):
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull(Node):
    operand: Expr
    negated: bool = False


@dataclass(frozen=True)
class Like(Node):
    operand: Expr
    pattern: Expr
    case_insensitive: bool = False  # ILIKE
    negated: bool = False


@dataclass(frozen=True)
class TextMatch(Node):
    """Friendly, case-insensitive ``contains`` / ``starts with`` / ``ends with``."""

    kind: TLiteral["contains", "starts_with", "ends_with"]
    operand: Expr
    value: Expr
    negated: bool = False


@dataclass(frozen=True)
class IsEmpty(Node):
    """``x is empty``: NULL or ''."""

    operand: Expr
    negated: bool = False


@dataclass(frozen=True)
class InLast(Node):
    """``x in last 90 days``: from as_of minus the span up to as_of."""

    operand: Expr
    amount: int
    unit: TimeUnit


@dataclass(frozen=True)
class InPeriod(Node):
    """A calendar period: ``x in this month`` (its first day up to as_of), ``x in previous year`` (the
    whole period before), ``x in year 2024``, ``x in month 2024-03``. Weeks start on Monday."""

    operand: Expr
    which: TLiteral["this", "previous", "fixed"]
    unit: PeriodUnit
    year: int | None = None  # fixed periods: the year, and the month for a month
    month: int | None = None


@dataclass(frozen=True)
class BeforeAfter(Node):
    kind: TLiteral["before", "after"]
    operand: Expr
    value: Expr


@dataclass(frozen=True)
class Exists(Node):
    """``any(orders where amount > 100)``, ``none(...)``, ``all(...)``."""

    kind: ExistsKind
    path: tuple[str, ...]
    where: Expr | None = None


@dataclass(frozen=True)
class SegmentRef(Node):
    """``in segment vip`` / ``not in segment vip``."""

    name: str
    negated: bool = False


@dataclass(frozen=True)
class And(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True)
class BoolTest(Node):
    """A bare boolean attribute used as a condition: ``newsletter``, ``where escalated``."""

    operand: Expr


@dataclass(frozen=True)
class SetOp(Node):
    """``(a) UNION (b)``: combines member sets, left to right."""

    op: SetOpKind
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Projection(Node):
    expr: Expr
    alias: str


@dataclass(frozen=True)
class Definition(Node):
    """A whole segment: a condition (possibly set operations of groups) and projected columns."""

    condition: Expr
    projections: tuple[Projection, ...] = ()
    text: str = field(default="", compare=False)


Expr = Union[
    Literal,
    Param,
    Name,
    Aggregate,
    Func,
    Case,
    When,
    Interval,
    Arith,
    Neg,
    Rank,
    Compare,
    Between,
    InList,
    IsNull,
    Like,
    TextMatch,
    IsEmpty,
    InLast,
    InPeriod,
    BeforeAfter,
    Exists,
    SegmentRef,
    And,
    Or,
    Not,
    BoolTest,
    SetOp,
]

CONDITION_TYPES = (
    Rank,
    Compare,
    Between,
    InList,
    IsNull,
    Like,
    TextMatch,
    IsEmpty,
    InLast,
    InPeriod,
    BeforeAfter,
    Exists,
    SegmentRef,
    And,
    Or,
    Not,
    BoolTest,
    SetOp,
)


def children(node: Node) -> Iterator[Expr]:
    """The nodes directly inside ``node``, in field order (the items of tuple fields one by one)."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield cast(Expr, value)
        elif isinstance(value, tuple):
            yield from (cast(Expr, item) for item in value if isinstance(item, Node))
