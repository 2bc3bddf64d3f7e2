"""RFM scores: recency, frequency and monetary value per customer, scored 1-5 in the database.

For an activity table related to-many to customers (orders, transactions), with a date and an amount:

* ``recency_days``: days from the last activity on or before ``as_of`` to ``as_of``;
* ``frequency``: activities in the window ``[as_of - window, as_of]`` (the DSL's ``in last <window>``);
* ``monetary``: sum of the amount over the same window (0 when there is none).

Who is scored: customers with at least one activity on or before ``as_of`` (without one there is no
recency). Aggregates are compiled by the ordinary segment compiler, so a score means exactly what the
same DSL expression means in a segment.

Scoring (all in SQL, on every database with window functions): each measure is cut into quintiles with
``NTILE(5)`` over the scored customers, ordered so that 5 is best (most recent, most frequent, highest
spend). **Ties**: equal values must get equal scores, so all customers with the same value take the
bucket the *middle* of their group falls in: ``FLOOR(AVG(NTILE(5) OVER (ORDER BY v)) OVER (PARTITION BY v)
+ 0.5)`` (the average of the group's NTILE buckets, rounded half up). Groups are contiguous in the sort
order, so scores still rise with the value; a large tie group (many customers with one order, or with an
order today) may leave a score unused or make a quintile bigger than a fifth.

Labels come from ``RFM_RULES``, a table of score ranges checked top to bottom (the first match wins);
replace it with ``ws.rfm(..., rules=[RfmRule(...), ...])``. The default is the common R x F map:

======================  ======  ======
label                   R       F
======================  ======  ======
Champions               5       4-5
Loyal customers         3-4     4-5
Potential loyalists     4-5     2-3
New customers           5       1
Promising               4       1
Need attention          3       3
About to sleep          3       1-2
Cannot lose them        1-2     5
At risk                 1-2     3-4
Lost                    1       1
Hibernating             1-2     1-2
======================  ======  ======

Segments from RFM (``rfm_segments``) are ordinary DSL definitions, so they refresh like any other:
each score range becomes a condition on the same aggregates with the cut points computed when the
segments are created, e.g. R >= 4 is ``max(orders.order_date) in last 41 days``, F >= 3 is
``count(orders where order_date in last 1 year) >= 4``, M >= 5 is ``sum(orders.amount where ...) >= 812.3``.
Recency and frequency cut at the first value of the score (whole days and counts); monetary cuts halfway
between the last value below and the first value of the score, so float rounding in a sum cannot move a
customer across. Evaluated at the same ``as_of`` the segments have exactly the label's members; later
refreshes keep the cut points and move the window with the date (re-run ``rfm`` to re-cut quintiles).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlglot import exp

from ..catalog.store import Catalog
from ..compile import dialects as D
from ..dsl import ast as A
from ..dsl import parse_condition, to_text
from ..errors import SegmentError, did_you_mean
from ..session import Session
from . import display
from . import features as F

SCORES = ("r", "f", "m")


@dataclass(frozen=True)
class RfmRule:
    """Customers whose scores fall in all three inclusive ranges get ``label``."""

    label: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)

    def __post_init__(self) -> None:
        for name in SCORES:
            lo, hi = getattr(self, name)
            if not (1 <= lo <= hi <= 5):
                raise SegmentError(
                    f"RFM rule '{self.label}': {name} range {lo}-{hi} must be within 1-5, low <= high"
                )

    def ranges(self) -> dict[str, tuple[int, int]]:
        return {"r": self.r, "f": self.f, "m": self.m}


RFM_RULES: tuple[RfmRule, ...] = (
    RfmRule("Champions", r=(5, 5), f=(4, 5)),
    RfmRule("Loyal customers", r=(3, 4), f=(4, 5)),
    RfmRule("Potential loyalists", r=(4, 5), f=(2, 3)),
    RfmRule("New customers", r=(5, 5), f=(1, 1)),
    RfmRule("Promising", r=(4, 4), f=(1, 1)),
    RfmRule("Need attention", r=(3, 3), f=(3, 3)),
    RfmRule("About to sleep", r=(3, 3), f=(1, 2)),
    RfmRule("Cannot lose them", r=(1, 2), f=(5, 5)),
    RfmRule("At risk", r=(1, 2), f=(3, 4)),
    RfmRule("Lost", r=(1, 1), f=(1, 1)),
    RfmRule("Hibernating", r=(1, 2), f=(1, 2)),
)
OTHER = "Other"  # customers no rule matches (possible only with user rules)


def rules_frame(rules: Sequence[RfmRule] = RFM_RULES) -> pd.DataFrame:
    """The rule table as a DataFrame (label, r, f, m as 'lo-hi')."""
    return pd.DataFrame(
        [{"label": r.label, **{s: _range_text(*getattr(r, s)) for s in SCORES}} for r in rules],
        columns=["label", "r", "f", "m"],
    )


def _range_text(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


@dataclass
class RfmSpec:
    """What was scored: enough to turn score ranges back into DSL conditions."""

    table: str
    date: str
    amount: str
    window: tuple[int, str]
    as_of: dt.date
    where: str | None
    rules: tuple[RfmRule, ...]
    key: str
    # score -> {k: cut} with "score >= k" <=> value beyond cut (see the module docstring)
    cuts: dict[str, dict[int, float]] = field(default_factory=dict)

    @property
    def window_text(self) -> str:
        n, unit = self.window
        return f"{n} {unit}{'s' if n != 1 else ''}"


class RfmScores(pd.DataFrame):
    """Per-customer RFM scores (a DataFrame) that also knows how it was computed.

    ``.summary`` (label sizes and average R/F/M), ``.cuts``, ``.definitions()``, ``.chart()``.
    Derived frames (slices, copies) are plain DataFrames.
    """

    _metadata = ["spec"]
    spec: RfmSpec

    @property
    def _constructor(self):  # noqa: D401 - pandas hook
        return pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """One row per label: customers, share, average recency/frequency/monetary and R/F/M scores."""
        return summarize(self, self.spec.rules)

    @property
    def cuts(self) -> pd.DataFrame:
        """Cut points: the value a customer needs for each score (see ``rfm_segments``)."""
        rows = []
        for s, meaning in (("r", "recency_days <="), ("f", "frequency >="), ("m", "monetary >=")):
            for k in range(2, 6):
                rows.append(
                    {
                        "score": s,
                        "k": k,
                        "rule": f"{s} >= {k} when {meaning}",
                        "cut": self.spec.cuts[s].get(k),
                    }
                )
        return pd.DataFrame(rows)

    def definitions(self, labels: Sequence[str] | None = None) -> dict[str, str]:
        """DSL text for each label's segment (label -> definition)."""
        return definitions(self.spec, labels)

    def chart(self):
        """Customers per R x F cell, coloured by label, and label sizes (shown offline; ``.altair``)."""
        import altair as alt

        cells = (
            pd.DataFrame({"r": self["r"], "f": self["f"], "label": self["label"]})
            .groupby(["r", "f", "label"], as_index=False)
            .size()
            .rename(columns={"size": "customers"})
        )
        base = alt.Chart(cells).encode(
            x=alt.X("r:O", title="Recency score"), y=alt.Y("f:O", title="Frequency score", sort="descending")
        )
        grid = base.mark_rect().encode(
            color=alt.Color("label:N"), tooltip=["label", "r", "f", "customers"]
        ) + base.mark_text(fontSize=10).encode(text="customers:Q")
        summary = self.summary
        bars = (
            alt.Chart(summary)
            .mark_bar()
            .encode(x=alt.X("customers:Q"), y=alt.Y("label:N", sort="-x"), color="label:N")
        )
        title = f"RFM of {self.spec.table} as of {self.spec.as_of}"
        chart = (grid.properties(width=220, height=220) | bars.properties(width=260)).properties(title=title)
        return display.OfflineChart(chart, title)

    def __repr__(self) -> str:
        s = self.summary.copy()
        s["share"] = s["share"].map(lambda v: f"{v:.1%}")
        for c, spec in (
            ("avg_recency_days", "{:.0f}"),
            ("avg_frequency", "{:.1f}"),
            ("avg_monetary", "{:,.2f}"),
        ):
            s[c] = s[c].map(spec.format)
        for c in ("avg_r", "avg_f", "avg_m"):
            s[c] = s[c].map("{:.1f}".format)
        head = pd.DataFrame(self).head(5).copy()
        head["monetary"] = head["monetary"].map("{:,.2f}".format)
        return (
            f"RFM of {self.spec.table} as of {self.spec.as_of}, window {self.spec.window_text}: "
            f"{len(self):,} customers scored\n\n{s.to_string(index=False)}\n\nfirst rows:\n"
            f"{head.to_string(index=False)}"
        )

    def _repr_html_(self) -> str:
        s = self.summary
        total = len(self)
        head = (
            f"<b>RFM</b> of <code>{html.escape(self.spec.table)}</code> as of {self.spec.as_of}, "
            f"window {html.escape(self.spec.window_text)}: {total:,} customers scored"
        )
        table = display.table(
            s,
            bars={"customers": s["customers"].max() or 1},
            formats={
                "share": "{:.1%}",
                "avg_recency_days": "{:.0f}",
                "avg_frequency": "{:.1f}",
                "avg_monetary": "{:,.2f}",
                "avg_r": "{:.1f}",
                "avg_f": "{:.1f}",
                "avg_m": "{:.1f}",
            },
        )
        grid = display.rf_grid(self)
        preview = display.table(pd.DataFrame(self).head(5))
        return display.card(
            head, display.row(table, grid), "<details><summary>first rows</summary>" + preview + "</details>"
        )


