"""``SegmentManager``: the segments page — a sortable, searchable table of saved segments with actions.

Refreshes run on a worker thread (the kernel stays responsive); while they run, the page polls the
catalog's run records to show which segment is being evaluated, how many are done and the time elapsed.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
import time
from typing import Any

import ipywidgets as W
import pandas as pd

from ..errors import SegmentError
from ..export import destinations
from . import theme
from .builder import SegmentBuilder
from .errors import Messages, describe
from .view import SegmentView, frame_html

COLUMNS = [
    ("name", "Name"),
    ("display_name", "Display name"),
    ("type", "Type"),
    ("state", "State"),
    ("draft", "Draft"),
    ("members", "Members"),
    ("trend", "Trend"),
    ("last_refresh", "Last refresh"),
    ("last_status", "Last status"),
]
SORTABLE = {"name", "display_name", "type", "state", "draft", "members", "last_refresh", "last_status"}
SPARK = "▁▂▃▄▅▆▇█"
TREND_RUNS = 8


def sparkline(values: list[int]) -> str:
    """Tiny unicode sparkline plus an arrow for the change over the last two runs."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    # A flat series sits mid-height so it does not read as "almost nothing".
    bars = "".join(SPARK[3 if hi == lo else round((v - lo) / (hi - lo) * (len(SPARK) - 1))] for v in values)
    arrow = ""
    if len(values) > 1:
        arrow = "↑" if values[-1] > values[-2] else "↓" if values[-1] < values[-2] else "→"
    return f"{bars} {arrow}".strip()


