"""Membership changes: who joined and who left a segment at each refresh, recorded and pushed.

After every successful refresh (``refresh.refresh`` calls ``after_refresh``) the customers who joined and
left (against the previous members, kept beside the current ones) are

- recorded in the catalog (``member_changes``: run, joined/left, key), read back by ``changes()`` over
  any period;
- sent to each subscription of the segment (``subscribe``): any export destination (``webhook``,
  ``table``, ``csv``, ``parquet``, a plug-in) or a Python callable, logged in the exports record like an
  export, with the destination's own retries (the webhook's). A failed delivery never fails the refresh:
  it is Failed in the exports record and a warning on the run.

The first refresh of a segment is its baseline: there are no previous members to compare with, so
nothing is recorded or sent (``seg.add_to(...)`` sends all members once). A refresh that changed nobody
sends nothing.

Subscriptions to destinations are stored in the catalog, so a refresh from the CLI or a schedule in
another process delivers them too; their options must not hold secrets (refused): a webhook takes
``headers_from_env={"Authorization": "HOOK_AUTH"}`` (header -> environment variable read at delivery).
A callable lives only in the kernel that subscribed it: other processes do not see it, and it is gone
when the kernel ends.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from .backends.base import mask_url, plain_rows, plain_value
from .catalog import members as M
from .catalog.store import SUCCESSFUL, Catalog
from .errors import SegmentError, did_you_mean, plural
from .export import _SECRET_WORDS, ExportResult, destinations, resolve, send
from .export.webhook import WebhookDestination, _endpoint
from .session import Session, as_datetime

CHANGE_COLUMNS = ["run_id", "finished_at", "change"]  # then the key


@dataclass
class MembershipChanges:
    """Who joined and left ``segment`` at refresh ``run_id``: ``joined`` and ``left`` hold the key and
    the projected columns of that refresh (``left``: of the refresh before)."""

    segment: str
    run_id: int
    key: M.Keys  # the customer key's column, or a composite key's columns
    joined: pd.DataFrame
    left: pd.DataFrame

    @property
    def keys(self) -> list[str]:
        return M.key_list(self.key)

    def frame(self) -> pd.DataFrame:
        """One table: key, ``change`` (joined/left), ``run_id``, then the projected columns."""
        parts = [
            part.assign(change=change, run_id=self.run_id)
            for part, change in ((self.joined, "joined"), (self.left, "left"))
        ]
        out = pd.concat(parts, ignore_index=True) if len(self.joined) + len(self.left) else parts[0]
        first = [*self.keys, "change", "run_id"]
        return out[first + [c for c in out.columns if c not in first]]

    def __repr__(self) -> str:
        return (
            f"<MembershipChanges {self.segment!r} run {self.run_id}: "
            f"+{len(self.joined)} joined, -{len(self.left)} left>"
        )


class _ChangesView:
    """What a destination is given instead of a ``Segment``: its ``iter_members`` streams the changes
    (key, change, run_id, projections; key and change with ``keys_only``)."""

    def __init__(self, session: Session, catalog: Catalog, row: dict[str, Any], changes: MembershipChanges):
        self.session, self.catalog, self.changes = session, catalog, changes
        self.id, self.name = row["id"], row["name"]
        self._row = {**row, "members_run_id": changes.run_id}

    def _require_members(self) -> dict[str, Any]:
        return self._row

    def iter_members(self, chunk_size: int = 50_000, *, keys_only: bool = False) -> Iterator[pd.DataFrame]:
        frame = self.changes.frame()
        if keys_only:
            frame = frame[[*self.changes.keys, "change"]]
        if frame.empty:
            yield frame
        for start in range(0, len(frame), chunk_size):
            yield frame.iloc[start : start + chunk_size].reset_index(drop=True)


class ChangesWebhook(WebhookDestination):
    """POST ``{"segment", "run", "batch", "joined": [{key, projections...}], "left": [...]}`` to ``url``,
    ``batch_size`` customers at a time, with the export webhook's retries and masking.
    ``headers_from_env``: header name -> environment variable, read at each delivery."""

    def send(
        self, segment: _ChangesView, url: str | None = None, batch_size: int = 1000, retries: int = 3,
        backoff: float = 0.5, timeout: float = 10.0, headers: dict[str, str] | None = None,
        headers_from_env: Mapping[str, str] | None = None,
    ) -> ExportResult:  # fmt: skip
        url, sent_headers = _endpoint(url, headers)
        for header, variable in (headers_from_env or {}).items():
            if variable not in os.environ:
                raise SegmentError(f"webhook header {header}: the environment variable {variable} is not set")
            sent_headers[header] = os.environ[variable]
        changes = segment.changes
        records = [
            ("joined", r) for r in _records(changes.joined)
        ] + [("left", r) for r in _records(changes.left)]  # fmt: skip
        sent = batches = 0
        for batch in _chunks(records, max(1, batch_size)):
            body = {
                "segment": segment.name,
                "run": changes.run_id,
                "batch": batches,
                "joined": [],
                "left": [],
            }
            for change, record in batch:
                body[change].append(record)
            payload = json.dumps(body, default=str).encode()
            self._post(url, payload, sent_headers, retries, backoff, timeout, sent)
            sent += len(batch)
            batches += 1
        return ExportResult(sent, mask_url(url), {"batches": batches})


class CallableDestination:
    """A Python function in this kernel, called with the ``MembershipChanges`` of each refresh."""

    name = "python"

    def __init__(self, function: Callable[[MembershipChanges], Any]) -> None:
        self.function = function

    def target(self, **_: Any) -> str:
        return getattr(self.function, "__qualname__", None) or repr(self.function)[:100]

    def send(self, segment: _ChangesView, **_: Any) -> ExportResult:
        self.function(segment.changes)
        return ExportResult(len(segment.changes.joined) + len(segment.changes.left), self.target())


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain_value(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


# --- subscriptions ------------------------------------------------------------------------------------

# Callables subscribed in this kernel, per catalog object: {segment id: {subscription id: (fn, options)}}.
# Their ids are negative so that they never meet a stored subscription's.
_IN_KERNEL: weakref.WeakKeyDictionary[Catalog, dict[int, dict[int, Callable[..., Any]]]] = (
    weakref.WeakKeyDictionary()
)
_next_kernel_id = itertools.count(-1, -1)
SUBSCRIPTION_COLUMNS = ["id", "destination", "target", "options", "stored", "created_at"]


def subscribe(cat: Catalog, segment: Mapping[str, Any], destination: Any, options: Mapping[str, Any]) -> int:
    """Subscribe ``destination`` (a destination name, or a callable) to the changes of ``segment`` (a
    catalog row); returns the subscription id (negative: a callable, kept in this kernel only)."""
    if callable(destination) and not isinstance(destination, type) and not hasattr(destination, "send"):
        if options:
            raise SegmentError(f"a callable takes no options (got {', '.join(sorted(options))})")
        sid = next(_next_kernel_id)
        _IN_KERNEL.setdefault(cat, {}).setdefault(int(segment["id"]), {})[sid] = destination
        return sid
    if not isinstance(destination, str):
        raise SegmentError(
            "on_change takes a destination name (webhook, table, csv, parquet or a plug-in's) or a Python "
            f"function, not {type(destination).__name__}: a destination object cannot be stored in the catalog"
        )
    known = destinations()
    if destination not in known:
        raise SegmentError(f"unknown destination '{destination}'{did_you_mean(destination, known)}")
    _refuse_secrets(options)
    return cat.add_subscription(int(segment["id"]), destination, dict(options))


def _refuse_secrets(options: Mapping[str, Any]) -> None:
    for k, v in options.items():
        if k == "headers_from_env":
            if not isinstance(v, Mapping) or not all(isinstance(x, str) for x in v.values()):
                raise SegmentError("headers_from_env maps header names to environment variable names")
            continue
        if any(w in k.lower() for w in _SECRET_WORDS):
            raise SegmentError(
                f"option '{k}' may hold a secret, and subscriptions are stored in the catalog: pass "
                "headers_from_env={'Authorization': 'HOOK_AUTH'} (header -> environment variable, read at "
                "each delivery) instead"
            )
        if isinstance(v, str) and mask_url(v) != v:
            raise SegmentError(
                f"option '{k}' holds a password or token ({mask_url(v)}), and subscriptions are stored in the "
                "catalog: pass it through headers_from_env={'Authorization': 'HOOK_AUTH'} instead"
            )
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            raise SegmentError(
                f"option '{k}' must be plain data (text, numbers, lists) to be stored"
            ) from None


def subscriptions(cat: Catalog, segment_id: int) -> pd.DataFrame:
    """The segment's subscriptions: stored ones, then this kernel's callables (``stored`` False)."""
    rows = []
    for r in cat.subscription_rows(segment_id):
        dest = resolve(r["destination"])
        target = dest.target(**r["options"]) if hasattr(dest, "target") else None
        rows.append(
            {"id": r["id"], "destination": r["destination"], "target": target, "options": r["options"],
             "stored": True, "created_at": r["created_at"]}
        )  # fmt: skip
    for sid, fn in _IN_KERNEL.get(cat, {}).get(segment_id, {}).items():
        rows.append(
            {"id": sid, "destination": "python", "target": CallableDestination(fn).target(), "options": {},
             "stored": False, "created_at": None}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=SUBSCRIPTION_COLUMNS)


def unsubscribe(cat: Catalog, segment_id: int, subscription_id: int) -> None:
    kernel = _IN_KERNEL.get(cat, {}).get(segment_id, {})
    if subscription_id in kernel:
        del kernel[subscription_id]
        return
    if not cat.remove_subscription(segment_id, subscription_id):
        raise SegmentError(f"no subscription {subscription_id} on this segment")


# --- after a refresh ----------------------------------------------------------------------------------


def after_refresh(session: Session, cat: Catalog, run_ids: list[int]) -> None:
    """For each successful run: record who joined and left, and deliver to the subscriptions. Nothing
    here fails the refresh: a problem is a warning on its run."""
    for run_id in run_ids:
        run = cat.run_row(run_id)
        if run["status"] != SUCCESSFUL or not (run["added"] or run["removed"]):
            continue
        try:
            row = cat.segment_by_id(run["segment_id"])
            if row["members_run_id"] != run_id:
                continue  # already replaced by a later refresh
            changes = _changes_of(session, row, run_id)
            if changes is None:
                continue
            with cat.transaction() as c:
                keys = {
                    "joined": _stored(changes.joined, changes.keys),
                    "left": _stored(changes.left, changes.keys),
                }
                cat.add_member_changes(row["id"], run_id, keys, c)
            problems = deliver(session, cat, row, changes)
        except Exception as e:  # noqa: BLE001 - recorded on the run; the refresh stays successful
            problems = [
                f"membership changes not recorded: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
            ]
        if problems:
            cat.update_run(run_id, warnings=[*run["warnings"], *problems])


def _changes_of(session: Session, row: dict[str, Any], run_id: int) -> MembershipChanges | None:
    """The changes of the segment's last refresh; None for a baseline (no previous members)."""
    has_prev = row["has_prev"] if row["members_location"] == "table" else bool(row["prev_members_file"])
    if not has_prev:
        return None
    keys = list(session.model.customer_entity().keys)
    key: M.Keys = keys[0] if len(keys) == 1 else keys
    joined, left = M.changed_members(session.backend, row, key)
    return MembershipChanges(row["name"], run_id, key, joined, left)


