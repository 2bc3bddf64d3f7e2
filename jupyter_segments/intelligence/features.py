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

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Union

import numpy as np
import pandas as pd
from sqlglot import exp

from ..backends.base import plain_rows
from ..bind import typed as T
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
            keys = session.model.customer_entity().keys
            stored = M.stored_keys(session.backend, row, keys)
            return key_list_condition(keys, plain_rows(stored)), text
        return A.SegmentRef(text), text
    tree = session.parse(text)
    return tree.condition, _short(text)


def key_list_condition(keys: Sequence[str], rows: Sequence[tuple], negated: bool = False) -> A.Expr:
    """The customers whose key is one of ``rows`` (tuples in key order) as a condition: ``id in (...)``;
    for a composite key ``(region = 'eu' and account_no in (1, 2)) or (...)``, grouped by the leading
    columns."""
    if not rows:
        return A.Literal(negated)
    if len(keys) == 1:
        return A.InList(A.Name((keys[0],)), tuple(A.Literal(r[0]) for r in rows), negated=negated)
    by_prefix: dict[tuple, list[Any]] = {}
    for r in rows:
        by_prefix.setdefault(tuple(r[:-1]), []).append(r[-1])
    groups: list[A.Expr] = []
    for prefix, last in by_prefix.items():
        parts: list[A.Expr] = [
            A.Compare("=", A.Name((k,)), A.Literal(v)) for k, v in zip(keys[:-1], prefix, strict=True)
        ]
        parts.append(A.InList(A.Name((keys[-1],)), tuple(A.Literal(v) for v in last)))
        groups.append(A.And(tuple(parts)))
    found: A.Expr = groups[0] if len(groups) == 1 else A.Or(tuple(groups))
    return A.Not(found) if negated else found


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
        if node.func in ("count", "count_distinct", "sum", "avg", "median", "percentile", "stddev"):
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
        if col.name in customer.keys or _ID_COLUMN.search(col.name) or col.type == "other":
            continue
        out.append(_name(col.name))
    for name, step in sorted(model.steps_from(customer.name).items()):
        target = model.entity(step.target)
        if step.to_many:
            if target.name.lower() in excluded:
                continue
            out.append(f"count({_name(name)})")
            for col in target.columns.values():
                if col.type == "number" and not _ID_COLUMN.search(col.name) and col.name not in target.keys:
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


# --- groups: a definition, or the members of a saved segment's last refresh ---------------------------


@dataclass(frozen=True)
class Stored:
    """The members of a saved segment's last successful refresh (or a static segment's snapshot).

    ``table``: the members table in the user's database; otherwise ``keys`` (read from the Parquet file).
    ``negated``: everyone but those members."""

    name: str
    run_id: int
    finished_at: Any
    members: int
    table: str | None = None
    keys: tuple = ()
    negated: bool = False

    def complement(self) -> Stored:
        return replace(self, negated=not self.negated)

    def describe(self) -> str:
        when = f" of {self.finished_at:%Y-%m-%d %H:%M}" if isinstance(self.finished_at, dt.datetime) else ""
        return f"{self.name}: the {self.members:,} members of refresh #{self.run_id}{when}"


Group = Union[A.Expr, Stored]


def stored_members(session: Session, catalog: Catalog, name: str) -> Stored | None:
    """The members of the last successful refresh of saved segment ``name``, or None if it has none."""
    row = catalog.segment_row(name)
    if not row["members_run_id"] or not row["members_location"]:
        return None
    run = catalog.run_row(int(row["members_run_id"]))
    keys = session.model.customer_entity().keys
    run_id, finished = int(row["members_run_id"]), run.get("finished_at")
    if row["members_location"] == "table":
        return Stored(name, run_id, finished, int(run.get("members") or 0), table=row["members_table"])
    values = tuple(plain_rows(M.stored_keys(session.backend, row, keys)))
    return Stored(name, run_id, finished, len(values), keys=values)


