"""One renderer for members and other tables: HTML for JupyterLab (and exported notebooks), text for terminals.

Every preview of members goes through here: the ``%%segment`` result (and its ``-o`` variable), the
segment card of ``%segment show``, the segment view's and the builder's previews, and the tables of
``%segment list`` and the run histories. So a value looks the same wherever it shows:

- columns in the order key, projected columns (the definition's ``PROJECT`` aliases), customer columns;
  ``columns=`` chooses (and orders) the customer columns;
- text left-aligned; numbers right-aligned with thousands separators (a column's decimals are those
  its values need, at most four); dates and timestamps on one line in ISO form; booleans as
  ``true``/``false``; NULL (None, NaN, NaT, NA) as ``NULL``, greyed in HTML;
- in HTML no cell wraps, and the key and projected columns stay in view (CSS ``position: sticky``)
  while the other columns scroll; colours are JupyterLab's theme variables, light and dark;
- as text, a table that fits ``width`` characters (100 by default): wide values are cut with an
  ellipsis, customer columns that do not fit are left out and named in a note.

>>> table = MembersTable(frame, key="customer_id", projected=["spend_1y"])
>>> table.html()          # for _repr_html_
>>> print(table.text())   # for a terminal
"""

from __future__ import annotations

import datetime as dt
import html
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .backends.base import is_null
from .errors import SegmentError, did_you_mean

NULL = "NULL"  # how a missing value shows, everywhere
TEXT_WIDTH = 100  # characters a plain-text table fits in
MAX_DECIMALS = 4
TEXT_CELL_MAX = 30  # characters of one value in a plain-text table before it is cut
STICKY_MAX_EM = 16.0  # widest a sticky (key or projected) column gets in HTML

# Scoped to .jseg-frame. The selectors outweigh JupyterLab's own table rules (which right-align every
# cell, let them wrap and stripe the rows); the colours are its theme variables, with fallbacks for
# exported HTML. Sticky cells get an opaque background (the row's) so scrolled cells do not show through.
CSS = """<style>
.jseg-frame { overflow: auto; max-width: 100%; margin: 4px 0; }
.jseg-frame table.jseg-members { border-collapse: separate; border-spacing: 0; table-layout: auto;
  margin: 0; width: auto; font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #000); }
.jseg-frame table.jseg-members th, .jseg-frame table.jseg-members td { white-space: nowrap;
  padding: 3px 8px; border: none; line-height: 1.4; vertical-align: middle; max-width: none; }
.jseg-frame table.jseg-members th { font-weight: 600; position: sticky; top: 0; z-index: 2;
  background: var(--jp-layout-color1, #fff); border-bottom: 1px solid var(--jp-border-color1, #bdbdbd); }
.jseg-frame table.jseg-members th.jseg-proj { color: var(--jp-brand-color1, #1976d2); }
.jseg-frame table.jseg-members td { border-bottom: 1px solid var(--jp-border-color3, #eee); }
.jseg-frame table.jseg-members tbody tr:nth-child(odd) td { background: var(--jp-layout-color0, #fff); }
.jseg-frame table.jseg-members tbody tr:nth-child(even) td {
  background: var(--jp-rendermime-table-row-background, #f5f5f5); }
.jseg-frame table.jseg-members tbody tr:hover td {
  background: linear-gradient(var(--jp-rendermime-table-row-hover-background, #e1f5fe),
    var(--jp-rendermime-table-row-hover-background, #e1f5fe)), var(--jp-layout-color0, #fff); }
.jseg-frame table.jseg-members .jseg-num { text-align: right; font-variant-numeric: tabular-nums; }
.jseg-frame table.jseg-members .jseg-text, .jseg-frame table.jseg-members .jseg-date,
.jseg-frame table.jseg-members .jseg-bool { text-align: left; }
.jseg-frame table.jseg-members td.jseg-date { font-variant-numeric: tabular-nums; }
.jseg-frame table.jseg-members td.jseg-null { color: var(--jp-ui-font-color3, #9e9e9e); font-style: italic; }
.jseg-frame table.jseg-members .jseg-sticky { position: sticky; z-index: 1; }
.jseg-frame table.jseg-members th.jseg-sticky { z-index: 3; }
.jseg-frame table.jseg-members .jseg-edge { border-right: 1px solid var(--jp-border-color1, #bdbdbd); }
.jseg-frame .jseg-clip { overflow: hidden; text-overflow: ellipsis; }
.jseg-note { color: var(--jp-ui-font-color2, #616161); font-size: var(--jp-ui-font-size0, 11px); }
</style>"""

