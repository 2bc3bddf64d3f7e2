"""Backend on a DuckDB connection (a file, in-memory, or a connection the user already has)."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from ..errors import SegmentError
from ._sql import interruptible, no_such_table, path_from_url, quote, staging_name
from .base import Column, ForeignKey, TableName, classify_type, mask_url, table_parts

DIALECT = "duckdb"


def _finish(conn: duckdb.DuckDBPyConnection, how: str) -> None:
    """Drop (``abort``) or run out (``complete``) a pending result on duckdb 2; no-op on duckdb 1.x."""
    method = getattr(conn, how, None)
    if method is None:
        return
    if how == "complete":
        method()  # an error while running the rest of the statement is the caller's error
        return
    try:
        method()
    except duckdb.Error:  # nothing pending, or already closed: there is nothing to drop
        pass


@functools.cache
def _default_memory_limit() -> str:
    """DuckDB's default memory_limit (80 % of RAM) as it shows it, read from a fresh in-memory database."""
    with duckdb.connect() as conn:
        return conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # type: ignore[index]


class DuckDBBackend:
    """A DuckDB database. Closes the connection on ``close()`` only if it opened it itself."""

    dialect = DIALECT
    transactional_ddl = True  # CREATE INDEX rolls back (ws.advise(measure=True) relies on it)
    # While a stream is open under ``low_memory()``, the default memory_limit of a DuckDB file is lowered
    # to this (None: never lowered). Set it on a backend (``ws.backend.stream_memory_limit = "1GB"``) or
    # on the class.
    stream_memory_limit: str | None = "64MB"

    def __init__(
        self, conn: duckdb.DuckDBPyConnection, *, display_url: str = "duckdb://(connection)"
    ) -> None:
        self._conn = conn
        self._owns = False
        self.display_url = mask_url(display_url)
        # A DuckDB connection object is not safe to use from two threads at once (widgets run
        # callbacks on other threads); cursors are, so streaming reads get their own cursor.
        self._lock = threading.RLock()
        self._streams = 0  # open low_memory() blocks
        self._lowered = False  # memory_limit lowered by low_memory()

    @classmethod
    def from_url(cls, url: str) -> DuckDBBackend:
        path = path_from_url(
            url, "duckdb", "DuckDB URLs look like duckdb:///file.duckdb or duckdb:///:memory:"
        )
        try:
            conn = duckdb.connect(path)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise
            holder = re.search(r"held in (.+?)(?:\. See|$)", str(e))
            raise SegmentError(
                f"the DuckDB file {path} is open in another process"
                + (f" ({holder.group(1)})" if holder else "")
                + ": close it there (a notebook: close its connection or shut its kernel down) and try again"
            ) from None
        backend = cls(conn, display_url=url)
        backend._owns = True
        return backend

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._conn

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str) -> pd.DataFrame:
        with self._lock:
            # date_as_object: DATE stays datetime.date (as from PostgreSQL), so writing a result
            # back creates a DATE column, not a TIMESTAMP.
            conn = self._conn
            return interruptible(lambda: conn.execute(sql).df(date_as_object=True), conn.interrupt)

    def scalar(self, sql: str) -> Any:
        with self._lock:
            conn = self._conn
            row = interruptible(lambda: conn.execute(sql).fetchone(), conn.interrupt)
            # duckdb 2 keeps the rest of the result pending and refuses other work until it's dropped
            # (duckdb 1.x has no abort() and needs nothing).
            _finish(self._conn, "abort")
        return None if row is None else row[0]

    @contextmanager
    def low_memory(self) -> Iterator[None]:
        """Stream with DuckDB's memory_limit lowered to ``stream_memory_limit``.

        DuckDB keeps the blocks a scan read in its buffer pool up to memory_limit (by default 80 % of
        RAM): streaming the 5.46M members of ``age >= 40`` from the 10M-customer demo file peaked at
        306 MB above the idle process, 162 MB with the limit at 64 MB. Work that needs more memory
        spills to DuckDB's temporary directory (an export of ``sum(orders.amount) >= 1000`` at 10M:
        1014 MB and 23 s as it was, 152 MB and 37 s lowered); a query that still runs out of memory
        before its first row starts again with the default limit, which comes back when the last open
        block ends. The limit is the database's: other queries on it meanwhile run under it too.

        Only a database file with the default memory_limit is lowered: a limit someone set is left as
        it is (DuckDB shows it rounded, so it could not be put back exactly), and so is an in-memory
        database (its tables live in that memory).
        """
        with self._lock:
            if self._streams == 0:
                self._lower_limit()
            self._streams += 1
        try:
            yield
        finally:
            with self._lock:
                self._streams -= 1
                if self._streams == 0:
                    self._restore_limit()

    def _lower_limit(self) -> None:
        if self.stream_memory_limit is None or self._setting("memory_limit") != _default_memory_limit():
            return
        paths = self._conn.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()  # all rows: a result left unfinished blocks the connection's next statement
        path = paths[0] if paths else None
        if path is None or not path[0]:
            return  # in memory
        try:
            self._conn.execute("SET memory_limit = ?", [self.stream_memory_limit])
        except duckdb.Error:  # it cannot free enough memory for it (or not a size): stream as it is
            self._conn.execute("RESET memory_limit")
            return
        self._lowered = True

    def _restore_limit(self) -> bool:
        """Put the default memory_limit back if it is lowered; False if it was not."""
        with self._lock:
            if not self._lowered:
                return False
            self._conn.execute("RESET memory_limit")
            self._lowered = False
            return True

    def _setting(self, name: str) -> str:
        return self._conn.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]

    def iter_chunks(self, sql: str, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """Stream the result in frames of ``chunk_size`` rows (the last may be shorter).

        Reads DuckDB's vectors incrementally (``fetch_df_chunk``), never the whole result, so
        dtypes match ``query()``. Always yields at least one frame, empty when the query returns
        no rows, so a consumer learns the columns.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        vectors = max(1, -(-chunk_size // 2048))  # DuckDB hands out whole 2048-row vectors
        cur = self._conn.cursor()  # own cursor: the main connection stays usable while we stream

        def first_chunk() -> pd.DataFrame:
            return interruptible(
                lambda: cur.execute(sql).fetch_df_chunk(vectors, date_as_object=True), cur.interrupt
            )

        try:
            try:
                part = first_chunk()
            except duckdb.OutOfMemoryException:
                if not self._restore_limit():  # run out under low_memory(): again without the cap
                    raise
                part = first_chunk()
            pending: list[pd.DataFrame] = []
            buffered = 0
            yielded = False
            while True:
                done = len(part) == 0
                if not done:
                    pending.append(part)
                    buffered += len(part)
                # Re-slice so callers get exactly chunk_size rows per frame.
                while buffered >= chunk_size or (done and buffered):
                    frame = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
                    head = frame.iloc[:chunk_size].reset_index(drop=True)
                    rest = frame.iloc[chunk_size:].reset_index(drop=True)
                    pending, buffered = ([rest], len(rest)) if len(rest) else ([], 0)
                    yielded = True
                    yield head
                if done:
                    if not yielded:
                        yield part
                    break
                part = interruptible(lambda: cur.fetch_df_chunk(vectors, date_as_object=True), cur.interrupt)
        finally:
            _finish(cur, "abort")
            cur.close()

    def execute(self, sql: str) -> None:
        with self._lock:
            conn = self._conn
            interruptible(lambda: conn.execute(sql), conn.interrupt)
            _finish(self._conn, "complete")

    # -- catalog -------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """Tables and views of the current database and schema (not DuckDB's internal or temporary ones)."""
        sql = """
            SELECT table_name FROM duckdb_tables()
            WHERE database_name = current_database() AND schema_name = current_schema()
              AND NOT internal AND NOT temporary
            UNION
            SELECT view_name FROM duckdb_views()
            WHERE database_name = current_database() AND schema_name = current_schema()
              AND NOT internal AND NOT temporary
            ORDER BY 1
        """
        with self._lock:
            return [r[0] for r in self._conn.execute(sql).fetchall()]

    def qualified_tables(self, parts: tuple[str, ...]) -> list[TableName]:
        """``schema.t`` (a schema of the current database), ``db.t`` (the main schema of an attached
        database) or ``db.schema.t``, ignoring case; the current schema's tables by their bare name."""
        if len(parts) not in (2, 3):
            return []
        sql = """
            SELECT database_name, schema_name, table_name, current_database(), current_schema()
            FROM duckdb_tables() WHERE NOT internal AND NOT temporary AND lower(table_name) = lower(?)
            UNION
            SELECT database_name, schema_name, view_name, current_database(), current_schema()
            FROM duckdb_views() WHERE NOT internal AND NOT temporary AND lower(view_name) = lower(?)
        """
        with self._lock:
            rows = self._conn.execute(sql, [parts[-1], parts[-1]]).fetchall()
            databases = {
                r[0].lower()
                for r in self._conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
            }
        found = []
        for db, schema, table, current_db, current_schema in rows:
            qualifier = (db.lower(), schema.lower())
            if len(parts) == 3:
                reached = qualifier == (parts[0].lower(), parts[1].lower())
            else:
                reached = qualifier in ((current_db.lower(), parts[0].lower()), (parts[0].lower(), "main"))
            if not reached:
                continue
            # DuckDB refuses schema.t when a database has that name too: then db.schema.t
            if db != current_db or schema.lower() in databases:
                found.append(TableName((db, schema, table)))
            else:
                found.append(TableName((table,) if schema == current_schema else (schema, table)))
        return found

    def columns(self, table: str) -> list[Column]:
        parts = table_parts(table)
        where = {
            1: "current_database() AND schema_name = current_schema()",
            2: "current_database() AND schema_name = ?",
        }
        sql = f"""
            SELECT column_name, data_type FROM duckdb_columns()
            WHERE database_name = {where.get(len(parts), "? AND schema_name = ?")} AND table_name = ?
            ORDER BY column_index
        """
        with self._lock:
            rows = self._conn.execute(sql, list(parts)).fetchall()
        if not rows:
            raise no_such_table(table, self.tables())
        return [Column(name, classify_type(db_type), db_type) for name, db_type in rows]

    def primary_key(self, table: str) -> tuple[str, ...]:
        """The PRIMARY KEY columns of a table of the current schema (() without one, or elsewhere)."""
        if isinstance(table, TableName):
            return ()
        sql = """
            SELECT constraint_column_names FROM duckdb_constraints()
            WHERE constraint_type = 'PRIMARY KEY' AND table_name = ?
              AND database_name = current_database() AND schema_name = current_schema()
        """
        with self._lock:
            rows = self._conn.execute(sql, [table]).fetchall()
        return tuple(rows[0][0]) if rows else ()

    def indexes(self, table: str) -> list[tuple[str, ...]]:
        """The columns of each index, PRIMARY KEY and UNIQUE constraint of ``table``, in their order
        (an index on an expression is left out: it serves no join on a column)."""
        *qualifier, name = table_parts(table)
        schema = "?" if qualifier else "current_schema()"
        database = "?" if len(qualifier) > 1 else "current_database()"
        params = [
            name,
            *([qualifier[-1]] if qualifier else []),
            *([qualifier[-2]] if len(qualifier) > 1 else []),
        ]
        where = f"table_name = ? AND schema_name = {schema} AND database_name = {database}"
        with self._lock:
            keys = self._conn.execute(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                f"WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND {where}",
                params,
            ).fetchall()
            made = self._conn.execute(f"SELECT sql FROM duckdb_indexes() WHERE {where}", params).fetchall()
        out = [tuple(cols) for (cols,) in keys]
        for (text,) in made:
            columns = _index_columns(text)
            if columns:
                out.append(columns)
        return out

    @contextmanager
    def rollback_only(self) -> Iterator[Callable[[str], Any]]:
        """A transaction that is always rolled back, and ``run(sql) -> first value`` inside it: DuckDB's
        DDL is transactional, so indexes created there are gone afterwards."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN TRANSACTION")
            try:

                def run(sql: str) -> Any:
                    row = interruptible(lambda: conn.execute(sql).fetchone(), conn.interrupt)
                    _finish(conn, "abort")
                    return None if row is None else row[0]

                yield run
            finally:
                conn.execute("ROLLBACK")

    def foreign_keys(self) -> list[ForeignKey]:
        """Single-column FOREIGN KEY constraints declared in the current schema.

        Composite keys are left out: joining on one of their columns alone would be wrong.
        """
        sql = """
            SELECT table_name, constraint_column_names, referenced_table, referenced_column_names
            FROM duckdb_constraints()
            WHERE constraint_type = 'FOREIGN KEY'
              AND database_name = current_database() AND schema_name = current_schema()
            ORDER BY table_name, constraint_index
        """
        with self._lock:
            rows = self._conn.execute(sql).fetchall()
        return [
            ForeignKey(table, cols[0], ref_table, ref_cols[0])
            for table, cols, ref_table, ref_cols in rows
            if len(cols) == 1 and len(ref_cols) == 1
        ]

    # -- writing -------------------------------------------------------------------------------

    def write_table(self, name: str, frame: pd.DataFrame, *, replace: bool = True) -> None:
        """Write a frame as table ``name``; ``replace=False`` appends (creating the table if missing)."""
        view = staging_name()
        target = quote(name, DIALECT)
        with self._lock:
            # DuckDB scans the registered frame directly (no row-by-row inserts).
            self._conn.register(view, frame)
            try:
                if replace or name not in self._table_names():
                    self._conn.execute(
                        f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {quote(view, DIALECT)}"
                    )
                else:
                    cols = ", ".join(quote(str(c), DIALECT) for c in frame.columns)
                    self._conn.execute(
                        f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {quote(view, DIALECT)}"
                    )
            finally:
                self._conn.unregister(view)

    def write_table_chunks(self, name: str, chunks: Iterator[pd.DataFrame]) -> int:
        """Replace table ``name`` with the concatenation of ``chunks``; returns the row count.

        Built under a staging name and swapped in at the end, so a failure half-way leaves the old
        table in place. With no chunks at all nothing is written and 0 is returned.
        """
        stage = staging_name()
        total = 0
        first = True
        try:
            for chunk in chunks:
                self.write_table(stage, chunk, replace=first)
                first = False
                total += len(chunk)
            if first:
                return 0
            with self._lock:
                self._conn.execute("BEGIN TRANSACTION")
                try:
                    self._conn.execute(f"DROP TABLE IF EXISTS {quote(name, DIALECT)}")
                    self._conn.execute(
                        f"ALTER TABLE {quote(stage, DIALECT)} RENAME TO {quote(name, DIALECT)}"
                    )
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
        finally:
            self.drop_table(stage)
        return total

    def drop_table(self, name: str) -> None:
        with self._lock:
            self._conn.execute(f"DROP TABLE IF EXISTS {quote(name, DIALECT)}")

    def rename_table(self, old: str, new: str) -> None:
        with self._lock:
            self._conn.execute(f"ALTER TABLE {quote(old, DIALECT)} RENAME TO {quote(new, DIALECT)}")

    def close(self) -> None:
        """Close the connection we opened; a query still running in another thread (a widget's
        estimate) is interrupted first, since DuckDB refuses to close a busy connection."""
        if not self._owns:
            return
        for _ in range(50):
            try:
                self._conn.close()
                return
            except duckdb.Error as e:
                if "busy" not in str(e):
                    raise
                self._conn.interrupt()
                time.sleep(0.02)
        self._conn.close()

    def _table_names(self) -> set[str]:
        sql = (
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = current_schema()"
        )
        return {r[0] for r in self._conn.execute(sql).fetchall()}

    def __repr__(self) -> str:
        return f"DuckDBBackend({self.display_url})"


def _index_columns(create_sql: str | None) -> tuple[str, ...]:
    """The plain columns of a ``CREATE INDEX`` statement (as duckdb_indexes() keeps it); () when one
    of its keys is an expression or the text does not parse."""
    try:
        params = sqlglot.parse_one(create_sql or "", read=DIALECT).find(exp.IndexParameters)
    except sqlglot.errors.ParseError:
        return ()
    keys = (
        [k.this if isinstance(k, exp.Ordered) else k for k in (params.args.get("columns") or [])]
        if params
        else []
    )
    if not keys or not all(isinstance(k, exp.Column) for k in keys):
        return ()
    return tuple(k.name for k in keys)
