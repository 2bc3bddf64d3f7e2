"""Saved segments as users hold them: ``Segment`` handles, and saving, getting and duplicating them.

A ``Segment`` reads its state from the catalog on every access and acts through the Workspace it came
from: refresh, (de)activate, rename, edit, delete, members, history, export. This is the facade's side of
the catalog: it may refresh (a static segment is evaluated when it is saved) and export.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlglot import exp

from . import changes as changes_
from .backends.base import table_expr
from .catalog import members as M
from .catalog.api import check_name, remember_model
from .catalog.store import NOT_STARTED, Catalog, now
from .dsl import to_text
from .errors import SegmentError
from .export import Export, send
from .refresh import Run, deactivate, drop_members, references, validate_for_activation

if TYPE_CHECKING:
    from .changes import MembershipChanges
    from .dsl.ast import Definition
    from .session import Session
    from .workspace import Workspace

HISTORY_COLUMNS = [
    "run_id", "status", "trigger", "version", "queued_at", "started_at", "finished_at", "duration",
    "members", "added", "removed", "location", "errors", "warnings",
]  # fmt: skip


class Segment:
    """A saved segment. Attributes are read from the catalog each time, so they are never stale.

    >>> seg = ws.segment("vip", "sum(orders.amount) >= 1000")
    >>> seg.refresh().members
    """

    def __init__(self, ws: Workspace, segment_id: int) -> None:
        self._ws = ws
        self.id = segment_id

    @property
    def session(self) -> Session:
        """The engine of the workspace this segment was saved in (what destinations run SQL with)."""
        return self._ws.session

    @property
    def catalog(self) -> Catalog:
        """The catalog holding this segment."""
        return self._ws.catalog

    # --- state -----------------------------------------------------------------------------------
    @property
    def _row(self) -> dict[str, Any]:
        return self._ws.catalog.segment_by_id(self.id)

    @property
    def name(self) -> str:
        return self._row["name"]

    @property
    def display_name(self) -> str:
        row = self._row
        return row["display_name"] or row["name"]

    @property
    def description(self) -> str | None:
        return self._row["description"]

    @property
    def definition(self) -> str:
        return self._row["definition"]

    @property
    def type(self) -> str:
        return self._row["type"]

    @property
    def state(self) -> str:
        return self._row["state"]

    @property
    def active(self) -> bool:
        return self._row["state"] == "active"

    @property
    def draft(self) -> bool:
        return bool(self._row["draft"])

    @property
    def version(self) -> int:
        return int(self._row["version"])

    @property
    def created_at(self) -> dt.datetime:
        return self._row["created_at"]

    @property
    def updated_at(self) -> dt.datetime:
        return self._row["updated_at"]

    @property
    def members_table(self) -> str | None:
        """The table holding the members of the last refresh (None if they are in a Parquet file)."""
        row = self._row
        return row["members_table"] if row["members_location"] == "table" else None

    @property
    def last_run(self) -> Run | None:
        row = self._row
        return Run.from_row(self._ws.catalog.run_row(row["last_run_id"])) if row["last_run_id"] else None

    @property
    def status(self) -> str:
        run = self.last_run
        return run.status if run else NOT_STARTED

    @property
    def count(self) -> int | None:
        """Members at the last successful refresh (None if never refreshed or inactive)."""
        row = self._row
        if not row["members_run_id"]:
            return None
        return self._ws.catalog.run_row(row["members_run_id"])["members"]

    def __repr__(self) -> str:
        row = self._row
        flags = [row["type"], row["state"]] + (["draft"] if row["draft"] else [])
        count = self.count
        members = f", {count} members" if count is not None else ""
        return f"<Segment {row['name']!r} ({', '.join(flags)}{members}): {row['definition']}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Segment) and other.id == self.id and other._ws is self._ws

    def __hash__(self) -> int:
        return hash(self.id)

    # --- lifecycle -------------------------------------------------------------------------------
    def refresh(self, **options: Any) -> Run:
        """Evaluate now and replace the members; returns the Run (status, members, added, removed...)."""
        return self._ws.refresh([self.name], **options)[0]

    def activate(self, at: dt.datetime | None = None) -> Run | None:
        """Make the segment active and evaluate it at once; with ``at`` (a future time) schedule it.

        A draft can only be activated once its definition validates.
        """
        row = self._row
        cat = self._ws.catalog
        if at is not None and at > now():
            validate_for_activation(self._ws.session, row) if not row["draft"] else None
            cat.update_segment(self.id, activate_at=at, deactivate_at=None)
            return None
        if row["type"] == "static":
            raise SegmentError(
                f"'{row['name']}' is static: its members are a snapshot and are not re-evaluated"
            )
        validate_for_activation(self._ws.session, row)
        cat.update_segment(self.id, state="active", draft=False, activate_at=None)
        return self._ws.refresh([row["name"]], trigger="activate")[0]

    def deactivate(self, at: dt.datetime | None = None) -> None:
        """Make the segment inactive (its members are dropped); with ``at`` (future) schedule it."""
        if at is not None and at > now():
            self._ws.catalog.update_segment(self.id, deactivate_at=at, activate_at=None)
            return
        deactivate(self._ws.backend, self._ws.catalog, self._row)

    def rename(self, new_name: str) -> Segment:
        """Rename; other segments that refer to the old name are refused (they would break)."""
        check_name(new_name)
        row = self._row
        if new_name == row["name"]:
            return self
        users = referrers(self._ws.catalog, row["name"])
        if users:
            raise SegmentError(
                f"cannot rename '{row['name']}': segment {', '.join(repr(u) for u in users)} refers to it "
                f"(edit {'them' if len(users) > 1 else 'it'} first)"
            )
        cat = self._ws.catalog
        values: dict[str, Any] = {"name": new_name}
        old_table = row["members_table"]
        new_table = None
        if old_table and row["members_location"] == "table":
            new_table = M.table_name(self._ws.members_prefix, new_name, row["id"])
        with cat.transaction() as c:
            cat.update_segment(self.id, c, **values)
            if new_table and new_table != old_table:
                # Move the tables first: if that fails the whole rename is rolled back.
                pairs = [(old_table, new_table)]
                if row["has_prev"]:
                    pairs.append((M.prev_name(old_table), M.prev_name(new_table)))
                M.rename_tables(self._ws.backend, pairs)
                cat.update_segment(self.id, c, members_table=new_table)
        return self

    def edit(
        self,
        definition: str | None = None,
        *,
        description: str | None = None,
        display_name: str | None = None,
        draft: bool = False,
    ) -> Segment:
        """Save a new version of the definition (validated unless ``draft``)."""
        row = self._row
        return save(
            self._ws, row["name"], definition if definition is not None else row["definition"],
            description=description, display_name=display_name, draft=draft, type=row["type"],
        )  # fmt: skip

    def delete(self) -> None:
        """Delete the segment, its versions, runs and members. Refused while another segment refers to it."""
        row = self._row
        users = referrers(self._ws.catalog, row["name"])
        if users:
            raise SegmentError(
                f"cannot delete '{row['name']}': segment {', '.join(repr(u) for u in users)} refers to it "
                f"with 'in segment {row['name']}'"
            )
        cat = self._ws.catalog
        with cat.transaction() as c:
            cat.delete_segment(self.id, c)
        drop_members(self._ws.backend, row)

    # --- history and members ---------------------------------------------------------------------
    def history(self) -> pd.DataFrame:
        """One row per run, oldest first: status, member count, added, removed, duration, errors."""
        rows = self._ws.catalog.run_rows(self.id)
        out = pd.DataFrame(
            [{"run_id": r["id"], **{k: r[k] for k in HISTORY_COLUMNS[1:]}} for r in rows],
            columns=HISTORY_COLUMNS,
        )
        return out

    def runs(self) -> list[Run]:
        return [Run.from_row(r) for r in self._ws.catalog.run_rows(self.id)]

    def versions(self) -> pd.DataFrame:
        rows = self._ws.catalog.versions(self.id)
        cols = ["version", "definition", "description", "draft", "created_at"]
        return pd.DataFrame([{k: r[k] for k in cols} for r in rows], columns=cols)

    def exports(self) -> pd.DataFrame:
        rows = self._ws.catalog.export_rows(self.id)
        cols = [
            "id",
            "destination",
            "target",
            "status",
            "rows",
            "run_id",
            "started_at",
            "finished_at",
            "error",
        ]
        return pd.DataFrame([{k: r[k] for k in cols} for r in rows], columns=cols)

    def _require_members(self) -> dict[str, Any]:
        return M.require_members(self._row)

    def _key(self) -> str:
        return self._ws.model.customer_entity().key  # type: ignore[return-value]

    def _keys(self) -> list[str]:
        """The customer key's columns (several for a composite key)."""
        return list(self._ws.model.customer_entity().keys)

    def keys(self) -> pd.Series | pd.DataFrame:
        """The member keys of the last refresh (a DataFrame of the key columns for a composite key)."""
        row = self._require_members()
        return M.stored_keys(self._ws.backend, row, self._keys())

    def preview(self, limit: int = 100) -> pd.DataFrame:
        """The first ``limit`` members (by key) of the last refresh, with their customer columns."""
        row = self._require_members()
        return next(self._member_frames(row, limit=limit))

    def members(self) -> pd.DataFrame:
        """All members of the last refresh (customer columns plus projections)."""
        row = self._require_members()
        frames = list(self._member_frames(row))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def iter_members(self, chunk_size: int = 50_000, *, keys_only: bool = False) -> Iterator[pd.DataFrame]:
        """The members of the last refresh, streamed in DataFrame chunks."""
        row = self._require_members()
        return self._member_frames(row, chunk_size=chunk_size, keys_only=keys_only)

    def _member_frames(
        self, row: dict[str, Any], limit: int | None = None, chunk_size: int = 50_000, keys_only: bool = False
    ) -> Iterator[pd.DataFrame]:
        ws = self._ws
        customer = ws.model.customer_entity()
        keys = self._keys()
        d = ws.dialect
        if row["members_location"] == "table":
            m = exp.Table(
                this=exp.to_identifier(row["members_table"], quoted=True),
                alias=exp.TableAlias(this=exp.to_identifier("m")),
            )
            if keys_only:
                q = exp.select(*(exp.column(k, "m", quoted=True) for k in keys)).from_(m)
            else:
                member_cols = [c.name for c in ws.backend.columns(row["members_table"]) if c.name not in keys]
                cols = [exp.column(c, "c", quoted=True) for c in customer.columns]
                cols += [exp.column(c, "m", quoted=True) for c in member_cols]
                cust = table_expr(customer.name, "c")  # qualified if it lives in another schema
                q = (
                    exp.select(*cols)
                    .from_(m)
                    .join(
                        cust,
                        on=exp.and_(
                            *(
                                exp.EQ(
                                    this=exp.column(k, "c", quoted=True),
                                    expression=exp.column(k, "m", quoted=True),
                                )
                                for k in keys
                            )
                        ),
                    )
                )
            if limit is not None:
                q = q.order_by(*(exp.column(k, "m", quoted=True) for k in keys)).limit(limit)
                yield ws.backend.query(q.sql(dialect=d))
                return
            yield from ws.backend.iter_chunks(q.sql(dialect=d), chunk_size)
            return
        # Parquet: read the member file, fetch the customer columns for each chunk of keys.
        path = row["members_file"]
        if limit is not None:
            frame = pd.read_parquet(path).sort_values(keys).head(limit).reset_index(drop=True)
            yield frame if keys_only else self._with_customers(frame)
            return
        for chunk in M.iter_parquet(path, chunk_size):
            yield chunk if keys_only else self._with_customers(chunk)

    def _with_customers(self, frame: pd.DataFrame) -> pd.DataFrame:
        ws = self._ws
        customer = ws.model.customer_entity()
        keys = self._keys()
        extra = [c for c in frame.columns if c not in keys]
        if frame.empty:
            return pd.DataFrame(columns=list(customer.columns) + extra)

        def lit(k: Any) -> exp.Expr:
            k = k.item() if hasattr(k, "item") else k
            return exp.Literal.number(k) if isinstance(k, int | float) else exp.Literal.string(str(k))

        columns = [exp.column(k, quoted=True) for k in keys]
        if len(keys) == 1:
            wanted = exp.In(this=columns[0], expressions=[lit(k) for k in frame[keys[0]].tolist()])
        else:  # a composite key: (a, b) IN ((1, 'x'), ...)
            rows = frame[keys].itertuples(index=False, name=None)
            wanted = exp.In(
                this=exp.Tuple(expressions=columns),
                expressions=[exp.Tuple(expressions=[lit(v) for v in r]) for r in rows],
            )
        q = (
            exp.select(*(exp.column(c, quoted=True) for c in customer.columns))
            .from_(table_expr(customer.name))
            .where(wanted)
        )
        found = ws.backend.query(q.sql(dialect=ws.dialect))
        out = frame.merge(found, on=keys, how="left")
        return out[list(customer.columns) + extra].sort_values(keys).reset_index(drop=True)

    def diff(self) -> pd.DataFrame:
        """Customers who joined and left at the last refresh: columns key and ``change`` (joined/left)."""
        row = self._require_members()
        keys = self._keys()
        joined, left = M.changed_members(self._ws.backend, row, keys, keys_only=True)
        out = pd.concat(
            [joined[keys].assign(change="joined"), left[keys].assign(change="left")], ignore_index=True
        )
        return out.sort_values(["change", *keys], ignore_index=True)

    # --- export ----------------------------------------------------------------------------------
    def export(self, format: str = "csv", path: str | None = None, **options: Any) -> Export:
        """Download all members as a CSV or Parquet file (streamed); returns the export record."""
        if format not in ("csv", "parquet"):
            raise SegmentError(f"export format must be 'csv' or 'parquet', not {format!r}")
        if path is None:
            slug = re.sub(r"[^0-9A-Za-z_.-]+", "_", self.name).strip("_") or f"segment_{self.id}"
            path = f"{slug}.{format}"
        return self.add_to(format, path=path, **options)

    def add_to(self, destination: str | Any, **options: Any) -> Export:
        """Send the members to a destination (``table``, ``csv``, ``parquet``, ``dbt``, ``webhook`` or a
        plug-in from the ``jupyter_segments.destinations`` entry point group)."""
        return send(self, destination, **options)

    # --- membership changes (jupyter_segments/changes.py) ------------------------------------------
    def on_change(self, destination: str | Callable[[MembershipChanges], Any], **options: Any) -> int:
        """After each refresh that changes the members, send who joined and left (key, ``change``,
        ``run_id`` and the projected columns) to ``destination``: a destination name with its options
        (stored in the catalog: refreshes from the CLI or a schedule deliver too; no secrets) or a
        Python function given the ``MembershipChanges`` (kept in this kernel only). Deliveries are in
        ``exports()``. Returns the subscription id (for ``unsubscribe``).

        >>> seg.on_change("webhook", url="https://hooks.example.com/vip")
        >>> seg.on_change("table", table="vip_changes")            # appended: a change log
        >>> seg.on_change(lambda ch: print(ch.joined))
        """
        return changes_.subscribe(self._ws.catalog, self._row, destination, options)

    def subscriptions(self) -> pd.DataFrame:
        """The subscriptions of this segment: id, destination, target, options, stored (False: a callable
        of this kernel)."""
        return changes_.subscriptions(self._ws.catalog, self.id)

    def unsubscribe(self, subscription_id: int) -> None:
        """Stop a subscription made by ``on_change``."""
        changes_.unsubscribe(self._ws.catalog, self.id, subscription_id)

    def changes(self, since: Any = None, *, net: bool = False) -> pd.DataFrame:
        """Who joined and left at the refreshes finished since ``since`` (date, datetime, 'YYYY-MM-DD',
        or a timedelta back from now): run_id, finished_at, change, key. The first refresh is the
        baseline (not listed). ``net=True``: only customers whose membership differs at the end.

        >>> seg.changes(since=dt.timedelta(days=7), net=True)
        """
        return changes_.changes(self._ws.catalog, self.id, self._keys(), since, net=net)


