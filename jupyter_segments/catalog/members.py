"""Where the members of a refresh are kept: a table in the user's database, or a Parquet file.

Table location: the new members are built under a staging name (``CREATE TABLE ... AS SELECT``) and
swapped in by one transaction that also keeps the previous members as ``<table>__prev`` (the basis of
``diff()``). Parquet location: the new members go to a temporary file that is ``os.replace()``d to a
per-run file name; the catalog row that names the current file is switched in the same catalog
transaction that records the run, so a crash at any point leaves the previous members in force.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from ..backends._sql import quote
from ..backends.base import Backend
from ..backends.duckdb_backend import DuckDBBackend
from ..backends.sqlalchemy_backend import SQLAlchemyBackend
from ..backends.sqlite_backend import SQLiteBackend
from ..errors import SegmentError

STAGE_PREFIX = "_js_stage_"


@dataclass
class Storage:
    """Where a workspace keeps the members of its refreshes.

    ``prefix``: members tables are named ``<prefix>members__<segment>``. ``mode``: "auto" (a table if the
    database is writable, else a Parquet file beside the catalog), "table" or "parquet". ``path``: the
    directory Parquet members go to (default: ``members/`` beside the catalog). ``writable``: the answer
    of the probe "auto" asks once, kept for the next refreshes.
    """

    prefix: str = "seg_"
    mode: str = "auto"
    writable: bool | None = None
    path: str | None = None

    def location(self, backend: Backend) -> str:
        """'table' or 'parquet': where the next refresh writes members."""
        if self.mode in ("table", "parquet"):
            return self.mode
        if self.writable is None:
            self.writable = probe_writable(backend)
        return "table" if self.writable else "parquet"


def stage_name() -> str:
    """A short unique table name (PostgreSQL truncates identifiers at 63 bytes)."""
    return f"{STAGE_PREFIX}{uuid.uuid4().hex[:12]}"


def table_name(prefix: str, name: str, segment_id: int) -> str:
    """``seg_members__vip`` for a plain name; names that need changing get their id appended
    (``seg_members__vip_2_7``) so two names never map to one table."""
    slug = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_").lower()[:40]
    base = f"{prefix}members__{slug}" if slug else f"{prefix}members"
    return base if slug == name else f"{base}_{segment_id}"


def prev_name(table: str) -> str:
    return f"{table}__prev"


# --- tables in the user's database -------------------------------------------------------------------


def ctas(backend: Backend, name: str, select: exp.Expr) -> None:
    """CREATE TABLE name AS select, in the backend's dialect (SELECT INTO where that is the idiom)."""
    create = exp.Create(
        this=exp.Table(this=exp.to_identifier(name, quoted=True)), kind="TABLE", expression=select
    )
    backend.execute(create.sql(dialect=backend.dialect))


def table_exists(backend: Backend, name: str) -> bool:
    return name in set(backend.tables())


def count_rows(backend: Backend, table: str) -> int:
    return int(backend.scalar(f"SELECT COUNT(*) FROM {quote(table, backend.dialect)}") or 0)


Keys = str | Sequence[str]  # the customer key: its column, or its columns (a composite key)


def key_list(key: Keys) -> list[str]:
    return [key] if isinstance(key, str) else list(key)


def same_key(key: Keys, dialect: str, a: str = "a", b: str = "b") -> str:
    """``b.k = a.k`` for each key column, joined by AND."""
    return " AND ".join(f"{b}.{quote(k, dialect)} = {a}.{quote(k, dialect)}" for k in key_list(key))


def count_missing(backend: Backend, table: str, other: str, key: Keys) -> int:
    """Rows of ``table`` whose key is not in ``other``."""
    d = backend.dialect
    t, o = quote(table, d), quote(other, d)
    sql = f"SELECT COUNT(*) FROM {t} a WHERE NOT EXISTS (SELECT 1 FROM {o} b WHERE {same_key(key, d)})"
    return int(backend.scalar(sql) or 0)


