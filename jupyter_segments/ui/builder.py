"""``SegmentBuilder``: click a segment together from groups of conditions.

Model / view / controller: ``BuilderState`` (state.py) is the plain-data model; the view classes here
build widgets from it and write every edit back into it; ``SegmentBuilder`` is the controller that, after
each edit, prints the DSL, compiles the SQL and asks the debounced worker for a new count.
"""

from __future__ import annotations

import datetime as dt
import html
import time
from typing import Any

import ipywidgets as W
import pandas as pd
from sqlglot import exp

from .. import render
from ..dsl import parse, parse_condition, to_text
from ..dsl.ast import Definition
from ..errors import SegmentError
from . import theme
from .debounce import Debouncer, Ticker, WorkerDB
from .errors import Messages, describe
from .saving import NameTaken, check_name, replace_button
from .state import (
    AGG_FUNCS,
    COMPARE_OPS,
    FUNC_RESULT,
    FUNCS_BY_TYPE,
    NO_VALUE_OPS,
    NUMBER_AGGS,
    OPS_BY_TYPE,
    PERIODS,
    PROJECTION_FUNCS,
    QUANTIFIERS,
    RANK_DIRECTIONS,
    SET_OPS,
    UNIT_OPS,
    UNITS,
    BuilderState,
    Group,
    Node,
    Path,
    ProjectionRow,
    Row,
    Schema,
    display_value,
    from_definition,
    row_to_expr,
    rows_in_order,
    to_definition,
    to_dsl,
)
from .static import Mirrored
from .why import (
    NearMissCounts,
    SweepTarget,
    WhyPanel,
    near_miss_label,
    sweep_html,
    sweep_target,
    sweep_values,
)

PREVIEW_ROWS = 10  # members shown by "Preview members"
TOP_VALUES = 30  # a text attribute with at most this many values gets a picker of them
ALL_CUSTOMERS = parse("true")  # counted once: the whole a segment's share is of

# Input widths: a condition's line (number, entity, attribute, function, operator, value, two icons) fits
# on one line in a notebook beside JupyterLab's open file browser at 1,280 px (about 830 px of output).
W_ENTITY, W_ATTR, W_OP, W_VALUE, W_SMALL = "120px", "170px", "104px", "130px", "84px"
ROW_FIELDS = (
    "entity", "quantifier", "agg_attribute", "agg_op", "agg_value", "agg_value2", "agg_fraction", "agg_by",
    "attribute", "func", "op", "value", "value2", "text", "rank", "rank_amount", "rank_unit",
)  # fmt: skip
NO_FILTER = "(no filter on the records)"  # the attribute picker's choice for a related row without one
NUMBER_VALUE_OPS = {"=", "!=", "<", "<=", ">", ">=", "between"}  # shown as a number box
DATE_VALUE_OPS = {"before", "after", "between"}  # shown as a date picker

SET_OP_LABELS = {"union": "Union (either)", "intersect": "Intersect (both)", "except": "Except (minus)"}

# The builder's own styles: JupyterLab variables only (every theme, high contrast included), spacing from
# theme.py's scale (--jseg-s1..s4). A row at fault is outlined, its message beside it.
BUILDER_CSS = """<style>
.jseg-summary { position: sticky; top: 0; z-index: 5; background: var(--jp-layout-color1);
  border: 1px solid var(--jp-border-color2); border-radius: 4px; padding: var(--jseg-s2) var(--jseg-s3);
  box-shadow: var(--jp-elevation-z2); gap: var(--jseg-s1); }
/* Sticky needs every box between the summary and the notebook's scroller not to scroll itself. */
.widget-box.jseg-root.jseg-builder { overflow: visible; min-width: 0; }
.jseg-builder .jseg-preview { min-width: 0; max-width: 100%; }
.jseg-builder .jseg-preview .jseg-frame { overflow-x: auto; } /* a wide members table scrolls inside */
.jp-OutputArea-output:has(.jseg-builder), .jp-OutputArea-child:has(.jseg-builder),
.jp-Cell-outputWrapper:has(.jseg-builder), .jp-Cell-outputArea:has(.jseg-builder) { overflow: visible;
  min-width: 0; } /* a box that does not scroll is as wide as its content unless told otherwise */
.jseg-summary-count { min-width: 300px; }
.jseg-summary .widget-html:has(> .widget-html-content:empty) { display: none; } /* no message: no gap */
.jseg-summary .jupyter-button { width: auto; }
.jseg-stale { color: var(--jp-ui-font-color3); font-size: var(--jp-ui-font-size3); }
.jseg-share { color: var(--jp-ui-font-color1); margin-left: var(--jseg-s2); }
.jseg-spinner { display: inline-block; width: 12px; height: 12px; margin: 0 var(--jseg-s1) 0 var(--jseg-s2);
  vertical-align: -2px; border: 2px solid var(--jp-border-color2); border-top-color: var(--jp-brand-color1);
  border-radius: 50%; animation: jseg-spin .8s linear infinite; }
@keyframes jseg-spin { to { transform: rotate(360deg); } }
.jseg-row.jseg-cond { border: 1px solid var(--jp-border-color3); border-radius: 4px; padding: var(--jseg-s1);
  background: var(--jp-layout-color1); gap: var(--jseg-s1); align-items: stretch; }
.jseg-line { gap: var(--jseg-s1); align-items: center; }
.jseg-subline { margin-left: 44px; }
.jseg-rownum { color: var(--jp-ui-font-color2); font-variant-numeric: tabular-nums; text-align: right; }
.jseg-connector { margin-left: var(--jseg-s3); font-size: var(--jp-ui-font-size0); font-weight: 600;
  letter-spacing: .06em; color: var(--jp-brand-color1); }
.jseg-node-or > .jseg-connector { color: var(--jp-warn-color1); }
.jseg-card { border: 1px solid var(--jp-border-color2); border-left-width: 3px; border-radius: 4px;
  padding: var(--jseg-s2); background: var(--jp-layout-color2); }
.jseg-card .jseg-card { background: var(--jp-layout-color1); }
.jseg-tools .jupyter-button:not(.mod-primary) { background: transparent; color: var(--jp-brand-color1); }
.jseg-row-error { outline: 2px solid var(--jp-error-color1); outline-offset: 1px; }
.jseg-row-msg pre { margin: 0 0 0 28px; color: var(--jp-error-color1); font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size); white-space: pre; line-height: 1.3; }
.jseg-rank { font-weight: 600; color: var(--jp-ui-font-color1); }
</style>"""


def _dropdown(options: list[tuple[str, Any]], value: Any, width: str) -> W.Dropdown:
    values = [v for _, v in options]
    return W.Dropdown(
        options=options, value=value if value in values else values[0], layout=W.Layout(width=width)
    )


def _text(value: Any, width: str = W_VALUE, placeholder: str = "value") -> W.Text:
    return W.Text(value=display_value(value), placeholder=placeholder, layout=W.Layout(width=width))


def _icon_button(icon: str, tooltip: str) -> W.Button:
    return W.Button(icon=icon, tooltip=tooltip, layout=W.Layout(width="32px", min_width="32px", padding="0"))


def _word(text: str) -> W.HTML:
    """A joining word inside a row (where, and, by, at)."""
    return W.HTML(f'<span class="jseg-muted">{html.escape(text)}</span>')


def _number(value: float) -> int | float:
    """A number box's value: whole numbers as int, so ``age >= 30`` is not written ``30.0``."""
    return int(value) if float(value).is_integer() else value