def referrers(cat: Catalog, name: str) -> list[str]:
    """Names of the other segments whose definition says ``in segment <name>``."""
    return sorted(
        r["name"] for r in cat.segment_rows() if r["name"] != name and name in references(r["definition"])
    )


def save(
    ws: Workspace,
    name: str,
    definition: str | Definition,
    *,
    description: str | None = None,
    display_name: str | None = None,
    type: str = "dynamic",
    draft: bool = False,
) -> Segment:
    """Create segment ``name`` or, if it exists, save ``definition`` as its next version."""
    check_name(name)
    if not isinstance(definition, str):
        definition = to_text(definition)
    if type not in ("dynamic", "static"):
        raise SegmentError(f"type must be 'dynamic' or 'static', not {type!r}")
    if draft and type == "static":
        raise SegmentError("a static segment is a snapshot of members and cannot be a draft")
    if not draft:
        # Validate before anything is written: a bad definition leaves the catalog untouched.
        ws.check(definition)
    cat = ws.catalog
    remember_model(ws.model, cat)
    if not cat.has_segment(name):
        seg_id = cat.create_segment(
            name, definition, description=description, display_name=display_name, type=type,
            state="inactive" if draft else "active", draft=draft,
        )  # fmt: skip
        seg = Segment(ws, seg_id)
        if type == "static":
            run = ws.refresh([name], trigger="create", _allow_static=True)[0]
            if not run.ok:
                with cat.transaction() as c:
                    cat.delete_segment(seg_id, c)
                raise SegmentError(
                    f"the static segment '{name}' could not be evaluated: {'; '.join(run.errors)}"
                )
        return seg
    row = cat.segment_row(name)
    if row["type"] != type:
        raise SegmentError(f"segment '{name}' exists and is {row['type']}; its type cannot change")
    if row["type"] == "static":
        raise SegmentError(f"'{name}' is static: its members are a snapshot; save a new segment instead")
    with cat.transaction() as c:
        if (
            definition != row["definition"]
            or draft != bool(row["draft"])
            or (description is not None and description != row["description"])
        ):
            cat.add_version(
                row["id"],
                definition,
                description if description is not None else row["description"],
                draft,
                c,
            )
        values: dict[str, Any] = {}
        if display_name is not None:
            values["display_name"] = display_name
        if draft:
            values["state"] = "inactive"  # a draft holds no members
        if values:
            cat.update_segment(row["id"], c, **values)
    if draft and row["state"] == "active":
        drop_members(ws.backend, row)
        cat.update_segment(
            row["id"], touch=False, members_location=None, members_table=None, members_file=None,
            prev_members_file=None, has_prev=False, members_run_id=None,
        )  # fmt: skip
    return Segment(ws, row["id"])


def get(ws: Workspace, name: str) -> Segment:
    """The saved segment ``name`` (``UnknownSegment``, naming the nearest one, if there is none)."""
    row = ws.catalog.segment_row(name)
    return Segment(ws, row["id"])


def duplicate(ws: Workspace, name: str, new_name: str, **changes: Any) -> Segment:
    """A new (dynamic, not yet refreshed) segment with the definition and description of ``name``."""
    row = ws.catalog.segment_row(name)
    if row["type"] == "static":
        raise SegmentError(
            f"'{name}' is static: a copy would need its frozen members, which are not definitions"
        )
    return save(
        ws, new_name, changes.get("definition", row["definition"]),
        description=changes.get("description", row["description"]),
        display_name=changes.get("display_name"), type="dynamic", draft=bool(row["draft"]),
    )  # fmt: skip
