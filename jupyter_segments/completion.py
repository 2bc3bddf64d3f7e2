"""Tab completion for ``%%segment`` cells and ``%segment`` commands.

``candidates(ws, text)`` is the pure part: given the cell text up to the cursor it returns what the word
under the cursor may become -- attribute and relationship names of the entity in scope (the customer
entity, or the entity an enclosing ``sum(orders... where`` filters), names reached through dotted paths
(``orders.order_lines.qu``), measures, and segment names after ``in segment``. ``install`` hooks it into
IPython's completer (Matcher API v2) so that Python completions do not crowd a ``%%segment`` cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from .bind.functions import FUNCTIONS

AGG_AND_EXISTS = ("count", "count_distinct", "sum", "avg", "min", "max", "any", "none", "all")
SEGMENT_NAME_COMMANDS = {
    "show", "history", "delete", "refresh", "activate", "deactivate", "rename", "duplicate", "export", "sql",
    "view", "compare", "similar", "check",
}  # fmt: skip

_TOKEN = re.compile(r"[\w.]*$")
_SCOPE_OPEN = re.compile(r"(\w+)\s*$")
_PATH_WHERE = re.compile(r"^\s*((?:\w+|\"[^\"]*\")(?:\.(?:\w+|\"[^\"]*\"))*)\s+where\b", re.IGNORECASE)
_IN_SEGMENT = re.compile(r"\bin\s+segment\s+\w*$", re.IGNORECASE)


def current_token(text: str) -> str:
    """The (possibly dotted) word being typed at the end of ``text``."""
    m = _TOKEN.search(text)
    return m.group(0) if m else ""


def _open_parens(text: str) -> list[int]:
    """Positions of the ``(`` not yet closed at the end of ``text`` (strings and ``--`` comments skipped)."""
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            close = text.find(c, i + 1)
            while close != -1 and close + 1 < n and text[close + 1] == c:  # doubled quote = escaped
                close = text.find(c, close + 2)
            if close == -1:
                return stack  # cursor inside a string
            i = close + 1
            continue
        if text.startswith("--", i):
            nl = text.find("\n", i)
            if nl == -1:
                return stack
            i = nl
            continue
        if c == "(":
            stack.append(i)
        elif c == ")" and stack:
            stack.pop()
        i += 1
    return stack


def in_string_or_comment(text: str) -> bool:
    """Whether the end of ``text`` is inside a string literal or a comment (nothing to complete there)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'" or c == '"':
            close = text.find(c, i + 1)
            while close != -1 and close + 1 < n and text[close + 1] == c:
                close = text.find(c, close + 2)
            if close == -1:
                return True
            i = close + 1
        elif text.startswith("--", i):
            nl = text.find("\n", i)
            if nl == -1:
                return True
            i = nl
        else:
            i += 1
    return False


def _walk(model: Any, entity: str, parts: Iterable[str]) -> str | None:
    """Follow relationship steps from ``entity``; None when a part is not a step."""
    for part in parts:
        step = model.step(entity, part.strip('"'))
        if step is None:
            return None
        entity = step.target
    return entity


def scope_entity(model: Any, text: str) -> str | None:
    """The entity the end of ``text`` is evaluated on: the customer, or the rows an aggregate filters.

    ``sum(orders.amount where sta`` -> orders; ``any(orders where sum(order_lines.quantity where qu`` ->
    order_lines. An aggregate's path ends in a column or not (``count(orders where ...``), so the path
    is followed as far as it names relationship steps.
    """
    entity = model.customer
    if entity is None:
        return None
    for pos in _open_parens(text):
        m = _SCOPE_OPEN.search(text[:pos])
        if not m or m.group(1).lower() not in AGG_AND_EXISTS:
            continue
        inner = _PATH_WHERE.match(text[pos + 1 :])
        if not inner:
            continue  # still typing the path: the enclosing scope applies
        parts = re.findall(r'\w+|"[^"]*"', inner.group(1))
        for part in parts:
            step = model.step(entity, part.strip('"'))
            if step is None:
                break  # the column at the end of the path
            entity = step.target
    return entity


def candidates(ws: Any, text: str, segment_names: Callable[[], list[str]] | None = None) -> list[str]:
    """Completions of the word at the end of ``text`` (a ``%%segment`` cell body up to the cursor).

    Each completion replaces the whole dotted token: ``orders.am`` -> ``orders.amount``.
    """
    if ws is None or in_string_or_comment(text):
        return []
    token = current_token(text)
    head = text[: len(text) - len(token)]
    if _IN_SEGMENT.search(text):
        segments = segment_names() if segment_names else []
        return sorted(n for n in segments if n.lower().startswith(token.lower()))
    if head.endswith("{"):  # a Python variable: IPython's own completers know those
        return []
    model = ws.model
    entity = scope_entity(model, head)
    if entity is None:
        return []
    *prefix, partial = token.split(".")
    target = _walk(model, entity, prefix)
    if target is None:
        return []
    names: list[str] = []
    names.extend(model.entity(target).columns)
    names.extend(model.steps_from(target))
    if not prefix:
        if target == model.customer:
            try:
                names.extend(model.all_measures())
            except Exception:  # noqa: BLE001 - a broken measure source must not break completion
                pass
        names.extend(AGG_AND_EXISTS)
        names.extend(FUNCTIONS)
    low = partial.lower()
    seen: dict[str, None] = {}
    for name in names:
        if name.lower().startswith(low) and name not in seen:
            seen[name] = None
    lead = ".".join(prefix) + "." if prefix else ""
    return [lead + name for name in seen]


def completion_type(name: str) -> str:
    """How a completion is labelled in the editor: a function shows its signature."""
    if name in FUNCTIONS:
        return FUNCTIONS[name].shows
    return "aggregate" if name in AGG_AND_EXISTS else "segment"


def command_candidates(line: str, commands: list[str], segment_names: Callable[[], list[str]]) -> list[str]:
    """Completions for a ``%segment ...`` line up to the cursor: command names, then segment names."""
    words = line.split()
    trailing_space = line.endswith((" ", "\t"))
    if not words or words[0] != "%segment" or (len(words) == 1 and not trailing_space):
        return []
    args = words[1:]
    if not args or (len(args) == 1 and not trailing_space):
        partial = args[0] if args else ""
        return [c for c in commands if c.startswith(partial.lower())]
    command = args[0].lower()
    partial = "" if trailing_space else args[-1]
    if partial.startswith("-") or command not in SEGMENT_NAME_COMMANDS:
        return []
    return sorted(n for n in segment_names() if n.startswith(partial))


# --- IPython glue -----------------------------------------------------------------------------------------
_MARK = "_jupyter_segments_matcher"


def install(shell: Any, get_ws: Callable[[], Any], commands: list[str]) -> None:
    """Add the ``%%segment`` matcher to ``shell.Completer`` (replacing one from an earlier load)."""
    from IPython.core.completer import CompletionContext, SimpleCompletion, context_matcher

    def segment_names() -> list[str]:
        ws = get_ws()
        if ws is None or not hasattr(ws, "segments"):
            return []
        try:
            frame = ws.segments()
            return [str(n) for n in frame["name"]]
        except Exception:  # noqa: BLE001 - completion must never raise into the user's editor
            return []

    @context_matcher(priority=100)  # before Jedi, so our suppression removes Python completions
    def segment_matcher(context: CompletionContext) -> dict[str, Any]:
        lines = context.full_text.split("\n")
        line = context.line_with_cursor[: context.cursor_position]
        empty: dict[str, Any] = {"completions": [], "suppress": False}
        if lines and lines[0].lstrip().startswith("%%segment") and context.cursor_line >= 1:
            body = "\n".join([*lines[1 : context.cursor_line], line])
            try:
                found = candidates(get_ws(), body, segment_names)
            except Exception:  # noqa: BLE001 - e.g. a database that went away
                found = []
            token = current_token(line)
            return {
                "completions": [SimpleCompletion(f, type=completion_type(f)) for f in found],
                "matched_fragment": token,
                "suppress": True,
                "ordered": False,
            }
        stripped = line.lstrip()
        if stripped.split(" ", 1)[0] == "%segment":
            found = command_candidates(stripped, commands, segment_names)
            return {
                "completions": [SimpleCompletion(f, type="segment") for f in found],
                "matched_fragment": "" if line.endswith(" ") else line.split()[-1],
                "suppress": bool(found),
            }
        return empty

    setattr(segment_matcher, _MARK, True)
    uninstall(shell)
    shell.Completer.custom_matchers.append(segment_matcher)


def uninstall(shell: Any) -> None:
    completer = getattr(shell, "Completer", None)
    if completer is not None:
        completer.custom_matchers[:] = [m for m in completer.custom_matchers if not getattr(m, _MARK, False)]
