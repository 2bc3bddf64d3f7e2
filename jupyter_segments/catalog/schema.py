"""The catalog's tables (SQLAlchemy Core) and the migrations that create and evolve them.

``SCHEMA_VERSION`` is the version this code writes; ``MIGRATIONS[i]`` takes a catalog from version ``i``
to ``i + 1``. A catalog newer than the code is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class Tables:
    """The catalog tables, bound to one MetaData (and so to one optional schema)."""

    metadata: sa.MetaData
    schema_version: sa.Table
    settings: sa.Table
    segments: sa.Table
    versions: sa.Table
    runs: sa.Table
    measures: sa.Table
    exports: sa.Table
    tags: sa.Table
    subscriptions: sa.Table
    member_changes: sa.Table


# Every catalog table's name starts with this: a catalog in an application's database must not take
# (or trip over) its own ``segments`` or ``runs`` table. Catalogs written before the prefix are renamed
# when opened (Catalog.migrate); a table with a prefixed name the catalog did not create is refused.
PREFIX = "js_"
UNPREFIXED_NAMES = (
    "schema_version", "settings", "segments", "segment_versions", "runs", "measures", "exports",
    "segment_tags", "subscriptions", "member_changes",
)  # fmt: skip


def make_tables(schema: str | None = None) -> Tables:
    """Build the table objects; ``schema`` puts them in a PostgreSQL schema (None: the default one)."""
    md = sa.MetaData(schema=schema)
    text = sa.Text
    schema_version = sa.Table(PREFIX + "schema_version", md, sa.Column("version", sa.Integer, nullable=False))
    settings = sa.Table(
        PREFIX + "settings",
        md,
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", text, nullable=False),  # JSON
    )
    segments = sa.Table(
        PREFIX + "segments",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("display_name", text),
        sa.Column("description", text),
        sa.Column("definition", text, nullable=False),
        sa.Column("type", sa.String(20), nullable=False),  # dynamic | static
        sa.Column("state", sa.String(20), nullable=False),  # active | inactive
        sa.Column("draft", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("activate_at", sa.DateTime),  # scheduled lifecycle changes
        sa.Column("deactivate_at", sa.DateTime),
        # Where the members of the last successful run live: a table in the user's database or a
        # Parquet file beside the catalog. ``prev_*`` keeps the run before it, for diff().
        sa.Column("members_location", sa.String(20)),  # table | parquet
        sa.Column("members_table", text),
        sa.Column("members_file", text),
        sa.Column("prev_members_file", text),
        sa.Column("has_prev", sa.Boolean, nullable=False, default=False),
        sa.Column("members_run_id", sa.Integer),
        sa.Column("last_run_id", sa.Integer),
        # A lease serialises refreshes of one segment across processes (see Catalog.acquire_lease).
        sa.Column("lease_run_id", sa.Integer),
        sa.Column("lease_expires", sa.DateTime),
    )
    versions = sa.Table(
        PREFIX + "segment_versions",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("segment_id", sa.Integer, sa.ForeignKey(segments.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", text, nullable=False),
        sa.Column("description", text),
        sa.Column("draft", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("segment_id", "version"),
    )
    runs = sa.Table(
        PREFIX + "runs",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("segment_id", sa.Integer, sa.ForeignKey(segments.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("segment_name", text, nullable=False),  # the name at run time (names change)
        sa.Column("batch", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),  # manual | schedule | cli | activate | create
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("shared", sa.Boolean, nullable=False, default=False),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("duration", sa.Float),  # seconds of processing
        sa.Column("members", sa.BigInteger),
        sa.Column("added", sa.BigInteger),
        sa.Column("removed", sa.BigInteger),
        sa.Column("location", sa.String(20)),
        sa.Column("errors", text, nullable=False, default="[]"),  # JSON list of strings
        sa.Column("warnings", text, nullable=False, default="[]"),
        # Who runs it: a Running run whose process is gone is shown as Failed (Catalog.recover).
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(255)),
        sa.Column("heartbeat_at", sa.DateTime),
        # Staging tables/files the run writes (JSON); left behind by a killed run, dropped later.
        sa.Column("scratch", text),
        sa.Index("ix_js_runs_segment", "segment_id", "id"),
        sa.Index("ix_js_runs_status", "status"),
    )
    measures = sa.Table(
        PREFIX + "measures",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("expression", text, nullable=False),
        sa.Column("description", text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    exports = sa.Table(
        PREFIX + "exports",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("segment_id", sa.Integer, sa.ForeignKey(segments.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("segment_name", text, nullable=False),
        sa.Column("run_id", sa.Integer),  # the refresh whose members were sent
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("target", text),  # where they went (path, table, URL)
        sa.Column("options", text, nullable=False, default="{}"),  # JSON, secrets removed
        sa.Column("status", sa.String(20), nullable=False),  # Running | Completed | Failed
        sa.Column("rows", sa.BigInteger),
        sa.Column("error", text),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    # Version 2 (issue 21): tags (segments as code), change subscriptions, who joined and left per run.
    tags = sa.Table(
        PREFIX + "segment_tags",
        md,
        sa.Column("segment_id", sa.Integer, sa.ForeignKey(segments.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, default="tag"),  # tag | dialect (checked for)
        sa.Column("tag", sa.String(200), nullable=False),
        sa.UniqueConstraint("segment_id", "kind", "tag"),
    )
    subscriptions = sa.Table(
        PREFIX + "subscriptions",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("segment_id", sa.Integer, sa.ForeignKey(segments.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("options", text, nullable=False, default="{}"),  # JSON; secrets are refused, never stored
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    member_changes = sa.Table(
        PREFIX + "member_changes",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("segment_id", sa.Integer, sa.ForeignKey(segments.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("change", sa.String(10), nullable=False),  # joined | left
        sa.Column("keys", text, nullable=False),  # JSON list of the customers' keys (types kept)
        sa.Index("ix_js_member_changes_segment", "segment_id", "run_id"),
    )
    return Tables(
        md, schema_version, settings, segments, versions, runs, measures, exports, tags, subscriptions,
        member_changes,
    )  # fmt: skip


_V2_TABLES = tuple(PREFIX + name for name in ("segment_tags", "subscriptions", "member_changes"))


def _v1(conn: sa.Connection, t: Tables) -> None:
    """Version 1: every table of version 1."""
    t.metadata.create_all(
        conn,
        tables=[
            tbl
            for tbl in t.metadata.tables.values()
            if tbl is not t.schema_version and tbl.name not in _V2_TABLES
        ],
    )


def _v2(conn: sa.Connection, t: Tables) -> None:
    """Version 2: segment tags, change subscriptions, the members who joined and left per run."""
    t.metadata.create_all(conn, tables=[t.tags, t.subscriptions, t.member_changes])


# MIGRATIONS[i] upgrades from version i to i + 1. Append, never edit a released entry.
MIGRATIONS: list[Callable[[sa.Connection, Tables], None]] = [_v1, _v2]
SCHEMA_VERSION = len(MIGRATIONS)
