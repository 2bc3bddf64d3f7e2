"""Suggested segments: groups whose measure is much higher (or lower) than everyone else's.

How (``ws.suggest(measure=..., using=...)``):

1. A bounded sample (``sample`` rows, chosen in the database; see ``features.sample_frame``) of the
   customers in ``within`` is fetched with the measure and the features as PROJECT columns, and split at
   random into two halves: the *fit* half finds rules, the *check* half judges them.
2. A shallow decision tree (scikit-learn; ``max_depth`` 3, leaves of at least ``min_size`` sampled
   customers) is fitted on the fit half: a regression tree for a numeric measure, a classification tree
   for a categorical one (text or boolean with at most 10 values).
3. Every node of the tree below the root is a candidate group: the conjunction of the rules on its path.
   **Significance** on the fit half: a numeric measure's mean inside vs outside with Welch's t-test; a
   category's share inside vs outside with a two-proportion z-test; a candidate is kept when its p-value
   is below ``alpha`` (0.01) after a Bonferroni correction for the number of candidates tested, it has
   at least ``min_size`` members there, and its lift (inside / outside) is at least ``min_lift`` (1.25)
   or at most 1 / ``min_lift`` (for a category only higher shares count). A group whose ancestor in the
   tree (fewer rules) is also kept with a lift within 15% is dropped.
4. **Held-out check**: each remaining rule is measured on the check half, which the tree never saw; it
   must show a lift in the same direction of at least ``min_lift`` (or at most 1 / ``min_lift``) with
   p < ``alpha`` Bonferroni-corrected for the rules checked. Rules that do not hold up are dropped
   (``Suggestions.notes`` lists them); the rest are ranked by lift (or 1 / lift for lower groups) and
   show their check-half lift (``holdout_lift``).
5. Each kept group becomes an ordinary DSL definition, and its **size and the measure inside and outside
   are recomputed by the database** over all customers (the p-value shown is Welch's / the z-test's
   again, on those exact database moments).

Default features are ``features.default_features`` without aggregates over the tables the measure
aggregates over (``sum(orders.amount)`` would otherwise be explained by ``count(orders)``).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from ..catalog.store import Catalog
from ..dsl import ast as A
from ..dsl import to_text
from ..errors import SegmentError
from ..session import Session, as_datetime
from . import display
from . import features as F

MAX_MEASURE_CATEGORIES = 10


@dataclass
class Suggestion:
    """One suggested group: an ordinary DSL definition with database-computed size and measure."""

    definition: str
    size: int
    measure_inside: float
    measure_outside: float
    lift: float
    p_value: float
    measure: str
    category: Any = None  # for a categorical measure: the value whose share is higher
    sample_size: int = 0  # members of the group in the half of the sample the rule was found on
    holdout_lift: float = math.nan  # the lift on the other half (the check)
    holdout_size: int = 0  # members of the group in that other half
    rules: list[str] = field(default_factory=list)
    _save: Callable[..., Any] | None = field(default=None, repr=False, compare=False)  # ws.segment

    def save(self, name: str, **kwargs: Any) -> Any:
        """Save as a segment in the catalog (``ws.segment(name, definition)``)."""
        if self._save is None:
            raise SegmentError("saving needs a workspace with a catalog (ws.segment)")
        return self._save(name, self.definition, **kwargs)

    def _repr_html_(self) -> str:
        return Suggestions([self])._repr_html_()

    def __repr__(self) -> str:
        what = self.measure if self.category is None else f"share of {self.measure} = {self.category}"
        return (
            f"Suggestion: {self.definition}\n  {self.size:,} customers; {what}: {self.measure_inside:,.3g} "
            f"inside vs {self.measure_outside:,.3g} outside (lift {self.lift:.2f}, "
            f"{self.holdout_lift:.2f} on the check half; p {self.p_value:.1e})"
        )


class Suggestions(list):
    """The suggestions, best first (a list), with a table display and ``.frame()``."""

    measure: str = ""
    notes: list[str]

    def __init__(
        self, items: Sequence[Suggestion] = (), measure: str = "", notes: Sequence[str] = ()
    ) -> None:
        super().__init__(items)
        self.measure = measure
        self.notes = list(notes)

    def frame(self) -> pd.DataFrame:
        cols = [
            "definition", "size", "measure_inside", "measure_outside", "lift", "holdout_lift", "p_value",
            "category",
        ]  # fmt: skip
        return pd.DataFrame([{c: getattr(s, c) for c in cols} for s in self], columns=cols)

    def __repr__(self) -> str:
        measure = self.measure or (self[0].measure if self else "")
        lines = [f"Suggested segments for {measure}: {len(self)}"]
        if self:
            f = self.frame()
            if f["category"].isna().all():
                f = f.drop(columns="category")
            f = f.rename(columns={"measure_inside": "inside", "measure_outside": "outside"})
            for c in ("inside", "outside"):
                f[c] = f[c].map(lambda v: f"{v:,.3g}")
            for c in ("lift", "holdout_lift"):
                f[c] = f[c].map(lambda v: f"{v:.2f}")
            f["p_value"] = f["p_value"].map(lambda v: f"{v:.1e}")
            lines += ["", f.to_string(index=False), "", "save one: sugg[0].save('name')"]
        else:
            lines.append("No group differs significantly.")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        title = f"<b>Suggested segments</b> for <code>{html.escape(self.measure or (self[0].measure if self else ''))}</code>"
        if not self:
            return display.card(title, "<div>No group differs significantly.</div>", *self._notes())
        f = self.frame()
        if f["category"].isna().all():
            f = f.drop(columns="category")
        top = float(f["lift"].replace(np.inf, np.nan).max() or 1)
        table = display.table(
            f.rename(columns={"measure_inside": "inside", "measure_outside": "outside"}),
            formats={
                "size": "{:,}",
                "inside": "{:,.3g}",
                "outside": "{:,.3g}",
                "lift": "{:.2f}",
                "holdout_lift": "{:.2f}",
                "p_value": "{:.1e}",
            },
            bars={"lift": top},
        )
        hint = "<div style='color:#777'>save one: <code>sugg[0].save('name')</code></div>"
        return display.card(title, table, hint, *self._notes())

    def _notes(self) -> list[str]:
        return [f"<div style='color:#777'>{html.escape(n)}</div>" for n in getattr(self, "notes", [])]


# --- computing ------------------------------------------------------------------------------------


def suggest(
    session: Session,
    catalog: Catalog | None,
    measure: str,
    using: Sequence[str] | None = None,
    *,
    save: Callable[..., Any] | None = None,
    within: Any = None,
    as_of: Any = None,
    sample: int = F.DEFAULT_SAMPLE,
    max_depth: int = 3,
    min_size: int | None = None,
    min_lift: float = 1.25,
    alpha: float = 0.01,
    max_suggestions: int = 5,
    random_state: int = 0,
) -> Suggestions:
    """Groups whose ``measure`` differs significantly from the rest (see the module docstring).

    ``catalog``: where segment names in ``within`` are looked up; ``save``: what ``Suggestion.save``
    calls (``ws.segment``)."""
    try:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    except ImportError:  # pragma: no cover - the ml extra is installed in tests
        raise SegmentError("suggest needs scikit-learn: pip install 'jupyter-segments[ml]'") from None
    as_of_dt: dt.datetime = as_datetime(as_of)
    base, _ = (F.everyone(), "") if within is None else F.resolve_definition(session, catalog, within)
    measure = measure.strip()
    m_kind = F.infer_kind(session, measure)
    if m_kind in ("date", "timestamp"):
        raise SegmentError(f"the measure '{measure}' is a date: use a number or a category")
    m_feat = F.Feature(measure, m_kind, "m__measure")
    exprs = (
        list(using) if using is not None else F.default_features(session, exclude_tables=F.tables_of(measure))
    )
    feats = [f for f in F.make_features(session, [e for e in exprs if e.strip() != measure])]
    if not feats:
        raise SegmentError("suggest needs at least one feature (using=[...])")
    population = session.count(A.Definition(base), as_of=as_of_dt)
    frame = F.sample_frame(
        session, base, feats, max_rows=sample, population=population, as_of=as_of_dt, extra=[m_feat]
    )
    frame = frame[frame[m_feat.alias].notna()].reset_index(drop=True)
    if len(frame) < 50:
        raise SegmentError(f"too few customers with a value of {measure} to suggest groups ({len(frame)})")
    X, columns = F.design_matrix(frame, feats)
    if not columns:
        raise SegmentError("none of the features has usable values (text features need 2-15 distinct values)")
    # Held-out check: rules are found on one half of the sample and must hold on the other half.
    order = np.random.default_rng(random_state).permutation(len(frame))
    fit_rows, check_rows = np.sort(order[: len(frame) // 2]), np.sort(order[len(frame) // 2 :])
    X_check, X = X[check_rows], X[fit_rows]
    y_check = frame[m_feat.alias].iloc[check_rows].reset_index(drop=True)
    frame = frame.iloc[fit_rows].reset_index(drop=True)
    min_size = min_size or max(30, int(0.01 * len(frame)))
    y_raw = frame[m_feat.alias]
    notes = [
        f"rules found on {len(frame):,} sampled customers and checked on {len(y_check):,} others "
        f"(of {population:,})"
    ]
    categorical = m_kind in ("category", "boolean")
    if categorical:
        classes = sorted(y_raw.astype(str).unique())
        if len(classes) > MAX_MEASURE_CATEGORIES:
            raise SegmentError(
                f"the measure '{measure}' has {len(classes)} values; a categorical measure may have at most "
                f"{MAX_MEASURE_CATEGORIES}"
            )
        tree = DecisionTreeClassifier(
            max_depth=max_depth, min_samples_leaf=min_size, random_state=random_state
        )
        tree.fit(X, y_raw.astype(str))
    else:
        tree = DecisionTreeRegressor(
            max_depth=max_depth, min_samples_leaf=min_size, random_state=random_state
        )
        tree.fit(X, y_raw.astype(float))
    paths = _node_paths(tree)
    membership = tree.decision_path(X).toarray().astype(bool)
    membership_check = tree.decision_path(X_check).toarray().astype(bool)
    nulls = {f.alias: bool(frame[f.alias].isna().any()) for f in feats}

    candidates: list[tuple[float, int, Any, float]] = []  # (strength, node, category, sample p)
    n_tests = max(1, (len(paths)) * (len(classes) if categorical else 1))
    for node in paths:
        inside = membership[:, node]
        n_in, n_out = int(inside.sum()), int((~inside).sum())
        if n_in < min_size or n_out < min_size:
            continue
        if categorical:
            ys = y_raw.astype(str).to_numpy()
            for c in classes:
                p_in, p_out = float((ys[inside] == c).mean()), float((ys[~inside] == c).mean())
                p = F.two_proportion_p(p_in, n_in, p_out, n_out)
                lift = p_in / p_out if p_out else math.inf
                if p * n_tests < alpha and lift >= min_lift:
                    candidates.append((min(lift, 1e9), node, c, p))
        else:
            yv = y_raw.to_numpy(dtype=float)
            a, b = yv[inside], yv[~inside]
            p = F.welch_p(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
            lift = a.mean() / b.mean() if b.mean() else math.inf
            strong = lift >= min_lift or (0 < lift <= 1 / min_lift)
            if p * n_tests < alpha and strong:
                candidates.append((max(lift, 1 / lift) if lift > 0 else math.inf, node, None, p))
    # A longer rule must earn its place: drop a group when an ancestor group (a prefix of its rules) is
    # also a candidate for the same category with nearly the same strength (within 15%).
    strength = {(node, cat): st for st, node, cat, _ in candidates}
    parents = _parents(tree)

    def redundant(node: int, cat: Any, st: float) -> bool:
        up = parents.get(node, 0)
        while up > 0:
            if (up, cat) in strength and st < strength[(up, cat)] * 1.15:
                return True
            up = parents.get(up, 0)
        return False

    candidates = [c for c in candidates if not redundant(c[1], c[2], c[0])]
    candidates.sort(key=lambda c: (-c[0], c[3]))
    # The check half: the same direction, a lift of at least min_lift (or at most 1 / min_lift), and
    # p < alpha Bonferroni-corrected for the candidates checked.
    held: dict[tuple[int, Any], tuple[float, int]] = {}
    failed: list[str] = []
    for _, node, category, _p in candidates:
        lift, p, n_in = _holdout(membership_check[:, node], y_check, category)
        up = lift >= min_lift or (category is None and 0 < lift <= 1 / min_lift)
        was_up = _holdout(membership[:, node], y_raw, category)[0] >= 1
        if up and (lift >= 1) == was_up and p * len(candidates) < alpha:
            held[(node, category)] = (lift, n_in)
        else:
            what = to_text(F.and_(*_rules(paths[node], columns, {f.alias: False for f in feats})))
            failed.append(
                f"{what}{'' if category is None else f' ({category})'}: lift {lift:.2f} on the check half"
            )
    if failed:
        notes.append(f"dropped, did not hold on the check half: {'; '.join(failed[:5])}")
    candidates = [c for c in candidates if (c[1], c[2]) in held]

    out: list[Suggestion] = []
    seen: set[str] = set()
    for _, node, category, _p in candidates:
        rules = _rules(paths[node], columns, nulls)
        cond = F.and_(base, *rules) if within is not None else F.and_(*rules)
        text = to_text(cond)
        key = f"{text}|{category}"
        if key in seen:
            continue
        seen.add(key)
        s = _measure_in_db(session, base, cond, m_feat, category, as_of_dt)
        if s is None:
            continue
        size, inside, outside, p_db = s
        lift = inside / outside if outside else math.inf
        out.append(
            Suggestion(
                definition=text,
                size=size,
                measure_inside=inside,
                measure_outside=outside,
                lift=lift,
                p_value=p_db,
                measure=measure,
                category=category,
                sample_size=int(membership[:, node].sum()),
                holdout_lift=held[(node, category)][0],
                holdout_size=held[(node, category)][1],
                rules=[to_text(r) for r in rules],
                _save=save,
            )
        )
        if len(out) >= max_suggestions:
            break
    if not candidates and not failed:
        notes.append(
            f"no group passed p < {alpha} (Bonferroni over {n_tests} tests), size >= {min_size}, lift >= {min_lift}"
        )
    return Suggestions(out, measure=measure, notes=notes)


def _holdout(inside: np.ndarray, y: pd.Series, category: Any) -> tuple[float, float, int]:
    """(lift, p, members) of a group on rows it was not found on: the measure's mean (a category's
    share) inside over outside, Welch's t-test or the two-proportion z-test."""
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    if n_in < 2 or n_out < 2:
        return math.nan, 1.0, n_in
    if category is not None:
        ys = y.astype(str).to_numpy() == str(category)
        p_in, p_out = float(ys[inside].mean()), float(ys[~inside].mean())
        lift = p_in / p_out if p_out else math.inf
        return lift, F.two_proportion_p(p_in, n_in, p_out, n_out), n_in
    yv = y.to_numpy(dtype=float)
    a, b = yv[inside], yv[~inside]
    lift = a.mean() / b.mean() if b.mean() else math.inf
    return lift, F.welch_p(a.mean(), a.var(ddof=1), n_in, b.mean(), b.var(ddof=1), n_out), n_in


