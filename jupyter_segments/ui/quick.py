"""``QuickSegment``: one field, one condition, from the distribution of the data.

Pick a source (customer attributes, a measure, or a table keyed by customer such as model scores), then a
field. A categorical field shows its 10 most common values with customer counts (GROUP BY in the database);
a numeric field shows its percentiles p1..p99, computed in the database where it has a percentile function
(DuckDB ``quantile_cont``, PostgreSQL ``percentile_cont``) and from a bounded sample elsewhere (said so on
screen). The estimated size is counted in the background; Save creates a normal segment.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd
from sqlglot import exp

from ..dsl import to_text
from ..dsl.ast import Definition
from ..errors import SegmentError
from . import charts, theme
from .debounce import Debouncer, WorkerDB
from .errors import Messages, describe
from .saving import NameTaken, check_name, replace_button
from .state import Row, Schema, display_value, row_to_expr
from .static import Mirrored
from .why import threshold_as_x

PERCENTILES = list(range(1, 100))  # all of p1..p99, so a value's percentile can be read off
SHOWN = [1, 5, 10, 25, 50, 75, 90, 95, 99]
SAMPLE_LIMIT = 100_000
TOP_N = 10
NUMERIC_OPS = [("greater than", ">"), ("less than", "<"), ("between", "between")]


@dataclass(frozen=True)
class Source:
    """Where a field comes from: the customer table, the measures, or a table keyed by customer."""

    kind: str  # "customer" | "measure" | "table"
    table: str = ""  # for "table": the table; its column ``key_column`` holds the customer key
    key_column: str = ""
    label: str = ""


@dataclass
class Stats:
    kind: str  # "categorical" | "numeric"
    top: pd.DataFrame | None = None  # value, customers
    percentiles: list[float] | None = None  # p1..p99
    non_null: int = 0
    sampled: bool = False
    in_database: bool = True  # percentiles computed by the database (else from values read into Python)
    sweep: pd.DataFrame | None = None  # x (a shown percentile), members: customers with field > x
    sweep_error: str = ""


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _condition_row(src: Source, column: str, op: str, value: Any, value2: Any = None) -> Row:
    """The quick segment's condition as a builder row: on the customer's own ``column``, or (a table
    source) ``any(table where column ...)``."""
    if src.kind == "table":
        return Row((src.table,), (column,), op, value, value2, quantifier="any")
    return Row((), (column,), op, value, value2)


class QuickSegment(Mirrored):
    """A one-condition segment from a field's distribution.

    >>> q = QuickSegment(ws)
    >>> q.source.value = q.source.options[0][1]; q.field.value = "age"
    """

    def __init__(self, ws: Any, *, delay: float = 0.3) -> None:
        self.ws = ws
        self.schema = Schema(ws.model)
        self.messages = Messages()
        self.db = WorkerDB(ws)
        self.stats: Stats | None = None
        self.count: int | None = None
        self.definition: Definition | None = None
        self.error: str | None = None
        self.saved: Any = None
        self.stats_loader = Debouncer(self._load_stats, self._stats_done, self._stats_failed, delay=0.0)
        self.counter = Debouncer(
            self._count, self._count_done, self._count_failed, delay=delay, cancel=self.db.cancel
        )

        g = self.messages.guard
        self.messages.after = self.update_mirror
        self.source = W.Dropdown(
            options=self._sources(), description="Source", layout=W.Layout(width="360px")
        )
        self.field = W.Dropdown(options=[], description="Field", layout=W.Layout(width="360px"))
        for w in (self.source, self.field):
            w.style.description_width = "70px"
        self.stats_html = W.HTML()
        self.choice = W.Dropdown(options=[], description="Value", layout=W.Layout(width="360px"))
        self.operator = W.Dropdown(
            options=NUMERIC_OPS, value=">", description="Operator", layout=W.Layout(width="240px")
        )
        self.value = W.Text(description="Value", placeholder="number", layout=W.Layout(width="200px"))
        self.value2 = W.Text(description="and", placeholder="number", layout=W.Layout(width="160px"))
        for w in (self.choice, self.operator, self.value, self.value2):
            w.style.description_width = "70px"
        self.value2.style.description_width = "30px"
        self.percentile_label = W.HTML()
        self.sweep_html = W.HTML()
        self.condition_box = W.VBox()
        self.dsl = W.HTML()
        self.count_label = W.HTML()
        self.name = W.Text(placeholder="segment_name", description="Name")
        self.display_name = W.Text(placeholder="Shown in lists", description="Display name")
        self.description = W.Textarea(
            placeholder="What this segment is for",
            description="Description",
            layout=W.Layout(width="480px", height="56px"),
        )
        for w in (self.name, self.display_name, self.description):
            w.style.description_width = "100px"
        self.save_button = theme.button("Save", kind="primary", icon="save", tooltip="Save as a segment")
        self.replace_button = replace_button()
        self.messages.on_click(self.save_button, self.save, "Could not save")
        self.messages.on_click(self.replace_button, lambda: self.save(replace=True), "Could not save")

        self.source.observe(g(lambda c: self._source_changed()), names="value")
        self.field.observe(g(lambda c: self._field_changed()), names="value")
        for w in (self.choice, self.operator, self.value, self.value2):
            w.observe(g(lambda c: self.changed()), names="value")

        self.widget = theme.root(
            [
                theme.title(
                    "Quick segment", "One field, one condition, chosen from how the data is distributed."
                ),
                W.HBox([self.source, self.field], layout=W.Layout(flex_flow="row wrap")),
                self.stats_html,
                self.sweep_html,
                theme.section([self.condition_box, self.percentile_label], "Condition"),
                theme.section([self.count_label, self.dsl], "Segment"),
                theme.section(
                    [
                        self.name,
                        self.display_name,
                        self.description,
                        W.HBox([self.save_button, self.replace_button]),
                    ],
                    "Save",
                ),
                self.messages.widget,
            ]
        )
        self._source_changed()

    def to_text(self) -> str:
        """The widget as plain text: the field, its distribution, the condition and its count."""
        src = self.source.label or ""
        field = self.field.label or ""
        lines = [f"Quick segment: {src} / {field}".rstrip(" /")]
        if self.stats is not None and self.stats.kind == "numeric" and self.stats.percentiles:
            pct = self.stats.percentiles
            lines.append("  " + "  ".join(f"p{p}={_fmt(pct[p - 1])}" for p in SHOWN))
            sweep = self.stats.sweep
            if sweep is not None and not sweep.empty:
                steps = "  ".join(
                    f"{_fmt(x)}:{int(m):,}" for x, m in zip(sweep["x"], sweep["members"], strict=True)
                )
                lines.append(f"  customers with {self._field_name()} > x:  {steps}")
        if self.definition is not None:
            count = "counting..." if self.count is None else f"{self.count:,} customers"
            lines.append(f"  {to_text(self.definition)}  ->  {count}")
        elif self.error:
            lines.append(f"  {self.error}")
        return "\n".join(lines)

    def static_html(self) -> str:
        """The widget without widgets (exported notebooks): distribution, condition and count."""
        text = theme.code_html(to_text(self.definition)) if self.definition is not None else ""
        return (
            f"{theme.CSS}<div class='jseg-static'><div class='jseg-title'>Quick segment: "
            f"{html.escape(str(self.source.label or ''))} / {html.escape(str(self.field.label or ''))}</div>"
            f"{self.stats_html.value}{self.sweep_html.value}{self.percentile_label.value}{text}{self.count_label.value}</div>"
        )

    # -- sources and fields -----------------------------------------------------------------------
    def _sources(self) -> list[tuple[str, Source]]:
        model = self.ws.model
        customer = self.schema.customer
        out = [
            (f"Customer attributes ({customer})", Source("customer", customer, label="Customer attributes"))
        ]
        if model.all_measures():
            out.append(("Measures", Source("measure", label="Measures")))
        # Tables keyed by customer: every table one to-many step away (scores, calls, orders, ...).
        for name, step in sorted(model.steps_from(customer).items()):
            if step.to_many:
                src = Source("table", step.target, step.target_column, label=name)
                out.append((f"Table: {step.target} (by {step.target_column})", src))
        return out

    def _fields(self, src: Source) -> list[tuple[str, tuple[str, str]]]:
        """(label, (column, kind)) for the usable fields of a source; kind: numeric / categorical."""
        if src.kind == "measure":
            return [(m, (m, "numeric")) for m in sorted(self.ws.model.all_measures())]
        entity = self.ws.model.entity(src.table)
        skip = {entity.key, src.key_column}
        out = []
        for c in entity.columns.values():
            if c.name in skip or c.type not in ("number", "string", "boolean"):
                continue
            kind = "numeric" if c.type == "number" and not c.name.lower().endswith("_id") else "categorical"
            out.append((f"{c.name}  ({c.type})", (c.name, kind)))
        return out

    def _source_changed(self) -> None:
        src = self.source.value
        fields = self._fields(src) if src is not None else []
        self.field.options = fields
        self.field.value = fields[0][1] if fields else None
        self._field_changed()

    def _field_changed(self) -> None:
        self.stats, self.count, self.definition = None, None, None
        # A value typed for one field means nothing for the next: start again at the new field's p75.
        self.value.value = self.value2.value = ""
        self.condition_box.children = []
        self.percentile_label.value = self.sweep_html.value = ""
        if self.field.value is None:
            self.stats_html.value = '<span class="jseg-muted">This source has no fields to pick.</span>'
            return
        self.stats_html.value = '<span class="jseg-muted">Reading the distribution…</span>'
        self.stats_loader.submit(self.source.value, self.field.value)

    # -- distribution (worker thread) -------------------------------------------------------------
    def _values_select(self, src: Source, column: str) -> exp.Select:
        """One row per (customer, value): ``k`` the customer key, ``v`` the field."""
        model = self.ws.model
        key = model.customer_entity().key
        if src.kind == "customer":
            return exp.select(_col(key).as_("k"), _col(column).as_("v")).from_(
                exp.to_table(src.table, quoted=True)
            )
        if src.kind == "table":
            return exp.select(_col(src.key_column).as_("k"), _col(column).as_("v")).from_(
                exp.to_table(src.table, quoted=True)
            )
        # A measure: the engine computes it per customer; read it back as a projected column.
        inner = self.ws.query(f"true PROJECT {column} AS v", shape="members")
        return exp.select(_col(key, "m").as_("k"), _col("v", "m").as_("v")).from_(inner.subquery("m"))

    def _load_stats(self, src: Source, field: tuple[str, str]) -> tuple[Source, tuple[str, str], Stats]:
        column, kind = field
        base = self._values_select(src, column)
        dialect = self.ws.dialect
        sub = base.subquery("s")
        if kind == "categorical":
            q = (
                exp.select(
                    _col("v"), exp.func("count", exp.Distinct(expressions=[_col("k")])).as_("customers")
                )
                .from_(sub)
                .group_by(_col("v"))
                .order_by(exp.Ordered(this=_col("customers"), desc=True), _col("v"))
                .limit(TOP_N)
            )
            top = self.db.frame(q.sql(dialect=dialect))
            top.columns = ["value", "customers"]
            return src, field, Stats("categorical", top=top)
        fractions = [p / 100 for p in PERCENTILES]
        not_null = exp.Not(this=exp.Is(this=_col("v"), expression=exp.Null()))
        sub_sql = exp.select(_col("v")).from_(sub).where(not_null).sql(dialect=dialect)
        count_sql = exp.select(exp.func("count", _col("v"))).from_(sub).sql(dialect=dialect)
        n = int(self.db.scalar(count_sql) or 0)
        if n == 0:
            return src, field, Stats("numeric", percentiles=[], non_null=0)
        # Only sqlglot-generated SQL and constant fractions go into these statements.
        fr = ", ".join(repr(f) for f in fractions)
        if dialect == "duckdb":
            sql = f"SELECT quantile_cont(v, [{fr}]) FROM ({sub_sql}) AS t"
            values, sampled = list(self.db.scalar(sql)), False
        elif dialect == "postgres":
            sql = f"SELECT percentile_cont(ARRAY[{fr}]) WITHIN GROUP (ORDER BY v) FROM ({sub_sql}) AS t"
            values, sampled = list(self.db.scalar(sql)), False
        else:  # no portable percentile function: a bounded sample, read in one go
            sample_sql = (
                exp.select(_col("v")).from_(sub).where(not_null).limit(SAMPLE_LIMIT).sql(dialect=dialect)
            )
            sample = pd.to_numeric(self.db.frame(sample_sql).iloc[:, 0], errors="coerce").dropna().to_numpy()
            values = list(np.percentile(sample, PERCENTILES)) if len(sample) else []
            sampled = n > len(sample)
        stats = Stats("numeric", percentiles=[float(v) for v in values], non_null=n, sampled=sampled)
        stats.in_database = dialect in ("duckdb", "postgres")
        self._sweep(src, column, stats)
        return src, field, stats

    def _sweep(self, src: Source, column: str, stats: Stats) -> None:
        """The member count of ``field > x`` at each shown percentile: one ``ws.sweep`` query."""
        pct = stats.percentiles or []
        thresholds = sorted({pct[p - 1] for p in SHOWN if pct[p - 1] == pct[p - 1]})
        if not thresholds:
            return
        # The condition the quick segment saves, its value as the sweep's {x} (bound, not spliced).
        condition = row_to_expr(_condition_row(src, column, ">", thresholds[0]), self.schema, "condition")
        try:
            template = to_text(Definition(threshold_as_x(condition)))
            stats.sweep = self.ws.sweep(template, fetch=self.db.frame, x=thresholds)
        except SegmentError as e:  # the distribution is still worth showing without the sweep
            stats.sweep_error = str(e)

    def _stats_done(self, result: tuple[Source, tuple[str, str], Stats]) -> None:
        src, field, stats = result
        if src != self.source.value or field != self.field.value:  # the user moved on meanwhile
            return
        self.stats = stats
        if stats.kind == "categorical":
            self._show_categorical(stats)
        else:
            self._show_numeric(stats)
        self.changed()

    def _stats_failed(self, exc: BaseException) -> None:
        self.stats_html.value = ""
        self.messages.error(describe(exc), "Could not read the distribution")

    def _show_categorical(self, stats: Stats) -> None:
        top = stats.top if stats.top is not None else pd.DataFrame(columns=["value", "customers"])
        biggest = max([int(c) for c in top["customers"]] or [1]) or 1
        rows = "".join(
            f"<tr><td>{html.escape('(empty)' if pd.isna(v) else display_value(v))}</td>"
            f'<td class="num">{int(c):,}</td>'
            f'<td><div style="background: var(--jp-brand-color2); height: 8px; width: {int(120 * int(c) / biggest)}px">'
            "</div></td></tr>"
            for v, c in zip(top["value"], top["customers"], strict=True)
        )
        self.stats_html.value = (
            f'<div class="jseg-label">Top {TOP_N} values by customers</div>'
            f'<table class="jseg-table"><tr><th>Value</th><th class="num">Customers</th><th></th></tr>{rows}</table>'
        )
        options = [
            (f"{display_value(v)}  ({int(c):,})", v)
            for v, c in zip(top["value"], top["customers"], strict=True)
            if not pd.isna(v)
        ]
        self.choice.options = options
        self.choice.value = options[0][1] if options else None
        self.condition_box.children = [self.choice]

    def _show_numeric(self, stats: Stats) -> None:
        pct = stats.percentiles or []
        if not pct:
            self.stats_html.value = '<span class="jseg-muted">No values in this field.</span>'
            self.condition_box.children = []
            return
        head = "".join(f'<th class="num">p{p}</th>' for p in SHOWN)
        cells = "".join(f'<td class="num">{_fmt(pct[p - 1])}</td>' for p in SHOWN)
        if stats.in_database:
            note = f"computed in the database over {stats.non_null:,} values"
        elif stats.sampled:
            note = (
                f"estimated from a sample of the first {SAMPLE_LIMIT:,} of {stats.non_null:,} values "
                "(this database has no percentile function the widget uses)"
            )
        else:
            note = f"computed from all {stats.non_null:,} values read from the database (it has no percentile function)"
        self.stats_html.value = (
            f'<div class="jseg-label">Percentiles</div><table class="jseg-table"><tr>{head}</tr><tr>{cells}</tr></table>'
            f'<div class="jseg-muted">{html.escape(note)}</div>'
        )
        if not self.value.value:
            self.value.value = _fmt(pct[74], plain=True)  # start at p75: "the top quarter"
        self._layout_numeric()
        self._show_sweep()

    def _field_name(self) -> str:
        if not self.field.value:
            return ""
        src = self.source.value
        column = str(self.field.value[0])
        return f"any {src.table}.{column}" if src is not None and src.kind == "table" else column

    def _show_sweep(self) -> None:
        """The count of ``field > x`` at each shown percentile as a step chart, the chosen value marked."""
        stats = self.stats
        if stats is None or stats.kind != "numeric":
            self.sweep_html.value = ""
            return
        if stats.sweep_error:
            self.sweep_html.value = (
                f'<div class="jseg-warn">Count by threshold: {html.escape(stats.sweep_error)}</div>'
            )
            return
        if stats.sweep is None or stats.sweep.empty:
            self.sweep_html.value = ""
            return
        try:
            chosen: float | None = float(self.value.value.replace(",", ""))
        except ValueError:
            chosen = None
        self.sweep_html.value = sweep_html(
            [float(x) for x in stats.sweep["x"]],
            [int(m) for m in stats.sweep["members"]],
            chosen,
            f"Customers with {self._field_name()} > x",
        )

    def _layout_numeric(self) -> None:
        parts: list[W.Widget] = [self.operator, self.value]
        if self.operator.value == "between":
            parts.append(self.value2)
        self.condition_box.children = [W.HBox(parts, layout=W.Layout())]

    def percentile_of(self, value: float) -> str:
        """Where ``value`` falls in the distribution: 'p37', 'p74-p76' (the percentiles equal to it),
        'below p1', 'above p99'."""
        pct = (self.stats.percentiles if self.stats else None) or []
        if not pct:
            return ""
        if value < pct[0]:
            return "below p1"
        if value > pct[-1]:
            return "above p99"
        # A value equal to percentiles is named by them, so it never contradicts the table beside it.
        equal = [p for p, v in zip(PERCENTILES, pct, strict=True) if np.isclose(v, value, rtol=1e-12, atol=0)]
        if equal:
            return f"p{equal[0]}" if len(equal) == 1 else f"p{equal[0]}\u2013p{equal[-1]}"
        # Interpolate between neighbouring percentiles; ties (flat stretches) take the middle.
        lo = np.interp(value, pct, PERCENTILES, left=1, right=99)
        hi = 100 - np.interp(
            -value, [-p for p in reversed(pct)], list(reversed(PERCENTILES)), left=99, right=1
        )
        return f"p{round((lo + (100 - hi)) / 2)}" if hi != lo else f"p{round(lo)}"

    # -- the condition ----------------------------------------------------------------------------
    def _row(self) -> Row:
        src: Source = self.source.value
        column, kind = self.field.value
        if kind == "categorical":
            if self.choice.value is None:
                raise SegmentError("choose a value")
            value = self.choice.value
            entity_type = "boolean" if isinstance(value, (bool, np.bool_)) else None
            if entity_type == "boolean":
                op, value = ("is true" if value else "is false"), None
            elif isinstance(value, (int, float, np.integer, np.floating)):
                op, value = "=", value.item() if hasattr(value, "item") else value
            else:
                op = "is"
            return _condition_row(src, column, op, value)
        op = self.operator.value
        return _condition_row(
            src, column, op, self.value.value, self.value2.value if op == "between" else None
        )

    def changed(self) -> None:
        if self.stats is None or self.field.value is None:
            return
        if self.stats.kind == "numeric":
            self._layout_numeric()
            self._show_percentile()
            self._show_sweep()
        try:
            expr = row_to_expr(self._row(), self.schema, "condition")
            self.definition = Definition(expr)
            self.error = None
        except SegmentError as e:
            self.definition, self.error = None, str(e)
            self.dsl.value = ""
            self.count = None
            self.count_label.value = f'<div class="jseg-warn">{html.escape(self.error)}</div>'
            return
        self.dsl.value = theme.code_html(to_text(self.definition))
        self.count_label.value = '<span class="jseg-count">Estimated size: <b>…</b> <span class="jseg-muted">counting…</span></span>'
        self.counter.submit(self.definition)

    def _show_percentile(self) -> None:
        texts = []
        for w in [self.value, self.value2] if self.operator.value == "between" else [self.value]:
            try:
                texts.append(
                    f"{w.value.strip()} falls at <b>{self.percentile_of(float(w.value.replace(',', '')))}</b>"
                )
            except ValueError:
                pass
        self.percentile_label.value = f'<span class="jseg-muted">{"; ".join(texts)}</span>' if texts else ""

    def _count(self, definition: Any) -> int:
        return self.db.count(definition)

    def _count_done(self, n: int) -> None:
        self.count = n
        self.count_label.value = f'<span class="jseg-count">Estimated size: <b>{n:,}</b> customers</span>'
        self.update_mirror()

    def _count_failed(self, exc: BaseException) -> None:
        self.count = None
        self.count_label.value = f'<div class="jseg-error"><pre>{html.escape(describe(exc))}</pre></div>'

    def wait(self, timeout: float = 30.0) -> int | None:
        """Wait for the distribution and the count (tests, scripts)."""
        self.stats_loader.wait(timeout)
        self.counter.wait(timeout)
        return self.count

    @property
    def text(self) -> str:
        if self.definition is None:
            raise SegmentError(self.error or "choose a source and a field")
        return to_text(self.definition)

    def save(self, replace: bool = False) -> Any:
        """Save as a segment; a name that is taken is only replaced after asking (``replace=True``)."""
        name = self.name.value.strip()
        if not name:
            raise SegmentError("enter a name for the segment")
        text = self.text
        self.replace_button.layout.display = "none"
        try:
            check_name(self.ws, name, editing=None, replace=replace)
        except NameTaken:
            self.replace_button.layout.display = ""
            raise
        self.saved = self.ws.segment(
            name, text, description=self.description.value, display_name=self.display_name.value or None
        )
        # The form is for the next segment: a display name or description left here would go with it.
        self.name.value = self.display_name.value = self.description.value = ""
        self.messages.info(f"Saved segment '{name}': {text}")
        return self.saved

    def close(self) -> None:
        self.stats_loader.close()
        self.counter.close()
        self.widget.close()


def _fmt(x: float, plain: bool = False) -> str:
    if x != x:
        return "—"
    if float(x).is_integer():
        return f"{int(x)}" if plain else f"{int(x):,}"
    return f"{x:.4g}" if abs(x) < 1000 else (f"{x:.0f}" if plain else f"{x:,.0f}")


SWEEP_CSS = """
.jseg-sweep .chosen { stroke: var(--jp-warn-color0, #f57c00); stroke-width: 2; stroke-dasharray: 4 3;
  vector-effect: non-scaling-stroke; }
.jseg-sweep-table td.chosen { font-weight: bold; color: var(--jp-warn-color0, #f57c00); }
"""


def sweep_html(xs: list[float], counts: list[int], chosen: float | None, title: str) -> str:
    """A step chart of ``counts`` over thresholds ``xs`` (inline SVG, theme colours, as ui/charts.py) and
    the same numbers as a table; the chosen threshold is a dashed line and a bold row."""
    lo, hi = xs[0], xs[-1]
    span = (hi - lo) or 1.0
    yt = charts.count_ticks(0, max(counts))
    top = yt[-1] or 1.0

    def x(v: float) -> float:  # percent of the width
        return (v - lo) / span * 100 if hi != lo else 50.0

    def y(v: float) -> float:  # percent of the height, from the top
        return (1 - v / top) * 100

    steps = [f"M{x(xs[0]) * 10:.2f},{y(counts[0]) * 10:.2f}"]
    for i in range(1, len(xs)):  # the count holds until the next threshold, then drops
        steps.append(
            f"L{x(xs[i]) * 10:.2f},{y(counts[i - 1]) * 10:.2f} L{x(xs[i]) * 10:.2f},{y(counts[i]) * 10:.2f}"
        )
    grid = "".join(
        f'<line class="grid" x1="0" x2="1000" y1="{y(v) * 10:.1f}" y2="{y(v) * 10:.1f}"/>' for v in yt
    )
    dots = "".join(
        f'<path class="dot" d="M{x(v) * 10:.2f},{y(m) * 10:.2f} l0,0"><title>&gt; {_fmt(v)}: {m:,} customers</title></path>'
        for v, m in zip(xs, counts, strict=True)
    )
    marker = ""
    if chosen is not None and lo <= chosen <= hi:
        marker = (
            f'<line class="chosen" y1="0" y2="1000" x1="{x(chosen) * 10:.1f}" x2="{x(chosen) * 10:.1f}"/>'
        )
    ylabs = "".join(f'<div class="ylab" style="top:{y(v):.3f}%">{int(v):,}</div>' for v in yt)
    xlabs = "".join(
        f'<div class="xlab{" first" if i == 0 else " last" if i == len(xs) - 1 else ""}" style="left:{x(v):.3f}%">{_fmt(v)}</div>'
        for i, v in enumerate(xs)
        if i in (0, len(xs) - 1) or x(v) - x(xs[i - 1]) > 8  # labels closer than 8% would overlap
    )
    rows = "".join(
        f'<tr><td class="num{" chosen" if chosen is not None and np.isclose(v, chosen, rtol=1e-12, atol=0) else ""}">'
        f'{_fmt(v)}</td><td class="num">{m:,}</td></tr>'
        for v, m in zip(xs, counts, strict=True)
    )
    summary = f"{title}: from {counts[0]:,} at {_fmt(xs[0])} to {counts[-1]:,} at {_fmt(xs[-1])}"
    return (
        f"<style>{charts.CSS}{SWEEP_CSS}</style>"
        f'<div class="jseg-label">{html.escape(title)} (at the percentiles; dashed: the chosen value)</div>'
        '<div style="display:flex; gap:16px; align-items:flex-start">'
        f'<div class="jseg-chart jseg-sweep" role="img" aria-label="{html.escape(summary)}" style="flex:1; min-width:240px">'
        '<div class="jseg-chart-plot" style="height:120px">'
        f'{ylabs}<svg viewBox="0 0 1000 1000" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        f'{grid}<path class="line" d="{" ".join(steps)}"/>{marker}{dots}</svg></div>'
        f'<div class="xaxis">{xlabs}</div></div>'
        f'<table class="jseg-table jseg-sweep-table"><tr><th class="num">x</th><th class="num">Customers &gt; x</th></tr>{rows}</table>'
        "</div>"
    )  # fmt: skip
