"""Scheduled refresh: a cron expression evaluated by a background thread while the kernel lives.

Each tick first carries out scheduled activations/deactivations whose time has passed, then refreshes
the segments (trigger "schedule": inactive segments are recorded as Skipped). ``stop()`` ends the
thread; a refresh in progress stops between segments and the rest are recorded as Canceled.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from .catalog import members as M
from .catalog.store import Catalog
from .errors import SegmentError
from .refresh import Run, refresh
from .session import Session


def check_cron(cron: Any) -> None:
    """``SegmentError`` unless ``cron`` is a cron expression (5 fields, or 6 with seconds last)."""
    from croniter import croniter  # late: only schedules need it (keeps `import jupyter_segments` light)

    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise SegmentError(
            f"'{cron}' is not a cron expression",
            hint="five fields: minute hour day-of-month month day-of-week, e.g. '0 * * * *' (hourly)",
        )


class Scheduler:
    """Refresh on a cron schedule (5 fields, or 6 with seconds last) in a daemon thread.

    >>> sched = ws.schedule("0 * * * *")      # every hour, on the hour
    >>> sched.next_run; sched.last_runs; sched.stop()
    """

    def __init__(
        self,
        session: Session,
        catalog: Catalog,
        cron: str,
        *,
        names: list[str] | None = None,
        storage: M.Storage | None = None,
        shared: bool = True,
        on_runs: Callable[[list[Run]], Any] | None = None,
    ) -> None:
        check_cron(cron)
        self.session = session
        self.catalog = catalog
        self.storage = storage
        self.cron = cron
        self.names = names
        self.shared = shared
        self.on_runs = on_runs
        self.last_runs: list[Run] = []
        self.ticks = 0
        self.errors: list[str] = []  # a tick that raised (e.g. the database was unreachable)
        self.next_run: dt.datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Scheduler '{self.cron}' {state}, next run {self.next_run}, {self.ticks} ticks>"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Scheduler:
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"js-schedule[{self.cron}]", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the schedule; a refresh in progress ends after its current segment."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def tick(self) -> list[Run]:
        """One scheduled refresh now (what the thread does at each cron time)."""
        with self._lock:
            runs = refresh(
                self.session,
                self.catalog,
                self.names,
                storage=self.storage,
                shared=self.shared,
                trigger="schedule",
                skip_inactive=True,
                cancel=self._stop,
            )
            self.last_runs = runs
            self.ticks += 1
        if self.on_runs is not None:
            self.on_runs(runs)
        return runs

    def _loop(self) -> None:
        from croniter import croniter  # late: see check_cron

        it = croniter(self.cron, dt.datetime.now())
        while not self._stop.is_set():
            when = it.get_next(dt.datetime)
            self.next_run = when
            delay = (when - dt.datetime.now()).total_seconds()
            if delay > 0 and self._stop.wait(delay):
                break
            try:
                self.tick()
            except Exception as e:  # noqa: BLE001 - keep the schedule alive; the error is kept for the user
                self.errors.append(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S}: {type(e).__name__}: {e}")
            # A tick longer than the interval: skip the times already past rather than run back to back.
            it = croniter(self.cron, dt.datetime.now())
