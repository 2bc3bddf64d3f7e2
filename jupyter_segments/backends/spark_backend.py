"""Backend on Apache Spark through PySpark: a ``SparkSession`` the user has, or one made from a URL.

Tables are those of the session's current database (plus its temporary views); SQL runs through
``spark.sql``; results come back to the driver as pandas frames, streamed partition by partition
(``toLocalIterator``) when all members are asked for; frames are written as tables of the current
database with ``DataFrameWriter.saveAsTable`` (the session's default format: Parquet, Delta on
Databricks), built under a staging name and put in place only when complete.

PySpark is optional (``pip install 'jupyter-segments[spark]'``): nothing here imports it before a
Spark backend is opened.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from ..errors import SegmentError
from ._sql import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INTEGER,
    TEXT,
    TIMESTAMP,
    TIMESTAMPTZ,
    Stopper,
    frame_types,
    no_such_table,
    quote,
    staging_name,
)
from .base import Column, ForeignKey, TableName, classify_type, mask_url, table_expr

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DIALECT = "spark"
EXTRA_HINT = "install PySpark with: pip install 'jupyter-segments[spark]'"

# Spark's own master strings for a local session: local, local[4], local[*], local[4,2] (retries).
_LOCAL_MASTER = re.compile(r"^local(\[(\d+|\*)(,\s*\d+)?\])?$")

# Portable column types (backends._sql) -> Spark SQL types for a frame written as a table. Naive
# timestamps are sent as TIMESTAMP_NTZ and cast to TIMESTAMP in Spark, so their wall-clock time is read
# in the session time zone (as a TIMESTAMP literal in the compiled SQL is), not in the Python
# process's local zone.
_SPARK_TYPES = {
    INTEGER: "INT",
    BIGINT: "BIGINT",
    DOUBLE: "DOUBLE",
    BOOLEAN: "BOOLEAN",
    DATE: "DATE",
    TIMESTAMP: "TIMESTAMP_NTZ",
    TIMESTAMPTZ: "TIMESTAMP",
    TEXT: "STRING",
}


# Spark's catalog takes table names of letters, digits and _ only (INVALID_SCHEMA_OR_RELATION_NAME);
# column names may be anything.
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def check_name(name: str) -> str:
    """``name`` if Spark can store a table by that name, else a ``SegmentError`` saying what it takes."""
    if not isinstance(name, str) or not _TABLE_NAME.match(name):
        raise SegmentError(
            f"Spark cannot store a table named {name!r}",
            hint="table names on Spark take letters, digits and _ only",
        )
    return name


def is_spark_session(obj: object) -> bool:
    """Whether ``obj`` is a PySpark ``SparkSession`` (classic or Spark Connect), without importing PySpark."""
    return any(
        cls.__name__ == "SparkSession" and cls.__module__.startswith("pyspark.sql")
        for cls in type(obj).__mro__
    )


def is_spark_url(url: str) -> bool:
    """``spark://host:7077``, ``sc://host:15002`` (Spark Connect) or a local master (``local[2]``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme in ("spark", "sc") or bool(_LOCAL_MASTER.match(url.split("?", 1)[0].strip()))


def _require_pyspark() -> Any:
    try:
        import pyspark.sql  # heavy and optional: loaded only when a Spark backend is opened
    except ImportError as e:
        raise SegmentError(f"Spark needs PySpark, which is not installed ({e})", hint=EXTRA_HINT) from e
    return pyspark.sql


