"""Recursive-descent parser: DSL text -> definition tree (``ast.Definition``).

Grammar (lowest precedence first; see docs/dsl.md)::

    definition := setexpr [PROJECT projection ("," projection)*]
    setexpr    := orexpr ((UNION | INTERSECT | EXCEPT) orexpr)*      -- left to right
    orexpr     := andexpr (OR andexpr)*
    andexpr    := notexpr (AND notexpr)*
    notexpr    := NOT notexpr | [NOT] IN SEGMENT name | rank | predicate
    rank       := (TOP | BOTTOM) number ["%"] BY additive [AMONG notexpr]
    predicate  := additive [comparison tail]
    additive   := term (("+" | "-") (term | integer unit))* ; term := unary (("*" | "/") unary)*
    primary    := literal | {param} | name ("." name)* | agg "(" (path | additive) [argument] [WHERE setexpr] ")"
    argument   := "," additive        -- percentile(orders.amount, 0.9): the fraction
                | BY additive         -- first/last(orders.channel by order_date): the records' order
                | (any | none | all) "(" path [WHERE setexpr] ")" | function "(" additive ("," additive)* ")"
                | CASE (WHEN setexpr THEN additive)+ [ELSE additive] END | "(" setexpr ")"

Keywords are case-insensitive and recognised by position, so a column may be called ``date`` or ``last``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from ..errors import SegmentError, did_you_mean
from . import ast as A
from .tokens import T, Token, tokenize

AGG_FUNCS = (
    "count", "count_distinct", "sum", "avg", "min", "max", "median", "percentile", "mode", "first", "last",
    "stddev",
)  # fmt: skip
EXISTS_KINDS = ("any", "none", "all")
# The scalar functions (their signatures and meaning: jupyter_segments/bind/functions.py).
FUNCTIONS = (
    "lower", "upper", "trim", "length", "coalesce", "concat", "abs", "round", "floor", "ceil", "least",
    "greatest", "year", "quarter", "month", "day", "weekday", "days_between", "date",
)  # fmt: skip
SET_OPS = ("union", "intersect", "except")
UNITS = {
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "month": "month",
    "months": "month",
    "year": "year",
    "years": "year",
}
_COMPARE = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
PERIOD_UNITS = ("week", "month", "quarter", "year")
INTERVAL_UNITS = {
    **UNITS,
    "hour": "hour",
    "hours": "hour",
    "minute": "minute",
    "minutes": "minute",
}
_AGG_EXAMPLES = {
    "first": "first(orders.channel by order_date)",
    "last": "last(orders.channel by order_date)",
    "percentile": "percentile(orders.amount, 0.9)",
}
# Words that end an expression; they can still be column names when quoted.
_RESERVED = {
    "and", "or", "not", "where", "project", "as", "union", "intersect", "except", "then", "else", "end",
    "when", "by", "among",
}  # fmt: skip
# How deeply a definition may nest: parentheses, NOTs, minus signs, aggregates and functions inside one
# another, and chains that build a tree one level per operator (a + 1 + 1 ..., ... union ...). Every
# later stage (bind, compile, SQL generation) walks the tree recursively, so a deeper one is refused
# here, with a caret, instead of ending in a RecursionError somewhere below. 24, not more: SQLite's
# parser has a fixed stack: 31 nested functions (46 NOTs) in the SQL are a "parser stack overflow".
MAX_DEPTH = 24
# Levels a function call takes: its SQL may be two deep (CAST(ROUND(x, 0) AS ...)); and some repeat
# their argument in the SQL (SQLite's floor and ceil three times, least and greatest once per
# argument where the database does not skip NULLs), which nesting multiplies: 10 nested ceil() were
# 1.6 MB of SQL. At 8 levels, at most 3 of those nest.
_FUNCTION_LEVELS = {"floor": 8, "ceil": 8, "least": 8, "greatest": 8}
# The longest span of ``in last N units``: 1,000 years. A longer one reaches before year 1 (where
# Python's dates and most databases' stop) and means "ever" anyway.
MAX_SPAN = {
    "day": 366_000, "week": 52_200, "month": 12_000, "year": 1_000, "hour": 366_000 * 24, "minute": 366_000 * 1440
}  # fmt: skip
# The years a definition may name (in year 2024): their periods and windows stay within years 1 to 9999.
YEARS = (1001, 9998)


def parse(text: str) -> A.Definition:
    """Parse a whole definition. Raises ``SegmentError`` with line, column and caret."""
    return _Parser(text).definition()


def parse_condition(text: str) -> A.Expr:
    """Parse a lone condition or expression (used for measures and builder text rows)."""
    p = _Parser(text)
    expr = p.setexpr()
    p.expect_eof()
    return expr


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @contextmanager
    def deeper(self, tok: Token, levels: int = 1) -> Iterator[None]:
        """One (or ``levels``) more level(s) of nesting, starting at ``tok``; too deep is an error there."""
        if self.depth + levels > MAX_DEPTH:
            raise self.error(
                f"nested too deeply (limit {MAX_DEPTH} levels): split the definition into saved segments "
                "(in segment ...) or flatten it",
                tok,
            )
        self.depth += levels
        try:
            yield
        finally:
            self.depth -= levels

    # --- token helpers ----------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return t

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind is T.OP and self.tok.text in ops

    def at_word(self, *words: str) -> bool:
        return self.tok.is_word(*words)

    def accept_word(self, *words: str) -> Token | None:
        return self.advance() if self.at_word(*words) else None

    def error(self, message: str, tok: Token | None = None) -> SegmentError:
        tok = tok or self.tok
        return SegmentError(message, text=self.text, pos=tok.pos, end=max(tok.end, tok.pos + 1))

    def expect_op(self, op: str, what: str) -> Token:
        if not self.at_op(op):
            raise self.error(f"expected {what}, found {self.describe(self.tok)}")
        return self.advance()

    def expect_word(self, word: str, what: str | None = None) -> Token:
        if not self.at_word(word):
            raise self.error(f"expected {what or word.upper()}, found {self.describe(self.tok)}")
        return self.advance()

    def expect_eof(self) -> None:
        if self.tok.kind is not T.EOF:
            raise self.error(f"unexpected {self.describe(self.tok)}; expected the end of the definition")

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.kind is T.EOF:
            return "end of text"
        if tok.kind is T.STRING:
            return f"string '{tok.text}'"
        return f"'{tok.text}'"

    def span(self, start: int) -> dict[str, int]:
        prev = self.tokens[self.i - 1] if self.i > 0 else self.tok
        return {"pos": start, "end": max(start, prev.end)}

    # --- definition -------------------------------------------------------------------------------
    def definition(self) -> A.Definition:
        if self.tok.kind is T.EOF:
            raise self.error("empty definition: write a condition such as  age >= 30")
        cond = self.setexpr()
        projections: list[A.Projection] = []
        if self.accept_word("project"):
            while True:
                start = self.tok.pos
                expr = self.additive()
                if not self.accept_word("as"):
                    raise self.error("expected AS and a column name after a projected expression")
                alias_tok = self.advance()
                if alias_tok.kind not in (T.IDENT, T.QIDENT):
                    raise self.error("expected a column name after AS", alias_tok)
                projections.append(A.Projection(expr, alias_tok.text, **self.span(start)))
                if not self.at_op(","):
                    break
                self.advance()
        self.expect_eof()
        return A.Definition(cond, tuple(projections), text=self.text, pos=0, end=len(self.text))

    def setexpr(self) -> A.Expr:
        start = self.tok.pos
        left = self.orexpr()
        levels = 0
        while self.at_word(*SET_OPS):
            levels += 1
            with self.deeper(self.tok, levels):
                op = cast(A.SetOpKind, self.advance().text.lower())
                right = self.orexpr()
            left = A.SetOp(op, left, right, **self.span(start))
        return left

    def orexpr(self) -> A.Expr:
        start = self.tok.pos
        items = [self.andexpr()]
        while self.accept_word("or"):
            items.append(self.andexpr())
        return items[0] if len(items) == 1 else A.Or(tuple(items), **self.span(start))

    def andexpr(self) -> A.Expr:
        start = self.tok.pos
        items = [self.notexpr()]
        while self.accept_word("and"):
            items.append(self.notexpr())
        return items[0] if len(items) == 1 else A.And(tuple(items), **self.span(start))

    def notexpr(self) -> A.Expr:
        start = self.tok.pos
        if self.at_word("not") and self.peek().is_word("in") and self.peek(2).is_word("segment"):
            self.advance()
            return self.segment_ref(start, negated=True)
        if self.at_word("in") and self.peek().is_word("segment"):
            return self.segment_ref(start, negated=False)
        if self.at_word("not"):
            with self.deeper(self.advance()):
                return A.Not(self.notexpr(), **self.span(start))
        if self.at_word("top", "bottom") and self.peek().kind is T.NUMBER:
            return self.rank(start)
        return self.predicate()

    def rank(self, start: int) -> A.Rank:
        direction = self.advance().text.lower()
        amount_tok = self.advance()
        amount = self.number(amount_tok)
        percent = self.at_op("%")
        if percent:
            self.advance()
            if not 0 < amount <= 100:
                raise self.error("a percentage is more than 0 and at most 100", amount_tok)
        elif not amount_tok.text.isdigit():
            raise self.error(
                f"{direction} takes a whole number of customers or a percentage, as in  {direction} 10%",
                amount_tok,
            )
        self.expect_word(
            "by",
            f"BY after {direction.upper()} {amount_tok.text}, as in  {direction} 100 by sum(orders.amount)",
        )
        by = self.additive()
        among = self.notexpr() if self.accept_word("among") else None
        return A.Rank(direction, amount, percent, by, among, **self.span(start))  # type: ignore[arg-type]

    def segment_ref(self, start: int, negated: bool) -> A.SegmentRef:
        self.expect_word("in")
        self.expect_word("segment")
        name = self.advance()
        if name.kind not in (T.IDENT, T.QIDENT):
            raise self.error("expected a segment name after IN SEGMENT", name)
        return A.SegmentRef(name.text, negated, **self.span(start))

    # --- predicates -------------------------------------------------------------------------------
    def predicate(self) -> A.Expr:
        start = self.tok.pos
        left = self.additive()
        tail = self.comparison_tail(left, start)
        if tail is not None:
            return tail
        if isinstance(left, A.CONDITION_TYPES):
            return left
        # A bare value in condition position: a boolean attribute (checked by the binder).
        return A.BoolTest(left, pos=left.pos, end=left.end)

    def comparison_tail(self, left: A.Expr, start: int) -> A.Expr | None:
        if self.tok.kind is T.OP and self.tok.text in _COMPARE:
            op = _COMPARE[self.advance().text]
            right = self.additive()
            return A.Compare(op, left, right, **self.span(start))  # type: ignore[arg-type]
        negated = False
        if self.at_word("not") and self.peek().is_word("between", "in", "like", "ilike", "contains"):
            self.advance()
            negated = True
        if self.accept_word("between"):
            low = self.additive()
            self.expect_word("and", "AND in BETWEEN ... AND ...")
            high = self.additive()
            return A.Between(left, low, high, negated, **self.span(start))
        if self.at_word("in") and self.peek().is_word("last") and not negated:
            self.advance()
            self.advance()
            amount_tok = self.advance()
            if amount_tok.kind is not T.NUMBER or not amount_tok.text.isdigit():
                raise self.error("expected a whole number after IN LAST, as in  in last 90 days", amount_tok)
            unit_tok = self.advance()
            unit = UNITS.get(unit_tok.text.lower()) if unit_tok.kind is T.IDENT else None
            if unit is None:
                raise self.error("expected days, weeks, months or years", unit_tok)
            if len(amount_tok.text) > 7 or int(amount_tok.text) > MAX_SPAN[unit]:
                raise self.error(
                    f"in last {amount_tok.text[:20]} {unit}s is out of range: a span is at most "
                    f"{MAX_SPAN[unit]:,} {unit}s (1,000 years)",
                    amount_tok,
                )
            amount = int(amount_tok.text)
            return A.InLast(left, amount, unit, **self.span(start))  # type: ignore[arg-type]
        if self.at_word("in") and not negated and self.peek().is_word("this", "previous", "year", "month"):
            period = self.period(left, start)
            if period is not None:
                return period
        if self.accept_word("in"):
            if self.at_op("{"):
                items: list[A.Expr] = [self.primary()]
            else:
                self.expect_op("(", "'(' to open the IN list")
                items = [self.additive()]
                while self.at_op(","):
                    self.advance()
                    items.append(self.additive())
                self.expect_op(")", "')' to close the IN list")
            return A.InList(left, tuple(items), negated, **self.span(start))
        if self.at_word("like", "ilike"):
            ci = self.advance().text.lower() == "ilike"
            return A.Like(left, self.additive(), ci, negated, **self.span(start))
        if self.accept_word("contains"):
            return A.TextMatch("contains", left, self.additive(), negated, **self.span(start))
        if negated:
            raise self.error("expected BETWEEN, IN, LIKE, ILIKE or CONTAINS after NOT")
        if self.at_word("starts", "ends") and self.peek().is_word("with"):
            kind = "starts_with" if self.advance().text.lower() == "starts" else "ends_with"
            self.advance()
            return A.TextMatch(kind, left, self.additive(), False, **self.span(start))  # type: ignore[arg-type]
        if self.at_word("before", "after"):
            kind = self.advance().text.lower()
            return A.BeforeAfter(kind, left, self.additive(), **self.span(start))  # type: ignore[arg-type]
        if self.accept_word("is"):
            neg = bool(self.accept_word("not"))
            if self.accept_word("null"):
                return A.IsNull(left, neg, **self.span(start))
            if self.accept_word("empty"):
                return A.IsEmpty(left, neg, **self.span(start))
            if self.at_word("true", "false"):
                value = self.advance().text.lower() == "true"
                test: A.Expr = A.Compare("=", left, A.Literal(value), **self.span(start))
                return A.Not(test, **self.span(start)) if neg else test
            raise self.error("expected NULL, EMPTY, TRUE or FALSE after IS")
        return None

    def period(self, left: A.Expr, start: int) -> A.InPeriod | None:
        """``in this month``, ``in previous year``, ``in year 2024``, ``in month 2024-03``; None when the
        words after IN are something else (``x in year`` is then a parse error of the IN list)."""
        which_tok = self.peek()
        unit_tok = self.peek(2)
        if which_tok.is_word("this", "previous"):
            if not unit_tok.is_word(*PERIOD_UNITS):
                return None
            self.advance(), self.advance(), self.advance()
            which = which_tok.text.lower()
            return A.InPeriod(left, which, unit_tok.text.lower(), **self.span(start))  # type: ignore[arg-type]
        if unit_tok.kind is not T.NUMBER or not unit_tok.text.isdigit() or len(unit_tok.text) != 4:
            return None
        self.advance(), self.advance(), self.advance()
        year, month = int(unit_tok.text), None
        if not YEARS[0] <= year <= YEARS[1]:
            raise self.error(
                f"the year {year} is out of range: use a year from {YEARS[0]} to {YEARS[1]}", unit_tok
            )
        if which_tok.is_word("month"):
            dash = self.advance()
            month_tok = self.advance()
            if not (
                dash.kind is T.OP
                and dash.text == "-"
                and month_tok.text.isdigit()
                and 1 <= int(month_tok.text) <= 12
            ):
                raise self.error("expected a month as YYYY-MM, as in  in month 2024-03", month_tok)
            month = int(month_tok.text)
        unit = which_tok.text.lower()
        return A.InPeriod(left, "fixed", unit, year, month, **self.span(start))  # type: ignore[arg-type]

    # --- values -----------------------------------------------------------------------------------
    def additive(self) -> A.Expr:
        start = self.tok.pos
        left = self.term()
        levels = 0
        while self.at_op("+", "-"):
            levels += 1
            with self.deeper(self.tok, levels):
                op = self.advance().text
                right = self.term()
            if (
                isinstance(right, A.Literal)
                and self.tok.kind is T.IDENT
                and self.tok.text.lower() in INTERVAL_UNITS
            ):
                right = self.interval(right)
            left = A.Arith(op, left, right, **self.span(start))  # type: ignore[arg-type]
        return left

    def number(self, tok: Token) -> int | float:
        """A number token's value; beyond a double's range (1e400, 5,000 digits) is an error at it: float()
        made 1e400 inf, which SQL reads as a column name, and int() refuses over 4,300 digits."""
        if math.isinf(float(tok.text)):
            raise self.error(f"the number {tok.text[:20]}{'...' * (len(tok.text) > 20)} is out of range", tok)
        return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)

    def interval(self, amount: A.Literal) -> A.Interval:
        """``30 days`` after ``+`` or ``-``: the number was read, the unit is the current token."""
        unit = INTERVAL_UNITS[self.advance().text.lower()]
        if not isinstance(amount.value, int) or isinstance(amount.value, bool) or amount.value < 0:
            raise SegmentError(
                f"a span is a whole number of {unit}s, as in  + 30 days",
                text=self.text,
                pos=amount.pos,
                end=amount.end,
            )
        if amount.value > MAX_SPAN[unit]:
            raise SegmentError(
                f"{amount.value} {unit}s is out of range: a span is at most {MAX_SPAN[unit]:,} {unit}s (1,000 years)",
                text=self.text,
                pos=amount.pos,
                end=amount.end,
            )
        return A.Interval(amount.value, unit, **self.span(amount.pos))  # type: ignore[arg-type]

    def term(self) -> A.Expr:
        start = self.tok.pos
        left = self.unary()
        levels = 0
        while self.at_op("*", "/"):
            levels += 1
            with self.deeper(self.tok, levels):
                op = self.advance().text
                right = self.unary()
            left = A.Arith(op, left, right, **self.span(start))  # type: ignore[arg-type]
        return left

    def unary(self) -> A.Expr:
        start = self.tok.pos
        if self.at_op("-"):
            with self.deeper(self.advance()):
                operand = self.unary()
            if isinstance(operand, A.Literal) and isinstance(operand.value, (int, float)):
                return A.Literal(-operand.value, **self.span(start))
            return A.Neg(operand, **self.span(start))
        return self.primary()

    def primary(self) -> A.Expr:
        tok = self.tok
        start = tok.pos
        if tok.kind is T.NUMBER:
            self.advance()
            return A.Literal(self.number(tok), pos=tok.pos, end=tok.end)
        if tok.kind is T.STRING:
            self.advance()
            return A.Literal(tok.text, pos=tok.pos, end=tok.end)
        if tok.kind is T.OP and tok.text == "(":
            with self.deeper(self.advance()):
                inner = self.setexpr()
            self.expect_op(")", "')'")
            # setexpr wraps a bare value in BoolTest; in value position "(age + 1) * 2" it is a value.
            # predicate() wraps it again when the parentheses stand alone as a condition.
            return inner.operand if isinstance(inner, A.BoolTest) else inner
        if tok.kind is T.OP and tok.text == "{":
            self.advance()
            name = self.advance()
            if name.kind is not T.IDENT:
                raise self.error("expected a Python variable name inside { }", name)
            self.expect_op("}", "'}' to close the variable")
            return A.Param(name.text, **self.span(start))
        if tok.kind is T.QIDENT:
            return self.name()
        if tok.kind is T.IDENT:
            word = tok.text.lower()
            nxt = self.peek()
            if word in ("true", "false"):
                self.advance()
                return A.Literal(word == "true", pos=tok.pos, end=tok.end)
            if word == "null":
                self.advance()
                return A.Literal(None, pos=tok.pos, end=tok.end)
            if word in ("date", "timestamp") and nxt.kind is T.STRING:
                self.advance()
                lit = self.advance()
                return A.Literal(self.date_value(lit, word), **self.span(start))
            if word == "case" and nxt.is_word("when"):
                with self.deeper(tok):
                    return self.case()
            if nxt.kind is T.OP and nxt.text == "(":
                with self.deeper(tok, _FUNCTION_LEVELS.get(word, 2)):
                    if word in AGG_FUNCS:
                        return self.aggregate(word)
                    if word in EXISTS_KINDS:
                        return self.exists(word)
                    if word in FUNCTIONS:
                        return self.function(word)
                raise self.error(
                    f"unknown function '{tok.text}'{did_you_mean(word, AGG_FUNCS + EXISTS_KINDS + FUNCTIONS)}; "
                    f"aggregates: {', '.join(AGG_FUNCS)}; tests: any, none, all; functions: {', '.join(FUNCTIONS)}"
                )
            if word in _RESERVED:
                raise self.error(f"expected a value, found {self.describe(tok)}")
            return self.name()
        raise self.error(f"expected a value, found {self.describe(tok)}")

    def date_value(self, tok: Token, kind: str) -> dt.date | dt.datetime:
        try:
            if kind == "date":
                return dt.date.fromisoformat(tok.text)
            return dt.datetime.fromisoformat(tok.text)
        except ValueError:
            raise self.error(
                f"not a valid {kind.upper()} literal: '{tok.text}' (use 'YYYY-MM-DD')", tok
            ) from None

    def name(self) -> A.Name:
        start = self.tok.pos
        parts = [self.advance().text]
        while self.at_op(".") and self.peek().kind in (T.IDENT, T.QIDENT):
            self.advance()
            parts.append(self.advance().text)
        return A.Name(tuple(parts), **self.span(start))

    def path(self) -> tuple[str, ...]:
        tok = self.tok
        if tok.kind not in (T.IDENT, T.QIDENT):
            raise self.error(
                f"expected a relationship path such as orders.amount, found {self.describe(tok)}"
            )
        return self.name().parts

    def aggregate(self, func: str) -> A.Aggregate:
        start = self.advance().pos
        self.expect_op("(", "'('")
        if self.at_word("distinct") and self.peek().kind in (T.IDENT, T.QIDENT):
            distinct = self.advance()
            written = ".".join(self.name().parts)
            raise self.error(
                f"use count_distinct({written}) to count distinct values"
                if func == "count"
                else f"{func}() has no DISTINCT; count_distinct({written}) counts distinct values",
                distinct,
            )
        if func == "count" and self.at_op("*") and self.peek().kind is T.OP and self.peek().text == ")":
            self.advance()  # count(*): the binder says what to count instead, from the user's model
            self.advance()
            return A.Aggregate("count", (), pos=start, end=self.span(start)["end"])
        if self.tok.kind not in (T.IDENT, T.QIDENT) and not self.at_op("(", "-"):
            self.path()  # raises: expected a relationship path (an expression starts with one too)
        value = self.additive()
        by, fraction = self.aggregate_argument(func)
        where = self.setexpr() if self.accept_word("where") else None
        self.expect_op(")", "')' to close the aggregate")
        span = self.span(start)
        if isinstance(value, A.Name):
            return A.Aggregate(func, value.parts, where, None, by, fraction, **span)  # type: ignore[arg-type]
        return A.Aggregate(func, (), where, value, by, fraction, **span)  # type: ignore[arg-type]

    def aggregate_argument(self, func: str) -> tuple[A.Expr | None, A.Expr | None]:
        """After the value: ``by <order>`` of first/last, ``, <fraction>`` of percentile."""
        if func in ("first", "last", "percentile") and self.at_word("where"):
            what = "the fraction goes" if func == "percentile" else "BY and the order go"
            raise self.error(f"{what} before WHERE, as in  {_AGG_EXAMPLES[func][:-1]} where ...)")
        if func in ("first", "last"):
            self.expect_word("by", f"BY and the order of the records, as in  {_AGG_EXAMPLES[func]}")
            return self.additive(), None
        if func == "percentile":
            self.expect_op(",", f"',' and a fraction from 0 to 1, as in  {_AGG_EXAMPLES[func]}")
            return None, self.additive()
        if self.at_word("by"):
            raise self.error(
                f"{func}() has no BY; first(...) and last(...) do, as in  {_AGG_EXAMPLES['first']}"
            )
        if self.at_op(","):
            hint = (
                f"; percentile takes a fraction, as in  {_AGG_EXAMPLES['percentile']}"
                if func == "median"
                else ""
            )
            raise self.error(f"{func}() takes one value{hint}")
        return None, None

    def function(self, name: str) -> A.Func:
        start = self.advance().pos
        self.expect_op("(", "'('")
        args: list[A.Expr] = []
        if not self.at_op(")"):
            args.append(self.additive())
            while self.at_op(","):
                self.advance()
                args.append(self.additive())
        self.expect_op(")", f"')' to close {name}(...)")
        return A.Func(name, tuple(args), **self.span(start))

    def case(self) -> A.Case:
        start = self.advance().pos
        whens: list[A.When] = []
        while self.at_word("when"):
            when_start = self.advance().pos
            condition = self.setexpr()
            self.expect_word("then", "THEN after the WHEN condition")
            whens.append(A.When(condition, self.additive(), **self.span(when_start)))
        default = self.additive() if self.accept_word("else") else None
        self.expect_word("end", "END to close CASE" if default is not None else "WHEN, ELSE or END in CASE")
        return A.Case(tuple(whens), default, **self.span(start))

    def exists(self, kind: str) -> A.Exists:
        start = self.advance().pos
        self.expect_op("(", "'('")
        path = self.path()
        where = self.setexpr() if self.accept_word("where") else None
        self.expect_op(")", "')' to close " + kind.upper())
        return A.Exists(kind, path, where, **self.span(start))  # type: ignore[arg-type]
