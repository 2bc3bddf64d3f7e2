"""The data model: entities (tables), their columns and types, and the relationships between them.

Relationships are directed child -> parent ("each child row points to one parent row"). From the parent the
children are a to-many step; from the child the parent is a to-one step. Steps are named by the table they
lead to, so ``orders.order_lines.quantity`` reads as a path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from .backends.base import (
    Backend,
    Column,
    TableName,
    bare_name,
    duplicate_keys_sql,
    mask_url,
    plain_value,
    table_parts,
)
from .errors import SegmentError, did_you_mean

Origin = Literal["declared", "foreign key", "column name"]


@dataclass(frozen=True)
class Relationship:
    """``child`` rows point to one ``parent`` row: ``child_columns[i] = parent_columns[i]`` for every i
    (one pair, or several for a composite key)."""

    child: str
    parent: str
    child_columns: tuple[str, ...]
    parent_columns: tuple[str, ...]
    origin: Origin = "declared"
    # The user's word that every non-NULL child value exists in the parent (no orphans), as a BI
    # tool's "assume referential integrity": the compiler may then read the child table alone.
    assume_integrity: bool = False
    # Role names, for tables linked more than once: the to-many step from the parent (default: the
    # child table's name) and the to-one step from the child (default: the parent table's name).
    name: str | None = None
    parent_name: str | None = None

    def __post_init__(self) -> None:
        for side in ("child_columns", "parent_columns"):  # one column may be given as its name
            if isinstance(getattr(self, side), str):
                object.__setattr__(self, side, (getattr(self, side),))

    @property
    def child_column(self) -> str:
        """The child's column(s) as text, for display ("customer_id", "region, account_no")."""
        return ", ".join(self.child_columns)

    @property
    def parent_column(self) -> str:
        return ", ".join(self.parent_columns)

    @property
    def many_name(self) -> str:
        return self.name or bare_name(self.child)

    @property
    def one_name(self) -> str:
        return self.parent_name or bare_name(self.parent)

    def describe(self) -> str:
        integrity = ", integrity assumed" if self.assume_integrity else ""
        roles = f" as {self.many_name} / {self.one_name}" if self.name or self.parent_name else ""
        return (
            f"{columns_text(self.child, self.child_columns)} -> {columns_text(self.parent, self.parent_columns)}"
            f"{roles} ({self.origin}{integrity})"
        )


def columns_text(table: str, columns: tuple[str, ...]) -> str:
    """``orders.customer_id``, or ``orders.(region, account_no)`` for several columns."""
    return f"{table}.{columns[0]}" if len(columns) == 1 else f"{table}.({', '.join(columns)})"


@dataclass
class Entity:
    name: str
    columns: dict[str, Column]
    keys: tuple[str, ...] = ()  # the customer key's column(s); () for other tables

    @property
    def key(self) -> str | None:
        """The one key column (None without a key); a composite key is a ``SegmentError`` here, for
        the features that need a single column."""
        if len(self.keys) > 1:
            raise SegmentError(
                f"{columns_text(self.name, self.keys)} is a composite key: this needs a single key column"
            )
        return self.keys[0] if self.keys else None

    def column(self, name: str) -> Column | None:
        found = self.columns.get(name)
        if found is None:  # databases fold case differently: accept any case when unambiguous
            matches = [c for n, c in self.columns.items() if n.lower() == name.lower()]
            found = matches[0] if len(matches) == 1 else None
        return found


@dataclass(frozen=True)
class Step:
    """One hop of a path: to-many (parent -> children) or to-one (child -> parent)."""

    relationship: Relationship
    to_many: bool

    @property
    def source(self) -> str:
        return self.relationship.parent if self.to_many else self.relationship.child

    @property
    def target(self) -> str:
        return self.relationship.child if self.to_many else self.relationship.parent

    @property
    def source_columns(self) -> tuple[str, ...]:
        r = self.relationship
        return r.parent_columns if self.to_many else r.child_columns

    @property
    def target_columns(self) -> tuple[str, ...]:
        r = self.relationship
        return r.child_columns if self.to_many else r.parent_columns

    @property
    def source_column(self) -> str:
        """The one source column (``SegmentError`` for a composite link: use ``source_columns``)."""
        return _single(self.relationship, self.source_columns)

    @property
    def target_column(self) -> str:
        return _single(self.relationship, self.target_columns)


