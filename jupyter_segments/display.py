"""Rich display objects for magics results: HTML in JupyterLab, readable plain text in a terminal and nbconvert.

Nothing here imports IPython: the objects follow IPython's display protocol (``_repr_html_``,
``_repr_pretty_``) so they render wherever that protocol is honoured, and print sensibly elsewhere.
"""

from __future__ import annotations

import datetime as dt
import html
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import render
from .backends.base import bare_name, mask_url
from .dsl import parse, to_text
from .errors import SegmentError
from .model import KeyCheck, columns_text
from .session import as_datetime

if TYPE_CHECKING:
    from .bind.checks import CheckWarning
    from .dsl import ast as A
    from .workspace import Workspace

# JupyterLab theme variables (with fallbacks for classic notebook / nbconvert HTML), so dark themes work.
_BOX = (
    "border:1px solid var(--jp-border-color2,#ddd);border-radius:4px;padding:6px 10px;margin:4px 0;"
    "font-family:var(--jp-ui-font-family,sans-serif);color:var(--jp-ui-font-color1,inherit)"
)
_MUTED = "color:var(--jp-ui-font-color2,#666)"
_WARN_TEXT = "color:var(--jp-warn-color0,#a65e00);font-weight:600"
_WARNING = "color:var(--jp-warn-color0,#a65e00);border-left:3px solid var(--jp-warn-color1,#f5a623)"
_PRE = (
    "background:var(--jp-layout-color2,#f6f6f6);padding:6px;margin:4px 0;overflow-x:auto;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _frame_html(frame: pd.DataFrame, max_rows: int = 50) -> str:
    return render.frame_html(frame, max_rows=max_rows, empty="(none)")


def _frame_text(frame: pd.DataFrame, max_rows: int = 50) -> str:
    # Lists, histories and run results: every column is kept (no width limit); values as in the previews.
    return render.frame_text(frame, max_rows=max_rows, width=None, empty="(empty)")


class _Pretty:
    """Plain text via ``to_text()`` for ``repr()``-less contexts: IPython's pretty printer and ``str()``."""

    def to_text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.to_text())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # IPython's pretty printer prefers a __repr__ defined on a class over an inherited _repr_pretty_:
        # give every subclass its own, so terminals and nbconvert show the readable text.
        super().__init_subclass__(**kwargs)
        cls._repr_pretty_ = _Pretty._repr_pretty_  # type: ignore[method-assign]


