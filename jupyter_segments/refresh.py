"""Refresh saved segments: plan them in dependency order, evaluate, materialize members, record runs.

With ``shared=True`` (the default) the segments of one refresh are evaluated by ONE query: the
compiler builds every segment's condition in a single scope, so all aggregates over the same related
table (``sum(orders.amount)``, ``count(orders where ...)``, ...) come from one derived table -- one scan
of ``orders`` per run instead of one per segment. The query returns the customer key plus one 0/1 flag
per segment; each segment's members are then cut from that result.

Each segment's run goes Queued -> Running -> Successful / Failed / Skipped / Canceled. A failed
dependency makes its dependents Skipped. Members are replaced only when the new ones are complete.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlglot import exp

from .backends.base import Backend
from .bind import bind
from .catalog import members as M
from .catalog.store import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    SKIPPED,
    SUCCESSFUL,
    Catalog,
    _precise_now,
    now,
)
from .changes import after_refresh
from .compile import build_flags
from .compile.compiler import Options
from .dsl import ast as A
from .dsl import parse
from .errors import SegmentError
from .session import Session

# combined_select calls them by these names
from .session import as_datetime as _as_datetime
from .session import is_whole_day as _is_whole_day

LEASE_TTL = dt.timedelta(seconds=60)
HEARTBEAT_EVERY = 5.0  # seconds


@dataclass
class Run:
    """One refresh of one segment, as recorded in the catalog."""

    id: int
    segment: str
    status: str
    members: int | None = None
    added: int | None = None
    removed: int | None = None
    duration: float | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    trigger: str = "manual"
    version: int | None = None
    location: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Run:
        return cls(
            id=row["id"], segment=row["segment_name"], status=row["status"], members=row["members"],
            added=row["added"], removed=row["removed"], duration=row["duration"], errors=list(row["errors"]),
            warnings=list(row["warnings"]), started_at=row["started_at"], finished_at=row["finished_at"],
            trigger=row["trigger"], version=row["version"], location=row["location"],
        )  # fmt: skip

    @property
    def ok(self) -> bool:
        return self.status == SUCCESSFUL

    def __repr__(self) -> str:
        parts = [f"{self.segment!r}", self.status]
        if self.status == SUCCESSFUL:
            parts.append(f"members={self.members} (+{self.added} -{self.removed})")
        if self.duration is not None:
            parts.append(f"{self.duration:.2f}s")
        if self.errors:
            parts.append(f"error: {self.errors[0].splitlines()[0]}")
        return f"<Run {' '.join(parts)}>"


# --- planning -------------------------------------------------------------------------------------


def references(text: str) -> set[str]:
    """Names of the segments a definition refers to (``in segment x``); empty if it does not parse."""
    try:
        tree = parse(text)
    except SegmentError:
        return set()
    found: set[str] = set()
    _walk_refs(tree, found)
    return found


def _walk_refs(node: A.Node, found: set[str]) -> None:
    if isinstance(node, A.SegmentRef):
        found.add(node.name)
        return
    for child in A.children(node):
        _walk_refs(child, found)


def dependency_order(
    rows: Sequence[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, set[str]], set[str]]:
    """Rows ordered so that a segment comes after the segments it refers to.

    Returns (ordered rows, references among the given rows, names caught in a reference cycle).
    Ties are broken by name so the order is stable.
    """
    by_name = {r["name"]: r for r in rows}
    deps = {r["name"]: references(r["definition"]) & set(by_name) for r in rows}
    order: list[dict[str, Any]] = []
    done: set[str] = set()
    pending = sorted(by_name)
    while pending:
        ready = [n for n in pending if deps[n] <= done]
        if not ready:
            break
        for n in ready:
            order.append(by_name[n])
            done.add(n)
        pending = [n for n in pending if n not in done]
    cycle = set(pending)
    order.extend(by_name[n] for n in pending)
    return order, deps, cycle


# --- queries --------------------------------------------------------------------------------------


def member_select(session: Session, tree: A.Definition, as_of: Any) -> exp.Select:
    """SELECT key, projections... for one segment: what its members table holds."""
    keys = session.model.customer_entity().keys  # one column, or several (a composite key)
    if not tree.projections:
        return session.query(tree, shape="keys", as_of=as_of)
    q = session.query(tree, shape="members", as_of=as_of)
    cols = [*keys, *(p.alias for p in tree.projections)]
    return exp.select(*(exp.column(c, table="m", quoted=True) for c in cols)).from_(
        exp.Subquery(this=q, alias=exp.TableAlias(this=exp.to_identifier("m")))
    )


def combined_select(ws: Session, trees: Sequence[A.Definition], as_of: Any) -> exp.Select:
    """One query for many segments: key, ``f_i`` (1 if member of segment i), ``p_i_j`` projections
    (see ``compile.build_flags``: aggregates over the same path share one derived table)."""
    options = Options(dialect=ws.dialect, as_of=_as_datetime(as_of), whole_day=_is_whole_day(as_of))
    bound = [bind(ws.model, tree, ws._segment_source) for tree in trees]
    return build_flags(ws.model, bound, options)


def _from_flags(flags_table: str, key: M.Keys, i: int, tree: A.Definition) -> exp.Select:
    cols: list[exp.Expr] = [exp.column(k, quoted=True) for k in M.key_list(key)]
    cols += [
        exp.alias_(exp.column(f"p_{i}_{j}"), p.alias, quoted=True) for j, p in enumerate(tree.projections)
    ]
    return (
        exp.select(*cols)
        .from_(exp.Table(this=exp.to_identifier(flags_table, quoted=True)))
        .where(exp.EQ(this=exp.column(f"f_{i}"), expression=exp.Literal.number(1)))
    )


def _flag_frame(chunk: pd.DataFrame, key: M.Keys, i: int, tree: A.Definition) -> pd.DataFrame:
    part = chunk[chunk[f"f_{i}"] == 1]
    cols = {k: part[k] for k in M.key_list(key)}
    for j, p in enumerate(tree.projections):
        cols[p.alias] = part[f"p_{i}_{j}"]
    return pd.DataFrame(cols).reset_index(drop=True)


# --- the refresh ----------------------------------------------------------------------------------


@dataclass
class _Item:
    row: dict[str, Any]
    run_id: int
    deps: set[str]
    tree: A.Definition | None = None
    select: exp.Select | None = None
    started: float | None = None
    started_at: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)
    status: str = QUEUED


def refresh(
    session: Session,
    cat: Catalog,
    names: Iterable[str] | None = None,
    *,
    storage: M.Storage | None = None,
    shared: bool = True,
    as_of: Any = None,
    trigger: str = "manual",
    skip_inactive: bool = False,
    cancel: threading.Event | None = None,
    lease_wait: float = 600.0,
    _allow_static: bool = False,
) -> list[Run]:
    """Refresh the named segments (default: every active dynamic segment); one Run per segment.

    ``skip_inactive`` (scheduled refreshes) records inactive segments as Skipped instead of leaving
    them out. ``cancel`` stops the batch between segments: the rest are recorded as Canceled.
    ``storage`` says where members go (default: ``members.Storage()``, a table if the database is writable).
    """
    cat.recover()
    clean_leftovers(session, cat)
    apply_schedule(session, cat)
    rows = _select(cat, names, skip_inactive)
    if not rows:
        return []
    ordered, deps, cycle = dependency_order(rows)
    run_ids = cat.queue_runs(ordered, trigger, shared)
    items = [_Item(r, rid, deps[r["name"]]) for r, rid in zip(ordered, run_ids, strict=True)]
    batch = _Batch(
        session, cat, storage or M.Storage(), items,
        shared=shared, as_of=as_of, cancel=cancel, lease_wait=lease_wait, cycle=cycle,
    )  # fmt: skip
    batch.allow_static = _allow_static
    batch.run(explicit=names is not None)
    # Who joined and left: recorded, and sent to the segments' subscriptions (never fails the refresh).
    after_refresh(session, cat, [i.run_id for i in items if i.status == SUCCESSFUL])
    return [Run.from_row(cat.run_row(i.run_id)) for i in items]


def _select(cat: Catalog, names: Iterable[str] | None, skip_inactive: bool) -> list[dict[str, Any]]:
    if names is not None:
        if isinstance(names, str):
            names = [names]
        wanted = list(dict.fromkeys(names))
        return [cat.segment_row(n) for n in wanted]  # UnknownSegment before anything is written
    rows = [r for r in cat.segment_rows() if r["type"] == "dynamic"]
    if skip_inactive:
        return rows
    return [r for r in rows if r["state"] == "active" and not r["draft"]]


class _Stop(Exception):
    """Internal: leave the batched path before anything is swapped."""


class _Batch:
    def __init__(
        self,
        session: Session,
        cat: Catalog,
        storage: M.Storage,
        items: list[_Item],
        *,
        shared,
        as_of,
        cancel,
        lease_wait,
        cycle,
    ) -> None:
        self.session, self.cat, self.storage, self.items = session, cat, storage, items
        self.shared, self.as_of, self.cancel, self.lease_wait, self.cycle = (
            shared,
            as_of,
            cancel,
            lease_wait,
            cycle,
        )
        self.status: dict[str, str] = {}
        self._stop = threading.Event()
        # Tables of the user's database, listed once per run (a listing costs a round trip); kept up
        # to date with what this run creates, renames and drops. Member tables of the segments we
        # hold leases on change only through us, so the snapshot stays right for them.
        self._tables: set[str] | None = None
        self.allow_static = False  # a static segment is evaluated once, when it is created

    # -- bookkeeping --
    def finish(
        self, item: _Item, status: str, *, errors: Sequence[str] = (), conn=None, **values: Any
    ) -> None:
        t = _precise_now()
        duration = time.perf_counter() - item.started if item.started is not None else None
        # scratch=None: whatever this run staged is gone by now (dropped, renamed into place, or aborted).
        self.cat.update_run(
            item.run_id, conn, status=status, finished_at=t, duration=duration, errors=list(errors),
            warnings=item.warnings, scratch=None, **values,
        )  # fmt: skip
        item.status = status
        self.status[item.row["name"]] = status

    def start(self, item: _Item, t0: float | None = None, at: dt.datetime | None = None) -> None:
        item.started = t0 if t0 is not None else time.perf_counter()
        item.started_at = at or _precise_now()
        self.cat.update_run(item.run_id, status=RUNNING, started_at=item.started_at)
        item.status = RUNNING

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            ids = [i.run_id for i in self.items if i.status in (QUEUED, RUNNING)]
            try:
                self.cat.heartbeat(ids, lease_for=LEASE_TTL)
            except Exception:  # noqa: BLE001 - a missed beat is retried; never kill the refresh
                pass

    def blocked_by(self, item: _Item) -> str | None:
        for d in sorted(item.deps):
            if self.status.get(d) in (FAILED, SKIPPED, CANCELED):
                return f"skipped because segment '{d}', which it refers to, is {self.status[d]}"
        return None

    # -- the batch --
    def run(self, explicit: bool) -> None:
        beat = threading.Thread(target=self._heartbeat, name="js-refresh-heartbeat", daemon=True)
        beat.start()
        flags_table: str | None = None
        try:
            ready = self.prepare(explicit)
            if not ready:
                return
            location = self.location()
            flags: Any = None
            if self.shared and len(ready) > 1:
                flags, flags_table = self.evaluate_shared(ready, location)
            if flags_table is not None and self.session.backend.dialect != "mysql":
                # MySQL is left to the per-segment path: its DDL commits statement by statement, so
                # one swap transaction for all segments would not be atomic there.
                self.materialize_tables_together(ready, flags_table)
            for item in ready:
                if item.status not in (QUEUED, RUNNING):
                    continue
                stop = None
                if self.cancel is not None and self.cancel.is_set():
                    stop = (CANCELED, "the refresh was canceled")
                elif reason := self.blocked_by(item):
                    stop = (SKIPPED, reason)
                if stop:
                    self._release(item)
                    if isinstance(flags, dict) and item.run_id in flags:
                        flags.pop(item.run_id).abort()
                    self.finish(item, stop[0], errors=[stop[1]])
                    continue
                self.materialize(item, location, flags, flags_table, ready)
        except BaseException as e:
            # KeyboardInterrupt or a crash of our own: nothing may stay Queued/Running.
            for item in self.items:
                if item.status in (QUEUED, RUNNING):
                    self._release(item)
                    status = CANCELED if isinstance(e, KeyboardInterrupt) else FAILED
                    self.finish(item, status, errors=[f"the refresh stopped: {type(e).__name__}: {e}"])
            raise
        finally:
            self._stop.set()
            if flags_table is not None:
                try:
                    M.drop_tables(self.session.backend, [flags_table])
                except Exception:  # noqa: BLE001
                    pass

    def prepare(self, explicit: bool) -> list[_Item]:
        """Check each segment (in dependency order); returns the ones to evaluate."""
        ready = []
        for item in self.items:
            row = item.row
            if self.cancel is not None and self.cancel.is_set():
                self.finish(item, CANCELED, errors=["the refresh was canceled"])
                continue
            skip = None
            if row["type"] == "static" and not self.allow_static:
                skip = "static segment: its members were frozen when it was created"
            elif row["draft"]:
                skip = "draft: fix the definition and save it without draft=True first"
            elif row["state"] != "active":
                skip = "inactive segment" + ("" if not explicit else ": activate it first")
            if skip:
                item.warnings.append(skip)
                self.finish(item, SKIPPED)
                continue
            if row["name"] in self.cycle:
                self.finish(item, FAILED, errors=[f"segment '{row['name']}' is part of a reference cycle"])
                continue
            reason = self.blocked_by(item)
            if reason:
                self.finish(item, SKIPPED, errors=[reason])
                continue
            try:
                item.tree = self.session.parse(row["definition"])
                try:
                    item.select = member_select(self.session, item.tree, self.as_of)
                except SegmentError as e:
                    if "no table '" not in str(e):
                        raise
                    # The model listed a table that is gone since (e.g. members of a segment another
                    # process deleted): read the database again once.
                    self.session.refresh_model()
                    item.select = member_select(self.session, item.tree, self.as_of)
            except SegmentError as e:
                self.finish(item, FAILED, errors=[str(e)])
                continue
            ready.append(item)
        return ready

    def location(self) -> str:
        return self.storage.location(self.session.backend)

    def lease(self, item: _Item) -> None:
        deadline = time.monotonic() + self.lease_wait
        while not self.cat.acquire_lease(item.row["id"], item.run_id, LEASE_TTL):
            if time.monotonic() > deadline:
                raise SegmentError("another refresh of this segment is still running; try again later")
            self.cat.recover()  # a holder that died releases its lease here
            time.sleep(0.2)

    def _release(self, item: _Item) -> None:
        try:
            self.cat.release_lease(item.row["id"], item.run_id)
        except Exception:  # noqa: BLE001
            pass

    def evaluate_shared(self, ready: list[_Item], location: str) -> tuple[Any, str | None]:
        """Run the one combined query. Table location: into a flags table; Parquet: streamed into sinks."""
        for item in sorted(ready, key=lambda i: i.row["id"]):  # fixed order: no lease deadlock
            self.lease(item)
        t0, at = time.perf_counter(), _precise_now()
        with self.cat.transaction() as c:  # all Running at once: one catalog transaction
            for item in ready:
                self.cat.update_run(item.run_id, c, status=RUNNING, started_at=at)
        for item in ready:
            item.started, item.started_at, item.status = t0, at, RUNNING
        trees = [i.tree for i in ready]
        try:
            select = combined_select(self.session, trees, self.as_of)  # type: ignore[arg-type]
            if location == "table":
                name = "_js_flags_" + uuid.uuid4().hex[:12]
                self.cat.add_scratch([i.run_id for i in ready], "table", name)
                M.ctas(self.session.backend, name, select)
                return "table", name
            return self._shared_parquet(ready, select), None
        except Exception as e:  # noqa: BLE001 - fall back to one query per segment, isolating the culprit
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            for item in ready:
                item.warnings.append(f"shared evaluation failed ({msg}); evaluated on its own")
            return None, None

    def _shared_parquet(self, ready: list[_Item], select: exp.Select) -> dict[int, M.ParquetSink]:
        key = self.session.model.customer_entity().keys
        sinks = {i.run_id: M.ParquetSink(self._parquet_path(i)) for i in ready}
        for rid, sink in sinks.items():
            self.cat.add_scratch([rid], "file", str(sink.tmp))
        try:
            sql = select.sql(dialect=self.session.dialect)
            for chunk in self.session.backend.iter_chunks(sql, 100_000):
                for n, item in enumerate(ready):
                    sinks[item.run_id].write(_flag_frame(chunk, key, n, item.tree))  # type: ignore[arg-type]
        except BaseException:
            for s in sinks.values():
                s.abort()
            raise
        return sinks

    def _parquet_path(self, item: _Item) -> Path:
        base = Path(self.storage.path).expanduser() if self.storage.path else self.cat.members_dir
        return base / str(item.row["id"]) / f"run_{item.run_id}.parquet"

    def materialize(
        self, item: _Item, location: str, flags: Any, flags_table: str | None, ready: list[_Item]
    ) -> None:
        cat, row = self.cat, item.row
        key = self.session.model.customer_entity().keys
        try:
            if item.status != RUNNING:
                self.lease(item)
                self.start(item)
            # Re-read: a rename or an earlier run in this batch may have changed where members live.
            row = cat.segment_by_id(row["id"])
            if location == "table":
                values = self._to_table(item, row, key, flags_table, ready)
            else:
                sink = flags.pop(item.run_id, None) if isinstance(flags, dict) else None
                values = self._to_parquet(item, row, key, sink)
        except Exception as e:  # noqa: BLE001 - recorded on the run; the batch goes on
            self._release(item)
            self.finish(item, FAILED, errors=[str(e) or type(e).__name__])
            return
        self.finish_success(item, row, values)

    def _to_table(self, item: _Item, row, key: M.Keys, flags_table: str | None, ready: list[_Item]) -> dict:
        backend = self.session.backend
        prefix = self.storage.prefix
        target = row["members_table"] or M.table_name(prefix, row["name"], row["id"])
        stage = M.stage_name()
        self.cat.add_scratch([item.run_id], "table", stage)
        try:
            assert item.tree is not None and item.select is not None  # prepare() set both on ready items
            select = (
                item.select
                if flags_table is None
                else _from_flags(flags_table, key, ready.index(item), item.tree)
            )
            M.ctas(backend, stage, select)
            has_current, had = self._target_state(row, target, item)
            ((members, added, removed),) = M.member_counts(backend, [(stage, target if had else None)], key)
            M.swap_in(backend, stage, target, keep_prev=had, has_current=has_current)
            self._swapped(stage, target, has_current, keep_prev=had)
        except BaseException:
            try:
                M.drop_tables(backend, [stage])
            except Exception:  # noqa: BLE001
                pass
            raise
        return {
            "members": members, "added": added, "removed": removed, "location": "table",
            "seg": {"members_location": "table", "members_table": target, "has_prev": had,
                    "members_file": None, "prev_members_file": None},
            "drop_files": [row["members_file"], row["prev_members_file"]],
        }  # fmt: skip

    # -- tables of the user's database: one listing per run --
    def _target_state(self, row: dict[str, Any], target: str, item: _Item) -> tuple[bool, bool]:
        """(target table exists, it holds this segment's previous members) for a leased segment.

        Uses the run's listing; lists again when the listing and the catalog disagree (another
        process refreshed this segment between our listing and our lease, or a run was killed
        between its swap and its catalog commit), so a stale listing never decides a swap.
        """
        if self._tables is None:
            self._tables = set(self.session.backend.tables())
        catalog_says = row["members_location"] == "table" and row["members_table"] == target
        if (target in self._tables) != catalog_says:
            self._tables = set(self.session.backend.tables())
        has_current = target in self._tables
        if has_current and not row["members_table"]:
            # The catalog never recorded a members table for this segment, so a table of that name is
            # someone else's (a user's seg_members__vip): never replace it.
            raise SegmentError(
                f"a table named {target} already exists in the database and jupyter-segments did not "
                "create it: refusing to replace it. Rename or drop it, or choose another members table "
                "prefix (ws.members_prefix = 'myseg_') or keep members in Parquet "
                "(ws.members_storage = 'parquet')"
            )
        had = row["members_location"] == "table" and has_current
        if not had and row["members_location"] == "parquet" and row["members_file"]:
            item.warnings.append(
                "members moved from a Parquet file to a table: added/removed count from zero"
            )
        return has_current, had

    def _swapped(self, stage: str, target: str, has_current: bool, keep_prev: bool) -> None:
        """Keep the run's listing in step with a swap that committed."""
        if self._tables is None:
            return
        prev = M.prev_name(target)
        self._tables.discard(stage)
        self._tables.add(target)
        if has_current and keep_prev:
            self._tables.add(prev)
        else:
            self._tables.discard(prev)

    def materialize_tables_together(self, ready: list[_Item], flags_table: str) -> None:
        """Shared refresh into tables, bookkeeping batched: every segment's stage is cut from the flags
        table, members/added/removed of all segments come from ONE query, all swaps are ONE DDL
        transaction and all runs are recorded in ONE catalog transaction (after the swap commits,
        so no run is Successful before its members are in place).

        Any error before the swap commits: the stages are dropped and nothing else changed, so the
        segments go on to the per-segment path, which isolates the culprit.
        """
        items = [i for i in ready if i.status == RUNNING]
        if len(items) < 2 or (self.cancel is not None and self.cancel.is_set()):
            return
        cat, backend = self.cat, self.session.backend
        key = self.session.model.customer_entity().keys
        prefix = self.storage.prefix
        # Re-read (one query): a rename or an earlier run may have changed where members live.
        rows = {r["id"]: r for r in cat.segment_rows()}
        if any(i.row["id"] not in rows for i in items):
            return  # deleted meanwhile: the per-segment path reports it on that segment
        plan = []
        for item in items:
            row = rows[item.row["id"]]
            target = row["members_table"] or M.table_name(prefix, row["name"], row["id"])
            plan.append((item, row, target, M.stage_name()))
        created: list[str] = []
        warnings_before = [len(item.warnings) for item, *_ in plan]
        try:
            with cat.transaction() as c:
                for item, _row, _target, stage in plan:
                    cat.add_scratch([item.run_id], "table", stage, c)
            for item, _row, _target, stage in plan:
                assert item.tree is not None  # prepare() parsed every ready item
                M.ctas(backend, stage, _from_flags(flags_table, key, ready.index(item), item.tree))
                created.append(stage)
            states = [self._target_state(row, target, item) for item, row, target, _ in plan]
            counts = M.member_counts(
                backend,
                [
                    (stage, target if had else None)
                    for (_i, _r, target, stage), (_h, had) in zip(plan, states, strict=True)
                ],
                key,
            )
            if self.cancel is not None and self.cancel.is_set():
                raise _Stop("canceled")
            statements: list[str] = []
            for (_item, _row, target, stage), (has_current, had) in zip(plan, states, strict=True):
                statements += M.swap_statements(stage, target, backend.dialect, has_current, keep_prev=had)
            M.run_in_transaction(backend, statements)
        except Exception as e:  # noqa: BLE001 - nothing swapped: drop the stages, go on segment by segment
            for (item, *_), n in zip(plan, warnings_before, strict=True):
                del item.warnings[n:]  # the per-segment path adds its own
                if not isinstance(e, _Stop):
                    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                    item.warnings.append(f"batched members step failed ({msg}); written on its own")
            try:
                if created:
                    M.drop_tables(backend, created)
            except Exception:  # noqa: BLE001 - recorded as scratch: the next refresh drops them
                pass
            return
        for (_item, _row, target, stage), (has_current, had) in zip(plan, states, strict=True):
            self._swapped(stage, target, has_current, keep_prev=had)
        drop: list[Any] = []
        try:
            with cat.transaction() as c:
                for (item, row, target, _stage), (_has, had), (members, added, removed) in zip(
                    plan, states, counts, strict=True
                ):
                    self.finish(
                        item,
                        SUCCESSFUL,
                        conn=c,
                        members=members,
                        added=added,
                        removed=removed,
                        location="table",
                    )
                    cat.update_segment(
                        row["id"], c, touch=False, members_run_id=item.run_id, members_location="table",
                        members_table=target, has_prev=had, members_file=None, prev_members_file=None,
                    )  # fmt: skip
                    cat.release_lease(row["id"], item.run_id, c)
                    drop += [row["members_file"], row["prev_members_file"]]
        except BaseException:
            for item, *_ in plan:  # not recorded: the caller marks them Failed
                item.status = RUNNING
                self.status.pop(item.row["name"], None)
            raise
        # Only after the catalog names the new members may the older files go.
        M.remove_files(drop)

    def _to_parquet(self, item: _Item, row, key: M.Keys, sink: M.ParquetSink | None) -> dict:
        if sink is None:
            sink = M.ParquetSink(self._parquet_path(item))
            self.cat.add_scratch([item.run_id], "file", str(sink.tmp))
            try:
                sql = item.select.sql(dialect=self.session.dialect)  # type: ignore[union-attr]
                for chunk in self.session.backend.iter_chunks(sql, 100_000):
                    sink.write(chunk)
            except BaseException:
                sink.abort()
                raise
        try:
            members = sink.commit()
        except BaseException:
            sink.abort()
            raise
        new = str(sink.final)
        old = row["members_file"] if row["members_location"] == "parquet" else None
        if old and Path(old).exists():
            added = M.parquet_missing(new, old, key)
            removed = M.parquet_missing(old, new, key)
        else:
            added, removed = members, 0
        return {
            "members": members, "added": added, "removed": removed, "location": "parquet",
            "seg": {"members_location": "parquet", "members_file": new, "prev_members_file": old,
                    "has_prev": bool(old)},
            "drop_files": [row["prev_members_file"]] if old else [row["prev_members_file"], row["members_file"]],
        }  # fmt: skip

    def finish_success(self, item: _Item, row, values: dict) -> None:
        seg_values = dict(values.pop("seg"))
        drop_files = values.pop("drop_files")
        with self.cat.transaction() as c:
            self.finish(item, SUCCESSFUL, conn=c, **values)
            self.cat.update_segment(row["id"], c, touch=False, members_run_id=item.run_id, **seg_values)
            self.cat.release_lease(row["id"], item.run_id, c)
        # Only after the catalog names the new file may the older one go.
        M.remove_files(
            f
            for f in drop_files
            if f and f != seg_values.get("members_file") and f != seg_values.get("prev_members_file")
        )


