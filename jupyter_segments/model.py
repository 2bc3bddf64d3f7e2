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

from .backends.base import Backend, Column
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

    def describe(self) -> str:
        integrity = ", integrity assumed" if self.assume_integrity else ""
        return f"{self.child}.{self.child_column} -> {self.parent}.{self.parent_column} ({self.origin}{integrity})"


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

    # --- entities ---------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        if self._tables is None:
            self._tables = sorted(t for t in self.backend.tables() if not _is_internal(t))
        return self._tables

    def find_table(self, name: str) -> str | None:
        tables = self.tables()
        if name in tables:
            return name
        folded = [t for t in tables if t.lower() == name.lower()]
        return folded[0] if len(folded) == 1 else None

    def entity(self, name: str) -> Entity:
        table = self.find_table(name)
        if table is None:
            raise SegmentError(f"unknown table '{name}'{did_you_mean(name, self.tables())}")
        if table not in self._entities:
            cols = {c.name: c for c in self.backend.columns(table)}
            key = self.customer_key if table == self.customer else None
            self._entities[table] = Entity(table, cols, key)
        return self._entities[table]

    def set_customer(self, table: str, key: str) -> Entity:
        entity = self.entity(table)
        col = entity.column(key)
        if col is None:
            raise SegmentError(f"unknown column '{key}' on {entity.name}{did_you_mean(key, entity.columns)}")
        self.customer, self.customer_key = entity.name, col.name
        entity.key = col.name
        return entity

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

    # --- relationships ----------------------------------------------------------------------------
    def add_relationship(
        self, child: str, parent: str, child_column: str, parent_column: str, assume_integrity: bool = False
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
        rel = Relationship(c.name, p.name, cc.name, pc.name, "declared", assume_integrity)
        self.declared = [r for r in self.declared if (r.child, r.parent) != (rel.child, rel.parent)]
        self.declared.append(rel)
        self.removed.discard((rel.child, rel.parent))
        return rel

    def remove_relationship(self, child: str, parent: str) -> None:
        c, p = self.entity(child).name, self.entity(parent).name
        self.declared = [r for r in self.declared if (r.child, r.parent) != (c, p)]
        self.removed.add((c, p))

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
        declared_pairs = {(r.child, r.parent) for r in self.declared}
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
            }
            for r in self.relationships()
        ]
        columns = ["child", "child_column", "parent", "parent_column", "origin", "assume_integrity"]
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
            if r.parent == entity and r.child != entity:
                steps.setdefault(r.child, Step(r, to_many=True))
            if r.child == entity and r.parent != entity:
                steps.setdefault(r.parent, Step(r, to_many=False))
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


# _js_* are scratch tables of refreshes (possibly another process's); <prefix>members__<segment> hold
# refreshed members. Neither is customer data: listing them would infer bogus relationships.
_INTERNAL = re.compile(r"^(_js_|\w*?members__)")


def _is_internal(table: str) -> bool:
    return bool(_INTERNAL.match(table))


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if re.search(r"(ss|x|ch|sh)es$", name):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name