def summarize(scores: pd.DataFrame, rules: Sequence[RfmRule] = RFM_RULES) -> pd.DataFrame:
    order = [r.label for r in rules] + [OTHER]
    g = scores.groupby("label", observed=True)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "avg_recency_days": g["recency_days"].mean(),
            "avg_frequency": g["frequency"].mean(),
            "avg_monetary": g["monetary"].mean(),
            "avg_r": g["r"].mean(),
            "avg_f": g["f"].mean(),
            "avg_m": g["m"].mean(),
        }
    )
    out = out.reindex([x for x in order if x in out.index]).reset_index().rename(columns={"index": "label"})
    out.insert(2, "share", out["customers"] / max(1, len(scores)))
    return out


# --- computing -------------------------------------------------------------------------------------


def parse_window(window: str | int) -> tuple[int, str]:
    """'1 year', '90 days', '12 months', or a number of days."""
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise SegmentError("the RFM window must be at least 1 day")
        return window, "day"
    m = re.fullmatch(r"\s*(\d+)\s*(day|week|month|year)s?\s*", str(window), re.IGNORECASE)
    if not m or int(m.group(1)) < 1:
        raise SegmentError(f"window '{window}' is not a span: write e.g. '1 year', '90 days' or '6 months'")
    return int(m.group(1)), m.group(2).lower()


