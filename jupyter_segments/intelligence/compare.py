"""Segment insights: how two segments overlap and what sets them apart (``ws.compare(a, b)``).

**Which members.** A saved segment is compared on the members of its last successful refresh (what its
members table or file holds; ``.notes`` names the refresh), unless ``as_of`` is given. A definition
(DSL text, or a saved segment not refreshed yet, or any saved segment when ``as_of`` is given) is
evaluated at one date: ``as_of`` if given; else the date recorded with the saved segments involved (the
RFM segments are cut at their scores' ``as_of``; two different recorded dates are an error that asks for
``as_of``); else now. A side with no members is said in ``.notes`` and at the top of the display.

Everything is computed in the database:

* **Overlap**: one query LEFT JOINs the customer table to the member keys of A and of B and counts
  customers in both, only in A and only in B.
* **Differentiators**: for each group, one query over its members with every feature as a PROJECT
  column computes count, mean and mean of squares (variance) of numeric features, and -- on DuckDB and
  PostgreSQL, which have ``PERCENTILE_CONT`` -- the quartiles and median. Other databases (SQLite,
  MySQL/MariaDB) get the quartiles from a bounded sample of each group (``sample`` rows, chosen in the
  database); ``Comparison.notes`` says so. A second query per group counts members per value of every
  categorical (text, boolean) feature; text features with more than ``features.MAX_CATEGORIES`` (15)
  distinct values in the two groups (names, e-mails, cities) are left out with a note. Dates are
  compared as "days since" the evaluation date.

**Effect and significance.** Every numeric feature and every categorical value gets a standardized
difference (the effect) -- ``(mean_a - mean_b) / sqrt((var_a + var_b) / 2)`` for numbers, the same with
``p (1 - p)`` as variance for the share of a value (0.2 small, 0.5 medium, 0.8 large, in Cohen's terms)
-- and a test: Welch's t-test for means, the two-proportion z-test for shares, both from the database's
counts and moments. The p-values are adjusted with Holm's method for the number of rows tested
(``p_adj``); ``status`` is ``significant`` (``p_adj`` < ``alpha``, 0.05), ``not significant``, or
``too few members`` when either group has fewer than ``MIN_MEMBERS`` (20) values of the feature or the
value occurs fewer than ``MIN_VALUE_COUNT`` (10) times in both groups together: those rows are neither
tested nor ranked and come last. The others are sorted by the absolute effect.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlglot import exp

from ..catalog.store import Catalog
from ..compile import dialects as D
from ..errors import SegmentError
from ..session import Session, as_datetime
from . import display
from . import features as F

QUANTILE_DIALECTS = {"duckdb", "postgres"}
MAX_VALUES = F.MAX_CATEGORIES
MIN_MEMBERS = 20  # per group, values of a feature needed to test it
MIN_VALUE_COUNT = 10  # members with a categorical value, both groups together, needed to test its share
ALPHA = 0.05
_QUARTILES = (("q1", 0.25), ("median", 0.5), ("q3", 0.75))


@dataclass
class Comparison:
    """Result of ``ws.compare``: ``.overlap``, ``.differentiators``, ``.sizes``, ``.notes``, ``.chart()``."""

    a_label: str
    b_label: str
    a: F.Group
    b: F.Group
    overlap: dict[str, int]
    differentiators: pd.DataFrame
    vs_rest: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def sizes(self) -> dict[str, int]:
        o = self.overlap
        return {"a": o["both"] + o["only_a"], "b": o["both"] + o["only_b"]}

    def top(self, n: int = 10) -> pd.DataFrame:
        return self.differentiators.head(n)

    def chart(self, n: int = 15):
        """Bar chart of the top standardized differences (positive: higher in A); shown offline, ``.altair``
        is the Altair chart."""
        import altair as alt

        top = self.differentiators.head(n).copy()
        top["what"] = [_what(r) for _, r in top.iterrows()]
        chart = (
            alt.Chart(top)
            .mark_bar()
            .encode(
                x=alt.X("std_diff:Q", title=f"standardized difference ({self.a_label} vs {self.b_label})"),
                y=alt.Y("what:N", sort=None, title=None),
                color=alt.condition("datum.std_diff > 0", alt.value("#4c78a8"), alt.value("#e45756")),
                tooltip=["feature", "value", "a", "b", "lift", "std_diff"],
            )
            .properties(width=360, title="Top differences")
        )
        return display.OfflineChart(chart, f"top differences, {self.a_label} vs {self.b_label}")

    def overlap_chart(self):
        """Altair stacked bar of the overlap (a Venn picture is in the HTML display)."""
        import altair as alt

        o = self.overlap
        data = pd.DataFrame(
            {
                "part": [f"only {self.a_label}", "both", f"only {self.b_label}"],
                "customers": [o["only_a"], o["both"], o["only_b"]],
            }
        )
        return (
            alt.Chart(data)
            .mark_bar()
            .encode(x="customers:Q", color="part:N", order="part:N")
            .properties(width=360)
        )

    def _shown(self, n: int = 12) -> pd.DataFrame:
        top = self.differentiators.head(n)
        return pd.DataFrame(
            {
                "feature": [_what(r) for _, r in top.iterrows()],
                "A": [_val(r, "a") for _, r in top.iterrows()],
                "B": [_val(r, "b") for _, r in top.iterrows()],
                "lift": top["lift"],
                "effect": top["std_diff"],
                "p_adj": top["p_adj"],
                "status": top["status"],
            }
        )

    def _title(self) -> str:
        return f"Compare {self.a_label} ({self.sizes['a']:,}) with {self.b_label} ({self.sizes['b']:,})"

    def __repr__(self) -> str:
        o = self.overlap
        lines = [
            self._title(),
            f"overlap: {o['both']:,} in both, {o['only_a']:,} only in {self.a_label}, "
            f"{o['only_b']:,} only in {self.b_label}",
        ]
        lines += [f"note: {n}" for n in self.notes]
        if len(self.differentiators):
            shown = self._shown()
            shown["lift"] = shown["lift"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}")
            shown["effect"] = shown["effect"].map(lambda v: "–" if pd.isna(v) else f"{v:+.2f}")
            shown["p_adj"] = shown["p_adj"].map(lambda v: "–" if pd.isna(v) else f"{v:.1e}")
            lines += ["", "Differentiators (effect: standardized difference; p_adj: Holm-adjusted):"]
            lines.append(shown.to_string(index=False))
            if len(self.differentiators) > len(shown):
                lines.append(f"... {len(self.differentiators) - len(shown):,} more rows in .differentiators")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        o = self.overlap
        title = (
            f"<b>Compare</b> <span style='color:#4c78a8'>{html.escape(self.a_label)}</span> "
            f"({self.sizes['a']:,}) with <span style='color:#f58518'>{html.escape(self.b_label)}</span> "
            f"({self.sizes['b']:,})"
        )
        venn = display.venn(self.a_label, self.b_label, o["only_a"], o["both"], o["only_b"])
        shown = self._shown()
        table = display.table(
            shown,
            formats={"lift": "{:.2f}", "effect": "{:+.2f}", "p_adj": "{:.1e}"},
            signed_bars={"effect": max(1.0, float(shown["effect"].abs().max() or 1))},
        )
        notes = "".join(f"<div style='color:#777'>{html.escape(n)}</div>" for n in self.notes)
        return display.card(title, notes, display.row(venn, table))


def _what(r: pd.Series) -> str:
    if r["kind"] == "numeric":
        return str(r["feature"])
    value = (
        "(missing)"
        if r["value"] is None or (isinstance(r["value"], float) and math.isnan(r["value"]))
        else r["value"]
    )
    return f"{r['feature']} = {value}"


def _val(r: pd.Series, side: str) -> str:
    v = r[side]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if r["kind"] == "numeric":
        med = r.get(f"{side}_median")
        extra = (
            f" (median {med:,.3g})"
            if med is not None and not (isinstance(med, float) and math.isnan(med))
            else ""
        )
        return f"{v:,.3g}{extra}"
    return f"{v:.1%}"


# --- computing ------------------------------------------------------------------------------------


def compare(
    session: Session,
    catalog: Catalog | None,
    a: Any,
    b: Any = None,
    *,
    using: Sequence[str] | None = None,
    as_of: Any = None,
    sample: int = F.DEFAULT_SAMPLE,
    alpha: float = ALPHA,
) -> Comparison:
    """Overlap and differentiators of A and B (B: everyone else when omitted). See the module docstring.

    >>> cmp = ws.compare("vip", "churn_risk")      # saved segments: the members of their last refresh
    >>> cmp.differentiators.head()                  # effect, p_adj and status per feature (and value)
    """
    notes: list[str] = []
    sides: list[tuple[F.Group, str]] = []
    recorded: dict[str, dt.date] = {}
    definitions: list[str] = []
    stored_days: set[dt.date] = set()
    for ref in (a, b):
        if ref is None:
            continue
        name = _saved_name(catalog, ref)
        if name is not None and as_of is None and catalog is not None:
            stored = F.stored_members(session, catalog, name)
            if stored is not None:
                sides.append((stored, name))
                notes.append(stored.describe())
                if (day := F.recorded_as_of(catalog, name)) is not None:
                    stored_days.add(day)  # the date its features (days since, windows) are read at
                continue
        cond, label = F.resolve_definition(session, catalog, ref)
        sides.append((cond, label))
        definitions.append(label)
        if name is not None and (day := F.recorded_as_of(catalog, name)) is not None:
            recorded[name] = day
    if as_of is None and len(set(recorded.values())) > 1:
        listed = ", ".join(f"{n} as of {d}" for n, d in recorded.items())
        raise SegmentError(
            f"the segments are defined at different dates ({listed}): pass as_of= to compare them at one"
        )
    if as_of is None and recorded:
        as_of = next(iter(recorded.values()))
    elif as_of is None and len(stored_days) == 1:
        as_of = next(iter(stored_days))
    as_of_dt = _as_of(as_of)
    if definitions:
        why = (
            ("given" if not recorded else f"recorded with {', '.join(recorded)}")
            if as_of is not None
            else "now"
        )
        notes.append(f"{', '.join(definitions)}: evaluated as of {as_of_dt:%Y-%m-%d} ({why})")
    (a_cond, a_label) = sides[0]
    if b is None:
        b_cond: F.Group = (
            a_cond.complement() if isinstance(a_cond, F.Stored) else F.except_(F.everyone(), a_cond)
        )
        b_label, vs_rest = "everyone else", True
    else:
        (b_cond, b_label), vs_rest = sides[1], False
    if a_label == b_label:
        a_label, b_label = a_label + " (A)", b_label + " (B)"
    overlap = overlap_counts(session, a_cond, b_cond, as_of=as_of_dt)
    feats = F.make_features(session, list(using) if using is not None else F.default_features(session))
    sizes = {"a": overlap["both"] + overlap["only_a"], "b": overlap["both"] + overlap["only_b"]}
    for side, label in (("a", a_label), ("b", b_label)):
        if sizes[side] == 0:
            notes.insert(0, f"{label} has no members: there is nothing to compare on its side")
    stats = {
        side: group_stats(
            session, cond, feats, as_of_dt, size=sizes[side], sample=sample, notes=notes, label=label
        )
        for side, cond, label in (("a", a_cond, a_label), ("b", b_cond, b_label))
    }
    wide = [f.expr for f in feats if f.alias in stats["a"]["wide"] | stats["b"]["wide"]]
    if wide:
        notes.append(f"left out, more than {MAX_VALUES} distinct values: {', '.join(wide)}")
    diffs = differentiators(stats["a"], stats["b"], feats, alpha=alpha)
    return Comparison(a_label, b_label, a_cond, b_cond, overlap, diffs, vs_rest, notes)


def _saved_name(catalog: Catalog | None, ref: Any) -> str | None:
    if catalog is None or not isinstance(ref, str):
        return None
    text = ref.strip()
    if not re.fullmatch(r"[^\W\d][\w.-]*", text) or not catalog.has_segment(text):
        return None
    return text


def _as_of(value: Any) -> dt.datetime:
    return as_datetime(value)


def _keys_subquery(session: Session, cond: F.Group, alias: str, as_of: dt.datetime) -> exp.Subquery:
    q = F.group_query(session, cond, shape="keys", as_of=as_of)
    q.set("expressions", [exp.alias_(q.expressions[0], "k")])
    return exp.Subquery(this=q, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def overlap_counts(session: Session, a: F.Group, b: F.Group, *, as_of: dt.datetime) -> dict[str, int]:
    """{"both", "only_a", "only_b"} counted by the database in one query."""
    customer = session.model.customer_entity()
    key = D.column("cu", customer.key)  # type: ignore[arg-type]
    ka, kb = exp.column("k", "ka"), exp.column("k", "kb")
    in_a = exp.not_(exp.Is(this=ka, expression=exp.Null()))
    in_b = exp.not_(exp.Is(this=kb, expression=exp.Null()))
    out_a = exp.Is(this=ka.copy(), expression=exp.Null())
    out_b = exp.Is(this=kb.copy(), expression=exp.Null())

    def count_when(cond: exp.Expr, alias: str) -> exp.Expr:
        return exp.alias_(
            exp.Count(this=exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))])), alias
        )

    q = (
        exp.select(
            count_when(exp.and_(in_a, in_b), "both_n"),
            count_when(exp.and_(in_a.copy(), out_b), "only_a"),
            count_when(exp.and_(out_a, in_b.copy()), "only_b"),
        )
        .from_(D.table(customer.name, "cu"))
        .join(
            _keys_subquery(session, a, "ka", as_of),
            on=exp.EQ(this=ka.copy(), expression=key),
            join_type="LEFT",
        )
        .join(
            _keys_subquery(session, b, "kb", as_of),
            on=exp.EQ(this=kb.copy(), expression=key.copy()),
            join_type="LEFT",
        )
    )
    sql = q.sql(dialect=session.dialect)
    row = session.fetch(sql).iloc[0]
    return {"both": int(row.iloc[0] or 0), "only_a": int(row.iloc[1] or 0), "only_b": int(row.iloc[2] or 0)}


def _days_since(value: exp.Expression, as_of: dt.datetime, dialect: str) -> exp.Expression:
    if dialect == "sqlite":
        value = exp.Anonymous(this="DATE", expressions=[value])
    diff = exp.DateDiff(this=D.date_literal(as_of.date(), dialect), expression=value, unit=exp.var("DAY"))
    return exp.Cast(this=diff, to=exp.DataType.build("DOUBLE"))


def group_stats(
    session: Session,
    cond: F.Group,
    feats: Sequence[F.Feature],
    as_of: dt.datetime,
    *,
    size: int,
    sample: int,
    notes: list[str],
    label: str,
) -> dict[str, Any]:
    """Per-feature statistics of one group, computed by the database (see the module docstring)."""
    dialect = session.dialect
    members = F.group_query(session, cond, feats, shape="members", as_of=as_of)
    key = session.model.customer_entity().key
    members = F._only_columns(members, key, [f.alias for f in feats])  # type: ignore[arg-type]
    # The members are a CTE named once and read by every branch (no copies of a big subquery; databases
    # that materialise CTEs evaluate the segment once).
    src = exp.to_table("s")
    numeric = [f for f in feats if f.kind in ("number", "date", "timestamp")]
    categorical = [f for f in feats if f.kind in ("category", "boolean")]
    out: dict[str, Any] = {"size": size, "numeric": {}, "categorical": {}, "wide": set()}

    def value_of(f: F.Feature) -> exp.Expression:
        v: exp.Expression = exp.column(f.alias, "s")
        if f.kind in ("date", "timestamp"):
            v = _days_since(v, as_of, dialect)
        elif dialect != "sqlite":
            v = exp.Cast(this=v, to=exp.DataType.build("DOUBLE"))
        return v

    if numeric and size:
        cols: list[exp.Expr] = []
        for i, f in enumerate(numeric):
            v = value_of(f)
            cols += [
                exp.alias_(exp.Count(this=v.copy()), f"n_{i}"),
                exp.alias_(exp.Avg(this=v.copy()), f"mean_{i}"),
                exp.alias_(exp.Avg(this=exp.Mul(this=v.copy(), expression=v.copy())), f"sq_{i}"),
            ]
            if dialect in QUANTILE_DIALECTS:
                for name, q in _QUARTILES:
                    pc = exp.WithinGroup(
                        this=exp.PercentileCont(this=exp.Literal.number(q)),
                        expression=exp.Order(expressions=[exp.Ordered(this=v.copy())]),
                    )
                    cols.append(exp.alias_(pc, f"{name}_{i}"))
        sql = exp.select(*cols).from_(src.copy()).with_("s", as_=members, copy=False).sql(dialect=dialect)
        row = session.fetch(sql).iloc[0]
        quartiles: dict[str, dict[str, float]] = {}
        if dialect not in QUANTILE_DIALECTS:
            quartiles = _sampled_quartiles(session, cond, numeric, as_of, sample)
            n_rows = min(size, sample)
            notes.append(
                f"{label}: quartiles and medians estimated from a sample of {n_rows:,} members "
                f"({dialect} has no PERCENTILE_CONT aggregate); counts and means are exact"
            )
        for i, f in enumerate(numeric):
            n, mean, sq = _num(row[f"n_{i}"]), _num(row[f"mean_{i}"]), _num(row[f"sq_{i}"])
            var = max(0.0, sq - mean * mean) if n else math.nan
            stats = {"n": n, "mean": mean, "var": var}
            for name, _ in _QUARTILES:
                stats[name] = (
                    _num(row[f"{name}_{i}"]) if dialect in QUANTILE_DIALECTS else quartiles[f.alias][name]
                )
            out["numeric"][f.alias] = stats

    if categorical and size:
        branches = []
        for f in categorical:
            col = exp.column(f.alias, "s")
            branches.append(
                exp.select(
                    exp.alias_(exp.Literal.string(f.alias), "feature"),
                    exp.alias_(exp.Cast(this=col, to=exp.DataType.build("TEXT")), "value"),
                    exp.alias_(exp.Count(this=exp.Star()), "n"),
                )
                .from_(src.copy())
                .group_by(col.copy())
            )
        union: exp.Expression = branches[0]
        for br in branches[1:]:
            union = exp.union(union, br, distinct=False, copy=False)
        ranked = exp.select(
            "feature",
            "value",
            "n",
            exp.alias_(
                exp.Window(this=exp.Count(this=exp.Star()), partition_by=[exp.column("feature")]),
                "distinct_values",
            ),
        ).from_(exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("u"))), copy=False)
        sql = ranked.with_("s", as_=members, copy=False).sql(dialect=dialect)
        frame = session.fetch(sql)
        frame.columns = ["feature", "value", "n", "distinct_values"]
        for f in categorical:
            part = frame[frame["feature"] == f.alias]
            if len(part) == 0:
                continue
            if int(part["distinct_values"].iloc[0]) > MAX_VALUES:
                out["wide"].add(f.alias)
                continue
            counts: dict[Any, int] = {}
            for value, n in zip(part["value"], part["n"], strict=True):
                cat = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
                if f.kind == "boolean" and cat is not None:
                    cat = F._to_bool(cat)
                counts[cat] = counts.get(cat, 0) + int(n)
            out["categorical"][f.alias] = counts
    return out


def _sampled_quartiles(
    session: Session, cond: F.Group, numeric: Sequence[F.Feature], as_of: dt.datetime, sample: int
) -> dict[str, dict[str, float]]:
    frame = F.sample_frame(session, cond, numeric, max_rows=sample, as_of=as_of)
    out: dict[str, dict[str, float]] = {}
    for f in numeric:
        s = frame[f.alias]
        if f.kind in ("date", "timestamp"):
            day = pd.Timestamp(as_of.date())
            s = (day - pd.to_datetime(s).dt.normalize()) / pd.Timedelta(days=1)
        s = pd.to_numeric(s, errors="coerce").dropna()
        out[f.alias] = {name: float(s.quantile(q)) if len(s) else math.nan for name, q in _QUARTILES}
    return out


def _num(v: Any) -> float:
    if v is None or v is pd.NA:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def differentiators(
    a: dict[str, Any], b: dict[str, Any], feats: Sequence[F.Feature], *, alpha: float = ALPHA
) -> pd.DataFrame:
    """The table from both groups' statistics: effect, test, Holm-adjusted p and status per row (see the
    module docstring), significant-or-not rows by absolute effect, then the rows too small to test."""
    rows = []
    wide = a.get("wide", set()) | b.get("wide", set())
    for f in feats:
        label = f.expr if f.kind not in ("date", "timestamp") else f"days since {f.expr}"
        if f.alias in a["numeric"] and f.alias in b["numeric"]:
            sa, sb = a["numeric"][f.alias], b["numeric"][f.alias]
            pooled = (
                math.sqrt((sa["var"] + sb["var"]) / 2) if not math.isnan(sa["var"] + sb["var"]) else math.nan
            )
            diff = (sa["mean"] - sb["mean"]) / pooled if pooled and not math.isnan(pooled) else math.nan
            na, nb = int(sa["n"] or 0), int(sb["n"] or 0)
            enough = na >= MIN_MEMBERS and nb >= MIN_MEMBERS
            p = math.nan
            if enough:
                p = F.welch_p(
                    sa["mean"], sa["var"] * na / (na - 1), na, sb["mean"], sb["var"] * nb / (nb - 1), nb
                )
            rows.append(
                {
                    "feature": label,
                    "kind": "numeric",
                    "value": None,
                    "a": sa["mean"],
                    "b": sb["mean"],
                    "lift": sa["mean"] / sb["mean"] if sb["mean"] else math.nan,
                    "std_diff": diff,
                    "n_a": na,
                    "n_b": nb,
                    "p_value": p,
                    **{f"a_{k}": sa[k] for k, _ in _QUARTILES},
                    **{f"b_{k}": sb[k] for k, _ in _QUARTILES},
                }
            )
        elif f.alias in a["categorical"] and f.alias in b["categorical"] and f.alias not in wide:
            ca, cb = a["categorical"][f.alias], b["categorical"][f.alias]
            na, nb = int(a["size"]), int(b["size"])
            for value in dict.fromkeys([*ca, *cb]):
                if f.kind == "boolean" and value is False:
                    continue  # the share of False mirrors the share of True (and of missing)
                ka, kb = ca.get(value, 0), cb.get(value, 0)
                pa, pb = ka / max(1, na), kb / max(1, nb)
                var = (pa * (1 - pa) + pb * (1 - pb)) / 2
                enough = na >= MIN_MEMBERS and nb >= MIN_MEMBERS and ka + kb >= MIN_VALUE_COUNT
                rows.append(
                    {
                        "feature": label,
                        "kind": "categorical",
                        "value": value,
                        "a": pa,
                        "b": pb,
                        "lift": pa / pb if pb else math.inf if pa else math.nan,
                        "std_diff": (pa - pb) / math.sqrt(var) if var > 0 else 0.0,
                        "n_a": ka,
                        "n_b": kb,
                        "p_value": F.two_proportion_p(pa, na, pb, nb) if enough else math.nan,
                    }
                )
    columns = ["feature", "kind", "value", "a", "b", "lift", "std_diff", "p_adj", "status", "n_a", "n_b"]
    columns += ["p_value"] + [f"{s}_{k}" for s in ("a", "b") for k, _ in _QUARTILES]
    frame = pd.DataFrame(rows, columns=columns)
    if not len(frame):
        return frame
    tested = frame["p_value"].notna()
    frame["p_adj"] = math.nan
    frame.loc[tested, "p_adj"] = F.holm(list(frame.loc[tested, "p_value"]))
    frame["status"] = [
        "too few members" if not t else "significant" if p < alpha else "not significant"
        for t, p in zip(tested, frame["p_adj"], strict=True)
    ]
    frame = frame.assign(_few=~tested, _abs=frame["std_diff"].abs().fillna(-1)).sort_values(
        ["_few", "_abs"], ascending=[True, False], kind="stable"
    )
    return frame.drop(columns=["_few", "_abs"]).reset_index(drop=True)
