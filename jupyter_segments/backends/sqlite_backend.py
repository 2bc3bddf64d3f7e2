"""Backend on the standard library's sqlite3."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from ..errors import SegmentError
from ._sql import (
    DATE,
    TEXT,
    TIMESTAMP,
    create_table_sql,
    frame_types,
    no_such_table,
    path_from_url,
    python_rows,
    quote,
    staging_name,
)
from .base import Column, ForeignKey, TableName, classify_type, mask_url, table_expr, table_parts

# ISO-8601 text as people store it in SQLite: '2024-01-01', '2024-01-01 10:00:00', '2024-01-01T10:00:00.5'
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")

DIALECT = "sqlite"


def _frame(cur: sqlite3.Cursor, rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=[d[0] for d in cur.description])


_DATE_TEXT = r"\d{4}-\d{2}-\d{2}"
_TIMESTAMP_TEXT = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"


def sqlite_frame_types(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """``frame_types``, reading ISO date/timestamp text as DATE/TIMESTAMP.

    SQLite hands dates back as text, so a result copied into a new table (a materialised segment)
    would otherwise lose its DATE type; the stored text is the same either way.
    """
    out = []
    for name, kind in frame_types(frame):
        if kind == TEXT:
            values = frame[name].dropna()
            if len(values) and all(isinstance(v, str) for v in values.head(1000)):
                strings = values.astype(str)
                if strings.str.fullmatch(_DATE_TEXT).all():
                    kind = DATE
                elif strings.str.fullmatch(_TIMESTAMP_TEXT).all():
                    kind = TIMESTAMP
        out.append((name, kind))
    return out


def _text_function(fold):
    return lambda v: fold(v) if isinstance(v, str) else v


def _let_signals_in() -> int:
    return 0  # 0: carry on. A pending SIGINT raises KeyboardInterrupt as this is called.


@contextmanager
def _ctrl_c() -> Iterator[None]:
    """A query aborted by Ctrl-C (see ``_let_signals_in``) raises KeyboardInterrupt, not a database error.
    On the main thread only: elsewhere "interrupted" comes from a ``connection.interrupt()`` call."""
    try:
        yield
    except sqlite3.OperationalError as e:
        if str(e) == "interrupted" and threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt from None
        raise


def _fetchmany(cur: sqlite3.Cursor, n: int) -> list[Any]:
    with _ctrl_c():
        return cur.fetchmany(n)


class SQLiteBackend:
    """A SQLite database file. Dates are stored as ISO text and booleans as 0/1, with declared
    column types DATE / TIMESTAMP / BOOLEAN so ``columns()`` knows what they mean."""

    dialect = DIALECT
    transactional_ddl = True  # CREATE INDEX rolls back (ws.advise(measure=True) relies on it)

    def __init__(self, conn: sqlite3.Connection, *, display_url: str = "sqlite://(connection)") -> None:
        self._conn = conn
        self._owns = False
        self.display_url = mask_url(display_url)
        self._lock = threading.RLock()
        # SQLite runs a query in C with the GIL released: Python's SIGINT handler only runs when
        # Python code does. A progress handler (a Python call every 10,000 VM steps) lets it run; its
        # KeyboardInterrupt aborts the query ("interrupted"), and _ctrl_c raises it to the caller.
        conn.set_progress_handler(_let_signals_in, 10_000)
        # SQLite's own LOWER/UPPER change only ASCII letters ('É' stays 'É'): Python's fold every
        # letter, as DuckDB, PostgreSQL and MariaDB do, so lower(), ILIKE, contains and starts/ends
        # with give the same answer on all four (tests/test_differential.py).
        for name, fold in (("lower", str.lower), ("upper", str.upper)):
            conn.create_function(name, 1, _text_function(fold), deterministic=True)

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> SQLiteBackend:
        """``create=False``: a file that does not exist is an error (a mistyped path would otherwise
        start a new, empty database and every count would be 0)."""
        path = path_from_url(url, "sqlite", "SQLite URLs look like sqlite:///file.db")
        if not create and path != ":memory:" and not os.path.exists(path):
            raise SegmentError(
                f"no SQLite database at {os.path.abspath(path)} ({mask_url(url)})",
                hint="check the path; js.connect(url, create=True) creates a new, empty database there",
            )
        # isolation_level=None: autocommit, with explicit BEGIN/COMMIT where writes must be atomic.
        # check_same_thread=False: widget callbacks run on other threads; self._lock serialises use.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        backend = cls(conn, display_url=url)
        backend._owns = True
        return backend

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str) -> pd.DataFrame:
        with self._lock, _ctrl_c():
            cur = self._conn.execute(sql)
            try:
                return _frame(cur, cur.fetchall())
            finally:
                cur.close()

    def scalar(self, sql: str) -> Any:
        with self._lock, _ctrl_c():
            cur = self._conn.execute(sql)
            try:
                row = cur.fetchone()
            finally:
                cur.close()
        return None if row is None else row[0]

    def iter_chunks(self, sql: str, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """Stream the result ``chunk_size`` rows at a time with ``fetchmany``.

        Always yields at least one frame (empty if there are no rows) so a consumer learns the columns.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        cur = self._conn.cursor()
        try:
            with _ctrl_c():
                cur.execute(sql)
            yielded = False
            while rows := _fetchmany(cur, chunk_size):
                yielded = True
                yield _frame(cur, rows)
            if not yielded:
                yield _frame(cur, [])
        finally:
            cur.close()

    def execute(self, sql: str) -> None:
        with self._lock, _ctrl_c():
            self._conn.execute(sql).close()
            self._commit()

    # -- catalog -------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """Tables and views of the main database, without SQLite's own ``sqlite_*`` tables."""
        sql = (
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        with self._lock:
            return [r[0] for r in self._conn.execute(sql).fetchall()]

    def qualified_tables(self, parts: tuple[str, ...]) -> list[TableName]:
        """``db.t``: a table of an attached database (ATTACH DATABASE 'file.db' AS db), ignoring case;
        ``main.t`` is the main database's ``t``."""
        if len(parts) != 2:
            return []
        found = []
        with self._lock:
            attached = [r[1] for r in self._conn.execute("PRAGMA database_list").fetchall()]
            for db in attached:
                if db.lower() != parts[0].lower():
                    continue
                rows = self._conn.execute(
                    f"SELECT name FROM {quote(db, DIALECT)}.sqlite_master WHERE type IN ('table', 'view') "
                    "AND lower(name) = lower(?)",
                    (parts[1],),
                ).fetchall()
                found += [TableName((name,) if db == "main" else (db, name)) for (name,) in rows]
        return found

    def columns(self, table: str) -> list[Column]:
        *schema, name = table_parts(table)
        info = "pragma_table_info(?, ?)" if schema else "pragma_table_info(?)"  # ?, schema: attached
        with self._lock:
            rows = self._conn.execute(
                f"SELECT name, type FROM {info} ORDER BY cid", (name, *schema)
            ).fetchall()
        if not rows:
            raise no_such_table(table, self.tables())
        # Columns without a declared type (views over expressions) have type '' -> "other".
        declared = [Column(name, classify_type(db_type or ""), db_type or "") for name, db_type in rows]
        return self._by_their_values(table, declared)

    def _by_their_values(self, table: str, columns: list[Column]) -> list[Column]:
        """SQLite keeps dates as ISO text and booleans as 0/1 integers whatever the declared type says:
        read the first rows once and type TEXT or untyped columns of ISO dates (timestamps) as dates
        (timestamps), and mark integer columns of only 0 and 1 as flags."""
        doubtful = [
            c
            for c in columns
            if c.type in ("string", "other") or (c.type == "number" and "INT" in c.db_type.upper())
        ]
        if not doubtful:
            return columns
        names = ", ".join(quote(c.name, "sqlite") for c in doubtful)
        with self._lock:
            source = table_expr(table).sql(DIALECT)
            sample = self._conn.execute(f"SELECT {names} FROM {source} LIMIT 1000").fetchall()
        typed = {}
        for i, col in enumerate(doubtful):
            values = [row[i] for row in sample if row[i] is not None]
            if not values:
                continue
            if col.type == "number":
                if all(v in (0, 1) and not isinstance(v, float) for v in values):
                    typed[col.name] = Column(col.name, col.type, col.db_type, flag=True)
            elif all(isinstance(v, str) and _ISO_DATE.fullmatch(v) for v in values):
                typed[col.name] = Column(col.name, "date", col.db_type or "TEXT")
            elif all(isinstance(v, str) and _ISO_TIMESTAMP.fullmatch(v) for v in values):
                typed[col.name] = Column(col.name, "timestamp", col.db_type or "TEXT")
        return [typed.get(c.name, c) for c in columns]

    def primary_key(self, table: str) -> tuple[str, ...]:
        """The PRIMARY KEY columns of a table of the main database (() without one, or elsewhere). SQLite
        lets a non-INTEGER key column hold NULL (a legacy quirk), so only a key of NOT NULL columns (or
        an INTEGER PRIMARY KEY, the rowid) counts."""
        if isinstance(table, TableName):
            return ()
        with self._lock:
            rows = self._conn.execute(
                'SELECT name, type, "notnull" FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk', (table,)
            ).fetchall()
        rowid = len(rows) == 1 and str(rows[0][1]).upper() == "INTEGER"
        return tuple(r[0] for r in rows) if rows and (rowid or all(r[2] for r in rows)) else ()

    def indexes(self, table: str) -> list[tuple[str, ...]]:
        """The columns of each index of ``table`` (its PRIMARY KEY and UNIQUE constraints' automatic
        indexes among them; an INTEGER PRIMARY KEY is the rowid itself), in their order. An index with
        an expression among its keys is left out: it serves no join on a column."""
        *qualifier, name = table_parts(table)
        schema = qualifier[-1] if qualifier else "main"
        with self._lock:
            pk = self._conn.execute(
                "SELECT name FROM pragma_table_info(?, ?) WHERE pk > 0 ORDER BY pk", (name, schema)
            ).fetchall()
            out = [tuple(r[0] for r in pk)] if pk else []
            for (index,) in self._conn.execute(
                "SELECT name FROM pragma_index_list(?, ?) ORDER BY seq", (name, schema)
            ).fetchall():
                cols = self._conn.execute(
                    "SELECT name FROM pragma_index_info(?, ?) ORDER BY seqno", (index, schema)
                ).fetchall()
                if cols and all(c[0] is not None for c in cols):
                    out.append(tuple(c[0] for c in cols))
        return out

    @contextmanager
    def rollback_only(self) -> Iterator[Callable[[str], Any]]:
        """A transaction that is always rolled back, and ``run(sql) -> first value`` inside it: SQLite's
        DDL is transactional, so indexes created there are gone afterwards."""
        with self._lock:
            if self._conn.in_transaction:
                raise SegmentError(
                    "the SQLite connection has a transaction open: commit or roll it back first"
                )
            self._conn.execute("BEGIN")
            try:

                def run(sql: str) -> Any:
                    with _ctrl_c():
                        cur = self._conn.execute(sql)
                        try:
                            row = cur.fetchone()
                        finally:
                            cur.close()
                    return None if row is None else row[0]

                yield run
            finally:
                self._conn.rollback()

    def foreign_keys(self) -> list[ForeignKey]:
        """Single-column foreign keys from ``PRAGMA foreign_key_list`` of every table."""
        out: list[ForeignKey] = []
        with self._lock:
            for table in self.tables():
                rows = self._conn.execute(
                    'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
                    (table,),
                ).fetchall()
                by_id: dict[int, list[tuple[str, str, str | None]]] = {}
                for fk_id, parent, col, parent_col in rows:
                    by_id.setdefault(fk_id, []).append((parent, col, parent_col))
                for parts in by_id.values():
                    if len(parts) != 1:
                        continue  # composite key: a join on one of its columns would be wrong
                    parent, col, parent_col = parts[0]
                    if parent_col is None:  # "REFERENCES parent" without a column means its primary key
                        pk = self._conn.execute(
                            "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (parent,)
                        ).fetchall()
                        if len(pk) != 1:
                            continue
                        parent_col = pk[0][0]
                    out.append(ForeignKey(table, col, parent, parent_col))
        return out

    # -- writing -------------------------------------------------------------------------------

    def write_table(self, name: str, frame: pd.DataFrame, *, replace: bool = True) -> None:
        """Write a frame as table ``name``; ``replace=False`` appends (creating the table if missing).

        Replacing happens in one transaction, so readers see the old table or the new one.
        """
        with self._lock, self._transaction():
            exists = self._exists(name)
            if replace and exists:
                self._conn.execute(f"DROP TABLE {quote(name, DIALECT)}")
            if replace or not exists:
                self._conn.execute(create_table_sql(name, sqlite_frame_types(frame), DIALECT))
            self._insert(name, frame)

    def write_table_chunks(self, name: str, chunks: Iterator[pd.DataFrame]) -> int:
        """Replace table ``name`` with the concatenation of ``chunks``; returns the row count.

        Chunks go to a staging table that is swapped in at the end, so a failure half-way (or
        ``chunks`` reading from this same database) leaves the old table intact. With no chunks
        at all nothing is written and 0 is returned.
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
            with self._lock, self._transaction():
                self._conn.execute(f"DROP TABLE IF EXISTS {quote(name, DIALECT)}")
                self._conn.execute(f"ALTER TABLE {quote(stage, DIALECT)} RENAME TO {quote(name, DIALECT)}")
        finally:
            self.drop_table(stage)
        return total

    def drop_table(self, name: str) -> None:
        with self._lock:
            self._conn.execute(f"DROP TABLE IF EXISTS {quote(name, DIALECT)}")
            self._commit()

    def rename_table(self, old: str, new: str) -> None:
        with self._lock:
            self._conn.execute(f"ALTER TABLE {quote(old, DIALECT)} RENAME TO {quote(new, DIALECT)}")
            self._commit()

    def close(self) -> None:
        if self._owns:
            self._conn.close()

    # -- helpers -------------------------------------------------------------------------------

    def _insert(self, name: str, frame: pd.DataFrame) -> None:
        if not len(frame.columns):
            return
        cols = ", ".join(quote(str(c), DIALECT) for c in frame.columns)
        marks = ", ".join("?" for _ in frame.columns)
        self._conn.executemany(
            f"INSERT INTO {quote(name, DIALECT)} ({cols}) VALUES ({marks})", python_rows(frame, sqlite=True)
        )

    def _exists(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _commit(self) -> None:
        # A user-supplied connection in Python's default mode opens transactions implicitly.
        if self._conn.in_transaction:
            self._conn.commit()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def __repr__(self) -> str:
        return f"SQLiteBackend({self.display_url})"


class _Transaction:
    """BEGIN ... COMMIT (ROLLBACK on error), joining a transaction the connection already has open."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._outer = False

    def __enter__(self) -> None:
        self._outer = self._conn.in_transaction
        if not self._outer:
            self._conn.execute("BEGIN")

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._outer:
            return
        if exc_type is None:
            self._conn.commit()
        else:
            self._conn.rollback()
