"""The data model: entities (tables), their columns and types, and the relationships between them.

Relationships are directed child -> parent ("each child row points to one parent row"). From the parent the
children are a to-many step; from the child the parent is a to-one step. Steps are named by the table they
lead to, so ``orders.order_lines.quantity`` reads as a path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from .backends.base import Backend, Column, duplicate_keys_sql
from .errors import SegmentError, did_you_mean

Origin = Literal["declared", "foreign key", "column name"]


@dataclass(frozen=True)
class Relationship:
    child: str
    parent: str
    child_column: str
    parent_column: str
    origin: Origin = "declared"
    # The user's word that every non-NULL child value exists in the parent (no orphans), as a BI
    # tool's "assume referential integrity": the compiler may then read the child table alone.
    assume_integrity: bool = False
    # Role names, for tables linked more than once: the to-many step from the parent (default: the
    # child table's name) and the to-one step from the child (default: the parent table's name).
    name: str | None = None
    parent_name: str | None = None

    @property
    def many_name(self) -> str:
        return self.name or self.child

    @property
    def one_name(self) -> str:
        return self.parent_name or self.parent

    def describe(self) -> str:
        integrity = ", integrity assumed" if self.assume_integrity else ""
        roles = f" as {self.many_name} / {self.one_name}" if self.name or self.parent_name else ""
        return (
            f"{self.child}.{self.child_column} -> {self.parent}.{self.parent_column}{roles} "
            f"({self.origin}{integrity})"
        )


@dataclass
class Entity:
    name: str
    columns: dict[str, Column]
    key: str | None = None

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
    def source_column(self) -> str:
        r = self.relationship
        return r.parent_column if self.to_many else r.child_column

    @property
    def target_column(self) -> str:
        r = self.relationship
        return r.child_column if self.to_many else r.parent_column


@dataclass
class Model:
    """Entities are read from the database on first use; relationships are declared or inferred."""

    backend: Backend
    customer: str | None = None
    customer_key: str | None = None
    declared: list[Relationship] = field(default_factory=list)
    removed: set[tuple[str, str]] = field(default_factory=set)  # inferred links the user rejected
    measures: dict[str, str] = field(default_factory=dict)  # name -> DSL expression text
    measure_source: Callable[[], dict[str, str]] | None = None  # the catalog's measures, when attached
    _entities: dict[str, Entity] = field(default_factory=dict)
    _tables: list[str] | None = None
    _inferred: list[Relationship] | None = None
    _steps: dict[tuple[Any, ...], dict[str, Step]] = field(default_factory=dict)  # see steps_from
    # (table, column) -> (how many values appear more than once, the smallest of them): read once.
    _duplicates: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
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
        such tables are a ``SegmentError`` naming both)."""
        tables = self.tables()
        if name in tables:
            return name
        folded = [t for t in tables if t.lower() == name.lower()]
        if len(folded) > 1:
            raise SegmentError(
                f"'{name}' could be any of the tables {', '.join(repr(t) for t in sorted(folded))}: "
                "write the name with its exact case"
            )
        return folded[0] if folded else None

    def entity(self, name: str) -> Entity:
        table = self.find_table(name)
        if table is None:
            raise SegmentError(f"unknown table '{name}'{did_you_mean(name, self.tables())}")
        if table not in self._entities:
            cols = {c.name: self._as_declared(table, c) for c in self.backend.columns(table)}
            key = self.customer_key if table == self.customer else None
            self._entities[table] = Entity(table, cols, key)
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

    def set_customer(self, table: str, key: str) -> Entity:
        entity = self.entity(table)
        col = entity.column(key)
        if col is None:
            raise SegmentError(f"unknown column '{key}' on {entity.name}{did_you_mean(key, entity.columns)}")
        self.customer, self.customer_key = entity.name, col.name
        entity.key = col.name
        return entity

    def key_of(self, table: str) -> str | None:
        """The column that identifies a row of ``table`` as far as the model knows: the customer key, or
        a column another table points to (a relationship's parent column) whose values are unique
        (checked once, see ``duplicates``); None if nothing says."""
        entity = self.entity(table)
        if entity.key is not None:
            return entity.key
        pointed_at = dict.fromkeys(r.parent_column for r in self.relationships() if r.parent == entity.name)
        return next((c for c in pointed_at if self.duplicates(entity.name, c)[0] == 0), None)

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

    # --- relationships ----------------------------------------------------------------------------
    def add_relationship(
        self,
        child: str,
        parent: str,
        child_column: str,
        parent_column: str,
        assume_integrity: bool = False,
        *,
        name: str | None = None,
        parent_name: str | None = None,
        replace: bool = False,
    ) -> Relationship:
        c, p = self.entity(child), self.entity(parent)
        cc, pc = c.column(child_column), p.column(parent_column)
        if cc is None:
            raise SegmentError(
                f"unknown column '{child_column}' on {c.name}{did_you_mean(child_column, c.columns)}"
            )
        if pc is None:
            raise SegmentError(
                f"unknown column '{parent_column}' on {p.name}{did_you_mean(parent_column, p.columns)}"
            )
        if cc.type != pc.type and "other" not in (cc.type, pc.type):
            raise SegmentError(
                f"cannot relate {c.name}.{cc.name} ({cc.db_type}) to {p.name}.{pc.name} ({pc.db_type}): "
                "the columns must hold the same kind of value"
            )
        rel = Relationship(
            c.name, p.name, cc.name, pc.name, "declared", assume_integrity, name or None, parent_name or None
        )
        kept: list[Relationship] = []
        for old in self.declared:
            same_roles = (old.child, old.parent, old.many_name, old.one_name) == (
                rel.child, rel.parent, rel.many_name, rel.one_name,
            )  # fmt: skip
            same_link = (old.child_column, old.parent_column) == (rel.child_column, rel.parent_column)
            if same_roles and (same_link or replace):
                continue  # declared again (e.g. with assume_integrity), or replaced on purpose
            if same_roles:
                raise SegmentError(
                    f"{rel.child} -> {rel.parent} is already related on {old.child}.{old.child_column} = "
                    f"{old.parent}.{old.parent_column}; to add this link too, name its roles: "
                    f"ws.relate('{rel.child}', '{rel.parent}', on=('{rel.child_column}', '{rel.parent_column}'), "
                    f"name='{rel.child_column}_{rel.child}', parent_name='{rel.child_column}_{rel.parent}'); "
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
                            f"give this relationship another {kind}= "
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
    def duplicates(self, table: str, column: str) -> tuple[int, Any]:
        """How many non-NULL values of ``table.column`` appear more than once, and the smallest of them
        (one query the first time; the answer is remembered until ``invalidate``)."""
        found = self._duplicates.get((table, column))
        if found is None:
            row = self.backend.query(duplicate_keys_sql(table, column, self.backend.dialect)).iloc[0]
            found = (int(row.iloc[0] or 0), row.iloc[1])
            self._duplicates[(table, column)] = found
        return found

    def require_unique(self, table: str, column: str, advice: str) -> None:
        """``SegmentError`` unless ``table.column`` identifies one row (NULLs aside)."""
        n, example = self.duplicates(table, column)
        if n:
            values = f"{n} values appear" if n > 1 else "1 value appears"
            raise SegmentError(
                f"{table}.{column} is not unique: {values} more than once (e.g. {example}); {advice}"
            )

    def require_parent_key(self, rel: Relationship) -> None:
        """The parent side of a relationship must be a key, or each child row would meet several parents."""
        if rel.parent == self.customer and rel.parent_column == self.customer_key:
            advice = "a key must identify one customer"
        elif rel.child == self.customer:
            advice = (
                f"each {rel.child} row would meet several {rel.parent} rows; to relate {rel.parent} rows to "
                f"their customer: ws.relate('{rel.parent}', '{rel.child}', on=('{rel.parent_column}', "
                f"'{rel.child_column}'))"
            )
        else:
            advice = (
                f"{rel.child} rows would each meet several {rel.parent} rows: relate on a unique column "
                f"of {rel.parent}"
            )
        self.require_unique(rel.parent, rel.parent_column, advice)  # one query per key, remembered

    def inferred(self) -> list[Relationship]:
        """Links from foreign-key constraints, then from ``<table>_id`` column names."""
        if self._inferred is None:
            found: dict[tuple[str, str], Relationship] = {}
            tables = set(self.tables())
            for fk in self.backend.foreign_keys():
                if fk.table in tables and fk.ref_table in tables:
                    found.setdefault(
                        (fk.table, fk.ref_table),
                        Relationship(fk.table, fk.ref_table, fk.column, fk.ref_column, "foreign key"),
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
                    return Relationship(child, parent, col, col, "column name")
                if "id" in parent_cols:
                    return Relationship(child, parent, col, "id", "column name")
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


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if re.search(r"(ss|x|ch|sh)es$", name):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name