class SegmentResult(_Pretty):
    """An evaluated segment: ``count``, ``preview`` (first members), ``sql``; ``members()`` fetches all.

    The evaluation time is pinned (``as_of``) so ``members()`` called later selects the same customers
    that were counted, even when the definition has relative windows such as ``in last 90 days``.

    Shown as a one-line header (name, members, share of all customers, evaluation time, as_of, saved or
    ad hoc, warnings), the static-check warnings, the first members (key, projected columns, then the
    customer columns, or those chosen by ``columns``) and the SQL: HTML in JupyterLab, a text table that
    fits 100 columns in a terminal.
    """

    def __init__(
        self,
        ws: Workspace,
        definition: A.Definition,
        *,
        name: str | None,
        count: int,
        preview: pd.DataFrame,
        sql: str,
        as_of: dt.datetime | dt.date,
        saved: bool = False,
        draft: bool = False,
        dialect: str | None = None,
        warnings: list[CheckWarning] | None = None,
        total: int | None = None,
        seconds: float | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        self._ws = ws
        self.warnings = list(warnings or [])  # the static checks' findings, shown above the members
        self.dialect = dialect or ws.dialect  # of ``sql``
        self.definition = definition
        self.name = name
        self.count = count
        self.preview = preview
        self.sql = sql
        self.as_of = as_of
        self.saved = saved
        self.draft = draft
        self.total = total  # all customers, for the share
        self.seconds = seconds  # evaluation time: the count and the preview
        # The customer columns shown (None: all); checked now, so a typo fails here and not at display.
        self.columns = render.choose_columns(list(preview.columns), columns) if columns else None
        self.key = _customer_key(ws)
        self.projected = render.projected_columns(definition)

    @classmethod
    def evaluate(
        cls,
        ws: Workspace,
        definition: A.Definition,
        *,
        name: str | None = None,
        as_of: dt.datetime | dt.date | str | None = None,
        preview_rows: int = 10,
        dialect: str | None = None,
        saved: bool = False,
        draft: bool = False,
        columns: Sequence[str] | None = None,
    ) -> SegmentResult:
        """Count and preview ``definition`` in the database; the SQL shown is in ``dialect``.

        Without ``as_of`` the SQL shown keeps relative windows relative (``CURRENT_DATE``) so it can be
        scheduled as it is, while the count and preview are evaluated at the current time. ``columns``
        chooses the customer columns shown (the key and the projected columns always are).
        """
        pinned = _pin(as_of)
        if columns:  # before any query: a misspelt column is reported at once
            render.choose_columns(_customer_columns(ws), columns)
        warnings = ws.check(definition)  # legal but almost certainly wrong: said before the numbers
        started = time.perf_counter()
        count = ws.count(definition, as_of=pinned)
        preview = ws.members(definition, limit=max(0, preview_rows), as_of=pinned)
        seconds = time.perf_counter() - started
        total = ws.customer_count()
        sql = ws.compile(definition, dialect=dialect or ws.dialect, as_of=as_of)
        return cls(
            ws,
            definition,
            name=name,
            count=count,
            preview=preview,
            sql=sql,
            as_of=pinned,
            saved=saved,
            draft=draft,
            warnings=warnings,
            total=total,
            seconds=seconds,
            columns=columns,
        )

    @property
    def text(self) -> str:
        """The definition as DSL text (with bound values written as literals)."""
        return to_text(self.definition)

    def members(self, limit: int | None = None) -> pd.DataFrame:
        """All members (or the first ``limit``) as a DataFrame: customer columns plus projected columns."""
        return self._ws.members(self.definition, limit=limit, as_of=self.as_of)

    def table(self) -> render.MembersTable:
        """The preview as shown: key, projected columns, then the chosen customer columns."""
        return render.MembersTable(self.preview, key=self.key, projected=self.projected, columns=self.columns)

    def _title(self) -> str:
        return f"segment {self.name}" if self.name else "unnamed segment"

    def _status(self) -> str:
        if self.draft:
            return "saved as draft"
        if self.name is None:
            return "ad hoc"
        return "saved" if self.saved else "not saved"

    def _header_fields(self) -> list[tuple[str, str]]:
        """(field, text) in header order: name, members, share, time, as_of, status, warnings."""
        fields = [("name", self._title()), ("members", f"{self.count:,} members")]
        if self.total is not None:
            fields.append(("share", f"{render.share(self.count, self.total)} of {self.total:,} customers"))
        if self.seconds is not None:
            fields.append(("time", f"took {render.duration(self.seconds)}"))
        fields.append(("as_of", f"as of {_when(self.as_of)}"))
        fields.append(("status", self._status()))
        if self.warnings:
            n = len(self.warnings)
            fields.append(("warnings", f"{n} warning{'s' if n > 1 else ''}"))
        return fields

    def _preview_note(self, table: render.MembersTable) -> str:
        if not len(self.preview):
            return "no members" if not self.count else "no preview (--preview 0)"
        more = f" of {self.count:,}" if self.count > len(self.preview) else ""
        note = f"first {len(self.preview)}{more} members"
        if self.key:
            note += f" by {self.key}"
        if table.hidden:
            n = len(table.hidden)
            note += f"; {n} customer column{'s' if n > 1 else ''} not chosen"
        return note

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        return f"<SegmentResult{name}: {self.count:,} members as of {self.as_of}>"

    def to_text(self) -> str:
        width = render.TEXT_WIDTH
        lines = _wrap([text for _, text in self._header_fields()], width)
        lines += [f"warning: {w}" for w in self.warnings]
        table = self.table()
        lines.append(self._preview_note(table) + (":" if len(self.preview) else ""))
        if len(self.preview):
            lines.append(table.text(width))
        lines.append(f"SQL ({self.dialect}):")
        lines.append(self.sql)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = []
        for field, text in self._header_fields():
            if field == "name":
                label = "segment " if self.name else ""
                parts.append(f"<b>{_e(label + (self.name or 'unnamed segment'))}</b>")
            elif field == "members":
                parts.append(f"<b>{self.count:,}</b> members")
            elif field == "warnings":
                parts.append(f"<span class='jseg-head-warn' style='{_WARN_TEXT}'>{_e(text)}</span>")
            else:
                parts.append(f"<span class='jseg-head-{field}' style='{_MUTED}'>{_e(text)}</span>")
        sep = f"<span style='{_MUTED}'> · </span>"
        head = f"<div class='jseg-head'>{sep.join(parts)}</div>"
        head += "".join(f"<pre style='{_PRE};{_WARNING}'>warning: {_e(str(w))}</pre>" for w in self.warnings)
        table = self.table()
        note = f"<div class='jseg-note' style='{_MUTED}'>{_e(self._preview_note(table))}</div>"
        body = table.html() if len(self.preview) else render.CSS
        sql = f"<details><summary>SQL ({_e(self.dialect)})</summary><pre style='{_PRE}'>{_e(self.sql)}</pre></details>"
        return f"<div class='jseg-result' style='{_BOX}'>{head}{note}{body}{sql}</div>"


def _customer_key(ws: Any) -> str | None:
    try:
        return ws.model.customer_key
    except AttributeError:
        return None


def _customer_columns(ws: Any) -> list[str]:
    try:
        return [str(c) for c in ws.model.customer_entity().columns]
    except (AttributeError, SegmentError):
        return []


def _when(value: dt.datetime | dt.date) -> str:
    """An as_of for people: the date alone when it is midnight (``--as-of 2025-06-30``)."""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0) and value.tzinfo is None:
        return value.date().isoformat()
    return render.format_value(value)


