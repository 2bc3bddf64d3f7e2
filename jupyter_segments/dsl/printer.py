"""Definition tree -> DSL text. ``parse(to_text(tree)) == tree`` for every tree the parser can build."""

from __future__ import annotations

import datetime as dt
import re

from . import ast as A

_SIMPLE_NAME = re.compile(r"^[^\W\d]\w*$")
# Words the parser treats specially in some position: quote names that collide with them.
_KEYWORDS = {
    "and", "or", "not", "in", "is", "null", "true", "false", "between", "like", "ilike", "contains",
    "starts", "ends", "with", "empty", "last", "before", "after", "where", "project", "as", "union",
    "intersect", "except", "segment", "date", "timestamp", "any", "none", "all", "count",
    "count_distinct", "sum", "avg", "min", "max", "case", "when", "then", "else", "end", "top", "bottom",
    "by", "among", "distinct", "this", "previous", "median", "percentile", "mode", "first", "stddev",
}  # fmt: skip

# Binding strength: a child weaker than its parent is parenthesised.
_SETOP, _OR, _AND, _NOT, _PRED, _ADD, _MUL, _UNARY, _ATOM = range(9)


def to_text(node: A.Definition | A.Expr) -> str:
    """Print a definition (with PROJECT clause) or a lone expression."""
    if isinstance(node, A.Definition):
        text = _expr(node.condition, _SETOP)
        if node.projections:
            text += "\nPROJECT " + ", ".join(
                f"{_expr(p.expr, _ADD)} AS {quote_name(p.alias)}" for p in node.projections
            )
        return text
    return _expr(node, _SETOP)


