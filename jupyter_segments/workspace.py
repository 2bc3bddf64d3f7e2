"""The facade users hold: one engine (a ``Session``: connection and model), one catalog, and what is
built on them.

Every way into the product (Python calls, ``%%segment`` cells, widgets) goes through these methods; each
hands the work to its layer: the Session compiles and runs definitions, the catalog stores segments,
``segments`` makes the ``Segment`` handles, refresh, schedule and intelligence work on the Session and the
catalog. The layers are listed in ``tests/test_layers.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlglot import exp

from . import advise as advise_
from . import demo, intelligence, segments, static_segments
from . import explain as explain_
from .backends import open_backend
from .backends.base import Backend
from .backends.duckdb_backend import DuckDBBackend
from .bind import typed as T
from .bind.checks import CheckWarning
from .catalog import Catalog, catalog_exists, open_catalog
from .catalog.api import check_measure, list_measures, list_segments, restore_model, save_measure
from .catalog.members import Storage
from .compile import Shape
from .dsl import ast as A
from .errors import SegmentError
from .estimate import Estimate, Estimator
from .model import Model, Relationship, link_columns
from .refresh import Run
from .refresh import refresh as refresh_segments
from .schedule import Scheduler, check_cron
from .segments import Segment
from .session import AsOf, Definition, Session


class Workspace:
    """A connection to the user's database plus the model of its customer data.

    >>> ws = connect("duckdb:///shop.duckdb")
    >>> ws.customers("customers", key="customer_id")
    >>> ws.count("sum(orders.amount) >= 1000")
    """

    def __init__(self, backend: Backend, catalog: str | Any | None = None) -> None:
        # The engine; the catalog provides the texts of saved segments and the saved measures.
        self.session = Session(
            backend, segment_source=self._catalog_segment_source, measure_source=self._catalog_measures
        )
        self.storage = Storage()  # where refreshes keep members (ws.members_prefix, ws.members_storage)
        self._catalog_target = catalog
        self._catalog: Catalog | None = None
        self._static_texts: dict[tuple[int, int | None], str | T.StoredKeys] = {}  # static segments' members

    def __repr__(self) -> str:
        customer = f", customers={self.model.customer}" if self.model.customer else ""
        return f"<Workspace {self.backend.display_url} ({self.dialect}){customer}>"

    @property
    def backend(self) -> Backend:
        """The connected database."""
        return self.session.backend

    @property
    def model(self) -> Model:
        """Tables, keys, relationships and measures of the customer data."""
        return self.session.model

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of the connected database."""
        return self.session.dialect

    # --- model ------------------------------------------------------------------------------------
    def customers(self, table: str, key: str | Sequence[str]) -> Workspace:
        """Declare the customer (profile) table and its key: a column, or a tuple of columns.

        >>> ws.customers("accounts", key=("region", "account_no"))
        """
        self.model.set_customer(table, key)
        return self

    def relate(
        self,
        child: str,
        parent: str,
        on: str | tuple[str, str] | Sequence[tuple[str, str]],
        *,
        assume_integrity: bool = False,
        name: str | None = None,
        parent_name: str | None = None,
        replace: bool = False,
    ) -> Relationship:
        """Declare that each ``child`` row points to one ``parent`` row.

        ``on`` is the shared column name, or ``(child_column, parent_column)``, or a list of such pairs
        for a composite key (``[("region", "region"), ("account_no", "account_no")]``). ``assume_integrity``
        is your word that every non-NULL child value exists in the parent (no orphans, as a FOREIGN
        KEY would enforce): segments that only need the child's rows then skip the customer table.
        ``ws.check_integrity()`` counts the orphans that would break that promise.

        Tables linked more than once get role names: ``name`` is the to-many step from the parent
        (default: the child table's name), ``parent_name`` the to-one step from the child (default: the
        parent table's name). Relating the same tables again with the same names on other columns is a
        ``SegmentError`` unless ``replace=True``.

        >>> ws.relate("orders", "customers", on="customer_id")
        >>> ws.relate("support_calls", "customers", on=("cust_id", "customer_id"), assume_integrity=True)
        """
        child_col, parent_col = link_columns(on)
        return self.model.add_relationship(
            child,
            parent,
            child_col,
            parent_col,
            assume_integrity,
            name=name,
            parent_name=parent_name,
            replace=replace,
        )

    def check_integrity(self, *, all_relationships: bool = False) -> pd.DataFrame:
        """Orphans per relationship: child rows whose non-NULL value has no parent row.

        By default the relationships declared with ``assume_integrity=True`` (where an orphan would
        make a segment count a key that is not a customer); ``all_relationships=True`` checks every one.
        """
        return self.session.check_integrity(all_relationships=all_relationships)

    def unrelate(self, child: str, parent: str, name: str | None = None) -> None:
        """Remove the declared relationships from ``child`` to ``parent`` (only the one named ``name``
        if given), or reject an inferred one."""
        self.model.remove_relationship(child, parent, name)

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

    def types(self, table: str, **types: str) -> None:
        """Say what columns hold where the database's types do not: dates kept as text, flags kept as
        integers. The compiler converts them; the catalog keeps them with the model.

        >>> ws.types("support_calls", escalated="boolean", call_date="date")
        """
        self.model.set_types(table, types)

    def refresh_model(self) -> None:
        """Re-read tables, columns and foreign keys from the database."""
        self.session.refresh_model()

    # --- definitions ------------------------------------------------------------------------------
    def parse(self, definition: Definition, params: Mapping[str, Any] | None = None) -> A.Definition:
        """Parse DSL text (or pass a tree through), binding ``{name}`` placeholders from ``params``."""
        return self.session.parse(definition, params)

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
        return self.session.query(
            definition,
            shape=shape,
            dialect=dialect,
            as_of=as_of,
            relative=relative,
            limit=limit,
            params=params,
        )

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
        return self.session.compile(
            definition, dialect, as_of=as_of, shape=shape, pretty=pretty, params=params
        )

    def count(
        self, definition: Definition, *, as_of: AsOf = None, params: Mapping[str, Any] | None = None
    ) -> int:
        """Number of members, counted by the database.

        >>> ws.count("country = 'DE' and age >= 30")
        """
        return self.session.count(definition, as_of=as_of, params=params)

    def estimate(
        self, definition: Definition, *, as_of: AsOf = None, params: Mapping[str, Any] | None = None
    ) -> Estimate:
        """The member count estimated on a fixed random sample of customers, with its 95% interval:
        ``.value``, ``.low``, ``.high``, ``.sample_size``, ``.exact``. The sample (10,000 customers and
        their related rows) is made on the first call; on DuckDB and SQLite only (elsewhere, and for
        tables not larger than the sample, the count is exact).

        >>> ws.estimate("count(orders) >= 3")
        <Estimate 41,200 (95% interval 40,400-42,100; 4,121 of 10,000 sampled customers, of 100,000)>
        """
        return self.estimator.estimate(definition, as_of=as_of, params=params)

    @property
    def estimator(self) -> Estimator:
        """The sample behind ``estimate`` (made on first use; ``ws.estimator.drop()`` forgets it)."""
        if getattr(self, "_estimator", None) is None:
            self._estimator = Estimator(self.session)
        return self._estimator

    def customer_count(self) -> int:
        """All customers (rows of the customer table), counted by the database now: the whole that a
        segment's share is of.

        >>> ws.customer_count()
        10000
        """
        return self.session.customer_count()

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
        return self.session.members(definition, limit=limit, as_of=as_of, params=params)

    # Previews (members with a limit) go by ranges of customer keys (see Session._first_members).
    @property
    def preview_by_key_range(self) -> bool | None:
        """True/False: previews by ranges of keys or not; None (default): on DuckDB when the query joins."""
        return self.session.preview_by_key_range

    @preview_by_key_range.setter
    def preview_by_key_range(self, value: bool | None) -> None:
        self.session.preview_by_key_range = value

    @property
    def first_key_range(self) -> int:
        """Customers in a preview's first range of keys; each next range ends 10x further."""
        return self.session.first_key_range

    @first_key_range.setter
    def first_key_range(self, value: int) -> None:
        self.session.first_key_range = value

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
        return self.session.iter_members(
            definition, as_of=as_of, chunk_size=chunk_size, params=params, keys_only=keys_only
        )

    def member_keys(
        self, definition: Definition, *, as_of: AsOf = None, params=None
    ) -> pd.Series | pd.DataFrame:
        """The member keys as a Series (fetched in chunks); for a composite key a DataFrame of the
        key columns."""
        return self.session.member_keys(definition, as_of=as_of, params=params)

    def check(self, definition: Definition, params: Mapping[str, Any] | None = None) -> list[CheckWarning]:
        """Raise ``SegmentError`` if the definition does not parse or type-check; otherwise the
        warnings of the static checks (each with ``message``, ``line``, ``column`` and a caret when printed).

        >>> ws.check("age > 50 and age < 30")
        [CheckWarning('`age > 50` and `age < 30` are never both true', ...)]
        """
        return self.session.check(definition, params)

    # --- why and what-if (issue 21): see jupyter_segments/explain.py --------------------------------
    def _definition_or_saved(self, definition: Definition) -> Definition:
        """A saved segment's text for its name; anything else is a definition. A name that is neither
        (``vipp``) is reported as both: no saved segment (with the nearest) and why it is no definition."""
        if isinstance(definition, str) and definition.strip().isidentifier():
            name, catalog = definition.strip(), self.catalog_or_none
            if catalog is not None:
                try:
                    source = self._catalog_segment_source(name)
                    # A static segment kept as a table has no text: a definition that reads it.
                    return source if isinstance(source, str) else f"in segment {name}"
                except KeyError as missing:
                    try:
                        self.session.bind(definition)
                    except SegmentError as e:
                        raise SegmentError(
                            f"no saved segment '{name}'{missing.args[0] if missing.args else ''}, "
                            f"and as a definition: {e}"
                        ) from None
        return definition

    def explain(
        self,
        definition: Definition,
        customer: Any,
        *,
        as_of: AsOf = None,
        params: Mapping[str, Any] | None = None,
        records: bool = True,
    ) -> explain_.Explanation:
        """Why ``customer`` (a key) is or is not a member of a saved segment or a definition: each
        condition's values and truth, groups evaluated, the verdict, the records aggregates counted.

        >>> print(ws.explain("vip", customer=1234))
        """
        return explain_.explain(
            self.session,
            self._definition_or_saved(definition),
            customer,
            as_of=as_of,
            params=params,
            records=records,
        )

    def near_misses(
        self,
        definition: Definition,
        *,
        max_failed: int = 1,
        limit: int = 100,
        as_of: AsOf = None,
        params: Mapping[str, Any] | None = None,
        fetch: Callable[[str], pd.DataFrame] | None = None,
    ) -> explain_.NearMisses:
        """Customers who fail only one (up to ``max_failed``) of the top-level AND conditions
        (``fetch``: where the SQL runs, for a widget's worker thread).

        >>> ws.near_misses("vip").counts
        """
        return explain_.near_misses(
            self.session,
            self._definition_or_saved(definition),
            max_failed=max_failed,
            limit=limit,
            as_of=as_of,
            params=params,
            fetch=fetch,
        )

    def sweep(
        self,
        template: str,
        *,
        as_of: AsOf = None,
        fetch: Callable[[str], pd.DataFrame] | None = None,
        **grid: Any,
    ) -> pd.DataFrame:
        """The member count for every value of each ``{name}`` in ``template``, in one query
        (``fetch``: where the SQL runs, for a widget's worker thread).

        >>> ws.sweep("sum(orders.amount) >= {x}", x=range(0, 5001, 250))
        """
        return explain_.sweep(self.session, template, as_of=as_of, fetch=fetch, **grid)

    def advise(
        self,
        definitions: Definition | Sequence[Definition] | Mapping[str, Definition] | None = None,
        *,
        measure: bool = False,
        repeat: int = 2,
    ) -> advise_.Advice:
        """The indexes the saved segments (or ``definitions``: names, texts, {name: text}) would use and
        the database lacks, as ``CREATE INDEX`` statements (``.sql``) for you to run. ``measure=True``
        times each affected count without and with them inside a transaction rolled back afterwards
        (DuckDB, SQLite, PostgreSQL; MariaDB/MySQL commit DDL, so there it is not measured).

        >>> print(ws.advise().sql)
        """
        return advise_.advise(self.session, self.catalog_or_none, definitions, measure=measure, repeat=repeat)

    # --- catalog (saved segments, measures, refresh, export): see jupyter_segments/catalog -----------
    # (methods for the catalog issue live in this section)
    @property
    def members_prefix(self) -> str:
        """Members tables are named <prefix>members__<segment> (default ``seg_``)."""
        return self.storage.prefix

    @members_prefix.setter
    def members_prefix(self, value: str) -> None:
        self.storage.prefix = value
        self.model.members_prefix = value  # the model does not list this workspace's members tables
        self.model.invalidate()

    @property
    def members_storage(self) -> str:
        """Where refreshes keep members: "auto" (a table if the database is writable), "table" or "parquet"."""
        return self.storage.mode

    @members_storage.setter
    def members_storage(self, value: str) -> None:
        self.storage.mode = value

    @property
    def members_path(self) -> str | None:
        """The directory Parquet members go to (``members_storage = "parquet"``); None: ``members/``
        beside the catalog. Each run's file is written under a temporary name and replaces the last
        only when complete; on Spark the members stream to the driver, so the path is the driver's."""
        return self.storage.path

    @members_path.setter
    def members_path(self, value: str | None) -> None:
        self.storage.path = None if value is None else str(value)

    @property
    def catalog(self) -> Catalog:
        """The catalog of saved segments, opened (and for a file, created) on first use."""
        if self._catalog is None:
            self._catalog = open_catalog(self._catalog_target)
            restore_model(self.model, self._catalog)
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
    ) -> Segment:
        """Save a segment (saving an existing name adds a version); returns its ``Segment``.

        Validated first unless ``draft=True`` (a draft is kept inactive). ``type="static"`` freezes the
        members at creation.

        >>> seg = ws.segment("vip", "sum(orders.amount) >= 1000", description="big spenders")
        """
        return segments.save(
            self, name, definition, description=description, display_name=display_name, type=type, draft=draft
        )

    def static_segment(
        self,
        name: str,
        data: Any,
        *,
        key: str | Sequence[str] | None = None,
        description: str | None = None,
        display_name: str | None = None,
        unknown: str = "warn",
    ) -> static_segments.StaticSegment:
        """Save a frozen member list: ``data`` a DataFrame, a CSV/Parquet path or a list of keys, matched on
        customer column ``key`` (default: the customer key). Usable as ``in segment NAME`` anywhere;
        values that match no customer are left out and reported (``.unknown_keys``, a warning;
        ``unknown="error"`` refuses them).

        >>> ws.static_segment("campaign_2025", "campaign.csv", key="customer_id")
        """
        return static_segments.static_segment(
            self, name, data, key=key, description=description, display_name=display_name, unknown=unknown
        )

    def segments(
        self, search: str | None = None, sort: str = "name", state: str | None = None
    ) -> pd.DataFrame:
        """Saved segments: name, display_name, type, state, draft, members, last_refresh, last_status, ...

        ``search`` matches name, display name and description; ``sort`` is a column ('-' reverses).
        """
        return list_segments(self.catalog, search=search, sort=sort, state=state)

    def get(self, name: str) -> Segment:
        """The saved segment ``name`` (``SegmentError`` naming the nearest one if there is none)."""
        return segments.get(self, name)

    def __getitem__(self, name: str) -> Segment:
        return self.get(name)

    def refresh(
        self, names: str | list[str] | None = None, *, shared: bool = True, as_of: AsOf = None, **options
    ) -> list[Run]:
        """Refresh segments (default: every active one) in dependency order; returns a list of Runs.

        ``shared=True`` evaluates them with one query (aggregates computed once); ``False`` one by one.
        """
        if isinstance(names, str):
            names = [names]
        return refresh_segments(
            self.session, self.catalog, names, storage=self.storage, shared=shared, as_of=as_of, **options
        )

    def duplicate(self, name: str, new_name: str, **changes: Any) -> Segment:
        """Copy a saved segment under a new name (a new, not yet refreshed segment)."""
        return segments.duplicate(self, name, new_name, **changes)

    def measure(self, name: str, expression: str, *, description: str | None = None) -> None:
        """Save a named customer-level expression, then usable as an attribute in any definition.

        >>> ws.measure("total_spend", "sum(orders.amount where status != 'returned')")
        >>> ws.count("total_spend >= 1000")
        """
        check_measure(self.session, name, expression)  # before the catalog is opened (or created)
        save_measure(self.model, self.catalog, name, expression, description)

    def measures(self) -> pd.DataFrame:
        """Saved measures: name, expression, description, created_at, updated_at."""
        return list_measures(self.catalog)

    def schedule(self, cron: str, names: list[str] | None = None, **options: Any) -> Scheduler:
        """Refresh on a cron schedule in a background thread while this kernel lives; ``.stop()`` ends it.

        >>> sched = ws.schedule("0 * * * *")
        """
        check_cron(cron)  # before the catalog is opened (or created)
        return Scheduler(
            self.session, self.catalog, cron, names=names, storage=self.storage, **options
        ).start()

    def _catalog_measures(self) -> dict[str, str]:
        catalog = self.catalog_or_none
        return catalog.measures_dict() if catalog is not None else {}

    # --- segment references (the catalog provides the texts) ----------------------------------------
    def _catalog_segment_source(self, name: str) -> str | T.StoredKeys:
        catalog = self.catalog_or_none
        if catalog is None:
            raise KeyError(" (no catalog is attached)")
        try:
            return catalog.definition_text(name)
        except KeyError:
            if not catalog.has_segment(name):
                raise
        # A static segment: its stored members, which never change (kept per refresh that stored them).
        row = catalog.segment_row(name)
        cached = (row["id"], row["members_run_id"])
        if cached not in self._static_texts:
            keys = self.model.customer_entity().keys  # one column, or a composite key's columns
            self._static_texts[cached] = static_segments.member_text(self.backend, row, keys)
        return self._static_texts[cached]

    @property
    def catalog_or_none(self) -> Catalog | None:
        """The catalog if one is open or exists; None (without creating a file) otherwise."""
        if self._catalog is None:
            if not catalog_exists(self._catalog_target):
                return None
            return self.catalog
        return self._catalog

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
        self.session.close()

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
    ) -> intelligence.RfmScores:
        """RFM scores per customer (key, recency_days, frequency, monetary, r, f, m, label), computed in SQL.

        >>> scores = ws.rfm("orders", date="order_date", amount="amount", window="1 year")
        """
        return intelligence.rfm.compute(
            self.session, table, date=date, amount=amount, window=window, as_of=as_of, **options
        )

    def rfm_segments(
        self, scores: Any, labels: list[str] | None = None, *, prefix: str = "rfm_", **rfm_args: Any
    ) -> dict[str, str]:
        """Save one segment per RFM label (``scores`` from ``ws.rfm`` or the activity table name plus
        ``ws.rfm`` arguments); returns label -> segment name."""
        scores = self.rfm(scores, **rfm_args) if isinstance(scores, str) else scores
        return intelligence.rfm.save_segments(
            self.segment, scores, labels, prefix=prefix, catalog=self.catalog
        )

    def suggest(
        self, measure: str, using: list[str] | None = None, **options: Any
    ) -> intelligence.Suggestions:
        """Suggested segments whose ``measure`` differs significantly from the rest.

        >>> sugg = ws.suggest(measure="sum(orders.amount)", using=["country", "age", "count(support_calls)"])
        """
        return intelligence.suggest(
            self.session, self.catalog_or_none, measure, using, save=self.segment, **options
        )

    def compare(self, a: Any, b: Any = None, **options: Any) -> intelligence.Comparison:
        """Overlap and differentiators of two segments (names or DSL), or of one against everyone else."""
        return intelligence.compare(self.session, self.catalog_or_none, a, b, **options)

    def similar(
        self,
        segment: Any,
        target: Any = None,
        *,
        size: float | int = 0.2,
        include_members: bool = False,
        **options: Any,
    ) -> intelligence.Lookalikes:
        """Customers most similar to a segment's members (lookalikes), with ``.auc`` and ``.save(name)``."""
        return intelligence.similar(
            self.session,
            self.catalog_or_none,
            segment,
            target,
            size=size,
            include_members=include_members,
            save=self.segment,
            **options,
        )