def _as_date(value: Any) -> dt.date:
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SegmentError(f"as_of '{value}' is not a date: write it as YYYY-MM-DD") from None


def _activity_step(session: Session, table: str) -> str:
    customer = session.model.customer_entity()
    step = session.model.step(customer.name, table)
    if step is None or not step.to_many:
        many = [n for n, s in session.model.steps_from(customer.name).items() if s.to_many]
        raise SegmentError(
            f"'{table}' is not related to-many to {customer.name}{did_you_mean(table, many)}",
            hint="RFM needs an activity table such as orders (declare it with ws.relate(...) if needed)",
        )
    return step.target


def _check_column(session: Session, table: str, name: str, kinds: tuple[str, ...], role: str) -> str:
    entity = session.model.entity(table)
    col = entity.column(name)
    if col is None:
        raise SegmentError(f"unknown column '{name}' on {table}{did_you_mean(name, entity.columns)}")
    if col.type not in kinds:
        raise SegmentError(f"the RFM {role} column {table}.{name} is {col.type}, not {' or '.join(kinds)}")
    return col.name


class _Dsl:
    """The aggregates RFM is made of, as definition-tree nodes (one place for scores and segments)."""

    def __init__(self, spec: RfmSpec) -> None:
        self.spec = spec
        self.user_where = parse_condition(spec.where) if spec.where else None

    def _where(self, *conds: A.Expr | None) -> A.Expr | None:
        items = tuple(c for c in (*conds, self.user_where) if c is not None)
        return None if not items else items[0] if len(items) == 1 else A.And(items)

    def in_window(self) -> A.Expr:
        n, unit = self.spec.window
        return A.InLast(A.Name((self.spec.date,)), n, unit)  # type: ignore[arg-type]

    def last(self, up_to: dt.date | None) -> A.Aggregate:
        bound = A.Compare("<=", A.Name((self.spec.date,)), A.Literal(up_to)) if up_to else None
        return A.Aggregate("max", (self.spec.table, self.spec.date), self._where(bound))

    def frequency(self) -> A.Aggregate:
        return A.Aggregate("count", (self.spec.table,), self._where(self.in_window()))

    def monetary(self) -> A.Aggregate:
        return A.Aggregate("sum", (self.spec.table, self.spec.amount), self._where(self.in_window()))

    def active(self, up_to: dt.date | None) -> A.Exists:
        bound = A.Compare("<=", A.Name((self.spec.date,)), A.Literal(up_to)) if up_to else None
        return A.Exists("any", (self.spec.table,), self._where(bound))


