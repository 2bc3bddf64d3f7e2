"""Debounced background work: the estimated count runs off the kernel's main thread.

``Debouncer.submit`` records the newest request and returns at once. One worker thread waits until the
requests have paused for ``delay`` seconds, then runs the newest one; a request that a newer one overtook is
dropped, and if it is already running in the database it is interrupted (DuckDB) or its result discarded.
The UI therefore never blocks on the database, and a stale count is never shown over a newer one.

``WorkerDB`` runs SQL for those workers. A DuckDB connection must not be used by two threads at once, so
each thread gets its own ``cursor()`` (a DuckDB cursor is a separate connection to the same database);
other backends already serialise access (SQLite) or hand each thread a pooled connection (SQLAlchemy).
"""

from __future__ import annotations

import atexit
import re
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..errors import SegmentError
from ..estimate import Runner

_LIVE: weakref.WeakSet[Debouncer] = weakref.WeakSet()


@atexit.register
def _stop_workers() -> None:
    # A worker killed inside a DuckDB call at interpreter shutdown aborts the process; stop them first.
    for d in list(_LIVE):
        d.close(join=2.0)


class Debouncer:
    """Run ``fn(*args)`` for the newest ``submit(*args)`` after ``delay`` seconds of quiet, on a worker thread.

    ``on_start()`` is called (on the caller's thread) at each submit so the UI can show "counting";
    ``on_result(value)`` / ``on_error(exc)`` are called on the worker thread, only for the newest request.
    ``cancel()`` is called when a running request is superseded (for example to interrupt a query).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        *,
        delay: float = 0.4,
        on_start: Callable[[], None] | None = None,
        cancel: Callable[[], None] | None = None,
    ) -> None:
        self.fn, self.on_result, self.on_error = fn, on_result, on_error
        self.on_start, self.cancel = on_start, cancel
        self.delay = delay
        self._cond = threading.Condition()
        self._generation = 0  # id of the newest request
        self._pending: tuple[int, tuple[Any, ...], float] | None = None  # (generation, args, due time)
        self._running: int | None = None  # generation currently executing
        self._closed = False
        self._thread: threading.Thread | None = None
        self.completed = 0  # requests whose result was delivered (tests wait on this)
        self.superseded = 0  # requests dropped because a newer one came
        _LIVE.add(self)

    def submit(self, *args: Any) -> int:
        """Queue a request; returns its generation number."""
        if self.on_start is not None:
            self.on_start()
        with self._cond:
            self._generation += 1
            if self._pending is not None:
                self.superseded += 1
            self._pending = (self._generation, args, time.monotonic() + self.delay)
            running = self._running
            self._ensure_thread()
            self._cond.notify_all()
            gen = self._generation
        if running is not None and self.cancel is not None:
            try:
                self.cancel()
            except Exception:  # noqa: BLE001 - a failed interrupt only means the old result is discarded later
                pass
        return gen

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="jupyter-segments-debounce", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._pending is None:
                    self._cond.wait()
                if self._closed:
                    return
                gen, args, due = self._pending  # type: ignore[misc]
                wait = due - time.monotonic()
                if wait > 0:  # not quiet long enough yet: sleep, then look again (a newer request resets due)
                    self._cond.wait(wait)
                    continue
                self._pending = None
                self._running = gen
            try:
                result, error = self.fn(*args), None
            except BaseException as exc:  # noqa: BLE001 - handed to on_error below
                result, error = None, exc
            with self._cond:
                current = gen == self._generation
                if not current:
                    self.superseded += 1
            stop = False
            try:
                if current:
                    if error is None:
                        self.on_result(result)
                    else:
                        self.on_error(error)
            finally:
                with self._cond:
                    self._running = None
                    if current:
                        self.completed += 1
                    self._cond.notify_all()
                    stop = self._closed
            if stop:
                return

    def cancel_current(self) -> bool:
        """Drop the pending request and stop the running one (its result is never delivered).
        Returns False when there was nothing to cancel."""
        with self._cond:
            running = self._running
            if self._pending is None and running is None:
                return False
            if self._pending is not None:
                self.superseded += 1
            self._pending = None
            self._generation += 1  # whatever is running is no longer the newest request
            self._cond.notify_all()
        if running is not None and self.cancel is not None:
            try:
                self.cancel()
            except Exception:  # noqa: BLE001 - a failed interrupt only means the result is dropped
                pass
        return True

    def still_current(self) -> bool:
        """On the worker thread, inside ``fn``: whether the request being run is still the newest (an
        intermediate result, such as the builder's estimate, is shown only then)."""
        with self._cond:
            return self._running is not None and self._running == self._generation and self._pending is None

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._pending is not None or self._running is not None

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until no request is pending or running (for tests and scripts). False on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._running is not None:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, join: float = 0.0) -> None:
        """Stop the worker (a running request finishes; its result is dropped)."""
        with self._cond:
            self._closed = True
            self._pending = None
            self._generation += 1
            self._cond.notify_all()
        if self.cancel is not None and self._running is not None:
            try:
                self.cancel()
            except Exception:  # noqa: BLE001 - best effort
                pass
        thread = self._thread
        if join and thread is not None and thread is not threading.current_thread():
            thread.join(join)


