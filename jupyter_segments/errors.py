"""The one exception users see, with a caret under the fault."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable


class SegmentError(Exception):
    """A definition that does not parse, bind or run; or a catalog/lifecycle misuse.

    When the error comes from DSL text, ``line`` and ``column`` (1-based) point at the fault and the
    message shows the offending line with a caret under it.
    """

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        pos: int | None = None,
        end: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = message
        self.text = text
        self.pos = pos
        self.end = end  # where the fault ends in ``text`` (the caret's width), when known
        self.hint = hint
        self.line: int | None = None
        self.column: int | None = None
        full = message
        if text is not None and pos is not None:
            self.line, self.column, excerpt = point_at(text, pos, end)
            full = f"line {self.line}, column {self.column}: {message}\n{excerpt}"
        if hint:
            full += f"\n{hint}"
        super().__init__(full)


def point_at(text: str, pos: int, end: int | None = None) -> tuple[int, int, str]:
    r"""Where ``text[pos:end]`` is: its 1-based line and column, and its line with carets under it.

    >>> point_at("age > 50 and\nage < 30", 13, 21)
    (2, 1, '  age < 30\n  ^^^^^^^^')
    """
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end == -1 else line_end
    stop = max(pos + 1, min((end if end is not None else pos + 1), line_end))
    # The caret line copies the tabs before the fault and counts wide characters twice, so that it
    # stays under the fault in a terminal or a notebook's monospaced output.
    excerpt = f"  {text[line_start:line_end]}\n  {_blank(text[line_start:pos])}{'^' * _width(text[pos:stop])}"
    return line, pos - line_start + 1, excerpt


def _width(s: str) -> int:
    """Columns ``s`` takes in a monospaced font: East Asian wide and fullwidth characters take two;
    combining marks none; at least 1 (a caret under the end of the text)."""
    return max(1, sum(_char_width(c) for c in s))


def _char_width(c: str) -> int:
    if unicodedata.combining(c):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def _blank(prefix: str) -> str:
    return "".join(c if c == "\t" else " " * _char_width(c) for c in prefix)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the nearest candidate, or ''."""
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return f"; did you mean '{lowered[name.lower()]}'?"
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1: ``plural(1, "member")`` is ``'1 member'``,
    ``plural(2500, "member")`` is ``'2,500 members'``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
