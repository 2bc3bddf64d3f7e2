"""The catalog store: saved segments, their versions, runs, measures and exports, in SQLite or any
SQLAlchemy database (PostgreSQL for teams).

Every change is one transaction. On SQLite the file runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so two processes queue for the write lock instead of
failing half-way with "database is locked".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from ..backends.base import mask_url
from ..backends.sqlalchemy_backend import normalize_url, open_error, server_engine
from ..errors import SegmentError, did_you_mean
from .schema import MIGRATIONS, PREFIX, SCHEMA_VERSION, UNPREFIXED_NAMES, Tables, make_tables

# Statuses a run goes through (the names users see).
NOT_STARTED, QUEUED, RUNNING, SUCCESSFUL, FAILED, SKIPPED, CANCELED = (
    "Not started",
    "Queued",
    "Running",
    "Successful",
    "Failed",
    "Skipped",
    "Canceled",
)
STATUSES = (NOT_STARTED, QUEUED, RUNNING, SUCCESSFUL, FAILED, SKIPPED, CANCELED)
UNFINISHED = (QUEUED, RUNNING)

DEFAULT_PATH = os.path.join(".segments", "catalog.sqlite")
HOST = socket.gethostname()
# A Running run on another host whose heartbeat is older than this is taken for dead.
STALE_AFTER = dt.timedelta(minutes=5)


class UnknownSegment(SegmentError, KeyError):
    """No saved segment of that name (a KeyError too, so ``ws["x"]`` behaves like a mapping)."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return SegmentError.__str__(self)


def now() -> dt.datetime:
    """Local wall-clock time without microseconds: what users type in ``deactivate(at=...)``."""
    return dt.datetime.now().replace(microsecond=0)


def _precise_now() -> dt.datetime:
    return dt.datetime.now()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    # A zombie (killed, not yet reaped by its parent) is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _engine_for(target: Any) -> tuple[sa.Engine, Path | None, bool]:
    """An engine for a path, ``:memory:``, a SQLAlchemy URL or an Engine; plus the SQLite file, if any,
    and whether that file can only be read."""
    if isinstance(target, sa.Engine):
        return target, _sqlite_file(target.url), False
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str) or not target:
        raise SegmentError(f"cannot open a catalog from {target!r}: pass a file path or a SQLAlchemy URL")
    if target == ":memory:":
        engine = sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        _sqlite_events(engine)
        return engine, None, False
    if "://" in target:
        try:
            url = normalize_url(target)
        except sa.exc.ArgumentError as e:
            raise SegmentError(f"'{mask_url(target)}' is not a catalog URL: {mask_url(str(e))}") from None
        if url.get_backend_name() == "sqlite":
            path = _sqlite_file(url)
            if path is not None:
                return _sqlite_engine(path)
        try:
            return server_engine(url), None, False
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as e:
            raise open_error("cannot open the catalog at", target, e) from None
    return _sqlite_engine(Path(target).expanduser())