def _split_database(url: str) -> tuple[str, str | None]:
    """``spark://h:7077?database=shop`` -> (``spark://h:7077``, ``shop``); other query text stays."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, None
    database = None
    rest = []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "database" and value:
            database = value
        elif part:
            rest.append(part)
    return base + ("?" + "&".join(rest) if rest else ""), database


def _mask(url: str) -> str:
    """Passwords (``user:pw@``) and Spark Connect tokens (``;token=...``) shown as ***."""
    return re.sub(r"(;\s*token=)[^;]*", r"\1***", mask_url(url), flags=re.IGNORECASE)


class SparkBackend:
    """A Spark session's current database (or ``database``, made current). Stops the session on
    ``close()`` only if it started it itself (``from_url`` with no session running)."""

    dialect = DIALECT

    def __init__(
        self,
        spark: SparkSession,
        *,
        database: str | None = None,
        display_url: str = "spark://(session)",
    ) -> None:
        self._spark = spark
        self._owns = False
        if database is not None:
            try:
                spark.catalog.setCurrentDatabase(database)
            except Exception as e:  # noqa: BLE001 - Spark's AnalysisException, reported as ours
                raise SegmentError(
                    f"no Spark database '{database}'",
                    hint="create it first (CREATE DATABASE ...), or leave it out to use the current one",
                ) from e
        self.display_url = _mask(display_url)

    @classmethod
    def from_url(cls, url: str) -> SparkBackend:
        """A session for ``spark://host:7077``, ``local[2]`` or ``sc://host:15002`` (Spark Connect).

        ``?database=name`` picks the database to work in. For a master URL, a session already running in
        this process is reused (Spark allows one per process) and is left running on ``close()``; a
        Spark Connect URL always opens a new session of the server, stopped on ``close()``.
        """
        sql = _require_pyspark()
        target, database = _split_database(url.strip())
        builder = sql.SparkSession.builder.appName("jupyter-segments")
        try:
            if target.lower().startswith("sc://"):
                # A session of its own (its own current database), never the process's default one
                # that getOrCreate would hand back: close() stops only what the URL opened.
                running = None
                spark = builder.remote(target).create()
            else:
                running = sql.SparkSession.getActiveSession()
                spark = builder.master(target).getOrCreate()
        except SegmentError:
            raise
        except Exception as e:  # noqa: BLE001 - no Java, unreachable master, missing Connect client
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise SegmentError(
                f"cannot start Spark for {_mask(url)}: {first}",
                hint="Spark needs Java 17 or later on PATH (or JAVA_HOME) and a reachable master; "
                "Spark Connect (sc://) also needs: pip install 'pyspark[connect]'",
            ) from e
        backend = cls(spark, database=database, display_url=url)
        backend._owns = running is None
        return backend

    @property
    def spark(self) -> SparkSession:
        return self._spark

    @property
    def database(self) -> str:
        """The session's current database: where tables are listed, read and written."""
        return self._spark.catalog.currentDatabase()

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str) -> pd.DataFrame:
        df = self._spark.sql(sql)
        return _frame(df.collect(), df.columns, _kinds(df), self._time_zone())

    def query_cancellable(self, sql: str, started: Callable[[Stopper], None]) -> pd.DataFrame:
        """``query(sql)``, stoppable from another thread: its jobs carry a tag of their own (set on this
        thread, so only the jobs this call starts), and ``stop()``, given to ``started`` before the
        query runs, cancels the jobs with that tag (classic: the SparkContext's job tags, with the
        tasks' threads interrupted; Spark Connect: the session's operation tags). The call raises
        Spark's SPARK_JOB_CANCELLED error; the session stays usable."""
        tag = f"jupyter-segments-{uuid.uuid4().hex}"
        sc = (
            None
            if type(self._spark).__module__.startswith("pyspark.sql.connect")
            else self._spark.sparkContext
        )
        if sc is None:  # Spark Connect: no SparkContext on the client
            self._spark.addTag(tag)
            stop = Stopper(lambda: self._spark.interruptTag(tag))
        else:
            interrupt = sc.getLocalProperty("spark.job.interruptOnCancel")
            sc.addJobTag(tag)
            sc.setInterruptOnCancel(True)
            stop = Stopper(lambda: sc.cancelJobsWithTag(tag))
        try:
            started(stop)
            return self.query(sql)
        finally:
            stop.disarm()
            if sc is None:
                self._spark.removeTag(tag)
            else:
                sc.removeJobTag(tag)
                sc.setLocalProperty("spark.job.interruptOnCancel", interrupt)  # type: ignore[arg-type]

    def scalar(self, sql: str) -> Any:
        df = self._spark.sql(sql)
        rows = df.head(1)
        if not rows:
            return None
        value = rows[0][0]
        if _kinds(df)[0] == "timestamp" and value is not None:
            return _wall_clock(value, self._time_zone())
        return float(value) if isinstance(value, decimal.Decimal) else value

    def iter_chunks(self, sql: str, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """Stream the result in frames of ``chunk_size`` rows (the last may be shorter).

        ``toLocalIterator`` brings one partition at a time to the driver, in the result's order, so
        the driver holds one partition and one frame, never the whole result. Always yields at least
        one frame (empty when there are no rows), so a consumer learns the columns.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        df = self._spark.sql(sql)
        names, kinds, zone = df.columns, _kinds(df), self._time_zone()
        rows = df.toLocalIterator(prefetchPartitions=False)
        yielded = False
        try:
            batch: list[Any] = []
            for row in rows:
                batch.append(row)
                if len(batch) == chunk_size:
                    yielded = True
                    yield _frame(batch, names, kinds, zone)
                    batch = []
            if batch or not yielded:
                yield _frame(batch, names, kinds, zone)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:  # an abandoned stream: let Spark drop the rest of the job's output
                close()

    def execute(self, sql: str) -> None:
        # Commands (DDL, INSERT, ...) run as spark.sql is called; a query would only be planned.
        self._spark.sql(sql)

    # -- catalog -------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """Tables and views of the current database, and the session's temporary views."""
        listed = self._spark.catalog.listTables()
        return sorted({t.name for t in listed})

    def qualified_tables(self, parts: tuple[str, ...]) -> list[TableName]:
        """``db.t``: a table or view of another database of the session's catalog, ignoring case."""
        if len(parts) != 2:
            return []
        current = self._spark.catalog.currentDatabase()
        found = []
        for db in self._spark.catalog.listDatabases():
            if db.name.lower() != parts[0].lower():
                continue
            for t in self._spark.catalog.listTables(db.name):
                if t.name.lower() == parts[1].lower() and not t.isTemporary:
                    found.append(TableName((t.name,) if db.name == current else (db.name, t.name)))
        return found

    def columns(self, table: str) -> list[Column]:
        try:
            schema = self._spark.table(table_expr(table).sql(DIALECT)).schema
        except Exception:  # noqa: BLE001 - AnalysisException: TABLE_OR_VIEW_NOT_FOUND (or a bad name)
            raise no_such_table(table, self.tables()) from None
        out = []
        for field in schema.fields:
            db_type = field.dataType.simpleString().upper()
            out.append(Column(field.name, classify_type(db_type), db_type))
        return out

    def foreign_keys(self) -> list[ForeignKey]:
        """None: Spark keeps no foreign keys (relationships are declared or inferred from names)."""
        return []

    # -- writing -------------------------------------------------------------------------------

    def write_table(self, name: str, frame: pd.DataFrame, *, replace: bool = True) -> None:
        """Write a frame as table ``name``; ``replace=False`` appends (creating the table if missing).

        A replacement is written under a staging name and renamed into place once complete, so a
        failure leaves the old table as it was.
        """
        check_name(name)
        df = self._dataframe(frame)
        if not replace:
            df.write.saveAsTable(quote(name, DIALECT), mode="append")
            return
        stage = staging_name()
        try:
            df.write.saveAsTable(quote(stage, DIALECT), mode="errorifexists")
            self._swap(stage, name)
        finally:
            self.drop_table(stage)

    def write_table_chunks(self, name: str, chunks: Iterator[pd.DataFrame]) -> int:
        """Replace table ``name`` with the concatenation of ``chunks``; returns the row count.

        Chunks are appended to a staging table that replaces ``name`` at the end, so a failure
        half-way leaves the old table intact. With no chunks at all nothing is written and 0 returned.
        """
        check_name(name)
        stage = staging_name()
        total = 0
        first = True
        try:
            for chunk in chunks:
                self.write_table(stage, chunk, replace=False)
                first = False
                total += len(chunk)
            if not first:
                self._swap(stage, name)
        finally:
            self.drop_table(stage)
        return total

    def drop_table(self, name: str) -> None:
        self._spark.sql(f"DROP TABLE IF EXISTS {quote(name, DIALECT)}")

    def rename_table(self, old: str, new: str) -> None:
        check_name(new)
        self._spark.sql(f"ALTER TABLE {quote(old, DIALECT)} RENAME TO {quote(new, DIALECT)}")

    def close(self) -> None:
        if self._owns:
            self._spark.stop()

    # -- helpers -------------------------------------------------------------------------------

    def _time_zone(self) -> str:
        """The session time zone, in which Spark shows a TIMESTAMP's wall-clock time."""
        return str(self._spark.conf.get("spark.sql.session.timeZone"))

    def _swap(self, stage: str, name: str) -> None:
        """Put table ``stage`` in place of ``name`` (which may not exist). Spark has no transactions:
        between the two statements neither table is there, but the new one is complete."""
        self.drop_table(name)
        self.rename_table(stage, name)

    def _dataframe(self, frame: pd.DataFrame) -> DataFrame:
        """The frame as a Spark DataFrame with its columns' types spelled out, sent as Arrow (about 8x
        faster than rows: 50k rows in 0.7 s instead of 5.7 s). Naive timestamps travel as
        TIMESTAMP_NTZ and are cast to TIMESTAMP in Spark, so their wall-clock time is read in the
        session time zone."""
        import pyarrow as pa  # a dependency; loaded here with the rest of the Spark-only work

        kinds = frame_types(frame)
        if not kinds:
            raise SegmentError("cannot write a table with no columns")
        arrays = [_arrow_column(frame.iloc[:, i], kind) for i, (_, kind) in enumerate(kinds)]
        table = pa.Table.from_arrays(arrays, names=[name for name, _ in kinds])
        schema = ", ".join(f"{quote(c, DIALECT)} {_SPARK_TYPES[k]}" for c, k in kinds)
        df = self._spark.createDataFrame(table, schema=schema)
        if TIMESTAMP not in {k for _, k in kinds}:
            return df
        from pyspark.sql import functions as F  # loaded with PySpark, which this backend runs on

        return df.select(
            *(
                F.col(quote(c, DIALECT)).cast("timestamp").alias(c)
                if k == TIMESTAMP
                else F.col(quote(c, DIALECT))
                for c, k in kinds
            )
        )

    def __repr__(self) -> str:
        return f"SparkBackend({self.display_url}, database={self.database})"


# --- values between pandas and Spark ------------------------------------------------------------------


def _missing(v: object) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _timestamp(v: Any) -> dt.datetime:
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, dt.datetime):
        return v
    return pd.Timestamp(v).to_pydatetime()


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return pd.Timestamp(v).date()


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa  # a dependency of the package; loaded when a Spark backend writes

    return {
        INTEGER: pa.int32(),
        BIGINT: pa.int64(),
        DOUBLE: pa.float64(),
        BOOLEAN: pa.bool_(),
        DATE: pa.date32(),
        TIMESTAMP: pa.timestamp("us"),
        TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
        TEXT: pa.string(),
    }[kind]


