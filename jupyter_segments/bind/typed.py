"""The typed tree: a definition whose names are resolved against the model and whose values are typed.

The binder builds it from the parsed tree; the compiler, static checks and per-customer explanations
read it. Nothing here knows SQL. Every node keeps the ``pos``/``end`` of the text it came from (a
measure's or a referenced segment's nodes point into that definition's own text).

What a name became:
- an attribute: ``Col`` with the to-one steps that reach its table from the scope's table;
- a saved measure: ``MeasureRef`` with the measure's own typed value;
- a relationship path of an aggregate or ``any``/``none``/``all``: leading to-one ``steps``, then the
  to-many ``many`` steps whose records the aggregate reads (its WHERE and value are typed in their scope);
- a saved segment: ``SegmentRef`` with that segment's typed condition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Union

from ..dsl.ast import AggFunc, ExistsKind, Node, SetOpKind, TimeUnit
from ..model import Step

# An attribute type (number, string, boolean, date, timestamp, other) or "null" for a bare NULL.
ValueType = str

# --- values -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lit(Node):
    """A literal; a quoted date compared with a date or timestamp is already a ``date``/``datetime``."""

    value: int | float | str | bool | dt.date | dt.datetime | None
    type: ValueType


@dataclass(frozen=True)
class Col(Node):
    """An attribute of the scope's table, or of a table reached from it by to-one ``steps``."""

    steps: tuple[Step, ...]
    column: str  # as the database spells it
    type: ValueType
    flag: bool = False  # a number column of only 0 and 1 (a boolean as SQLite stores it)
    stored: ValueType | None = None  # the database's type when the user declared another (ws.types)


@dataclass(frozen=True)
class MeasureRef(Node):
    """A saved measure used as an attribute of the customer: its expression, typed in its own text."""

    name: str
    value: Value

    @property
    def type(self) -> ValueType:
        return self.value.type


@dataclass(frozen=True)
class Agg(Node):
    """``func`` over the records at the end of ``steps`` (to-one) then ``many`` (to-many, at least one).

    ``value`` (None for ``count(orders)``) and ``where`` are typed in the records' scope, and so is
    ``by``, the order of first/last; ``key`` is the records' key column that breaks first/last's ties
    (None when the model knows none: then the smaller value wins). ``fraction``: percentile's, 0.5
    for median.
    """

    func: AggFunc
    steps: tuple[Step, ...]
    many: tuple[Step, ...]
    value: Value | None
    where: Cond | None
    type: ValueType
    by: Value | None = None
    fraction: float | None = None
    key: str | None = None


@dataclass(frozen=True)
class Arith(Node):
    op: str  # + - * /
    left: Value
    right: Value
    type: ValueType = "number"


@dataclass(frozen=True)
class Neg(Node):
    operand: Value
    type: ValueType = "number"


@dataclass(frozen=True)
class Func(Node):
    """A function of the fixed set (``bind/functions.py``), its arguments checked."""

    name: str
    args: tuple[Value, ...]
    type: ValueType


@dataclass(frozen=True)
class When(Node):
    condition: Cond
    value: Value


@dataclass(frozen=True)
class Case(Node):
    whens: tuple[When, ...]
    default: Value | None
    type: ValueType


@dataclass(frozen=True)
class DateShift(Node):
    """``operand + amount unit`` (``amount`` negative for ``-``): a date or timestamp moved in time."""

    operand: Value
    amount: int
    unit: str  # day, week, month, year, hour, minute
    type: ValueType


# --- conditions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare(Node):
    op: str  # = != < <= > >=
    left: Value
    right: Value


@dataclass(frozen=True)
class Between(Node):
    operand: Value
    low: Value
    high: Value
    negated: bool = False


@dataclass(frozen=True)
class InList(Node):
    operand: Value
    items: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull(Node):
    operand: Value
    negated: bool = False


@dataclass(frozen=True)
class IsEmpty(Node):
    operand: Value
    negated: bool = False


@dataclass(frozen=True)
class Like(Node):
    operand: Value
    pattern: Value
    case_insensitive: bool = False
    negated: bool = False


@dataclass(frozen=True)
class TextMatch(Node):
    """``contains`` / ``starts with`` / ``ends with`` a literal ``text`` (case-insensitive)."""

    kind: str  # contains, starts_with, ends_with
    operand: Value
    text: str
    negated: bool = False


@dataclass(frozen=True)
class InLast(Node):
    operand: Value  # a date or timestamp
    amount: int
    unit: TimeUnit


@dataclass(frozen=True)
class InPeriod(Node):
    """``operand`` in a calendar period (see ``dsl.ast.InPeriod``)."""

    operand: Value  # a date or timestamp
    which: str  # this, previous, fixed
    unit: str  # week, month, quarter, year
    year: int | None = None
    month: int | None = None


@dataclass(frozen=True)
class BeforeAfter(Node):
    kind: str  # before, after
    operand: Value
    value: Value


@dataclass(frozen=True)
class Exists(Node):
    """``any``/``none``/``all`` over the records at the end of ``steps`` then ``many``."""

    kind: ExistsKind
    steps: tuple[Step, ...]
    many: tuple[Step, ...]
    where: Cond | None


@dataclass(frozen=True)
class SegmentRef(Node):
    """``in segment name``: the saved segment's condition, typed in its own text."""

    name: str
    condition: Cond
    negated: bool = False


@dataclass(frozen=True)
class StoredKeys(Node):
    """The customer's key is a row of ``table`` (a static segment's stored members, a table in the
    customers' database): ``columns`` of the table, in the order of the key columns ``keys``. A segment
    source gives it instead of a text (without ``keys``, which the binder fills in)."""

    table: str
    columns: tuple[str, ...]
    keys: tuple[Col, ...] = ()


@dataclass(frozen=True)
class And(Node):
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Cond


@dataclass(frozen=True)
class BoolTest(Node):
    """A boolean value used as a condition."""

    operand: Value


@dataclass(frozen=True)
class Rank(Node):
    """``top 10% by <by> among <among>``: customers ranked by a customer-level value."""

    direction: str  # top, bottom
    amount: int | float
    percent: bool
    by: Value
    among: Cond | None


@dataclass(frozen=True)
class SetOp(Node):
    op: SetOpKind
    left: Cond
    right: Cond


# --- a whole definition -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection(Node):
    alias: str
    value: Value


@dataclass(frozen=True)
class Definition(Node):
    """A bound definition: its condition and projections, typed; ``text`` is the source."""

    condition: Cond
    projections: tuple[Projection, ...] = ()
    text: str = ""


Value = Union[Lit, Col, MeasureRef, Agg, Arith, Neg, Func, Case, DateShift]
Cond = Union[
    Rank,
    Compare,
    Between,
    InList,
    IsNull,
    IsEmpty,
    Like,
    TextMatch,
    InLast,
    InPeriod,
    BeforeAfter,
    Exists,
    SegmentRef,
    StoredKeys,
    And,
    Or,
    Not,
    BoolTest,
    SetOp,
]
Typed = Union[Value, Cond]


def path(node: Agg | Exists) -> tuple[Step, ...]:
    """Every step of an aggregate's or test's path: the to-one steps, then the to-many ones."""
    return node.steps + node.many