def _wrap(fields: list[str], width: int, sep: str = " · ") -> list[str]:
    """Fields joined by ``sep`` on as few lines of at most ``width`` characters as they fit on."""
    lines: list[str] = []
    for field in fields:
        if lines and len(lines[-1]) + len(sep) + len(field) <= width:
            lines[-1] += sep + field
        else:
            lines.append(field)
    return lines


def _pin(as_of: dt.datetime | dt.date | str | None) -> dt.datetime | dt.date:
    if as_of is None:
        return dt.datetime.now().replace(microsecond=0)
    if isinstance(as_of, str):
        return as_datetime(as_of)
    return as_of


class SqlView(_Pretty):
    """Compiled SQL, shown without running it; plain text is exactly the SQL (easy to copy)."""

    def __init__(self, sql: str, dialect: str, title: str | None = None) -> None:
        self.sql = sql
        self.dialect = dialect
        self.title = title

    def __repr__(self) -> str:
        return f"<SqlView {self.dialect}: {len(self.sql)} characters>"

    def to_text(self) -> str:
        return self.sql

    def _repr_html_(self) -> str:
        title = f"{_e(self.title)} · " if self.title else ""
        return (
            f"<div style='{_BOX}'><div style='{_MUTED}'>{title}SQL for {_e(self.dialect)}</div>"
            f"<pre style='{_PRE}'>{_e(self.sql)}</pre></div>"
        )


