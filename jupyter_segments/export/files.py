"""CSV and Parquet file destinations: streamed in chunks, written to a temporary file, renamed at the end."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from ..backends.base import low_memory
from ..catalog.members import ParquetSink
from ..errors import SegmentError
from . import ExportResult


def _path(path: Any) -> Path:
    if path is None:
        raise SegmentError("give the file to write: path='members.csv'")
    p = Path(os.fspath(path)).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


class CsvDestination:
    """All members as CSV (customer columns plus projections; ``columns='keys'`` for keys only).

    Streamed chunk by chunk, never holding all members in memory (on a DuckDB file with its
    memory_limit lowered meanwhile: ``DuckDBBackend.low_memory``).
    """

    name = "csv"

    def target(self, path: Any = None, **_: Any) -> str | None:
        return str(path) if path is not None else None

    def send(
        self, segment, path: Any = None, columns: str = "all", chunk_size: int = 50_000, **csv_options: Any
    ) -> ExportResult:
        final = _path(path)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
        rows = 0
        try:
            with low_memory(segment.session.backend), open(tmp, "w", encoding="utf-8", newline="") as f:
                header = True
                for chunk in segment.iter_members(chunk_size, keys_only=columns == "keys"):
                    chunk.to_csv(f, index=False, header=header, **csv_options)
                    header = False
                    rows += len(chunk)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return ExportResult(rows, str(final))


class ParquetDestination:
    """All members as one Parquet file, written in row groups as they stream in."""

    name = "parquet"

    def target(self, path: Any = None, **_: Any) -> str | None:
        return str(path) if path is not None else None

    def send(self, segment, path: Any = None, columns: str = "all", chunk_size: int = 50_000) -> ExportResult:
        sink = ParquetSink(_path(path))
        first = None
        try:
            with low_memory(segment.session.backend):
                for chunk in segment.iter_members(chunk_size, keys_only=columns == "keys"):
                    if first is None:
                        first = chunk.iloc[:0]
                    if len(chunk):
                        sink.write(chunk)
            rows = sink.commit(empty_like=first)
        except BaseException:
            sink.abort()
            raise
        return ExportResult(rows, str(sink.final))