def compute(
    session: Session,
    table: str,
    *,
    date: str,
    amount: str,
    window: str | int = "1 year",
    as_of: Any = None,
    where: str | None = None,
    rules: Sequence[RfmRule] | None = None,
) -> RfmScores:
    """Scores for every customer with activity (see the module docstring). Runs one SQL query."""
    table = _activity_step(session, table)
    date = _check_column(session, table, date, ("date", "timestamp"), "date")
    amount = _check_column(session, table, amount, ("number",), "amount")
    rules = tuple(RFM_RULES if rules is None else rules)
    if not rules or not all(isinstance(r, RfmRule) for r in rules):
        raise SegmentError("rules must be a non-empty list of RfmRule(label, r=(lo, hi), f=..., m=...)")
    key = session.model.customer_entity().key
    assert key is not None
    spec = RfmSpec(table, date, amount, parse_window(window), _as_date(as_of), where, rules, key)
    sql = scores_query(session, spec).sql(dialect=session.dialect)
    frame = session.fetch(sql)
    frame.columns = [key, "recency_days", "frequency", "monetary", "r", "f", "m", "label"]
    frame = frame.astype(
        {
            "recency_days": "int64",
            "frequency": "int64",
            "monetary": "float64",
            "r": "int64",
            "f": "int64",
            "m": "int64",
        }
    )
    frame["label"] = frame["label"].astype(str)
    frame = frame.sort_values(key, kind="stable").reset_index(drop=True)
    spec.cuts = cut_points(frame)
    out = RfmScores(frame)
    out.spec = spec
    return out


