"""Split DSL text into tokens with their offsets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from ..errors import SegmentError


class T(Enum):
    IDENT = auto()  # a bare word: names and keywords alike (keywords are recognised by the parser)
    QIDENT = auto()  # "quoted identifier": never a keyword
    STRING = auto()
    NUMBER = auto()
    OP = auto()  # = != <> < <= > >= + - * / % ( ) , . { }
    EOF = auto()


@dataclass(frozen=True)
class Token:
    kind: T
    text: str  # the value: identifier name, unescaped string, number text, operator
    pos: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind is T.IDENT and self.text.lower() in words


_TWO_CHAR_OPS = {"!=", "<>", "<=", ">="}
# Only ASCII digits make numbers: str.isdigit() is also true of "²" and "١٢", which int() refuses or
# reads as another number than the one shown.
_DIGITS = frozenset("0123456789")
_ONE_CHAR_OPS = set("=<>+-*/%(),.{}")


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``; comments (``-- ...``) and whitespace are dropped."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl == -1 else nl
        elif c == "'":
            value, j = _read_quoted(text, i, "'", "unterminated string literal")
            tokens.append(Token(T.STRING, value, i, j))
            i = j
        elif c == '"':
            value, j = _read_quoted(text, i, '"', "unterminated quoted name")
            if not value:
                raise SegmentError("empty quoted name", text=text, pos=i, end=j)
            tokens.append(Token(T.QIDENT, value, i, j))
            i = j
        elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == "." and j + 1 < n and text[j + 1] in _DIGITS:
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k] in _DIGITS:
                    j = k
                    while j < n and text[j] in _DIGITS:
                        j += 1
            if j < n and (text[j].isalpha() or text[j] == "_"):
                raise SegmentError("a name cannot start with a digit", text=text, pos=i, end=j + 1)
            tokens.append(Token(T.NUMBER, text[i:j], i, j))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token(T.IDENT, text[i:j], i, j))
            i = j
        elif text[i : i + 2] in _TWO_CHAR_OPS:
            tokens.append(Token(T.OP, text[i : i + 2], i, i + 2))
            i += 2
        elif c in _ONE_CHAR_OPS:
            tokens.append(Token(T.OP, c, i, i + 1))
            i += 1
        else:
            raise SegmentError(f"unexpected character {c!r}", text=text, pos=i)
    tokens.append(Token(T.EOF, "", n, n))
    return tokens


def _read_quoted(text: str, start: int, quote: str, error: str) -> tuple[str, int]:
    """Read a SQL-quoted run (the quote doubled inside means itself); return (value, end offset)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        if text[i] == "\x00":  # no database keeps it in a string; drivers truncate at it or fail
            raise SegmentError("a NUL character (\\x00) cannot be part of a value or name", text=text, pos=i)
        out.append(text[i])
        i += 1
    raise SegmentError(error, text=text, pos=start, end=len(text))
