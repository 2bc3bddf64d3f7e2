"""Rich display objects for magics results: HTML in JupyterLab, readable plain text in a terminal and nbconvert.

Nothing here imports IPython: the objects follow IPython's display protocol (``_repr_html_``,
``_repr_pretty_``) so they render wherever that protocol is honoured, and print sensibly elsewhere.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .backends.base import mask_url
from .dsl import to_text
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
_WARNING = "color:var(--jp-warn-color0,#a65e00);border-left:3px solid var(--jp-warn-color1,#f5a623)"
_PRE = (
    "background:var(--jp-layout-color2,#f6f6f6);padding:6px;margin:4px 0;overflow-x:auto;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _frame_html(frame: pd.DataFrame, max_rows: int = 50) -> str:
    return frame.to_html(max_rows=max_rows, index=False, border=0, classes="dataframe", na_rep="NULL")


def _frame_text(frame: pd.DataFrame, max_rows: int = 50) -> str:
    if frame.empty and len(frame.columns) == 0:
        return "(empty)"
    with pd.option_context("display.max_columns", 30, "display.width", 120):
        return frame.to_string(index=False, max_rows=max_rows, na_rep="NULL")


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
    ) -> SegmentResult:
        """Count and preview ``definition`` in the database; the SQL shown is in ``dialect``.

        Without ``as_of`` the SQL shown keeps relative windows relative (``CURRENT_DATE``) so it can be
        scheduled as it is, while the count and preview are evaluated at the current time.
        """
        pinned = _pin(as_of)
        warnings = ws.check(definition)  # legal but almost certainly wrong: said before the numbers
        count = ws.count(definition, as_of=pinned)
        preview = ws.members(definition, limit=max(0, preview_rows), as_of=pinned)
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
        )

    @property
    def text(self) -> str:
        """The definition as DSL text (with bound values written as literals)."""
        return to_text(self.definition)

    def members(self, limit: int | None = None) -> pd.DataFrame:
        """All members (or the first ``limit``) as a DataFrame: customer columns plus projected columns."""
        return self._ws.members(self.definition, limit=limit, as_of=self.as_of)

    def _title(self) -> str:
        return f"segment {self.name}" if self.name else "ad-hoc segment"

    def _status(self) -> str:
        if self.draft:
            return "saved as draft"
        return "saved" if self.saved else ("not saved" if self.name else "")

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        return f"<SegmentResult{name}: {self.count:,} members as of {self.as_of}>"

    def to_text(self) -> str:
        status = self._status()
        lines = [
            f"{self._title()}: {self.count:,} members (as of {self.as_of}){' · ' + status if status else ''}"
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        if len(self.preview):
            lines.append(f"first {len(self.preview)}:")
            lines.append(_frame_text(self.preview))
        lines.append(f"SQL ({self.dialect}):")
        lines.append(self.sql)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        status = self._status()
        head = (
            f"<div><b>{_e(self._title())}</b>: <b>{self.count:,}</b> members "
            f"<span style='{_MUTED}'>as of {_e(self.as_of)}{' · ' + _e(status) if status else ''}</span></div>"
        )
        head += "".join(f"<pre style='{_PRE};{_WARNING}'>warning: {_e(str(w))}</pre>" for w in self.warnings)
        if len(self.preview):
            more = f" of {self.count:,}" if self.count > len(self.preview) else ""
            table = (
                f"<div style='{_MUTED}'>first {len(self.preview)}{more} members</div>"
                f"<div style='overflow-x:auto'>{_frame_html(self.preview)}</div>"
            )
        else:
            table = f"<div style='{_MUTED}'>no members</div>"
        sql = f"<details><summary>SQL ({_e(self.dialect)})</summary><pre style='{_PRE}'>{_e(self.sql)}</pre></details>"
        return f"<div style='{_BOX}'>{head}{table}{sql}</div>"


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
        return f"<div style='{_BOX}'>{title}<div style='overflow-x:auto'>{body}</div>{note}</div>"


class ModelView(_Pretty):
    """The connected model: entities with key and typed columns, relationships (declared and inferred)."""

    def __init__(self, ws: Workspace) -> None:
        model = ws.model
        self.url = mask_url(ws.backend.display_url)
        self.dialect = ws.dialect
        self.customer = model.customer
        self.entities: list[tuple[str, str | None, list[tuple[str, str, str]]]] = []
        tables = model.tables()
        # The customer entity first: it is what every definition is evaluated on.
        ordered = sorted(tables, key=lambda t: (t != model.customer, t))
        for table in ordered:
            entity = model.entity(table)
            cols: list[tuple[str, str, str]] = [(c.name, c.type, c.db_type) for c in entity.columns.values()]
            self.entities.append((table, entity.key, cols))
        self.relationships = model.relationships_frame()
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
        for r in self.relationships.itertuples(index=False):
            assumed = ", integrity assumed" if r.assume_integrity else ""
            named = (r.name, r.parent_name) != (r.child, r.parent)
            roles = f"  as {r.name} (from {r.parent}) / {r.parent_name} (from {r.child})" if named else ""
            lines.append(
                f"  {r.child}.{r.child_column} -> {r.parent}.{r.parent_column}{roles}  [{r.origin}{assumed}]"
            )
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
                f"<tr><td>{'🔑 ' if name == key else ''}{_e(name)}</td><td>{_e(typ)}</td>"
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
        if self.measures:
            rows = "".join(
                f"<tr><td>{_e(n)}</td><td><code>{_e(x)}</code></td></tr>"
                for n, x in sorted(self.measures.items())
            )
            parts.append(f"<div><b>measures</b></div><table class='dataframe' border='0'>{rows}</table>")
        return f"<div style='{_BOX}'>{''.join(parts)}</div>"


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

    def __init__(self, segment: Any, preview_rows: int = 10) -> None:
        self.info = {f: getattr(segment, f, None) for f in self.FIELDS}
        self.definition = str(getattr(segment, "definition", ""))
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
            lines += [f"first {len(self.preview)} members:", _frame_text(self.preview)]
        return "\n".join(lines)

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
            preview = (
                f"<div style='{_MUTED}'>first {len(self.preview)} members</div>"
                f"<div style='overflow-x:auto'>{_frame_html(self.preview)}</div>"
            )
        return (
            f"<div style='{_BOX}'><div><b>segment {_e(i['name'])}</b>{display_name}</div>"
            f"<table border='0'>{facts}</table><pre style='{_PRE}'>{_e(self.definition)}</pre>{preview}</div>"
        )


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