_CONTROL = re.compile(r"[\r\n\t\v\f]+")


# --- values ---------------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, (numbers.Number, Decimal)) and not isinstance(v, (bool, np.bool_, complex))


def _is_date(v: Any) -> bool:
    return isinstance(v, (dt.date, dt.time, np.datetime64))


def column_kind(series: pd.Series) -> str:
    """'num', 'date', 'bool' or 'text': how a column's values are written and aligned."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "num"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    values = [v for v in series if not is_null(v)]
    if not values:
        return "text"
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return "bool"
    if all(_is_number(v) for v in values):
        return "num"
    if all(_is_date(v) for v in values):
        return "date"
    return "text"


def _decimals(values: Iterable[Any]) -> int:
    """The decimals a column of numbers needs (at most MAX_DECIMALS): 0 for whole numbers."""
    most = 0
    for v in values:
        if isinstance(v, (numbers.Integral, np.integer)):
            continue
        if isinstance(v, Decimal):
            exponent = v.as_tuple().exponent
            places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
            # Decimal('1.50') needs 2 places as stored; trailing zeros of a DECIMAL(p, s) are its scale.
            most = max(most, min(places, MAX_DECIMALS))
            continue
        f = float(v)
        if not math.isfinite(f):
            continue
        text = f"{f:.{MAX_DECIMALS}f}".rstrip("0")
        most = max(most, len(text) - text.index(".") - 1)
        if most >= MAX_DECIMALS:
            return MAX_DECIMALS
    return most


def _number(v: Any, decimals: int) -> str:
    if isinstance(v, (numbers.Integral, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, Decimal):
        return f"{v:,.{decimals}f}"
    f = float(v)
    if not math.isfinite(f):
        return "inf" if f > 0 else "-inf"
    text = f"{f:,.{decimals}f}"
    return "0" if decimals == 0 and text == "-0" else text


def _timestamp(v: Any) -> str:
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v)
    if isinstance(v, dt.datetime):  # pd.Timestamp too
        nanos = getattr(v, "nanosecond", 0)
        spec = "seconds" if not v.microsecond and not nanos else "auto"
        return v.isoformat(sep=" ", timespec=spec)
    if isinstance(v, dt.time):
        return v.isoformat(timespec="seconds" if not v.microsecond else "auto")
    return v.isoformat()  # dt.date


def _text(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ", ".join(NULL if is_null(x) else _text(x) for x in v) + "]"
    if _is_date(v):
        return _timestamp(v)
    if _is_number(v):
        return _number(v, _decimals([v]))
    return _CONTROL.sub(" ", str(v))


def format_column(series: pd.Series) -> tuple[str, list[str | None]]:
    """A column's kind and its values written out (None for NULL), each on one line."""
    kind = column_kind(series)
    values = list(series)
    if kind == "num":
        places = _decimals(v for v in values if not is_null(v))
        return kind, [None if is_null(v) else _number(v, places) for v in values]
    if kind == "date":
        return kind, [None if is_null(v) else _timestamp(v) for v in values]
    return kind, [None if is_null(v) else _text(v) for v in values]


def format_value(value: Any) -> str:
    """One value as the tables write it (``NULL`` for a missing one)."""
    return NULL if is_null(value) else _text(value)


# --- which columns --------------------------------------------------------------------------------------


def projected_columns(definition: Any) -> list[str]:
    """The PROJECT aliases of a definition tree (parsed or typed), in order."""
    return [str(p.alias) for p in getattr(definition, "projections", ()) or ()]