class SegmentManager:
    """All saved segments with View, Edit, Duplicate, Refresh, Activate, Deactivate, Rename, Download CSV,
    Add to and Delete.

    >>> SegmentManager(ws)
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages = Messages()
        self.sort_column = "name"
        self.sort_descending = False
        self.selected: set[str] = set()
        self.frame = pd.DataFrame()
        self.trends: dict[str, list[int]] = {}
        self.refreshing: threading.Thread | None = None
        self.last_runs: list[Any] = []
        self.progress_text = ""
        self.detail: Any = None  # the opened SegmentView or SegmentBuilder
        self._pending_delete: list[str] = []
        g = self.messages.guard

        self.search = W.Text(
            placeholder="Search name, display name, description", layout=W.Layout(width="340px")
        )
        self.search.observe(g(lambda c: self.render()), names="value")  # filters as you type
        self.refresh_all_button = theme.button(
            "Refresh all", icon="refresh", tooltip="Refresh every active segment"
        )
        self.reload_button = theme.button(
            "", icon="repeat", tooltip="Reload the list from the catalog", width="36px"
        )
        self.table = W.GridBox(layout=W.Layout(grid_gap="0px", overflow="auto"))
        self.count_label = W.HTML()

        def action(label: str, icon: str, tip: str, kind: str = "") -> W.Button:
            b = theme.button(label, icon=icon, tooltip=tip, kind=kind)
            b.layout.width = "auto"
            return b

        self.view_button = action("View", "eye", "Trend, members preview and run history")
        self.edit_button = action("Edit", "pencil", "Open the definition in the builder")
        self.duplicate_button = action("Duplicate", "copy", "Copy under a new name")
        self.refresh_button = action("Refresh", "refresh", "Evaluate the selected segments now")
        self.activate_button = action("Activate", "play", "Activate now (or at the time given)")
        self.deactivate_button = action("Deactivate", "pause", "Deactivate now (or at the time given)")
        self.rename_button = action("Rename", "i-cursor", "Rename to the new name")
        self.download_button = action("Download CSV", "download", "Write all members to a CSV file")
        self.add_to_button = action("Add to", "share", "Send the members to a destination")
        self.delete_button = action("Delete", "trash", "Delete the selected segments", "danger")
        self.new_name = W.Text(placeholder="new name", layout=W.Layout(width="160px"))
        self.schedule_at = W.Text(
            placeholder="at YYYY-MM-DD HH:MM (optional)", layout=W.Layout(width="230px")
        )
        self.csv_path = W.Text(placeholder="file.csv (default: <name>.csv)", layout=W.Layout(width="230px"))
        self.destination = W.Dropdown(options=self._destinations(), layout=W.Layout(width="130px"))
        self.destination_target = W.Text(placeholder="path / table / url", layout=W.Layout(width="200px"))
        self.confirm_box = W.HBox()
        self.progress = W.IntProgress(
            min=0, max=1, value=0, layout=W.Layout(width="240px", visibility="hidden")
        )
        self.progress_label = W.HTML()
        self.runs_html = W.HTML(
            '<span class="jseg-muted">No refresh running. Tick segments and press Refresh, or Refresh all.</span>'
        )
        self.detail_box = W.VBox()

        for b, fn, title in [
            (self.refresh_all_button, self.refresh_all, "Refresh failed"),
            (self.reload_button, self.render, "Could not reload"),
            (self.view_button, self.view_selected, "Could not open the view"),
            (self.edit_button, self.edit_selected, "Could not open the builder"),
            (self.duplicate_button, self.duplicate_selected, "Duplicate failed"),
            (self.refresh_button, self.refresh_selected, "Refresh failed"),
            (self.activate_button, self.activate_selected, "Activate failed"),
            (self.deactivate_button, self.deactivate_selected, "Deactivate failed"),
            (self.rename_button, self.rename_selected, "Rename failed"),
            (self.download_button, self.download_selected, "Download failed"),
            (self.add_to_button, self.add_to_selected, "Add to failed"),
            (self.delete_button, self.ask_delete, "Delete failed"),
        ]:
            self.messages.on_click(b, fn, title)

        actions = W.VBox(
            [
                W.HBox([self.view_button, self.edit_button, self.refresh_button, self.delete_button]),
                W.HBox([self.duplicate_button, self.rename_button, self.new_name]),
                W.HBox([self.activate_button, self.deactivate_button, self.schedule_at]),
                W.HBox([self.download_button, self.csv_path]),
                W.HBox([self.add_to_button, self.destination, self.destination_target]),
            ]
        )
        self.widget = theme.root(
            [
                theme.title("Segments", "Select one or several rows, then an action."),
                W.HBox(
                    [self.search, self.refresh_all_button, self.reload_button],
                    layout=W.Layout(align_items="center"),
                ),
                self.count_label,
                self.table,
                theme.section([actions, self.confirm_box], "Actions"),
                theme.section([W.HBox([self.progress, self.progress_label]), self.runs_html], "Refresh"),
                self.messages.widget,
                self.detail_box,
            ]
        )
        self.render()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.static_html()  # what exported notebooks show
        return bundle

    def _destinations(self) -> list[str]:
        try:
            return sorted(destinations())
        except Exception:  # noqa: BLE001 - a broken destination plug-in must not break the page
            return ["csv", "parquet", "table"]

    # -- the table -------------------------------------------------------------------------------
    def load(self) -> pd.DataFrame:
        """Read the segments (search applied) and their recent member counts from the catalog."""
        sort = ("-" if self.sort_descending else "") + self.sort_column
        # list_segments sorts counts and dates largest-first by default; '-' flips: keep "descending" literal.
        natural_desc = self.sort_column in ("members", "last_refresh")
        if natural_desc:
            sort = ("" if self.sort_descending else "-") + self.sort_column
        frame = self.ws.segments(search=self.search.value or None, sort=sort)
        self.trends = {}
        for name in frame["name"]:
            hist = self.ws.get(name).history()
            ok = hist[hist["status"].astype(str) == "Successful"]["members"].dropna().astype(int).tolist()
            self.trends[name] = ok[-TREND_RUNS:]
        self.selected &= set(frame["name"])
        self.frame = frame
        return frame

    def render(self) -> None:
        frame = self.load()
        g = self.messages.guard
        cells: list[W.Widget] = [W.HTML("")]
        for key, label in COLUMNS:
            if key in SORTABLE:
                arrow = (" ▼" if self.sort_descending else " ▲") if key == self.sort_column else ""
                b = W.Button(description=label + arrow, tooltip=f"Sort by {label.lower()}",
                             layout=W.Layout(width="auto", height="28px"))  # fmt: skip
                b.add_class("jseg-header")
                b.on_click(g(lambda _b, k=key: self.sort_by(k)))
                cells.append(b)
            else:
                head = W.HTML(f'<div class="jseg-th">{label}</div>')
                cells.append(head)
        self.checkboxes: dict[str, W.Checkbox] = {}
        for _, r in frame.iterrows():
            cb = W.Checkbox(value=r["name"] in self.selected, indent=False, layout=W.Layout(width="28px"))
            cb.observe(g(lambda c, n=r["name"]: self._select(n, c["new"])), names="value")
            self.checkboxes[r["name"]] = cb
            cells.append(cb)
            for key, _ in COLUMNS:
                cells.append(W.HTML(self._cell(key, r)))
        self.table.layout.grid_template_columns = "32px " + " ".join(["auto"] * len(COLUMNS))
        self.table.children = cells
        total = len(frame)
        self.count_label.value = (
            f'<span class="jseg-muted">{total} segment{"s" if total != 1 else ""}'
            f"{' matching the search' if self.search.value else ''}</span>"
            if total
            else '<span class="jseg-muted">No segments yet: save one from the builder or with ws.segment(...).</span>'
        )

    def _cell(self, key: str, r: pd.Series) -> str:
        v = r.get(key)
        if key == "trend":
            return f'<span class="jseg-spark">{sparkline(self.trends.get(r["name"], []))}</span>'
        if key == "members":
            return f'<div style="text-align:right">{theme.fmt_int(v)}</div>'
        if key == "last_status":
            return theme.status_badge(v)
        if key == "state":
            return theme.badge(str(v), "ok" if v == "active" else "")
        if key == "draft":
            return theme.badge("draft", "mid") if bool(v) else ""
        if key == "last_refresh":
            return "" if v is None or pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d %H:%M}"
        return html.escape("" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))

    def sort_by(self, column: str) -> None:
        """Sort by a column; sorting by the same column again reverses the order."""
        if column not in SORTABLE:
            raise SegmentError(f"cannot sort by {column!r}")
        if column == self.sort_column:
            self.sort_descending = not self.sort_descending
        else:
            self.sort_column, self.sort_descending = column, False
        self.render()

    def _select(self, name: str, on: bool) -> None:
        (self.selected.add if on else self.selected.discard)(name)

    def select(self, *names: str) -> None:
        """Tick exactly these rows (as clicking their checkboxes would)."""
        for n, cb in self.checkboxes.items():
            cb.value = n in names

    def _names(self, one: bool = False) -> list[str]:
        names = [n for n in self.frame["name"] if n in self.selected] if len(self.frame) else []
        if not names:
            raise SegmentError("select a segment first (tick its box)")
        if one and len(names) > 1:
            raise SegmentError("select exactly one segment for this action")
        return names

    # -- actions ---------------------------------------------------------------------------------
    def view_selected(self) -> None:
        self.detail = SegmentView(self.ws, self._names(one=True)[0])
        self.detail_box.children = [self.detail.widget]

    def edit_selected(self) -> None:
        self.detail = SegmentBuilder(self.ws, self._names(one=True)[0])
        self.detail_box.children = [self.detail.widget]

    def duplicate_selected(self) -> None:
        name = self._names(one=True)[0]
        new = self.new_name.value.strip() or f"{name}_copy"
        self.ws.duplicate(name, new)
        self.messages.info(f"Duplicated '{name}' as '{new}'.")
        self.new_name.value = ""
        self.render()

    def rename_selected(self) -> None:
        name = self._names(one=True)[0]
        new = self.new_name.value.strip()
        if not new:
            raise SegmentError("enter the new name in the box next to Rename")
        self.ws.get(name).rename(new)
        self.selected.discard(name)
        self.selected.add(new)
        self.new_name.value = ""
        self.messages.info(f"Renamed '{name}' to '{new}'.")
        self.render()

    def _at(self) -> dt.datetime | None:
        text = self.schedule_at.value.strip()
        if not text:
            return None
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            raise SegmentError(f"'{text}' is not a date and time; write it as YYYY-MM-DD HH:MM") from None

    def activate_selected(self) -> None:
        at, names = self._at(), self._names()
        for n in names:
            self.ws.get(n).activate(at=at)
        when = f" at {at:%Y-%m-%d %H:%M}" if at else ""
        self.messages.info(f"{'Scheduled activation of' if at else 'Activated'} {', '.join(names)}{when}.")
        self.render()

    def deactivate_selected(self) -> None:
        at, names = self._at(), self._names()
        for n in names:
            self.ws.get(n).deactivate(at=at)
        when = f" at {at:%Y-%m-%d %H:%M}" if at else ""
        self.messages.info(
            f"{'Scheduled deactivation of' if at else 'Deactivated'} {', '.join(names)}{when}."
        )
        self.render()

    def download_selected(self) -> None:
        names = self._names()
        path = self.csv_path.value.strip()
        if path and len(names) > 1:
            raise SegmentError(
                "with several segments selected leave the file name empty (one file per segment)"
            )
        done = []
        for n in names:
            rec = self.ws.get(n).export("csv", path=path or None)
            done.append(
                f"{n}: {getattr(rec, 'rows', '?')} rows to {getattr(rec, 'target', None) or path or n + '.csv'}"
            )
        self.messages.info("Downloaded " + "; ".join(done))

    def add_to_selected(self) -> None:
        dest = self.destination.value
        target = self.destination_target.value.strip()
        options: dict[str, Any] = {}
        if target:
            key = {"table": "table", "webhook": "url"}.get(dest, "path")
            options[key] = target
        done = []
        for n in self._names():
            rec = self.ws.get(n).add_to(dest, **options)
            done.append(f"{n}: {getattr(rec, 'rows', '?')} rows ({getattr(rec, 'status', 'done')})")
        self.messages.info(f"Sent to {dest}: " + "; ".join(done))

    def ask_delete(self) -> None:
        """Delete asks first: a Confirm / Cancel pair appears next to the actions."""
        names = self._names()
        self._pending_delete = names
        self.confirm_delete_button = theme.button("Confirm delete", kind="danger", icon="trash")
        self.cancel_delete_button = theme.button("Cancel")
        for b in (self.confirm_delete_button, self.cancel_delete_button):
            b.layout.width = "auto"
        self.messages.on_click(self.confirm_delete_button, self.confirm_delete, "Delete failed")
        self.messages.on_click(self.cancel_delete_button, self.cancel_delete)
        text = html.escape(", ".join(names))
        self.confirm_box.children = [
            W.HTML(
                f'<div class="jseg-warn">Delete {text} with all runs and members? This cannot be undone.</div>'
            ),
            self.confirm_delete_button,
            self.cancel_delete_button,
        ]

    def confirm_delete(self) -> None:
        names, self._pending_delete = self._pending_delete, []
        self.confirm_box.children = []
        deleted = []
        try:
            for n in names:
                self.ws.get(n).delete()
                deleted.append(n)
                self.selected.discard(n)
        finally:
            self.render()
        self.messages.info(f"Deleted {', '.join(deleted)}.")

    def cancel_delete(self) -> None:
        self._pending_delete = []
        self.confirm_box.children = []

    # -- refresh with progress -------------------------------------------------------------------
    def refresh_selected(self) -> None:
        self.start_refresh(self._names())

    def refresh_all(self) -> None:
        self.start_refresh(None)

    def start_refresh(self, names: list[str] | None) -> None:
        """Refresh on a worker thread; progress is polled from the catalog's run records."""
        if self.refreshing is not None and self.refreshing.is_alive():
            raise SegmentError("a refresh is already running")
        targets = names if names is not None else [
            r["name"] for _, r in self.ws.segments(sort="name").iterrows()
            if r["state"] == "active" and r["type"] == "dynamic"
        ]  # fmt: skip
        if not targets:
            raise SegmentError("no active segments to refresh")
        self.progress.max = len(targets)
        self.progress.value = 0
        self.progress.layout.visibility = "visible"
        self.runs_html.value = ""
        self.last_runs = []
        self.refresh_error: str | None = None
        t0 = time.monotonic()
        before = {n: self._last_run_id(n) for n in targets}
        done = threading.Event()

        def work() -> None:
            try:
                self.last_runs = self.ws.refresh(targets if names is not None else None)
            except Exception as e:  # noqa: BLE001 - shown in the widget
                self.refresh_error = describe(e)
            finally:
                done.set()

        def watch() -> None:
            while not done.wait(0.25):
                self._show_progress(targets, before, t0)
            self._finish(t0)

        self.refreshing = threading.Thread(target=work, name="jupyter-segments-refresh", daemon=True)
        self.refreshing.start()
        self._watcher = threading.Thread(target=watch, name="jupyter-segments-refresh-watch", daemon=True)
        self._watcher.start()
        self.progress_label.value = f'<span class="jseg-muted">Refreshing {len(targets)} segment(s)…</span>'

    def _last_run_id(self, name: str) -> int | None:
        try:
            h = self.ws.get(name).history()
        except Exception:  # noqa: BLE001
            return None
        return None if h.empty else int(h["run_id"].iloc[-1])

    def _show_progress(self, targets: list[str], before: dict[str, int | None], t0: float) -> None:
        finished, running = 0, ""
        for n in targets:
            try:
                h = self.ws.get(n).history()
            except Exception:  # noqa: BLE001 - renamed or deleted meanwhile
                continue
            if h.empty or (before.get(n) is not None and int(h["run_id"].iloc[-1]) == before[n]):
                continue
            status = str(h["status"].iloc[-1])
            if status in ("Running",):
                running = n
            elif status not in ("Queued", "Not started"):
                finished += 1
        self.progress.value = finished
        now = f" — now: <b>{html.escape(running)}</b>" if running else ""
        self.progress_text = f"{finished} of {len(targets)} done{now}, {time.monotonic() - t0:.1f} s elapsed"
        self.progress_label.value = f'<span class="jseg-muted">{self.progress_text}</span>'

    def _finish(self, t0: float) -> None:
        runs = self.last_runs
        self.progress.value = self.progress.max
        elapsed = time.monotonic() - t0
        ok = sum(1 for r in runs if str(r.status) == "Successful")
        self.progress_text = f"{len(runs)} of {self.progress.max} done, {ok} successful, in {elapsed:.1f} s"
        self.progress_label.value = f'<span class="jseg-muted">{self.progress_text}</span>'
        rows = []
        for r in runs:
            errors = "<br>".join(html.escape(e) for e in (r.errors or []))
            rows.append(
                f"<tr><td>{html.escape(r.segment)}</td><td>{theme.status_badge(r.status)}</td>"
                f'<td class="num">{theme.fmt_int(r.members)}</td>'
                f'<td class="num">{"" if r.added is None else "+" + format(r.added, ",")}</td>'
                f'<td class="num">{"" if r.removed is None else "-" + format(r.removed, ",")}</td>'
                f'<td class="num">{"" if r.duration is None else f"{r.duration:.2f} s"}</td>'
                f'<td style="white-space:normal; color: var(--jp-error-color1)">{errors}</td></tr>'
            )
        self.runs_html.value = (
            '<table class="jseg-table"><tr><th>Segment</th><th>Status</th><th class="num">Members</th>'
            '<th class="num">Joined</th><th class="num">Left</th><th class="num">Duration</th><th>Errors</th></tr>'
            + "".join(rows)
            + "</table>"
        )
        if self.refresh_error:
            self.messages.error(self.refresh_error, "Refresh failed")
        try:
            self.render()
        except Exception as e:  # noqa: BLE001
            self.messages.show_exception(e)

    def wait(self, timeout: float = 60.0) -> list[Any]:
        """Wait for a running refresh to finish (tests, scripts); returns its runs."""
        for t in (self.refreshing, getattr(self, "_watcher", None)):
            if t is not None:
                t.join(timeout)
        return self.last_runs

    def static_html(self) -> str:
        cols = [k for k, _ in COLUMNS if k != "trend"]
        frame = self.frame[cols] if len(self.frame) else pd.DataFrame(columns=cols)
        return f"{theme.CSS}<div class='jseg-root'><div class='jseg-title'>Segments</div>{frame_html(frame)}</div>"
