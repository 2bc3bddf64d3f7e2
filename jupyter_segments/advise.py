"""Index advice: the indexes that segments would use and the database does not have (``ws.advise()``).

Tables written by ``pandas.to_sql`` have no keys and no indexes. Where a database joins by hashing
(DuckDB, PostgreSQL, MariaDB with the engine's ``join_cache_level``) that costs little; elsewhere
(SQLite, MariaDB's nested loops) a join or a lookup scans a table per row. This module reads the
typed tree of each segment for the columns its SQL joins on and lists those that no index, PRIMARY
KEY or UNIQUE constraint of the database starts with, as ``CREATE INDEX`` statements for the user to
run. Nothing here creates an index for good.

What a segment would use:
- a to-many step (``orders`` of a customer, ``order_lines`` of an order): the child table's
  foreign-key column(s), the side the join looks up or groups by;
- a to-one step (``order_lines.products.category``, an attribute through a parent): the parent's key;
- the customer key, when the segment joins anything back to the customer table (an aggregate, a
  test over records, a segment reference, a set operation, a ranking).

Columns of selective filters are not advised: whether an index on them pays depends on the data
(a filter keeping half the rows is better scanned), which the advice cannot know without measuring.

``measure=True`` times each affected segment's count before and after creating the indexes, inside
one transaction that is then rolled back (DuckDB, SQLite and PostgreSQL roll DDL back). MySQL and
MariaDB commit DDL at once: there the effect is not measured (the result says so) rather than
changing the user's tables behind their back. Databases without indexes (Spark) get an empty advice
with that reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlglot import exp

from .backends.base import Backend, bare_name, table_expr
from .bind import typed as T
from .catalog import Catalog
from .dsl.ast import Node
from .errors import SegmentError
from .model import Step
from .session import Definition, Session

# MySQL/MariaDB allow 64 characters in an index name, PostgreSQL 63: longer names are shortened.
_MAX_NAME = 60


@dataclass(frozen=True)
class IndexAdvice:
    """One index to create: on ``table`` (``columns`` in this order), named ``name``, as ``statement``
    in the database's dialect; ``segments`` that would use it; ``why`` (the join it serves)."""

    table: str
    columns: tuple[str, ...]
    name: str
    statement: str
    segments: tuple[str, ...]
    why: str