def group_query(
    session: Session, group: Group, features: Sequence[Feature] = (), *, shape: str, as_of=None
) -> exp.Select:
    """The compiled query (``keys``, ``members`` or ``count``) of a group with feature PROJECT columns."""
    if not isinstance(group, Stored):
        return session.query(definition_text(group, features), shape=shape, as_of=as_of)  # type: ignore[arg-type]
    keys = session.model.customer_entity().keys
    if group.table is None:
        cond = key_list_condition(keys, group.keys, negated=group.negated)
        return session.query(definition_text(cond, features), shape=shape, as_of=as_of)  # type: ignore[arg-type]
    q = session.query(definition_text(everyone(), features), shape=shape, as_of=as_of)  # type: ignore[arg-type]
    members = exp.select(*(D.column("m", k) for k in keys)).from_(D.table(group.table, "m"))
    own = [D.column("c", k) for k in keys]
    pred: exp.Expression = exp.In(
        this=own[0] if len(own) == 1 else exp.Tuple(expressions=own), query=exp.Subquery(this=members)
    )
    return q.where(exp.not_(pred) if group.negated else pred)


def count(session: Session, group: Group, *, as_of=None) -> int:
    """Members of a group, counted by the database."""
    if not isinstance(group, Stored):
        return session.count(A.Definition(group), as_of=as_of)
    sql = group_query(session, group, shape="count", as_of=as_of).sql(dialect=session.dialect)
    return int(session.fetch(sql).iloc[0, 0] or 0)


# --- as_of recorded for a saved segment (RFM segments are cut at one date) -----------------------------


def _as_of_key(name: str) -> str:
    return f"intelligence.as_of:{name}"


def record_as_of(catalog: Catalog, name: str, as_of: dt.date) -> None:
    """Remember that saved segment ``name`` (its current definition) is meant to be evaluated at ``as_of``."""
    catalog.set_setting(
        _as_of_key(name), {"definition": catalog.definition_text(name), "as_of": as_of.isoformat()}
    )


def recorded_as_of(catalog: Catalog | None, ref: Any) -> dt.date | None:
    """The as_of recorded for saved segment ``ref``, if it is one and its definition has not changed since."""
    if catalog is None or not isinstance(ref, str) or not catalog.has_segment(ref.strip()):
        return None
    saved = catalog.get_setting(_as_of_key(ref.strip()))
    if not isinstance(saved, dict):
        return None
    try:
        if catalog.definition_text(ref.strip()) != saved.get("definition"):
            return None  # the definition was changed since: the date no longer belongs to it
    except KeyError:
        return None
    return dt.date.fromisoformat(saved["as_of"])


# --- fetching ----------------------------------------------------------------------------------------