def _as_day(value: Any) -> dt.date | None:
    """A value as a date for the date picker; None when it is not one (a datetime keeps its time)."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()) if value else None
    except ValueError:
        return None


class RowView:
    """One condition: a card with one line (``orders  sum of  amount  >=  500``) and, for related records,
    their filter as an indented sub-line (``where  status  is not  returned``); rebuilt when the entity,
    attribute, quantifier or operator change. The number it shows is the one messages use."""

    def __init__(self, builder: SegmentBuilder, row: Row, parent: Node) -> None:
        self.builder, self.row, self.parent = builder, row, parent
        self.number = W.HTML(layout=W.Layout(width="20px", min_width="20px"))
        self.number.add_class("jseg-rownum")
        self.line = W.HBox(layout=W.Layout(flex_flow="row nowrap", align_items="center"))
        self.line.add_class("jseg-line")
        self.sub = W.HBox(layout=W.Layout(flex_flow="row nowrap", align_items="center"))
        self.sub.add_class("jseg-line")
        self.sub.add_class("jseg-subline")
        self.error_html = W.HTML()  # the row's own error, beside it
        self.error_html.add_class("jseg-row-msg")
        self.near_miss = W.HTML()  # "n customers miss only this condition" (top-level rows of an AND)
        self.near_miss.add_class("jseg-near-miss-line")
        # "How does the count move?": shown on a top-level row comparing a number (the builder decides)
        self.sweep_button = _icon_button("line-chart", "How does the count move with this threshold?")
        self.sweep_button.add_class("jseg-sweep-button")
        self.sweep_button.layout.display = "none"
        self.sweep_html = W.HTML()  # the counts of the last sweep, or empty
        self.sweep_close = _icon_button("times", "Close the sweep")
        self.sweep_box = W.HBox(
            [self.sweep_html, self.sweep_close], layout=W.Layout(align_items="flex-start")
        )
        self.sweep_box.add_class("jseg-sweep-box")
        self.sweep_box.layout.display = "none"
        self.swept_text: str | None = None  # the definition the shown sweep counted
        self.box = W.VBox([self.line, self.sub, self.near_miss, self.sweep_box, self.error_html])
        self.box.add_class("jseg-row")
        self.box.add_class("jseg-cond")
        self.outer = self.box
        # Set by build(); None until then and for the widgets the current row shape does not show.
        self.entity: W.Dropdown | None = None
        self.quantifier: W.Dropdown | None = None
        self.agg_attribute: W.Dropdown | None = None
        self.agg_op: W.Dropdown | None = None
        self.agg_value: W.Widget | None = None
        self.agg_value2: W.Widget | None = None
        self.attribute: W.Combobox | None = None  # the searchable attribute picker
        self.attribute_paths: dict[str, Path] = {}  # its labels -> attributes
        self.op: W.Dropdown | None = None
        self.value: W.Widget | None = None
        self.value2: W.Widget | None = None  # a unit dropdown for "in last"
        self.text: W.Text | None = None
        self.func: W.Dropdown | None = None  # a function applied to the attribute
        self.agg_fraction: W.Text | None = None  # percentile's fraction
        self.agg_by: W.Dropdown | None = None  # first / last: the ordering column
        self.rank: W.Dropdown | None = None
        self.rank_amount: W.Text | None = None
        self.rank_unit: W.Dropdown | None = None
        self.remove = _icon_button("times", "Remove this condition")
        self.as_text = _icon_button("code", "Edit this condition as DSL text")
        g = builder.messages.guard
        self.remove.on_click(g(lambda _b: builder.remove_item(parent, row)))
        self.as_text.on_click(g(lambda _b: self.convert_to_text()))
        self.sweep_button.on_click(g(lambda _b: builder.sweep_row(self), "Could not sweep"))
        self.sweep_close.on_click(g(lambda _b: self.clear_sweep()))
        self.build()

    # -- building ------------------------------------------------------------------------------
    def _show(self, line: list[W.Widget], sub: list[W.Widget]) -> None:
        for field in ROW_FIELDS:  # a stable hook per input for scripts and browser tests: jseg-f-op, ...
            widget = getattr(self, field)
            if widget is not None:
                widget.add_class(f"jseg-f-{field}")
        tools = [w for w in (self.as_text, self.remove) if w in line]  # the sweep icon goes before them
        self.line.children = [self.number, *[w for w in line if w not in tools], self.sweep_button, *tools]
        self.sub.children = sub
        self.sub.layout.display = "flex" if sub else "none"

    def build(self) -> None:
        r, b = self.row, self.builder
        g = b.messages.guard
        if r.is_text:
            self.text = W.Text(
                value=r.text or "",
                placeholder="DSL condition, e.g. age >= 30",
                layout=W.Layout(width="520px"),
            )
            self.text.observe(g(lambda c: self._set("text", c["new"])), names="value")
            tag = W.HTML('<span class="jseg-badge">DSL</span>')
            self._show([tag, self.text, self.remove], [])
            return
        if r.rank:
            self._build_rank()
            return
        paths = b.schema.entity_paths()
        self.entity = _dropdown([(self._path_label(p), p) for p in paths], r.entity, W_ENTITY)
        self.entity.observe(g(lambda c: self._set("entity", c["new"], rebuild=True)), names="value")
        line: list[W.Widget] = [self.entity]
        if not r.entity:
            self._show(line + self._filter_widgets() + [self.as_text, self.remove], [])
            return
        self.quantifier = _dropdown([(lbl, k) for k, lbl in QUANTIFIERS.items()], r.quantifier, "130px")
        self.quantifier.observe(g(lambda c: self._set("quantifier", c["new"], rebuild=True)), names="value")
        line.append(self.quantifier)
        if r.quantifier not in ("any", "all", "none"):
            line += self._aggregate_widgets()
        self._show(line + [self.as_text, self.remove], [_word("where"), *self._filter_widgets()])

    def _build_rank(self) -> None:
        """``top 10 % by sum of orders › amount [where ...]`` or ``bottom 5 customers by age``."""
        r, b = self.row, self.builder
        g = b.messages.guard
        self.rank = _dropdown([(d, d) for d in RANK_DIRECTIONS], r.rank, "80px")
        self.rank.observe(g(lambda c: self._set("rank", c["new"])), names="value")
        self.rank_amount = _text(r.rank_amount, "56px", "N")
        self.rank_amount.observe(g(lambda c: self._set("rank_amount", c["new"])), names="value")
        self.rank_unit = _dropdown([("%", True), ("customers", False)], r.rank_percent, "100px")
        self.rank_unit.observe(g(lambda c: self._set("rank_percent", c["new"])), names="value")
        paths = b.schema.entity_paths()
        self.entity = _dropdown([(self._path_label(p), p) for p in paths], r.entity, W_ENTITY)
        self.entity.observe(g(lambda c: self._set("entity", c["new"], rebuild=True)), names="value")
        line: list[W.Widget] = [
            W.HTML('<span class="jseg-rank">Rank</span>'),
            self.rank,
            self.rank_amount,
            self.rank_unit,
            _word("by"),
            self.entity,
        ]
        sub: list[W.Widget] = []
        if r.entity:
            if r.quantifier not in AGG_FUNCS:
                r.quantifier = "sum"
            aggs = [(QUANTIFIERS[k], k) for k in AGG_FUNCS]
            self.quantifier = _dropdown(aggs, r.quantifier, "140px")
            self.quantifier.observe(
                g(lambda c: self._set("quantifier", c["new"], rebuild=True)), names="value"
            )
            line.append(self.quantifier)
            line += self._aggregate_widgets(compare=False)
            sub = [_word("where"), *self._filter_widgets()]
        else:
            attrs = b.schema.attributes(())
            self.attribute = self._attribute_picker((), ranked=True)
            line.append(self.attribute)
            if r.attribute:
                line += self._func_widgets(attrs.get(r.attribute, "other"))
        self._show(line + [self.as_text, self.remove], sub)

    def _attribute_picker(self, path: Path, ranked: bool = False) -> W.Combobox:
        """A searchable picker: type to filter; options grouped by entity, keys last."""
        r, g = self.row, self.builder.messages.guard
        choices = self.builder.schema.attribute_choices(path)
        if ranked:
            choices = [c for c in choices if c[2] in ("number", "date", "timestamp")]
        self.attribute_paths = {NO_FILTER: ()} if path else {}  # a related row may filter nothing
        self.attribute_paths.update({label: attr for label, attr, _ in choices})
        current = next(
            (lbl for lbl, attr in self.attribute_paths.items() if attr == r.attribute and attr), ""
        )
        picker = W.Combobox(
            value=current,
            options=list(self.attribute_paths),
            placeholder="search attributes…" if not path else "no filter (search…)",
            ensure_option=True,
            layout=W.Layout(width=W_ATTR),
        )
        picker.add_class("jseg-picker")
        picker.observe(g(lambda c: self._pick(c["new"])), names="value")
        return picker

    def _pick(self, label: str) -> None:
        if label in self.attribute_paths and self.attribute_paths[label] != self.row.attribute:
            self._set("attribute", self.attribute_paths[label], rebuild=True)

    def pick_attribute(self, attribute: Path) -> None:
        """Choose an attribute as a user would in the picker (scripts and tests)."""
        assert self.attribute is not None, "this row shows no attribute picker"
        label = next(lbl for lbl, attr in self.attribute_paths.items() if attr == tuple(attribute))
        self.attribute.value = label

    def _func_widgets(self, attr_type: str) -> list[W.Widget]:
        """A function on the attribute (``lower``, ``year``, ``round``...), when its type has some."""
        r, g = self.row, self.builder.messages.guard
        funcs = FUNCS_BY_TYPE.get(attr_type, [])
        if r.func not in funcs:
            r.func = ""
        if not funcs:
            return []
        self.func = _dropdown([("as is", "")] + [(f, f) for f in funcs], r.func, "72px")
        self.func.tooltip = "Apply a function to the attribute: lower(email), year(signup_date), ..."
        self.func.observe(g(lambda c: self._set("func", c["new"], rebuild=True)), names="value")
        return [self.func]

    def _path_label(self, path: Path) -> str:
        return self.builder.schema.customer if not path else " › ".join(path)

    def _aggregate_widgets(self, compare: bool = True) -> list[W.Widget]:
        r, g = self.row, self.builder.messages.guard
        schema = self.builder.schema
        out: list[W.Widget] = []
        value_type = "number"
        if r.quantifier != "count":
            all_columns = schema.columns(r.entity)
            cols = schema.number_columns(r.entity) if r.quantifier in NUMBER_AGGS else list(all_columns)
            if r.agg_attribute not in cols and cols:
                r.agg_attribute = cols[0]
            self.agg_attribute = _dropdown(
                [(c, c) for c in cols] or [("(no numbers)", "")], r.agg_attribute, "120px"
            )
            self.agg_attribute.observe(
                g(lambda c: self._set("agg_attribute", c["new"], rebuild=True)), names="value"
            )
            out.append(self.agg_attribute)
            if r.quantifier not in NUMBER_AGGS:
                value_type = all_columns.get(r.agg_attribute, "other")
            if r.quantifier == "percentile":
                if r.agg_fraction is None:
                    r.agg_fraction = 0.9
                self.agg_fraction = _text(r.agg_fraction, "56px", "0.9")
                self.agg_fraction.tooltip = "The fraction, from 0 to 1 (0.9 is the 90th percentile)"
                self.agg_fraction.observe(g(lambda c: self._set("agg_fraction", c["new"])), names="value")
                out += [_word("at"), self.agg_fraction]
            if r.quantifier in ("first", "last"):
                # Dates first: records are usually ordered by when they happened.
                by_cols = sorted(all_columns, key=lambda c: all_columns[c] not in ("date", "timestamp"))
                if r.agg_by not in by_cols and by_cols:
                    r.agg_by = by_cols[0]
                self.agg_by = _dropdown([(c, c) for c in by_cols], r.agg_by, "120px")
                self.agg_by.observe(g(lambda c: self._set("agg_by", c["new"])), names="value")
                out += [_word("by"), self.agg_by]
        if not compare:
            return out
        if r.agg_op not in COMPARE_OPS:
            r.agg_op = ">="
        self.agg_op = _dropdown([(o, o) for o in COMPARE_OPS], r.agg_op, "72px")
        self.agg_op.observe(g(lambda c: self._set("agg_op", c["new"], rebuild=True)), names="value")
        self.agg_value = self._value_input("agg_value", value_type, "=")
        out += [self.agg_op, self.agg_value]
        if r.agg_op == "between":
            self.agg_value2 = self._value_input("agg_value2", value_type, "=")
            out += [_word("and"), self.agg_value2]
        return out

    def _value_input(self, field: str, kind: str, op: str, top: list[str] | None = None) -> W.Widget:
        """The input for one value, by type: a number box, a date picker, a picker of the most common
        values (a string of few values), else text. A value that does not fit the type (typed before,
        or loaded) stays in a text box so the user sees and fixes it."""
        r, g = self.row, self.builder.messages.guard
        value = getattr(r, field)
        if kind == "number" and op in NUMBER_VALUE_OPS:
            if value is None or value == "":
                value = 0
                setattr(r, field, value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                number = W.FloatText(value=value, layout=W.Layout(width=W_SMALL))
                number.add_class("jseg-number")
                number.observe(g(lambda c: self._set(field, _number(c["new"]))), names="value")
                return number
        if kind in ("date", "timestamp") and op in DATE_VALUE_OPS:
            day = _as_day(value)
            if value is None or value == "" or day is not None:
                picker = W.DatePicker(value=day, layout=W.Layout(width="150px"))
                picker.add_class("jseg-date")
                picker.observe(g(lambda c: self._set(field, c["new"])), names="value")
                return picker
        placeholder = {"date": "YYYY-MM-DD", "timestamp": "YYYY-MM-DD", "number": "number"}.get(kind, "text")
        placeholder = {"in list": "a, b, c", "not in list": "a, b, c", "in last": "N"}.get(op, placeholder)
        placeholder = {"in year": "YYYY", "in month": "YYYY-MM"}.get(op, placeholder)
        narrow = op in ("in last", "in year", "in month")
        width = "72px" if narrow else W_VALUE
        if top and op in ("is", "is not"):
            box: W.Widget = W.Combobox(
                value=display_value(value),
                options=top,
                placeholder="pick or type",
                layout=W.Layout(width=width),
            )
            box.add_class("jseg-values")
        else:
            box = _text(value, width, placeholder)
        box.observe(g(lambda c: self._set(field, c["new"])), names="value")
        return box

    def _filter_widgets(self) -> list[W.Widget]:
        r, b = self.row, self.builder
        g = b.messages.guard
        attrs = b.schema.attributes(r.entity)
        self.attribute = self._attribute_picker(r.entity)
        out: list[W.Widget] = [self.attribute]
        if not r.attribute:
            return out
        out += self._func_widgets(attrs.get(r.attribute, "other"))
        kind = FUNC_RESULT.get(r.func, "number") if r.func else attrs.get(r.attribute, "other")
        ops = OPS_BY_TYPE.get(kind, [])
        if r.op not in ops:
            r.op = ops[0] if ops else ""
        self.op = _dropdown([(o, o) for o in ops], r.op, W_OP)
        self.op.observe(g(lambda c: self._set("op", c["new"], rebuild=True)), names="value")
        out.append(self.op)
        if r.op in NO_VALUE_OPS:
            return out
        if r.op in UNIT_OPS:  # in this / in previous: a period picked from a list
            if r.value2 not in PERIODS:
                r.value2 = "month"
            self.value2 = _dropdown([(u, u) for u in PERIODS], r.value2, "100px")
            self.value2.observe(g(lambda c: self._set("value2", c["new"])), names="value")
            out.append(self.value2)
            return out
        top = b.top_values(r.entity, r.attribute) if kind == "string" and not r.func else None
        self.value = self._value_input("value", kind, r.op, top)
        out.append(self.value)
        if r.op == "between":
            self.value2 = self._value_input("value2", kind, r.op)
            out += [_word("and"), self.value2]
        elif r.op == "in last":
            if r.value2 not in UNITS:
                r.value2 = "days"
            self.value2 = _dropdown([(u, u) for u in UNITS], r.value2, "90px")
            self.value2.observe(g(lambda c: self._set("value2", c["new"])), names="value")
            out.append(self.value2)
        return out

    # -- editing -------------------------------------------------------------------------------
    def _set(self, attr: str, value: Any, rebuild: bool = False) -> None:
        setattr(self.row, attr, value)
        if attr == "entity":  # a different entity: its attributes differ, start the filter afresh
            self.row.attribute, self.row.op, self.row.value, self.row.value2 = (), "", None, None
        if attr == "attribute":
            self.row.value = self.row.value2 = None
            self.row.func = ""
        if attr == "func":  # another result type: other operators and values
            self.row.op, self.row.value, self.row.value2 = "", None, None
        if rebuild:
            self.build()
        self.builder.changed()

    def show_sweep(self, frame: pd.DataFrame, target: SweepTarget, text: str) -> None:
        self.sweep_html.value = sweep_html(frame, target)
        self.sweep_box.layout.display = "flex"
        self.swept_text = text

    def clear_sweep(self) -> None:
        self.sweep_html.value = ""
        self.sweep_box.layout.display = "none"
        self.swept_text = None

    def convert_to_text(self) -> None:
        """Turn the row into a DSL text row (keeps what it stands for when it is complete)."""
        try:
            text = to_text(row_to_expr(self.row, self.builder.schema))
        except SegmentError:
            text = ""
        for f in ("entity", "attribute"):
            setattr(self.row, f, ())
        self.row.rank = ""
        self.row.text = text
        self.build()
        self.builder.changed()


class NodeView:
    """AND/OR over rows and nested nodes, drawn with a coloured left border per nesting level."""

    box: W.VBox  # declared here: child views' boxes are read while this one is still being built

    def __init__(self, builder: SegmentBuilder, node: Node, parent: Node | None, depth: int) -> None:
        self.builder, self.node, self.parent, self.depth = builder, node, parent, depth
        g = builder.messages.guard
        self.toggle = W.ToggleButtons(
            options=[("AND", "and"), ("OR", "or")], value=node.op, style={"button_width": "64px"}
        )
        self.toggle.observe(g(lambda c: self._set_op(c["new"])), names="value")
        self.add_condition = theme.button("Condition", icon="plus", tooltip="Add a condition row")
        self.add_nested = theme.button(
            "Nested group", icon="plus-square", tooltip="Add an AND/OR group inside"
        )
        self.add_text = theme.button("DSL text", icon="code", tooltip="Add a condition written in the DSL")
        self.add_rank = theme.button(
            "Top / bottom", icon="sort-amount-desc", tooltip="Add a ranking: top 10% by sum of orders amount"
        )
        self.remove = theme.button("Remove group", icon="trash", tooltip="Remove this nested group")
        for b in (self.add_condition, self.add_nested, self.add_rank, self.add_text, self.remove):
            b.layout.width = "auto"
        self.add_condition.on_click(g(lambda _b: builder.add_item(node, Row())))
        self.add_nested.on_click(
            g(lambda _b: builder.add_item(node, Node("or" if node.op == "and" else "and")))
        )
        self.add_text.on_click(g(lambda _b: builder.add_item(node, Row(text=""))))
        self.add_rank.on_click(
            g(
                lambda _b: builder.add_item(
                    node, Row(rank="top", rank_amount=10, rank_percent=True, quantifier="sum")
                )
            )
        )
        self.remove.on_click(g(lambda _b: builder.remove_item(parent, node)))
        self.items: list[RowView | NodeView] = []
        for child in node.items:
            if isinstance(child, Node):
                self.items.append(NodeView(builder, child, node, depth + 1))
            else:
                self.items.append(RowView(builder, child, node))
        self.near_miss = W.HTML()  # as on a row, for a nested group at the top level
        header = [theme.label("match"), self.toggle, _word("of these conditions"), self.near_miss]
        buttons = [self.add_condition, self.add_nested, self.add_rank, self.add_text]
        buttons += [self.remove] if parent else []
        # AND / OR as a word between the items, so the logic reads top to bottom.
        self.connectors = [W.HTML() for _ in self.items[1:]]
        body: list[W.Widget] = []
        for i, item in enumerate(self.items):
            if i:
                self.connectors[i - 1].add_class("jseg-connector")
                body.append(self.connectors[i - 1])
            body.append(item.outer if isinstance(item, RowView) else item.box)
        tools = W.HBox(buttons)
        tools.add_class("jseg-tools")
        self.box = W.VBox([W.HBox(header, layout=W.Layout(align_items="center")), *body, tools])
        self.box.add_class("jseg-node")
        if depth:
            self.box.add_class("jseg-card")  # a nested group: a card inside its parent
        self._show_op()

    def _show_op(self) -> None:
        for c in self.connectors:
            c.value = f"<span>{self.node.op.upper()}</span>"
        if self.node.op == "or":
            self.box.add_class("jseg-node-or")
        else:
            self.box.remove_class("jseg-node-or")

    def _set_op(self, op: str) -> None:
        self.node.op = op
        self._show_op()
        self.builder.changed()

    def row_views(self) -> list[RowView]:
        out: list[RowView] = []
        for i in self.items:
            out += i.row_views() if isinstance(i, NodeView) else [i]
        return out

    def node_views(self) -> list[NodeView]:
        out: list[NodeView] = [self]
        for i in self.items:
            if isinstance(i, NodeView):
                out += i.node_views()
        return out


class GroupView:
    def __init__(self, builder: SegmentBuilder, group: Group, index: int) -> None:
        self.builder, self.group, self.index = builder, group, index
        g = builder.messages.guard
        self.combine = W.Dropdown(
            options=[(SET_OP_LABELS[o], o) for o in SET_OPS],
            value=group.combine,
            layout=W.Layout(width="170px"),
        )
        self.combine.observe(g(lambda c: self._set_combine(c["new"])), names="value")
        self.remove = theme.button("Remove", icon="trash", tooltip="Remove this group", width="auto")
        self.remove.on_click(g(lambda _b: builder.remove_group(group)))
        self.root = NodeView(builder, group.root, None, 0)
        head: list[W.Widget] = [W.HTML(f"<b>Group {index + 1}</b>")]
        if index > 0:
            head += [
                W.HTML('<span class="jseg-muted">combined with the groups above by</span>'),
                self.combine,
            ]
        if len(builder.state.groups) > 1:
            head.append(self.remove)
        self.box = W.VBox([W.HBox(head, layout=W.Layout(align_items="center")), self.root.box])
        self.box.add_class("jseg-group")

    def _set_combine(self, op: str) -> None:
        self.group.combine = op
        self.builder.changed()


class ProjectionView:
    def __init__(self, builder: SegmentBuilder, p: ProjectionRow) -> None:
        self.builder, self.p = builder, p
        self.box = W.HBox()
        self.box.add_class("jseg-row")
        self.build()

    def build(self) -> None:
        p, b = self.p, self.builder
        g = b.messages.guard
        self.remove = _icon_button("times", "Remove this projected attribute")
        self.remove.on_click(g(lambda _b: b.remove_projection(p)))
        self.alias = W.Text(value=p.alias, placeholder="column name", layout=W.Layout(width="140px"))
        self.alias.observe(g(lambda c: self._set("alias", c["new"])), names="value")
        if p.text is not None:
            self.text = W.Text(value=p.text, layout=W.Layout(width="380px"))
            self.text.observe(g(lambda c: self._set("text", c["new"])), names="value")
            self.box.children = [
                W.HTML('<span class="jseg-badge">DSL</span>'),
                self.text,
                W.HTML("as"),
                self.alias,
                self.remove,
            ]
            return
        paths = [p_ for p_ in b.schema.entity_paths() if p_]
        if p.entity not in paths and paths:
            p.entity = paths[0]
        self.func = _dropdown([(f, f) for f in PROJECTION_FUNCS], p.func, "130px")
        self.func.observe(g(lambda c: self._set("func", c["new"], rebuild=True)), names="value")
        self.entity = _dropdown([(" › ".join(x), x) for x in paths], p.entity, W_ENTITY)
        self.entity.observe(g(lambda c: self._set("entity", c["new"], rebuild=True)), names="value")
        children: list[W.Widget] = [self.func, W.HTML("of"), self.entity]
        if p.func != "count":
            cols = (
                b.schema.number_columns(p.entity)
                if p.func in ("sum", "avg")
                else list(b.model.entity(b.schema.entity_of(p.entity)).columns)
            )
            if p.attribute not in cols and cols:
                p.attribute = cols[0]
            self.attribute = _dropdown([(c, c) for c in cols], p.attribute, W_ATTR)
            self.attribute.observe(g(lambda c: self._set("attribute", c["new"])), names="value")
            children += [W.HTML("."), self.attribute]
        self.box.children = children + [W.HTML("as"), self.alias, self.remove]

    def _set(self, attr: str, value: Any, rebuild: bool = False) -> None:
        setattr(self.p, attr, value)
        if rebuild:
            self.build()
        self.builder.changed()


class SegmentBuilder(Mirrored):
    """Build a segment from groups of conditions, with live DSL, SQL and a debounced member count.

    >>> b = SegmentBuilder(ws)                       # empty
    >>> b = SegmentBuilder(ws, text="age >= 30")     # from DSL text
    >>> b = SegmentBuilder(ws, name="vip")           # edit a saved segment
    """

    def __init__(
        self,
        ws: Any,
        name: str | None = None,
        *,
        text: str | None = None,
        delay: float = 0.4,
    ) -> None:
        self.ws = ws
        self.model = ws.model
        self.schema = Schema(ws.model)
        self.messages = Messages()
        self.messages.after = self.update_mirror  # the exported HTML copy follows every edit
        self.db = WorkerDB(ws)
        self.count: int | None = None  # the last count shown (None while counting or invalid)
        self.count_error: str | None = None
        self.counted_text: str | None = None  # the DSL the shown count belongs to
        self.definition: Definition | None = None  # the current valid tree, or None
        self.error: str | None = None  # why the current state is invalid
        self.total: int | None = None  # all customers (counted once, on the worker): the share's whole
        self.previous: int | None = None  # the last count, shown greyed while a recount runs
        self.counting_since: float | None = None  # monotonic time of the edit being counted
        self.canceled = False
        # Estimates first (issue 22): above the sample's size, a count on the workspace's sample of
        # customers is shown with its 95% interval while the exact count runs; None until one arrives.
        self.estimates = True
        self.estimate: Any = None  # the estimate shown for the definition being counted
        self.estimate_note = ""  # why there are no estimates here (the count's tooltip), if so
        self._top_values: dict[tuple[Path, Path], list[str] | None] = {}
        self.debouncer = Debouncer(
            self._count, self._count_done, self._count_failed, delay=delay, cancel=self.db.cancel
        )
        self.ticker = Ticker(self._show_counting, interval=0.5)  # the elapsed time while counting
        seg_meta: dict[str, str] = {}
        if name is not None:
            text, seg_meta = self._load_saved(name)
        self.state = self._state_from_text(text) if text else BuilderState()

        g = self.messages.guard
        self.groups_box = W.VBox(layout=W.Layout())
        self.add_group_button = theme.button(
            "Add group", icon="plus", tooltip="Add a group of conditions", width="auto"
        )
        self.add_group_button.on_click(g(lambda _b: self.add_group()))
        # Saved segments by name and type (static: a frozen member list), to add 'in segment NAME'.
        self.segment_picker = W.Dropdown(description="Segment", layout=W.Layout(width="280px"))
        self.segment_picker.style.description_width = "64px"
        self.segment_picker.add_class("jseg-segment-picker")
        self.add_segment_button = theme.button(
            "In segment", icon="plus", tooltip="Add a condition: in the chosen saved segment", width="auto"
        )
        self.add_segment_button.layout.flex = "0 0 auto"  # squeezed, its label wrapped under the icon
        self.add_segment_button.on_click(g(lambda _b: self.add_in_segment()))
        self.load_segments()
        self.projections_box = W.VBox()
        self.add_projection_button = theme.button(
            "Add projected attribute",
            icon="plus",
            tooltip="Append an aggregate over related records to the output",
            width="auto",
        )
        self.add_projection_button.on_click(g(lambda _b: self.add_projection()))
        self.dsl = W.HTML()
        self.sql = W.HTML()
        self.sql_accordion = W.Accordion(children=[self.sql], selected_index=None)
        self.sql_accordion.set_title(0, "Compiled SQL")
        self.count_label = W.HTML()
        self.count_label.add_class("jseg-summary-count")
        self.summary_status = W.HTML()  # why the definition is not valid (the row at fault says where)
        self.cancel_button = theme.button("Cancel", icon="stop", tooltip="Stop counting (cancels the query)")
        self.cancel_button.on_click(g(lambda _b: self.cancel_count(), "Could not cancel"))
        self.recount_button = theme.button("Count", icon="refresh", tooltip="Count the members again")
        self.recount_button.on_click(g(lambda _b: self.recount(), "Could not count"))
        # The first members, on demand (a preview computes what the count does and more: not on every edit).
        self.preview_button = theme.button(
            f"Preview {PREVIEW_ROWS} members",
            icon="table",
            tooltip="Show the first members: key and projected columns first",
        )
        self.preview_button.on_click(g(lambda _b: self.preview(), "Could not preview the members"))
        self.preview_html = W.HTML()
        self.preview_html.add_class("jseg-preview")
        self.preview_frame: pd.DataFrame | None = None  # the members shown, if any
        self.previewed_text: str | None = None  # the DSL they belong to
        # "Why?" on a previewed customer; explained from the DSL text so its tree shows the conditions' text
        self.why = WhyPanel(ws, self._definition_text, self.messages)
        self.near_misses = NearMissCounts(ws, self._near_misses_done, self._near_misses_failed, delay=delay)
        self.near_miss_counts: list[int] | None = None  # per top-level item, for near_miss_text
        self.near_miss_text: str | None = None  # the DSL they belong to
        self.name = W.Text(value=name or "", placeholder="segment_name", layout=W.Layout(width="160px"))
        self.name.add_class("jseg-name")
        self.display_name = W.Text(
            value=seg_meta.get("display_name", ""), placeholder="Shown in lists", description="Display name"
        )
        self.description = W.Textarea(
            value=seg_meta.get("description", ""),
            placeholder="What this segment is for",
            description="Description",
            layout=W.Layout(width="480px", height="56px"),
        )
        for w in (self.display_name, self.description):
            w.style.description_width = "100px"
        self.save_button = theme.button(
            "Save", kind="primary", icon="save", tooltip="Validate and save the segment"
        )
        self.save_refresh_button = theme.button(
            "Save and refresh", icon="refresh", tooltip="Save, then compute and store its members now"
        )
        self.draft_button = theme.button(
            "Save as draft", icon="file-o", tooltip="Save even if it does not validate yet"
        )
        self.save_button.on_click(g(lambda _b: self.save(), "Could not save"))
        self.save_refresh_button.on_click(g(lambda _b: self.save_and_refresh(), "Could not save"))
        self.draft_button.on_click(g(lambda _b: self.save(draft=True), "Could not save the draft"))
        self.saved: Any = None  # what ws.segment returned for the last save
        # Saving under another segment's name asks first (bug 9): Replace appears beside Save.
        self.editing = name  # the saved segment this builder edits (saving under its name needs no asking)
        self.replace_button = replace_button()
        self.replace_button.on_click(g(lambda _b: self.save(replace=True), "Could not save"))
        # Display name and description belong to the segment edited: a new name starts them empty.
        self._loaded_meta = (self.display_name.value, self.description.value)
        self.name.observe(g(lambda c: self._name_changed(c["new"])), names="value")

        # The summary stays at the top of the view while the conditions scroll under it.
        counting = W.HBox(
            [self.count_label, self.cancel_button, self.recount_button], layout=W.Layout(align_items="center")
        )
        actions = W.HBox(
            [
                self.preview_button,
                W.HBox(layout=W.Layout(flex="1 1 auto")),
                self.name,
                self.save_button,
                self.replace_button,
                self.save_refresh_button,
            ],
            layout=W.Layout(align_items="center"),
        )
        self.summary = W.VBox([counting, actions, self.summary_status, self.messages.widget])
        self.summary.add_class("jseg-summary")
        self.widget = theme.root(
            [
                W.HTML(BUILDER_CSS),
                theme.title("Segment builder", "Groups of conditions; the count updates as you edit."),
                self.summary,
                self.preview_html,
                self.why.widget,
                self.groups_box,
                W.HBox(
                    [self.add_group_button, self.segment_picker, self.add_segment_button],
                    layout=W.Layout(align_items="center"),
                ),
                theme.section([self.projections_box, self.add_projection_button], "Projected attributes"),
                theme.section([self.dsl, self.sql_accordion], "Definition"),
                theme.section([self.display_name, self.description, self.draft_button], "Details and drafts"),
            ]
        )
        self.widget.add_class("jseg-builder")
        self.render()

    # -- loading ---------------------------------------------------------------------------------
    def _load_saved(self, name: str) -> tuple[str, dict[str, str]]:
        seg = self.ws.get(name)
        text = getattr(seg, "text", None) or getattr(seg, "definition", None)
        meta = {k: getattr(seg, k, "") or "" for k in ("display_name", "description")}
        return str(text), meta

    def _state_from_text(self, text: str) -> BuilderState:
        """State for DSL text; text that does not parse (a draft) is kept whole as one text row."""
        try:
            return from_definition(parse(text), self.schema)
        except SegmentError:
            return BuilderState([Group(Node("and", [Row(text=text)]))])

    def load(self, text: str) -> None:
        """Replace the builder's content with a definition given as DSL text."""
        self.state = self._state_from_text(text)
        self.render()

    # -- display ---------------------------------------------------------------------------------
    def to_text(self) -> str:
        """The builder as plain text (terminals): the definition and its count or why it has none."""
        if self.count is not None:
            status = f"{self.count:,} members"
        elif self.error:
            status = f"not valid: {self.error}"
        else:
            status = "counting..." if self.definition is not None else "no count yet"
        return f"Segment builder: {status}\n  " + (self.text or "(empty)").replace("\n", "\n  ")

    def static_html(self) -> str:
        """The builder without widgets (exported notebooks): definition, count, SQL and any preview."""
        count = f"{self.count:,}" if self.count is not None else "—"
        preview = self._preview_table() if self.preview_frame is not None else ""
        return (
            f"{theme.CSS}<div class='jseg-static'><div class='jseg-title'>Segment builder</div>"
            f"{theme.code_html(self.text)}<div class='jseg-count'>Estimated members: <b>{count}</b></div>"
            f"<div class='jseg-label'>SQL</div>{self.sql.value}{preview}</div>"
        )

    # -- members preview -------------------------------------------------------------------------
    def preview(self, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
        """Show (and return) the first ``rows`` members of the current definition, by key: the key and
        the projected columns first, as every preview shows them (``jupyter_segments.render``)."""
        if self.definition is None:
            raise SegmentError(self.error or "the definition is not complete yet")
        frame = self.ws.members(self.definition, limit=rows)
        self.preview_frame, self.previewed_text = frame, to_text(self.definition)
        self.preview_html.value = self._preview_table()
        self.why.show_customers(frame)
        return frame

    def _definition_text(self) -> str:
        if self.definition is None:
            raise SegmentError(self.error or "the definition is not complete yet")
        return to_text(self.definition)

    def _preview_table(self) -> str:
        assert self.preview_frame is not None
        return render.frame_html(
            self.preview_frame,
            key=self.model.customer_key,
            projected=render.projected_columns(self.definition),
            max_rows=None,
            empty="No members.",
        )

    def _preview_outdated(self) -> None:
        """After an edit: members shown for another definition are taken away, not left looking current."""
        current = to_text(self.definition) if self.definition is not None else None
        if self.preview_frame is not None and current != self.previewed_text:
            self.preview_frame, self.previewed_text = None, None
            self.why.show_customers(None)
            self.preview_html.value = (
                '<span class="jseg-muted">The definition changed: Preview members shows its first '
                "members.</span>"
            )

    def render(self) -> None:
        """Rebuild the group views from the state (after a structural change), then refresh outputs."""
        self.group_views = [GroupView(self, grp, i) for i, grp in enumerate(self.state.groups)]
        self.groups_box.children = [gv.box for gv in self.group_views]
        for number, rv in enumerate(self.row_views(), 1):  # the numbers messages use ("Condition 5")
            rv.number.value = f"<span>{number}</span>"
        self.projection_views = [ProjectionView(self, p) for p in self.state.projections]
        self.projections_box.children = [pv.box for pv in self.projection_views] or [
            W.HTML(
                '<span class="jseg-muted">None. Add sums, counts or averages of related records as output columns.</span>'
            )
        ]
        self.changed()

    def row_views(self) -> list[RowView]:
        """Every condition row, in reading order (for tests and scripts)."""
        return [r for gv in self.group_views for r in gv.root.row_views()]

    def node_views(self) -> list[NodeView]:
        return [n for gv in self.group_views for n in gv.root.node_views()]

    # -- structural edits ------------------------------------------------------------------------
    def add_item(self, node: Node, item: Row | Node) -> None:
        node.items.append(item)
        self.render()

    def remove_item(self, parent: Node | None, item: Row | Node) -> None:
        if parent is None:
            return
        parent.items = [i for i in parent.items if i is not item]
        if not parent.items:
            parent.items.append(Row())
        self.render()

    def load_segments(self) -> None:
        """The picker's saved segments, labelled with their type; hidden when there are none."""
        catalog = self.ws.catalog_or_none if hasattr(self.ws, "catalog_or_none") else None
        frame = self.ws.segments() if catalog is not None else pd.DataFrame(columns=["name", "type"])
        self.segment_picker.options = [
            (f"{name} ({kind})", name) for name, kind in zip(frame["name"], frame["type"], strict=True)
        ]
        self.segment_picker.index = 0 if len(frame) else None  # shown chosen, not blank, in the browser
        shown = "flex" if len(frame) else "none"
        self.segment_picker.layout.display = self.add_segment_button.layout.display = shown

    def add_in_segment(self, name: str | None = None) -> None:
        """Append 'in segment NAME' (default: the picked one) to the first group, as a DSL row."""
        name = name or self.segment_picker.value
        if not name:
            raise SegmentError("choose a saved segment first")
        self.add_item(self.state.groups[0].root, Row(text=f"in segment {name}"))

    def add_group(self, combine: str = "union") -> None:
        self.state.groups.append(Group(combine=combine))
        self.render()

    def remove_group(self, group: Group) -> None:
        self.state.groups = [g for g in self.state.groups if g is not group] or [Group()]
        self.render()

    def add_projection(self) -> None:
        n = len(self.state.projections) + 1
        self.state.projections.append(ProjectionRow(func="count", alias=f"value_{n}"))
        self.render()

    def remove_projection(self, p: ProjectionRow) -> None:
        self.state.projections = [x for x in self.state.projections if x is not p]
        self.render()

    # -- outputs ---------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The DSL the builder stands for (best effort when invalid, as saved for drafts)."""
        return to_dsl(self.state, self.schema)

    def find_fault(self) -> tuple[RowView, str] | None:
        """The first row at fault, numbered as the rows show, with its message: a row that is incomplete,
        whose text does not parse, or that the engine rejects on its own (the caret points into the
        row's own text)."""
        for i, rv in enumerate(self.row_views(), 1):
            if rv.row.is_blank:
                continue
            label = f"Condition {i}"
            try:
                expr = row_to_expr(rv.row, self.schema, label)
                source = parse(rv.row.text or "") if rv.row.is_text else Definition(expr)
                self.ws.compile(source)
            except SegmentError as e:
                message = str(e)
                if rv.row.is_text and not message.startswith(label):
                    message = f"{label} (text): {message}"
                return rv, message
        return None

    def _mark(self, fault: tuple[RowView, str] | None) -> None:
        """Outline the row at fault and show its message beside it; clear the others."""
        for rv in self.row_views():
            if fault is not None and rv is fault[0]:
                rv.box.add_class("jseg-row-error")
                rv.error_html.value = f"<pre>{html.escape(fault[1])}</pre>"
            else:
                rv.box.remove_class("jseg-row-error")
                rv.error_html.value = ""

    def changed(self) -> None:
        """After any edit: validate, print DSL, compile SQL, queue a count."""
        try:
            self.definition = to_definition(self.state, self.schema)
            self.error = None
        except SegmentError as e:
            self.definition, self.error = None, str(e)
        self._preview_outdated()
        self._update_sweeps()
        fault = None
        if self.definition is not None:
            text = to_text(self.definition)
            self.dsl.value = theme.code_html(text)
            try:
                sql = self.ws.compile(self.definition)
            except SegmentError as e:  # valid rows that the engine rejects (e.g. an unknown segment)
                self.definition, self.error = None, str(e)
                fault = self.find_fault()
            else:
                self._mark(None)
                self.sql.value = theme.code_html(sql)
                self.summary_status.value = ""
                self._start_count()
                if self.messages.kind == "error":
                    self.messages.clear()
                return
        if fault is None and self.error is not None:
            fault = self.find_fault()
        if fault is not None:
            self.error = fault[1]
        self._mark(fault)
        self.dsl.value = theme.code_html(self.text or "(empty)")
        self.sql.value = '<span class="jseg-muted">The SQL appears when the definition is valid.</span>'
        self._stop_counting()
        self._forget_count()
        self._show_near_misses(None)
        self.count_label.value = '<span class="jseg-count">Estimated members: —</span>'
        # The first line only: the row at fault shows the whole message with its caret.
        first = (self.error or "").splitlines()[0] if self.error else ""
        self.summary_status.value = f'<div class="jseg-warn">{html.escape(first)}</div>'

    # -- threshold sweeps: "How does the count move?" on a top-level row comparing a number -------------
    def _update_sweeps(self) -> None:
        """After an edit: the sweep icon on the rows that can sweep; a sweep of another definition closed."""
        current = to_text(self.definition) if self.definition is not None else None
        for rv in self.row_views():
            sweepable = current is not None and sweep_target(self.state, self.schema, rv.row) is not None
            rv.sweep_button.layout.display = (
                "" if sweepable else "none"
            )  # "flex" would put the icon in a corner
            if rv.swept_text is not None and rv.swept_text != current:
                rv.clear_sweep()

    def sweep_row(self, rv: RowView, values: list[int | float] | None = None) -> pd.DataFrame:
        """Count the whole definition for values of ``rv``'s threshold around the current one (default:
        ``sweep_values``) with one ``ws.sweep`` query; shows the counts under the row and returns them."""
        if self.definition is None:
            raise SegmentError(self.error or "the definition is not complete yet")
        target = sweep_target(self.state, self.schema, rv.row)
        if target is None:
            raise SegmentError("only a top-level condition comparing a number with <, <=, > or >= can sweep")
        frame = self.ws.sweep(
            target.template, x=values if values is not None else sweep_values(target.threshold)
        )
        rv.show_sweep(frame, target, to_text(self.definition))
        return frame

    # -- counting: the summary shows the number, or the previous one greyed with a spinner ----------
    def _forget_count(self) -> None:
        """The shown count no longer belongs to the definition: keep it only as the greyed previous one."""
        if self.count is not None:
            self.previous = self.count
        self.count = None

    def _start_count(self) -> None:
        self._forget_count()
        self.estimate = None
        self.canceled = False
        self.counting_since = time.monotonic()
        self._show_counting()
        self._show_buttons(counting=True)
        self.debouncer.submit(self.definition)
        self.ticker.start()
        self._start_near_misses()

    def _stop_counting(self) -> float:
        """Stop the elapsed-time display; returns the seconds since the edit that was being counted."""
        self.ticker.stop()
        since, self.counting_since = self.counting_since, None
        self._show_buttons(counting=False)
        return 0.0 if since is None else time.monotonic() - since

    def _show_buttons(self, counting: bool) -> None:
        self.cancel_button.layout.display = "flex" if counting else "none"
        self.recount_button.layout.display = "flex" if self.canceled and not counting else "none"

    def _show_counting(self) -> None:
        since = self.counting_since
        if since is None:
            return
        previous = (
            f'<span class="jseg-stale" title="the count of the previous definition">{self.previous:,}</span>'
            if self.previous is not None
            else "—"
        )
        estimate = self.estimate
        if estimate is not None:
            self.count_label.value = (
                f'<span class="jseg-count jseg-estimate" title="{html.escape(estimate_tooltip(estimate))}">'
                f"Estimated members: <b>{html.escape(estimate.text())}</b></span> "
                f'<span class="jseg-spinner" role="progressbar" aria-label="counting"></span>'
                f'<span class="jseg-muted">exact count… {time.monotonic() - since:.1f} s</span>'
            )
            return
        self.count_label.value = (
            f'<span class="jseg-count">Estimated members: {previous}</span> '
            f'<span class="jseg-spinner" role="progressbar" aria-label="counting"></span>'
            f'<span class="jseg-muted">counting… {time.monotonic() - since:.1f} s</span>'
        )

    def _share(self, n: int) -> str:
        if not self.total:
            return ""
        return f'<span class="jseg-share">{n / self.total:.1%} of {self.total:,} customers</span>'

    def _count(self, definition: Any) -> tuple[int, str, float]:
        if self.total is None:  # the share's whole, once, on this thread
            self.total = self.db.count(ALL_CUSTOMERS)
        text = to_text(definition)
        estimate = self._estimate(definition, text)
        if estimate is not None and estimate.exact:  # no sample here: the estimate was the exact count
            return estimate.value, text, estimate.seconds
        if not self.debouncer.still_current():
            return 0, text, 0.0  # edited or canceled while estimating: this result is dropped
        t0 = time.perf_counter()
        n = self.db.count(definition)
        return n, text, time.perf_counter() - t0

    def _estimate(self, definition: Any, text: str) -> Any:
        """The estimate on the workspace's sample (made on first use), shown if the request is still
        the newest; None where estimates do not apply (few customers, a database without sample
        tables: ``estimate_note`` says so) or the estimate failed (the exact count reports why)."""
        estimator = getattr(self.ws, "estimator", None)
        if not self.estimates or estimator is None or (self.total or 0) <= estimator.size:
            return None
        self.estimate_note = estimator.supported() or ""
        if self.estimate_note:
            return None
        if not estimator.ready():
            # The sample takes seconds at millions of customers: made on a thread of its own (with
            # its own connection), while this count runs exactly; later edits get estimates.
            ws = self.ws
            estimator.prepare(lambda: WorkerDB(ws).runner())
            return None
        try:
            estimate = estimator.estimate(definition, run=self.db.runner())
        except SegmentError:
            return None
        self.estimate_note = estimator.unavailable or ""
        if not estimate.exact and self.debouncer.still_current():
            self._estimate_done(estimate, text)
        return estimate

    def _estimate_done(self, estimate: Any, text: str) -> None:
        if self.definition is None or to_text(self.definition) != text or self.counting_since is None:
            return  # an edit came meanwhile: its own count (and estimate) follow
        self.estimate = estimate
        self._show_counting()
        self.update_mirror()

    def _count_done(self, result: tuple[int, str, float]) -> None:
        n, text, seconds = result
        if self.definition is None or to_text(self.definition) != text:
            return  # a count for an earlier definition, finished after an edit made it invalid or different
        self._stop_counting()
        self.count, self.counted_text, self.count_error = n, text, None
        self.estimate = None  # the exact count replaces it
        note = f' title="{html.escape(self.estimate_note)}"' if self.estimate_note else ""
        self.count_label.value = (
            f'<span class="jseg-count"{note}>Estimated members: <b>{n:,}</b></span> {self._share(n)} '
            f'<span class="jseg-muted">counted in {seconds:.2f} s</span>'
        )
        self.update_mirror()  # a count that lands after the cell has run reaches the saved copy too

    def _count_failed(self, exc: BaseException) -> None:
        if self.definition is None:
            return  # an edit made the definition invalid meanwhile: its own message is shown
        self._stop_counting()
        self.estimate = None
        self.count, self.count_error = None, describe(exc)
        self.count_label.value = '<span class="jseg-count">Estimated members: —</span>'
        self.summary_status.value = (
            f'<div class="jseg-error"><pre>{html.escape(self.count_error)}</pre></div>'
        )

    # -- near misses: "n customers miss only this condition" beside each top-level item ---------------
    def near_miss_views(self) -> list[RowView | NodeView]:
        """The items near misses count, in the order of ``ws.near_misses``' conditions: the non-blank
        top-level rows and nested groups of a single AND group (two or more); [] where it does not apply."""
        if len(self.group_views) != 1 or self.definition is None:
            return []
        root = self.group_views[0].root
        items = [
            v
            for v in root.items
            if not all(r.is_blank for r in (rows_in_order(v.node) if isinstance(v, NodeView) else [v.row]))
        ]
        return items if root.node.op == "and" and len(items) >= 2 else []

    def _start_near_misses(self) -> None:
        views = self.near_miss_views()
        if not views:
            self.near_misses.cancel()
            self._show_near_misses(None)
            return
        self._show_near_misses(self.near_miss_counts, stale=True)  # the last counts, greyed
        self.near_misses.submit(self.definition)

    def _show_near_misses(self, counts: list[int] | None, stale: bool = False) -> None:
        views = self.near_miss_views()
        if counts is None or len(counts) != len(views):
            counts, views = [], []  # nothing to show, or the last counts belong to other rows
        shown = {id(v): near_miss_label(n, stale=stale) for v, n in zip(views, counts, strict=True)}
        for v in self.row_views() + self.node_views():
            v.near_miss.value = shown.get(id(v), "")

    def _near_misses_done(self, text: str, counts: list[int]) -> None:
        if self.definition is None or to_text(self.definition) != text:
            return  # counted for an earlier definition
        self.near_miss_counts, self.near_miss_text = counts, text
        self._show_near_misses(counts)
        self.update_mirror()

    def _near_misses_failed(self, exc: BaseException) -> None:
        self.near_miss_counts = None  # the count itself reports what is wrong with the definition
        self._show_near_misses(None)

    def cancel_count(self) -> bool:
        """Stop the count under way: the query is interrupted in the database (DuckDB, SQLite,
        PostgreSQL; MySQL and Spark finish it and its result is dropped). Returns False when nothing
        was counting."""
        self.near_misses.cancel()  # as slow as the count: stopped with it
        if not self.debouncer.cancel_current():
            return False
        self.canceled = True
        self.estimate = None
        seconds = self._stop_counting()
        self.count_label.value = (
            '<span class="jseg-count">Estimated members: —</span> '
            f'<span class="jseg-muted">count canceled after {seconds:.1f} s</span>'
        )
        return True

    def recount(self) -> None:
        """Count the current definition again (after a cancel)."""
        if self.definition is not None:
            self._start_count()

    def wait(self, timeout: float = 30.0) -> int | None:
        """Wait for the pending count (tests, scripts); returns it."""
        self.debouncer.wait(timeout)
        return self.count

    # -- saving ----------------------------------------------------------------------------------
    def _name_changed(self, name: str) -> None:
        """Away from the edited segment's name, its display name and description are not carried over."""
        if (
            name.strip() != (self.editing or "")
            and (self.display_name.value, self.description.value) == self._loaded_meta
        ):
            self.display_name.value = self.description.value = ""
            self._loaded_meta = ("", "")

    def save(self, draft: bool = False, replace: bool = False) -> Any:
        """Save to the catalog: validated, or as a draft (kept even when invalid). The name of another
        saved segment is only replaced with ``replace=True`` (the Replace button)."""
        name = self.name.value.strip()
        if not name:
            raise SegmentError("enter a name for the segment")
        if not hasattr(self.ws, "segment"):
            raise SegmentError("this workspace has no catalog to save segments in")
        self.replace_button.layout.display = "none"
        try:
            check_name(self.ws, name, editing=self.editing, replace=replace)
        except NameTaken:
            self.replace_button.layout.display = ""
            raise
        if draft:
            text = self.text
            if not text.strip():
                raise SegmentError("nothing to save yet: add a condition")
        else:
            definition = to_definition(self.state, self.schema)  # raises with the row at fault
            self.ws.check(definition)
            text = to_text(definition)
        self.saved = self.ws.segment(
            name,
            text,
            description=self.description.value,
            display_name=self.display_name.value or None,
            draft=draft,
        )
        self.editing = name  # saving again under this name is saving this segment
        self._loaded_meta = (self.display_name.value, self.description.value)
        self.messages.info(f"Saved {'draft ' if draft else ''}segment '{name}'.")
        return self.saved

    def save_and_refresh(self) -> Any:
        """Save (validated), then compute and store the members now; the button shows it is busy."""
        segment = self.save()
        name = self.name.value.strip()
        button = self.save_refresh_button
        button.description, button.disabled = "Refreshing…", True
        try:
            run = segment.refresh()
        finally:
            button.description, button.disabled = "Save and refresh", False
        if run.ok:
            self.messages.info(f"Saved segment '{name}' and refreshed it: {run.members:,} members.")
        else:
            reason = "; ".join(run.errors) or "no reason given"
            self.messages.error(reason, f"Saved segment '{name}'; the refresh {run.status.lower()}")
        return run

    # -- typed inputs --------------------------------------------------------------------------------
    def top_values(self, path: Path, attribute: Path) -> list[str] | None:
        """The most common values of a text attribute when it has few (a value picker offers them), else
        None. Read once per attribute with one GROUP BY."""
        key = (path, attribute)
        if key not in self._top_values:
            entity = self.schema.entity_of(path)
            if len(attribute) == 2:
                entity = self.model.steps_from(entity)[attribute[0]].target
            column = exp.column(attribute[-1], quoted=True)
            q = (
                exp.select(column.as_("v"), exp.func("count", exp.Star()).as_("n"))
                .from_(exp.to_table(entity, quoted=True))
                .where(exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null())))
                .group_by(column.copy())
                .order_by(exp.Ordered(this=exp.column("n"), desc=True), exp.column("v"))
                .limit(TOP_VALUES + 1)
            )
            try:
                frame = self.db.frame(q.sql(dialect=self.ws.dialect))
            except SegmentError:
                frame = None  # no picker: the value is typed
            few = frame is not None and len(frame) <= TOP_VALUES
            self._top_values[key] = [str(v) for v in frame["v"]] if few and frame is not None else None
        return self._top_values[key]

    def close(self) -> None:
        self.ticker.stop()
        self.debouncer.close()
        self.near_misses.close()
        self.widget.close()


def estimate_tooltip(estimate: Any) -> str:
    """What an estimate shown in the builder is: its interval, the sample, and that the exact count follows."""
    return (
        f"95% interval {estimate.low:,} to {estimate.high:,}: {estimate.members_in_sample:,} members among a "
        f"fixed random sample of {estimate.sample_size:,} of {estimate.population:,} customers. "
        "The exact count replaces it when it arrives."
    )


def open_condition(text: str) -> Row:
    """A text row for a DSL condition (raises ``SegmentError`` when it does not parse)."""
    parse_condition(text)
    return Row(text=text)