class Ticker:
    """Call ``fn()`` every ``interval`` seconds on a thread of its own between ``start()`` and ``stop()``
    (the builder's elapsed time while it counts)."""

    def __init__(self, fn: Callable[[], None], interval: float = 0.5) -> None:
        self.fn, self.interval = fn, interval
        self._stop: threading.Event | None = None

    def start(self) -> None:
        self.stop()
        stop = self._stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.interval):
                try:
                    self.fn()
                except Exception:  # noqa: BLE001 - a display update that failed is skipped, not fatal
                    pass

        threading.Thread(target=loop, name="jupyter-segments-ticker", daemon=True).start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None


def _message_lines(error: Exception) -> list[str]:
    """The database's own message (the driver's, under SQLAlchemy's wrapper), line by line."""
    return str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__]


class WorkerDB:
    """Run a workspace's SQL from worker threads without sharing a DuckDB connection across threads."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._local = threading.local()
        self._active: Any = None  # the cursor running right now, to interrupt it
        self._running: tuple[int, Callable[[], None]] | None = None  # (query number, its interrupt)
        self._queries = 0
        self._canceled = 0  # the number of the last query cancel() was called for

    def _duckdb_cursor(self) -> Any | None:
        conn = getattr(self.ws.backend, "connection", None)
        if conn is None or type(conn).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
            return None
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = conn.cursor()
            self._local.cursor = cur
        return cur

    def _sqlite_connection(self) -> Any | None:
        conn = getattr(self.ws.backend, "connection", None)
        return conn if type(conn).__module__ == "sqlite3" else None

    def frame(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` (complete text from sqlglot) and return the result as a DataFrame."""
        cur = self._duckdb_cursor()
        self._queries += 1
        number = self._queries
        try:
            cancellable = getattr(self.ws.backend, "query_cancellable", None)
            if cur is None and cancellable is not None:
                return self._cancellable_frame(cancellable, sql, number)
            if cur is None:
                # SQLite's interrupt() is safe from any thread and stops the statement running on
                # the connection: widget clicks reach the kernel only when no cell runs, so that is ours.
                sqlite = self._sqlite_connection()
                self._running = (number, sqlite.interrupt) if sqlite is not None else None
                try:
                    return self.ws.backend.query(sql)
                finally:
                    self._running = None
            self._active = cur
            self._running = (number, cur.interrupt)
            try:
                return cur.execute(sql).df()
            finally:
                self._active = None
                self._running = None
        except SegmentError:
            raise
        except Exception as e:  # noqa: BLE001 - database errors are shown with the database's message
            lines = _message_lines(e)
            if self._canceled == number:
                # The database's own words for it ("Interrupted!", "Query execution was interrupted",
                # Spark's SPARK_JOB_CANCELLED, not py4j's "An error occurred while calling ...").
                said = next((x.strip() for x in lines if re.search("cancel|interrupt", x, re.I)), lines[0])
                raise SegmentError(f"the query was canceled: {said}") from e
            raise SegmentError(f"the database rejected the query: {lines[0]}") from e

    def _cancellable_frame(self, run: Callable[..., pd.DataFrame], sql: str, number: int) -> pd.DataFrame:
        """The backend runs the statement and hands over, before it starts, what stops exactly that
        statement from another thread (PostgreSQL: a cancel request; MySQL/MariaDB: KILL QUERY of its
        connection; Spark: its jobs' tag interrupted)."""

        def started(stop: Callable[[], None]) -> None:
            self._running = (number, stop)

        try:
            return run(sql, started)
        finally:
            self._running = None

    def execute(self, sql: str) -> None:
        """Run a statement that returns no rows (the estimates' sample tables) on this thread's
        connection. Not interrupted by ``cancel``: the sample is made once, even if an edit comes."""
        cur = self._duckdb_cursor()
        try:
            if cur is not None:
                cur.execute(sql)
            else:
                self.ws.backend.execute(sql)
        except SegmentError:
            raise
        except Exception as e:  # noqa: BLE001 - database errors are shown with the database's message
            raise SegmentError(f"the database rejected the statement: {_message_lines(e)[0]}") from e

    def runner(self) -> Runner:
        """This worker's way to the database, for ``Estimator.estimate(..., run=)``."""
        return Runner(scalar=self.scalar, execute=self.execute, frame=self.frame)

    def scalar(self, sql: str) -> Any:
        df = self.frame(sql)
        return None if df.empty else df.iat[0, 0]

    def count(self, definition: Any) -> int:
        """The member count of a definition (text or tree), counted by the database on this thread."""
        sql = self.ws.query(definition, shape="count").sql(dialect=self.ws.dialect, copy=False)
        value = self.scalar(sql)
        return 0 if value is None or value != value else int(value)

    def interrupt(self) -> None:
        cur = self._active
        if cur is not None:
            cur.interrupt()

    def cancel(self, patience: float = 30.0) -> None:
        """Stop the running query for real (DuckDB, SQLite, PostgreSQL, MySQL/MariaDB, Spark). An
        interrupt that reaches the database just before the query starts is lost, so a short-lived
        thread repeats it until that query has ended. Other SQLAlchemy databases have no cross-thread
        cancel here: their query finishes and its result is dropped."""
        running = self._running
        if running is None:
            return
        number, interrupt = running
        self._canceled = number

        def repeat() -> None:
            end = time.monotonic() + patience
            while time.monotonic() < end:
                current = self._running
                if current is None or current[0] != number:
                    return
                try:
                    interrupt()
                except Exception:  # noqa: BLE001 - the query ended between the check and the call
                    return
                time.sleep(0.05)

        threading.Thread(target=repeat, name="jupyter-segments-cancel", daemon=True).start()