def sample_frame(
    session: Session,
    cond: Group,
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
    n = population if population is not None else count(session, cond, as_of=as_of)
    q = group_query(session, cond, all_features, shape="members", as_of=as_of)
    keys = session.model.customer_entity().keys
    q = _only_columns(q, keys, [f.alias for f in all_features])
    if n > max_rows:
        key_col = session.model.customer_entity().column(keys[0]) if len(keys) == 1 else None
        if key_col is not None and key_col.type == "number":
            step = math.ceil(n / max_rows)
            pick = exp.EQ(
                this=exp.Mod(this=D.column("c", keys[0]), expression=exp.Literal.number(step)),
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
    session: Session, cond: Group, features: Sequence[Feature], *, chunk_size: int = 50_000, as_of=None
):
    """Every member of ``cond`` with key and feature columns, streamed in chunks."""
    q = group_query(session, cond, features, shape="members", as_of=as_of)
    keys = session.model.customer_entity().keys
    sql = _only_columns(q, keys, [f.alias for f in features]).sql(dialect=session.dialect)
    try:
        for chunk in session.backend.iter_chunks(sql, chunk_size):
            yield normalize(chunk, features)
    except SegmentError:
        raise
    except Exception as e:  # noqa: BLE001 - database errors are reported with the SQL sent
        raise database_error(e, sql) from e


def _only_columns(q: exp.Select, keys: Sequence[str], aliases: Sequence[str]) -> exp.Select:
    """Keep the key column(s) and the projected feature columns of a members query (drop the other
    customer columns)."""
    keep: list[exp.Expression] = []
    wanted = {a.lower() for a in aliases}
    key_names = {k.lower() for k in keys}
    for e in q.expressions:
        name = e.alias_or_name
        if (isinstance(e, exp.Column) and name.lower() in key_names) or (
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


# --- what a definition reads (the no-leakage rule of similar) ------------------------------------------

Read = tuple  # ("col", path, column) or ("path", path): path is a tuple of model Steps from the customer


def reads(node: object, prefix: tuple = ()) -> set[Read]:
    """Every column and relationship path a typed tree reads, from the customer table.

    Reads through saved measures (``MeasureRef``) and referenced segments (``SegmentRef``) count: the typed
    tree carries their bound bodies. An aggregate's ``value`` and ``where`` are read in its records' scope,
    so ``sum(orders.amount where status = 'paid')`` reads the path ``orders`` and the columns
    ``orders.amount`` and ``orders.status``."""
    out: set[Read] = set()

    def add_path(path: tuple) -> None:
        for i in range(1, len(path) + 1):
            out.add(("path", path[:i]))
            step = path[i - 1]
            if not step.to_many:  # a to-one step reads its foreign key (regions.name reads region_id)
                out.add(("col", path[: i - 1], step.source_column.lower()))

    def walk(n: object, pre: tuple) -> None:
        if isinstance(n, T.Col):
            full = pre + tuple(n.steps)
            add_path(full)
            out.add(("col", full, n.column.lower()))
            return
        if isinstance(n, (T.Agg, T.Exists)):
            full = pre + T.path(n)
            add_path(full)
            for child in (getattr(n, "value", None), n.where):
                if child is not None:
                    walk(child, full)
            return
        if isinstance(n, tuple):
            for item in n:
                walk(item, pre)
            return
        if hasattr(n, "__dataclass_fields__") and isinstance(n, T.Node):
            for name in n.__dataclass_fields__:
                if name in ("pos", "end"):
                    continue
                walk(getattr(n, name), pre)

    walk(node, prefix)
    return out


def definition_reads(session: Session, cond: A.Expr) -> set[Read]:
    """What the condition ``cond`` reads once bound (names of saved segments and measures followed)."""
    return reads(session.bind(A.Definition(cond)).condition)


def feature_reads(session: Session, feature: Feature) -> set[Read]:
    """What one feature expression reads."""
    typed = session.bind(A.Definition(everyone(), (A.Projection(value_node(feature.expr), feature.alias),)))
    return reads(typed.projections[0].value)


def describe_read(read: Read) -> str:
    """``orders``, ``orders.amount``, ``age``: a read as the user would name it."""
    path = read[1]
    names = [s.relationship.many_name if s.to_many else s.relationship.one_name for s in path]
    if read[0] == "col":
        names.append(read[2])
    return ".".join(names)


# --- tests -------------------------------------------------------------------------------------------


def welch_p(m1: float, v1: float, n1: int, m2: float, v2: float, n2: int) -> float:
    from scipy import stats  # scipy comes with scikit-learn (the ml extra): loaded when needed

    if n1 < 2 or n2 < 2:
        return 1.0
    se2 = v1 / n1 + v2 / n2
    if se2 <= 0:
        return 0.0 if m1 != m2 else 1.0
    t = (m1 - m2) / math.sqrt(se2)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    return float(2 * stats.t.sf(abs(t), df))


def two_proportion_p(p1: float, n1: int, p2: float, n2: int) -> float:
    from scipy import stats  # scipy comes with scikit-learn (the ml extra): loaded when needed

    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(2 * stats.norm.sf(abs(p1 - p2) / se))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over all the tests given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out
