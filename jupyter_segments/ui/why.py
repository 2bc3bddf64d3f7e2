"""Issue 21 in the widgets: "Why?" on a members preview and the builder's near-miss counts.

``WhyPanel`` sits under a members preview (segment view, builder): pick one of the previewed customers
and ``Why?`` shows ``ws.explain``'s tree for them (values, truths, verdict, the records aggregates
counted), rendered as the explanation renders itself in a notebook.

``NearMissCounts`` counts, per top-level condition of an AND, the customers who fail that condition only
(``ws.near_misses(..., limit=0)``: one query for every row) on a debounced worker thread of its own, so
the builder can show "n customers miss only this condition" beside each row as the count updates.

``sweep_target`` / ``sweep_values`` / ``sweep_html``: the builder's "How does the count move?" on a top-level
row comparing a number: the whole definition with that row's threshold as ``{x}``, counted by one
``ws.sweep`` for values around the threshold, shown as a compact table with bars.
"""

from __future__ import annotations

import copy
import dataclasses
import html
from collections.abc import Callable
from typing import Any, NamedTuple

import ipywidgets as W
import pandas as pd

from ..backends.base import plain_value
from ..dsl import ast as A
from ..dsl import to_text
from ..errors import SegmentError
from . import theme
from .debounce import Debouncer, WorkerDB
from .errors import Messages
from .state import BuilderState, Row, Schema, row_to_expr, rows_in_order, to_definition

SWEEP_OPS = ("<", "<=", ">", ">=")  # a threshold that moves the count one way (= and != do not sweep)
SWEEP_STEPS = 5  # values each side of the current threshold


class WhyPanel:
    """Why is customer K (not) a member? For the customers of a preview.

    ``definition()`` returns what to explain against: a saved segment's name or the builder's tree.
    """

    def __init__(self, ws: Any, definition: Callable[[], Any], messages: Messages) -> None:
        self.ws, self.definition, self.messages = ws, definition, messages
        self.keys = list(ws.model.customer_entity().keys)
        self.customer = W.Dropdown(description="Customer", layout=W.Layout(width="240px"))
        self.customer.style.description_width = "70px"
        self.customer.add_class("jseg-why-customer")
        self.button = theme.button(
            "Why?", icon="question-circle", tooltip="Explain why this customer is or is not a member"
        )
        self.button.add_class("jseg-why")
        self.close_button = W.Button(  # an icon alone, centred as the builder's row icons are
            icon="times",
            tooltip="Close the explanation",
            layout=W.Layout(width="32px", min_width="32px", padding="0"),
        )
        self.result = W.HTML()  # the explanation's HTML, or empty
        self.result.add_class("jseg-why-result")
        self.explanation: Any = None  # the last ws.explain result shown
        g = messages.guard
        self.button.on_click(g(lambda _b: self.why(), "Could not explain"))
        self.close_button.on_click(g(lambda _b: self.clear_result()))
        self.close_button.layout.display = "none"
        self.bar = W.HBox(
            [self.customer, self.button, self.close_button], layout=W.Layout(align_items="center")
        )
        self.widget = W.VBox([self.bar, self.result])
        self.widget.layout.display = "none"  # shown once there is a preview to pick from

    def show_customers(self, frame: pd.DataFrame | None) -> None:
        """The customers to pick from: the preview's rows, in the order shown (key columns only)."""
        self.clear_result()
        if frame is None or not len(frame) or any(k not in frame.columns for k in self.keys):
            self.customer.options = []
            self.widget.layout.display = "none"
            return
        options = []
        for record in frame[self.keys].to_dict("records"):
            values = [plain_value(record[k]) for k in self.keys]
            if len(values) == 1:
                options.append((str(values[0]), values[0]))
            else:  # a composite key: explain takes the tuple of its columns
                label = ", ".join(f"{k}={v}" for k, v in zip(self.keys, values, strict=True))
                options.append((label, tuple(values)))
        self.customer.options = options
        self.customer.value = options[0][1]
        self.widget.layout.display = "flex"

    def why(self, customer: Any = None) -> Any:
        """Explain ``customer`` (default: the one picked) and show the tree; returns the Explanation."""
        if customer is None:
            customer = self.customer.value
        if customer is None:
            return None
        self.explanation = self.ws.explain(self.definition(), customer)
        self.result.value = self.explanation._repr_html_()
        self.close_button.layout.display = "flex"
        return self.explanation

    def clear_result(self) -> None:
        self.explanation = None
        self.result.value = ""
        self.close_button.layout.display = "none"


def near_miss_label(n: int, *, stale: bool = False) -> str:
    """The text beside a row; greyed while a recount for an edited definition runs."""
    text = f"{n:,} customer{'' if n == 1 else 's'} miss{'es' if n == 1 else ''} only this condition"
    cls = "jseg-stale" if stale else "jseg-muted"
    title = "counting again for the edited definition" if stale else "satisfy every other condition"
    return f'<span class="{cls} jseg-near-miss" title="{title}">{html.escape(text)}</span>'


