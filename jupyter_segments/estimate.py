"""Instant estimates: a definition counted on a fixed random sample of customers, with a 95% interval.

At millions of customers an exact count takes seconds; the builder shows an estimate first. The
sample is made once per session, lazily (on the first estimate), on the session's own connection:

- a simple random sample of ``size`` customers (non-NULL keys; NULL keys are never members) with a
  fixed seed: DuckDB's ``reservoir`` sample, elsewhere keys drawn in Python;
- the rows of the related tables reached from the customers through to-many steps (orders, their
  order lines, support calls, ...), each kept by a semi-join on its parent's sample: a table of
  100M order lines becomes ~30 rows per sampled customer.

The estimate compiles the definition as ``Session.count`` does and points the tables of that tree
at their samples (other tables, such as products or regions reached by to-one steps, stay as they
are). ``k`` members among ``n`` sampled of ``N`` customers give ``N·k/n`` with a Wilson score interval
on ``k/n`` with the finite population correction, scaled to ``N``; never below ``k`` and never above
``N - (n - k)``, which the sample itself proves. With ``N <= size`` the count is simply exact.

Where the sample tables live: DuckDB, an in-memory database ATTACHed to the connection (visible to
its cursors, allowed on a read-only file); SQLite, TEMP tables. Other databases (PostgreSQL,
MariaDB, Spark: pooled or remote connections, where a temp table would be seen by one connection
only) get exact counts, with ``Estimator.unavailable`` saying why.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlglot import exp

from .backends.base import bare_name
from .compile import dialects as D
from .errors import SegmentError
from .model import Relationship
from .session import AsOf, Definition, Session

SAMPLE_SIZE = 10_000
SEED = 20_261_202
Z95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval


@dataclass(frozen=True)
class Estimate:
    """A member count from the sample: ``value`` with its 95% interval ``low``..``high``.

    ``members_in_sample`` of ``sample_size`` sampled customers are members; ``population`` is every
    customer with a key. ``exact``: the count is exact (the sample was the whole table, or the
    database has no sample tables: ``note`` says why)."""

    value: int
    low: int
    high: int
    sample_size: int
    members_in_sample: int
    population: int
    exact: bool
    seconds: float = 0.0
    note: str = ""

    def text(self) -> str:
        """'≈ 12,300 (12,100–12,500)', or the exact number."""
        if self.exact:
            return f"{self.value:,}"
        return f"≈ {_round3(self.value):,} ({_round3(self.low, 'down'):,}–{_round3(self.high, 'up'):,})"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        how = "exact" if self.exact else f"95% interval {self.low:,}-{self.high:,}"
        return (
            f"<Estimate {self.value:,} ({how}; {self.members_in_sample:,} of {self.sample_size:,} sampled "
            f"customers, of {self.population:,})>"
        )


def _round3(n: int, way: str = "near") -> int:
    """``n`` to three significant digits (rounded down for a lower bound, up for an upper one)."""
    if n < 1000:
        return n
    step = 10 ** (len(str(n)) - 3)
    if way == "down":
        return n // step * step
    if way == "up":
        return -(-n // step) * step
    return round(n / step) * step


def interval(k: int, n: int, population: int, z: float = Z95) -> tuple[int, int, int]:
    """(value, low, high) for ``k`` members among ``n`` customers drawn without replacement from
    ``population``: ``N·k/n`` and the Wilson score interval on ``k/n``, its variance multiplied by the
    finite population correction (N-n)/(N-1), scaled to N and rounded outwards; clamped to what the
    sample proves (at least ``k`` members, at most ``N - (n - k)``)."""
    N = population
    if n <= 0:
        return 0, 0, N
    if n >= N:
        return k, k, k
    p = k / n
    z2 = z * z * (N - n) / (N - 1)
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = math.sqrt(z2) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = max(k, math.floor(N * max(0.0, center - half)))
    high = min(N - (n - k), math.ceil(N * min(1.0, center + half)))
    return round(N * p), low, high


@dataclass
class Sample:
    """The sample tables of one session: model table -> its sample (a sqlglot table)."""

    tables: dict[str, exp.Table]
    size: int
    population: int
    seconds: float  # time to build it
    seed: int
    rows: dict[str, int] = field(default_factory=dict)  # rows of each sample table

    @property
    def exact(self) -> bool:
        return self.size >= self.population


@dataclass
class Runner:
    """How the estimator reaches the database: the session's backend, or a widget's worker thread."""

    scalar: Callable[[str], Any]
    execute: Callable[[str], None]
    frame: Callable[[str], pd.DataFrame]


class Estimator:
    """Estimates for one session (``Workspace.estimate``, the builder), over a sample made on first use."""

    def __init__(self, session: Session, *, size: int = SAMPLE_SIZE, seed: int = SEED) -> None:
        if size < 1:
            raise SegmentError(f"the sample size must be a positive number of customers, not {size}")
        self.session, self.size, self.seed = session, size, seed
        self._sample: Sample | None = None
        self._key: tuple[Any, ...] | None = None  # the model the sample was made for
        self._lock = threading.Lock()
        self.unavailable: str | None = None  # why there are no estimates, once known
        self._preparing: threading.Thread | None = None
        self._name = f"_js_sample_{uuid.uuid4().hex[:8]}"

    # -- running ------------------------------------------------------------------------------------
    def runner(self) -> Runner:
        s = self.session
        return Runner(
            scalar=lambda sql: s.run(lambda: s.backend.scalar(sql), sql),
            execute=lambda sql: s.run(lambda: s.backend.execute(sql), sql),
            frame=s.fetch,
        )

    def supported(self) -> str | None:
        """None if this database can keep sample tables, else why not."""
        if self.session.dialect not in ("duckdb", "sqlite"):
            return (
                f"estimates need sample tables on the connection; on {self.session.dialect} "
                "only exact counts are shown"
            )
        return None

    def sample(self, run: Runner | None = None) -> Sample | None:
        """The sample (made now if there is none for the current model), or None where the database
        cannot keep one (``unavailable`` says why)."""
        key = self._model_key()
        with self._lock:
            if self._sample is not None and self._key == key:
                return self._sample
            reason = self.supported()
            if reason is None and not self.sampled_tables()[0]:
                reason = self.unavailable
            if reason is not None:
                self.unavailable = reason
                return None
            try:
                self._sample = self._build(run or self.runner())
            except SegmentError as e:
                # A database that refuses to create the tables (read-only, no temp space): exact counts.
                self.unavailable = f"could not make the sample tables: {str(e).splitlines()[0]}"
                return None
            self._key, self.unavailable = key, None
            return self._sample

    def _model_key(self) -> tuple[Any, ...]:
        model = self.session.model
        rels = model.relationships()
        return (
            model.customer,
            model.customer_keys,
            tuple(sorted((r.child, r.parent, r.child_columns, r.parent_columns) for r in rels)),
        )

    def ready(self) -> bool:
        """Whether the sample for the current model is made (an estimate is then one small query)."""
        return self._sample is not None and self._key == self._model_key()

    def prepare(self, make_runner: Callable[[], Runner] | None = None) -> None:
        """Make the sample on a thread of its own (once at a time), with a runner made on that thread
        (``make_runner``: a widget's worker connection); meanwhile counts go on exactly."""
        if self._preparing is not None and self._preparing.is_alive():
            return

        def build() -> None:
            try:
                self.sample(make_runner() if make_runner is not None else None)
            except Exception:  # noqa: BLE001 - no sample: counts stay exact, ``unavailable`` may say why
                pass

        self._preparing = threading.Thread(target=build, name="jupyter-segments-sample", daemon=True)
        self._preparing.start()

    def estimate(
        self,
        definition: Definition,
        *,
        params: Mapping[str, Any] | None = None,
        as_of: AsOf = None,
        run: Runner | None = None,
    ) -> Estimate:
        """The estimate of ``definition``'s member count (exact where there is no sample)."""
        run = run or self.runner()
        query = self.session.query(definition, shape="count", as_of=as_of, params=params)
        t0 = time.perf_counter()
        sample = self.sample(run)
        if sample is None or sample.exact:
            n = _int(run.scalar(query.sql(dialect=self.session.dialect, copy=False)))
            population = sample.population if sample is not None else n
            return Estimate(
                n, n, n, population, n, population, True, time.perf_counter() - t0, self.unavailable or ""
            )
        t0 = time.perf_counter()
        k = _int(run.scalar(self.sample_sql(query, sample)))
        value, low, high = interval(k, sample.size, sample.population)
        return Estimate(value, low, high, sample.size, k, sample.population, False, time.perf_counter() - t0)

    def sample_sql(self, query: exp.Select, sample: Sample) -> str:
        """``query`` (a compiled definition) with the sampled tables replaced by their samples."""
        wanted = {_parts(D.table(name, "x")): table for name, table in sample.tables.items()}

        def swap(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Table) and _parts(node) in wanted:
                new = wanted[_parts(node)].copy()
                if node.args.get("alias") is not None:
                    new.set("alias", node.args["alias"].copy())
                return new
            return node

        return query.transform(swap, copy=False).sql(dialect=self.session.dialect)

    def sample_keys(self) -> pd.DataFrame:
        """The sampled customers' keys (for checks and tests)."""
        sample = self.sample()
        if sample is None:
            raise SegmentError(self.unavailable or "no sample")
        keys = self.session.model.customer_entity().keys
        cols = ", ".join(D.identifier(k).sql(dialect=self.session.dialect) for k in keys)
        table = sample.tables[self.session.model.customer_entity().name]
        return self.session.fetch(f"SELECT {cols} FROM {table.sql(dialect=self.session.dialect)}")

    # -- building -----------------------------------------------------------------------------------
    def sampled_tables(self) -> tuple[list[str], dict[str, Relationship]]:
        """The customer table and the tables below it (to-many steps), in build order, each with the
        relationship its sample is made through. A table linked to the sampled ones more than once
        (two foreign keys, a link back up) is left whole, with what hangs below it. If such a link
        points at the customer table itself (a referrer), a to-one step could reach customers outside
        the sample: there is no sample then ([], with ``unavailable`` saying why)."""
        model = self.session.model
        customer = model.customer_entity().name
        rels = model.relationships()
        order, via = [customer], {}
        changed = True
        while changed:
            changed = False
            for r in rels:
                if r.parent in order and r.child not in order and r.child != customer:
                    into = [x for x in rels if x.child == r.child and x.parent in order]
                    if len(into) == 1:
                        order.append(r.child)
                        via[r.child] = r
                        changed = True
        # Every link into a sampled table must be its own sampling link: otherwise a join through it
        # could miss rows that the sample left out. Drop the parent of a stray link (and its subtree).
        while True:
            stray = [r for r in rels if r.parent in order and via.get(r.child) is not r]
            if not stray:
                return order, via
            drop = {stray[0].parent}
            if customer in drop:
                self.unavailable = (
                    f"{stray[0].describe()} leads back to the customers: estimates would miss customers "
                    "outside the sample, so counts are exact"
                )
                return [], {}
            grew = True
            while grew:
                grew = False
                for child, r in via.items():
                    if r.parent in drop and child not in drop:
                        drop.add(child)
                        grew = True
            order = [t for t in order if t not in drop]
            via = {c: r for c, r in via.items() if c not in drop}

    def _build(self, run: Runner) -> Sample:
        t0 = time.perf_counter()
        session, dialect = self.session, self.session.dialect
        customer = session.model.customer_entity()
        keys = customer.keys
        order, via = self.sampled_tables()
        targets = {name: self._target(i, name) for i, name in enumerate(order)}

        def q(name: str) -> str:
            return D.identifier(name).sql(dialect=dialect)

        def src(name: str) -> str:
            return D.table(name, "x").sql(dialect=dialect)

        def dst(name: str) -> str:
            return targets[name].sql(dialect=dialect)

        create = "CREATE TEMP TABLE" if dialect == "sqlite" else "CREATE OR REPLACE TABLE"
        if dialect == "sqlite":
            for name in order:
                run.execute(f"DROP TABLE IF EXISTS {dst(name)}")
        else:
            run.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {self._name} (READ_ONLY false)")
        not_null = " AND ".join(f"x.{q(k)} IS NOT NULL" for k in keys)
        population = _int(run.scalar(f"SELECT COUNT(*) FROM {src(customer.name)} WHERE {not_null}"))
        size = min(self.size, population)
        if dialect == "duckdb":
            run.execute(
                f"{create} {dst(customer.name)} AS SELECT * FROM "
                f"(SELECT x.* FROM {src(customer.name)} WHERE {not_null}) "
                f"USING SAMPLE reservoir({size} ROWS) REPEATABLE ({self.seed})"
            )
        else:
            cols = ", ".join(f"x.{q(k)}" for k in keys)
            found = run.frame(f"SELECT {cols} FROM {src(customer.name)} WHERE {not_null} ORDER BY {cols}")
            chosen = sorted(random.Random(self.seed).sample(range(len(found)), size))
            picked = found.iloc[chosen]
            keys_table = f"_js_sample_keys_{self._name[-8:]}"
            run.execute(f"DROP TABLE IF EXISTS {q(keys_table)}")
            run.execute(f"CREATE TEMP TABLE {q(keys_table)} ({', '.join(q(k) for k in keys)})")
            chosen_keys = [tuple(_plain(v) for v in row) for row in picked.itertuples(index=False)]
            for start in range(0, len(chosen_keys), 500):
                values = ", ".join(
                    "(" + ", ".join(exp.convert(v).sql(dialect=dialect) for v in row) + ")"
                    for row in chosen_keys[start : start + 500]
                )
                run.execute(f"INSERT INTO {q(keys_table)} VALUES {values}")
            match = " AND ".join(f"s.{q(k)} = x.{q(k)}" for k in keys)
            run.execute(
                f"{create} {dst(customer.name)} AS SELECT x.* FROM {src(customer.name)} "
                f"WHERE EXISTS (SELECT 1 FROM {q(keys_table)} s WHERE {match})"
            )
            run.execute(f"DROP TABLE {q(keys_table)}")
        for name in order[1:]:
            r = via[name]
            parent = dst(r.parent)
            if len(r.child_columns) == 1:
                cond = f"x.{q(r.child_columns[0])} IN (SELECT p.{q(r.parent_columns[0])} FROM {parent} p)"
            else:
                match = " AND ".join(
                    f"p.{q(pc)} = x.{q(cc)}" for cc, pc in zip(r.child_columns, r.parent_columns, strict=True)
                )
                cond = f"EXISTS (SELECT 1 FROM {parent} p WHERE {match})"
            run.execute(f"{create} {dst(name)} AS SELECT x.* FROM {src(name)} WHERE {cond}")
            if dialect == "sqlite":  # the next level's semi-join looks rows up by this table's key
                below = [x for x in via.values() if x.parent == name]
                for j, b in enumerate(below):
                    index = q(f"{targets[name].name}_{j}")
                    table = q(targets[name].name)
                    run.execute(
                        f"CREATE INDEX temp.{index} ON {table} ({', '.join(map(q, b.parent_columns))})"
                    )
        rows = {name: _int(run.scalar(f"SELECT COUNT(*) FROM {dst(name)}")) for name in order}
        return Sample(targets, size, population, time.perf_counter() - t0, self.seed, rows)

    def _target(self, i: int, name: str) -> exp.Table:
        table = f"_js_s{i}_{bare_name(name)}"
        if self.session.dialect == "sqlite":
            return exp.Table(this=D.identifier(f"{self._name}_{table}"), db=D.identifier("temp"))
        return exp.Table(this=D.identifier(table), db=D.identifier("main"), catalog=D.identifier(self._name))

    def drop(self) -> None:
        """Forget the sample (its tables are dropped; the next estimate makes a new one)."""
        with self._lock:
            sample, self._sample, self._key = self._sample, None, None
            if sample is None:
                return
            run = self.runner()
            if self.session.dialect == "duckdb":
                run.execute(f"DETACH DATABASE IF EXISTS {self._name}")
            else:
                for table in sample.tables.values():
                    run.execute(f"DROP TABLE IF EXISTS {table.sql(dialect=self.session.dialect)}")


def _parts(t: exp.Table) -> tuple[str, str, str]:
    return (t.name, t.args["db"].name if t.args.get("db") else "", t.text("catalog"))


def _int(value: Any) -> int:
    return 0 if value is None or value != value else int(value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
