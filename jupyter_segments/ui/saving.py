"""Saving from a widget under a name that is taken: ask first, never overwrite silently."""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from ..errors import SegmentError
from . import theme


class NameTaken(SegmentError):
    """Saving would replace another saved segment: the widget offers a Replace button."""


def check_name(ws: Any, name: str, *, editing: str | None, replace: bool) -> None:
    """Raise ``NameTaken`` when ``name`` is a saved segment other than the one being edited."""
    if replace or name == editing:
        return
    try:
        seg = ws.get(name)
    except SegmentError:
        return
    shown = f" ({seg.display_name})" if seg.display_name and seg.display_name != name else ""
    raise NameTaken(
        f"a segment named '{name}'{shown} exists already (version {seg.version}: {seg.definition}).\n"
        "Press Replace to save this as its new version, or choose another name."
    )


def replace_button() -> W.Button:
    """The hidden Replace button shown beside Save when the name is taken."""
    b = theme.button(
        "Replace", kind="warning", icon="exchange", tooltip="Save as a new version of that segment"
    )
    b.layout.display = "none"
    return b