def scores_query(session: Session, spec: RfmSpec) -> exp.Select:
    """The whole RFM computation as one sqlglot query (aggregates, NTILE with ties, labels)."""
    dsl = _Dsl(spec)
    text = to_text(
        A.Definition(
            dsl.active(spec.as_of),
            (
                A.Projection(dsl.last(spec.as_of), "rfm_last"),
                A.Projection(dsl.frequency(), "rfm_frequency"),
                A.Projection(dsl.monetary(), "rfm_monetary"),
            ),
        )
    )
    dialect = session.dialect
    base = session.query(text, shape="members", as_of=dt.datetime.combine(spec.as_of, dt.time()))
    key_id = D.identifier(spec.key)
    keep = [
        e
        for e in base.expressions
        if e.alias_or_name.lower() in (spec.key.lower(), "rfm_last", "rfm_frequency", "rfm_monetary")
    ]
    base.set("expressions", keep)

    def col(name: str) -> exp.Column:
        return exp.column(D.identifier(name))

    last: exp.Expression = col("rfm_last")
    if dialect == "sqlite":  # timestamps are text: whole days between calendar dates, as elsewhere
        last = exp.Anonymous(this="DATE", expressions=[last])
    recency = exp.DateDiff(this=D.date_literal(spec.as_of, dialect), expression=last, unit=exp.var("DAY"))
    d = exp.select(
        exp.column(key_id),
        exp.alias_(exp.Cast(this=recency, to=exp.DataType.build("BIGINT")), "recency_days"),
        exp.alias_(col("rfm_frequency"), "frequency"),
        exp.alias_(exp.Coalesce(this=col("rfm_monetary"), expressions=[exp.Literal.number(0)]), "monetary"),
    ).from_("rfm_base")

    def ntile(value: str, desc: bool) -> exp.Expression:
        order = exp.Order(expressions=[exp.Ordered(this=col(value), desc=desc)])
        return exp.Window(this=exp.Anonymous(this="NTILE", expressions=[exp.Literal.number(5)]), order=order)

    n = exp.select(
        exp.column(key_id), col("recency_days"), col("frequency"), col("monetary"),
        exp.alias_(ntile("recency_days", True), "r0"),
        exp.alias_(ntile("frequency", False), "f0"),
        exp.alias_(ntile("monetary", False), "m0"),
    ).from_("rfm_d")  # fmt: skip

    def tie_middle(bucket: str, value: str) -> exp.Expression:
        mean = exp.Window(this=exp.Avg(this=col(bucket)), partition_by=[col(value)])
        rounded = exp.Floor(this=exp.Add(this=mean, expression=exp.Literal.number("0.5")))
        return exp.Cast(this=rounded, to=exp.DataType.build("INT"))

    s = exp.select(
        exp.column(key_id), col("recency_days"), col("frequency"), col("monetary"),
        exp.alias_(tie_middle("r0", "recency_days"), "r"),
        exp.alias_(tie_middle("f0", "frequency"), "f"),
        exp.alias_(tie_middle("m0", "monetary"), "m"),
    ).from_("rfm_n")  # fmt: skip

    ifs = []
    for rule in spec.rules:
        conds = [
            exp.Between(this=col(name), low=exp.Literal.number(lo), high=exp.Literal.number(hi))
            for name, (lo, hi) in rule.ranges().items()
            if (lo, hi) != (1, 5)
        ]
        cond = (
            exp.and_(*conds)
            if conds
            else exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(1))
        )
        ifs.append(exp.If(this=cond, true=exp.Literal.string(rule.label)))
    label = exp.Case(ifs=ifs, default=exp.Literal.string(OTHER))
    final = (
        exp.select(
            exp.column(key_id),
            col("recency_days"),
            col("frequency"),
            col("monetary"),
            col("r"),
            col("f"),
            col("m"),
        )
        .select(exp.alias_(label, "label"))
        .from_("rfm_s")
        .with_("rfm_base", as_=base)
        .with_("rfm_d", as_=d)
        .with_("rfm_n", as_=n)
        .with_("rfm_s", as_=s)
    )
    return final


def cut_points(frame: pd.DataFrame) -> dict[str, dict[int, float]]:
    """For each score and k in 2..5 the cut that ``score >= k`` means (absent when no one scores >= k).

    r: the largest recency_days with r >= k; f: the smallest frequency with f >= k; m: halfway between
    the largest monetary with m < k and the smallest with m >= k.
    """
    cuts: dict[str, dict[int, float]] = {"r": {}, "f": {}, "m": {}}
    for k in range(2, 6):
        hit_r = frame.loc[frame["r"] >= k, "recency_days"]
        if len(hit_r):
            cuts["r"][k] = int(hit_r.max())
        hit_f = frame.loc[frame["f"] >= k, "frequency"]
        if len(hit_f):
            cuts["f"][k] = int(hit_f.min())
        hit_m, below_m = frame.loc[frame["m"] >= k, "monetary"], frame.loc[frame["m"] < k, "monetary"]
        if len(hit_m) and len(below_m):
            cuts["m"][k] = (float(below_m.max()) + float(hit_m.min())) / 2
        elif len(hit_m):
            cuts["m"][k] = float(hit_m.min())
    return cuts


