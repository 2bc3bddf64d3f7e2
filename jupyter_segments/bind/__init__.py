"""Parsed definition + model -> typed tree (names resolved, types checked, errors with spans)."""

from . import typed
from .binder import SegmentSource, bind

__all__ = ["SegmentSource", "bind", "typed"]
