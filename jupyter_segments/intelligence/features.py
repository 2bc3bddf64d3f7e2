"""Features shared by suggest, compare and similar: what describes a customer, and how to fetch it.

A feature is a DSL value expression evaluated per customer (``age``, ``regions.name``,
``count(support_calls)``, ``sum(orders.amount)``). Features are fetched through the ordinary compiler as
``PROJECT`` columns, so every number the intelligence tools show means exactly what the same expression
means in a segment definition.

Default features (``default_features``), documented because users judge models by them:

* every column of the customer table except the key, columns named ``id`` / ``*_id`` (foreign keys say
  nothing by their value), and text columns with many distinct values (names, e-mails, cities: more than
  ``MAX_CATEGORIES`` values in the sample are dropped later by ``prepare``);
* the text and boolean columns of tables one to-one step away (``regions.name``);
* for every table directly related to-many (orders, support_calls, ...): ``count(<table>)`` and
  ``sum(<table>.<col>)`` of its numeric, non-id columns.

Kinds: ``number`` (numeric values), ``category`` (text: one indicator per frequent value),
``boolean``, ``date`` / ``timestamp`` (used as day numbers by models, printed back as dates).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sqlglot import exp

from ..catalog import members as M
from ..catalog.store import Catalog
from ..compile import dialects as D
from ..dsl import ast as A
from ..dsl import parse_condition, to_text
from ..dsl.printer import quote_name
from ..errors import SegmentError
from ..session import Session, database_error

Kind = Literal["number", "category", "boolean", "date", "timestamp"]
MAX_CATEGORIES = 15  # text features with more distinct values than this (in a sample) are not categorical
DEFAULT_SAMPLE = 20_000
_ID_COLUMN = re.compile(r"(^id$|_id$)", re.IGNORECASE)


@dataclass(frozen=True)
class Feature:
    """One per-customer value: its DSL expression, its kind, and the column alias it is fetched as."""

    expr: str
    kind: Kind
    alias: str

    @property
    def label(self) -> str:
        return self.expr


# --- definitions: names, DSL text, conditions ----------------------------------------------------------


def resolve_definition(
    session: Session, catalog: Catalog | None, ref: str | A.Definition | A.Expr
) -> tuple[A.Expr, str]:
    """A segment name (from ``catalog``, if any) or DSL text -> (condition tree, display label).

    A bare name that the catalog knows becomes ``in segment <name>`` (a static segment: its frozen member
    keys); anything else must parse as DSL (so DSL text works without a catalog). PROJECT clauses are dropped: only membership matters here.
    """
    if isinstance(ref, A.Definition):
        return ref.condition, ref.text.strip() or to_text(ref.condition)
    if not isinstance(ref, str):
        return ref, to_text(ref)
    text = ref.strip()
    if not text:
        raise SegmentError("an empty segment definition")
    catalog = catalog if re.fullmatch(r"[^\W\d][\w.-]*", text) else None
    if catalog is not None and catalog.has_segment(text):
        try:
            catalog.definition_text(text)
        except KeyError:
            # A static segment has no definition to refer to: its frozen member keys stand in.
            row = M.require_members(catalog.segment_row(text))
            key = session.model.customer_entity().key
            keys = M.stored_keys(session.backend, row, key)  # type: ignore[arg-type]
            if not len(keys):
                return A.Literal(False), text
            items = tuple(A.Literal(v.item() if hasattr(v, "item") else v) for v in keys)
            return A.InList(A.Name((key,)), items), text  # type: ignore[arg-type]
        return A.SegmentRef(text), text
    tree = session.parse(text)
    return tree.condition, _short(text)


def _short(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def everyone() -> A.Expr:
    return A.Literal(True)


def and_(*conds: A.Expr | None) -> A.Expr:
    """Conjunction that keeps set operations intact (each operand is parenthesised by the printer)."""
    items = tuple(c for c in conds if c is not None and not (isinstance(c, A.Literal) and c.value is True))
    if not items:
        return everyone()
    if len(items) == 1:
        return items[0]
    # Set operations bind loosest; INTERSECT keeps them whole instead of AND-ing into them.
    if any(isinstance(c, A.SetOp) for c in items):
        out = items[0]
        for c in items[1:]:
            out = A.SetOp("intersect", out, c)
        return out
    return A.And(items)


def except_(left: A.Expr, right: A.Expr) -> A.Expr:
    """Members of ``left`` that are not members of ``right`` (two-valued: NULL means not a member)."""
    return A.SetOp("except", left, right)


def definition_text(cond: A.Expr, features: Sequence[Feature] = ()) -> str:
    """DSL text of a condition plus PROJECT columns for ``features``."""
    projections = tuple(A.Projection(value_node(f.expr), f.alias) for f in features)
    return to_text(A.Definition(cond, projections))


# --- feature types and defaults -----------------------------------------------------------------------


def value_node(expr: str) -> A.Expr:
    """The value tree of a feature expression (a bare name parses as a boolean test: unwrap it)."""
    node = parse_condition(expr)
    return node.operand if isinstance(node, A.BoolTest) else node


def infer_kind(session: Session, expr: str) -> Kind:
    """The kind of a feature expression, from the model (not from data)."""
    try:
        node = parse_condition(expr)
    except SegmentError as e:
        raise SegmentError(f"feature '{expr}' does not parse: {e.reason}") from None
    t = _type_of(session, node, expr)
    if t == "string":
        return "category"
    if t in ("number", "boolean", "date", "timestamp"):
        return t  # type: ignore[return-value]
    raise SegmentError(f"feature '{expr}' is {t}: use a number, text, boolean or date expression")


def _type_of(session: Session, node: A.Expr, text: str) -> str:
    model = session.model
    if isinstance(node, A.BoolTest):  # a bare value parses as a boolean test
        node = node.operand
    if isinstance(node, A.Aggregate):
        if node.func in ("count", "count_distinct", "sum", "avg"):
            return "number"
        return _path_type(session, session.model.customer_entity().name, node.path, text)
    if isinstance(node, (A.Arith, A.Neg)):
        return "number"
    if isinstance(node, A.Literal):
        v = node.value
        return "boolean" if isinstance(v, bool) else "number" if isinstance(v, (int, float)) else "string"
    if isinstance(node, A.Name):
        if len(node.parts) == 1 and node.parts[0] in model.all_measures():
            return _type_of(session, parse_condition(model.all_measures()[node.parts[0]]), text)
        return _path_type(session, model.customer_entity().name, node.parts, text)
    if isinstance(node, A.CONDITION_TYPES):
        raise SegmentError(
            f"feature '{text}' is a condition; features are values such as age or count(orders)"
        )
    raise SegmentError(f"feature '{text}' is not a value expression")


def _path_type(session: Session, entity_name: str, parts: Sequence[str], text: str) -> str:
    model = session.model
    entity = model.entity(entity_name)
    for part in parts[:-1]:
        step = model.step(entity.name, part)
        if step is None:
            raise SegmentError(f"feature '{text}': unknown relationship '{part}' from {entity.name}")
        entity = model.entity(step.target)
    last = parts[-1]
    col = entity.column(last)
    if col is None:
        step = model.step(entity.name, last)
        if step is not None:  # count(orders): the path ends on a table
            return "number"
        raise SegmentError(f"feature '{text}': unknown attribute '{last}' on {entity.name}")
    return col.type


def default_features(session: Session, *, exclude_tables: Iterable[str] = ()) -> list[str]:
    """The default feature expressions (see the module docstring); ``exclude_tables`` drops aggregates
    over those related tables (suggest excludes the tables its measure aggregates over)."""
    model = session.model
    customer = model.customer_entity()
    excluded = {t.lower() for t in exclude_tables}
    out: list[str] = []
    for col in customer.columns.values():
        if col.name == customer.key or _ID_COLUMN.search(col.name) or col.type == "other":
            continue
        out.append(_name(col.name))
    for name, step in sorted(model.steps_from(customer.name).items()):
        target = model.entity(step.target)
        if step.to_many:
            if target.name.lower() in excluded:
                continue
            out.append(f"count({_name(name)})")
            for col in target.columns.values():
                if col.type == "number" and not _ID_COLUMN.search(col.name) and col.name != target.key:
                    out.append(f"sum({_name(name)}.{_name(col.name)})")
        else:
            for col in target.columns.values():
                if col.type in ("string", "boolean") and not _ID_COLUMN.search(col.name):
                    out.append(f"{_name(name)}.{_name(col.name)}")
    return out


def _name(name: str) -> str:
    return quote_name(name)


def make_features(session: Session, exprs: Sequence[str]) -> list[Feature]:
    """Features for expressions (type-checked by compiling them once)."""
    seen: set[str] = set()
    features: list[Feature] = []
    for expr in exprs:
        expr = expr.strip()
        if not expr or expr in seen:
            continue
        seen.add(expr)
        features.append(Feature(expr, infer_kind(session, expr), f"f__{len(features) + 1}"))
    if features:
        session.check(definition_text(everyone(), features))
    return features


def tables_of(expr: str) -> set[str]:
    """Related tables an expression aggregates over (``sum(orders.amount)`` -> {'orders'})."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, (A.Aggregate, A.Exists)):
            found.add(node.path[0].lower())
        if hasattr(node, "__dataclass_fields__"):
            for f in node.__dataclass_fields__:
                walk(getattr(node, f))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    walk(parse_condition(expr))
    return found


