"""The facade users hold: one connection, one model, one catalog.

Every way into the product (Python calls, ``%%segment`` cells, widgets) goes through these methods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from .backends import open_backend
from .backends.base import Backend, low_memory
from .compile import Shape, build_query, orphan_count_sql
from .compile import dialects as D
from .compile.compiler import Options
from .dsl import ast as A
from .dsl import bind_params, parse
from .dsl.params import has_params
from .errors import SegmentError
from .model import Model, Relationship

if TYPE_CHECKING:
    from .catalog import Catalog

Definition = str | A.Definition
AsOf = dt.date | dt.datetime | str | None


class Workspace:
    """A connection to the user's database plus the model of its customer data.

    >>> ws = connect("duckdb:///shop.duckdb")
    >>> ws.customers("customers", key="customer_id")
    >>> ws.count("sum(orders.amount) >= 1000")
    """

    def __init__(self, backend: Backend, catalog: str | Any | None = None) -> None:
        self.backend = backend
        self.model = Model(backend)
        self._catalog_target = catalog
        self._catalog: Catalog | None = None
        self.model.measure_source = self._catalog_measures  # saved measures (catalog section)

    def __repr__(self) -> str:
        customer = f", customers={self.model.customer}" if self.model.customer else ""
        return f"<Workspace {self.backend.display_url} ({self.dialect}){customer}>"

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of the connected database."""
        return self.backend.dialect

    # --- model ------------------------------------------------------------------------------------
    def customers(self, table: str, key: str) -> Workspace:
        """Declare the customer (profile) table and its key column."""
        self.model.set_customer(table, key)
        return self

    def relate(
        self, child: str, parent: str, on: str | tuple[str, str], *, assume_integrity: bool = False
    ) -> Relationship:
        """Declare that each ``child`` row points to one ``parent`` row.

        ``on`` is the shared column name, or ``(child_column, parent_column)``. ``assume_integrity``
        is your word that every non-NULL child value exists in the parent (no orphans, as a FOREIGN
        KEY would enforce): segments that only need the child's rows then skip the customer table.
        ``ws.check_integrity()`` counts the orphans that would break that promise.

        >>> ws.relate("orders", "customers", on="customer_id")
        >>> ws.relate("support_calls", "customers", on=("cust_id", "customer_id"), assume_integrity=True)
        """
        child_col, parent_col = (on, on) if isinstance(on, str) else on
        return self.model.add_relationship(child, parent, child_col, parent_col, assume_integrity)

    def check_integrity(self, *, all_relationships: bool = False) -> pd.DataFrame:
        """Orphans per relationship: child rows whose non-NULL value has no parent row.

        By default the relationships declared with ``assume_integrity=True`` (where an orphan would
        make a segment count a key that is not a customer); ``all_relationships=True`` checks every one.
        """
        rows = []
        for rel in self.model.relationships():
            if rel.assume_integrity or all_relationships:
                sql = orphan_count_sql(rel, self.dialect)
                orphans = int(self._run(lambda sql=sql: self.backend.scalar(sql), sql))
                rows.append({"relationship": rel.describe(), "orphans": orphans, "ok": orphans == 0})
        return pd.DataFrame(rows, columns=["relationship", "orphans", "ok"])

    def unrelate(self, child: str, parent: str) -> None:
        """Remove a declared relationship, or reject an inferred one."""
        self.model.remove_relationship(child, parent)

    def relationships(self) -> pd.DataFrame:
        """Declared and inferred relationships, with where each came from."""
        return self.model.relationships_frame()

    def tables(self) -> list[str]:
        return self.model.tables()

    def attributes(self, table: str | None = None) -> pd.DataFrame:
        """Columns of a table (default: the customer table) with their attribute types."""
        entity = self.model.entity(table) if table else self.model.customer_entity()
        return pd.DataFrame(
            [{"column": c.name, "type": c.type, "db_type": c.db_type} for c in entity.columns.values()],
            columns=["column", "type", "db_type"],
        )

    def refresh_model(self) -> None:
        """Re-read tables, columns and foreign keys from the database."""
        customer, key = self.model.customer, self.model.customer_key
        self.model.invalidate()
        if customer and key:
            self.model.set_customer(customer, key)

    # --- definitions ------------------------------------------------------------------------------
    def parse(self, definition: Definition, params: Mapping[str, Any] | None = None) -> A.Definition:
        """Parse DSL text (or pass a tree through), binding ``{name}`` placeholders from ``params``."""
        tree = parse(definition) if isinstance(definition, str) else definition
        # A placeholder needs a "{": skip walking the tree for the common text without one.
        maybe_params = "{" in definition if isinstance(definition, str) else True
        if params is not None or (maybe_params and has_params(tree)):
            tree = bind_params(tree, params or {})
        return tree

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
        tree = self.parse(definition, params)
        options = Options(
            dialect=dialect or self.dialect,
            as_of=None if relative else _as_datetime(as_of),
            segment_source=self._segment_source,
            whole_day=_is_whole_day(as_of),
        )
        return build_query(self.model, tree, options, shape, limit)

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
        """SQL text selecting the member keys, in ``dialect`` (default: the connected database's).

        Without ``as_of`` relative windows (``in last 90 days``) use the database's current date, so the
        SQL can be scheduled as it is; with ``as_of`` they are fixed dates.

        >>> ws.compile("sum(orders.amount) >= 1000", dialect="postgres")
        """
        target = dialect or self.dialect
        q = self.query(
            definition, shape=shape, dialect=target, as_of=as_of, relative=as_of is None, params=params
        )
        return q.sql(dialect=target, pretty=pretty, copy=False)  # a fresh tree: no need to copy it

    def _sql(self, definition: Definition, shape: Shape, as_of: AsOf, limit: int | None, params) -> str:
        q = self.query(definition, shape=shape, as_of=as_of, limit=limit, params=params)
        return q.sql(dialect=self.dialect, copy=False)

    def count(
        self, definition: Definition, *, as_of: AsOf = None, params: Mapping[str, Any] | None = None
    ) -> int:
        """Number of members, counted by the database.

        >>> ws.count("country = 'DE' and age >= 30")
        """
        sql = self._sql(definition, "count", as_of, None, params)
        return int(self._run(lambda: self.backend.scalar(sql), sql) or 0)

    def members(
        self,
        definition: Definition,
        *,
        limit: int | None = None,
        as_of: AsOf = None,
        params: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Members as a DataFrame: customer columns plus PROJECT columns.

        With ``limit`` the database returns only the first members (by key); without it all members are
        fetched in chunks (use ``iter_members`` to process them without holding all in memory).
        """
        if limit is not None:
            query = self.query(definition, shape="members", as_of=as_of, limit=limit, params=params)
            return self._first_members(query, limit)
        chunks = list(self.iter_members(definition, as_of=as_of, params=params))
        return (
            pd.concat(chunks, ignore_index=True) if chunks else self.members(definition, limit=0, as_of=as_of)
        )

    # Previews (members with a limit) go by ranges of customer keys: None = on DuckDB when the query
    # joins other tables. DuckDB carries a range on the customer key through the join into the scans of
    # related tables; PostgreSQL, MySQL and SQLite would compute each aggregate in full for every range.
    preview_by_key_range: bool | None = None
    first_key_range: int = 10_000  # customers in a preview's first range; each next range ends 10x further

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
        if not by_range or limit <= 0:
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
        return self._run(lambda: self.backend.scalar(sql), sql)

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
        return self._run(lambda: self.backend.query(sql), sql)

    def iter_members(
        self,
        definition: Definition,
        *,
        as_of: AsOf = None,
        chunk_size: int = 50_000,
        params: Mapping[str, Any] | None = None,
        keys_only: bool = False,
    ) -> Iterator[pd.DataFrame]:
        """All members, streamed from the database in DataFrame chunks.

        On a DuckDB file the database's memory_limit is lowered while the stream is open (see
        ``DuckDBBackend.low_memory``; ``ws.backend.stream_memory_limit = None`` turns that off).
        """
        sql = self._sql(definition, "keys" if keys_only else "members", as_of, None, params)
        try:
            with low_memory(self.backend):
                yield from self.backend.iter_chunks(sql, chunk_size)
        except SegmentError:
            raise
        except Exception as e:  # noqa: BLE001 - database errors are reported with the SQL sent
            raise _database_error(e, sql) from e

    def member_keys(self, definition: Definition, *, as_of: AsOf = None, params=None) -> pd.Series:
        """The member keys as a Series (fetched in chunks)."""
        key = self.model.customer_entity().key
        chunks = [
            c.iloc[:, 0] for c in self.iter_members(definition, as_of=as_of, params=params, keys_only=True)
        ]
        return (
            pd.concat(chunks, ignore_index=True).rename(key)
            if chunks
            else pd.Series([], name=key, dtype=object)
        )

    def check(self, definition: Definition, params: Mapping[str, Any] | None = None) -> None:
        """Raise ``SegmentError`` if the definition does not parse or type-check; runs nothing."""
        self.query(definition, shape="members", params=params)

    def _run(self, fn, sql: str):
        try:
            return fn()
        except SegmentError:
            raise
        except Exception as e:  # noqa: BLE001 - database errors are reported with the SQL sent
            raise _database_error(e, sql) from e

    # --- catalog (saved segments, measures, refresh, export): see jupyter_segments/catalog -----------
    # (methods for the catalog issue live in this section)
    members_prefix: str = "seg_"  # members tables are named <prefix>members__<segment>
    members_storage: str = "auto"  # "auto" (a table if the database is writable), "table" or "parquet"

    @property
    def catalog(self) -> Catalog:
        """The catalog of saved segments, opened (and for a file, created) on first use."""
        if self._catalog is None:
            from .catalog import open_catalog
            from .catalog.api import restore_model

            self._catalog = open_catalog(self._catalog_target)
            restore_model(self, self._catalog)
        return self._catalog

    def segment(
        self,
        name: str,
        definition: Definition,
        *,
        description: str | None = None,
        display_name: str | None = None,
        type: str = "dynamic",
        draft: bool = False,
    ):
        """Save a segment (saving an existing name adds a version); returns its ``Segment``.

        Validated first unless ``draft=True`` (a draft is kept inactive). ``type="static"`` freezes the
        members at creation.

        >>> seg = ws.segment("vip", "sum(orders.amount) >= 1000", description="big spenders")
        """
        from .catalog.api import save

        return save(
            self, name, definition, description=description, display_name=display_name, type=type, draft=draft
        )

    def segments(
        self, search: str | None = None, sort: str = "name", state: str | None = None
    ) -> pd.DataFrame:
        """Saved segments: name, display_name, type, state, draft, members, last_refresh, last_status, ...

        ``search`` matches name, display name and description; ``sort`` is a column ('-' reverses).
        """
        from .catalog.api import list_segments

        return list_segments(self, search=search, sort=sort, state=state)

    def get(self, name: str):
        """The saved segment ``name`` (``SegmentError`` naming the nearest one if there is none)."""
        from .catalog.api import get

        return get(self, name)

    def __getitem__(self, name: str):
        return self.get(name)

    def refresh(
        self, names: str | list[str] | None = None, *, shared: bool = True, as_of: AsOf = None, **options
    ):
        """Refresh segments (default: every active one) in dependency order; returns a list of Runs.

        ``shared=True`` evaluates them with one query (aggregates computed once); ``False`` one by one.
        """
        from .refresh import refresh

        if isinstance(names, str):
            names = [names]
        return refresh(self, names, shared=shared, as_of=as_of, **options)

    def duplicate(self, name: str, new_name: str, **changes: Any):
        """Copy a saved segment under a new name (a new, not yet refreshed segment)."""
        from .catalog.api import duplicate

        return duplicate(self, name, new_name, **changes)

    def measure(self, name: str, expression: str, *, description: str | None = None) -> None:
        """Save a named customer-level expression, then usable as an attribute in any definition.

        >>> ws.measure("total_spend", "sum(orders.amount where status != 'returned')")
        >>> ws.count("total_spend >= 1000")
        """
        from .catalog.api import save_measure

        save_measure(self, name, expression, description)

    def measures(self) -> pd.DataFrame:
        """Saved measures: name, expression, description, created_at, updated_at."""
        from .catalog.api import list_measures

        return list_measures(self)

    def schedule(self, cron: str, names: list[str] | None = None, **options: Any):
        """Refresh on a cron schedule in a background thread while this kernel lives; ``.stop()`` ends it.

        >>> sched = ws.schedule("0 * * * *")
        """
        from .schedule import Scheduler

        return Scheduler(self, cron, names=names, **options).start()

    def _catalog_measures(self) -> dict[str, str]:
        catalog = self.catalog_or_none
        return catalog.measures_dict() if catalog is not None else {}

    # --- segment references (the catalog provides the texts) ----------------------------------------
    def _segment_source(self, name: str) -> str:
        catalog = self.catalog_or_none
        if catalog is None:
            raise KeyError(" (no catalog is attached)")
        return catalog.definition_text(name)

    @property
    def catalog_or_none(self) -> Catalog | None:
        """The catalog if one is open or exists; None (without creating a file) otherwise."""
        if self._catalog is None:
            from .catalog import catalog_exists

            if not catalog_exists(self._catalog_target):
                return None
            return self.catalog
        return self._catalog

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
        self.backend.close()

    # --- intelligence: see jupyter_segments/intelligence ------------------------------------------
    def rfm(
        self,
        table: str,
        *,
        date: str,
        amount: str,
        window: str | int = "1 year",
        as_of: AsOf = None,
        **options: Any,
    ):
        """RFM scores per customer (key, recency_days, frequency, monetary, r, f, m, label), computed in SQL.

        >>> scores = ws.rfm("orders", date="order_date", amount="amount", window="1 year")
        """
        from .intelligence.rfm import compute

        return compute(self, table, date=date, amount=amount, window=window, as_of=as_of, **options)

    def rfm_segments(
        self, scores: Any, labels: list[str] | None = None, *, prefix: str = "rfm_", **rfm_args: Any
    ):
        """Save one segment per RFM label (``scores`` from ``ws.rfm`` or the activity table name plus
        ``ws.rfm`` arguments); returns label -> segment name."""
        from .intelligence.rfm import save_segments

        scores = self.rfm(scores, **rfm_args) if isinstance(scores, str) else scores
        return save_segments(self, scores, labels, prefix=prefix)

    def suggest(self, measure: str, using: list[str] | None = None, **options: Any):
        """Suggested segments whose ``measure`` differs significantly from the rest.

        >>> sugg = ws.suggest(measure="sum(orders.amount)", using=["country", "age", "count(support_calls)"])
        """
        from .intelligence.suggest import suggest

        return suggest(self, measure, using, **options)

    def compare(self, a: Any, b: Any = None, **options: Any):
        """Overlap and differentiators of two segments (names or DSL), or of one against everyone else."""
        from .intelligence.compare import compare

        return compare(self, a, b, **options)

    def similar(
        self,
        segment: Any,
        target: Any = None,
        *,
        size: float | int = 0.2,
        include_members: bool = False,
        **options: Any,
    ):
        """Customers most similar to a segment's members (lookalikes), with ``.auc`` and ``.save(name)``."""
        from .intelligence.similar import similar

        return similar(self, segment, target, size=size, include_members=include_members, **options)


