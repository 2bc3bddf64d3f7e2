"""Catalog reads and writes behind Workspace methods that need no refresh: the segment and measure
listings, saving a measure, the model kept for scheduled refreshes, segment name checks.

Saving, getting and duplicating segments (which may refresh) live in ``jupyter_segments.segments``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..dsl import parse_condition
from ..errors import SegmentError, did_you_mean
from ..model import KeyCheck, Model
from .store import NOT_STARTED, Catalog, UnknownSegment

if TYPE_CHECKING:
    from ..session import Session

SEGMENT_COLUMNS = [
    "name", "display_name", "type", "state", "draft", "members", "last_refresh", "last_status", "added",
    "removed", "description", "definition", "version", "created_at", "updated_at", "activate_at",
    "deactivate_at", "location", "tags",
]  # fmt: skip
_SORTS = {
    "name",
    "display_name",
    "members",
    "last_refresh",
    "last_status",
    "created_at",
    "updated_at",
    "state",
    "type",
}
_MEASURE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise SegmentError(f"a segment name must be non-empty text, not {name!r}")
    if len(name) > 500:
        raise SegmentError("a segment name may have at most 500 characters")


def list_segments(
    cat: Catalog, search: str | None = None, sort: str = "name", state: str | None = None
) -> pd.DataFrame:
    """The saved segments as a DataFrame (one row each), optionally filtered and sorted."""
    cat.recover()
    runs = {}
    rows = cat.segment_rows()
    run_ids = [r["last_run_id"] for r in rows if r["last_run_id"]] + [
        r["members_run_id"] for r in rows if r["members_run_id"]
    ]
    if run_ids:
        import sqlalchemy as sa

        t = cat.t.runs
        with cat.engine.connect() as c:
            for m in c.execute(sa.select(t).where(t.c.id.in_(run_ids))):
                runs[m.id] = dict(m._mapping)
    tags = cat.tags()
    out = []
    for r in rows:
        last = runs.get(r["last_run_id"])
        good = runs.get(r["members_run_id"])
        out.append(
            {
                "name": r["name"], "display_name": r["display_name"] or r["name"], "type": r["type"],
                "state": r["state"], "draft": bool(r["draft"]),
                "members": good["members"] if good else None,
                "last_refresh": (good["finished_at"] if good else None),
                "last_status": last["status"] if last else NOT_STARTED,
                "added": good["added"] if good else None, "removed": good["removed"] if good else None,
                "description": r["description"], "definition": r["definition"], "version": r["version"],
                "created_at": r["created_at"], "updated_at": r["updated_at"], "activate_at": r["activate_at"],
                "deactivate_at": r["deactivate_at"], "location": r["members_location"],
                "tags": tags.get(r["id"], []),
            }
        )  # fmt: skip
    frame = pd.DataFrame(out, columns=SEGMENT_COLUMNS)
    frame["members"] = frame["members"].astype("Int64")
    frame["added"] = frame["added"].astype("Int64")
    frame["removed"] = frame["removed"].astype("Int64")
    if search:
        needle = search.lower()
        hay = (
            frame["name"] + " " + frame["display_name"].fillna("") + " " + frame["description"].fillna("")
        ).str.lower()
        frame = frame[hay.str.contains(needle, regex=False)]
    if state is not None:
        frame = frame[frame["state"] == state]
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in _SORTS:
        raise SegmentError(
            f"cannot sort by {key!r}{did_you_mean(key, _SORTS)}; choose one of {', '.join(sorted(_SORTS))}"
        )
    # Counts and dates read best largest/newest first; names A to Z. A leading '-' flips it.
    natural_desc = key in ("members", "last_refresh", "created_at", "updated_at")
    frame = frame.sort_values(
        [key, "name"], ascending=[natural_desc == descending, True], na_position="last", kind="stable"
    )
    return frame.reset_index(drop=True)


# --- measures -----------------------------------------------------------------------------------------


def check_measure(session: Session, name: str, expression: str) -> None:
    """``SegmentError`` unless ``name`` can be a measure and ``expression`` type-checks as a customer value."""
    if not isinstance(name, str) or not _MEASURE_NAME.match(name):
        raise SegmentError(f"a measure name is a plain identifier such as total_spend, not {name!r}")
    customer = session.model.customer_entity()
    if customer.column(name) is not None:
        raise SegmentError(f"'{name}' is already a column of {customer.name}: choose another measure name")
    parse_condition(expression)  # syntax errors now, with a caret
    # Type-check the expression where it will be used: as a value on the customer.
    session.model.measures[name] = expression
    try:
        session.check(f"{name} is null")
    finally:
        del session.model.measures[name]


def save_measure(model: Model, cat: Catalog, name: str, expression: str, description: str | None) -> None:
    """Save a measure that ``check_measure`` accepted (and the model it was checked against)."""
    remember_model(model, cat)
    cat.save_measure(name, expression, description)


def list_measures(cat: Catalog) -> pd.DataFrame:
    cols = ["name", "expression", "description", "created_at", "updated_at"]
    rows = cat.measure_rows()
    return pd.DataFrame([{k: r[k] for k in cols} for r in rows], columns=cols)


# --- the model a scheduled refresh needs (customer entity, declared relationships) --------------------


def remember_model(m: Model, cat: Catalog) -> None:
    """Keep the customer entity and declared relationships in the catalog so ``jupyter-segments
    refresh`` (a fresh process with only a URL) evaluates definitions the same way."""
    if m.customer is None:
        return
    cat.set_setting(
        "model",
        {
            "customer": m.customer,
            # one column as its name (as before composite keys), several as a list
            "key": m.customer_keys[0] if len(m.customer_keys) == 1 else list(m.customer_keys),
            "relationships": [
                [
                    r.child,
                    r.parent,
                    r.child_columns[0] if len(r.child_columns) == 1 else list(r.child_columns),
                    r.parent_columns[0] if len(r.parent_columns) == 1 else list(r.parent_columns),
                    r.assume_integrity,
                    r.name,
                    r.parent_name,
                ]
                for r in m.declared
            ],
            "removed": sorted([list(p) for p in m.removed]),
            "types": m.type_overrides,
            # key checks answered (one GROUP BY each), with when: a reopened workspace does not re-run them
            "key_checks": [
                [
                    table,
                    list(columns),
                    check.repeated,
                    _json_value(check.example),
                    check.nulls,
                    check.checked_at,
                    check.source,
                ]
                for table, columns, check in m.key_checks()
            ],
        },
    )


def _json_value(value: Any) -> Any:
    """A key check's example as JSON keeps it (a tuple as a list; dates and the like as text)."""
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def restore_model(model: Model, cat: Catalog) -> None:
    """Apply the model saved in the catalog to a model that has no customer entity declared (the key
    checks' answers in any case)."""
    saved = cat.get_setting("model")
    if not saved:
        return
    for table, columns, repeated, example, nulls, checked_at, *source in saved.get("key_checks", []):
        example = tuple(example) if isinstance(example, list) else example
        check = KeyCheck(repeated, example, nulls, checked_at, *source[:1])
        model.remember_key_check(table, tuple(columns), check)
    if model.customer is not None:
        return
    try:
        model.set_customer(saved["customer"], saved["key"])
        # 4 items before 0.2, 5 before role names
        for child, parent, cc, pc, *rest in saved.get("relationships", []):
            assumed, name, parent_name = (*rest, None, None, None)[:3]
            model.add_relationship(
                child, parent, cc, pc, bool(assumed), name=name, parent_name=parent_name, replace=True
            )
        for child, parent in saved.get("removed", []):
            model.removed.add((child, parent))
        for table, types in saved.get("types", {}).items():
            model.set_types(table, types)
    except SegmentError:
        # The database no longer has those tables: the user will be told when they use it.
        pass


__all__ = [
    "UnknownSegment", "check_measure", "check_name", "list_measures", "list_segments", "remember_model", "restore_model",
    "save_measure",
]  # fmt: skip