class Message(_Pretty):
    """A one-line confirmation such as ``connected to duckdb://...``; URLs are always masked."""

    def __init__(self, text: str) -> None:
        self.text = mask_url(text)

    def __repr__(self) -> str:
        return f"<Message {self.text!r}>"

    def to_text(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<div style='{_MUTED};font-family:var(--jp-ui-font-family,sans-serif)'>{_e(self.text)}</div>"


class FrameView(_Pretty):
    """A titled DataFrame (segment lists, histories, run results)."""

    def __init__(self, frame: pd.DataFrame, title: str = "", note: str = "") -> None:
        self.frame = frame
        self.title = title
        self.note = note

    def __repr__(self) -> str:
        return f"<FrameView {self.title!r}: {len(self.frame)} rows>"

    def to_text(self) -> str:
        parts = [self.title] if self.title else []
        parts.append(_frame_text(self.frame) if len(self.frame) else "(none)")
        if self.note:
            parts.append(self.note)
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        title = f"<div><b>{_e(self.title)}</b></div>" if self.title else ""
        body = _frame_html(self.frame) if len(self.frame) else f"<div style='{_MUTED}'>(none)</div>"
        note = f"<div style='{_MUTED}'>{_e(self.note)}</div>" if self.note else ""
        return f"<div style='{_BOX}'>{title}{body}{note}</div>"


class ModelView(_Pretty):
    """The connected model: entities with key and typed columns, relationships (declared and inferred)."""

    def __init__(self, ws: Workspace) -> None:
        model = ws.model
        self.url = mask_url(ws.backend.display_url)
        self.dialect = ws.dialect
        self.customer = model.customer
        self.entities: list[tuple[str, str | None, list[tuple[str, str, str]]]] = []
        tables = model.known_tables()  # tables of other schemas too, where the model uses them
        # The customer entity first: it is what every definition is evaluated on.
        ordered = sorted(tables, key=lambda t: (t != model.customer, t))
        for table in ordered:
            entity = model.entity(table)
            cols: list[tuple[str, str, str]] = [(c.name, c.type, c.db_type) for c in entity.columns.values()]
            self.entities.append((table, ", ".join(entity.keys) or None, cols))
        self.relationships = model.relationships_frame()
        # Which links have role names other than their tables' own (bare) names.
        self.named = [
            (r.many_name, r.one_name) != (bare_name(r.child), bare_name(r.parent))
            for r in model.relationships()
        ]
        # key checks answered (here or remembered by the catalog): table.(columns), verdict, when
        self.key_checks = [
            (columns_text(table, cols), _key_verdict(check), check.checked_at)
            for table, cols, check in model.key_checks()
        ]
        try:
            measures = model.all_measures()
        except Exception:  # noqa: BLE001 - a broken measure source must not hide the model
            measures = {}
        self.measures = dict(measures)

    def __repr__(self) -> str:
        return (
            f"<ModelView {self.url}: {len(self.entities)} entities, {len(self.relationships)} relationships>"
        )

    def to_text(self) -> str:
        lines = [f"model of {self.url} ({self.dialect})"]
        if self.customer is None:
            lines.append("no customer entity yet: %segment customers TABLE --key COLUMN")
        lines.append("")
        for table, key, cols in self.entities:
            role = " (customer entity)" if table == self.customer else ""
            lines.append(f"{table}{role}" + (f"  key: {key}" if key else ""))
            width = max((len(c[0]) for c in cols), default=0)
            for name, typ, db_type in cols:
                lines.append(f"  {name.ljust(width)}  {typ} ({db_type})")
        lines.append("")
        lines.append("relationships (child -> parent):")
        for r, named in zip(self.relationships.itertuples(index=False), self.named, strict=True):
            assumed = ", integrity assumed" if r.assume_integrity else ""
            roles = f"  as {r.name} (from {r.parent}) / {r.parent_name} (from {r.child})" if named else ""
            lines.append(
                f"  {r.child}.{r.child_column} -> {r.parent}.{r.parent_column}{roles}  [{r.origin}{assumed}]"
            )
        if self.key_checks:
            lines.append("")
            lines.append("key checks:")
            for key, verdict, checked_at in self.key_checks:
                lines.append(f"  {key}: {verdict} (checked {checked_at})")
        if self.measures:
            lines.append("")
            lines.append("measures:")
            for name, expr in sorted(self.measures.items()):
                lines.append(f"  {name} = {expr}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<div><b>model</b> <span style='{_MUTED}'>{_e(self.url)} ({_e(self.dialect)})</span></div>"]
        if self.customer is None:
            parts.append(
                f"<div style='{_MUTED}'>no customer entity yet: <code>%segment customers TABLE --key COLUMN</code></div>"
            )
        cards = []
        for table, key, cols in self.entities:
            role = " <i>(customer entity)</i>" if table == self.customer else ""
            rows = "".join(
                f"<tr><td>{'🔑 ' if key and name in key.split(', ') else ''}{_e(name)}</td><td>{_e(typ)}</td>"
                f"<td style='{_MUTED}'>{_e(db_type)}</td></tr>"
                for name, typ, db_type in cols
            )
            cards.append(
                f"<div style='display:inline-block;vertical-align:top;margin:4px 12px 4px 0'>"
                f"<b>{_e(table)}</b>{role}<table class='dataframe' border='0'>{rows}</table></div>"
            )
        parts.append("<div>" + "".join(cards) + "</div>")
        parts.append("<div><b>relationships</b> (child → parent)</div>")
        parts.append(_frame_html(self.relationships) if len(self.relationships) else "<div>(none)</div>")
        if self.key_checks:
            rows = "".join(
                f"<tr><td>{_e(k)}</td><td>{_e(v)}</td><td style='{_MUTED}'>checked {_e(t)}</td></tr>"
                for k, v, t in self.key_checks
            )
            parts.append(f"<div><b>key checks</b></div><table class='dataframe' border='0'>{rows}</table>")
        if self.measures:
            rows = "".join(
                f"<tr><td>{_e(n)}</td><td><code>{_e(x)}</code></td></tr>"
                for n, x in sorted(self.measures.items())
            )
            parts.append(f"<div><b>measures</b></div><table class='dataframe' border='0'>{rows}</table>")
        return f"<div style='{_BOX}'>{''.join(parts)}</div>"


def _key_verdict(check: KeyCheck) -> str:
    """``unique``, ``not unique: 2 values repeat`` and how many rows have a NULL key."""
    verdict = (
        "unique" if not check.repeated else f"not unique: {check.repeated} repeated (e.g. {check.example})"
    )
    if check.source == "primary key":
        verdict += " (its PRIMARY KEY)"
    return verdict + (f", {check.nulls} NULL" if check.nulls else "")


@dataclass(frozen=True)
class HelpRow:
    command: str
    description: str
    example: str


class HelpTable(_Pretty):
    """Every ``%segment`` command with a one-line description and an example."""

    def __init__(self, rows: Iterable[HelpRow], footer: Sequence[str] = ()) -> None:
        self.rows = list(rows)
        self.footer = list(footer)

    def __repr__(self) -> str:
        return f"<HelpTable: {len(self.rows)} commands>"

    def to_text(self) -> str:
        width = max(len(r.command) for r in self.rows)
        lines = ["%segment commands:"]
        for r in self.rows:
            lines.append(f"  {r.command.ljust(width)}  {r.description}")
            lines.append(f"  {' ' * width}    e.g. {r.example}")
        lines.extend(self.footer)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='text-align:left'><code>{_e(r.command)}</code></td>"
            f"<td style='text-align:left'>{_e(r.description)}</td>"
            f"<td style='text-align:left'><code>{_e(r.example)}</code></td></tr>"
            for r in self.rows
        )
        footer = "".join(f"<div style='{_MUTED}'>{_e(f)}</div>" for f in self.footer)
        return (
            f"<div style='{_BOX}'><table class='dataframe' border='0'>"
            f"<thead><tr><th>command</th><th>what it does</th><th>example</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{footer}</div>"
        )