def quote_name(name: str) -> str:
    if _SIMPLE_NAME.match(name) and name.lower() not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def literal_text(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _strength(node: A.Expr) -> int:
    if isinstance(node, A.SetOp):
        return _SETOP
    if isinstance(node, A.Or):
        return _OR
    if isinstance(node, A.And):
        return _AND
    if isinstance(node, (A.Not, A.SegmentRef)):
        return _NOT
    if isinstance(node, A.Arith):
        return _ADD if node.op in "+-" else _MUL
    if isinstance(node, A.Neg):
        return _UNARY
    if isinstance(
        node, (A.Literal, A.Param, A.Name, A.Aggregate, A.Exists, A.BoolTest, A.Func, A.Case, A.Interval)
    ):
        return _ATOM
    if isinstance(node, A.Rank):
        return _NOT
    return _PRED


def _expr(node: A.Expr, context: int) -> str:
    text = _bare(node)
    return f"({text})" if _strength(node) < context else text


def _path(parts: tuple[str, ...]) -> str:
    return ".".join(quote_name(p) for p in parts)


def _bare(node: A.Expr) -> str:  # noqa: C901 - one branch per node type reads best here
    if isinstance(node, A.Literal):
        return literal_text(node.value)
    if isinstance(node, A.Param):
        return "{" + node.name + "}"
    if isinstance(node, A.Name):
        return _path(node.parts)
    if isinstance(node, A.BoolTest):
        return _expr(node.operand, _ATOM)
    if isinstance(node, (A.Aggregate, A.Exists)):
        head = node.func if isinstance(node, A.Aggregate) else node.kind
        where = f" where {_expr(node.where, _SETOP)}" if node.where is not None else ""
        if isinstance(node, A.Aggregate):
            if node.by is not None:
                where = f" by {_expr(node.by, _ADD)}{where}"
            if node.fraction is not None:
                where = f", {_expr(node.fraction, _ADD)}{where}"
        if isinstance(node, A.Aggregate) and node.value is not None:
            return f"{head}({_expr(node.value, _ADD)}{where})"
        return f"{head}({_path(node.path) if node.path else '*'}{where})"
    if isinstance(node, A.Func):
        return f"{node.name}({', '.join(_expr(a, _ADD) for a in node.args)})"
    if isinstance(node, A.Case):
        whens = " ".join(f"when {_expr(w.condition, _SETOP)} then {_expr(w.value, _ADD)}" for w in node.whens)
        default = f" else {_expr(node.default, _ADD)}" if node.default is not None else ""
        return f"case {whens}{default} end"
    if isinstance(node, A.Interval):
        return f"{node.amount} {node.unit}{'s' if node.amount != 1 else ''}"
    if isinstance(node, A.Rank):
        amount = f"{literal_text(node.amount)}{'%' if node.percent else ''}"
        among = f" among {_expr(node.among, _NOT)}" if node.among is not None else ""
        return f"{node.direction} {amount} by {_expr(node.by, _ADD)}{among}"
    if isinstance(node, A.Arith):
        strength = _ADD if node.op in "+-" else _MUL
        # Left-associative: the right operand of the same strength needs parentheses.
        return f"{_expr(node.left, strength)} {node.op} {_expr(node.right, strength + 1)}"
    if isinstance(node, A.Neg):
        inner = _expr(node.operand, _UNARY)
        # "--x" would start a comment: a negative operand is parenthesised.
        return f"-({inner})" if inner.startswith("-") else f"-{inner}"
    if isinstance(node, A.SetOp):
        # Groups are always shown in parentheses: (a) UNION (b) reads as two groups.
        left = _bare(node.left) if isinstance(node.left, A.SetOp) else f"({_bare(node.left)})"
        return f"{left} {node.op.upper()} ({_bare(node.right)})"
    if isinstance(node, A.Or):
        return " OR ".join(_expr(i, _OR + 1) if isinstance(i, A.Or) else _expr(i, _OR) for i in node.items)
    if isinstance(node, A.And):
        return " AND ".join(
            _expr(i, _AND + 1) if isinstance(i, A.And) else _expr(i, _AND) for i in node.items
        )
    if isinstance(node, A.Not):
        return f"NOT {_expr(node.operand, _PRED if isinstance(node.operand, A.BoolTest) else _NOT + 1)}"
    if isinstance(node, A.SegmentRef):
        return f"{'not ' if node.negated else ''}in segment {quote_name(node.name)}"
    neg = "not " if getattr(node, "negated", False) else ""
    if isinstance(node, A.Compare):
        return f"{_expr(node.left, _ADD)} {node.op} {_expr(node.right, _ADD)}"
    if isinstance(node, A.Between):
        return (
            f"{_expr(node.operand, _ADD)} {neg}between {_expr(node.low, _ADD)} and {_expr(node.high, _ADD)}"
        )
    if isinstance(node, A.InList):
        if len(node.items) == 1 and isinstance(node.items[0], A.Param):
            return f"{_expr(node.operand, _ADD)} {neg}in {_bare(node.items[0])}"
        items = ", ".join(_expr(i, _ADD) for i in node.items)
        return f"{_expr(node.operand, _ADD)} {neg}in ({items})"
    if isinstance(node, A.IsNull):
        return f"{_expr(node.operand, _ADD)} is {neg}null"
    if isinstance(node, A.IsEmpty):
        return f"{_expr(node.operand, _ADD)} is {neg}empty"
    if isinstance(node, A.Like):
        op = "ilike" if node.case_insensitive else "like"
        return f"{_expr(node.operand, _ADD)} {neg}{op} {_expr(node.pattern, _ADD)}"
    if isinstance(node, A.TextMatch):
        if node.negated and node.kind != "contains":  # only "not contains" has its own spelling
            return f"NOT ({_bare(A.TextMatch(node.kind, node.operand, node.value))})"
        op = {"contains": "contains", "starts_with": "starts with", "ends_with": "ends with"}[node.kind]
        return f"{_expr(node.operand, _ADD)} {neg}{op} {_expr(node.value, _ADD)}"
    if isinstance(node, A.InLast):
        unit = node.unit + ("s" if node.amount != 1 else "")
        return f"{_expr(node.operand, _ADD)} in last {node.amount} {unit}"
    if isinstance(node, A.BeforeAfter):
        return f"{_expr(node.operand, _ADD)} {node.kind} {_expr(node.value, _ADD)}"
    if isinstance(node, A.InPeriod):
        if node.which != "fixed":
            return f"{_expr(node.operand, _ADD)} in {node.which} {node.unit}"
        period = f"{node.year:04d}" + (f"-{node.month:02d}" if node.month is not None else "")
        return f"{_expr(node.operand, _ADD)} in {node.unit} {period}"
    raise TypeError(f"cannot print {type(node).__name__}")