def probe_writable(backend: Backend) -> bool:
    """Whether tables can be created in the user's database (a read-only file cannot)."""
    name = f"_js_probe_{uuid.uuid4().hex[:12]}"
    try:
        ctas(backend, name, exp.select(exp.alias_(exp.Literal.number(1), "x")))
    except Exception:  # noqa: BLE001 - any failure means: do not put members there
        return False
    try:
        backend.drop_table(name)
    except Exception:  # noqa: BLE001
        pass
    return True


def _full_join_ok(dialect: str) -> bool:
    """Whether the database has FULL OUTER JOIN (MySQL/MariaDB never; SQLite from 3.39)."""
    if dialect == "sqlite":
        return sqlite3.sqlite_version_info >= (3, 39, 0)
    return dialect in ("duckdb", "postgres", "snowflake", "bigquery", "tsql", "oracle", "trino", "spark")


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def member_counts(
    backend: Backend, pairs: Sequence[tuple[str, str | None]], key: Keys
) -> list[tuple[int, int, int]]:
    """(members, added, removed) for each (new table, previous table or None), in ONE query.

    ``added``: rows of the new table whose key is not in the previous one; ``removed``: the other
    way round. Both are exact row counts of the anti-joins (a FULL OUTER JOIN counts its unmatched
    rows on each side), and come from one hash join per segment instead of two; all segments go in
    one UNION ALL, so one round trip. Without a previous table: added = members, removed = 0.
    """
    if not pairs:
        return []
    d = backend.dialect
    k, on = quote(key_list(key)[0], d), same_key(key, d)  # (a member's key is never NULL)
    full = _full_join_ok(d)
    parts: list[str] = []
    for i, (new, old) in enumerate(pairs):
        n = quote(new, d)
        members = f"(SELECT COUNT(*) FROM {n})"
        if old is None:
            parts.append(f"SELECT {i} AS i, {members} AS m, 0 AS a, 0 AS r")
        elif full:
            o = quote(old, d)
            parts.append(
                f"SELECT {i} AS i, {members} AS m,"
                f" COALESCE(SUM(CASE WHEN b.{k} IS NULL THEN 1 ELSE 0 END), 0) AS a,"
                f" COALESCE(SUM(CASE WHEN a.{k} IS NULL THEN 1 ELSE 0 END), 0) AS r"
                f" FROM {n} a FULL OUTER JOIN {o} b ON {on}"
            )
        else:
            o = quote(old, d)
            parts.append(
                f"SELECT {i} AS i, {members} AS m,"
                f" (SELECT COUNT(*) FROM {n} a WHERE NOT EXISTS (SELECT 1 FROM {o} b WHERE {on})) AS a,"
                f" (SELECT COUNT(*) FROM {o} a WHERE NOT EXISTS (SELECT 1 FROM {n} b WHERE {on})) AS r"
            )
    frame = backend.query(" UNION ALL ".join(parts))
    got = {int(r[0]): (_int(r[1]), _int(r[2]), _int(r[3])) for r in frame.itertuples(index=False)}
    out = []
    for i, (_new, old) in enumerate(pairs):
        total, added, removed = got[i]
        out.append((total, total, 0) if old is None else (total, added, removed))
    return out


def swap_statements(stage: str, current: str, dialect: str, has_current: bool, keep_prev: bool) -> list[str]:
    """DDL that makes ``stage`` the ``current`` table (old current becomes ``current__prev``)."""
    prev = prev_name(current)
    q = lambda n: quote(n, dialect)  # noqa: E731
    statements = [f"DROP TABLE IF EXISTS {q(prev)}"]
    if dialect == "mysql":
        # MySQL DDL commits implicitly; one multi-table RENAME is atomic there.
        renames = ([f"{q(current)} TO {q(prev)}"] if has_current else []) + [f"{q(stage)} TO {q(current)}"]
        statements.append("RENAME TABLE " + ", ".join(renames))
    else:
        if has_current:
            statements.append(f"ALTER TABLE {q(current)} RENAME TO {q(prev)}")
        statements.append(f"ALTER TABLE {q(stage)} RENAME TO {q(current)}")
    if not keep_prev:
        statements.append(f"DROP TABLE IF EXISTS {q(prev)}")
    return statements