def _parents(tree: Any) -> dict[int, int]:
    t = tree.tree_
    out: dict[int, int] = {}
    for node in range(t.node_count):
        for child in (t.children_left[node], t.children_right[node]):
            if child != -1:
                out[int(child)] = node
    return out


def _node_paths(tree: Any) -> dict[int, list[tuple[int, float, bool, bool]]]:
    """node -> [(feature column, threshold, went left, missing went left)] for every non-root node."""
    t = tree.tree_
    missing_left = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=bool))
    paths: dict[int, list[tuple[int, float, bool, bool]]] = {}
    stack: list[tuple[int, list[tuple[int, float, bool, bool]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if node != 0:
            paths[node] = path
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            continue
        feat, thr, ml = int(t.feature[node]), float(t.threshold[node]), bool(missing_left[node])
        stack.append((left, [*path, (feat, thr, True, ml)]))
        stack.append((right, [*path, (feat, thr, False, ml)]))
    return paths


def _rules(
    path: list[tuple[int, float, bool, bool]], columns: list[F.Column], nulls: dict[str, bool]
) -> list[A.Expr]:
    """DSL conditions for a tree path, merging repeated thresholds on one feature."""
    bounds: dict[int, list[float | None]] = {}  # column -> [low (exclusive), high (inclusive)]
    missing: dict[int, bool] = {}
    indicator: dict[int, bool] = {}
    for col, thr, left, miss_left in path:
        c = columns[col]
        if c.feature.kind in ("category", "boolean"):
            indicator[col] = not left  # right of <= 0.5: has the value
            continue
        lo, hi = bounds.setdefault(col, [None, None])
        if left:
            bounds[col][1] = thr if hi is None else min(hi, thr)
        else:
            bounds[col][0] = thr if lo is None else max(lo, thr)
        # Missing values follow the branch scikit-learn sent them to; track whether they stay in.
        missing[col] = missing.get(col, True) and (miss_left == left)
    out: list[A.Expr] = []
    positives = {c for c, has in indicator.items() if has}
    for col, has in indicator.items():
        c = columns[col]
        value = F.value_node(c.feature.expr)
        if c.feature.kind == "boolean":
            if has:
                out.append(A.BoolTest(value))
            else:
                out.append(_or_null(A.Not(A.BoolTest(value)), value, nulls[c.feature.alias]))
        elif has:
            out.append(A.Compare("=", value, A.Literal(c.value)))
        elif not any(columns[p].feature is c.feature for p in positives):  # "= 'x'" already excludes others
            out.append(_or_null(A.Compare("!=", value, A.Literal(c.value)), value, nulls[c.feature.alias]))
    for col, (lo, hi) in bounds.items():
        c = columns[col]
        value = F.value_node(c.feature.expr)
        conds: list[A.Expr] = []
        if lo is not None:
            conds.append(A.Compare(">", value, _threshold(lo, c.feature.kind, floor=True)))
        if hi is not None:
            conds.append(A.Compare("<=", value, _threshold(hi, c.feature.kind, floor=True)))
        cond: A.Expr = conds[0] if len(conds) == 1 else A.And(tuple(conds))
        out.append(_or_null(cond, value, nulls[c.feature.alias] and missing.get(col, False)))
    return out


def _or_null(cond: A.Expr, value: A.Expr, include_null: bool) -> A.Expr:
    return A.Or((cond, A.IsNull(value))) if include_null else cond


def _threshold(t: float, kind: str, floor: bool) -> A.Literal:
    """Tree thresholds lie halfway between sample values: whole numbers for dates (day numbers) and for
    values the tree saw as whole numbers (x <= 36.5 is x <= 36 there); otherwise 4 significant digits."""
    if kind in ("date", "timestamp"):
        day = dt.date(1970, 1, 1) + dt.timedelta(days=math.floor(t))
        return A.Literal(day)
    if abs(t - round(t)) == 0.5:
        return A.Literal(math.floor(t))
    if t == 0:
        return A.Literal(0)
    digits = 4 - int(math.floor(math.log10(abs(t)))) - 1
    v = round(t, digits)
    return A.Literal(int(v) if float(v).is_integer() else v)


def _measure_in_db(
    session: Session, base: A.Expr, cond: A.Expr, m: F.Feature, category: Any, as_of: dt.datetime
) -> tuple[int, float, float, float] | None:
    """(size, measure inside, measure outside, p) over every customer of ``base``, from the database."""
    inside = _moments(
        session, cond if isinstance(base, A.Literal) else F.and_(base, cond), m, category, as_of
    )
    outside = _moments(session, F.except_(base, cond), m, category, as_of)
    (n_in, k_in, mean_in, sq_in), (_n_out, k_out, mean_out, sq_out) = inside, outside
    if n_in == 0 or k_in == 0 or k_out == 0:
        return None
    if category is not None:
        p = F.two_proportion_p(mean_in, k_in, mean_out, k_out)
    else:
        v_in = max(0.0, sq_in - mean_in**2) * k_in / max(1, k_in - 1)
        v_out = max(0.0, sq_out - mean_out**2) * k_out / max(1, k_out - 1)
        p = F.welch_p(mean_in, v_in, k_in, mean_out, v_out, k_out)
    return n_in, mean_in, mean_out, p


def _moments(
    session: Session, cond: A.Expr, m: F.Feature, category: Any, as_of: dt.datetime
) -> tuple[int, int, float, float]:
    """COUNT(*), COUNT(measure), AVG(measure) and AVG(measure^2) (for a category: of the 0/1 indicator)."""
    q = session.query(F.definition_text(cond, [m]), shape="members", as_of=as_of)
    key = session.model.customer_entity().key
    q = F._only_columns(q, key, [m.alias])  # type: ignore[arg-type]
    v: exp.Expression = exp.column(m.alias, "s")
    if category is not None:
        if m.kind == "boolean":
            is_c = v if str(category).lower() in ("true", "1") else exp.not_(v)
        else:
            is_c = exp.EQ(this=v, expression=exp.Literal.string(str(category)))
        v = exp.Case(
            ifs=[exp.If(this=exp.Is(this=exp.column(m.alias, "s"), expression=exp.Null()), true=exp.Null())],
            default=exp.Case(
                ifs=[exp.If(this=is_c, true=exp.Literal.number("1.0"))], default=exp.Literal.number("0.0")
            ),
        )
    elif session.dialect != "sqlite":
        v = exp.Cast(this=v, to=exp.DataType.build("DOUBLE"))
    sel = exp.select(
        exp.alias_(exp.Count(this=exp.Star()), "n"),
        exp.alias_(exp.Count(this=v.copy()), "k"),
        exp.alias_(exp.Avg(this=v.copy()), "mean"),
        exp.alias_(exp.Avg(this=exp.Mul(this=v.copy(), expression=v.copy())), "sq"),
    ).from_(exp.Subquery(this=q, alias=exp.TableAlias(this=exp.to_identifier("s"))))
    sql = sel.sql(dialect=session.dialect)
    row = session.fetch(sql).iloc[0]

    def num(x: Any) -> float:
        return math.nan if x is None or x is pd.NA else float(x)

    return int(row.iloc[0] or 0), int(row.iloc[1] or 0), num(row.iloc[2]), num(row.iloc[3])
