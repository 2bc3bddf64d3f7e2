"""The scalar functions of the language: their signatures, checked by the binder.

Each function takes values of given kinds and returns a value of a known type; how each becomes SQL
on each database is in ``compile/dialects.py`` (``function_sql``). The meaning, on every database:

- ``coalesce(a, b, ...)``: the first argument that is not NULL (all of one type);
- ``concat(a, b, ...)``: texts joined, a NULL part counting as empty text;
- ``round(x)``, ``round(x, n)``: to ``n`` decimals (0 by default), halves away from zero;
- ``least``/``greatest(a, b, ...)``: the smallest/largest argument that is not NULL (NULL if all are);
- ``weekday(d)``: 1 = Monday ... 7 = Sunday;
- ``days_between(a, b)``: whole calendar days from a to b (negative when b is earlier);
- ``date(ts)``: the day of a timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of argument: a type name, "time" (date or timestamp), "orderable", "any"; "same" means every
# argument has one type (NULL fits anywhere) and the result has that type.
TIME = ("date", "timestamp")
ORDERABLE = ("number", "string", "date", "timestamp")


@dataclass(frozen=True)
class Signature:
    params: tuple[str, ...]  # the kind of each argument; with ``variadic`` the last one repeats
    result: str  # a type, or "same": the arguments' common type
    variadic: bool = False
    min_args: int | None = None  # with ``variadic``: at least this many (default: len(params))
    optional: int = 0  # trailing params that may be left out
    shows: str = ""  # how the signature is shown in messages and completion

    def arity_ok(self, n: int) -> bool:
        if self.variadic:
            return n >= (self.min_args if self.min_args is not None else len(self.params))
        return len(self.params) - self.optional <= n <= len(self.params)


FUNCTIONS: dict[str, Signature] = {
    "lower": Signature(("string",), "string", shows="lower(text) -> text"),
    "upper": Signature(("string",), "string", shows="upper(text) -> text"),
    "trim": Signature(("string",), "string", shows="trim(text) -> text"),
    "length": Signature(("string",), "number", shows="length(text) -> number"),
    "coalesce": Signature(
        ("any",), "same", variadic=True, min_args=2, shows="coalesce(a, b, ...) -> a's type"
    ),
    "concat": Signature(
        ("string",), "string", variadic=True, min_args=2, shows="concat(text, text, ...) -> text"
    ),
    "abs": Signature(("number",), "number", shows="abs(number) -> number"),
    "round": Signature(
        ("number", "integer"), "number", optional=1, shows="round(number[, decimals]) -> number"
    ),
    "floor": Signature(("number",), "number", shows="floor(number) -> number"),
    "ceil": Signature(("number",), "number", shows="ceil(number) -> number"),
    "least": Signature(
        ("orderable",), "same", variadic=True, min_args=2, shows="least(a, b, ...) -> a's type"
    ),
    "greatest": Signature(
        ("orderable",), "same", variadic=True, min_args=2, shows="greatest(a, b, ...) -> a's type"
    ),
    "year": Signature(("time",), "number", shows="year(date) -> number"),
    "quarter": Signature(("time",), "number", shows="quarter(date) -> number 1-4"),
    "month": Signature(("time",), "number", shows="month(date) -> number 1-12"),
    "day": Signature(("time",), "number", shows="day(date) -> number 1-31"),
    "weekday": Signature(("time",), "number", shows="weekday(date) -> number, 1 = Monday ... 7 = Sunday"),
    "days_between": Signature(("time", "time"), "number", shows="days_between(from_date, to_date) -> number"),
    "date": Signature(("time",), "date", shows="date(timestamp) -> date"),
}


def fits(kind: str, type_: str) -> bool:
    """Whether a value of ``type_`` may be passed where ``kind`` is expected (NULL fits anywhere)."""
    if type_ == "null" or kind == "any":
        return True
    if kind == "time":
        return type_ in TIME
    if kind == "orderable":
        return type_ in ORDERABLE
    if kind == "integer":
        return type_ == "number"
    return kind == type_