def _arrow_column(series: pd.Series, kind: str) -> Any:
    """One column as an Arrow array of the kind's type: straight from pandas where its dtype allows,
    else value by value (object columns of mixed ints and floats, Decimals, dates as Timestamps...)."""
    import pyarrow as pa  # see _arrow_type

    typ = _arrow_type(kind)
    try:
        return pa.Array.from_pandas(series, type=typ)
    except (pa.ArrowException, TypeError, ValueError):
        convert = _CONVERT[kind]
        return pa.array([None if _missing(v) else convert(v) for v in series.astype(object)], type=typ)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    INTEGER: int,
    BIGINT: int,
    DOUBLE: float,
    BOOLEAN: bool,
    DATE: _date,
    TIMESTAMP: lambda v: _timestamp(v).replace(tzinfo=None),
    TIMESTAMPTZ: _timestamp,
    TEXT: str,
}


def _kinds(df: DataFrame) -> list[str]:
    """Per result column: "decimal" (read as float), "timestamp" (a TIMESTAMP, with local time zone),
    "ntz" (TIMESTAMP_NTZ, a wall-clock time) or ""."""
    kinds = {"DecimalType": "decimal", "TimestampType": "timestamp", "TimestampNTZType": "ntz"}
    return [kinds.get(type(field.dataType).__name__, "") for field in df.schema.fields]


