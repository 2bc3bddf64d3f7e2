"""The engine: one connection, one model; definitions parsed, compiled, counted and fetched.

A ``Session`` is what refresh, export, schedule and intelligence work with. It knows nothing of the
catalog: the texts of saved segments (``in segment vip``) and the saved measures come in through two
hooks, ``segment_source(name) -> text`` and ``measure_source() -> {name: expression}``, which the
``Workspace`` wires to its catalog.

>>> session = Session(open_backend("duckdb:///shop.duckdb"))
>>> session.model.set_customer("customers", "customer_id")
>>> session.count("sum(orders.amount) >= 1000")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from .backends.base import Backend, low_memory, mask_url
from .bind import bind, typed
from .bind.checks import CheckWarning, warnings
from .compile import Shape, build_query, orphan_count_sql
from .compile import dialects as D
from .compile.compiler import Options
from .dsl import ast as A
from .dsl import bind_params, parse
from .dsl.params import has_params
from .errors import SegmentError
from .model import Model, columns_text

Definition = str | A.Definition
AsOf = dt.date | dt.datetime | str | None


class Session:
    """One connection to the user's database and the model of its customer data.

    ``segment_source`` returns the definition text of a saved segment (``KeyError`` with a did-you-mean
    suffix when there is none); ``measure_source`` returns the saved measures. Both are optional: without
    them ``in segment x`` is an unknown segment and only the model's own measures exist.
    """

    # Previews (members with a limit) go by ranges of customer keys: None = on DuckDB when the query
    # joins other tables. DuckDB carries a range on the customer key through the join into the scans of
    # related tables; PostgreSQL, MySQL and SQLite would compute each aggregate in full for every range.
    preview_by_key_range: bool | None = None
    first_key_range: int = 10_000  # customers in a preview's first range; each next range ends 10x further

    def __init__(
        self,
        backend: Backend,
        *,
        segment_source: Callable[[str], str | typed.StoredKeys] | None = None,
        measure_source: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.backend = backend
        self.model = Model(backend)
        self.segment_source = segment_source
        self.model.measure_source = measure_source

    def __repr__(self) -> str:
        customer = f", customers={self.model.customer}" if self.model.customer else ""
        return f"<Session {self.backend.display_url} ({self.dialect}){customer}>"

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of the connected database."""
        return self.backend.dialect

    def _segment_source(self, name: str) -> str | typed.StoredKeys:
        """The text of saved segment ``name``, as the compiler asks for it (``KeyError`` if unknown)."""
        if self.segment_source is None:
            raise KeyError(" (no catalog is attached)")
        return self.segment_source(name)

    # --- model ------------------------------------------------------------------------------------
    def refresh_model(self) -> None:
        """Re-read tables, columns and foreign keys from the database (the customer entity stays)."""
        customer, keys = self.model.customer, self.model.customer_keys
        self.model.invalidate()
        if customer and keys:
            self.model.set_customer(customer, keys)

    def check_integrity(self, *, all_relationships: bool = False) -> pd.DataFrame:
        """The keys and links the model relies on, one row each: the customer key, then every
        relationship. ``duplicates``: key values (tuples) that appear more than once, ``null_keys``: rows
        whose key has a NULL (the customer key's, then each relationship's parent key: one GROUP BY each,
        remembered); ``orphans``: child rows whose non-NULL value has no parent row, counted for the
        relationships with ``assume_integrity`` (or all), else NA. ``ok``: no duplicates, no orphans,
        and no NULL customer key."""
        model = self.model
        rows = []
        if model.customer is not None:
            check = model.duplicates(model.customer, model.customer_keys)
            rows.append(
                {
                    "check": "customer key",
                    "relationship": columns_text(model.customer, model.customer_keys),
                    "orphans": pd.NA,
                    "duplicates": check.repeated,
                    "null_keys": check.nulls,
                    "ok": check.repeated == 0 and check.nulls == 0,
                }
            )
        for rel in model.relationships():
            orphans: Any = pd.NA
            if rel.assume_integrity or all_relationships:
                sql = orphan_count_sql(rel, self.dialect)
                orphans = int(self.run(lambda sql=sql: self.backend.scalar(sql), sql))
            check = model.duplicates(rel.parent, rel.parent_columns)
            rows.append(
                {
                    "check": "relationship",
                    "relationship": rel.describe(),
                    "orphans": orphans,
                    "duplicates": check.repeated,
                    "null_keys": check.nulls,
                    "ok": check.repeated == 0 and (orphans is pd.NA or orphans == 0),
                }
            )
        columns = ["check", "relationship", "orphans", "duplicates", "null_keys", "ok"]
        return pd.DataFrame(rows, columns=columns).astype({"orphans": "Int64"})

    # --- definitions ------------------------------------------------------------------------------
    def parse(self, definition: Definition, params: Mapping[str, Any] | None = None) -> A.Definition:
        """Parse DSL text (or pass a tree through), binding ``{name}`` placeholders from ``params``."""
        tree = parse(definition) if isinstance(definition, str) else definition
        # A placeholder needs a "{": skip walking the tree for the common text without one.
        maybe_params = "{" in definition if isinstance(definition, str) else True
        if params is not None or (maybe_params and has_params(tree)):
            tree = bind_params(tree, params or {})
        return tree

    def bind(self, definition: Definition, params: Mapping[str, Any] | None = None) -> typed.Definition:
        """The typed tree of a definition: parsed, ``{name}`` placeholders bound, every name resolved
        against the model (``SegmentError`` with line, column and caret otherwise). Runs no segment SQL."""
        with _too_deep(definition):
            return bind(self.model, self.parse(definition, params), self._segment_source)

    def query(
        self,
        definition: Definition,
        *,
        shape: Shape = "keys",
        dialect: str | None = None,
        as_of: AsOf = None,
        relative: bool = False,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> exp.Select:
        """The sqlglot query for a definition (``shape``: keys, members or count)."""
        options = Options(
            dialect=dialect or self.dialect,
            as_of=None if relative else as_datetime(as_of),
            whole_day=is_whole_day(as_of),
        )
        with _too_deep(definition):
            return build_query(self.model, self.bind(definition, params), options, shape, limit)

    def compile(
        self,
        definition: Definition,
        dialect: str | None = None,
        *,
        as_of: AsOf = None,
        shape: Shape = "keys",
        pretty: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """SQL text of a definition in ``dialect``; without ``as_of`` relative windows use the database's
        current date (the SQL can be scheduled as it is)."""
        target = dialect or self.dialect
        q = self.query(
            definition, shape=shape, dialect=target, as_of=as_of, relative=as_of is None, params=params
        )
        with _too_deep(definition):
            return q.sql(dialect=target, pretty=pretty, copy=False)  # a fresh tree: no need to copy it

    def check(self, definition: Definition, params: Mapping[str, Any] | None = None) -> list[CheckWarning]:
        """Raise ``SegmentError`` if the definition does not parse or type-check; otherwise the static
        checks' warnings (legal but almost certainly wrong: contradictions, always-true tests, ...)."""
        return warnings(self.bind(definition, params))

    def _sql(self, definition: Definition, shape: Shape, as_of: AsOf, limit: int | None, params) -> str:
        q = self.query(definition, shape=shape, as_of=as_of, limit=limit, params=params)
        with _too_deep(definition):
            return q.sql(dialect=self.dialect, copy=False)

    # --- running ----------------------------------------------------------------------------------
    def count(
        self, definition: Definition, *, as_of: AsOf = None, params: Mapping[str, Any] | None = None
    ) -> int:
        """Number of members, counted by the database."""
        sql = self._sql(definition, "count", as_of, None, params)
        return int(self.run(lambda: self.backend.scalar(sql), sql) or 0)

    def customer_count(self) -> int:
        """Rows of the customer table: one ``COUNT(*)``, run each time (nothing kept that could go stale)."""
        customer = self.model.customer_entity()
        q = exp.select(exp.Count(this=exp.Star())).from_(D.table(customer.name, "c"))
        sql = q.sql(dialect=self.dialect)
        return int(self.run(lambda: self.backend.scalar(sql), sql) or 0)

    def members(
        self,
        definition: Definition,
        *,
        limit: int | None = None,
        as_of: AsOf = None,
        params: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Members as a DataFrame (customer columns plus PROJECT columns): the first ``limit`` by key,
        or all of them, fetched in chunks."""
        if limit is not None:
            query = self.query(definition, shape="members", as_of=as_of, limit=limit, params=params)
            return self._first_members(query, limit)
        chunks = list(self.iter_members(definition, as_of=as_of, params=params))
        return (
            pd.concat(chunks, ignore_index=True) if chunks else self.members(definition, limit=0, as_of=as_of)
        )

    def _first_members(self, query: exp.Select, limit: int) -> pd.DataFrame:
        """The rows of ``query`` (members shape: ORDER BY key LIMIT ``limit``), by ranges of keys.

        A segment over aggregates computes them for every customer before its first row comes back (at
        10M customers a hash table of 10M groups: 950 MB for ``sum(orders.amount) >= 1000``). Instead
        the query runs for the first 10k customers by key, then the next 90k, 900k, ... until ``limit``
        members are found, with the range on the outer query's key: DuckDB derives it for the joined
        aggregates' scans, so they stay small (24 MB, 5 s -> 0.08 s). The ranges follow the result's
        order, so the rows are exactly those of ``query`` alone.
        """
        by_range = self.preview_by_key_range
        if by_range is None:
            by_range = self.dialect == "duckdb" and query.find(exp.Join) is not None
        if not by_range or limit <= 0 or len(self.model.customer_keys) > 1:  # (ranges of one key column)
            return self._query(query)
        found, lower, end = 0, None, self.first_key_range
        while True:
            upper = self._nth_key(end)  # None past the last customer
            if lower is None and not isinstance(upper, int | str):
                return self._query(query)  # fewer customers than one range, or keys neither integer nor text
            part = self._query(self._in_key_range(query, lower, upper))
            if lower is None and len(part) == limit:
                return part  # the first range had them all (the common case)
            found += len(part)
            if found >= limit or upper is None:
                # One query over every range read: a frame typed as one result (DuckDB types a column of
                # only NULLs as object, so the frames of the ranges would not concatenate to the same).
                return self._query(self._in_key_range(query, None, upper))
            lower, end = upper, end * 10

    def _nth_key(self, n: int) -> Any:
        """The ``n``-th customer key in key order, NULLs left out (None if there are fewer keys)."""
        customer = self.model.customer_entity()
        key = D.column("c", customer.key)  # type: ignore[arg-type]
        q = (
            exp.select(key)
            .from_(D.table(customer.name, "c"))
            .where(exp.Not(this=exp.Is(this=key.copy(), expression=exp.Null())))
        )
        sql = q.order_by(key.copy()).limit(1).offset(n - 1).sql(dialect=self.dialect)
        return self.run(lambda: self.backend.scalar(sql), sql)

    def _in_key_range(self, query: exp.Select, lower: Any, upper: Any) -> exp.Select:
        """``query`` for the customers with ``lower < key <= upper`` (None: no bound), NULL keys where the
        dialect sorts them: in the first range if NULLs sort first, else in the last. Bounds become SQL
        literals."""
        if lower is None and upper is None:
            return query
        key = D.column("c", self.model.customer_entity().key)  # type: ignore[arg-type]
        bounds: list[exp.Expr] = [key.copy() > exp.convert(lower)] if lower is not None else []
        bounds += [key.copy() <= exp.convert(upper)] if upper is not None else []
        cond = exp.and_(*bounds)
        nulls_first = Dialect.get_or_raise(self.dialect).NULL_ORDERING == "nulls_are_small"
        if (lower is None) if nulls_first else (upper is None):
            cond = exp.or_(cond, exp.Is(this=key, expression=exp.Null()))
        return query.copy().where(cond, copy=False)

    def _query(self, query: exp.Select) -> pd.DataFrame:
        sql = query.sql(dialect=self.dialect, copy=False)  # every caller hands over a tree it is done with
        return self.fetch(sql)

    def iter_members(
        self,
        definition: Definition,
        *,
        as_of: AsOf = None,
        chunk_size: int = 50_000,
        params: Mapping[str, Any] | None = None,
        keys_only: bool = False,
    ) -> Iterator[pd.DataFrame]:
        """All members (or only their keys), streamed from the database in DataFrame chunks, with the
        backend's low-memory setting on while the stream is open."""
        sql = self._sql(definition, "keys" if keys_only else "members", as_of, None, params)
        yield from self.stream(sql, chunk_size)

    def member_keys(
        self, definition: Definition, *, as_of: AsOf = None, params=None
    ) -> pd.Series | pd.DataFrame:
        """The member keys as a Series (fetched in chunks); a DataFrame of the key columns for a
        composite key."""
        keys = self.model.customer_entity().keys
        if len(keys) > 1:
            frames = list(self.iter_members(definition, as_of=as_of, params=params, keys_only=True))
            found = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(keys))
            found.columns = list(keys)
            return found
        key = keys[0]
        chunks = [
            c.iloc[:, 0] for c in self.iter_members(definition, as_of=as_of, params=params, keys_only=True)
        ]
        return (
            pd.concat(chunks, ignore_index=True).rename(key)
            if chunks
            else pd.Series([], name=key, dtype=object)
        )

    # --- SQL, with database errors reported as SegmentError with the SQL sent ----------------------
    def run(self, fn: Callable[..., Any], sql: str) -> Any:
        """``fn()``, a call to the backend that runs ``sql``; a database error becomes a ``SegmentError``."""
        try:
            return fn()
        except SegmentError:
            raise
        except Exception as e:  # noqa: BLE001 - database errors are reported with the SQL sent
            raise database_error(e, sql, self.backend.display_url) from e

    def fetch(self, sql: str) -> pd.DataFrame:
        """The rows of ``sql`` as a DataFrame."""
        return self.run(lambda: self.backend.query(sql), sql)

    def stream(self, sql: str, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """The rows of ``sql`` in DataFrame chunks (on a DuckDB file the database's memory_limit is lowered
        while the stream is open: see ``DuckDBBackend.low_memory``)."""
        try:
            with low_memory(self.backend):
                yield from self.backend.iter_chunks(sql, chunk_size)
        except SegmentError:
            raise
        except Exception as e:  # noqa: BLE001 - database errors are reported with the SQL sent
            raise database_error(e, sql, self.backend.display_url) from e

    def close(self) -> None:
        self.backend.close()


AS_OF_YEARS = (1001, 9998)


def as_datetime(value: AsOf) -> dt.datetime:
    """The moment an ``as_of`` names (now if None); 'YYYY-MM-DD' text and dates are midnight."""
    if value is None:
        return dt.datetime.now().replace(microsecond=0)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise SegmentError(f"as_of '{value}' is not a date: write it as YYYY-MM-DD") from None
    if not isinstance(value, dt.date):
        raise SegmentError(
            f"as_of must be a date, a datetime or 'YYYY-MM-DD' text, not the {type(value).__name__} {value!r}"
        )
    # Windows reach 1,000 years back (parser.MAX_SPAN) and a day forward: within years 1 to 9999.
    if not AS_OF_YEARS[0] <= value.year <= AS_OF_YEARS[1]:
        first, last = AS_OF_YEARS
        raise SegmentError(f"as_of {value.isoformat()} is out of range: use a year from {first} to {last}")
    if isinstance(value, dt.datetime):
        return value
    # A date: windows end on that date (for timestamps, at the end of that day: see is_whole_day).
    return dt.datetime(value.year, value.month, value.day)


def is_whole_day(value: AsOf) -> bool:
    """True when as_of names a day rather than a moment: a date, or 'YYYY-MM-DD' text."""
    if isinstance(value, str):
        return len(value.strip()) == 10
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def database_error(e: Exception, sql: str, database: str | None = None) -> SegmentError:
    """A ``SegmentError`` for a database's exception: the database (its URL, password masked), the
    error's first line, and the SQL that was sent."""
    message = str(getattr(e, "orig", None) or e).strip().splitlines()
    first = mask_url(message[0]) if message else type(e).__name__
    which = f" ({database})" if database else ""
    err = SegmentError(f"the database{which} rejected the query: {first}\nSQL sent:\n{sql}")
    err.sql = sql  # type: ignore[attr-defined]
    return err


@contextmanager
def _too_deep(definition: Definition) -> Iterator[None]:
    """A RecursionError below (a definition the parser's depth limit let through, but too long for a
    stage that walks it recursively: thousands of ANDed conditions) becomes a SegmentError over the text."""
    try:
        yield
    except RecursionError:
        text = definition if isinstance(definition, str) else getattr(definition, "text", None)
        raise SegmentError(
            "definition too deeply nested or too long to compile: split it into saved segments "
            "(in segment ...)",
            text=text or None,
            pos=0 if text else None,
            end=len(text) if text else None,
        ) from None
