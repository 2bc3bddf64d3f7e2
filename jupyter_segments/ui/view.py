"""``SegmentView``: one saved segment — its member-count trend, a members preview, and its run history."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import ipywidgets as W
import pandas as pd
from IPython.display import display

from .. import render
from ..dsl import parse
from ..errors import SegmentError
from . import charts, theme
from .errors import Messages, describe

PREVIEW_ROWS = 100


def frame_html(
    frame: pd.DataFrame,
    *,
    max_rows: int = PREVIEW_ROWS,
    key: str | None = None,
    projected: list[str] | tuple[str, ...] = (),
    max_height: str | None = None,
) -> str:
    """A DataFrame as a themed HTML table: the renderer every preview shares (``jupyter_segments.render``):
    key and projected columns first and sticky, text left and numbers right, one NULL, no wrapping."""
    return render.frame_html(
        frame, key=key, projected=projected, max_rows=max_rows, max_height=max_height, empty="No rows."
    )


def history_frame(history: pd.DataFrame) -> pd.DataFrame:
    """Run history for display, newest first: time, status, duration, members, joined, left, errors, warnings."""
    if history.empty:
        return pd.DataFrame(
            columns=["time", "status", "duration", "members", "joined", "left", "errors", "warnings"]
        )
    h = history.iloc[::-1]
    when = pd.to_datetime(h["started_at"].fillna(h["queued_at"]))
    return pd.DataFrame(
        {
            "time": when.dt.strftime("%Y-%m-%d %H:%M:%S"),
            "status": h["status"],
            "duration": [("" if pd.isna(d) else f"{d:.2f} s") for d in h["duration"]],
            "members": h["members"].astype("Int64"),
            "joined": h["added"].astype("Int64"),
            "left": h["removed"].astype("Int64"),
            "errors": [" | ".join(e) if isinstance(e, list) else (e or "") for e in h["errors"]],
            "warnings": [" | ".join(w) if isinstance(w, list) else (w or "") for w in h["warnings"]],
        }
    ).reset_index(drop=True)


def _projected(text: str) -> list[str]:
    """The PROJECT aliases of a saved definition (none for a draft that does not parse)."""
    try:
        return render.projected_columns(parse(str(text)))
    except SegmentError:
        return []


class SegmentView:
    """Trend, members preview and run history of a saved segment.

    >>> SegmentView(ws, "vip")
    """

    def __init__(self, ws: Any, name: str, *, now: dt.datetime | None = None) -> None:
        self.ws = ws
        self.messages = Messages()
        self.seg = ws.get(name)
        self._now = now  # fixed "now" for tests; None means the current time
        g = self.messages.guard

        self.header = W.HTML()
        self.range = W.ToggleButtons(
            options=[*charts.RANGES.keys(), "Custom"], value="All", style={"button_width": "72px"}
        )
        self.start = W.DatePicker(description="From")
        self.end = W.DatePicker(description="To")
        for w in (self.start, self.end):
            w.style.description_width = "40px"
            w.layout.width = "200px"
        self.custom_box = W.HBox([self.start, self.end], layout=W.Layout(display="none"))
        self.chart_output = W.Output(layout=W.Layout(min_height="240px", width="100%"))
        self.chart_note = W.HTML()
        self.sort_by = W.Dropdown(description="Sort by", layout=W.Layout(width="260px"))
        self.sort_by.style.description_width = "60px"
        self.descending = W.ToggleButton(value=False, description="Descending", icon="sort-amount-desc")
        self.preview_html = W.HTML()
        self.preview_note = W.HTML()
        self.history_html = W.HTML()
        self.refresh_button = theme.button(
            "Refresh now", icon="refresh", tooltip="Evaluate the segment again"
        )
        self.range.observe(g(lambda c: self.draw()), names="value")
        self.start.observe(g(lambda c: self.draw()), names="value")
        self.end.observe(g(lambda c: self.draw()), names="value")
        self.sort_by.observe(g(lambda c: self._show_preview()), names="value")
        self.descending.observe(g(lambda c: self._show_preview()), names="value")
        self.refresh_button.on_click(g(lambda _b: self.refresh_now(), "Refresh failed"))

        self.widget = theme.root(
            [
                self.header,
                theme.section(
                    [
                        W.HBox([self.range, self.refresh_button]),
                        self.custom_box,
                        self.chart_output,
                        self.chart_note,
                    ],
                    "Member count over time",
                ),
                theme.section(
                    [W.HBox([self.sort_by, self.descending]), self.preview_note, self.preview_html],
                    "Members preview",
                ),
                theme.section([self.history_html], "Run history"),
                self.messages.widget,
            ]
        )
        self.load()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # Exported notebooks (nbconvert, GitHub) cannot render widgets: they show this HTML instead.
        bundle["text/html"] = self.static_html()
        return bundle

    # -- data --------------------------------------------------------------------------------------
    def load(self) -> None:
        """(Re)read the segment, its history and preview from the catalog, and redraw."""
        self.seg = self.ws.get(self.seg.name)
        self.key = self.ws.model.customer_key
        self.projected = _projected(self.seg.definition)
        self.history = self.seg.history()
        self.points = charts.trend_points(self.history)
        try:
            self.preview = self.seg.preview(PREVIEW_ROWS)
            self.preview_error = None
        except Exception as e:  # noqa: BLE001 - no members yet is normal for a new segment
            self.preview, self.preview_error = pd.DataFrame(), describe(e)
        self._show_header()
        options = [("(member order)", "")] + [(str(c), str(c)) for c in self.preview.columns]
        current = self.sort_by.value
        self.sort_by.options = options
        self.sort_by.value = current if current in [v for _, v in options] else ""
        self._show_preview()
        self.history_html.value = frame_html(history_frame(self.history), max_rows=1000)
        self.draw()

    def _show_header(self) -> None:
        s = self.seg
        title = html.escape(s.display_name or s.name)
        count = theme.fmt_int(s.count)
        draft = " " + theme.badge("draft", "mid") if s.draft else ""
        state_tone = "ok" if s.state == "active" else ""
        desc = f'<div class="jseg-subtitle">{html.escape(s.description)}</div>' if s.description else ""
        self.header.value = (
            f'<div class="jseg-title">{title} <span class="jseg-muted">({html.escape(s.name)})</span></div>{desc}'
            f"<div>{theme.badge(s.state, state_tone)} {theme.badge(s.type)}{draft} "
            f'{theme.status_badge(s.status)} <span class="jseg-count">members: <b>{count}</b></span></div>'
            f"{theme.code_html(s.definition)}"
        )

    def visible_points(self) -> pd.DataFrame:
        if self.range.value == "Custom":
            return charts.window(self.points, None, start=self.start.value, end=self.end.value)
        return charts.window(self.points, charts.RANGES[self.range.value], now=self._now)

    def draw(self) -> None:
        """Redraw the trend chart for the selected time range."""
        self.custom_box.layout.display = "" if self.range.value == "Custom" else "none"
        pts = self.visible_points()
        self.shown_points = pts
        self.chart_output.clear_output(wait=True)
        if pts.empty:
            self.chart_note.value = '<span class="jseg-muted">No successful runs in this range yet.</span>'
            return
        self.chart = charts.trend_chart(pts, f"{self.seg.display_name or self.seg.name}: members")
        self.chart_bundle = charts.vega_bundle(self.chart)
        with self.chart_output:
            display(self.chart_bundle, raw=True)
        self.chart_note.value = (
            f'<span class="jseg-muted">{len(pts)} run(s); hover a point for its date and count.</span>'
        )

    def _show_preview(self) -> None:
        frame = self.preview
        if self.sort_by.value and self.sort_by.value in frame.columns:
            frame = frame.sort_values(
                self.sort_by.value, ascending=not self.descending.value, na_position="last"
            )
        self.shown_preview = frame
        if self.preview_error:
            self.preview_note.value = f'<div class="jseg-warn">{html.escape(self.preview_error)}</div>'
            self.preview_html.value = ""
            return
        total = self.seg.count
        name = self.seg.name
        self.preview_note.value = (
            f'<span class="jseg-muted">A preview: the first {min(len(frame), PREVIEW_ROWS):,} of '
            f"{theme.fmt_int(total)} members. To get all of them use Download CSV on the segments page, or "
            f"<code>ws.get({name!r}).export('csv', path='{name}.csv')</code>.</span>"
        )
        # A fixed-height scroller keeps the history below in sight (the header row stays on top of it).
        self.preview_html.value = self._preview_table(frame, max_height="380px")

    def _preview_table(self, frame: pd.DataFrame, *, max_rows: int = PREVIEW_ROWS, **options: Any) -> str:
        return frame_html(frame, max_rows=max_rows, key=self.key, projected=self.projected, **options)

    def refresh_now(self) -> None:
        run = self.seg.refresh()
        self.load()
        if str(run.status).lower() == "failed":
            self.messages.error(
                "\n".join(run.errors) or "the refresh failed", f"Refresh of '{self.seg.name}' failed"
            )
        else:
            self.messages.info(
                f"Refreshed '{self.seg.name}': {theme.fmt_int(run.members)} members ({run.status})."
            )

    def static_html(self) -> str:
        """The view without widgets, for exported notebooks: chart PNG, points table, preview, history."""
        title = html.escape(self.seg.display_name or self.seg.name)
        return (
            f"{theme.CSS}<div class='jseg-root'><div class='jseg-title'>{title}</div>"
            f"{charts.static_html(self.points, f'{self.seg.name}: members')}"
            f"<h4>Members preview</h4>{self._preview_table(self.preview, max_rows=20)}"
            f"<h4>Run history</h4>{frame_html(history_frame(self.history), max_rows=50)}</div>"
        )

    def close(self) -> None:
        self.widget.close()
