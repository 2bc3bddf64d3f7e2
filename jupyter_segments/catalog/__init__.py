"""The catalog: saved segments, their versions, runs, measures and exports; where members are kept.

The ``Segment`` handle users hold is ``jupyter_segments.segments.Segment``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .store import (
    CANCELED,
    DEFAULT_PATH,
    FAILED,
    NOT_STARTED,
    QUEUED,
    RUNNING,
    SKIPPED,
    STATUSES,
    SUCCESSFUL,
    Catalog,
    UnknownSegment,
)

__all__ = [
    "CANCELED", "DEFAULT_PATH", "FAILED", "NOT_STARTED", "QUEUED", "RUNNING", "SKIPPED", "STATUSES",
    "SUCCESSFUL", "Catalog", "UnknownSegment", "catalog_exists", "open_catalog",
]  # fmt: skip


def open_catalog(target: Any = None, *, schema: str | None = None) -> Catalog:
    """A Catalog for ``target``: a Catalog (returned as is), a path, ``:memory:``, a URL or an Engine.

    ``None`` means ``.segments/catalog.sqlite`` in the current directory.
    """
    if isinstance(target, Catalog):
        return target
    return Catalog(DEFAULT_PATH if target is None else target, schema=schema)


def catalog_exists(target: Any = None) -> bool:
    """Whether opening ``target`` would find an existing catalog without creating a file."""
    if target is None:
        target = DEFAULT_PATH
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, str) and target != ":memory:" and "://" not in target:
        return Path(target).expanduser().exists()
    if isinstance(target, str) and target.startswith("sqlite:///"):
        return Path(target[len("sqlite:///") :]).exists()
    return True