def _wall_clock(value: dt.datetime, zone: str) -> dt.datetime:
    """A TIMESTAMP as Spark shows it (in the session time zone), naive.

    PySpark hands TIMESTAMPs over in the Python process's local zone; the compiled SQL's literals,
    and the tables this backend writes, read wall-clock times in the session's zone.
    """
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None:
        value = value.astimezone()  # naive: the process's local time (DST-aware)
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _frame(rows: list[Any], names: list[str], kinds: list[str], zone: str) -> pd.DataFrame:
    """Rows as a frame: DECIMAL as float (as the SQLAlchemy backend reads NUMERIC), TIMESTAMP as
    datetime64 of its wall-clock time in the session zone, DATE as ``datetime.date`` objects (as
    DuckDB and PostgreSQL give them)."""
    frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=names, coerce_float=True)
    for i, kind in enumerate(kinds):
        col = frame.iloc[:, i]
        if kind == "decimal" and col.dtype == object:
            frame.isetitem(i, pd.to_numeric(col, errors="coerce"))
        elif kind == "timestamp":
            local = [None if _missing(v) else _wall_clock(v, zone) for v in col.astype(object)]
            frame.isetitem(i, pd.to_datetime(pd.Series(local, index=frame.index, dtype=object)))
        elif kind == "ntz" and col.dtype == object:
            frame.isetitem(i, pd.to_datetime(col))
    return frame
