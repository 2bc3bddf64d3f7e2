"""Export ("Download" and "Add to"): send a segment's members to a destination, and log it.

Destinations are found by name in the entry point group ``jupyter_segments.destinations`` (the built-in
ones are registered there too, and also known without installation). A destination is a class whose
instances have ``send(segment, **options) -> ExportResult``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from ..backends.base import mask_url
from ..errors import SegmentError, did_you_mean

if TYPE_CHECKING:
    from ..segments import Segment  # the handle destinations are given (the facade's: a type only)

GROUP = "jupyter_segments.destinations"
BUILTIN = {
    "table": "jupyter_segments.export.table:TableDestination",
    "csv": "jupyter_segments.export.files:CsvDestination",
    "parquet": "jupyter_segments.export.files:ParquetDestination",
    "dbt": "jupyter_segments.export.dbt:DbtDestination",
    "webhook": "jupyter_segments.export.webhook:WebhookDestination",
}
_SECRET_WORDS = ("password", "secret", "token", "auth", "headers", "key")


@dataclass
class ExportResult:
    """What a destination reports back: rows sent and where they went."""

    rows: int | None
    target: str | None = None
    detail: dict[str, Any] | None = None


@dataclass
class Export:
    """One logged export."""

    id: int
    segment: str
    destination: str
    target: str | None
    status: str
    rows: int | None
    error: str | None = None

    def __repr__(self) -> str:
        return f"<Export {self.segment!r} -> {self.destination} {self.target or ''}: {self.status}, {self.rows} rows>"


class Destination(Protocol):
    name: str

    def send(self, segment: Segment, **options: Any) -> ExportResult: ...


def destinations() -> dict[str, str]:
    """Known destination names -> 'module:Class' (built-ins plus installed plug-ins)."""
    found = dict(BUILTIN)
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep.value
    return found


def resolve(destination: str | Any) -> Any:
    """A destination instance for a name, a class or an instance."""
    if not isinstance(destination, str):
        return destination() if isinstance(destination, type) else destination
    known = destinations()
    if destination not in known:
        raise SegmentError(
            f"unknown destination '{destination}'{did_you_mean(destination, known)}",
            hint=f"known destinations: {', '.join(sorted(known))} (plug-ins register in the '{GROUP}' entry point group)",
        )
    module, _, attr = known[destination].partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj() if isinstance(obj, type) else obj


def _loggable(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in options.items():
        if callable(v):  # called at send time; its repr may show what it holds (a functools.partial)
            out[k] = "(a callable, called at send time)"
        elif any(w in k.lower() for w in _SECRET_WORDS):
            out[k] = "***"
        elif k == "url" and isinstance(v, str):
            out[k] = mask_url(v)
        elif isinstance(v, str | int | float | bool) or v is None:
            out[k] = v
        else:
            out[k] = repr(v)[:200]
    return out


def send(
    segment: Segment, destination: str | Any, *, log_extra: Mapping[str, Any] | None = None, **options: Any
) -> Export:
    """Send the members of ``segment``'s last refresh to ``destination``; logged in the catalog (with
    ``log_extra`` beside the options: what a change delivery notes about itself)."""
    dest = resolve(destination)
    name = getattr(dest, "name", None) or (
        destination if isinstance(destination, str) else type(dest).__name__
    )
    row = segment._row
    segment._require_members() if getattr(dest, "needs_members", True) else None
    cat = segment.catalog
    target = dest.target(**options) if hasattr(dest, "target") else None
    export_id = cat.start_export(row, name, target, {**_loggable(options), **(log_extra or {})})
    try:
        result = dest.send(segment, **options)
    except BaseException as e:
        sent = getattr(e, "rows_sent", None)
        cat.finish_export(export_id, status="Failed", rows=sent, error=str(e) or type(e).__name__)
        raise
    cat.finish_export(export_id, status="Completed", rows=result.rows, target=result.target or target)
    return Export(export_id, row["name"], name, result.target or target, "Completed", result.rows)
