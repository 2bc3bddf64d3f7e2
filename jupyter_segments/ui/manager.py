"""``SegmentManager``: the segments page — a sortable, searchable table of saved segments with actions.

Refreshes run on a worker thread (the kernel stays responsive); while they run, the page polls the
catalog's run records to show which segment is being evaluated, how many are done and the time elapsed.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
import time
import uuid
from typing import Any

import ipywidgets as W
import pandas as pd

from ..backends.base import is_null
from ..errors import SegmentError
from ..export import destinations
from . import theme
from .builder import SegmentBuilder
from .errors import Messages, describe
from .static import Mirrored
from .view import SegmentView

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
MINUS = "\u2212"

# The table's click handler: it writes the click into the page's hidden text box (class jseg-bridge-UID) and
# fires the input event ipywidgets listens to, so the kernel gets the row or column and the shift/ctrl keys.
TABLE_SCRIPT = (
    "var d=this.dataset,e=event,p=this.closest('.jseg-page'),"
    "i=p&amp;&amp;p.querySelector('.jseg-bridge-UID input');if(!i)return;"
    "if(e.type==='dblclick'&amp;&amp;!d.name)return;"
    "i.value=JSON.stringify(d.sort?{sort:d.sort,t:Date.now()}:{row:d.name,shift:e.shiftKey,"
    "ctrl:e.ctrlKey||e.metaKey,open:e.type==='dblclick',t:Date.now()});"
    "i.dispatchEvent(new Event('input',{bubbles:true}));"
)


# The table's own look: full width, rows that read as clickable, a selection that is readable on light,
# dark and high-contrast themes (a tint of the brand colour over the background, not a fixed colour), and
# a spinning icon on busy buttons.
PAGE_CSS = """<style>
.jseg-page table.jseg-grid { width: 100%; }
.jseg-page table.jseg-grid :is(td, th), .jseg-static table.jseg-grid :is(td, th) { text-align: left; }
.jseg-page table.jseg-grid :is(td, th).num, .jseg-static table.jseg-grid :is(td, th).num { text-align: right; }
.jseg-page table.jseg-clickable tbody tr { cursor: pointer; user-select: none; }
.jseg-page table.jseg-clickable tbody tr:hover td { background: var(--jp-layout-color2); }
.jseg-page table.jseg-grid tr.jseg-selected td, .jseg-static table.jseg-grid tr.jseg-selected td {
  background: color-mix(in srgb, var(--jp-brand-color1) 30%, var(--jp-layout-color1));
  color: var(--jp-ui-font-color0); }
.jseg-page table.jseg-clickable th[data-sort] { cursor: pointer; }
.jseg-page table.jseg-clickable th[data-sort]:hover { color: var(--jp-brand-color1); }
.jseg-page table.jseg-clickable tr:focus-visible { outline: 2px solid var(--jp-brand-color1); }
.jseg-empty { padding: 16px; color: var(--jp-ui-font-color2); border: 1px dashed var(--jp-border-color1);
  border-radius: 4px; text-align: center; }
