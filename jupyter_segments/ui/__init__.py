"""Interactive widgets over the Python API: group builder, quick segment, segments page, segment view.

>>> from jupyter_segments.ui import SegmentBuilder
>>> SegmentBuilder(ws)            # displays in a notebook cell
"""

from __future__ import annotations

from typing import Any

__all__ = ["QuickSegment", "SegmentBuilder", "SegmentManager", "SegmentView"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import jupyter_segments.ui` stays cheap (the widgets load ipywidgets) and
    # a widget's import error (for example a missing optional chart dependency) only affects that widget.
    if name == "SegmentBuilder":
        from .builder import SegmentBuilder  # late: ipywidgets

        return SegmentBuilder
    if name == "QuickSegment":
        from .quick import QuickSegment  # late: ipywidgets

        return QuickSegment
    if name == "SegmentManager":
        from .manager import SegmentManager  # late: ipywidgets

        return SegmentManager
    if name == "SegmentView":
        from .view import SegmentView  # late: ipywidgets

        return SegmentView
    raise AttributeError(name)
