"""The one error handler every widget callback goes through.

ipywidgets' CallbackDispatcher only logs exceptions raised in callbacks, so a failing click would look like
nothing happened. Every callback is wrapped by ``Messages.guard``: a ``SegmentError`` shows its message
(line, column, caret) in the widget; any other exception shows its type and message, never a traceback.
The last error is kept on the object so tests can assert on it.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as W

from ..errors import SegmentError

log = logging.getLogger("jupyter_segments.ui")
F = TypeVar("F", bound=Callable[..., Any])


def describe(exc: BaseException) -> str:
    """What a user should read for an exception: the engine's own message, or type and message."""
    if isinstance(exc, SegmentError):
        return str(exc)
    if isinstance(exc, KeyError) and exc.args:  # KeyError's str() adds quotes around the message
        return f"{exc.args[0]}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Messages:
    """An inline message area (error / warning / info) shown inside a widget."""

    def __init__(self) -> None:
        self.widget = W.HTML("")
        self.last_error: str | None = None
        self.last_message: str | None = None
        self.kind: str | None = None
        # Called after every guarded callback (a widget keeps its exported HTML copy up to date with it).
        self.after: Callable[[], Any] | None = None

    def error(self, text: str, title: str = "") -> None:
        self.last_error, self.kind = text, "error"
        head = f"<b>{html.escape(title)}</b>" if title else ""
        self.widget.value = f'<div class="jseg-error">{head}<pre>{html.escape(text)}</pre></div>'

    def warn(self, text: str) -> None:
        self.last_message, self.last_error, self.kind = text, None, "warn"
        self.widget.value = f'<div class="jseg-warn">{html.escape(text)}</div>'

    def info(self, text: str) -> None:
        self.last_message, self.last_error, self.kind = text, None, "info"
        self.widget.value = f'<div class="jseg-info">{html.escape(text)}</div>'

    def clear(self) -> None:
        self.last_error = self.last_message = self.kind = None
        self.widget.value = ""

    def show_exception(self, exc: BaseException, title: str = "") -> None:
        if not isinstance(exc, SegmentError):
            log.warning("widget callback failed", exc_info=exc)  # the traceback goes to the log only
        self.error(describe(exc), title)

    def guard(self, fn: F, title: str = "") -> F:
        """Wrap a callback: exceptions are shown here instead of vanishing into the kernel log."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - this is the single place callbacks fail to
                self.show_exception(exc, title)
                return None
            finally:
                if self.after is not None:
                    self.after()

        return wrapper  # type: ignore[return-value]

    def on_click(self, button: W.Button, fn: Callable[[], Any], title: str = "") -> None:
        """``button.on_click`` through the guard (the button argument is dropped). A click starts a new
        action: the message of the previous one (an error included) is cleared first."""

        def clicked(_button: W.Button) -> Any:
            self.clear()
            return fn()

        button.on_click(self.guard(clicked, title))

    def observe(self, widget: W.Widget, fn: Callable[[Any], Any], names: str = "value") -> None:
        """``widget.observe`` on ``names`` through the guard; ``fn`` gets the new value."""
        widget.observe(self.guard(lambda change: fn(change["new"])), names=names)