def choose_columns(available: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """``wanted`` checked against ``available`` (``SegmentError`` with a did-you-mean for a name that is
    not there), without repeats, in the order given."""
    names = [str(c) for c in available]
    chosen: list[str] = []
    for name in wanted:
        if name not in names:
            raise SegmentError(f"unknown column '{name}' in the preview columns{did_you_mean(name, names)}")
        if name not in chosen:
            chosen.append(name)
    return chosen


def parse_columns(text: str | Sequence[str] | None) -> list[str] | None:
    """``'a, b,c'`` or ``['a', 'b']`` -> ``['a', 'b', 'c']``; None or empty -> None (all columns)."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [str(i).strip() for i in items if str(i).strip()]
    return names or None


# --- the table ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # num, date, bool, text
    role: str  # key, projected, other
    cells: list[str | None]  # None: NULL

    @property
    def fixed(self) -> bool:
        """Key and projected columns: always shown, sticky in HTML."""
        return self.role in ("key", "projected")


class MembersTable:
    """A DataFrame ready to show: columns ordered (key, projected, the rest) and every value written out.

    ``columns`` chooses the other (customer) columns and their order; None shows them all. ``max_rows``
    keeps the first rows. ``hidden`` names the columns left out by ``columns``.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        key: str | Sequence[str] | None = None,
        projected: Sequence[str] = (),
        columns: Sequence[str] | None = None,
        max_rows: int | None = None,
    ) -> None:
        names = [str(c) for c in frame.columns]
        keys = [key] if isinstance(key, str) else list(key or [])
        keys = [k for k in keys if k in names]
        proj = [p for p in projected if p in names and p not in keys]
        rest = [c for c in names if c not in keys and c not in proj]
        shown_rest = rest if columns is None else [c for c in choose_columns(names, columns) if c in rest]
        self.hidden = [c for c in rest if c not in shown_rest]
        self.rows = len(frame)
        self.frame = frame if max_rows is None else frame.head(max_rows)
        position = {c: i for i, c in enumerate(names)}
        self.columns: list[Column] = []
        for role, group in (("key", keys), ("projected", proj), ("other", shown_rest)):
            for name in group:
                kind, cells = format_column(self.frame.iloc[:, position[name]])
                self.columns.append(Column(name, kind, role, cells))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __len__(self) -> int:
        return len(self.frame)

    # --- HTML -----------------------------------------------------------------------------------
    def html(self, *, max_height: str | None = None, empty: str = "no rows", style: bool = True) -> str:
        """The table as HTML (with the stylesheet unless ``style=False``); ``max_height`` (CSS) makes
        it scroll down too, under a sticky header."""
        css = CSS if style else ""
        if not self.columns or not len(self.frame):
            return f"{css}<div class='jseg-note'>{html.escape(empty)}</div>"
        sticky = [c for c in self.columns if c.fixed]
        widths = [_sticky_em(c) for c in sticky]
        lefts = [sum(widths[:i]) for i in range(len(widths))]
        attrs: dict[str, tuple[str, str, float]] = {}
        for i, (c, width) in enumerate(zip(sticky, widths, strict=True)):
            edge = " jseg-edge" if i == len(sticky) - 1 else ""
            # Left offsets add up the columns before: width in em plus 16px of padding each.
            left = f"calc({lefts[i]:.2f}em + {16 * i}px)"
            attrs[c.name] = (f" jseg-sticky{edge}", f" style='left:{left}'", width)
        head = []
        for c in self.columns:
            extra, pos, width = attrs.get(c.name, ("", "", 0.0))
            label = html.escape(c.name)
            if width:
                label = f"<div class='jseg-clip' style='width:{width:.2f}em' title='{label}'>{label}</div>"
            head.append(f"<th class='jseg-{c.kind} jseg-{_role(c)}{extra}'{pos}>{label}</th>")
        body = []
        for r in range(len(self.frame)):
            cells = []
            for c in self.columns:
                extra, pos, width = attrs.get(c.name, ("", "", 0.0))
                value = c.cells[r]
                cls = f"jseg-{c.kind}{' jseg-null' if value is None else ''}{extra}"
                text = html.escape(NULL if value is None else value)
                if width:
                    title = f" title='{text}'" if _em(value or "") > width else ""
                    text = f"<div class='jseg-clip' style='width:{width:.2f}em'{title}>{text}</div>"
                cells.append(f"<td class='{cls}'{pos}>{text}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        height = f" style='max-height:{html.escape(max_height)}'" if max_height else ""
        return (
            f"{css}<div class='jseg-frame'{height}><table class='jseg-members'>"
            f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    # --- text -----------------------------------------------------------------------------------
    def text(self, width: int | None = TEXT_WIDTH, *, empty: str = "(none)") -> str:
        """The table as text lines that fit ``width`` characters (None: no limit, no value cut)."""
        if not self.columns or not len(self.frame):
            return empty
        limit = width if width is not None else 10**9
        cap = TEXT_CELL_MAX if width is not None else 10**9
        fitted: list[tuple[Column, int]] = []
        left_out: list[str] = []
        used = 0
        for c in self.columns:
            natural = max([_width(c.name)] + [_width(v if v is not None else NULL) for v in c.cells])
            need = min(natural, max(cap, _width(c.name) if c.fixed else 0))
            sep = 2 if fitted else 0
            room = limit - used - sep
            if need > room:
                if not c.fixed or room < 6:  # a key or projected column is cut rather than left out
                    left_out.append(c.name)
                    continue
                need = room
            fitted.append((c, need))
            used += sep + need
        lines = ["  ".join(_align(_clip(c.name, w), w, c.kind == "num") for c, w in fitted).rstrip()]
        for r in range(len(self.frame)):
            row = []
            for c, w in fitted:
                value = c.cells[r]
                row.append(_align(_clip(NULL if value is None else value, w), w, c.kind == "num"))
            lines.append("  ".join(row).rstrip())
        if left_out:
            lines.append(_clip(_left_out_note(left_out), limit))
        return "\n".join(lines)


def _role(c: Column) -> str:
    return {"key": "key", "projected": "proj"}.get(c.role, "col")


def _left_out_note(names: list[str]) -> str:
    s = "" if len(names) == 1 else "s"
    return f"({len(names)} more column{s} not shown, to fit the width: {', '.join(names)})"


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _width(text: str) -> int:
    """Terminal columns of ``text`` (East Asian wide characters take two)."""
    return sum(_char_width(ch) for ch in text)


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = _char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _align(text: str, width: int, right: bool) -> str:
    pad = " " * max(0, width - _width(text))
    return pad + text if right else text + pad


def _em(text: str, bold: bool = False) -> float:
    """A generous estimate of ``text``'s width in em in a UI sans-serif font (DejaVu Sans is the widest
    common one: digits 0.64 em)."""
    total = 0.0
    for ch in text:
        if _char_width(ch) == 2:
            total += 1.05
        elif ch.isupper() or ch in "mwMW@%":
            total += 0.8
        elif ch in "ijlt.,:;'|!I ":
            total += 0.38
        else:
            total += 0.66
    return total * (1.08 if bold else 1.0)


def _sticky_em(c: Column) -> float:
    widest = max([_em(c.name, bold=True)] + [_em(v if v is not None else NULL) for v in c.cells])
    return round(min(max(widest, 2.0), STICKY_MAX_EM), 2)


# --- convenience ----------------------------------------------------------------------------------------


def frame_html(
    frame: pd.DataFrame,
    *,
    key: str | Sequence[str] | None = None,
    projected: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    max_rows: int | None = 50,
    max_height: str | None = None,
    empty: str = "no rows",
) -> str:
    """``MembersTable(frame, ...).html(...)`` in one call."""
    table = MembersTable(frame, key=key, projected=projected, columns=columns, max_rows=max_rows)
    return table.html(max_height=max_height, empty=empty)


def frame_text(
    frame: pd.DataFrame,
    *,
    key: str | Sequence[str] | None = None,
    projected: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    max_rows: int | None = 50,
    width: int | None = TEXT_WIDTH,
    empty: str = "(none)",
) -> str:
    """``MembersTable(frame, ...).text(...)`` in one call."""
    table = MembersTable(frame, key=key, projected=projected, columns=columns, max_rows=max_rows)
    return table.text(width, empty=empty)


def share(part: int, whole: int | None) -> str:
    """``part`` of ``whole`` as a percentage for people: '12.3%', '<0.1%', '100%'."""
    if not whole:
        return ""
    pct = 100.0 * part / whole
    if part and pct < 0.1:
        return "<0.1%"
    if part != whole and pct > 99.9:
        return ">99.9%"
    text = f"{pct:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def duration(seconds: float | None) -> str:
    """'0.08 s', '1.2 s', '12 s', '2 min 05 s'."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