# --- fetching ----------------------------------------------------------------------------------------


def sample_frame(
    session: Session,
    cond: A.Expr,
    features: Sequence[Feature],
    *,
    max_rows: int = DEFAULT_SAMPLE,
    population: int | None = None,
    as_of=None,
    extra: Sequence[Feature] = (),
) -> pd.DataFrame:
    """At most ``max_rows`` members of ``cond`` with the key and feature columns, chosen in the database.

    Sampling rule: when the population is larger than ``max_rows``, a numeric customer key is sampled
    systematically (``MOD(key, step) = 0``, deterministic; fine unless keys encode something), any other
    key by ``ORDER BY RANDOM()``. The rows are then capped with LIMIT.
    """
    all_features = [*features, *extra]
    text = definition_text(cond, all_features)
    n = population if population is not None else session.count(session.parse(text), as_of=as_of)
    q = session.query(text, shape="members", as_of=as_of)
    key = session.model.customer_entity().key
    assert key is not None
    q = _only_columns(q, key, [f.alias for f in all_features])
    if n > max_rows:
        key_col = session.model.customer_entity().column(key)
        if key_col is not None and key_col.type == "number":
            step = math.ceil(n / max_rows)
            pick = exp.EQ(
                this=exp.Mod(this=D.column("c", key), expression=exp.Literal.number(step)),
                expression=exp.Literal.number(0),
            )
            q = q.where(pick)
        else:
            q = q.order_by(exp.Rand())
        q = q.limit(max_rows)
    sql = q.sql(dialect=session.dialect)
    frame = session.fetch(sql)
    return normalize(frame, all_features)