def _sqlite_file(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _sqlite_engine(path: Path) -> tuple[sa.Engine, Path, bool]:
    """The engine of a catalog file, the file, and whether it is read-only: a file that exists but that
    we may not write, or whose folder we may not write (SQLite keeps its -wal and -shm files there), is
    opened read-only (``immutable`` in a read-only folder: no -shm file can be made, nor written by
    anyone else)."""
    args = {"timeout": 60, "check_same_thread": False}
    folder_writable = os.access(path.parent, os.W_OK)
    if path.is_file() and not (folder_writable and os.access(path, os.W_OK)):
        mode = {"mode": "ro"} if folder_writable else {"immutable": "1"}
        uri = "file:" + urllib.parse.quote(str(path.absolute()))
        engine = sa.create_engine(
            sa.URL.create("sqlite", database=uri, query={**mode, "uri": "true"}), connect_args=args
        )
        _sqlite_events(engine)
        return engine, path, True
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(sa.URL.create("sqlite", database=str(path)), connect_args=args)
    _sqlite_events(engine, wal=True)
    return engine, path, False


def _file_identity(path: Path | None) -> tuple[int, int] | None:
    """(device, inode) of the catalog file, None if it is not there (or not a file catalog)."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _sqlite_events(engine: sa.Engine, wal: bool = False) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
        # Autocommit at the driver level: SQLAlchemy's "begin" event below issues the BEGIN itself.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if wal:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001
        # Writes (Catalog.transaction) take the write lock up front with IMMEDIATE, so a
        # read-then-write transaction never has to upgrade its lock (which fails at once with
        # SQLITE_BUSY instead of waiting). Reads use a deferred BEGIN: in WAL mode they never block
        # a writer, even if someone keeps a read connection open.
        immediate = conn.get_execution_options().get("js_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _inserted_key(result: sa.CursorResult[Any]) -> Any:
    """The primary key of a single-row INSERT (SQLAlchemy types it Optional for other statements)."""
    key = result.inserted_primary_key
    if key is None:  # never for a single-row INSERT ... VALUES
        raise RuntimeError("the INSERT reported no primary key")
    return key[0]


class Catalog:
    """Saved segments, versions, runs, measures and exports.

    >>> cat = Catalog(".segments/catalog.sqlite")          # or Catalog("postgresql://host/db", schema="seg")
    >>> cat.definition_text("vip")
    """

    def __init__(self, target: Any = DEFAULT_PATH, *, schema: str | None = None) -> None:
        shown = mask_url(os.fspath(target) if isinstance(target, str | os.PathLike) else repr(target))
        try:
            self.engine, self.path, self.read_only = _engine_for(target)
            self._owns = not isinstance(target, sa.Engine)
            self.schema = schema
            self.t: Tables = make_tables(schema)
            self.url = mask_url(self.engine.url.render_as_string(hide_password=True))
            self._identity: tuple[int, int] | None = None
            self.migrate()
            self._identity = _file_identity(self.path)
        except (sa.exc.SQLAlchemyError, OSError) as e:
            # An unreachable server, a wrong password, a read-only folder or a corrupt file: what a user
            # can cause, so a SegmentError naming the catalog (its password masked), not a driver's.
            reason = getattr(e, "orig", None) or e
            first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
            raise SegmentError(
                f"cannot open the catalog at {shown}: {mask_url(first)}", hint=_open_hint(target, first)
            ) from None

    def __repr__(self) -> str:
        return f"<Catalog {self.path or self.url}>"

    def _read_only_error(self) -> SegmentError:
        return SegmentError(
            f"the catalog {self.path or self.url} is read-only: nothing was written. Make the file and its "
            "folder writable, or copy the catalog somewhere writable and open the copy "
            "(js.connect(..., catalog=...)); reading works as it is"
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def members_dir(self) -> Path:
        """Where Parquet member files go: beside a catalog file, else ``.segments/members``."""
        base = self.path.parent if self.path is not None else Path(".segments")
        return base / "members"

    def close(self) -> None:
        if self._owns:
            self.engine.dispose()

    # --- transactions & migrations -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction: committed on success, rolled back on any error."""
        if self.read_only:
            raise self._read_only_error()
        try:
            with self.engine.connect() as conn:
                conn.execution_options(js_write=True)
                with conn.begin():
                    self._check_file()
                    yield conn
        except sa.exc.OperationalError as e:
            if "readonly database" in str(e):  # made read-only after it was opened
                raise self._read_only_error() from None
            raise

    def _check_file(self) -> None:
        """Refuse to write into a catalog file that was deleted or replaced since it was opened: SQLite
        would write to the unlinked file, report success, and everything would be gone on reopen."""
        if self._identity is None or self.path is None:
            return
        if _file_identity(self.path) != self._identity:
            raise SegmentError(
                f"the catalog file {self.path} was deleted or replaced after it was opened: nothing was "
                "written. Restore the file, or open the catalog again (js.connect(..., catalog=...)) to "
                "start a new one there"
            )

    def migrate(self) -> int:
        """Bring the schema to ``SCHEMA_VERSION`` (idempotent, safe with several processes)."""
        if self.read_only:
            if sa.inspect(self.engine).has_table(self.t.schema_version.name, schema=self.schema):
                if self.schema_version() == SCHEMA_VERSION:
                    return SCHEMA_VERSION
            raise SegmentError(
                f"the catalog {self.path} is read-only and is not a catalog of this version of "
                "jupyter-segments: make it writable once so that it can be upgraded"
            )
        with self.transaction() as c:
            if self.dialect == "postgresql":
                if self.schema:
                    c.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
                # Serialise concurrent first opens: CREATE TABLE IF NOT EXISTS is not race-free there.
                c.execute(sa.text("SELECT pg_advisory_xact_lock(7423001)"))
            existing = set(sa.inspect(c).get_table_names(schema=self.schema))
            if self.t.schema_version.name not in existing:
                self._adopt_unprefixed(c, existing)
                existing = set(sa.inspect(c).get_table_names(schema=self.schema))
                if self.t.schema_version.name not in existing:
                    self._refuse_foreign(existing)
            self.t.schema_version.create(c, checkfirst=True)
            version = c.execute(sa.select(sa.func.max(self.t.schema_version.c.version))).scalar() or 0
            if version > SCHEMA_VERSION:
                raise SegmentError(
                    f"the catalog {self.path or self.url} has schema version {version}, newer than this "
                    f"jupyter-segments understands ({SCHEMA_VERSION}): upgrade jupyter-segments"
                )
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](c, self.t)
            if version < SCHEMA_VERSION:
                c.execute(self.t.schema_version.delete())
                c.execute(self.t.schema_version.insert().values(version=SCHEMA_VERSION))
        return SCHEMA_VERSION

    def _adopt_unprefixed(self, c: sa.Connection, existing: set[str]) -> None:
        """A catalog written before the prefix (its ``segments`` table has our columns): rename its tables."""
        if not {"schema_version", "segments"} <= existing:
            return
        columns = {col["name"] for col in sa.inspect(c).get_columns("segments", schema=self.schema)}
        if not {"definition", "members_table", "lease_run_id"} <= columns:
            return  # an application's own segments table
        quote = c.dialect.identifier_preparer.quote
        where = f"{quote(self.schema)}." if self.schema else ""
        for name in UNPREFIXED_NAMES:
            if name in existing:
                c.execute(sa.text(f"ALTER TABLE {where}{quote(name)} RENAME TO {quote(PREFIX + name)}"))

    def _refuse_foreign(self, existing: set[str]) -> None:
        """Before creating anything: a table with one of our names that this catalog did not create."""
        foreign = sorted(existing & {t.name for t in self.t.metadata.tables.values()})
        if foreign:
            raise SegmentError(
                f"the database of the catalog {self.path or self.url} already has a table "
                f"{foreign[0]} that the catalog did not create: nothing was created or changed. Keep the "
                "catalog elsewhere (js.connect(..., catalog=...), or catalog=Catalog(url, schema=...) on "
                "PostgreSQL), or rename that table"
            )

    def schema_version(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.max(self.t.schema_version.c.version))).scalar() or 0)

    # --- settings (the model a scheduled refresh needs) ---------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as c:
            row = c.execute(sa.select(self.t.settings.c.value).where(self.t.settings.c.key == key)).first()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any, conn: sa.Connection | None = None) -> None:
        if conn is None and self.read_only:
            return None  # the model is remembered for later refreshes where the catalog can be written
        if conn is None:
            with self.transaction() as c:
                return self.set_setting(key, value, c)
        s = self.t.settings
        updated = conn.execute(s.update().where(s.c.key == key).values(value=_json(value))).rowcount
        if not updated:
            conn.execute(s.insert().values(key=key, value=_json(value)))
        return None

    # --- segments ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        with self.engine.connect() as c:
            return list(
                c.execute(sa.select(self.t.segments.c.name).order_by(self.t.segments.c.name)).scalars()
            )

    def segment_row(self, name: str, conn: sa.Connection | None = None) -> dict[str, Any]:
        """The catalog row of segment ``name``; ``UnknownSegment`` naming the nearest one if absent."""
        s = self.t.segments
        row = self._one(sa.select(s).where(s.c.name == name), conn)
        if row is None:
            raise UnknownSegment(f"no saved segment '{name}'{did_you_mean(name, self.names())}")
        return row

    def segment_by_id(self, segment_id: int, conn: sa.Connection | None = None) -> dict[str, Any]:
        s = self.t.segments
        row = self._one(sa.select(s).where(s.c.id == segment_id), conn)
        if row is None:
            raise UnknownSegment(f"the segment was deleted (id {segment_id})")
        return row

    def has_segment(self, name: str) -> bool:
        s = self.t.segments
        return self._one(sa.select(s.c.id).where(s.c.name == name)) is not None

    def segment_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [
                dict(r._mapping)
                for r in c.execute(sa.select(self.t.segments).order_by(self.t.segments.c.name))
            ]

    def definition_text(self, name: str) -> str:
        """The DSL text of saved segment ``name`` (what ``in segment name`` compiles).

        Raises KeyError with a "; did you mean" suffix, as the compiler expects.
        """
        s = self.t.segments
        row = self._one(sa.select(s.c.definition, s.c.type).where(s.c.name == name))
        if row is None:
            raise KeyError(did_you_mean(name, self.names()))
        if row["type"] == "static":
            # A static segment is a frozen member list, which its definition no longer describes:
            # compiling the definition would silently give different members.
            raise KeyError(" (it is a static segment: its members are a snapshot, not a definition)")
        return row["definition"]

    def create_segment(
        self,
        name: str,
        definition: str,
        *,
        description: str | None,
        display_name: str | None,
        type: str,
        state: str,
        draft: bool,
        conn: sa.Connection | None = None,
    ) -> int:
        if conn is None:
            with self.transaction() as c:
                return self.create_segment(
                    name, definition, description=description, display_name=display_name,
                    type=type, state=state, draft=draft, conn=c,
                )  # fmt: skip
        t = now()
        try:
            result = conn.execute(
                self.t.segments.insert().values(
                    name=name,
                    display_name=display_name,
                    description=description,
                    definition=definition,
                    type=type,
                    state=state,
                    draft=draft,
                    version=1,
                    created_at=t,
                    updated_at=t,
                    has_prev=False,
                )  # fmt: skip
            )
            seg_id = _inserted_key(result)
        except sa.exc.IntegrityError:
            raise SegmentError(f"a segment named '{name}' already exists") from None
        conn.execute(
            self.t.versions.insert().values(
                segment_id=seg_id,
                version=1,
                definition=definition,
                description=description,
                draft=draft,
                created_at=t,
            )
        )
        return int(seg_id)

    def add_version(
        self, segment_id: int, definition: str, description: str | None, draft: bool, conn: sa.Connection
    ) -> int:
        """Record an edit: a new version of the definition becomes current."""
        s, v = self.t.segments, self.t.versions
        current = conn.execute(sa.select(s.c.version).where(s.c.id == segment_id)).scalar_one()
        new = int(current) + 1
        t = now()
        conn.execute(
            v.insert().values(
                segment_id=segment_id,
                version=new,
                definition=definition,
                description=description,
                draft=draft,
                created_at=t,
            )
        )
        conn.execute(
            s.update()
            .where(s.c.id == segment_id)
            .values(definition=definition, description=description, draft=draft, version=new, updated_at=t)
        )
        return new

    def update_segment(
        self, segment_id: int, conn: sa.Connection | None = None, *, touch: bool = True, **values: Any
    ) -> None:
        """Change columns of a segment row; ``touch`` also sets ``updated_at`` (user-visible edits)."""
        if conn is None:
            with self.transaction() as c:
                return self.update_segment(segment_id, c, touch=touch, **values)
        s = self.t.segments
        if touch:
            values.setdefault("updated_at", now())
        try:
            conn.execute(s.update().where(s.c.id == segment_id).values(**values))
        except sa.exc.IntegrityError:
            raise SegmentError(f"a segment named '{values.get('name')}' already exists") from None
        return None

    def delete_segment(self, segment_id: int, conn: sa.Connection) -> None:
        # Children first: not every database enforces ON DELETE CASCADE (SQLite needs a pragma).
        for tbl in (
            self.t.runs, self.t.versions, self.t.exports, self.t.tags, self.t.subscriptions, self.t.member_changes,
        ):  # fmt: skip
            conn.execute(tbl.delete().where(tbl.c.segment_id == segment_id))
        conn.execute(self.t.segments.delete().where(self.t.segments.c.id == segment_id))

    def versions(self, segment_id: int) -> list[dict[str, Any]]:
        v = self.t.versions
        with self.engine.connect() as c:
            rows = c.execute(sa.select(v).where(v.c.segment_id == segment_id).order_by(v.c.version))
            return [dict(r._mapping) for r in rows]

    # --- measures ---------------------------------------------------------------------------------
    def measures_dict(self) -> dict[str, str]:
        m = self.t.measures
        with self.engine.connect() as c:
            return {r.name: r.expression for r in c.execute(sa.select(m.c.name, m.c.expression))}

    def measure_rows(self) -> list[dict[str, Any]]:
        m = self.t.measures
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(sa.select(m).order_by(m.c.name))]

    def save_measure(self, name: str, expression: str, description: str | None) -> None:
        m = self.t.measures
        t = now()
        with self.transaction() as c:
            done = c.execute(
                m.update()
                .where(m.c.name == name)
                .values(expression=expression, description=description, updated_at=t)
            ).rowcount
            if not done:
                c.execute(
                    m.insert().values(
                        name=name, expression=expression, description=description, created_at=t, updated_at=t
                    )
                )

    def delete_measure(self, name: str) -> None:
        m = self.t.measures
        with self.transaction() as c:
            if not c.execute(m.delete().where(m.c.name == name)).rowcount:
                raise SegmentError(f"no measure '{name}'{did_you_mean(name, self.measures_dict())}")

    # --- runs -------------------------------------------------------------------------------------
    def queue_runs(self, segments: Sequence[Mapping[str, Any]], trigger: str, shared: bool) -> list[int]:
        """Insert one Queued run per segment (one transaction); returns their ids in order."""
        batch = uuid.uuid4().hex
        t = _precise_now()
        ids = []
        with self.transaction() as c:
            for seg in segments:
                result = c.execute(
                    self.t.runs.insert().values(
                        segment_id=seg["id"],
                        segment_name=seg["name"],
                        batch=batch,
                        trigger=trigger,
                        status=QUEUED,
                        version=seg["version"],
                        shared=shared,
                        queued_at=t,
                        errors="[]",
                        warnings="[]",
                        pid=os.getpid(),
                        host=HOST,
                        heartbeat_at=t,
                    )  # fmt: skip
                )
                rid = _inserted_key(result)
                ids.append(int(rid))
                c.execute(
                    self.t.segments.update().where(self.t.segments.c.id == seg["id"]).values(last_run_id=rid)
                )
        return ids

    def update_run(self, run_id: int, conn: sa.Connection | None = None, **values: Any) -> None:
        if "errors" in values:
            values["errors"] = _json(list(values["errors"]))
        if "warnings" in values:
            values["warnings"] = _json(list(values["warnings"]))
        stmt = self.t.runs.update().where(self.t.runs.c.id == run_id).values(**values)
        if conn is not None:
            conn.execute(stmt)
            return
        with self.transaction() as c:
            c.execute(stmt)

    def run_row(self, run_id: int) -> dict[str, Any]:
        r = self.t.runs
        row = self._one(sa.select(r).where(r.c.id == run_id))
        if row is None:
            raise SegmentError(f"no run {run_id}")
        return _decode_run(row, self)

    def run_rows(self, segment_id: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        r = self.t.runs
        q = sa.select(r).order_by(r.c.id)
        if segment_id is not None:
            q = q.where(r.c.segment_id == segment_id)
        if limit is not None:
            q = sa.select(r).where(
                r.c.id.in_(sa.select(q.subquery().c.id).order_by(sa.desc("id")).limit(limit))
            )
            q = q.order_by(r.c.id)
        with self.engine.connect() as c:
            return [_decode_run(dict(m._mapping), self) for m in c.execute(q)]

    def heartbeat(self, run_ids: Sequence[int], lease_for: dt.timedelta | None = None) -> None:
        """Mark unfinished runs as alive, and extend the leases they hold."""
        if not run_ids:
            return
        t = _precise_now()
        r, s = self.t.runs, self.t.segments
        with self.transaction() as c:
            c.execute(
                r.update().where(r.c.id.in_(run_ids), r.c.status.in_(UNFINISHED)).values(heartbeat_at=t)
            )
            if lease_for is not None:
                c.execute(s.update().where(s.c.lease_run_id.in_(run_ids)).values(lease_expires=t + lease_for))

    def recover(self) -> list[int]:
        """Mark Queued/Running runs whose process is gone as Failed and release their leases.

        A run on this host is dead when its process id no longer exists; on another host when its
        heartbeat is older than ``STALE_AFTER``. Returns the ids of the runs it marked.
        """
        r, s = self.t.runs, self.t.segments
        with self.engine.connect() as c:
            rows = [
                dict(m._mapping)
                for m in c.execute(
                    sa.select(r.c.id, r.c.pid, r.c.host, r.c.heartbeat_at, r.c.status).where(
                        r.c.status.in_(UNFINISHED)
                    )
                )
            ]
        t = _precise_now()
        dead = []
        for row in rows:
            beat = row["heartbeat_at"] or dt.datetime.min
            if row["host"] == HOST and row["pid"] is not None:
                gone = not pid_alive(int(row["pid"])) or (
                    t - beat > STALE_AFTER and row["pid"] != os.getpid()
                )
            else:
                gone = t - beat > STALE_AFTER
            if gone:
                dead.append(row)
        if not dead:
            return []
        with self.transaction() as c:
            for row in dead:
                what = "was interrupted" if row["status"] == RUNNING else "never started"
                msg = f"the refresh {what}: process {row['pid']} on {row['host']} is gone"
                done = c.execute(
                    r.update()
                    .where(r.c.id == row["id"], r.c.status.in_(UNFINISHED))
                    .values(status=FAILED, finished_at=t, errors=_json([msg]))
                ).rowcount
                if done:
                    c.execute(
                        s.update()
                        .where(s.c.lease_run_id == row["id"])
                        .values(lease_run_id=None, lease_expires=None)
                    )
        return [row["id"] for row in dead]

    def leftover_scratch(self) -> list[tuple[int, list[dict[str, str]]]]:
        """Scratch tables/files of finished runs that did not clean up (they were killed)."""
        r = self.t.runs
        q = sa.select(r.c.id, r.c.scratch).where(r.c.scratch.is_not(None), r.c.status.not_in(UNFINISHED))
        with self.engine.connect() as c:
            return [(row.id, json.loads(row.scratch)) for row in c.execute(q)]

    def add_scratch(
        self, run_ids: Sequence[int], kind: str, name: str, conn: sa.Connection | None = None
    ) -> None:
        """Note a staging table ('table') or file ('file') before it is created."""
        if conn is None:
            with self.transaction() as c:
                return self.add_scratch(run_ids, kind, name, c)
        r = self.t.runs
        for rid in run_ids:
            old = conn.execute(sa.select(r.c.scratch).where(r.c.id == rid)).scalar()
            items = json.loads(old) if old else []
            items.append({"kind": kind, "name": name})
            conn.execute(r.update().where(r.c.id == rid).values(scratch=_json(items)))
        return None

    def clear_scratch(self, run_id: int) -> None:
        with self.transaction() as c:
            c.execute(self.t.runs.update().where(self.t.runs.c.id == run_id).values(scratch=None))

    # --- leases: one refresh per segment at a time, across processes ---------------------------------
    def acquire_lease(self, segment_id: int, run_id: int, ttl: dt.timedelta) -> bool:
        """Take the segment's refresh lease for ``run_id`` if it is free or expired (atomic UPDATE)."""
        s = self.t.segments
        t = _precise_now()
        with self.transaction() as c:
            got = c.execute(
                s.update()
                .where(
                    s.c.id == segment_id,
                    sa.or_(s.c.lease_run_id.is_(None), s.c.lease_expires < t, s.c.lease_run_id == run_id),
                )
                .values(lease_run_id=run_id, lease_expires=t + ttl)
            ).rowcount
        return bool(got)

    def release_lease(self, segment_id: int, run_id: int, conn: sa.Connection | None = None) -> None:
        s = self.t.segments
        stmt = (
            s.update()
            .where(s.c.id == segment_id, s.c.lease_run_id == run_id)
            .values(lease_run_id=None, lease_expires=None)
        )
        if conn is not None:
            conn.execute(stmt)
            return
        with self.transaction() as c:
            c.execute(stmt)

    # --- exports ----------------------------------------------------------------------------------
    def start_export(
        self, segment: Mapping[str, Any], destination: str, target: str | None, options: Mapping
    ) -> int:
        with self.transaction() as c:
            result = c.execute(
                self.t.exports.insert().values(
                    segment_id=segment["id"],
                    segment_name=segment["name"],
                    run_id=segment.get("members_run_id"),
                    destination=destination,
                    target=None if target is None else mask_url(target),  # never a secret in the catalog
                    options=mask_url(_json(dict(options))),
                    status="Running",
                    started_at=_precise_now(),
                )  # fmt: skip
            )
            return int(_inserted_key(result))

    def finish_export(
        self,
        export_id: int,
        *,
        status: str,
        rows: int | None,
        error: str | None = None,
        target: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "rows": rows,
            "error": None if error is None else mask_url(error),
            "finished_at": _precise_now(),
        }
        if target is not None:
            values["target"] = mask_url(target)
        with self.transaction() as c:
            c.execute(self.t.exports.update().where(self.t.exports.c.id == export_id).values(**values))

    def export_rows(self, segment_id: int | None = None) -> list[dict[str, Any]]:
        e = self.t.exports
        q = sa.select(e).order_by(e.c.id)
        if segment_id is not None:
            q = q.where(e.c.segment_id == segment_id)
        with self.engine.connect() as c:
            return [dict(m._mapping) for m in c.execute(q)]

    # --- tags (segments as code) -------------------------------------------------------------------
    def tags(self, segment_id: int | None = None, kind: str = "tag") -> dict[int, list[str]]:
        """Segment id -> its tags, sorted (only ``segment_id``'s when given); ``kind="dialect"``: the
        dialects its ``.segment`` file is checked for."""
        t = self.t.tags
        q = sa.select(t.c.segment_id, t.c.tag).where(t.c.kind == kind).order_by(t.c.segment_id, t.c.tag)
        if segment_id is not None:
            q = q.where(t.c.segment_id == segment_id)
        found: dict[int, list[str]] = {}
        with self.engine.connect() as c:
            for row in c.execute(q):
                found.setdefault(int(row.segment_id), []).append(row.tag)
        return found

    def set_tags(self, segment_id: int, tags: Sequence[str], conn: sa.Connection, kind: str = "tag") -> None:
        t = self.t.tags
        conn.execute(t.delete().where(t.c.segment_id == segment_id, t.c.kind == kind))
        for tag in sorted(set(tags)):
            conn.execute(t.insert().values(segment_id=segment_id, kind=kind, tag=tag))

    # --- change subscriptions and the members who joined and left ------------------------------------
    def add_subscription(self, segment_id: int, destination: str, options: Mapping[str, Any]) -> int:
        with self.transaction() as c:
            result = c.execute(
                self.t.subscriptions.insert().values(
                    segment_id=segment_id,
                    destination=destination,
                    options=_json(dict(options)),
                    created_at=now(),
                )  # fmt: skip
            )
            return int(_inserted_key(result))

    def subscription_rows(self, segment_id: int) -> list[dict[str, Any]]:
        s = self.t.subscriptions
        q = sa.select(s).where(s.c.segment_id == segment_id).order_by(s.c.id)
        with self.engine.connect() as c:
            return [{**m._mapping, "options": json.loads(m.options)} for m in c.execute(q)]

    def remove_subscription(self, segment_id: int, subscription_id: int) -> bool:
        s = self.t.subscriptions
        with self.transaction() as c:
            done = c.execute(s.delete().where(s.c.id == subscription_id, s.c.segment_id == segment_id))
            return bool(done.rowcount)

    def add_member_changes(
        self, segment_id: int, run_id: int, changes: Mapping[str, Sequence[Any]], conn: sa.Connection
    ) -> None:
        """Record who joined and left at run ``run_id``: ``{"joined": keys, "left": keys}``, one row per
        kind (a JSON list: thousands of changes are one insert, not thousands)."""
        rows = [
            {"segment_id": segment_id, "run_id": run_id, "change": change, "keys": _json(list(keys))}
            for change, keys in changes.items()
            if len(keys)
        ]
        if rows:
            conn.execute(self.t.member_changes.insert(), rows)

    def member_change_rows(self, segment_id: int, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """The recorded changes of a segment, one per customer (run id, its finish time, change, key),
        oldest run first."""
        m, r = self.t.member_changes, self.t.runs
        q = (
            sa.select(m.c.run_id, r.c.finished_at, m.c.change, m.c["keys"])
            .join(r, r.c.id == m.c.run_id)
            .where(m.c.segment_id == segment_id)
            .order_by(m.c.run_id, m.c.id)
        )
        if since is not None:
            q = q.where(r.c.finished_at >= since)
        with self.engine.connect() as c:
            return [
                {"run_id": row.run_id, "finished_at": row.finished_at, "change": row.change, "key": key}
                for row in c.execute(q)
                for key in json.loads(row[3])
            ]

    # --- helpers ----------------------------------------------------------------------------------
    def _one(self, query: sa.Select, conn: sa.Connection | None = None) -> dict[str, Any] | None:
        if conn is not None:
            row = conn.execute(query).first()
            return None if row is None else dict(row._mapping)
        with self.engine.connect() as c:
            row = c.execute(query).first()
            return None if row is None else dict(row._mapping)


def _decode_run(row: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    row = dict(row)
    for field in ("errors", "warnings"):
        try:
            row[field] = json.loads(row.get(field) or "[]")
        except json.JSONDecodeError as e:
            raise SegmentError(
                f"the catalog {catalog.path or catalog.url} has a malformed row: {catalog.t.runs.name} id "
                f"{row.get('id')}, column {field}, is not JSON ({e.msg}). Something other than "
                "jupyter-segments wrote it: correct or delete that row"
            ) from None
    return row


def _open_hint(target: Any, reason: str) -> str:
    """What to do about a catalog that cannot be opened, from the driver's reason."""
    if "file is not a database" in reason or "malformed" in reason:
        return (
            "the file is damaged or is not a jupyter-segments catalog; nothing was changed. Restore it from "
            "a backup, or move it away to start a new catalog there"
        )
    if "unable to open database file" in reason or "readonly" in reason or "Permission denied" in reason:
        return "the catalog cannot be created or written there: choose a writable place with js.connect(..., catalog=...)"
    return "check the path or URL (and that the server is running); js.connect(..., catalog=...) chooses another catalog"