def _stored(frame: pd.DataFrame, keys: list[str]) -> list[Any]:
    """The keys as the catalog keeps them (JSON): a value, or a list of values for a composite key."""
    if len(keys) == 1:
        return [plain_value(k) for k in frame[keys[0]]]
    return [list(r) for r in plain_rows(frame[keys])]


def deliver(session: Session, cat: Catalog, row: dict[str, Any], changes: MembershipChanges) -> list[str]:
    """Send ``changes`` to every subscription of segment ``row``; returns a warning per failed one."""
    view = _ChangesView(session, cat, row, changes)
    targets: list[tuple[int, Any, dict[str, Any]]] = []
    for sub in cat.subscription_rows(row["id"]):
        dest = ChangesWebhook() if sub["destination"] == "webhook" else sub["destination"]
        targets.append((sub["id"], dest, _with_run(sub["options"], changes.run_id, sub["destination"])))
    for sid, fn in list(_IN_KERNEL.get(cat, {}).get(row["id"], {}).items()):
        targets.append((sid, CallableDestination(fn), {}))
    problems = []
    for sid, dest, options in targets:
        try:
            # The view stands in for a Segment: destinations read its name, session, iter_members.
            log = {"subscription": sid, "changes_of_run": changes.run_id}
            send(cast(Any, view), dest, log_extra=log, **options)
        except Exception as e:  # noqa: BLE001 - recorded (Failed) in the exports record; the others go on
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            problems.append(f"membership changes not delivered to subscription {sid}: {mask_url(first)}")
    return problems


