"""Issue 21 in the widgets: "Why?" on a members preview and the builder's near-miss counts.

``WhyPanel`` sits under a members preview (segment view, builder): pick one of the previewed customers
and ``Why?`` shows ``ws.explain``'s tree for them (values, truths, verdict, the records aggregates
counted), rendered as the explanation renders itself in a notebook.

``NearMissCounts`` counts, per top-level condition of an AND, the customers who fail that condition only
(``ws.near_misses(..., limit=0)``: one query for every row) on a debounced worker thread of its own, so
the builder can show "n customers miss only this condition" beside each row as the count updates.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import pandas as pd

from ..dsl import to_text
from . import theme
from .debounce import Debouncer, WorkerDB
from .errors import Messages


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value ``ws.explain`` is given (a key typed by a user)."""
    return value.item() if hasattr(value, "item") else value


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
            values = [_plain(record[k]) for k in self.keys]
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