.jseg-page .widget-html:has(> .widget-html-content:empty), .jseg-page .widget-hbox:empty { display: none; }
.jseg-busy i.fa { animation: jseg-spin 1s linear infinite; }
@keyframes jseg-spin { to { transform: rotate(360deg); } }
</style>"""

# Enter or space on a focused row or header acts as a click (rows and headers take the focus with Tab).
KEY_SCRIPT = "if(event.key==='Enter'||event.key===' '){event.preventDefault();this.click();}"


def _when(value: object) -> str:
    """A refresh time as the product writes times: ISO, to the minute."""
    if is_null(value):
        return ""
    return f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def _members(n: Any) -> str:
    return "—" if is_null(n) else f"{int(n):,}"


def _signed(n: Any, sign: str) -> str:
    """Joined / left counts: '+12', '−12', and a plain '0' (not '+0' or '-0')."""
    if is_null(n):
        return ""
    return "0" if int(n) == 0 else f"{sign}{int(n):,}"


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


class SegmentManager(Mirrored):
    """All saved segments in a table: click a row to select it (shift: a range, ctrl/cmd: add or remove),
    click a header to sort; View, Edit, Refresh and Delete above the table, the rarer actions (Duplicate,
    Rename, Activate, Deactivate, Download CSV, Add to) under More. Details open above the table.

    >>> SegmentManager(ws)
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages = Messages()
        self.sort_column = "name"
        self.sort_descending = False
        self.selected: set[str] = set()
        self.anchor: str | None = None  # the row a shift-click extends from
        self.frame = pd.DataFrame()
        self.catalog_size = 0  # segments in the catalog, before the search
        self.trends: dict[str, list[int]] = {}
        self.refreshing: threading.Thread | None = None
        self.last_runs: list[Any] = []
        self.progress_text = ""
        self.detail: Any = None  # the opened SegmentView or SegmentBuilder
        self._pending_delete: list[str] = []
        self._uid = uuid.uuid4().hex[:12]
        g = self.messages.guard
        self.messages.after = self.update_mirror

        self.search = W.Text(
            placeholder="Search name, display name, description", layout=W.Layout(width="300px")
        )
        self.search.observe(g(lambda c: self.render()), names="value")  # filters as you type
        self.clear_search_button = theme.button("Clear search", icon="times", width="auto")
        self.clear_search_button.layout.display = "none"
        self.refresh_all_button = theme.button(
            "Refresh all", icon="refresh", tooltip="Refresh every active segment", width="auto"
        )
        self.reload_button = theme.button(
            "", icon="repeat", tooltip="Reload the list from the catalog", width="36px"
        )
        # Clicks in the table come back through this hidden text box (see TABLE_SCRIPT): ipywidgets has no
        # table widget, and a button's click carries no shift/ctrl state.
        self.bridge = W.Text(layout=W.Layout(display="none"))
        self.bridge.add_class("jseg-bridge-" + self._uid)
        self.bridge.observe(g(lambda c: self.on_table_event(c["new"])), names="value")
        self.table = W.HTML(layout=W.Layout(width="100%"))
        self.count_label = W.HTML()

        def action(label: str, icon: str, tip: str, kind: str = "") -> W.Button:
            return theme.button(label, icon=icon, tooltip=tip, kind=kind, width="auto")

        self.view_button = action("View", "eye", "Trend, members preview and run history", "primary")
        self.edit_button = action("Edit", "pencil", "Open the definition in the builder")
        self.refresh_button = action("Refresh", "refresh", "Evaluate the selected segments now")
        self.delete_button = action("Delete", "trash", "Delete the selected segments", "danger")
        self.more_button = W.ToggleButton(
            description="More", icon="ellipsis-h", tooltip="Duplicate, rename, schedule, export",
            layout=W.Layout(width="auto"),
        )  # fmt: skip
        self.duplicate_button = action("Duplicate", "copy", "Copy under the new name (default: <name>_copy)")
        self.rename_button = action("Rename", "i-cursor", "Rename to the new name")
        self.activate_button = action("Activate", "play", "Activate now (or at the time given)")
        self.deactivate_button = action("Deactivate", "pause", "Deactivate now (or at the time given)")
        self.download_button = action("Download CSV", "download", "Write all members to a CSV file")
        self.add_to_button = action("Add to", "share", "Send the members to a destination")
        self.new_name = W.Text(placeholder="new name", layout=W.Layout(width="180px"))
        self.schedule_at = W.Text(
            placeholder="at YYYY-MM-DD HH:MM (optional)", layout=W.Layout(width="230px")
        )
        self.csv_path = W.Text(placeholder="file.csv (default: <name>.csv)", layout=W.Layout(width="230px"))
        self.destination = W.Dropdown(options=self._destinations(), layout=W.Layout(width="130px"))
        self.destination_target = W.Text(placeholder="path / table / url", layout=W.Layout(width="200px"))
        self.selection_label = W.HTML()
        self.confirm_box = W.HBox()
        self.progress = W.IntProgress(min=0, max=1, value=0, layout=W.Layout(width="240px", display="none"))
        self.progress_label = W.HTML()
        self.progress_box = W.HBox(
            [self.progress, self.progress_label], layout=W.Layout(align_items="center", display="none")
        )
        self.runs_html = W.HTML()
        self.detail_box = W.VBox()
        self.close_detail_button = theme.button(
            "Close", icon="times", tooltip="Close the details", width="auto"
        )
        self.detail_title = W.HTML()
        self.detail_panel = W.VBox(
            [
                W.HBox(
                    [self.detail_title, W.HBox(layout=W.Layout(flex="1 1 auto")), self.close_detail_button],
                    layout=W.Layout(align_items="center"),
                ),
                self.detail_box,
            ],
            layout=W.Layout(display="none"),
        )
        self.detail_panel.add_class("jseg-section")

        for b, fn, title in [
            (self.refresh_all_button, self.refresh_all, "Refresh failed"),
            (self.reload_button, self.render, "Could not reload"),
            (self.clear_search_button, self.clear_search, ""),
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
            (self.close_detail_button, self.close_detail, ""),
        ]:
            self.messages.on_click(b, fn, title)
        self.more_box = W.VBox(
            [
                W.HBox([self.duplicate_button, self.rename_button, self.new_name]),
                W.HBox([self.activate_button, self.deactivate_button, self.schedule_at]),
                W.HBox([self.download_button, self.csv_path]),
                W.HBox([self.add_to_button, self.destination, self.destination_target]),
            ],
            layout=W.Layout(display="none"),
        )
        self.more_box.add_class("jseg-group")
        self.more_button.observe(g(lambda c: self._show_more(c["new"])), names="value")

        self.widget = theme.root(
            [
                W.HTML(PAGE_CSS),
                theme.title(
                    "Segments", "Click a row to select it; shift-click for a range, ctrl-click to add."
                ),
                W.HBox(
                    [self.search, self.clear_search_button, self.refresh_all_button, self.reload_button],
                    layout=W.Layout(align_items="center", flex_flow="row wrap"),
                ),
                W.HBox(
                    [
                        self.view_button,
                        self.edit_button,
                        self.refresh_button,
                        self.delete_button,
                        self.more_button,
                        self.selection_label,
                    ],
                    layout=W.Layout(align_items="center", flex_flow="row wrap"),
                ),  # fmt: skip
                self.more_box,
                self.confirm_box,
                self.messages.widget,
                self.progress_box,
                self.runs_html,
                self.detail_panel,
                self.count_label,
                self.table,
                self.bridge,
            ]
        )
        self.widget.add_class("jseg-page")
        self.render()

    def to_text(self) -> str:
        """The page as plain text: one line per segment (terminals, logs)."""
        head = f"Segments page: {self.count_text()}"
        if not len(self.frame):
            return head
        cols = [k for k, _ in COLUMNS if k not in ("trend", "display_name")]
        shown = self.frame[cols].copy()
        shown["members"] = [_members(v) for v in shown["members"]]
        shown["last_refresh"] = [_when(v) for v in shown["last_refresh"]]
        shown["draft"] = ["draft" if d else "" for d in shown["draft"]]
        shown.columns = [dict(COLUMNS)[c].lower() for c in cols]
        return head + "\n" + shown.fillna("").to_string(index=False)

    def count_text(self) -> str:
        total = len(self.frame)
        if total:
            matching = f" matching '{self.search.value}'" if self.search.value else ""
            return f"{total} segment{'s' if total != 1 else ''}{matching}"
        if self.catalog_size and self.search.value:
            return f"no segment matches '{self.search.value}' (of {self.catalog_size})"
        return "no segments yet: save one from the builder (%segment builder) or with ws.segment(name, definition)"

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
        self.catalog_size = len(frame) if not self.search.value else len(self.ws.segments())
        self.trends = {}
        for name in frame["name"]:
            hist = self.ws.get(name).history()
            ok = hist[hist["status"].astype(str) == "Successful"]["members"].dropna().astype(int).tolist()
            self.trends[name] = ok[-TREND_RUNS:]
        self.selected &= set(frame["name"])
        self.frame = frame
        return frame

    def render(self) -> None:
        self.load()
        self.table.value = self.table_html(interactive=True)
        self.clear_search_button.layout.display = "" if self.search.value else "none"
        self.count_label.value = f'<span class="jseg-muted">{html.escape(self.count_text())}</span>'
        self._update_actions()

    def table_html(self, *, interactive: bool) -> str:
        """The segments as an HTML table; ``interactive`` adds the click handlers (TABLE_SCRIPT)."""
        if not len(self.frame):
            if self.catalog_size and self.search.value:
                text = (f"No segment matches ‘{html.escape(self.search.value)}’. "
                        "Clear the search to see all of them.")  # fmt: skip
            else:
                text = ("No segments yet. Save one from the builder (<code>%segment builder</code>) or with "
                        "<code>ws.segment(name, definition)</code>; it appears here.")  # fmt: skip
            return f'<div class="jseg-empty">{text}</div>'
        send = TABLE_SCRIPT.replace("UID", self._uid)
        heads = []
        for key, label in COLUMNS:
            num = ' class="num"' if key == "members" else ""
            if key in SORTABLE:
                sorted_here = key == self.sort_column
                arrow = (" ▼" if self.sort_descending else " ▲") if sorted_here else ""
                aria = ("descending" if self.sort_descending else "ascending") if sorted_here else "none"
                click = (
                    f' onclick="{send}" onkeydown="{KEY_SCRIPT}" data-sort="{key}" tabindex="0"'
                    if interactive
                    else ""
                )
                heads.append(
                    f'<th{num} aria-sort="{aria}" title="Sort by {label.lower()}"{click}>{label}{arrow}</th>'
                )
            else:
                heads.append(f"<th{num}>{label}</th>")
        rows = []
        for _, r in self.frame.iterrows():
            name = str(r["name"])
            selected = name in self.selected
            cls = ' class="jseg-selected"' if selected else ""
            attrs = (f' data-name="{html.escape(name)}" onclick="{send}" ondblclick="{send}" onkeydown="{KEY_SCRIPT}" tabindex="0"'
                     f' aria-selected="{str(selected).lower()}"') if interactive else ""  # fmt: skip
            cells = "".join(self._cell(key, r) for key, _ in COLUMNS)
            rows.append(f"<tr{cls}{attrs}>{cells}</tr>")
        table_cls = "jseg-table jseg-grid" + (" jseg-clickable" if interactive else "")
        return (
            f'<table class="{table_cls}" role="grid" aria-multiselectable="true"><thead><tr>{"".join(heads)}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def _cell(self, key: str, r: pd.Series) -> str:
        v = r.get(key)
        if key == "trend":
            return f'<td><span class="jseg-spark">{sparkline(self.trends.get(r["name"], []))}</span></td>'
        if key == "members":
            return f'<td class="num">{_members(v)}</td>'
        if key == "last_status":
            return f"<td>{theme.status_badge(v)}</td>"
        if key == "state":
            return f"<td>{theme.badge(str(v), 'ok' if v == 'active' else '')}</td>"
        if key == "draft":
            return f"<td>{theme.badge('draft', 'mid') if bool(v) else ''}</td>"
        if key == "last_refresh":
            return f"<td>{_when(v)}</td>"
        text = "" if is_null(v) else str(v)
        return f"<td>{'<b>' + html.escape(text) + '</b>' if key == 'name' else html.escape(text)}</td>"

    def on_table_event(self, message: str) -> None:
        """A click in the table, as the browser sends it: {"row": name, "shift", "ctrl", "open"} or {"sort"}."""
        if not message:
            return
        event = json.loads(message)
        if "sort" in event:
            self.sort_by(str(event["sort"]))
        elif "row" in event:
            self.click_row(str(event["row"]), shift=bool(event.get("shift")), ctrl=bool(event.get("ctrl")))
            if event.get("open"):
                self.view_selected()

    def click_row(self, name: str, *, shift: bool = False, ctrl: bool = False) -> None:
        """Select as a file list does: a click selects the row alone, ctrl adds or removes it, shift
        selects the rows from the last clicked one to this one."""
        order = [str(n) for n in self.frame["name"]]
        if name not in order:
            raise SegmentError(f"no segment '{name}' in the table")
        if shift and self.anchor in order:
            a, b = sorted((order.index(self.anchor), order.index(name)))
            span = set(order[a : b + 1])
            self.selected = (self.selected | span) if ctrl else span
        elif ctrl:
            self.selected ^= {name}
            self.anchor = name
        else:
            self.selected = {name}
            self.anchor = name
        # the actions first: a front end that sees the new selection already sees what it allows
        self._update_actions()
        self.table.value = self.table_html(interactive=True)

    def _update_actions(self) -> None:
        """Enable the actions that apply to the selection (and say why the others are off)."""
        chosen = self.frame[self.frame["name"].isin(self.selected)] if len(self.frame) else self.frame
        n = len(chosen)
        one = n == 1
        states = set(chosen["state"]) if n else set()
        has_members = bool(n) and bool(chosen["members"].notna().all())
        for b, ok in [
            (self.view_button, one),
            (self.edit_button, one),
            (self.duplicate_button, one),
            (self.rename_button, one),
            (self.refresh_button, n > 0),
            (self.delete_button, n > 0),
            (self.activate_button, n > 0 and bool(states - {"active"})),
            (self.deactivate_button, n > 0 and "active" in states),
            (self.download_button, has_members),
            (self.add_to_button, has_members),
        ]:
            b.disabled = not ok
        busy = self.refreshing is not None and self.refreshing.is_alive()
        self.refresh_button.disabled = self.refresh_button.disabled or busy
        names = ", ".join(sorted(self.selected)[:3]) + (" …" if n > 3 else "")
        self.selection_label.value = (
            f'<span class="jseg-muted">{n} selected: {html.escape(names)}</span>'
            if n
            else '<span class="jseg-muted">Click a row to select it.</span>'
        )

    def _show_more(self, on: bool) -> None:
        self.more_box.layout.display = "" if on else "none"

    def sort_by(self, column: str) -> None:
        """Sort by a column; sorting by the same column again reverses the order."""
        if column not in SORTABLE:
            raise SegmentError(f"cannot sort by {column!r}")
        if column == self.sort_column:
            self.sort_descending = not self.sort_descending
        else:
            self.sort_column, self.sort_descending = column, False
        self.render()

    def select(self, *names: str) -> None:
        """Select exactly these rows (as clicking the first and ctrl-clicking the others would)."""
        missing = [n for n in names if n not in set(self.frame["name"])]
        if missing:
            raise SegmentError(f"no segment {', '.join(map(repr, missing))} in the table")
        self.selected = set(names)
        self.anchor = names[-1] if names else None
        self.table.value = self.table_html(interactive=True)
        self._update_actions()

    def clear_search(self) -> None:
        self.search.value = ""

    def _names(self, one: bool = False) -> list[str]:
        names = [n for n in self.frame["name"] if n in self.selected] if len(self.frame) else []
        if not names:
            raise SegmentError("select a segment first (click its row)")
        if one and len(names) > 1:
            raise SegmentError("select exactly one segment for this action")
        return names

    def _open(self, detail: Any) -> None:
        if self.detail is not None:
            self.detail.close()
        self.detail = detail
        kind = "Edit" if isinstance(detail, SegmentBuilder) else "View"
        name = html.escape(self._names(one=True)[0])
        self.detail_title.value = f'<span class="jseg-label">{kind}: {name}</span>'
        self.detail_box.children = [detail.widget]
        self.detail_panel.layout.display = ""

    def close_detail(self) -> None:
        if self.detail is not None:
            self.detail.close()
        self.detail = None
        self.detail_box.children = []
        self.detail_panel.layout.display = "none"

    # -- actions ---------------------------------------------------------------------------------
    def view_selected(self) -> None:
        self._open(SegmentView(self.ws, self._names(one=True)[0]))

    def edit_selected(self) -> None:
        self._open(SegmentBuilder(self.ws, self._names(one=True)[0]))

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
        self.progress.layout.display = self.progress_box.layout.display = ""
        self._busy(True)
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

    def _busy(self, on: bool) -> None:
        """While a refresh runs: the buttons that start one are off and say so, with a spinner."""
        self.refresh_all_button.disabled = on
        self.refresh_all_button.description = "Refreshing…" if on else "Refresh all"
        self.refresh_all_button.icon = "spinner" if on else "refresh"
        (self.refresh_all_button.add_class if on else self.refresh_all_button.remove_class)("jseg-busy")
        self._update_actions()

    def _finish(self, t0: float) -> None:
        runs = self.last_runs
        self.progress.value = self.progress.max
        elapsed = time.monotonic() - t0
        ok = sum(1 for r in runs if str(r.status) == "Successful")
        self.progress_text = f"{len(runs)} of {self.progress.max} done, {ok} successful, in {elapsed:.1f} s"
        self.progress_label.value = f'<span class="jseg-muted">{self.progress_text}</span>'
        rows = []
        for r in runs:
            # Failed runs say why in errors; Skipped and Canceled ones may say it in warnings.
            reasons = list(r.errors or []) or (
                list(r.warnings or []) if str(r.status) != "Successful" else []
            )
            reason = "<br>".join(html.escape(e) for e in reasons)
            tone = "var(--jp-error-color1)" if str(r.status) == "Failed" else "var(--jp-ui-font-color1)"
            rows.append(
                f"<tr><td>{html.escape(r.segment)}</td><td>{theme.status_badge(r.status)}</td>"
                f'<td class="num">{theme.fmt_int(r.members)}</td>'
                f'<td class="num">{_signed(r.added, "+")}</td>'
                f'<td class="num">{_signed(r.removed, MINUS)}</td>'
                f'<td class="num">{"" if r.duration is None else f"{r.duration:.2f} s"}</td>'
                f'<td style="white-space:normal; color: {tone}">{reason}</td></tr>'
            )
        self.runs_html.value = (
            '<table class="jseg-table"><tr><th>Segment</th><th>Status</th><th class="num">Members</th>'
            '<th class="num">Joined</th><th class="num">Left</th><th class="num">Duration</th><th>Reason</th></tr>'
            + "".join(rows)
            + "</table>"
        )
        self.refreshing = None
        self._busy(False)
        if not self.refresh_error:
            self.messages.info(self.progress_text[:1].upper() + self.progress_text[1:] + ".")
        if self.refresh_error:
            self.messages.error(self.refresh_error, "Refresh failed")
        try:
            self.render()
        except Exception as e:  # noqa: BLE001
            self.messages.show_exception(e)
        self.update_mirror()

    def wait(self, timeout: float = 60.0) -> list[Any]:
        """Wait for a running refresh to finish (tests, scripts); returns its runs."""
        for t in (self.refreshing, getattr(self, "_watcher", None)):
            if t is not None:
                t.join(timeout)
        return self.last_runs

    def static_html(self) -> str:
        """The page without widgets (exported notebooks): the table with states, statuses and counts."""
        runs = f"<div>{self.runs_html.value}</div>" if self.runs_html.value else ""
        return (
            f"{theme.CSS}{PAGE_CSS}<div class='jseg-static'><div class='jseg-title'>Segments</div>"
            f"<div class='jseg-muted'>{html.escape(self.count_text())}</div>{self.table_html(interactive=False)}{runs}</div>"
        )