@dataclass
class Advice:
    """What ``ws.advise()`` found: ``indexes`` to create (``.sql`` as one script), ``timings`` when
    measured (seconds per affected segment's count without and with them), and ``note`` saying what
    was or was not measured, or why there is nothing to advise."""

    indexes: list[IndexAdvice]
    dialect: str
    segments: list[str]  # the segments (names, or definition texts) that were read
    note: str = ""
    timings: pd.DataFrame | None = None
    errors: dict[str, str] = field(default_factory=dict)  # segments that could not be read: why

    @property
    def sql(self) -> str:
        """The ``CREATE INDEX`` statements as one script ("" when there is nothing to create)."""
        return "".join(f"{i.statement};\n" for i in self.indexes)

    def frame(self) -> pd.DataFrame:
        """One row per index: table, columns, segments, why, statement."""
        return pd.DataFrame(
            [
                {
                    "table": i.table,
                    "columns": ", ".join(i.columns),
                    "segments": ", ".join(i.segments),
                    "why": i.why,
                    "statement": i.statement,
                }
                for i in self.indexes
            ],
            columns=["table", "columns", "segments", "why", "statement"],
        )

    def __len__(self) -> int:
        return len(self.indexes)

    def __iter__(self):  # noqa: ANN204 - an iterator of IndexAdvice
        return iter(self.indexes)

    def _head(self) -> str:
        n, s = len(self.indexes), len(self.segments)
        if not n:
            return f"no indexes to advise for {s} segment{'s' if s != 1 else ''}"
        return (
            f"{n} index{'es' if n != 1 else ''} to create for {s} segment{'s' if s != 1 else ''} "
            f"({self.dialect})"
        )

    def __repr__(self) -> str:
        lines = [self._head()]
        for i in self.indexes:
            lines.append(f"  {i.statement};")
            lines.append(f"      -- {i.why}; used by {', '.join(i.segments)}")
        if self.timings is not None and len(self.timings):
            lines.append("measured (seconds, count of each segment, indexes created then rolled back):")
            for row in self.timings.itertuples(index=False):
                lines.append(
                    f"  {row.without_s:8.3f} -> {row.with_s:8.3f}  ({row.speedup:.1f}x)  {row.segment}"
                )
        if self.note:
            lines.append(self.note)
        for name, error in self.errors.items():
            lines.append(f"not read: {name}: {error}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        parts = [f"<div><b>{e(self._head())}</b></div>"]
        if self.indexes:
            rows = "".join(
                f"<tr><td><code>{e(i.statement)};</code></td><td>{e(i.why)}</td>"
                f"<td>{e(', '.join(i.segments))}</td></tr>"
                for i in self.indexes
            )
            parts.append(
                '<table><thead><tr><th style="text-align:left">statement</th>'
                '<th style="text-align:left">why</th><th style="text-align:left">segments</th></tr>'
                f"</thead><tbody>{rows}</tbody></table>"
            )
        if self.timings is not None and len(self.timings):
            parts.append("<div>measured: seconds per count, indexes created then rolled back</div>")
            parts.append(self.timings.to_html(index=False, border=0, float_format=lambda v: f"{v:.3f}"))
        if self.note:
            parts.append(f"<div>{e(self.note)}</div>")
        for name, error in self.errors.items():
            parts.append(f"<div>not read: <code>{e(name)}</code>: {e(error)}</div>")
        return '<div class="js-advise">' + "".join(parts) + "</div>"


# --- what the segments use ----------------------------------------------------------------------------


def _children(node: Any) -> Iterable[Any]:
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            yield from (v for v in value if isinstance(v, Node))


def _walk(node: Any) -> Iterable[Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(_children(n))


def _step_needs(step: Step) -> tuple[str, tuple[str, ...], str]:
    """(table, columns, why) of the index a step's join would look up."""
    r = step.relationship
    if step.to_many:
        return r.child, r.child_columns, f"join {bare_name(r.parent)} -> {r.many_name}"
    return r.parent, r.parent_columns, f"lookup {bare_name(r.child)} -> {r.one_name}"


def needed_indexes(session: Session, typed: T.Definition) -> list[tuple[str, tuple[str, ...], str]]:
    """(table, columns, why) of each index the typed definition's SQL would use, in the order found."""
    out: dict[tuple[str, tuple[str, ...]], str] = {}
    joins_back = False
    for node in _walk(typed):
        steps: tuple[Step, ...] = ()
        if isinstance(node, (T.Agg, T.Exists)):
            steps, joins_back = T.path(node), True
        elif isinstance(node, T.Col):
            steps = node.steps
        elif isinstance(node, (T.SegmentRef, T.SetOp, T.Rank)):
            joins_back = True
        for step in steps:
            table, columns, why = _step_needs(step)
            out.setdefault((table, columns), why)
    model = session.model
    if joins_back and model.customer is not None and model.customer_keys:
        out.setdefault((model.customer, tuple(model.customer_keys)), "customer key")
    return [(table, cols, why) for (table, cols), why in out.items()]


def _covered(columns: tuple[str, ...], existing: Sequence[tuple[str, ...]]) -> bool:
    """Whether an existing index starts with ``columns`` (in any order: equality lookups only)."""
    want = {c.lower() for c in columns}
    return any(
        {c.lower() for c in idx[: len(columns)]} == want for idx in existing if len(idx) >= len(columns)
    )


def index_name(table: str, columns: Sequence[str]) -> str:
    """``ix_<table>_<columns>``, shortened with a hash suffix past 60 characters."""
    name = "ix_" + "_".join([bare_name(table), *columns])
    if len(name) > _MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[: _MAX_NAME - 9]}_{digest}"
    return name


def create_index_sql(table: str, columns: Sequence[str], name: str, dialect: str) -> str:
    """``CREATE INDEX name ON table (columns)`` with every name quoted by sqlglot for ``dialect``."""

    def q(part: str) -> str:
        return exp.to_identifier(part, quoted=True).sql(dialect=dialect)

    target = table_expr(table).sql(dialect=dialect)
    return f"CREATE INDEX {q(name)} ON {target} ({', '.join(q(c) for c in columns)})"


# --- the advice ---------------------------------------------------------------------------------------


def saved_definitions(catalog: Catalog | None) -> dict[str, str]:
    """The saved segments' texts by name (static segments, frozen member lists, are left out)."""
    if catalog is None:
        return {}
    return {r["name"]: r["definition"] for r in catalog.segment_rows() if r["type"] != "static"}


def _named(
    definitions: Definition | Sequence[Definition] | Mapping[str, Definition],
    catalog: Catalog | None,
) -> dict[str, Definition]:
    if isinstance(definitions, Mapping):
        return dict(definitions)
    items = [definitions] if isinstance(definitions, (str, Node)) else list(definitions)
    saved = saved_definitions(catalog)
    out: dict[str, Definition] = {}
    for d in items:
        if isinstance(d, str) and d.strip() in saved:  # a saved segment's name
            out[d.strip()] = saved[d.strip()]
        else:
            out[d.strip() if isinstance(d, str) else getattr(d, "text", "") or repr(d)] = d
    return out


def advise(
    session: Session,
    catalog: Catalog | None,
    definitions: Definition | Sequence[Definition] | Mapping[str, Definition] | None = None,
    *,
    measure: bool = False,
    repeat: int = 2,
) -> Advice:
    """The indexes the segments would use and the database lacks (``definitions``: saved segment names,
    definitions, or {name: definition}; default every saved segment). ``measure``: time each affected
    segment's count (best of ``repeat``) without and with them, in a transaction rolled back after."""
    backend: Backend = session.backend
    dialect = session.dialect
    named = saved_definitions(catalog) if definitions is None else _named(definitions, catalog)
    read_indexes = getattr(backend, "indexes", None)
    if read_indexes is None:
        return Advice([], dialect, list(named), note=f"{dialect} has no indexes: there is nothing to advise")
    wanted: dict[tuple[str, tuple[str, ...]], tuple[str, list[str]]] = {}
    errors: dict[str, str] = {}
    for name, definition in named.items():
        try:
            typed = session.bind(definition)
        except SegmentError as e:
            errors[name] = str(e).splitlines()[0]
            continue
        for table, columns, why in needed_indexes(session, typed):
            entry = wanted.setdefault((table, columns), (why, []))
            entry[1].append(name)
    existing: dict[str, list[tuple[str, ...]]] = {}
    advice: list[IndexAdvice] = []
    for (table, columns), (why, users) in wanted.items():
        if table not in existing:
            existing[table] = list(read_indexes(table))
        if _covered(columns, existing[table]):
            continue
        name = index_name(table, columns)
        advice.append(
            IndexAdvice(
                table, columns, name, create_index_sql(table, columns, name, dialect), tuple(users), why
            )
        )
    result = Advice(advice, dialect, list(named), errors=errors)
    if dialect == "duckdb" and advice and not measure:
        # DuckDB joins and groups by hashing: an ART index seldom changes a segment's time (1.0x on the demo)
        result.note = (
            "DuckDB joins by hashing and seldom uses these indexes: measure=True shows whether they pay"
        )
    if measure and advice:
        _measure(session, named, result, max(1, repeat))
    elif measure:
        result.note = "nothing to measure: every index the segments use exists"
    return result


def _measure(session: Session, named: Mapping[str, Definition], result: Advice, repeat: int) -> None:
    backend = session.backend
    if not getattr(backend, "transactional_ddl", False):
        result.note = (
            f"not measured: {result.dialect} commits CREATE INDEX at once, so the indexes cannot be "
            "tried and rolled back; run the statements (or try them on a copy) to see the effect"
        )
        if result.dialect == "mysql":
            # bench figure 10: MariaDB then groups by reading the table in index order
            result.note += (
                ". On MariaDB such an index can also slow a plain per-customer aggregate (sum, count over "
                "one table) two to three times while it turns joins of minutes into seconds: time both"
            )
        return
    affected = sorted({s for i in result.indexes for s in i.segments}, key=list(named).index)
    sql = {s: session.compile(named[s], shape="count", pretty=False) for s in affected}

    def best(run: Any, text: str) -> float:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            run(text)
            times.append(time.perf_counter() - t)
        return min(times)

    rows = []
    with backend.rollback_only() as run:  # type: ignore[attr-defined]
        before = {s: best(run, sql[s]) for s in affected}
        for index in result.indexes:
            run(index.statement)
        if result.dialect == "postgres":
            for table in {i.table for i in result.indexes}:
                run(f"ANALYZE {table_expr(table).sql(dialect='postgres')}")
        after = {s: best(run, sql[s]) for s in affected}
    for s in affected:
        rows.append(
            {
                "segment": s,
                "without_s": before[s],
                "with_s": after[s],
                "speedup": before[s] / max(after[s], 1e-9),
            }
        )
    result.timings = pd.DataFrame(rows, columns=["segment", "without_s", "with_s", "speedup"])
    result.note = (
        f"measured on this database: best of {repeat} counts per segment without, then with the indexes, "
        "created inside one transaction that was rolled back (they do not remain)"
    )