def _as_datetime(value: AsOf) -> dt.datetime:
    if value is None:
        return dt.datetime.now().replace(microsecond=0)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise SegmentError(f"as_of '{value}' is not a date: write it as YYYY-MM-DD") from None
    if isinstance(value, dt.datetime):
        return value
    # A date: windows end on that date (for timestamps, at the end of that day: see _is_whole_day).
    return dt.datetime(value.year, value.month, value.day)


def _is_whole_day(value: AsOf) -> bool:
    """True when as_of names a day rather than a moment: a date, or 'YYYY-MM-DD' text."""
    if isinstance(value, str):
        return len(value.strip()) == 10
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _database_error(e: Exception, sql: str) -> SegmentError:
    message = str(getattr(e, "orig", None) or e).strip().splitlines()
    first = message[0] if message else type(e).__name__
    err = SegmentError(f"the database rejected the query: {first}\nSQL sent:\n{sql}")
    err.sql = sql  # type: ignore[attr-defined]
    return err


def connect(target: Any = "duckdb:///:memory:", *, catalog: str | Any | None = None) -> Workspace:
    """Connect to a database by URL, connection object or SQLAlchemy Engine.

    >>> ws = connect("duckdb:///shop.duckdb")
    >>> ws = connect("postgresql://user:pw@host/db", catalog=".segments/catalog.sqlite")
    """
    return Workspace(open_backend(target), catalog=catalog)


def connect_demo(
    customers: int = 10_000,
    *,
    seed: int = 42,
    anchor: dt.date | None = None,
    path: str | None = None,
    catalog: str | Any | None = None,
) -> Workspace:
    """The generated retail demo in embedded DuckDB, with its customer entity and relationships declared.

    >>> ws = connect_demo(5_000)
    >>> ws.count("country = 'DE'")
    """
    from . import demo
    from .backends.duckdb_backend import DuckDBBackend

    conn = demo.generate(customers, seed=seed, anchor=anchor, path=path)
    backend = DuckDBBackend(conn, display_url=f"duckdb:///{path or ':memory:'} (demo)")
    backend._owns = True  # the demo connection is ours: ws.close() closes it
    ws = Workspace(backend, catalog=catalog)
    demo.declare_model(ws)
    return ws