def _with_run(options: Mapping[str, Any], run_id: int, destination: str) -> dict[str, Any]:
    """``{run_id}`` in a path or table name becomes the run's id; a table is appended to by default."""
    out = {k: v.replace("{run_id}", str(run_id)) if isinstance(v, str) else v for k, v in options.items()}
    if destination == "table":
        out.setdefault("if_exists", "append")
    return out


# --- reading the record back --------------------------------------------------------------------------


def changes(
    cat: Catalog, segment_id: int, key: M.Keys, since: Any = None, *, net: bool = False
) -> pd.DataFrame:
    """Who joined and left the segment at the refreshes that finished since ``since`` (a date, a
    datetime, ISO text, or a ``timedelta`` back from now; None: all recorded): run_id, finished_at,
    change, key, oldest first. ``net=True``: one row per customer whose membership differs between the
    start and the end of the period (joined then left, or left then joined again, cancel out)."""
    start = _since(since)
    rows = cat.member_change_rows(segment_id, start)
    keys = M.key_list(key)  # a composite key is kept as a list of its values
    frame = pd.DataFrame(
        [{"run_id": r["run_id"], "finished_at": r["finished_at"], "change": r["change"],
          **dict(zip(keys, r["key"] if len(keys) > 1 else [r["key"]], strict=True))}
         for r in rows],
        columns=[*CHANGE_COLUMNS, *keys],
    )  # fmt: skip
    if not net or frame.empty:
        return frame
    first = frame.groupby(keys, sort=False).first()
    last = frame.groupby(keys, sort=False).last()
    keep = first["change"] == last["change"]
    out = last[keep].reset_index()
    return out[[*CHANGE_COLUMNS, *keys]].sort_values(["run_id", *keys], ignore_index=True)


def _since(since: Any) -> dt.datetime | None:
    if since is None:
        return None
    if isinstance(since, dt.timedelta):
        return dt.datetime.now() - since
    try:
        return as_datetime(since)
    except SegmentError:
        raise SegmentError(
            f"since must be a date, a datetime, YYYY-MM-DD text or a timedelta, not {since!r}"
        ) from None


def describe(frame: pd.DataFrame) -> str:
    """'12 joined, 3 left over 2 refreshes' for a ``changes()`` frame."""
    runs = frame["run_id"].nunique() if len(frame) else 0
    joined = int((frame["change"] == "joined").sum()) if len(frame) else 0
    return f"{joined} joined, {len(frame) - joined} left over {plural(runs, 'refresh', 'refreshes')}"
