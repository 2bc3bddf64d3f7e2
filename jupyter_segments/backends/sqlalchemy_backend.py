"""Backend on any database SQLAlchemy can reach (PostgreSQL, MySQL/MariaDB, Snowflake, ...)."""

from __future__ import annotations

import importlib.util
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

import pandas as pd
import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import Engine
from sqlglot import exp

from ..errors import SegmentError
from ._sql import Stopper, create_table_sql, frame_types, no_such_table, python_rows, quote, staging_name
from .base import Column, ForeignKey, TableName, classify_type, mask_url, table_parts

# SQLAlchemy dialect name -> sqlglot dialect name.
DIALECTS: dict[str, str] = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "tsql",
    "sqlite": "sqlite",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "trino": "trino",
    "presto": "presto",
    "databricks": "databricks",
    "spark": "spark",
    "hive": "hive",
    "redshift": "redshift",
    "awsathena": "athena",
    "clickhouse": "clickhouse",
    "clickhousedb": "clickhouse",
    "duckdb": "duckdb",
    "teradata": "teradata",
    "doris": "doris",
    "starrocks": "starrocks",
}

# SQLAlchemy backend name -> the extra that installs the driver we pick for it (normalize_url).
DRIVER_EXTRAS: dict[str, str] = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}

_INSERT_BATCH = 10_000  # rows per executemany call: bounded memory for big frames


def sqlglot_dialect(sqlalchemy_name: str) -> str:
    """The sqlglot dialect for a SQLAlchemy dialect name, or a SegmentError naming the known ones."""
    try:
        return DIALECTS[sqlalchemy_name]
    except KeyError:
        raise SegmentError(
            f"database type '{sqlalchemy_name}' is not supported",
            hint=f"supported SQLAlchemy dialects: {', '.join(sorted(DIALECTS))}",
        ) from None


def normalize_url(url: str | sa.URL) -> sa.URL:
    """Pick the drivers we ship with when a URL names none: psycopg 3 for PostgreSQL, PyMySQL for MySQL."""
    u = sa.make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername in ("mysql", "mariadb") and importlib.util.find_spec("MySQLdb") is None:
        u = u.set(drivername=f"{u.drivername}+pymysql")
    if u.get_backend_name() in ("mysql", "mariadb") and "charset" not in u.query:
        u = u.update_query_dict({"charset": "utf8mb4"})  # names like Zoë or 東京 must survive
    return u


