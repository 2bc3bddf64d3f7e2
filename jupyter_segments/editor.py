"""The kernel side of the JupyterLab editor support for ``%%segment`` cells: diagnostics and hover.

The JupyterLab extension (labextension/ in the repository; built into jupyter_segments/labextension)
highlights ``%%segment`` cells by itself. For errors and hover it opens a comm, ``jupyter_segments.editor``,
which ``%load_ext jupyter_segments`` registers here. Each message is one request, answered at once:

    {"id": 7, "type": "check", "code": CELL}             -> {"id": 7, "type": "check", "connected": true,
                                                             "diagnostics": [DIAGNOSTIC, ...]}
    {"id": 8, "type": "hover", "code": CELL, "offset": N} -> {"id": 8, "type": "hover", "connected": true,
                                                             "hover": HOVER or null}

``CELL`` is the whole cell, magic line included; offsets (``offset``, ``from``, ``to``) count UTF-16 code
units of it, as the browser's editor does. A DIAGNOSTIC is ``{from, to, line, column, end_line,
end_column, severity, message, source}`` with 1-based lines and columns of the cell; ``severity`` is
``error`` (does not parse or bind; at most one) or ``warning`` (bind/checks.py: legal but almost
certainly wrong). A HOVER is ``{from, to, kind,
title, detail: [str], code}``. Without a connected workspace the answer is ``connected: false`` and
nothing else: the cell is only highlighted.

The pure functions ``diagnostics(ws, cell)`` and ``hover(ws, cell, offset)`` do the work; the comm only
carries their results. The debounce is the browser's (a check waits for 0.4 s without typing, and a cell
has at most one request in flight); here a repeated hover of the same column reuses its top values.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlglot import exp

from .backends.base import plain_value, table_expr
from .bind import bind, checks
from .bind import typed as T
from .dsl.tokens import T as K
from .dsl.tokens import Token, tokenize
from .errors import SegmentError
from .model import Step

COMM_TARGET = "jupyter_segments.editor"
REQUESTS: Counter[str] = Counter()  # requests answered in this kernel, by type (tests read the debounce)
TOP_VALUES = 3
TOP_VALUES_SAMPLE = 10_000  # rows read for the top values: a hover must stay cheap on a big table
TOP_VALUES_TTL = 300.0  # seconds a column's sample is reused by later hovers

_MAGIC = re.compile(r"%%segment(?:[ \t]|$)")

FUNCTIONS: dict[str, tuple[str, str]] = {
    "count": ("count(path [where condition])", "number of related records (0 when there are none)"),
    "count_distinct": (
        "count_distinct(path.attribute [where condition])",
        "number of distinct non-NULL values (0 when there are none)",
    ),
    "sum": ("sum(path.attribute [where condition])", "total of the values (0 when there are none)"),
    "avg": ("avg(path.attribute [where condition])", "mean of the values (NULL when there are none)"),
    "min": ("min(path.attribute [where condition])", "smallest value (NULL when there are none)"),
    "max": ("max(path.attribute [where condition])", "largest value (NULL when there are none)"),
    "any": ("any(path [where condition])", "true when at least one related record matches"),
    "none": ("none(path [where condition])", "true when no related record matches (also with none)"),
    "all": ("all(path [where condition])", "true when every related record matches (also with none)"),
}


# --- the cell ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Cell:
    """A ``%%segment`` cell split as the magic sees it: ``body`` starts at ``offset`` in ``code``."""

    code: str
    body: str
    offset: int


def split_cell(code: str) -> Cell | None:
    """The definition text of a ``%%segment`` cell, or None for any other cell.

    IPython drops blank lines before the magic line; the magic passes the rest of the cell, which
    ``%%segment`` strips of leading and trailing newlines before parsing.

    >>> split_cell("%%segment vip\\nage > 30").body
    'age > 30'
    """
    start = 0
    while True:
        nl = code.find("\n", start)
        line = code[start:] if nl == -1 else code[start:nl]
        if line.strip():
            break
        if nl == -1:
            return None
        start = nl + 1
    if not _MAGIC.match(line.lstrip()):
        return None
    if nl == -1:
        return Cell(code, "", len(code))
    rest = code[nl + 1 :]
    lead = len(rest) - len(rest.lstrip("\n"))
    return Cell(code, rest.strip("\n"), nl + 1 + lead)


def utf16_offset(text: str, index: int) -> int:
    """UTF-16 code units before ``text[index]`` (what the browser counts)."""
    prefix = text[:index]
    return len(prefix) + sum(1 for c in prefix if ord(c) > 0xFFFF)


def index_of_utf16(text: str, offset: int) -> int:
    """The string index at UTF-16 ``offset`` (inverse of ``utf16_offset``; clamped to the text)."""
    units = 0
    for i, c in enumerate(text):
        if units >= offset:
            return i
        units += 2 if ord(c) > 0xFFFF else 1
    return len(text)


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# --- diagnostics ------------------------------------------------------------------------------------


_SEGMENT_REF = re.compile(r"(?:not\s+)?in\s+segment\s+(?:\w+|\"[^\"]*\")", re.IGNORECASE)


def _token_end(text: str, pos: int) -> int:
    """Where the fault starting at ``pos`` ends, for errors that carry no end of their own."""
    if pos >= len(text):
        return pos
    c = text[pos]
    ref = _SEGMENT_REF.match(text, pos)
    if ref:
        return ref.end()
    if c.isalnum() or c == "_":
        m = re.compile(r"[\w.]+").match(text, pos)
        return m.end() if m else pos + 1
    if c in "'\"{":
        close = text.find("}" if c == "{" else c, pos + 1)
        return len(text) if close == -1 else close + 1
    return pos + 1


def _diagnostic(cell: Cell, start: int, end: int, message: str, severity: str) -> dict[str, Any]:
    """A diagnostic over ``cell.code[start:end]`` (string indices)."""
    line, column = _line_column(cell.code, start)
    end_line, end_column = _line_column(cell.code, end)
    return {
        "from": utf16_offset(cell.code, start),
        "to": utf16_offset(cell.code, end),
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "severity": severity,
        "message": message,
        "source": "segment",
    }


def error_diagnostic(cell: Cell, e: SegmentError) -> dict[str, Any]:
    """Where ``e`` points in the body, mapped to the cell; its first line when it points nowhere."""
    message = e.reason + (f"\n{e.hint}" if e.hint else "")
    pos = e.pos if e.text is None or e.text == cell.body else None
    if pos is None:
        first = cell.body.find("\n")
        line_end = cell.offset + (len(cell.body) if first == -1 else first)
        return _diagnostic(cell, cell.offset, line_end, message, "error")
    pos = max(0, min(pos, len(cell.body)))
    # The error's own end where it has one; else (a parse error at one token) that token's end.
    end = e.end if e.end is not None and e.end > pos else _token_end(cell.body, pos)
    end = min(end, len(cell.body))
    return _diagnostic(cell, cell.offset + pos, cell.offset + end, message, "error")


def diagnostics(ws: Any, code: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Errors (and later warnings) of a ``%%segment`` cell against ``ws``'s model; [] for other cells.

    ``params`` are the notebook's variables, for ``{name}`` placeholders (as the magic binds them).

    >>> diagnostics(ws, "%%segment\\ncontry = 'DE'")[0]["message"]
    "unknown attribute 'contry' on customers; did you mean 'country'?"
    """
    cell = split_cell(code)
    if cell is None or not cell.body.strip():
        return []
    try:
        ws.check(cell.body, params=_params_for(cell.body, params))
    except SegmentError as e:
        return [error_diagnostic(cell, e)]
    except Exception as e:  # noqa: BLE001 - a database or driver error while reading the model
        magic = cell.code.find("%%segment")
        return [_diagnostic(cell, magic, magic + 9, f"could not check the definition: {e}", "warning")]
    bound = _bound(ws, cell, params)
    found = [] if bound is None else checks.warnings(bound)  # legal, but almost certainly wrong
    return [_diagnostic(cell, cell.offset + w.pos, cell.offset + w.end, w.message, "warning") for w in found]