def swap_in(
    backend: Backend, stage: str, current: str, keep_prev: bool = True, has_current: bool | None = None
) -> None:
    """Make ``stage`` the ``current`` table (old current becomes ``current__prev``) in one transaction.

    ``has_current``: whether ``current`` exists, if the caller already knows (saves a listing).
    """
    if has_current is None:
        has_current = table_exists(backend, current)
    run_in_transaction(backend, swap_statements(stage, current, backend.dialect, has_current, keep_prev))


def drop_tables(backend: Backend, names: Iterable[str]) -> None:
    run_in_transaction(backend, [f"DROP TABLE IF EXISTS {quote(n, backend.dialect)}" for n in names])


def rename_tables(backend: Backend, pairs: list[tuple[str, str]]) -> None:
    d = backend.dialect
    run_in_transaction(backend, [f"ALTER TABLE {quote(a, d)} RENAME TO {quote(b, d)}" for a, b in pairs])


def run_in_transaction(backend: Backend, statements: list[str]) -> None:
    """Run DDL statements atomically on the backends that can (DuckDB, SQLite, PostgreSQL, ...)."""
    lock = getattr(backend, "_lock", None) or nullcontext()
    if isinstance(backend, DuckDBBackend):
        duck = backend.connection
        with lock:
            duck.execute("BEGIN TRANSACTION")
            try:
                for s in statements:
                    duck.execute(s)
                duck.execute("COMMIT")
            except BaseException:
                duck.execute("ROLLBACK")
                raise
        return
    if isinstance(backend, SQLiteBackend):
        conn: sqlite3.Connection = backend.connection
        with lock:
            if conn.in_transaction:
                conn.commit()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for s in statements:
                    conn.execute(s)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return
    if isinstance(backend, SQLAlchemyBackend):
        with backend.engine.begin() as c:
            for s in statements:
                c.exec_driver_sql(s, execution_options={"no_parameters": True})
        return
    for s in statements:  # an unknown backend object: best effort, one statement at a time
        backend.execute(s)


# --- Parquet files beside the catalog -------------------------------------------------------------


class ParquetSink:
    """Streams frames into a temporary Parquet file; ``commit()`` renames it into place atomically."""

    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self.rows = 0
        self._lock = threading.Lock()

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with self._lock:
            if self._writer is None:
                self._schema = _widen_nulls(table.schema)
                self._writer = pq.ParquetWriter(self.tmp, self._schema)
            if not table.schema.equals(self._schema):
                table = table.cast(self._schema)
            self._writer.write_table(table)
            self.rows += len(frame)

    def commit(self, empty_like: pd.DataFrame | None = None) -> int:
        if self._writer is None:  # no rows at all: still write a file with the columns
            self.write(empty_like if empty_like is not None else pd.DataFrame())
        assert self._writer is not None
        self._writer.close()
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.final)
        return self.rows

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001
                pass
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def _widen_nulls(schema: pa.Schema) -> pa.Schema:
    # A column that is all NULL in the first chunk has type null; later chunks need a real type.
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def parquet_keys(path: str | Path, key: str) -> pa.Array:
    return pq.read_table(path, columns=[key]).column(key).combine_chunks()


def parquet_missing(path: str | Path, other: str | Path, key: Keys) -> int:
    """Keys in ``path`` not in ``other``."""
    import pyarrow.compute as pc

    if len(key_list(key)) > 1:
        keys = key_list(key)
        return len(not_in(pd.read_parquet(path, columns=keys), pd.read_parquet(other, columns=keys), keys))
    a, b = parquet_keys(path, key_list(key)[0]), parquet_keys(other, key_list(key)[0])
    return int(len(a) - pc.sum(pc.is_in(a, value_set=b)).as_py()) if len(a) else 0


