"""The builder's state as plain data, and its conversion to and from the definition tree.

A segment is a list of groups combined left to right by union / intersect / except. A group is a tree of
AND/OR nodes nested to any depth whose leaves are condition rows. A row is either a structured condition
(entity, attribute, operator, value; for a related entity also a quantifier or an aggregate comparison) or
a DSL text row holding anything the rows cannot show, so nothing is ever dropped.

``from_definition`` turns a tree into state: each condition is matched to a row and the row converted back;
only if that gives the identical condition is the row used, otherwise the condition is kept as text. So
opening a definition and saving it unchanged always gives back the same tree.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from ..dsl import ast as A
from ..dsl import parse_condition, to_text
from ..errors import SegmentError


class RowError(SegmentError):
    """An error in one row's DSL text: keeps the row (so the builder can mark it) and the parser's error
    (so the message shows the row's text with a caret under the fault)."""

    def __init__(self, what: str, row: Row, cause: SegmentError) -> None:
        super().__init__(cause.reason, text=cause.text, pos=cause.pos, hint=cause.hint)
        self.args = (f"{what}: {super().__str__()}",)  # "Condition 2 (text): line 1, column 5: ..."
        self.row = row
        self.cause = cause


# --- operators by attribute type ---------------------------------------------------------------------

NUMBER_OPS = ["=", "!=", "<", "<=", ">", ">=", "between", "is empty", "is not empty"]
STRING_OPS = [
    "is", "is not", "contains", "does not contain", "starts with", "ends with", "in list", "not in list",
    "is empty", "is not empty",
]  # fmt: skip
DATE_OPS = [
    "before", "after", "between", "in last", "in this", "in previous", "in year", "in month",
    "is empty", "is not empty",
]  # fmt: skip
BOOL_OPS = ["is true", "is false"]
OPS_BY_TYPE = {
    "number": NUMBER_OPS,
    "string": STRING_OPS,
    "date": DATE_OPS,
    "timestamp": DATE_OPS,
    "boolean": BOOL_OPS,
    "other": ["is empty", "is not empty"],
}
NO_VALUE_OPS = {"is empty", "is not empty", "is true", "is false"}
TWO_VALUE_OPS = {"between", "in last"}  # in last: value = amount, value2 = unit
UNITS = ["days", "weeks", "months", "years"]
PERIOD_OPS = {"in this": "this", "in previous": "previous"}  # value2 = the period
PERIODS = ["week", "month", "quarter", "year"]
UNIT_OPS = {"in this", "in previous"}  # the value is a unit picked from a list, not typed
# Functions a row may apply to its attribute (``lower(email)``, ``year(signup_date)``): one argument,
# offered by the attribute's type; the row's operators follow the function's result type.
FUNCS_BY_TYPE = {
    "string": ["lower", "upper", "trim", "length"],
    "date": ["year", "quarter", "month", "day", "weekday"],
    "timestamp": ["year", "quarter", "month", "day", "weekday", "date"],
    "number": ["abs", "round", "floor", "ceil"],
}
FUNC_RESULT = {"lower": "string", "upper": "string", "trim": "string", "length": "number", "date": "date"}
QUANTIFIERS = {
    "any": "any record",
    "all": "all records",
    "none": "no record",
    "count": "count of records",
    "sum": "sum of",
    "avg": "average of",
    "min": "minimum of",
    "max": "maximum of",
    "median": "median of",
    "percentile": "percentile of",
    "stddev": "std. deviation of",
    "mode": "most frequent",
    "first": "first (earliest) of",
    "last": "last (latest) of",
}
AGG_FUNCS = ("count", "sum", "avg", "min", "max", "median", "percentile", "stddev", "mode", "first", "last")
NUMBER_AGGS = ("sum", "avg", "min", "max", "median", "percentile", "stddev")  # take and give numbers
TYPED_AGGS = ("mode", "first", "last")  # take any column; compared with a value of its type
RANK_DIRECTIONS = ["top", "bottom"]
COMPARE_OPS = ["=", "!=", "<", "<=", ">", ">=", "between"]
SET_OPS = ["union", "intersect", "except"]
PROJECTION_FUNCS = ["count", "count_distinct", "sum", "avg", "min", "max"]

Path = tuple[str, ...]


# --- plain-data state ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One condition. ``entity`` is () for the customer, else a to-many relationship path."""

    entity: Path = ()
    attribute: Path = ()  # the attribute (to-one steps allowed), or () for "no filter" on a related entity
    op: str = ""
    value: Any = None
    value2: Any = None
    quantifier: str = "any"  # related entities only: any / all / none / count / sum / avg / min / max
    agg_attribute: str = ""  # the column summed / averaged / ...
    agg_op: str = ">="
    agg_value: Any = None
    agg_value2: Any = None
    func: str = ""  # a function applied to the attribute (FUNCS_BY_TYPE), or "" for the attribute itself
    agg_fraction: Any = None  # percentile: the fraction, 0 to 1
    agg_by: str = ""  # first / last: the column ordering the records
    rank: str = ""  # "top" / "bottom": a ranking row (``top 10% by sum(orders.amount)``)
    rank_amount: Any = None
    rank_percent: bool = False
    text: str | None = None  # a DSL text row when set

    @property
    def is_text(self) -> bool:
        return self.text is not None

    @property
    def is_blank(self) -> bool:
        return not self.is_text and not self.rank and not self.entity and not self.attribute


@dataclass
class Node:
    """AND / OR over rows and nested nodes."""

    op: str = "and"
    items: list[Row | Node] = field(default_factory=lambda: [Row()])


@dataclass
class Group:
    root: Node = field(default_factory=Node)
    combine: str = "union"  # how this group joins the groups above it (ignored for the first)


@dataclass
class ProjectionRow:
    func: str = "sum"
    entity: Path = ()
    attribute: str = ""
    alias: str = ""
    text: str | None = None  # an expression the rows cannot show, kept as DSL text


@dataclass
class BuilderState:
    groups: list[Group] = field(default_factory=lambda: [Group()])
    projections: list[ProjectionRow] = field(default_factory=list)


# --- the schema the rows are checked against --------------------------------------------------------------


class Schema:
    """What the model offers the builder: entity paths, attributes and their types."""

    def __init__(self, model: Any, max_depth: int = 3) -> None:
        self.model = model
        self.customer: str = model.customer_entity().name
        self._paths: dict[Path, str] | None = None
        self.max_depth = max_depth

    def entity_paths(self) -> dict[Path, str]:
        """``{(): customers, ("orders",): orders, ("orders", "order_lines"): order_lines, ...}``.

        Only to-many chains: to-one neighbours (regions) are offered as attributes (``regions.name``).
        """
        if self._paths is None:
            paths: dict[Path, str] = {(): self.customer}
            frontier: list[tuple[Path, str]] = [((), self.customer)]
            for _ in range(self.max_depth):
                nxt = []
                for path, entity in frontier:
                    for name, step in sorted(self.model.steps_from(entity).items()):
                        seen = {self.customer, *(paths[path[: i + 1]] for i in range(len(path)))}
                        if step.to_many and step.target not in seen:
                            paths[(*path, name)] = step.target
                            nxt.append(((*path, name), step.target))
                frontier = nxt
            self._paths = paths
        return self._paths

    def entity_of(self, path: Path) -> str:
        paths = self.entity_paths()
        if path not in paths:
            raise SegmentError(f"'{'.'.join(path)}' is not a relationship path from {self.customer}")
        return paths[path]

    def attributes(self, path: Path) -> dict[Path, str]:
        """Attributes usable in a condition on the entity at ``path``: own columns, to-one neighbours'
        columns (``regions.name``) and, for the customer, measures."""
        entity = self.model.entity(self.entity_of(path))
        found: dict[Path, str] = {(c.name,): c.type for c in entity.columns.values()}
        for name, step in sorted(self.model.steps_from(entity.name).items()):
            if not step.to_many:
                for c in self.model.entity(step.target).columns.values():
                    found.setdefault((name, c.name), c.type)
        if not path:
            for m in sorted(self.model.all_measures()):
                found.setdefault((m,), "number")
        return found

    def key_columns(self, entity_name: str) -> set[str]:
        """The entity's key and the columns its relationships join on (ids nobody filters by)."""
        entity = self.model.entity(entity_name)
        keys = set(entity.keys)
        for step in self.model.steps_from(entity_name).values():
            keys.update(step.source_columns)
        return keys

    def attribute_choices(self, path: Path) -> list[tuple[str, Path, str]]:
        """(label, attribute, type) for the picker, grouped by entity: the entity's own columns, then
        each to-one neighbour's (``regions › name``), then measures; keys and join columns last."""
        entity_name = self.entity_of(path)
        types = self.attributes(path)
        keys = self.key_columns(entity_name)
        own: list[tuple[str, Path, str]] = []
        related: list[tuple[str, Path, str]] = []
        measures: list[tuple[str, Path, str]] = []
        last: list[tuple[str, Path, str]] = []
        for attr, kind in types.items():
            choice: tuple[str, Path, str]
            if len(attr) == 2:
                neighbour = self.model.steps_from(entity_name)[attr[0]].target
                choice = (f"{attr[0]} › {attr[1]}", attr, kind)
                (last if attr[1] in self.key_columns(neighbour) else related).append(choice)
            elif attr[0] in self.model.entity(entity_name).columns:
                choice = (f"{entity_name} › {attr[0]}", attr, kind)
                (last if attr[0] in keys else own).append(choice)
            else:
                measures.append((f"measure › {attr[0]}", attr, kind))
        return own + related + measures + last

    def attr_type(self, path: Path, attribute: Path) -> str:
        types = self.attributes(path)
        if attribute not in types:
            entity = self.entity_of(path)
            raise SegmentError(f"unknown attribute '{'.'.join(attribute)}' on {entity}")
        return types[attribute]

    def columns(self, path: Path) -> dict[str, str]:
        """The own columns of the entity at ``path`` and their types (what mode / first / last read)."""
        entity = self.model.entity(self.entity_of(path))
        return {c.name: c.type for c in entity.columns.values()}

    def number_columns(self, path: Path) -> list[str]:
        entity = self.model.entity(self.entity_of(path))
        numbers = [c.name for c in entity.columns.values() if c.type == "number"]
        # Keys and foreign keys are numbers too, but nobody sums them: offer measures of amount first.
        return sorted(numbers, key=lambda c: c.lower() == "id" or c.lower().endswith("_id"))


# --- values ----------------------------------------------------------------------------------------------

_INT = re.compile(r"^[+-]?\d+$")


# Set while a draft's text is written: a value that does not fit its type is kept as the text typed
# (a string literal) so the draft reads as the DSL the user meant, not as a list of words.
_AS_TYPED: contextvars.ContextVar[bool] = contextvars.ContextVar("as_typed", default=False)


def coerce(value: Any, attr_type: str, what: str) -> Any:
    """A widget value (usually text) as the Python value for a literal of ``attr_type``."""
    try:
        return _coerce(value, attr_type, what)
    except SegmentError:
        if _AS_TYPED.get() and isinstance(value, str) and value.strip():
            return value.strip()
        raise


def _coerce(value: Any, attr_type: str, what: str) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            raise SegmentError(f"{what}: enter a value")
    elif value is None:
        raise SegmentError(f"{what}: enter a value")
    if attr_type == "number":
        if isinstance(value, bool):
            raise SegmentError(f"{what}: '{value}' is not a number")
        if isinstance(value, (int, float)):
            return value
        text = str(value).replace(",", "").replace("_", "")
        try:
            return int(text) if _INT.match(text) else float(text)
        except ValueError:
            raise SegmentError(f"{what}: '{value}' is not a number") from None
    if attr_type in ("date", "timestamp"):
        if isinstance(value, (dt.date, dt.datetime)):
            return value
        try:
            text = str(value)
            return dt.date.fromisoformat(text) if len(text) <= 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            raise SegmentError(f"{what}: '{value}' is not a date; write it as YYYY-MM-DD") from None
    if attr_type == "boolean":
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1", "yes")
    return value if isinstance(value, str) else str(value)


def display_value(value: Any) -> str:
    """A value as the text a widget shows for it."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(display_value(v) for v in value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def split_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


# --- state -> tree ---------------------------------------------------------------------------------------


def _lit(v: Any) -> A.Literal:
    return A.Literal(v)


def _simple(operand: A.Expr, op: str, value: Any, value2: Any, attr_type: str, what: str) -> A.Expr:
    """``operand <op> value`` for an attribute of ``attr_type``."""
    if op not in OPS_BY_TYPE.get(attr_type, []):
        raise SegmentError(f"{what}: choose an operator")
    if op == "is empty":
        return A.IsEmpty(operand)
    if op == "is not empty":
        return A.IsEmpty(operand, negated=True)
    if op == "is true":
        return A.Compare("=", operand, _lit(True))
    if op == "is false":
        return A.Compare("=", operand, _lit(False))
    if op == "between":
        return A.Between(
            operand,
            _lit(coerce(value, attr_type, what)),
            _lit(coerce(value2, attr_type, what + " (upper bound)")),
        )
    if op == "in last":
        amount = coerce(value, "number", what)
        if not isinstance(amount, int) or amount < 0:
            raise SegmentError(f"{what}: 'in last' needs a whole number of days, weeks, months or years")
        unit = str(value2 or "days").rstrip("s")
        if unit not in ("day", "week", "month", "year"):
            raise SegmentError(f"{what}: choose days, weeks, months or years")
        return A.InLast(operand, amount, unit)  # type: ignore[arg-type]
    if op in PERIOD_OPS:
        unit = str(value2 or "")
        if unit not in PERIODS:
            raise SegmentError(f"{what}: choose week, month, quarter or year")
        return A.InPeriod(operand, PERIOD_OPS[op], unit)  # type: ignore[arg-type]
    if op == "in year":
        year = coerce(value, "number", what)
        if not isinstance(year, int) or not 1 <= year <= 9999:
            raise SegmentError(f"{what}: '{value}' is not a year; write it as YYYY")
        return A.InPeriod(operand, "fixed", "year", year)
    if op == "in month":
        m = re.match(r"^\s*(\d{4})-(\d{1,2})\s*$", str(value or ""))
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise SegmentError(f"{what}: '{display_value(value)}' is not a month; write it as YYYY-MM")
        return A.InPeriod(operand, "fixed", "month", int(m.group(1)), int(m.group(2)))
    if op in ("in list", "not in list"):
        items = split_list(value)
        if not items:
            raise SegmentError(f"{what}: enter one or more values separated by commas")
        return A.InList(operand, tuple(_lit(coerce(v, attr_type, what)) for v in items), op == "not in list")
    if op in ("contains", "does not contain", "starts with", "ends with"):
        kind = {"contains": "contains", "does not contain": "contains"}.get(op, op.replace(" ", "_"))
        return A.TextMatch(kind, operand, _lit(coerce(value, "string", what)), op == "does not contain")  # type: ignore[arg-type]
    if op in ("before", "after"):
        return A.BeforeAfter(op, operand, _lit(coerce(value, attr_type, what)))  # type: ignore[arg-type]
    cmp = {"is": "=", "is not": "!="}.get(op, op)
    return A.Compare(cmp, operand, _lit(coerce(value, attr_type, what)))  # type: ignore[arg-type]


def operand_of(row: Row, schema: Schema, path: Path) -> tuple[A.Expr, str]:
    """The row's attribute (through its function, if any) and that value's type."""
    attr_type = schema.attr_type(path, row.attribute)
    if not row.func:
        return A.Name(row.attribute), attr_type
    if row.func not in FUNCS_BY_TYPE.get(attr_type, []):
        raise SegmentError(f"'{row.func}' does not apply to {'.'.join(row.attribute)} ({attr_type})")
    return A.Func(row.func, (A.Name(row.attribute),)), FUNC_RESULT.get(row.func, "number")


def _row_filter(row: Row, schema: Schema, path: Path, what: str) -> A.Expr:
    operand, attr_type = operand_of(row, schema, path)
    label = ".".join(row.attribute) if not row.func else f"{row.func}({'.'.join(row.attribute)})"
    return _simple(operand, row.op, row.value, row.value2, attr_type, f"{what} ({label})")


def _aggregate(row: Row, schema: Schema, where: A.Expr | None, what: str) -> tuple[A.Aggregate, str]:
    """The row's aggregate over its records, and the type of its value."""
    if row.quantifier not in AGG_FUNCS:
        raise SegmentError(f"{what}: choose any record, all records, no record or an aggregate")
    if row.quantifier == "count":
        return A.Aggregate("count", row.entity, where), "number"
    if not row.agg_attribute:
        raise SegmentError(f"{what}: choose the attribute to {row.quantifier}")
    columns = schema.columns(row.entity)
    col_type = columns.get(row.agg_attribute, "other")
    if row.quantifier in NUMBER_AGGS and col_type != "number":
        raise SegmentError(f"{what}: {row.quantifier} needs a number attribute")
    path = (*row.entity, row.agg_attribute)
    if row.quantifier == "percentile":
        fraction = coerce(row.agg_fraction, "number", f"{what} (percentile)")
        if not 0 <= fraction <= 1:
            raise SegmentError(f"{what} (percentile): the fraction is a number from 0 to 1, e.g. 0.9")
        return A.Aggregate("percentile", path, where, fraction=_lit(fraction)), "number"
    if row.quantifier in ("first", "last"):
        if row.agg_by not in columns:
            raise SegmentError(f"{what}: choose the attribute that orders the records ({row.quantifier} by)")
        return A.Aggregate(row.quantifier, path, where, by=A.Name((row.agg_by,))), col_type  # type: ignore[arg-type]
    return A.Aggregate(row.quantifier, path, where), "number" if row.quantifier != "mode" else col_type  # type: ignore[arg-type]


def _rank_to_expr(row: Row, schema: Schema, what: str) -> A.Expr:
    if row.rank not in RANK_DIRECTIONS:
        raise SegmentError(f"{what}: choose top or bottom")
    amount = coerce(row.rank_amount, "number", f"{what} (how many)")
    if (
        amount <= 0
        or (row.rank_percent and amount > 100)
        or (not row.rank_percent and not isinstance(amount, int))
    ):
        raise SegmentError(
            f"{what}: enter a percentage from 0 to 100"
            if row.rank_percent
            else f"{what}: enter a whole number"
        )
    by: A.Expr
    if not row.entity:
        if not row.attribute:
            raise SegmentError(f"{what}: choose the attribute to rank by")
        by, by_type = operand_of(row, schema, ())
        if by_type not in ("number", "date", "timestamp"):
            raise SegmentError(f"{what}: rank by a number or a date")
    else:
        schema.entity_of(row.entity)
        where = _row_filter(row, schema, row.entity, what) if row.attribute else None
        by, _ = _aggregate(row, schema, where, what)
    return A.Rank(row.rank, amount, row.rank_percent, by)  # type: ignore[arg-type]


def row_to_expr(row: Row, schema: Schema, what: str = "condition") -> A.Expr:
    """The condition a row stands for. Raises ``SegmentError`` naming the row when it is incomplete."""
    if row.is_text:
        try:
            return parse_condition(row.text or "")
        except SegmentError as e:
            raise RowError(f"{what} (text)", row, e) from None
    if row.rank:
        return _rank_to_expr(row, schema, what)
    if not row.entity:
        if not row.attribute:
            raise SegmentError(f"{what}: choose an attribute")
        return _row_filter(row, schema, (), what)
    schema.entity_of(row.entity)
    where = None
    if row.attribute:
        where = _row_filter(row, schema, row.entity, what)
    if row.quantifier in ("any", "all", "none"):
        if row.quantifier == "all" and where is None:
            raise SegmentError(f"{what}: 'all records' needs a condition on the records")
        return A.Exists(row.quantifier, row.entity, where)  # type: ignore[arg-type]
    agg, value_type = _aggregate(row, schema, where, what)
    label = f"{what} ({aggregate_label(row)})"
    if row.agg_op == "between":
        return A.Between(
            agg,
            _lit(coerce(row.agg_value, value_type, label)),
            _lit(coerce(row.agg_value2, value_type, label)),
        )
    if row.agg_op not in COMPARE_OPS:
        raise SegmentError(f"{label}: choose a comparison")
    return A.Compare(row.agg_op, agg, _lit(coerce(row.agg_value, value_type, label)))  # type: ignore[arg-type]


def aggregate_label(row: Row) -> str:
    """``sum of orders.amount``, ``count of orders``: what a message calls a row's aggregate."""
    if row.quantifier == "count" or not row.agg_attribute:
        return f"{row.quantifier} of {'.'.join(row.entity)}"
    return f"{row.quantifier} of {'.'.join((*row.entity, row.agg_attribute))}"


def rows_in_order(node: Node) -> list[Row]:
    """The rows of a node and its nested nodes in reading order: "Condition N" is the N-th of the
    builder's rows in this order (the number each row shows), nested groups included, blank rows too."""
    out: list[Row] = []
    for item in node.items:
        out += rows_in_order(item) if isinstance(item, Node) else [item]
    return out


def node_to_expr(node: Node, schema: Schema, first: int = 1) -> A.Expr | None:
    """The condition of a node whose first row is condition number ``first``; None when it holds only
    blank rows."""
    parts: list[A.Expr] = []
    number = first
    for item in node.items:
        if isinstance(item, Node):
            e = node_to_expr(item, schema, number)
            number += len(rows_in_order(item))
            if e is not None:
                parts.append(e)
            continue
        if not item.is_blank:
            parts.append(row_to_expr(item, schema, f"Condition {number}"))
        number += 1
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return A.And(tuple(parts)) if node.op == "and" else A.Or(tuple(parts))


def projection_to_expr(p: ProjectionRow, schema: Schema, what: str) -> A.Projection:
    alias = p.alias.strip()
    if not alias:
        raise SegmentError(f"{what}: enter a column name for the projected attribute")
    if p.text is not None:
        try:
            expr = parse_condition(p.text)
        except SegmentError as e:
            raise SegmentError(f"{what} (text): {e}") from None
        if isinstance(expr, A.BoolTest):  # a bare value parses as a boolean test; projections want the value
            expr = expr.operand
        return A.Projection(expr, alias)
    if p.func not in PROJECTION_FUNCS:
        raise SegmentError(f"{what}: choose count, sum, avg, min or max")
    if not p.entity:
        raise SegmentError(f"{what}: choose the related records to aggregate")
    schema.entity_of(p.entity)
    if p.func == "count":
        return A.Projection(A.Aggregate("count", p.entity), alias)
    if not p.attribute:
        raise SegmentError(f"{what}: choose the attribute to {p.func}")
    return A.Projection(A.Aggregate(p.func, (*p.entity, p.attribute)), alias)  # type: ignore[arg-type]


def to_definition(state: BuilderState, schema: Schema) -> A.Definition:
    """The definition tree for the state. Raises ``SegmentError`` naming the first invalid row."""
    condition: A.Expr | None = None
    first = 1
    for gi, group in enumerate(state.groups, 1):
        e = node_to_expr(group.root, schema, first)
        first += len(rows_in_order(group.root))
        if e is None:
            if len(state.groups) > 1:
                raise SegmentError(f"Group {gi} has no conditions: add one or remove the group")
            continue
        if condition is None:
            condition = e
        else:
            if group.combine not in SET_OPS:
                raise SegmentError(f"Group {gi}: choose union, intersect or except")
            condition = A.SetOp(group.combine, condition, e)  # type: ignore[arg-type]
    if condition is None:
        raise SegmentError("add a condition: choose an attribute in the first row")
    projections = tuple(
        projection_to_expr(p, schema, f"Projected attribute {i}") for i, p in enumerate(state.projections, 1)
    )
    aliases = [p.alias for p in projections]
    dupes = sorted({a for a in aliases if aliases.count(a) > 1})
    if dupes:
        raise SegmentError(f"projected column name used twice: {', '.join(dupes)}")
    return A.Definition(condition, projections)


def to_dsl(state: BuilderState, schema: Schema) -> str:
    """DSL text for the state; when a row is invalid, a best-effort text (for drafts) built row by row."""
    try:
        return to_text(to_definition(state, schema))
    except SegmentError:
        return _draft_text(state, schema)


def _row_text(row: Row, schema: Schema) -> str:
    if row.is_text:
        return (row.text or "").strip() or "true"
    token = _AS_TYPED.set(True)
    try:
        return to_text(row_to_expr(row, schema))
    except (SegmentError, TypeError):  # TypeError: a value kept as typed compared with a number
        return _partial_text(row, schema)
    finally:
        _AS_TYPED.reset(token)


def _partial_text(row: Row, schema: Schema) -> str:
    """An incomplete row in the DSL's own shape, with the parts that are there (``sum(orders.amount
    where status != 'returned') >=``), so a draft keeps the user's intent and still reads as DSL."""
    words = {"is": "=", "is not": "!="}
    where = ""
    if row.attribute:
        try:
            where = to_text(_row_filter(row, schema, row.entity, "condition"))
        except (SegmentError, TypeError):
            op = words.get(row.op, row.op)
            where = " ".join(p for p in (".".join(row.attribute), op, display_value(row.value)) if p)
    if not row.entity:
        return where
    if row.rank or row.quantifier in AGG_FUNCS:
        column = "" if row.quantifier == "count" or not row.agg_attribute else f".{row.agg_attribute}"
        inner = f"{'.'.join(row.entity)}{column}" + (f" where {where}" if where else "")
        text = f"{row.quantifier}({inner})"
        if row.rank:
            return f"{row.rank} {display_value(row.rank_amount)}{'%' if row.rank_percent else ''} by {text}"
        value = display_value(row.agg_value)
        return f"{text} {row.agg_op}" + (f" {value}" if value else "")
    return f"{row.quantifier}({'.'.join(row.entity)}" + (f" where {where})" if where else ")")


def _node_text(node: Node, schema: Schema) -> str:
    texts = []
    for item in node.items:
        if isinstance(item, Node):
            texts.append(f"({_node_text(item, schema)})")
        elif not item.is_blank:
            wrap = item.is_text and len(node.items) > 1  # a text row may hold OR / set operations
            texts.append(f"({_row_text(item, schema)})" if wrap else _row_text(item, schema))
    return f" {node.op.upper()} ".join(t for t in texts if t)


def _draft_text(state: BuilderState, schema: Schema) -> str:
    out = ""
    for i, g in enumerate(state.groups):
        body = _node_text(g.root, schema)
        if not body:
            continue
        out = f"({body})" if not out else f"{out} {g.combine.upper()} ({body})"
        if i == 0 and len(state.groups) == 1:
            out = body
    projections = []
    for p in state.projections:
        expr = (
            p.text
            if p.text is not None
            else f"{p.func}({'.'.join((*p.entity, p.attribute) if p.attribute else p.entity)})"
        )
        projections.append(f"{expr} AS {p.alias or '?'}")
    if projections:
        out += "\nPROJECT " + ", ".join(projections)
    return out


# --- tree -> state ---------------------------------------------------------------------------------------

_OP_OF_COMPARE = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _literal_value(e: A.Expr) -> Any:
    if isinstance(e, A.Literal) and e.value is not None:
        return e.value
    raise ValueError("not a literal")


def _attribute_of(operand: Any) -> tuple[Path, str] | None:
    """What a row shows as its attribute: ``age`` -> (("age",), ""), ``lower(email)`` -> (("email",),
    "lower") (one function of one argument at most); None for anything else."""
    func = ""
    if isinstance(operand, A.Func) and len(operand.args) == 1:
        func, operand = operand.name, operand.args[0]
    return (operand.parts, func) if isinstance(operand, A.Name) else None


def _match_simple(e: A.Expr, schema: Schema, path: Path) -> tuple[Path, str, Any, Any, str] | None:
    """Match ``e`` to (attribute, op, value, value2, function) on the entity at ``path``."""
    found = _attribute_of(getattr(e, "operand", None) if not isinstance(e, A.Compare) else e.left)
    if found is None:
        return None
    attr, func = found
    attr_type = schema.attributes(path).get(attr)
    if attr_type is None:
        return None
    if func:
        if func not in FUNCS_BY_TYPE.get(attr_type, []):
            return None
        attr_type = FUNC_RESULT.get(func, "number")
    simple = _match_op(e, attr, attr_type)
    return None if simple is None else (*simple, func)


def _match_op(e: A.Expr, attr: Path, attr_type: str) -> tuple[Path, str, Any, Any] | None:
    if isinstance(e, A.IsEmpty):
        return attr, "is not empty" if e.negated else "is empty", None, None
    if isinstance(e, A.Compare):
        value = _literal_value(e.right)
        if attr_type == "boolean" and isinstance(value, bool) and e.op == "=":
            return attr, "is true" if value else "is false", None, None
        if attr_type == "string":
            return attr, {"=": "is", "!=": "is not"}.get(e.op, e.op), value, None
        return attr, _OP_OF_COMPARE[e.op], value, None
    if isinstance(e, A.Between) and not e.negated:
        return attr, "between", _literal_value(e.low), _literal_value(e.high)
    if isinstance(e, A.InLast):
        return attr, "in last", e.amount, e.unit + "s"
    if isinstance(e, A.InList):
        return attr, "not in list" if e.negated else "in list", [_literal_value(i) for i in e.items], None
    if isinstance(e, A.TextMatch):
        op = {"contains": "contains", "starts_with": "starts with", "ends_with": "ends with"}[e.kind]
        if e.negated:
            op = "does not contain" if e.kind == "contains" else "?"
        return attr, op, _literal_value(e.value), None
    if isinstance(e, A.BeforeAfter):
        return attr, e.kind, _literal_value(e.value), None
    if isinstance(e, A.InPeriod):
        if e.which == "fixed":
            if e.unit == "year":
                return attr, "in year", e.year, None
            if e.unit == "month" and e.year is not None and e.month is not None:
                return attr, "in month", f"{e.year:04d}-{e.month:02d}", None
            return None
        return attr, f"in {e.which}", None, e.unit
    return None


def _match_row(e: A.Expr, schema: Schema) -> Row | None:
    simple = _match_simple(e, schema, ())
    if simple is not None:
        attr, op, v1, v2, func = simple
        return Row((), attr, op, v1, v2, func=func)
    if isinstance(e, A.Rank):
        return _match_rank(e, schema)
    if isinstance(e, A.Exists):
        row = Row(entity=e.path, quantifier=e.kind)
        return _with_filter(row, e.where, schema)
    agg: A.Aggregate | None = None
    cmp, v1, v2 = "", None, None
    if isinstance(e, A.Compare) and isinstance(e.left, A.Aggregate):
        agg, cmp, v1 = e.left, e.op, _literal_value(e.right)
    elif isinstance(e, A.Between) and isinstance(e.operand, A.Aggregate) and not e.negated:
        agg, cmp, v1, v2 = e.operand, "between", _literal_value(e.low), _literal_value(e.high)
    if agg is None:
        return None
    agg_row = _agg_row(agg)
    if agg_row is None:
        return None
    agg_row.agg_op, agg_row.agg_value, agg_row.agg_value2 = cmp, v1, v2
    return _with_filter(agg_row, agg.where, schema)


def _agg_row(agg: A.Aggregate) -> Row | None:
    """A row for an aggregate over a path (its comparison and filter left to the caller)."""
    if agg.func not in AGG_FUNCS or agg.value is not None or not agg.path:
        return None
    path, col = (agg.path, "") if agg.func == "count" else (agg.path[:-1], agg.path[-1])
    row = Row(entity=path, quantifier=agg.func, agg_attribute=col)
    if agg.fraction is not None:
        row.agg_fraction = _literal_value(agg.fraction)
    if agg.by is not None:
        if not isinstance(agg.by, A.Name) or len(agg.by.parts) != 1:
            return None
        row.agg_by = agg.by.parts[0]
    return row


def _match_rank(e: A.Rank, schema: Schema) -> Row | None:
    if e.among is not None:
        return None  # a population condition: shown as DSL text
    base = Row(rank=e.direction, rank_amount=e.amount, rank_percent=e.percent)
    if isinstance(e.by, A.Aggregate):
        row = _agg_row(e.by)
        if row is None:
            return None
        row.rank, row.rank_amount, row.rank_percent = base.rank, base.rank_amount, base.rank_percent
        return _with_filter(row, e.by.where, schema)
    found = _attribute_of(e.by)
    if found is None:
        return None
    base.attribute, base.func = found
    return base


def _with_filter(row: Row, where: A.Expr | None, schema: Schema) -> Row | None:
    if row.entity not in schema.entity_paths():
        return None
    if where is None:
        return row
    simple = _match_simple(where, schema, row.entity)
    if simple is None:
        return None
    row.attribute, row.op, row.value, row.value2, row.func = simple
    return row


def row_from_expr(e: A.Expr, schema: Schema) -> Row:
    """A structured row when one reproduces ``e`` exactly, else a DSL text row."""
    try:
        row = _match_row(e, schema)
        if row is not None and row_to_expr(row, schema) == e:
            return row
    except (SegmentError, ValueError, KeyError, TypeError):
        pass
    return Row(text=to_text(e))


def node_from_expr(e: A.Expr, schema: Schema) -> Node:
    if isinstance(e, (A.And, A.Or)):
        items: list[Row | Node] = [
            node_from_expr(i, schema) if isinstance(i, (A.And, A.Or)) else row_from_expr(i, schema)
            for i in e.items
        ]
        return Node("and" if isinstance(e, A.And) else "or", items)
    return Node("and", [row_from_expr(e, schema)])


def projection_from(p: A.Projection, schema: Schema) -> ProjectionRow:
    e = p.expr
    if isinstance(e, A.Aggregate) and e.where is None and e.func in PROJECTION_FUNCS:
        path, col = (e.path, "") if e.func == "count" else (e.path[:-1], e.path[-1])
        if path in schema.entity_paths() and path:
            row = ProjectionRow(e.func, path, col, p.alias)
            try:
                if projection_to_expr(row, schema, "") == p:
                    return row
            except SegmentError:
                pass
    return ProjectionRow(alias=p.alias, text=to_text(e))


def from_definition(defn: A.Definition, schema: Schema) -> BuilderState:
    """State for an existing definition; conditions the rows cannot show become DSL text rows."""
    groups: list[Group] = []
    cond = defn.condition

    def flatten(e: A.Expr, combine: str) -> None:
        if isinstance(e, A.SetOp):
            flatten(e.left, combine)
            groups.append(Group(node_from_expr(e.right, schema), e.op))
        else:
            groups.append(Group(node_from_expr(e, schema), combine))

    flatten(cond, "union")
    return BuilderState(groups, [projection_from(p, schema) for p in defn.projections])
