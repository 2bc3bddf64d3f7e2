"""Catalog operations behind the Workspace methods: save, list, duplicate, measures, model persistence."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..dsl import parse_condition
from ..errors import SegmentError, did_you_mean
from .segment import Segment
from .store import NOT_STARTED, Catalog, UnknownSegment

if TYPE_CHECKING:
    from ..dsl.ast import Definition
    from ..workspace import Workspace

SEGMENT_COLUMNS = [
    "name", "display_name", "type", "state", "draft", "members", "last_refresh", "last_status", "added",
    "removed", "description", "definition", "version", "created_at", "updated_at", "activate_at",
    "deactivate_at", "location",
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


def referrers(cat: Catalog, name: str) -> list[str]:
    """Names of the other segments whose definition says ``in segment <name>``."""
    from ..refresh import references

    return sorted(
        r["name"] for r in cat.segment_rows() if r["name"] != name and name in references(r["definition"])
    )


def save(
    ws: Workspace,
    name: str,
    definition: str | Definition,
    *,
    description: str | None = None,
    display_name: str | None = None,
    type: str = "dynamic",
    draft: bool = False,
) -> Segment:
    """Create segment ``name`` or, if it exists, save ``definition`` as its next version."""
    check_name(name)
    if not isinstance(definition, str):
        from ..dsl import to_text

        definition = to_text(definition)
    if type not in ("dynamic", "static"):
        raise SegmentError(f"type must be 'dynamic' or 'static', not {type!r}")
    if draft and type == "static":
        raise SegmentError("a static segment is a snapshot of members and cannot be a draft")
    if not draft:
        # Validate before anything is written: a bad definition leaves the catalog untouched.
        ws.check(definition)
    cat = ws.catalog
    _remember_model(ws, cat)
    if not cat.has_segment(name):
        seg_id = cat.create_segment(
            name, definition, description=description, display_name=display_name, type=type,
            state="inactive" if draft else "active", draft=draft,
        )  # fmt: skip
        seg = Segment(ws, seg_id)
        if type == "static":
            run = ws.refresh([name], trigger="create", _allow_static=True)[0]
            if not run.ok:
                with cat.transaction() as c:
                    cat.delete_segment(seg_id, c)
                raise SegmentError(
                    f"the static segment '{name}' could not be evaluated: {'; '.join(run.errors)}"
                )
        return seg
    row = cat.segment_row(name)
    if row["type"] != type:
        raise SegmentError(f"segment '{name}' exists and is {row['type']}; its type cannot change")
    if row["type"] == "static":
        raise SegmentError(f"'{name}' is static: its members are a snapshot; save a new segment instead")
    with cat.transaction() as c:
        if (
            definition != row["definition"]
            or draft != bool(row["draft"])
            or (description is not None and description != row["description"])
        ):
            cat.add_version(
                row["id"],
                definition,
                description if description is not None else row["description"],
                draft,
                c,
            )
        values: dict[str, Any] = {}
        if display_name is not None:
            values["display_name"] = display_name
        if draft:
            values["state"] = "inactive"  # a draft holds no members
        if values:
            cat.update_segment(row["id"], c, **values)
    if draft and row["state"] == "active":
        from ..refresh import drop_members

        drop_members(ws, row)
        cat.update_segment(
            row["id"], touch=False, members_location=None, members_table=None, members_file=None,
            prev_members_file=None, has_prev=False, members_run_id=None,
        )  # fmt: skip
    return Segment(ws, row["id"])


def get(ws: Workspace, name: str) -> Segment:
    row = ws.catalog.segment_row(name)
    return Segment(ws, row["id"])


def duplicate(ws: Workspace, name: str, new_name: str, **changes: Any) -> Segment:
    """A new (dynamic, not yet refreshed) segment with the definition and description of ``name``."""
    row = ws.catalog.segment_row(name)
    if row["type"] == "static":
        raise SegmentError(
            f"'{name}' is static: a copy would need its frozen members, which are not definitions"
        )
    return save(
        ws, new_name, changes.get("definition", row["definition"]),
        description=changes.get("description", row["description"]),
        display_name=changes.get("display_name"), type="dynamic", draft=bool(row["draft"]),
    )  # fmt: skip


def list_segments(
    ws: Workspace, search: str | None = None, sort: str = "name", state: str | None = None
) -> pd.DataFrame:
    """The saved segments as a DataFrame (one row each), optionally filtered and sorted."""
    cat = ws.catalog
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


def save_measure(ws: Workspace, name: str, expression: str, description: str | None = None) -> None:
    """Save a named customer-level expression, usable as an attribute in any definition."""
    if not isinstance(name, str) or not _MEASURE_NAME.match(name):
        raise SegmentError(f"a measure name is a plain identifier such as total_spend, not {name!r}")
    customer = ws.model.customer_entity()
    if customer.column(name) is not None:
        raise SegmentError(f"'{name}' is already a column of {customer.name}: choose another measure name")
    parse_condition(expression)  # syntax errors now, with a caret
    # Type-check the expression where it will be used: as a value on the customer.
    ws.model.measures[name] = expression
    try:
        ws.check(f"{name} is null")
    finally:
        del ws.model.measures[name]
    cat = ws.catalog
    _remember_model(ws, cat)
    cat.save_measure(name, expression, description)


def list_measures(ws: Workspace) -> pd.DataFrame:
    cols = ["name", "expression", "description", "created_at", "updated_at"]
    rows = ws.catalog.measure_rows()
    return pd.DataFrame([{k: r[k] for k in cols} for r in rows], columns=cols)


# --- the model a scheduled refresh needs (customer entity, declared relationships) --------------------


def _remember_model(ws: Workspace, cat: Catalog) -> None:
    """Keep the customer entity and declared relationships in the catalog so ``jupyter-segments
    refresh`` (a fresh process with only a URL) evaluates definitions the same way."""
    m = ws.model
    if m.customer is None:
        return
    cat.set_setting(
        "model",
        {
            "customer": m.customer,
            "key": m.customer_key,
            "relationships": [
                [r.child, r.parent, r.child_column, r.parent_column, r.assume_integrity] for r in m.declared
            ],
            "removed": sorted([list(p) for p in m.removed]),
        },
    )


def restore_model(ws: Workspace, cat: Catalog) -> None:
    """Apply the model saved in the catalog to a workspace that has not declared one."""
    if ws.model.customer is not None:
        return
    saved = cat.get_setting("model")
    if not saved:
        return
    try:
        ws.customers(saved["customer"], key=saved["key"])
        for child, parent, cc, pc, *assumed in saved.get("relationships", []):  # 4 items before 0.2
            if (child, parent) not in {(r.child, r.parent) for r in ws.model.declared}:
                ws.model.add_relationship(child, parent, cc, pc, bool(assumed and assumed[0]))
        for child, parent in saved.get("removed", []):
            ws.model.removed.add((child, parent))
    except SegmentError:
        # The database no longer has those tables: the user will be told when they use it.
        pass


__all__ = ["UnknownSegment", "duplicate", "get", "list_measures", "list_segments", "save", "save_measure"]