def not_in(frame: pd.DataFrame, other: pd.DataFrame, key: Keys) -> pd.DataFrame:
    """The rows of ``frame`` whose key (every key column) is not in ``other``."""
    keys = key_list(key)
    if len(keys) == 1:
        return frame[~frame[keys[0]].isin(other[keys[0]])]
    found = pd.MultiIndex.from_frame(frame[keys]).isin(pd.MultiIndex.from_frame(other[keys]))
    return frame[~found]


def iter_parquet(path: str | Path, batch_size: int = 50_000) -> Iterator[pd.DataFrame]:
    f = pq.ParquetFile(path)
    yielded = False
    for batch in f.iter_batches(batch_size=batch_size):
        yielded = True
        yield batch.to_pandas()
    if not yielded:
        yield f.schema_arrow.empty_table().to_pandas()


def remove_files(paths: Iterable[Any]) -> None:
    for p in paths:
        if p:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


# --- reading the members a segment row names ---------------------------------------------------------


def require_members(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` (a segment row) if it names the members of a refresh; else a ``SegmentError`` saying why."""
    if not row["members_run_id"] or not row["members_location"]:
        what = "inactive" if row["state"] != "active" else "not refreshed yet"
        raise SegmentError(f"segment '{row['name']}' has no members: it is {what} (call .refresh())")
    return row


def stored_keys(backend: Backend, row: dict[str, Any], key: Keys) -> pd.Series | pd.DataFrame:
    """The member keys of the last refresh of segment ``row``, a row ``require_members`` accepted (a
    DataFrame of the key columns for a composite key)."""
    if len(key_list(key)) > 1:
        keys = key_list(key)
        if row["members_location"] == "parquet":
            return pd.read_parquet(row["members_file"], columns=keys)
        d = backend.dialect
        return backend.query(
            f"SELECT {', '.join(quote(k, d) for k in keys)} FROM {quote(row['members_table'], d)}"
        )
    key = key_list(key)[0]
    if row["members_location"] == "parquet":
        return pd.Series(parquet_keys(row["members_file"], key).to_pandas(), name=key)
    d = backend.dialect
    frame = backend.query(f"SELECT {quote(key, d)} FROM {quote(row['members_table'], d)}")
    return frame.iloc[:, 0].rename(key)


def changed_members(
    backend: Backend, row: dict[str, Any], key: Keys, *, keys_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(joined, left) at the last refresh of segment ``row``: the members not among the previous ones,
    and the previous members no longer among them, each with the columns its members hold (the key and
    the projections of that refresh; the key only with ``keys_only``). Without previous members,
    everyone joined."""
    if row["members_location"] == "parquet":
        columns = key_list(key) if keys_only else None
        new = pd.read_parquet(row["members_file"], columns=columns)
        old = pd.read_parquet(row["prev_members_file"], columns=columns) if row["prev_members_file"] else None
        if old is None:
            return new, new.iloc[:0]
        joined, left = not_in(new, old, key), not_in(old, new, key)
        return joined.reset_index(drop=True), left.reset_index(drop=True)
    d = backend.dialect
    current = row["members_table"]
    what = ", ".join(f"a.{quote(k, d)}" for k in key_list(key)) if keys_only else "a.*"
    if not row["has_prev"]:
        joined = backend.query(f"SELECT {what} FROM {quote(current, d)} a")
        return joined, joined.iloc[:0]
    anti = "SELECT {what} FROM {a} a WHERE NOT EXISTS (SELECT 1 FROM {b} b WHERE {on})"
    prev = prev_name(current)
    on = same_key(key, d)
    joined = backend.query(anti.format(what=what, a=quote(current, d), b=quote(prev, d), on=on))
    left = backend.query(anti.format(what=what, a=quote(prev, d), b=quote(current, d), on=on))
    return joined, left
