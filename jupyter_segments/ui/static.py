"""What a widget leaves in the notebook for readers without widget JavaScript, and its plain text.

A widget is displayed as two outputs: the widget itself, then an HTML copy of its current state (a
"mirror"). The mirror is kept up to date through its ``display_id``: after every cell run (an IPython
``post_execute`` hook, so ``jupyter nbconvert --execute`` records the last state) and after every
change made in the widget (``Mirrored.update_mirror``). Then:

- ``jupyter nbconvert --to html`` offline, GitHub and nbviewer without JavaScript: the widget output
  renders nothing (its view needs the widget manager, loaded from a CDN) and the mirror shows the
  definition, counts, tables and chart as plain HTML;
- live JupyterLab, or nbviewer with the widget manager loaded: the widget renders, and the mirror's own
  CSS hides it (``:has()``: an output right after a rendered ``.jseg-root`` widget).

Why not one output with a ``text/html`` fallback: nbconvert shows the widget view whenever the saved
widget state has its model, which ``nbclient`` (``--execute``) always saves, so the fallback never shows.

Outside a kernel (terminal IPython, plain Python) a widget displays as its plain text.
"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

MIRROR_CSS = (
    "<style>.jp-OutputArea-child:has(.jseg-root.jupyter-widgets) + .jp-OutputArea-child:has(.jseg-mirror),"
    ".jp-OutputArea-child:has(.jseg-root.jupyter-widgets) + .jp-OutputArea-child .jseg-mirror"
    "{display:none}</style>"
)

_live: weakref.WeakSet[Mirrored] = weakref.WeakSet()
_hooked: set[int] = set()


def _kernel_shell() -> Any:
    """The IPython shell when it runs in a kernel (widgets can render), else None."""
    try:
        from IPython import get_ipython  # late: IPython is only needed in a shell
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _after_cell(*_args: Any) -> None:
    for widget in list(_live):
        widget.update_mirror()


class Mirrored:
    """Mix-in for a widget class with ``widget`` (the root box), ``static_html()`` and ``to_text()``."""

    widget: Any
    _mirror_id: str | None = None
    _mirror_html: str | None = None

    def static_html(self) -> str:  # pragma: no cover - every widget defines it
        raise NotImplementedError

    def to_text(self) -> str:  # pragma: no cover - every widget defines it
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.to_text()
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display  # late: IPython is only needed in a shell

        shell = _kernel_shell()
        if shell is None:  # a terminal: no widgets, the readable text
            print(self.to_text())
            return
        widget_bundle = dict(self.widget._repr_mimebundle_() or {})
        widget_bundle["text/plain"] = ""  # the mirror below says it all where the widget cannot render
        display(widget_bundle, raw=True)
        self._mirror_id = uuid.uuid4().hex
        self._mirror_html = self._mirror_markup()
        display(self._mirror_bundle(self._mirror_html), raw=True, display_id=self._mirror_id)
        _live.add(self)
        if id(shell) not in _hooked:
            shell.events.register("post_execute", _after_cell)
            _hooked.add(id(shell))

    def _mirror_markup(self) -> str:
        return f'{MIRROR_CSS}<div class="jseg-mirror">{self.static_html()}</div>'

    def _mirror_bundle(self, markup: str) -> dict[str, Any]:
        return {"text/html": markup, "text/plain": self.to_text()}

    def update_mirror(self) -> None:
        """Send the current state to the HTML copy in the notebook (if shown and changed)."""
        if self._mirror_id is None:
            return
        try:
            markup = self._mirror_markup()
        except Exception:  # noqa: BLE001 - a copy that cannot be drawn now keeps its last state
            return
        if markup == self._mirror_html:
            return
        from IPython.display import update_display  # late: IPython is only needed in a shell

        self._mirror_html = markup
        update_display(self._mirror_bundle(markup), raw=True, display_id=self._mirror_id)