def connect(
    target: Any = "duckdb:///:memory:", *, catalog: str | Any | None = None, create: bool = False
) -> Workspace:
    """Connect to a database by URL, connection object or SQLAlchemy Engine. A SQLite file must exist
    (a mistyped path is an error, not a new empty database) unless ``create=True``.

    >>> ws = connect("duckdb:///shop.duckdb")
    >>> ws = connect("postgresql://user:pw@host/db", catalog=".segments/catalog.sqlite")
    >>> ws = connect("sqlite:///new.db", create=True)
    """
    return Workspace(open_backend(target, create=create), catalog=catalog)


def connect_demo(
    customers: int = 10_000,
    *,
    seed: int = 42,
    anchor: dt.date | None = None,
    path: str | None = None,
    catalog: str | Any | None = None,
) -> Workspace:
    """The generated retail demo in embedded DuckDB, with its customer entity and relationships declared.

    The demo is throw-away: unless ``catalog`` names one, its saved segments go to a catalog in memory
    (gone at ``ws.close()``), never to ``.segments/catalog.sqlite`` where a real workspace keeps them.

    >>> ws = connect_demo(5_000)
    >>> ws.count("country = 'DE'")
    """
    conn = demo.generate(customers, seed=seed, anchor=anchor, path=path)
    backend = DuckDBBackend(conn, display_url=f"duckdb:///{path or ':memory:'} (demo)")
    backend._owns = True  # the demo connection is ours: ws.close() closes it
    ws = Workspace(backend, catalog=":memory:" if catalog is None else catalog)
    demo.declare_model(ws.model)
    return ws