class NearMissCounts:
    """Debounced near-miss counts of a definition on a worker thread (its own connection).

    ``on_result(text, counts)`` gets the DSL text counted and the counts in condition order;
    ``on_error(exc)`` when the query fails. Both run on the worker thread.
    """

    def __init__(
        self,
        ws: Any,
        on_result: Callable[[str, list[int]], None],
        on_error: Callable[[BaseException], None],
        *,
        delay: float = 0.4,
    ) -> None:
        self.ws = ws
        self.db = WorkerDB(ws)
        self.debouncer = Debouncer(
            self._count, lambda r: on_result(*r), on_error, delay=delay, cancel=self.db.cancel
        )

    def _count(self, definition: Any) -> tuple[str, list[int]]:
        result = self.ws.near_misses(definition, limit=0, fetch=self.db.frame)
        return to_text(definition), [int(n) for n in result.counts["customers"]]

    def submit(self, definition: Any) -> None:
        self.debouncer.submit(definition)

    def cancel(self) -> None:
        self.debouncer.cancel_current()

    def wait(self, timeout: float = 30.0) -> bool:
        return self.debouncer.wait(timeout)

    def close(self) -> None:
        self.debouncer.close()


class SweepTarget(NamedTuple):
    template: str  # the whole definition, the row's threshold as {x}
    field: str  # what the row compares (``sum(orders.amount)``)
    op: str
    threshold: int | float  # the row's current value


def sweep_target(state: BuilderState, schema: Schema, row: Row) -> SweepTarget | None:
    """The builder's definition with ``row``'s threshold replaced by ``{x}``; None unless ``row`` is a
    complete top-level row comparing a number with a number and the definition is valid. Built from the
    builder's state: a copy whose twin of ``row`` becomes the text row ``<field> <op> {x}``."""
    if not any(item is row for g in state.groups for item in g.root.items):
        return None
    try:
        expr = row_to_expr(row, schema)
    except (SegmentError, TypeError):
        return None
    if not (isinstance(expr, A.Compare) and expr.op in SWEEP_OPS and isinstance(expr.right, A.Literal)):
        return None
    threshold = expr.right.value
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        return None
    rows = [r for g in state.groups for r in rows_in_order(g.root)]
    index = next(i for i, r in enumerate(rows) if r is row)
    twin_state = copy.deepcopy(state)
    twin = [r for g in twin_state.groups for r in rows_in_order(g.root)][index]
    twin.text = to_text(threshold_as_x(expr))  # a text row wins over its fields
    try:
        template = to_text(to_definition(twin_state, schema))
    except SegmentError:
        return None
    return SweepTarget(template, to_text(expr.left), expr.op, threshold)


def threshold_as_x(expr: A.Expr) -> A.Expr:
    """A row's comparison with its number as ``{x}``, the placeholder ``ws.sweep`` binds to each value:
    ``age >= 30`` -> ``age >= {x}``, ``any(orders where amount > 100)`` -> ``any(orders where amount > {x})``.
    The builder's and the quick segment's sweeps build their templates so: in the tree, not in its text."""
    if isinstance(expr, A.Exists) and expr.where is not None:
        return dataclasses.replace(expr, where=threshold_as_x(expr.where))
    if isinstance(expr, A.Compare):
        return A.Compare(expr.op, expr.left, A.Param("x"))
    raise SegmentError(f"{to_text(expr)} compares no number to sweep")


def sweep_values(threshold: int | float, steps: int = SWEEP_STEPS) -> list[int | float]:
    """Evenly spaced values around the threshold, itself included: 0 to twice it (a threshold of 0:
    -steps to steps). Whole numbers for a whole threshold."""
    step = abs(threshold) / steps if threshold else 1
    raw = [threshold + step * k for k in range(-steps, steps + 1)]
    if isinstance(threshold, int):
        return sorted({round(v) for v in raw})
    return sorted({round(v, 10) for v in raw})


SWEEP_CSS = """<style>
.jseg-sweep-table { border-collapse: collapse; font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1); font-variant-numeric: tabular-nums; margin-left: 28px; }
.jseg-sweep-table th { color: var(--jp-ui-font-color2); font-weight: 600; text-align: right;
  padding: 0 var(--jseg-s2); }
.jseg-sweep-table td { text-align: right; padding: 0 var(--jseg-s2); line-height: 1.5; }
.jseg-sweep-table td.jseg-sweep-barcell { width: 220px; text-align: left; }
.jseg-sweep-bar { height: 10px; background: var(--jp-brand-color2); border-radius: 2px; min-width: 1px; }
.jseg-sweep-current td { font-weight: 700; background: var(--jp-layout-color2); }
.jseg-sweep-current .jseg-sweep-bar { background: var(--jp-brand-color1); }
.jseg-sweep-title { margin-left: 28px; }
</style>"""


def _number_text(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:,.6g}"


def sweep_html(frame: pd.DataFrame, target: SweepTarget) -> str:
    """The counts of a sweep as a table with a bar per value; the current threshold's row marked."""
    top = max([int(n) for n in frame["members"]] + [1])
    rows = []
    for x, n in zip(frame["x"], frame["members"], strict=True):
        x, n = plain_value(x), int(n)
        current = x == target.threshold
        cls = ' class="jseg-sweep-current" title="the current threshold"' if current else ""
        mark = " ◀ now" if current else ""
        rows.append(
            f"<tr{cls}><td>{html.escape(target.op)} {html.escape(_number_text(x))}</td><td>{n:,}</td>"
            f'<td class="jseg-sweep-barcell"><div class="jseg-sweep-bar" style="width: {100 * n / top:.1f}%">'
            f'</div></td><td class="jseg-muted">{mark}</td></tr>'
        )
    title = f"Members as the threshold of {target.field} moves (the other conditions as they are)"
    return (
        f'{SWEEP_CSS}<div class="jseg-sweep"><div class="jseg-muted jseg-sweep-title">{html.escape(title)}</div>'
        f'<table class="jseg-sweep-table"><tr><th>{html.escape(target.field)}</th><th>members</th><th></th>'
        f"<th></th></tr>{''.join(rows)}</table></div>"
    )
