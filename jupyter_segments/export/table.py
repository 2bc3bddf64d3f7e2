"""Table destination: the members as a table in any database (a SQLAlchemy URL, Engine or connection)."""

from __future__ import annotations

from typing import Any

from ..backends import open_backend
from ..backends.base import mask_url
from ..errors import SegmentError
from . import ExportResult


class TableDestination:
    """Write the members to ``table`` in ``url`` (default: the workspace's own database).

    ``if_exists='replace'`` swaps a complete new table in (the old one stays until then);
    ``'append'`` adds rows.
    """

    name = "table"

    def target(self, table: str | None = None, url: Any = None, **_: Any) -> str | None:
        where = (
            mask_url(url)
            if isinstance(url, str)
            else ("workspace database" if url is None else type(url).__name__)
        )
        return f"{where} :: {table}"

    def send(
        self, segment, table: str | None = None, url: Any = None, if_exists: str = "replace",
        columns: str = "all", chunk_size: int = 50_000,
    ) -> ExportResult:  # fmt: skip
        if not table:
            raise SegmentError("give the table to write: table='vip_customers'")
        if if_exists not in ("replace", "append"):
            raise SegmentError(f"if_exists must be 'replace' or 'append', not {if_exists!r}")
        backend = segment.session.backend if url is None else open_backend(url)
        try:
            frames = segment.iter_members(chunk_size, keys_only=columns == "keys")
            if if_exists == "replace":
                rows = backend.write_table_chunks(table, frames)
                if rows == 0:  # write_table_chunks writes nothing for no rows: still replace the table
                    backend.write_table(
                        table, next(segment.iter_members(1, keys_only=columns == "keys")).iloc[:0]
                    )
            else:
                rows = 0
                for chunk in frames:
                    backend.write_table(table, chunk, replace=False)
                    rows += len(chunk)
        finally:
            if url is not None:
                backend.close()
        return ExportResult(rows, self.target(table=table, url=url))