def iter_frames(
    session: Session, cond: A.Expr, features: Sequence[Feature], *, chunk_size: int = 50_000, as_of=None
):
    """Every member of ``cond`` with key and feature columns, streamed in chunks."""
    text = definition_text(cond, features)
    q = session.query(text, shape="members", as_of=as_of)
    key = session.model.customer_entity().key
    assert key is not None
    sql = _only_columns(q, key, [f.alias for f in features]).sql(dialect=session.dialect)
    try:
        for chunk in session.backend.iter_chunks(sql, chunk_size):
            yield normalize(chunk, features)
    except SegmentError:
        raise
    except Exception as e:  # noqa: BLE001 - database errors are reported with the SQL sent
        raise database_error(e, sql) from e


def _only_columns(q: exp.Select, key: str, aliases: Sequence[str]) -> exp.Select:
    """Keep the key and the projected feature columns of a members query (drop the other customer columns)."""
    keep: list[exp.Expression] = []
    wanted = {a.lower() for a in aliases}
    for e in q.expressions:
        name = e.alias_or_name
        if (isinstance(e, exp.Column) and name.lower() == key.lower()) or (
            isinstance(e, exp.Alias) and name.lower() in wanted
        ):
            keep.append(e)
    q = q.copy()
    q.set("expressions", keep)
    return q


def normalize(frame: pd.DataFrame, features: Sequence[Feature]) -> pd.DataFrame:
    """Make values comparable across databases: booleans as bool/NA, numbers as float, dates as datetime64."""
    frame = frame.copy()
    lower = {c.lower(): c for c in frame.columns}
    for f in features:
        col = lower.get(f.alias.lower())
        if col is None:
            continue
        if col != f.alias:
            frame = frame.rename(columns={col: f.alias})
        s = frame[f.alias]
        if f.kind == "number":
            frame[f.alias] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif f.kind == "boolean":
            frame[f.alias] = s.map(_to_bool).astype("object")
        elif f.kind in ("date", "timestamp"):
            frame[f.alias] = pd.to_datetime(s, errors="coerce")
        else:
            frame[f.alias] = s.astype("object").where(s.notna(), None)
    return frame


def _to_bool(v: object) -> bool | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "t", "yes")
    return bool(v)


# --- model matrices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One model input column derived from a feature, and how to print a split on it as DSL."""

    feature: Feature
    name: str  # readable name shown in importances
    value: str | None = None  # the category for indicator columns (text: counted after astype(str))


def design_matrix(
    frame: pd.DataFrame, features: Sequence[Feature], columns: list[Column] | None = None
) -> tuple[np.ndarray, list[Column]]:
    """Numeric matrix for scikit-learn. Categories become 0/1 indicators of their most frequent values
    (at most ``MAX_CATEGORIES``; text features with more distinct values are skipped); booleans 0/1
    (missing text/boolean -> 0); dates day numbers; missing numbers and dates stay NaN (the tree and
    boosting models route them)."""
    if columns is None:
        columns = []
        for f in features:
            s = frame[f.alias]
            if f.kind == "category":
                counts = s.dropna().astype(str).value_counts()
                if len(counts) > MAX_CATEGORIES or len(counts) < 2:
                    continue
                columns += [Column(f, f"{f.expr} = {v!r}", v) for v in counts.index]
            else:
                if s.notna().sum() == 0:
                    continue
                columns.append(Column(f, f.expr))
    out = np.empty((len(frame), len(columns)), dtype="float64")
    for j, c in enumerate(columns):
        s = frame[c.feature.alias]
        if c.feature.kind == "category":
            # A missing value is "not this value": 0, so a split prints as x = v / (x is null or x != v).
            vals = s.astype(object)
            out[:, j] = (vals.notna() & (vals.astype(str) == str(c.value))).astype(float).to_numpy()
        elif c.feature.kind == "boolean":
            out[:, j] = s.map(lambda v: 1.0 if v is True else 0.0).astype(float).to_numpy()
        elif c.feature.kind in ("date", "timestamp"):
            ts = pd.to_datetime(s, errors="coerce")
            days = (ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            out[:, j] = days.astype(float).to_numpy()
        else:
            out[:, j] = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
    return out, columns