def open_error(what: str, url: str | sa.URL, e: Exception) -> SegmentError:
    """The SegmentError for a URL SQLAlchemy cannot open; a missing driver names the extra that installs it.

    >>> open_error("cannot open", "postgresql://db/x", ModuleNotFoundError("No module named 'psycopg'")).hint
    "install the PostgreSQL driver: pip install 'jupyter-segments[postgres]'"
    """
    shown = mask_url(str(url))
    if isinstance(e, ImportError | sa.exc.NoSuchModuleError):
        try:
            backend = sa.make_url(url).get_backend_name()
        except sa.exc.ArgumentError:
            backend = ""
        extra = DRIVER_EXTRAS.get(backend)
        if extra is not None:
            kind = {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB"}[extra]
            return SegmentError(
                f"{what} {shown}: the {kind} driver is not installed ({e})",
                hint=f"install the {kind} driver: pip install 'jupyter-segments[{extra}]'",
            )
        return SegmentError(
            f"{what} {shown}: {e}", hint="install the SQLAlchemy dialect and driver package for this database"
        )
    return SegmentError(f"{what} {shown}: {e}")


# Seconds to wait for a server to accept a connection and answer (a host that accepts and never
# answers hung the first query for over two minutes). A URL's own ?connect_timeout= wins; set this to
# change the default for every URL opened afterwards (catalogs too).
CONNECT_TIMEOUT = 10


def connect_args(url: sa.URL) -> dict[str, Any]:
    """The driver's connect timeout for ``url``: PostgreSQL (psycopg, psycopg2) and MySQL/MariaDB
    (pymysql, mysqlclient) take ``connect_timeout`` in seconds; other drivers get nothing. PyMySQL's
    covers the TCP connect only, so the server's greeting is read with a ``read_timeout`` too (lifted
    once connected: see server_engine)."""
    if "connect_timeout" in url.query or CONNECT_TIMEOUT is None:
        return {}
    if url.get_backend_name() not in ("postgresql", "mysql", "mariadb"):
        return {}
    args: dict[str, Any] = {"connect_timeout": int(CONNECT_TIMEOUT)}
    if _handshake_read_timeout(url):
        args["read_timeout"] = int(CONNECT_TIMEOUT)
    return args


def _handshake_read_timeout(url: sa.URL) -> bool:
    return url.get_driver_name() == "pymysql" and "read_timeout" not in url.query


def server_engine(url: sa.URL) -> Engine:
    """An engine for a database server with the connect timeout (catalogs use it too)."""
    args = connect_args(url)
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args=args)
    if "read_timeout" in args:

        @sa.event.listens_for(engine, "connect")
        def _lift_read_timeout(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
            dbapi_conn._read_timeout = None  # PyMySQL applies it to the socket before each read

    return engine


def _name_connect_errors(engine: Engine, shown: str) -> None:
    """A server that refuses, times out, is unknown or rejects the login: a SegmentError naming the
    database (password masked), at whatever call first connects, instead of the driver's exception."""

    @sa.event.listens_for(engine, "handle_error")
    def _connect_failed(ctx: sa.engine.ExceptionContext) -> None:
        if ctx.connection is not None or ctx.is_pre_ping:
            return  # a query's error: the engine reports it with the SQL sent
        reason = str(ctx.original_exception).strip().splitlines() or [type(ctx.original_exception).__name__]
        raise SegmentError(
            f"cannot connect to {shown}: {mask_url(reason[0])}",
            hint=f"is the server running and reachable? (connect timeout {CONNECT_TIMEOUT} s: "
            "jupyter_segments.backends.sqlalchemy_backend.CONNECT_TIMEOUT, or ?connect_timeout= in the URL)",
        )


class SQLAlchemyBackend:
    """A database behind a SQLAlchemy engine. Disposes the engine on ``close()`` only if it created it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._owns = False
        self.dialect = sqlglot_dialect(engine.dialect.name)
        self.display_url = mask_url(engine.url.render_as_string(hide_password=True))
        driver = engine.dialect.driver
        self._copy = engine.dialect.name == "postgresql" and driver == "psycopg"
        self._mysql = engine.dialect.name in ("mysql", "mariadb")
        self._killer: Engine | None = None  # MySQL/MariaDB: short-lived connections that send KILL QUERY

    @classmethod
    def from_url(cls, url: str | sa.URL) -> SQLAlchemyBackend:
        try:
            url = normalize_url(url)
            engine = server_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as e:
            raise open_error("cannot open", url, e) from e
        backend = cls(engine)
        backend._owns = True
        _name_connect_errors(engine, backend.display_url)
        return backend

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str) -> pd.DataFrame:
        with self._engine.connect() as c, self._stop_on_interrupt(c):
            res = _run(c, sql)
            return _frame(res.keys(), res.fetchall())

    def scalar(self, sql: str) -> Any:
        with self._engine.connect() as c, self._stop_on_interrupt(c):
            return _run(c, sql).scalar()

    def query_cancellable(self, sql: str, started: Callable[[Stopper], None]) -> pd.DataFrame:
        """``query(sql)``, stoppable from another thread: ``started(stop)`` is called just before the
        statement is sent, and ``stop()`` ends it on the server (PostgreSQL: the driver's cancel
        request; MySQL/MariaDB: KILL QUERY from a second connection). The call then raises the
        database's error ("canceling statement due to user request", "Query execution was
        interrupted") and the connection, still good, goes back to the pool. Other databases: ``stop``
        does nothing and the query runs to its end."""
        with self._engine.connect() as c:
            stop = Stopper(self._stopper(c))
            started(stop)
            try:
                res = _run(c, sql)
                return _frame(res.keys(), res.fetchall())
            finally:
                stop.disarm()

    def _stopper(self, c: sa.Connection) -> Callable[[], None] | None:
        if self._mysql:
            connection_id = self._connection_id(c)
            return lambda: self._kill_query(connection_id)
        return getattr(c.connection.driver_connection, "cancel", None)  # psycopg 3 and psycopg2

    def _connection_id(self, c: sa.Connection) -> int:
        """The server's id of this MySQL/MariaDB connection (CONNECTION_ID()), read once per connection
        and kept with it in the pool: the one value KILL QUERY is ever given."""
        info = c.connection.info
        if "jseg_connection_id" not in info:
            info["jseg_connection_id"] = int(c.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one())
        return int(info["jseg_connection_id"])

    def _kill_query(self, connection_id: int) -> None:
        """KILL QUERY on a connection of its own (never one of the pool's, which may all be busy): the
        statement running on ``connection_id`` ends with "Query execution was interrupted"; the
        connection stays open. An idle connection is not affected."""
        if self._killer is None:
            self._killer = sa.create_engine(
                self._engine.url, poolclass=sa.pool.NullPool, connect_args=connect_args(self._engine.url)
            )
        with self._killer.connect() as side:
            side.exec_driver_sql(f"KILL QUERY {int(connection_id)}")

    @contextmanager
    def _stop_on_interrupt(self, c: sa.Connection) -> Iterator[None]:
        """Ctrl-C: PyMySQL raises KeyboardInterrupt in the caller, but MySQL/MariaDB go on running the
        query (psycopg cancels it itself): KILL QUERY from a second connection stops it there."""
        if not self._mysql:
            yield
            return
        connection_id = self._connection_id(c)
        try:
            yield
        except KeyboardInterrupt:
            c.invalidate()  # interrupted mid-reply: never reused
            self._kill_query(connection_id)
            raise

    def iter_chunks(self, sql: str, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """Stream with a server-side cursor (``stream_results``), ``chunk_size`` rows per frame.

        Always yields at least one frame (empty if there are no rows) so a consumer learns the columns.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        with self._engine.connect() as c, self._stop_on_interrupt(c):
            res = c.execution_options(stream_results=True, max_row_buffer=chunk_size).exec_driver_sql(
                _for_server(c, sql), execution_options=_RAW
            )
            try:
                keys = list(res.keys())
                yielded = False
                for part in res.partitions(chunk_size):
                    yielded = True
                    yield _frame(keys, part)
                if not yielded:
                    yield _frame(keys, [])
            finally:
                # An abandoned stream must close its server-side cursor before the connection
                # goes back to the pool (PyMySQL otherwise warns and drains it on the next use).
                res.close()

    def execute(self, sql: str) -> None:
        with self._engine.begin() as c, self._stop_on_interrupt(c):
            _run(c, sql)
        _forget_indexes(self._engine)  # a CREATE INDEX counts at once (MariaDB's join_cache_level)

    # -- catalog -------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """Tables and views of the connection's default schema."""
        insp = sa.inspect(self._engine)
        return sorted(set(insp.get_table_names()) | set(insp.get_view_names()))

    def qualified_tables(self, parts: tuple[str, ...]) -> list[TableName]:
        """``schema.t``: a table or view of another schema (PostgreSQL, on the search_path or not) or
        another database on the server (MySQL/MariaDB), ignoring case."""
        if len(parts) != 2:
            return []
        insp = sa.inspect(self._engine)
        found = []
        for schema in insp.get_schema_names():
            if schema.lower() != parts[0].lower():
                continue
            for table in [*insp.get_table_names(schema=schema), *insp.get_view_names(schema=schema)]:
                if table.lower() == parts[1].lower():
                    found.append(
                        TableName((table,) if schema == insp.default_schema_name else (schema, table))
                    )
        return found

    def columns(self, table: str) -> list[Column]:
        insp = sa.inspect(self._engine)
        *schema, name = table_parts(table)
        try:
            cols = insp.get_columns(name, schema=schema[-1] if schema else None)
        except sa.exc.NoSuchTableError:
            raise no_such_table(table, self.tables()) from None
        out = []
        for col in cols:
            try:
                db_type = col["type"].compile(dialect=self._engine.dialect)
            except Exception:  # reflected types the dialect cannot render (e.g. NullType)
                db_type = str(col["type"].__class__.__name__).upper()
            out.append(Column(col["name"], classify_type(db_type), db_type))
        return out

    def primary_key(self, table: str) -> tuple[str, ...]:
        """The PRIMARY KEY columns of a table of the default schema, from the inspector (() without one)."""
        if isinstance(table, TableName):
            return ()
        try:
            found = sa.inspect(self._engine).get_pk_constraint(table)
        except sa.exc.NoSuchTableError:
            return ()
        return tuple(found.get("constrained_columns") or ())

    def indexes(self, table: str) -> list[tuple[str, ...]]:
        """The columns of each index, PRIMARY KEY and UNIQUE constraint of ``table`` (from the
        inspector), in their order; an index with an expression among its keys is left out."""
        *schema, name = table_parts(table)
        insp = sa.inspect(self._engine)
        where = schema[-1] if schema else None
        try:
            pk = insp.get_pk_constraint(name, schema=where).get("constrained_columns") or []
            found: list[tuple[str | None, ...]] = [
                tuple(i.get("column_names") or ()) for i in insp.get_indexes(name, schema=where)
            ]
            try:
                found += [tuple(u["column_names"]) for u in insp.get_unique_constraints(name, schema=where)]
            except NotImplementedError:
                pass
        except sa.exc.NoSuchTableError:
            raise no_such_table(table, self.tables()) from None
        out: list[tuple[str, ...]] = [tuple(pk)] if pk else []
        for cols in found:
            if cols and all(c is not None for c in cols):
                out.append(tuple(str(c) for c in cols))
        return out

    @property
    def transactional_ddl(self) -> bool:
        """Whether CREATE INDEX can be rolled back (MySQL and MariaDB commit DDL at once)."""
        return not self._mysql

    @contextmanager
    def rollback_only(self) -> Iterator[Callable[[str], Any]]:
        """A transaction that is always rolled back, and ``run(sql) -> first value`` inside it, on one
        connection. Only where DDL is transactional (PostgreSQL): on MySQL/MariaDB a CREATE INDEX
        would commit, so this raises SegmentError there."""
        if not self.transactional_ddl:
            raise SegmentError(
                f"{self._engine.dialect.name} commits DDL at once: indexes cannot be tried in a transaction"
            )
        with self._engine.connect() as c, self._stop_on_interrupt(c):
            trans = c.begin()
            try:

                def run(sql: str) -> Any:
                    res = _run(c, sql)
                    return res.scalar() if res.returns_rows else None

                yield run
            finally:
                trans.rollback()

    def foreign_keys(self) -> list[ForeignKey]:
        """Single-column foreign keys between tables of the default schema, from the inspector."""
        insp = sa.inspect(self._engine)
        out = []
        for (_schema, table), fks in sorted(insp.get_multi_foreign_keys().items(), key=lambda kv: kv[0][1]):
            for fk in fks:
                if fk.get("referred_schema") not in (None, insp.default_schema_name):
                    continue  # a table outside the schema we show is not something users can join
                cols, ref_cols = fk["constrained_columns"], fk["referred_columns"]
                if len(cols) == 1 and len(ref_cols) == 1:  # composite keys: joining on one column is wrong
                    out.append(ForeignKey(table, cols[0], fk["referred_table"], ref_cols[0]))
        return out

    # -- writing -------------------------------------------------------------------------------

    def write_table(self, name: str, frame: pd.DataFrame, *, replace: bool = True) -> None:
        """Write a frame as table ``name``; ``replace=False`` appends (creating the table if missing).

        A replacement is built under a staging name and swapped in, so readers never see a half
        written table.
        """
        if replace:
            stage = staging_name()
            try:
                with self._engine.begin() as c:
                    _run(c, self._create_sql(stage, frame))
                    self._insert(c, stage, frame)
                self._swap(stage, name)
            finally:
                self.drop_table(stage)
            return
        with self._engine.begin() as c:
            if not sa.inspect(c).has_table(name):
                _run(c, self._create_sql(name, frame))
            self._insert(c, name, frame)

    def write_table_chunks(self, name: str, chunks: Iterator[pd.DataFrame]) -> int:
        """Replace table ``name`` with the concatenation of ``chunks``; returns the row count.

        Chunks go to a staging table swapped in at the end, so a failure half-way leaves the old
        table intact. With no chunks at all nothing is written and 0 is returned.
        """
        stage = staging_name()
        total = 0
        first = True
        try:
            for chunk in chunks:
                with self._engine.begin() as c:
                    if first:
                        _run(c, self._create_sql(stage, chunk))
                    self._insert(c, stage, chunk)
                first = False
                total += len(chunk)
            if not first:
                self._swap(stage, name)
        finally:
            self.drop_table(stage)
        return total

    def drop_table(self, name: str) -> None:
        with self._engine.begin() as c:
            _run(c, f"DROP TABLE IF EXISTS {self._q(name)}")

    def rename_table(self, old: str, new: str) -> None:
        with self._engine.begin() as c:
            self._rename(c, old, new)

    def close(self) -> None:
        if self._killer is not None:
            self._killer.dispose()
        if self._owns:
            self._engine.dispose()

    # -- helpers -------------------------------------------------------------------------------

    def _q(self, name: str) -> str:
        return quote(name, self.dialect)

    def _create_sql(self, name: str, frame: pd.DataFrame) -> str:
        sql = create_table_sql(name, frame_types(frame), self.dialect)
        if self.dialect == "mysql":
            sql += " DEFAULT CHARSET=utf8mb4"
        return sql

    def _insert(self, c: sa.Connection, name: str, frame: pd.DataFrame) -> None:
        cols = [str(col) for col in frame.columns]
        if not cols or not len(frame):
            return
        rows = python_rows(frame)
        if self._copy:
            # COPY is several times faster than INSERTs on PostgreSQL; values still travel as data.
            target = f"{self._q(name)} ({', '.join(self._q(col) for col in cols)})"
            # The psycopg connection itself (the same object as dbapi_connection for this sync driver):
            # SQLAlchemy's DBAPI protocol types know neither cursor.copy() nor cursors as context managers.
            raw = c.connection.driver_connection
            assert raw is not None, "a checked-out connection always has its driver connection"
            with raw.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            return
        sql, named = self._insert_sql(name, cols)
        while batch := list(islice(rows, _INSERT_BATCH)):
            # executemany straight to the driver: PyMySQL folds it into multi-row INSERTs, psycopg
            # pipelines it; plain tuples skip SQLAlchemy's per-row bind processing.
            params = [{f"p{i}": v for i, v in enumerate(row)} for row in batch] if named else batch
            c.exec_driver_sql(sql, params)

    def _insert_sql(self, name: str, cols: list[str]) -> tuple[str, bool]:
        """INSERT text in the driver's own parameter style; True if it takes named parameters."""
        style = self._engine.dialect.paramstyle
        if style == "qmark":
            marks, named = ["?"] * len(cols), False
        elif style == "numeric":
            marks, named = [f":{i + 1}" for i in range(len(cols))], False
        elif style == "named":
            marks, named = [f":p{i}" for i in range(len(cols))], True
        else:  # format, pyformat: the pyformat drivers (psycopg, PyMySQL, mysqlclient) take %s too
            marks, named = ["%s"] * len(cols), False
        target = f"{self._q(name)} ({', '.join(self._q(col) for col in cols)})"
        if style in ("format", "pyformat"):
            target = target.replace("%", "%%")  # a literal '%' in a name, not a placeholder
        return f"INSERT INTO {target} VALUES ({', '.join(marks)})", named

    def _rename(self, c: sa.Connection, old: str, new: str) -> None:
        if self.dialect == "mysql":
            _run(c, f"RENAME TABLE {self._q(old)} TO {self._q(new)}")
        elif self.dialect == "tsql":
            c.execute(sa.text("EXEC sp_rename :old, :new"), {"old": old, "new": new})
        else:
            _run(c, f"ALTER TABLE {self._q(old)} RENAME TO {self._q(new)}")

    def _swap(self, stage: str, name: str) -> None:
        """Put table ``stage`` in place of ``name`` (which may not exist)."""
        if self.dialect == "mysql":
            # MySQL DDL commits implicitly, but one RENAME TABLE statement swaps atomically.
            with self._engine.begin() as c:
                if sa.inspect(c).has_table(name):
                    old = staging_name()
                    _run(
                        c,
                        f"RENAME TABLE {self._q(name)} TO {self._q(old)}, {self._q(stage)} TO {self._q(name)}",
                    )
                    _run(c, f"DROP TABLE {self._q(old)}")
                else:
                    self._rename(c, stage, name)
            return
        # PostgreSQL (and most others) run DDL inside the transaction: drop + rename is atomic.
        with self._engine.begin() as c:
            _run(c, f"DROP TABLE IF EXISTS {self._q(name)}")
            self._rename(c, stage, name)

    def __repr__(self) -> str:
        return f"SQLAlchemyBackend({self.display_url})"


# exec_driver_sql, not text(): the SQL is complete, and text() would take ':name' inside a string
# literal for a bind parameter. no_parameters: call cursor.execute(sql) with no parameter argument at
# all, or 'format'-style drivers (psycopg, PyMySQL) would read "LIKE 'a%'" as a placeholder.
_RAW = {"no_parameters": True}


def _run(c: sa.Connection, sql: str) -> sa.CursorResult:
    return c.exec_driver_sql(_for_server(c, sql), execution_options=_RAW)


def _for_server(c: sa.Connection, sql: str) -> str:
    """MariaDB: run queries without "split materialized" (LATERAL DERIVED) derived tables, and with
    hash joins where no index serves a join.

    MariaDB re-evaluates a grouped derived table once per outer row when it thinks that is cheaper;
    for a nested aggregate (per-order line sums joined to orders) it then scans every order line per
    order: over 120 s instead of 0.1 s at 2,000 customers. Tables without indexes (as pandas.to_sql
    writes them) are joined by nested loops at the default join_cache_level=2: orders to order_lines
    took over 60 s; level 4 lets MariaDB hash the join instead (0.6 s). But where indexes serve every
    join, level 4 makes MariaDB hash anyway and lose them (issue 22: 20k customers, one
    count_distinct(orders.order_lines.product_id): 7.4 s hashed, 2.0 s by the indexes), so the level
    is left out when each equi-join of the statement has an indexed column on one side
    (``_indexes_serve_joins``). SET STATEMENT scopes the settings to this one statement, so the
    session keeps the user's settings.
    """
    if not getattr(c.dialect, "is_mariadb", False):
        return sql
    words = sql.split(None, 1)
    first = words[0].upper() if words else ""
    if first in ("SELECT", "WITH") or (first in ("CREATE", "INSERT") and "SELECT" in sql.upper()):
        hashed = "" if _indexes_serve_joins(c, sql) else ", join_cache_level=4"
        return f"SET STATEMENT optimizer_switch='split_materialized=off'{hashed} FOR {sql}"
    return sql


# MariaDB: per engine, when read and {table: first columns of its indexes} of the current database.
_INDEXED: weakref.WeakKeyDictionary[Engine, tuple[float, dict[str, set[str]]]] = weakref.WeakKeyDictionary()
_INDEXED_TTL = 30.0  # seconds: an index made elsewhere is seen this late at most (ours at once)


def _indexed_columns(c: sa.Connection) -> dict[str, set[str]]:
    found = _INDEXED.get(c.engine)
    if found is not None and time.monotonic() - found[0] < _INDEXED_TTL:
        return found[1]
    out: dict[str, set[str]] = {}
    rows = c.exec_driver_sql(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND SEQ_IN_INDEX = 1",
        execution_options=_RAW,
    )
    for table, column in rows:
        out.setdefault(str(table).lower(), set()).add(str(column).lower())
    _INDEXED[c.engine] = (time.monotonic(), out)
    return out


def _forget_indexes(engine: Engine) -> None:
    _INDEXED.pop(engine, None)


def _indexes_serve_joins(c: sa.Connection, sql: str) -> bool:
    """Whether the statement has joins and each is an equality with an indexed column (the first of an
    index of a table of the current database) on one side. Anything unclear counts as not served: a
    join without ON, a side that is a derived table's column, SQL that does not parse."""
    if "JOIN" not in sql.upper():  # the common attribute-only statement: no parse (~2 ms per statement)
        return False
    try:
        tree = sqlglot.parse_one(sql, read="mysql")
    except sqlglot.errors.SqlglotError:
        return False
    joins = list(tree.find_all(exp.Join))
    if not joins:
        return False
    tables: dict[str, str | None] = {}
    for t in tree.find_all(exp.Table):
        name = None if t.args.get("db") else t.name.lower()  # another database's table: unknown
        alias = t.alias_or_name.lower()
        tables[alias] = name if tables.get(alias, name) == name else None
    indexed = _indexed_columns(c)

    def served(col: exp.Expression) -> bool:
        if not isinstance(col, exp.Column) or not col.table:
            return False
        table = tables.get(col.table.lower())
        return table is not None and col.name.lower() in indexed.get(table, ())

    for join in joins:
        on = join.args.get("on")
        pairs = [eq for eq in on.find_all(exp.EQ)] if on is not None else []
        if not pairs or not any(served(eq.this) or served(eq.expression) for eq in pairs):
            return False
    return True


def _frame(keys: Any, rows: Any) -> pd.DataFrame:
    # coerce_float: NUMERIC/DECIMAL come back as Decimal objects; analysis wants floats.
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=list(keys), coerce_float=True)