def _single(rel: Relationship, columns: tuple[str, ...]) -> str:
    if len(columns) > 1:
        raise SegmentError(f"{rel.describe()} links several columns: this needs a single-column link")
    return columns[0]


@dataclass
class Model:
    """Entities are read from the database on first use; relationships are declared or inferred."""

    backend: Backend
    customer: str | None = None
    customer_keys: tuple[str, ...] = ()  # one column, or several for a composite key
    declared: list[Relationship] = field(default_factory=list)
    removed: set[tuple[str, str]] = field(default_factory=set)  # inferred links the user rejected
    measures: dict[str, str] = field(default_factory=dict)  # name -> DSL expression text
    measure_source: Callable[[], dict[str, str]] | None = None  # the catalog's measures, when attached
    _entities: dict[str, Entity] = field(default_factory=dict)
    _tables: list[str] | None = None
    _inferred: list[Relationship] | None = None
    _steps: dict[tuple[Any, ...], dict[str, Step]] = field(default_factory=dict)  # see steps_from
    # "sales.Customers" as written, and as resolved -> the table in another schema (find_table)
    _qualified: dict[str, TableName] = field(default_factory=dict)
    # (table, key columns) -> the key check's answer (``duplicates``): read once per model, or given by
    # the catalog's remembered answer (``key_checks``).
    _duplicates: dict[tuple[str, tuple[str, ...]], KeyCheck] = field(default_factory=dict)
    # Refreshes keep members in <prefix>members__<segment> tables and scratch work in _js_* tables:
    # not customer data, so not listed (a user's own "club_members__2024" is).
    members_prefix: str = "seg_"
    # table -> column -> the type the user says it holds (set_types), over the database's own types
    type_overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    # --- entities ---------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        if self._tables is None:
            internal = self.members_prefix + "members__"
            self._tables = sorted(
                t for t in self.backend.tables() if not (t.startswith("_js_") or t.startswith(internal))
            )
        return self._tables

    def find_table(self, name: str) -> str | None:
        """The table named exactly ``name``; else the one table whose name differs only in case (two
        such tables are a ``SegmentError`` naming both). ``schema.table`` (``database.table``,
        ``catalog.schema.table``, ``attached.table``) names a table outside the default schema, by the
        same rule; it is returned as a ``TableName`` that compiles to the qualified table."""
        if name in self._qualified:
            return self._qualified[name]
        tables = self.tables()
        if name in tables:
            return name
        folded = [t for t in tables if t.lower() == name.lower()]
        if not folded and "." in name:
            found = self._find_qualified(name)
            if found is not None:
                self._qualified[name] = self._qualified[found] = found
            return found
        if len(folded) > 1:
            raise SegmentError(
                f"'{name}' could be any of the tables {', '.join(repr(t) for t in sorted(folded))}: "
                "write the name with its exact case"
            )
        return folded[0] if folded else None

    def _find_qualified(self, name: str) -> TableName | None:
        parts = table_parts(name) if isinstance(name, TableName) else tuple(name.split("."))
        if not all(parts):
            raise SegmentError(f"'{name}' is not a table name: write schema.table")
        candidates = sorted(set(self.backend.qualified_tables(parts)))
        exact = [t for t in candidates if _written_as(parts, t.parts)]
        candidates = exact or candidates
        if len(candidates) > 1:
            raise SegmentError(
                f"'{name}' could be any of the tables {', '.join(repr(str(t)) for t in candidates)}: "
                + ("write the name as one of them" if exact else "write the name with its exact case")
            )
        return candidates[0] if candidates else None

    def known_tables(self) -> list[str]:
        """The default schema's tables, then the tables of other schemas the model uses."""
        used = [self.customer, *(t for r in self.declared for t in (r.child, r.parent))]
        tables = self.tables()
        return [*tables, *dict.fromkeys(t for t in used if t is not None and t not in tables)]

    def entity(self, name: str) -> Entity:
        table = self.find_table(name)
        if table is None:
            raise SegmentError(f"unknown table '{name}'{did_you_mean(name, self.tables())}")
        if table not in self._entities:
            cols = {c.name: self._as_declared(table, c) for c in self.backend.columns(table)}
            keys = self.customer_keys if table == self.customer else ()
            self._entities[table] = Entity(table, cols, keys)
        return self._entities[table]

    def _as_declared(self, table: str, col: Column) -> Column:
        """``col`` with the type the user gave it (``set_types``), remembering how it is stored."""
        declared = self.type_overrides.get(table, {}).get(col.name)
        if declared is None or declared == col.type:
            return col
        return Column(col.name, declared, col.db_type, stored=col.type)  # type: ignore[arg-type]

    def set_types(self, table: str, types: dict[str, str]) -> None:
        """Say what columns hold where the database's types do not (dates kept as text, flags kept as
        integers): ``{"escalated": "boolean", "call_date": "date"}``."""
        entity = self.entity(table)
        allowed = {"number", "string", "date", "timestamp", "boolean"}
        checked: dict[str, str] = {}
        for name, kind in types.items():
            col = entity.column(name)
            if col is None:
                raise SegmentError(
                    f"unknown column '{name}' on {entity.name}{did_you_mean(name, entity.columns)}"
                )
            if kind not in allowed:
                raise SegmentError(
                    f"unknown type '{kind}' for {entity.name}.{col.name}: use one of {sorted(allowed)}"
                )
            stored = col.stored or col.type
            if (stored, kind) not in _CONVERTIBLE and stored != kind:
                raise SegmentError(
                    f"{entity.name}.{col.name} is stored as {col.db_type} ({stored}): it cannot be read as {kind}"
                )
            checked[col.name] = kind
        self.type_overrides.setdefault(entity.name, {}).update(checked)
        self._entities.pop(entity.name, None)  # read again with the new types

    @property
    def customer_key(self) -> str | None:
        """The customer key as text: its column, or its columns joined by ", " (composite)."""
        return ", ".join(self.customer_keys) or None

    def set_customer(self, table: str, key: str | Sequence[str]) -> Entity:
        """The customer table and its key: one column, or several (``("region", "account_no")``)."""
        entity = self.entity(table)
        keys = self._columns_of(entity, key, "key")
        self.customer, self.customer_keys = entity.name, keys
        entity.keys = keys
        return entity

    def _columns_of(self, entity: Entity, names: str | Sequence[str], what: str) -> tuple[str, ...]:
        """The columns of ``entity`` named (any case when unambiguous), each once."""
        listed = (names,) if isinstance(names, str) else tuple(names)
        if not listed or not all(isinstance(n, str) and n for n in listed):
            raise SegmentError(f"{what} of {entity.name}: give a column name or a tuple of column names")
        found: list[str] = []
        for name in listed:
            col = entity.column(name)
            if col is None:
                raise SegmentError(
                    f"unknown column '{name}' on {entity.name}{did_you_mean(name, entity.columns)}"
                )
            if col.name in found:
                raise SegmentError(f"{what} of {entity.name} names {col.name} twice")
            found.append(col.name)
        return tuple(found)

    def key_of(self, table: str) -> str | None:
        """The column that identifies a row of ``table`` as far as the model knows: the customer key, or
        a column another table points to (a relationship's parent column) whose values are unique
        (checked once, see ``duplicates``); None if nothing says (or only a composite key does)."""
        entity = self.entity(table)
        if entity.keys:
            return entity.keys[0] if len(entity.keys) == 1 else None
        pointed_at = dict.fromkeys(
            r.parent_columns[0]
            for r in self.relationships()
            if r.parent == entity.name and len(r.parent_columns) == 1
        )
        return next((c for c in pointed_at if self.duplicates(entity.name, (c,)).repeated == 0), None)

    def key_may_be_null(self) -> bool:
        """Whether some customer row has a NULL in a key column (the key check's answer): such rows are
        never members, so the compiler then keeps them out."""
        return self.duplicates(self.customer_entity().name, self.customer_keys).nulls > 0

    def customer_entity(self) -> Entity:
        if self.customer is None:
            raise SegmentError(
                "no customer entity yet: call ws.customers('customers', key='customer_id') "
                "(or %segment customers customers --key customer_id)"
            )
        return self.entity(self.customer)

    def all_measures(self) -> dict[str, str]:
        found = dict(self.measure_source() if self.measure_source else {})
        found.update(self.measures)
        return found

    def invalidate(self) -> None:
        """Forget what was read from the database (after tables change)."""
        self._entities.clear()
        self._tables = None
        self._inferred = None
        self._steps.clear()
        self._duplicates.clear()
        self._qualified.clear()

    # --- relationships ----------------------------------------------------------------------------
    def add_relationship(
        self,
        child: str,
        parent: str,
        child_column: str | Sequence[str],
        parent_column: str | Sequence[str],
        assume_integrity: bool = False,
        *,
        name: str | None = None,
        parent_name: str | None = None,
        replace: bool = False,
    ) -> Relationship:
        """``child_column``/``parent_column``: one column each, or equally many (a composite key)."""
        c, p = self.entity(child), self.entity(parent)
        child_cols = self._columns_of(c, child_column, "the link")
        parent_cols = self._columns_of(p, parent_column, "the link")
        if len(child_cols) != len(parent_cols):
            raise SegmentError(
                f"cannot relate {columns_text(c.name, child_cols)} to {columns_text(p.name, parent_cols)}: "
                "give as many child columns as parent columns, in pairs: on=[(child, parent), ...]"
            )
        for cn, pn in zip(child_cols, parent_cols, strict=True):
            cc, pc = c.columns[cn], p.columns[pn]
            if cc.type != pc.type and "other" not in (cc.type, pc.type):
                raise SegmentError(
                    f"cannot relate {c.name}.{cc.name} ({cc.db_type}) to {p.name}.{pc.name} ({pc.db_type}): "
                    "the columns must hold the same kind of value"
                )
        rel = Relationship(
            c.name,
            p.name,
            child_cols,
            parent_cols,
            "declared",
            assume_integrity,
            name or None,
            parent_name or None,
        )
        kept: list[Relationship] = []
        for old in self.declared:
            same_roles = (old.child, old.parent, old.many_name, old.one_name) == (
                rel.child, rel.parent, rel.many_name, rel.one_name,
            )  # fmt: skip
            same_link = (old.child_columns, old.parent_columns) == (rel.child_columns, rel.parent_columns)
            if same_roles and (same_link or replace):
                continue  # declared again (e.g. with assume_integrity), or replaced on purpose
            if same_roles:
                on = (
                    (rel.child_columns[0], rel.parent_columns[0])
                    if len(rel.child_columns) == 1
                    else list(zip(rel.child_columns, rel.parent_columns, strict=True))
                )
                role = rel.child_columns[0]
                raise SegmentError(
                    f"{rel.child} -> {rel.parent} is already related on "
                    f"{columns_text(old.child, old.child_columns)} = {columns_text(old.parent, old.parent_columns)}; "
                    f"to add this link too, name its roles: ws.relate('{rel.child}', '{rel.parent}', on={on!r}, "
                    f"name='{role}_{rel.child}', parent_name='{role}_{rel.parent}'); "
                    "to replace it: replace=True (or ws.unrelate first)"
                )
            kept.append(old)
        self._refuse_clashing_names(rel, kept)
        self.declared = [*kept, rel]
        self.removed.discard((rel.child, rel.parent))
        return rel

    def _refuse_clashing_names(self, rel: Relationship, declared: list[Relationship]) -> None:
        """A step name means one thing from each table: refuse a role that another link or a column has."""
        declared_pairs = {(r.child, r.parent) for r in [*declared, rel]}
        others = [*declared, *(r for r in self.inferred() if (r.child, r.parent) not in declared_pairs)]
        for table, step_name, kind in (
            (rel.parent, rel.many_name, "name"),
            (rel.child, rel.one_name, "parent_name"),
        ):
            for other in others:
                for side, other_name in ((other.parent, other.many_name), (other.child, other.one_name)):
                    if side == table and other_name.lower() == step_name.lower():
                        raise SegmentError(
                            f"'{step_name}' already leads from {table} through {other.describe()}: "
                            f"give this relationship ({rel.child} -> {rel.parent}) another {kind}= "
                        )
            if self.entity(table).column(step_name) is not None:
                raise SegmentError(
                    f"'{step_name}' is a column of {table}: give this relationship another {kind}="
                )

    def remove_relationship(self, child: str, parent: str, name: str | None = None) -> None:
        """Remove the declared links from ``child`` to ``parent`` (only the one with role ``name`` if
        given); without a declared one, reject the inferred link."""
        c, p = self.entity(child).name, self.entity(parent).name
        self.declared = [
            r
            for r in self.declared
            if (r.child, r.parent) != (c, p) or (name is not None and r.many_name != name)
        ]
        if name is None:
            self.removed.add((c, p))

    # --- keys -------------------------------------------------------------------------------------
    def duplicates(self, table: str, columns: str | tuple[str, ...]) -> KeyCheck:
        """The key check of ``table``'s ``columns``: how many non-NULL values (tuples) appear more than
        once, the smallest of them, how many rows have a NULL in a key column. A PRIMARY KEY the
        database declares on exactly these columns answers without a query; otherwise one query the
        first time (one GROUP BY of all the columns). The answer is remembered until ``invalidate``, and
        the catalog keeps it with the time it was checked (``key_checks``)."""
        cols = (columns,) if isinstance(columns, str) else tuple(columns)
        found = self._duplicates.get((table, cols))
        if found is None and self._is_primary_key(table, cols):
            found = KeyCheck(0, None, 0, _now(), "primary key")  # the database guarantees it: no query
            self._duplicates[(table, cols)] = found
        if found is None:
            try:
                row = self.backend.query(duplicate_keys_sql(table, cols, self.backend.dialect)).iloc[0]
            except SegmentError:
                raise
            except Exception as e:  # noqa: BLE001 - a driver's error, reported with the database named
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise SegmentError(
                    f"the database ({self.backend.display_url}) could not check the key {', '.join(cols)} of "
                    f"{table}: {mask_url(reason)}"
                ) from None
            example = tuple(plain_value(v) for v in row.iloc[2:])
            found = KeyCheck(
                int(plain_value(row.iloc[1]) or 0),
                example[0] if len(example) == 1 else example,
                int(plain_value(row.iloc[0]) or 0),
                _now(),
            )
            self._duplicates[(table, cols)] = found
        return found

    def _is_primary_key(self, table: str, columns: tuple[str, ...]) -> bool:
        """Whether the database declares exactly ``columns`` as ``table``'s PRIMARY KEY (unique, never
        NULL). Backends without ``primary_key`` (Spark) have none."""
        primary_key = getattr(self.backend, "primary_key", None)
        if primary_key is None:
            return False
        declared = primary_key(table)
        return bool(declared) and {c.lower() for c in declared} == {c.lower() for c in columns}

    def key_checks(self) -> list[tuple[str, tuple[str, ...], KeyCheck]]:
        """Every key check answered so far: (table, columns, answer)."""
        return [(table, cols, check) for (table, cols), check in self._duplicates.items()]

    def remember_key_check(self, table: str, columns: tuple[str, ...], check: KeyCheck) -> None:
        """Take a key check's answer from elsewhere (the catalog): ``duplicates`` then runs no query."""
        self._duplicates.setdefault((table, tuple(columns)), check)

    def require_unique(self, table: str, columns: str | tuple[str, ...], advice: str) -> None:
        """``SegmentError`` unless ``table``'s ``columns`` identify one row (NULLs aside)."""
        cols = (columns,) if isinstance(columns, str) else tuple(columns)
        check = self.duplicates(table, cols)
        if check.repeated:
            values = f"{check.repeated} values appear" if check.repeated > 1 else "1 value appears"
            example = check.example if len(cols) == 1 else f"({', '.join(map(repr, check.example))})"
            raise SegmentError(
                f"{columns_text(table, cols)} is not unique: {values} more than once (e.g. {example}); {advice}"
            )

    def require_parent_key(self, rel: Relationship) -> None:
        """The parent side of a relationship must be a key, or each child row would meet several parents."""
        if rel.parent == self.customer and rel.parent_columns == self.customer_keys:
            advice = "a key must identify one customer"
        elif rel.child == self.customer:
            advice = (
                f"each {rel.child} row would meet several {rel.parent} rows; to relate {rel.parent} rows to "
                f"their customer: ws.relate('{rel.parent}', '{rel.child}', on={_on_text(rel.parent_columns, rel.child_columns)})"
            )
        else:
            wider = self._wider_key(rel) if self.duplicates(rel.parent, rel.parent_columns).repeated else None
            advice = f"{rel.child} rows would each meet several {rel.parent} rows: "
            if wider is not None:
                child_cols, parent_cols = wider
                advice += (
                    f"relate on ({', '.join(parent_cols)})? ws.relate('{rel.child}', '{rel.parent}', "
                    f"on={_on_text(child_cols, parent_cols)}, replace=True)"
                )
            else:
                advice += f"relate on a unique column (or columns) of {rel.parent}"
        self.require_unique(rel.parent, rel.parent_columns, advice)  # one query per key, remembered

    def _wider_key(self, rel: Relationship) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """A column pair that, added to ``rel``'s link, makes the parent side unique: a parent column
        that a child column matches by name (``ss_item_sk`` and ``sr_item_sk``: the same after the
        first ``_``) and type. One key check per candidate, at most three."""
        child, parent = self.entity(rel.child), self.entity(rel.parent)
        tried = 0
        for pc in parent.columns.values():
            if pc.name in rel.parent_columns or pc.type == "other":
                continue
            partner = next(
                (
                    cc.name
                    for cc in child.columns.values()
                    if cc.name not in rel.child_columns
                    and cc.type == pc.type
                    and _same_stem(cc.name, pc.name)
                ),
                None,
            )
            if partner is None:
                continue
            parent_cols, child_cols = (*rel.parent_columns, pc.name), (*rel.child_columns, partner)
            if self.duplicates(rel.parent, parent_cols).repeated == 0:
                return child_cols, parent_cols
            tried += 1
            if tried == 3:
                break
        return None

    def inferred(self) -> list[Relationship]:
        """Links from foreign-key constraints, then from ``<table>_id`` column names."""
        if self._inferred is None:
            found: dict[tuple[str, str], Relationship] = {}
            tables = set(self.tables())
            for fk in self.backend.foreign_keys():
                if fk.table in tables and fk.ref_table in tables:
                    found.setdefault(
                        (fk.table, fk.ref_table),
                        Relationship(fk.table, fk.ref_table, (fk.column,), (fk.ref_column,), "foreign key"),
                    )
            for parent in sorted(tables):
                for child in sorted(tables - {parent}):
                    if (child, parent) in found:
                        continue
                    rel = self._infer_by_name(child, parent)
                    if rel is not None:
                        found[(child, parent)] = rel
            self._inferred = list(found.values())
        return self._inferred

    def has_foreign_key(self, rel: Relationship) -> bool:
        """Whether the database declares ``rel`` as a FOREIGN KEY (also when the user declared it too)."""
        same = (rel.child, rel.parent, rel.child_column, rel.parent_column)
        return rel.origin == "foreign key" or any(
            r.origin == "foreign key" and (r.child, r.parent, r.child_column, r.parent_column) == same
            for r in self.inferred()
        )

    def _infer_by_name(self, child: str, parent: str) -> Relationship | None:
        # orders.customer_id -> customers.customer_id (or customers.id): singular or plural table name.
        stems = {parent, _singular(parent)}
        child_cols = self.entity(child).columns
        parent_cols = self.entity(parent).columns
        for stem in stems:
            col = f"{stem}_id"
            if col in child_cols:
                if col in parent_cols:
                    return Relationship(child, parent, (col,), (col,), "column name")
                if "id" in parent_cols:
                    return Relationship(child, parent, (col,), ("id",), "column name")
        return None

    def relationships(self) -> list[Relationship]:
        """Declared relationships, plus inferred ones for pairs the user has not declared or removed."""
        declared_pairs = {(r.child, r.parent) for r in self.declared}  # a declared link replaces the inferred
        inferred = [
            r
            for r in self.inferred()
            if (r.child, r.parent) not in declared_pairs and (r.child, r.parent) not in self.removed
        ]
        return [*self.declared, *inferred]

    def relationships_frame(self) -> pd.DataFrame:
        rows = [
            {
                "child": r.child,
                "child_column": r.child_column,
                "parent": r.parent,
                "parent_column": r.parent_column,
                "origin": r.origin,
                "assume_integrity": r.assume_integrity,
                "name": r.many_name,
                "parent_name": r.one_name,
            }
            for r in self.relationships()
        ]
        columns = [
            "child", "child_column", "parent", "parent_column", "origin", "assume_integrity", "name", "parent_name",
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def steps_from(self, entity: str) -> dict[str, Step]:
        """The named steps available from ``entity``: children (to-many) and parents (to-one)."""
        # Compiling one definition asks this dozens of times: remember the answer for the current
        # relationships (declared, removed and inferred, whoever changed them).
        state = (entity, tuple(self.declared), frozenset(self.removed), id(self.inferred()))
        cached = self._steps.get(state)
        if cached is not None:
            return cached
        steps: dict[str, Step] = {}
        for r in self.relationships():
            # A table related to itself (a referrer) needs role names to tell its two steps apart.
            itself = r.parent == r.child and r.many_name == r.child and r.one_name == r.parent
            if r.parent == entity and not itself:
                steps.setdefault(r.many_name, Step(r, to_many=True))
            if r.child == entity and not itself:
                steps.setdefault(r.one_name, Step(r, to_many=False))
        if len(self._steps) > 256:
            self._steps.clear()
        self._steps[state] = steps
        return steps

    def step(self, entity: str, name: str) -> Step | None:
        steps = self.steps_from(entity)
        if name in steps:
            return steps[name]
        folded = [s for n, s in steps.items() if n.lower() == name.lower()]
        return folded[0] if len(folded) == 1 else None


# What a column stored as one type may be read as (see compile's conversion of Col values).
_CONVERTIBLE = {
    ("string", "date"), ("string", "timestamp"), ("string", "number"), ("number", "boolean"),
    ("timestamp", "date"), ("number", "string"), ("other", "string"), ("other", "date"),
    ("other", "timestamp"), ("other", "number"), ("other", "boolean"),
}  # fmt: skip


def _written_as(written: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Whether ``written`` names the table at ``parts`` with its exact case: the same table name, and
    qualifiers that are a run of its qualifiers (DuckDB's ``other.t`` may be ``other.main.t`` and
    ``memory.other.t``)."""
    given, full = written[:-1], parts[:-1]
    runs = (full[i : i + len(given)] for i in range(len(full) - len(given) + 1))
    return written[-1] == parts[-1] and any(run == given for run in runs)


def link_columns(on: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The child and parent columns of a relate's ``on``: a shared name, a ``(child, parent)`` pair,
    or a list of pairs for a composite key."""
    if isinstance(on, str):
        return (on,), (on,)
    items = list(on) if isinstance(on, (list, tuple)) else []
    if len(items) == 2 and all(isinstance(i, str) for i in items):
        return (items[0],), (items[1],)
    pairs = [
        (i, i) if isinstance(i, str) else tuple(i) if isinstance(i, (list, tuple)) else () for i in items
    ]
    if not pairs or any(len(p) != 2 or not all(isinstance(c, str) for c in p) for p in pairs):
        raise SegmentError(
            f"on={on!r}: give a shared column name, a (child_column, parent_column) pair, or a list of "
            "pairs for a composite key: on=[('region', 'region'), ('account_no', 'account_no')]"
        )
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


@dataclass(frozen=True)
class KeyCheck:
    """The answer of one key check (``Model.duplicates``)."""

    repeated: int  # non-NULL values (tuples) that appear more than once
    example: Any  # the smallest of them (a tuple for several columns), None without any
    nulls: int  # rows with a NULL in a key column (never members, as a customer key)
    checked_at: str  # when the database was asked, ISO 8601 UTC
    source: str = "query"  # or "primary key": declared by the database, not counted


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _same_stem(a: str, b: str) -> bool:
    """``sr_item_sk`` and ``ss_item_sk`` (or two equal names): the same after a first ``_``."""
    return a.lower() == b.lower() or (
        "_" in a and "_" in b and a.split("_", 1)[1].lower() == b.split("_", 1)[1].lower()
    )


def _on_text(child_cols: tuple[str, ...], parent_cols: tuple[str, ...]) -> str:
    if len(child_cols) == 1:
        return repr((child_cols[0], parent_cols[0]))
    return repr(list(zip(child_cols, parent_cols, strict=True)))


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if re.search(r"(ss|x|ch|sh)es$", name):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name