RUN_COLUMNS = ["segment", "status", "members", "added", "removed", "duration", "errors", "warnings"]


def runs_view(runs: Sequence[Any], title: str = "refresh") -> FrameView:
    """Refresh runs as a table: status, members, joined/left, seconds, errors."""
    rows = [{c: getattr(r, c, None) for c in RUN_COLUMNS} for r in runs]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    for col in ("errors", "warnings"):
        frame[col] = frame[col].map(
            lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else (v or "")
        )
    frame["duration"] = frame["duration"].map(lambda v: None if v is None else round(float(v), 3))
    ok = sum(1 for r in runs if getattr(r, "status", "") == "Successful")
    return FrameView(frame, title=f"{title}: {ok} of {len(runs)} successful")


class SegmentCard(_Pretty):
    """A saved segment: its state, definition, last refresh and (when refreshed) the first members."""

    FIELDS = ("name", "display_name", "description", "type", "state", "draft", "version", "count", "status")

    def __init__(self, segment: Any, preview_rows: int = 10, *, key: str | None = None) -> None:
        self.info = {f: getattr(segment, f, None) for f in self.FIELDS}
        self.definition = str(getattr(segment, "definition", ""))
        self.key = key  # the customer key: first in the preview
        self.projected = _projected(self.definition)
        run = getattr(segment, "last_run", None)
        self.last_refresh = getattr(run, "finished_at", None) if run is not None else None
        self.errors = list(getattr(run, "errors", []) or []) if run is not None else []
        self.preview: pd.DataFrame | None = None
        if self.info["count"] is not None and preview_rows > 0:
            try:
                self.preview = segment.preview(preview_rows)
            except Exception:  # noqa: BLE001 - members may have been dropped; the card still shows the rest
                self.preview = None

    def __repr__(self) -> str:
        return f"<SegmentCard {self.info['name']!r} ({self.info['state']})>"

    def _facts(self) -> list[tuple[str, str]]:
        i = self.info
        members = "not refreshed yet" if i["count"] is None else f"{i['count']:,}"
        facts = [
            ("state", f"{i['state']}{' (draft)' if i['draft'] else ''}, {i['type']}"),
            ("members", members),
            ("last status", str(i["status"])),
            ("last refresh", str(self.last_refresh or "never")),
            ("version", str(i["version"])),
        ]
        if i["description"]:
            facts.insert(0, ("description", str(i["description"])))
        if self.errors:
            facts.append(("errors", "; ".join(map(str, self.errors))))
        return facts

    def to_text(self) -> str:
        i = self.info
        title = str(i["name"]) + (
            f" ({i['display_name']})" if i["display_name"] not in (None, i["name"]) else ""
        )
        lines = [f"segment {title}"]
        lines += [f"  {k}: {v}" for k, v in self._facts()]
        lines += ["definition:", *("  " + line for line in self.definition.splitlines())]
        if self.preview is not None and len(self.preview):
            lines += [f"first {len(self.preview)} members:", self._table().text()]
        return "\n".join(lines)

    def _table(self) -> render.MembersTable:
        assert self.preview is not None
        return render.MembersTable(self.preview, key=self.key, projected=self.projected)

    def _repr_html_(self) -> str:
        i = self.info
        display_name = (
            f" <span style='{_MUTED}'>{_e(i['display_name'])}</span>"
            if i["display_name"] not in (None, i["name"])
            else ""
        )
        facts = "".join(
            f"<tr><td style='text-align:left;{_MUTED}'>{_e(k)}</td><td style='text-align:left'>{_e(v)}</td></tr>"
            for k, v in self._facts()
        )
        preview = ""
        if self.preview is not None and len(self.preview):
            preview = f"<div style='{_MUTED}'>first {len(self.preview)} members</div>{self._table().html()}"
        return (
            f"<div style='{_BOX}'><div><b>segment {_e(i['name'])}</b>{display_name}</div>"
            f"<table border='0'>{facts}</table><pre style='{_PRE}'>{_e(self.definition)}</pre>{preview}</div>"
        )


def _projected(text: str) -> list[str]:
    """The PROJECT aliases of a saved definition's text (none for a draft that does not parse)."""
    try:
        return render.projected_columns(parse(text))
    except SegmentError:
        return []


def describe(obj: Any) -> Any:
    """Something displayable for an object returned by the catalog or intelligence APIs.

    Objects with their own rich display are shown as they are; lists of plain objects (refresh runs,
    suggestions) become a table of their public attributes.
    """
    if obj is None or isinstance(obj, (pd.DataFrame, pd.Series)):
        return obj
    if hasattr(obj, "_repr_html_") or hasattr(obj, "_repr_mimebundle_") or hasattr(obj, "_ipython_display_"):
        return obj
    if isinstance(obj, (list, tuple)) and obj and not isinstance(obj[0], (str, int, float)):
        return FrameView(pd.DataFrame([_public(o) for o in obj]))
    return obj


def _public(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__ if not k.startswith("_")}
    return (
        {k: v for k, v in vars(obj).items() if not k.startswith("_")}
        if hasattr(obj, "__dict__")
        else {"value": obj}
    )