def clean_leftovers(session: Session, cat: Catalog) -> None:
    """Drop staging tables and temporary files that killed runs left behind."""
    dropped = False
    for run_id, items in cat.leftover_scratch():
        tables = [i["name"] for i in items if i["kind"] == "table"]
        try:
            if tables:
                M.drop_tables(session.backend, tables)
                dropped = True
            M.remove_files(i["name"] for i in items if i["kind"] == "file")
        except Exception:  # noqa: BLE001 - e.g. a read-only database; try again next time
            continue
        cat.clear_scratch(run_id)
    if dropped:
        # The model may have listed those tables (and would now fail to describe them).
        session.refresh_model()


# --- scheduled lifecycle changes --------------------------------------------------------------------


def apply_schedule(session: Session, cat: Catalog, at: dt.datetime | None = None) -> list[str]:
    """Carry out activations/deactivations whose time has come; returns 'name: activated' notes."""
    t = at or now()
    notes = []
    for row in cat.segment_rows():
        if row["deactivate_at"] is not None and row["deactivate_at"] <= t:
            deactivate(session.backend, cat, row)
            notes.append(f"{row['name']}: deactivated")
        elif row["activate_at"] is not None and row["activate_at"] <= t:
            try:
                validate_for_activation(session, row)
            except SegmentError as e:
                cat.update_segment(row["id"], touch=False, activate_at=None)
                notes.append(f"{row['name']}: not activated ({e.reason})")
                continue
            cat.update_segment(row["id"], state="active", draft=False, activate_at=None)
            notes.append(f"{row['name']}: activated")
    return notes


def validate_for_activation(session: Session, row: dict[str, Any]) -> None:
    """``SegmentError`` saying why segment ``row`` cannot be activated, if its definition does not check."""
    try:
        session.check(row["definition"])
    except SegmentError as e:
        what = "it is a draft that does not validate" if row["draft"] else "it does not validate"
        raise SegmentError(f"cannot activate '{row['name']}': {what}: {e}") from None


def deactivate(backend: Backend, cat: Catalog, row: dict[str, Any]) -> None:
    """Inactive segments hold no members: drop them, keep the definition and the history."""
    with cat.transaction() as c:
        cat.update_segment(
            row["id"], c, state="inactive", deactivate_at=None, members_location=None, members_table=None,
            members_file=None, prev_members_file=None, has_prev=False, members_run_id=None,
        )  # fmt: skip
    drop_members(backend, row)


def drop_members(backend: Backend, row: dict[str, Any]) -> None:
    """Drop the members (and previous members) of segment ``row``: its tables or files."""
    if row["members_table"]:
        try:
            M.drop_tables(backend, [row["members_table"], M.prev_name(row["members_table"])])
        except Exception:  # noqa: BLE001 - a read-only database: nothing was written there
            pass
    M.remove_files([row["members_file"], row["prev_members_file"]])