def _params_for(body: str, params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The namespace only when the text has a ``{`` (binding walks the tree)."""
    return params if params is not None and "{" in body else None


# --- hover ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sample:
    """What a bounded read of one column found: its most common values, range and NULLs."""

    rows: int  # rows read (at most the sample size)
    non_null: int
    top: list[tuple[Any, int]]  # (value, rows), most common first
    low: Any
    high: Any


class TopValues:
    """The most common values of a column in a bounded sample of its table, kept ``ttl`` seconds.

    Two cheap reads of at most ``sample`` rows (``SELECT col FROM t LIMIT n``) through the engine: the
    top values, and the count, non-NULL count, minimum and maximum. Nothing reads a whole table.
    """

    def __init__(
        self, limit: int = TOP_VALUES, sample: int = TOP_VALUES_SAMPLE, ttl: float = TOP_VALUES_TTL
    ) -> None:
        self.limit = limit
        self.sample = sample
        self.ttl = ttl
        self._cache: dict[tuple[int, str, str], tuple[float, Sample]] = {}

    def __call__(self, ws: Any, table: str, column: str) -> Sample:
        key = (id(ws.session), table, column)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or now - hit[0] > self.ttl:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] <= self.ttl}
            hit = self._cache[key] = (now, self._query(ws, table, column))
        return hit[1]

    def queries(self, table: str, column: str, dialect: str) -> tuple[str, str]:
        """The two SQL statements: top values, then rows / non-NULL / min / max."""
        col = exp.column(column, quoted=True)
        sample = exp.select(col).from_(table_expr(table)).limit(self.sample).subquery("s")
        v, n = exp.column("v"), exp.column("n")
        top = (
            exp.select(col.copy().as_("v"), exp.func("count", exp.Star()).as_("n"))
            .from_(sample)
            .group_by(col.copy())
            .order_by(exp.Ordered(this=n, desc=True), exp.Ordered(this=v, nulls_first=False))
            .limit(self.limit + 1)  # NULL may take a place: it is reported apart
        )
        summary = exp.select(
            exp.func("count", exp.Star()),
            exp.func("count", col.copy()),
            exp.func("min", col.copy()),
            exp.func("max", col.copy()),
        ).from_(sample.copy())
        return top.sql(dialect=dialect), summary.sql(dialect=dialect)

    def _query(self, ws: Any, table: str, column: str) -> Sample:
        top_sql, summary_sql = self.queries(table, column, ws.dialect)
        # A distribution query of the front end's own, until the engine offers one (design.md): it
        # runs through the engine, so a database error arrives as a SegmentError.
        frame = ws.session.fetch(top_sql)
        rows, non_null, low, high = ws.session.fetch(summary_sql).iloc[0].tolist()
        top = [(plain_value(value), int(count)) for value, count in frame.itertuples(index=False, name=None)]
        top = [(value, count) for value, count in top if value is not None][: self.limit]
        return Sample(int(rows or 0), int(non_null or 0), top, plain_value(low), plain_value(high))


def _shown(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_top_values = TopValues()


def describe_sample(found: Sample, type_: str, sample: int) -> list[str]:
    """Lines for a hover card: which rows were read, the common values, the range, the NULLs."""
    if not found.rows:
        return ["no rows"]
    where = f"first {found.rows:,} rows" if found.rows >= sample else f"{found.rows:,} rows"
    lines = []
    # Values that repeat (in a small table, any value)
    common = [(v, n) for v, n in found.top if n >= max(2, found.rows * 0.01) or found.rows <= 20]
    if common:
        shown = ", ".join(f"{_shown(v)} {100 * n / found.rows:.0f}%" for v, n in common)
        lines.append(f"most common in the {where}: {shown}")
    if type_ in ("number", "date", "timestamp") and found.low is not None:
        lines.append(f"from {_shown(found.low)} to {_shown(found.high)} in the {where}")
    elif not common:
        lines.append(f"no value repeats in the {where}")
    nulls = found.rows - found.non_null
    if nulls:
        lines.append(f"NULL in {100 * nulls / found.rows:.0f}% of them")
    return lines


@dataclasses.dataclass
class _Found:
    node: Any
    scope: str  # the table names resolve on


def _walk(node: Any, scope: str) -> Iterator[_Found]:
    """Every typed node with the table its names resolve on; measures' and segments' own text skipped."""
    yield _Found(node, scope)
    if isinstance(node, T.MeasureRef | T.SegmentRef):
        return
    inner = scope
    if isinstance(node, T.Agg | T.Exists):
        inner = T.path(node)[-1].target
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, T.Projection):
                yield from _walk(child.value, scope)
            elif dataclasses.is_dataclass(child) and hasattr(child, "pos") and not isinstance(child, Step):
                yield from _walk(child, inner)


def _chain(tokens: list[Token], i: int) -> tuple[int, int]:
    """First and last token index of the dotted name around ``tokens[i]``."""

    def is_name(j: int) -> bool:
        return 0 <= j < len(tokens) and tokens[j].kind in (K.IDENT, K.QIDENT)

    def is_dot(j: int) -> bool:
        return 0 <= j < len(tokens) and tokens[j].kind is K.OP and tokens[j].text == "."

    first = i
    while is_dot(first - 1) and is_name(first - 2):
        first -= 2
    last = i
    while is_dot(last + 1) and is_name(last + 2):
        last += 2
    return first, last


def _card(
    cell: Cell, start: int, end: int, kind: str, title: str, detail: list[str], code: str | None = None
):
    return {
        "from": utf16_offset(cell.code, cell.offset + start),
        "to": utf16_offset(cell.code, cell.offset + end),
        "kind": kind,
        "title": title,
        "detail": detail,
        "code": code,
    }


def _relationship_card(cell: Cell, tok: Token, step: Step) -> dict[str, Any]:
    r = step.relationship
    if step.to_many:
        how = f"to-many: a {r.parent} row has any number of {r.child} rows"
    else:
        how = f"to-one: a {r.child} row has at most one {r.parent} row"
    detail = [
        f"{step.source} -> {step.target}, {how}",
        f"join: {r.child}.{r.child_column} = {r.parent}.{r.parent_column}",
        f"{r.origin}" + (", integrity assumed (no orphans)" if r.assume_integrity else ""),
    ]
    return _card(cell, tok.pos, tok.end, "relationship", step.target, detail)


def _attribute_card(ws: Any, cell: Cell, tok: Token, table: str, column: str, type_: str) -> dict[str, Any]:
    col = ws.model.entity(table).column(column)
    db_type = getattr(col, "db_type", "") if col is not None else ""
    detail = [f"{type_}" + (f" ({db_type})" if db_type else "") + f", in table {table}"]
    try:
        found = _top_values(ws, table, column)
    except Exception as e:  # noqa: BLE001 - a hover never fails because the database did
        detail.append(f"no values shown: {str(e).splitlines()[0][:120]}")
    else:
        detail += describe_sample(found, type_, _top_values.sample)
    return _card(cell, tok.pos, tok.end, "attribute", f"{table}.{column}", detail)


def _function_card(cell: Cell, tok: Token) -> dict[str, Any]:
    signature, meaning = FUNCTIONS[tok.text.lower()]
    return _card(cell, tok.pos, tok.end, "function", signature, [meaning])


def _segment_card(ws: Any, cell: Cell, tok: Token) -> dict[str, Any] | None:
    try:
        seg = ws.get(tok.text)
    except (SegmentError, KeyError):
        return None
    detail: list[str] = []
    described = [getattr(seg, "display_name", None), getattr(seg, "description", None)]
    detail += [d for d in described if d and d != tok.text]
    state = getattr(seg, "state", None)
    count = getattr(seg, "count", None)
    run = getattr(seg, "last_run", None)
    when = getattr(run, "finished_at", None) or getattr(run, "started_at", None)
    if count is not None:
        at = f" at the last refresh ({when:%Y-%m-%d %H:%M})" if when is not None else ""
        detail.append(f"{count:,} members{at}")
    else:
        detail.append("not refreshed yet")
    if state:
        detail.append(f"state: {state}")
    return _card(cell, tok.pos, tok.end, "segment", tok.text, detail, getattr(seg, "definition", None))


def _measure_card(ws: Any, cell: Cell, node: T.MeasureRef) -> dict[str, Any]:
    expression = None
    try:
        frame = ws.measures()
        rows = frame[frame["name"] == node.name]
        if len(rows):
            expression = str(rows.iloc[0].get("expression", "")) or None
    except Exception:  # noqa: BLE001 - the card is shown without its expression
        pass
    return _card(cell, node.pos, node.end, "measure", node.name, [f"{node.type}, per customer"], expression)


class _Lenient(Mapping[str, Any]):
    """The notebook's variables, with every other name bound to NULL."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._known = values

    def __contains__(self, name: object) -> bool:
        return True

    def __getitem__(self, name: str) -> Any:
        return self._known.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)

    def __bool__(self) -> bool:  # even without variables: ``params or {}`` must keep it
        return True


def _bound(ws: Any, cell: Cell, params: Mapping[str, Any] | None) -> T.Definition | None:
    def segment_source(name: str) -> str:
        catalog = getattr(ws, "catalog_or_none", None)
        if catalog is None:
            raise KeyError(" (no catalog is attached)")
        return catalog.definition_text(name)

    try:
        # An undefined {variable} is the diagnostics' business: here it is NULL, so the rest still binds.
        lenient = _Lenient(params or {}) if "{" in cell.body else None
        tree = ws.parse(cell.body, params=lenient)
        return bind(ws.model, tree, segment_source)
    except SegmentError:
        return None


def hover(ws: Any, code: str, offset: int, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """What the name at UTF-16 ``offset`` of a ``%%segment`` cell is, or None.

    An attribute: its table, type and top values; a relationship step: its join; ``in segment x``: x's
    definition and last count; a function name: its signature; a measure: its expression.
    """
    cell = split_cell(code)
    if cell is None:
        return None
    at = index_of_utf16(code, offset) - cell.offset
    if at < 0 or at > len(cell.body):
        return None
    try:
        tokens = tokenize(cell.body)
    except SegmentError:
        return None
    hit = [i for i, t in enumerate(tokens) if t.pos <= at < t.end and t.kind in (K.IDENT, K.QIDENT)]
    if not hit:
        return None
    i = hit[0]
    tok = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if tok.kind is K.IDENT and tok.text.lower() in FUNCTIONS and nxt is not None and nxt.text == "(":
        return _function_card(cell, tok)
    if i >= 2 and tokens[i - 1].is_word("segment") and tokens[i - 2].is_word("in"):
        return _segment_card(ws, cell, tok)
    bound = _bound(ws, cell, params)
    if bound is None:
        return None
    first, _last = _chain(tokens, i)
    index = (i - first) // 2  # which name of the dotted chain
    found = None
    for f in _walk(bound, ws.model.customer):
        node = f.node
        if isinstance(node, T.Col | T.Agg | T.Exists | T.MeasureRef) and node.pos <= tok.pos < node.end:
            found = f  # the walk goes outside in: the last hit is the innermost
    if found is None:
        return None
    node = found.node
    if isinstance(node, T.MeasureRef):
        return _measure_card(ws, cell, node)
    if isinstance(node, T.Col):
        # The Col covers the chain from its own first name: steps, then the column.
        col_first = next((j for j in range(first, i + 1, 2) if tokens[j].pos == node.pos), first)
        k = (i - col_first) // 2
        if k < len(node.steps):
            return _relationship_card(cell, tok, node.steps[k])
        table = node.steps[-1].target if node.steps else found.scope
        return _attribute_card(ws, cell, tok, table, node.column, node.type)
    steps = T.path(node)
    if tokens[first - 1].text == "(" and index < len(steps):
        return _relationship_card(cell, tok, steps[index])
    return None


# --- the comm ---------------------------------------------------------------------------------------


def handle(message: Mapping[str, Any], ws: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The reply to one comm message (see the module docstring)."""
    kind = message.get("type")
    REQUESTS[str(kind)] += 1
    reply: dict[str, Any] = {"id": message.get("id"), "type": kind, "connected": ws is not None}
    code = message.get("code")
    if not isinstance(code, str):
        reply["error"] = "no code"
        return reply
    if kind == "check":
        reply["diagnostics"] = [] if ws is None else diagnostics(ws, code, params)
    elif kind == "hover":
        offset = message.get("offset")
        ok = ws is not None and isinstance(offset, int)
        try:
            reply["hover"] = hover(ws, code, offset, params) if ok else None  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a hover shows nothing rather than an error
            reply["hover"] = None
    else:
        reply["error"] = f"unknown request type {kind!r}"
    return reply


def register_comm(
    kernel: Any, get_ws: Callable[[], Any], get_params: Callable[[], Mapping[str, Any]]
) -> bool:
    """Answer the extension's comm in this kernel; False where there is none (terminal IPython)."""
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:
        return False

    def opened(comm: Any, _open_msg: Any) -> None:
        def received(msg: Any) -> None:
            data = msg.get("content", {}).get("data", {})
            comm.send(handle(data, get_ws(), get_params()))

        comm.on_msg(received)

    manager.register_target(COMM_TARGET, opened)
    return True


def unregister_comm(kernel: Any) -> None:
    manager = getattr(kernel, "comm_manager", None)
    if manager is not None:
        manager.unregister_target(COMM_TARGET, None)
