"""``SegmentView``: one saved segment — its member-count trend, a members preview, and its run history."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import ipywidgets as W
import pandas as pd

from .. import render
from ..dsl import parse
from ..errors import SegmentError
from . import charts, theme
from .errors import Messages, describe
from .static import Mirrored
from .why import WhyPanel

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


def _iso_date(text: str, what: str) -> dt.date | None:
    """A date typed as YYYY-MM-DD (empty: no bound)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SegmentError(f"{what}: '{text}' is not a date; write it as YYYY-MM-DD") from None


def _projected(text: str) -> list[str]:
    """The PROJECT aliases of a saved definition (none for a draft that does not parse)."""
    try:
        return render.projected_columns(parse(str(text)))
    except SegmentError:
        return []


class SegmentView(Mirrored):
    """Trend, members preview and run history of a saved segment.

    >>> SegmentView(ws, "vip")
    """

    def __init__(self, ws: Any, name: str, *, now: dt.datetime | None = None) -> None:
        self.ws = ws
        self.messages = Messages()
        self.seg = ws.get(name)
        self._now = now  # fixed "now" for tests; None means the current time
        g = self.messages.guard
        self.messages.after = self.update_mirror

        self.header = W.HTML()
        self.range = W.ToggleButtons(
            options=[*charts.RANGES.keys(), "Custom"], value="All", style={"button_width": "72px"}
        )
        # ISO dates typed as text: the browser's date input shows the user's locale (12/02/2026).
        self.start = W.Text(placeholder="YYYY-MM-DD", description="From", continuous_update=False)
        self.end = W.Text(placeholder="YYYY-MM-DD", description="To", continuous_update=False)
        for w in (self.start, self.end):
            w.style.description_width = "40px"
            w.layout.width = "170px"
        self.custom_box = W.HBox([self.start, self.end], layout=W.Layout(display="none"))
        self.chart_html = W.HTML(layout=W.Layout(width="100%"))
        self.chart_note = W.HTML()
        self.sort_by = W.Dropdown(description="Sort by", layout=W.Layout(width="260px"))
        self.sort_by.style.description_width = "60px"
        self.descending = W.ToggleButton(value=False, description="Descending", icon="sort-amount-desc")
        self.preview_html = W.HTML()
        self.preview_note = W.HTML()
        self.why = WhyPanel(ws, lambda: self.seg.name, self.messages)  # "Why?" on a previewed member
        self.history_html = W.HTML()
        self.refresh_button = theme.button(
            "Refresh now", kind="primary", icon="refresh", tooltip="Evaluate the segment again"
        )
        self.range.observe(g(lambda c: self.draw()), names="value")
        self.start.observe(g(lambda c: self.draw()), names="value")
        self.end.observe(g(lambda c: self.draw()), names="value")
        self.sort_by.observe(g(lambda c: self._show_preview()), names="value")
        self.descending.observe(g(lambda c: self._show_preview()), names="value")
        self.messages.on_click(self.refresh_button, self.refresh_now, "Refresh failed")

        self.widget = theme.root(
            [
                self.header,
                theme.section(
                    [
                        W.HBox([self.range, self.refresh_button], layout=W.Layout(flex_flow="row wrap")),
                        self.custom_box,
                        self.chart_html,
                        self.chart_note,
                    ],
                    "Member count over time",
                ),
                theme.section(
                    [
                        W.HBox([self.sort_by, self.descending]),
                        self.preview_note,
                        self.preview_html,
                        self.why.widget,
                    ],
                    "Members preview",
                ),
                theme.section([self.history_html], "Run history"),
                self.messages.widget,
            ]
        )
        self.load()

    def to_text(self) -> str:
        """The view as plain text: the segment, its trend points and the first members (terminals)."""
        s = self.seg
        lines = [
            f"Segment view: {s.display_name or s.name} ({s.name}) - {s.state}, {s.type}"
            + (", draft" if s.draft else "")
            + f", last status {s.status}, members {theme.fmt_int(s.count)}",
            f"  {s.definition}",
        ]
        pts = self.points.tail(8)
        if len(pts):
            lines.append("Member count over time:")
            lines += [
                f"  {charts.point_label(pd.Timestamp(d))}  {int(m):>10,}"
                for d, m in zip(pts["date"], pts["members"], strict=True)
            ]
        else:
            lines.append(self._empty_chart_text())
        if len(self.preview):
            lines += ["Members preview:", self.preview.head(5).to_string(index=False)]
        return "\n".join(lines)

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
            start, end = _iso_date(self.start.value, "From"), _iso_date(self.end.value, "To")
            if start and end and start > end:
                raise SegmentError(f"the range starts ({start}) after it ends ({end})")
            return charts.window(self.points, None, start=start, end=end)
        return charts.window(self.points, charts.RANGES[self.range.value], now=self._now)

    def draw(self) -> None:
        """Redraw the trend chart for the selected time range."""
        self.custom_box.layout.display = "" if self.range.value == "Custom" else "none"
        pts = self.visible_points()
        self.shown_points = pts
        self.chart_html.value = charts.trend_html(pts, empty=self._empty_chart_text())
        self.chart_note.value = (
            f'<span class="jseg-muted">{len(pts)} successful run(s) shown; hover a point for its time '
            "and count.</span>"
            if len(pts)
            else ""
        )

    def _empty_chart_text(self) -> str:
        """Why there is nothing to draw, and what to do about it."""
        if self.history.empty:
            return (
                "Not refreshed yet: press Refresh now to count the members. Each refresh adds a point here."
            )
        if self.points.empty:
            last = self.history.iloc[-1]
            return (
                f"No successful refresh yet: the last run is {last['status']} (its reason is in the run "
                "history below)."
            )
        latest = self.points.iloc[-1]
        return (
            f"No successful run in this range. The latest was at {charts.point_label(pd.Timestamp(latest['date']))} "
            f"({int(latest['members']):,} members): choose All to see every run."
        )

    def _show_preview(self) -> None:
        frame = self.preview
        if self.sort_by.value and self.sort_by.value in frame.columns:
            frame = frame.sort_values(
                self.sort_by.value, ascending=not self.descending.value, na_position="last"
            )
        self.shown_preview = frame
        self.why.show_customers(None if self.preview_error else frame.head(PREVIEW_ROWS))
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
        """Refresh the segment; the button says it is busy meanwhile (its state reaches the page at once)."""
        button = self.refresh_button
        button.disabled, button.description, button.icon = True, "Refreshing\u2026", "spinner"
        try:
            run = self.seg.refresh()
        finally:
            button.disabled, button.description, button.icon = False, "Refresh now", "refresh"
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
        """The view without widgets, for exported notebooks: the chart (inline SVG), preview and history."""
        return (
            f"{theme.CSS}<div class='jseg-static'>{self.header.value}"
            f"<div class='jseg-label'>Member count over time</div>{self.chart_html.value}"
            f"<div class='jseg-label'>Members preview</div>{self._preview_table(self.shown_preview, max_rows=20)}"
            f"<div class='jseg-label'>Run history</div>{frame_html(history_frame(self.history), max_rows=50)}</div>"
        )

    def close(self) -> None:
        self.widget.close()