# --- segments ---------------------------------------------------------------------------------------


def rule_condition(spec: RfmSpec, rule: RfmRule) -> A.Expr:
    """The DSL condition for one rule, with the spec's cut points (relative to the evaluation date)."""
    dsl = _Dsl(spec)
    conds: list[A.Expr] = []
    lo, hi = rule.r
    last = dsl.last(None)
    if lo > 1:
        days = spec.cuts["r"].get(lo)
        conds.append(A.InLast(last, int(days), "day") if days is not None else A.Literal(False))
    if hi < 5 and (days := spec.cuts["r"].get(hi + 1)) is not None:
        conds.append(A.Not(A.InLast(last, int(days), "day")))
    for name, agg in (("f", dsl.frequency()), ("m", dsl.monetary())):
        lo, hi = rule.ranges()[name]
        if lo > 1:
            cut = spec.cuts[name].get(lo)
            conds.append(A.Compare(">=", agg, A.Literal(_num(cut))) if cut is not None else A.Literal(False))
        if hi < 5 and (cut := spec.cuts[name].get(hi + 1)) is not None:
            conds.append(A.Compare("<", agg, A.Literal(_num(cut))))
    # Only scored customers (with activity): needed when no recency bound implies it.
    if rule.r[0] == 1:
        conds.insert(0, dsl.active(None))
    return conds[0] if len(conds) == 1 else A.And(tuple(conds))


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(float(v), 6)


def definitions(spec: RfmSpec, labels: Sequence[str] | None = None) -> dict[str, str]:
    by_label = {r.label: r for r in spec.rules}
    wanted = list(by_label) if labels is None else list(labels)
    unknown = [x for x in wanted if x not in by_label]
    if unknown:
        raise SegmentError(f"unknown RFM label '{unknown[0]}'{did_you_mean(unknown[0], by_label)}")
    # First match wins in the scores: a later rule excludes customers an earlier rule took.
    out: dict[str, str] = {}
    order = list(by_label)
    for label in wanted:
        rule = by_label[label]
        cond = rule_condition(spec, rule)
        earlier = [
            rule_condition(spec, by_label[x])
            for x in order[: order.index(label)]
            if _overlaps(by_label[x], rule)
        ]
        for other in earlier:
            cond = A.SetOp("except", cond, other)
        out[label] = to_text(cond)
    return out


def _overlaps(a: RfmRule, b: RfmRule) -> bool:
    return all(
        max(a.ranges()[s][0], b.ranges()[s][0]) <= min(a.ranges()[s][1], b.ranges()[s][1]) for s in SCORES
    )


def segment_name(label: str, prefix: str = "rfm_") -> str:
    return prefix + re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def save_segments(
    save: Callable[..., Any],
    scores: RfmScores,
    labels: Sequence[str] | None = None,
    *,
    prefix: str = "rfm_",
    catalog: Catalog | None = None,
) -> dict[str, str]:
    """Save one segment per label (``rfm_champions``, ...) with ``ws.segment``; returns label -> name.

    Labels no customer has (possible when ties leave a score unused) are skipped unless asked for.
    ``catalog``: where to record the scores' ``as_of`` with each segment, so that ``compare`` and
    ``similar`` evaluate the segment at the date its cut points belong to (``features.recorded_as_of``).
    """
    if not isinstance(scores, RfmScores):
        raise SegmentError("pass the result of ws.rfm(...) (or the activity table name and ws.rfm arguments)")
    present = set(scores["label"])
    if labels is None:
        labels = [r.label for r in scores.spec.rules if r.label in present]
    defs = definitions(scores.spec, labels)
    names: dict[str, str] = {}
    for label, text in defs.items():
        name = segment_name(label, prefix)
        description = (
            f"RFM '{label}' of {scores.spec.table} over {scores.spec.window_text} "
            f"(quintile cut points as of {scores.spec.as_of})"
        )
        save(name, text, description=description)
        if catalog is not None:
            F.record_as_of(catalog, name, scores.spec.as_of)
        names[label] = name
    return names
