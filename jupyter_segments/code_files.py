"""Segments as code: a folder of ``.segment`` files, one segment each, loaded into the catalog and written
out of it, so segments live in git and review happens on text.

A file is a header of ``-- field: value`` comment lines, then the definition::

    -- name: vip
    -- description: customers who spent 1,000 or more
    -- tags: value, retail
    -- dialects: duckdb, postgres
    sum(orders.amount) >= 1000

Because the header is made of DSL comments, the whole file is a definition: errors and warnings point at
the file's own lines. Fields: ``name`` (default: the file name without ``.segment``), ``display_name``,
``description``, ``tags`` and ``dialects`` (comma-separated; ``check`` compiles the definition for each
dialect listed), ``draft`` (true/false). The header ends at the first line that is not such a field.

- ``sync(ws, folder)``: create the segments that are new, save a new version of those whose definition,
  description or draft changed, update display names and tags; report what changed. Nothing is deleted
  unless ``prune=True`` (then dynamic segments without a file go; static ones are member lists, never
  code, and stay). Every file is validated first: one bad file and nothing is written.
- ``export_code(ws, folder)``: the catalog's dynamic segments written out the same way.
- ``check(ws, folder)``: every file validated against the workspace's model, with the static checks'
  warnings and the dialects compiled: what CI runs (``jupyter-segments check``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlglot.dialects.dialect import Dialect

from .bind import bind
from .bind import typed as T
from .bind.binder import SegmentSource
from .bind.checks import warnings as static_warnings
from .compile import build_query
from .compile.compiler import Options
from .dsl import parse
from .errors import SegmentError, did_you_mean, plural
from .refresh import dependency_order, references
from .segments import referrers, save

if TYPE_CHECKING:
    from .workspace import Workspace

SUFFIX = ".segment"
FIELDS = ("name", "display_name", "description", "tags", "dialects", "draft")
_FIELD_LINE = re.compile(r"^--\s*([A-Za-z_]+)\s*:\s?(.*?)\s*$")
_DIALECT_ALIASES = {"postgresql": "postgres", "mariadb": "mysql", "sqlserver": "tsql", "mssql": "tsql"}


@dataclass
class SegmentFile:
    """One ``.segment`` file: its header fields and the definition below them."""

    path: Path
    name: str
    definition: str
    text: str  # the whole file: a definition too (the header is comments), so lines match the file's
    display_name: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    dialects: list[str] = field(default_factory=list)
    draft: bool = False


def read_file(path: str | os.PathLike[str]) -> SegmentFile:
    """Read one ``.segment`` file; a bad header is a ``SegmentError`` naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SegmentError(f"{path}: cannot read it: {e}") from None
    values: dict[str, str] = {}
    lines = text.splitlines()
    body_start = len(lines)
    for number, line in enumerate(lines, 1):
        m = _FIELD_LINE.match(line.strip())
        if not m:
            body_start = number - 1
            break
        key, value = m[1].lower(), m[2]
        if key not in FIELDS:
            raise SegmentError(
                f"{path}:{number}: unknown header field '{key}'{did_you_mean(key, FIELDS)}",
                hint=f"header fields: {', '.join(FIELDS)} (a comment line without 'word:' ends the header)",
            )
        if key in values:
            raise SegmentError(f"{path}:{number}: '{key}' is given twice")
        values[key] = value
    definition = "\n".join(lines[body_start:]).strip()
    if not definition:
        raise SegmentError(f"{path}: no definition below the header")
    name = values.get("name") or (path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem)
    draft = values.get("draft", "false").lower()
    if draft not in ("true", "false", "yes", "no"):
        raise SegmentError(f"{path}: draft must be true or false, not {values['draft']!r}")
    dialects = _items(values.get("dialects", ""))
    for d in dialects:
        if _dialect(d) is None:
            known = sorted(x for x in Dialect.classes if x)
            raise SegmentError(f"{path}: unknown dialect '{d}'{did_you_mean(d, known)}")
    return SegmentFile(
        path=path, name=name, definition=definition, text=text,
        display_name=values.get("display_name") or None, description=values.get("description") or None,
        tags=_items(values.get("tags", "")), dialects=[_dialect(d) or d for d in dialects],
        draft=draft in ("true", "yes"),
    )  # fmt: skip


def _items(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _dialect(name: str) -> str | None:
    name = _DIALECT_ALIASES.get(name.lower(), name.lower())
    return name if name and name in Dialect.classes else None


def read_folder(folder: str | os.PathLike[str]) -> tuple[list[SegmentFile], list[Finding]]:
    """Every ``*.segment`` file under ``folder`` (sorted by path), and the findings of those that
    cannot be read (a bad header, two files with one name)."""
    root = Path(folder)
    if not root.is_dir():
        raise SegmentError(f"there is no folder {root}")
    files: list[SegmentFile] = []
    problems: list[Finding] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob(f"*{SUFFIX}")):
        try:
            f = read_file(path)
        except SegmentError as e:
            m = re.match(rf"^{re.escape(str(path))}(?::(\d+))?: ", e.reason)
            message = e.reason[m.end() :] if m else e.reason
            problems.append(Finding(str(path), None, "error", message, int(m[1]) if m and m[1] else None))
            continue
        if f.name in seen:
            problems.append(
                Finding(str(path), f.name, "error", f"segment '{f.name}' is also defined in {seen[f.name]}")
            )
            continue
        seen[f.name] = path
        files.append(f)
    return files, problems


def render(
    name: str,
    definition: str,
    *,
    display_name: str | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
    dialects: Sequence[str] = (),
    draft: bool = False,
) -> str:
    """The text of a ``.segment`` file (what ``export_code`` writes)."""
    lines = [f"-- name: {name}"]
    if display_name and display_name != name:
        lines.append(f"-- display_name: {_one_line(display_name)}")
    if description:
        lines.append(f"-- description: {_one_line(description)}")
    if tags:
        lines.append(f"-- tags: {', '.join(tags)}")
    if dialects:
        lines.append(f"-- dialects: {', '.join(dialects)}")
    if draft:
        lines.append("-- draft: true")
    body = definition.strip()
    if _FIELD_LINE.match(body.splitlines()[0].strip()):
        lines.append("")  # a definition starting with a '-- word:' comment must not join the header
    return "\n".join([*lines, body]) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def file_name(name: str) -> str:
    """A file name for segment ``name``: its letters, digits, ``_``, ``-`` and ``.``, the rest as ``_``."""
    slug = re.sub(r"[^0-9A-Za-z_.-]+", "_", name).strip("._") or "segment"
    return slug + SUFFIX


# --- findings: what check and sync report --------------------------------------------------------------


@dataclass
class Finding:
    """One problem with a file: ``severity`` is error or warning; ``line``/``column`` in the file."""

    file: str
    segment: str | None
    severity: str
    message: str
    line: int | None = None
    column: int | None = None
    excerpt: str | None = None

    def __str__(self) -> str:
        where = (
            self.file + (f":{self.line}" if self.line else "") + (f":{self.column}" if self.column else "")
        )
        text = f"{where}: {self.severity}: {self.message}"
        return text + (f"\n{self.excerpt}" if self.excerpt else "")


def _finding(f: SegmentFile, severity: str, error: Any) -> Finding:
    """A Finding from a SegmentError or CheckWarning raised on the file's whole text."""
    message = getattr(error, "reason", None) or getattr(error, "message", None) or str(error)
    line = column = excerpt = None
    if getattr(error, "text", None) == f.text:  # positions in the file itself (not a referenced segment)
        line, column = error.line, error.column
        excerpt = str(error).split("\n", 1)[1] if "\n" in str(error) else None
        if excerpt and getattr(error, "hint", None):
            excerpt = excerpt.rsplit("\n", 1)[0] if excerpt.endswith(error.hint) else excerpt
    elif getattr(error, "text", None) and "\n" in str(error):
        message = str(error)  # in another segment's text: keep its own line and caret
    return Finding(str(f.path), f.name, severity, message, line, column, excerpt)


@dataclass
class CheckReport:
    """What ``check`` found: ``findings`` (errors and warnings, file order), ``files`` checked."""

    files: int
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (
            f"{plural(self.files, 'file')} checked: {plural(len(self.errors), 'error')}, "
            f"{plural(len(self.warnings), 'warning')}"
        )

    def __str__(self) -> str:
        return "\n".join([*(str(f) for f in self.findings), self.summary()])

    def __repr__(self) -> str:
        return str(self)

    def to_json(self) -> str:
        return json.dumps(
            {
                "files": self.files, "errors": len(self.errors), "warnings": len(self.warnings),
                "findings": [asdict(f) for f in self.findings],
            },
            ensure_ascii=False, indent=2,
        )  # fmt: skip


def check(ws: Workspace, folder: str | os.PathLike[str], *, dialects: Iterable[str] = ()) -> CheckReport:
    """Validate every ``.segment`` file in ``folder`` against ``ws``'s model: parse and type errors,
    the static checks' warnings, and the SQL compiled for each dialect the file (or ``dialects``) names.
    ``in segment x`` finds x among the files first, then in the catalog.

    >>> print(check(ws, "segments/"))
    """
    files, findings = read_folder(folder)
    findings += _validate(ws, files, extra_dialects=list(dialects))
    findings.sort(key=lambda x: (x.file, x.line or 0, x.column or 0))
    unread = {p.file for p in findings} - {str(f.path) for f in files}
    return CheckReport(len(files) + len(unread), findings)


def _validate(ws: Workspace, files: list[SegmentFile], extra_dialects: Sequence[str] = ()) -> list[Finding]:
    source = _source(ws, files)
    found: list[Finding] = []
    for f in files:
        try:
            typed = bind(ws.model, parse(f.text), source)
        except SegmentError as e:
            if not f.draft:
                found.append(_finding(f, "error", e))
            continue
        except RecursionError:
            found.append(Finding(str(f.path), f.name, "error", "the definition is nested too deeply"))
            continue
        found += [_finding(f, "warning", w) for w in static_warnings(typed)]
        for d in dict.fromkeys([*f.dialects, *(x for x in (_dialect(e) for e in extra_dialects) if x)]):
            try:
                build_query(ws.model, typed, Options(dialect=d, as_of=None)).sql(dialect=d)
            except SegmentError as e:
                found.append(Finding(str(f.path), f.name, "error", f"does not compile for {d}: {e.reason}"))
    return found


def _source(ws: Workspace, files: list[SegmentFile]) -> SegmentSource:
    """``in segment x``: x's file if there is one, else the catalog's segment."""
    by_name = {f.name: f.definition for f in files}

    def source(name: str) -> str | T.StoredKeys:
        if name in by_name:
            return by_name[name]
        return ws.session._segment_source(name)

    return source


# --- sync: files -> catalog ---------------------------------------------------------------------------


@dataclass
class SyncReport:
    """What ``sync`` did (or, with ``dry_run``, would do): one row per segment in ``changes``
    (name, action: created / updated / unchanged / deleted / kept, version, what changed, file), and
    the ``findings`` that stopped it (then nothing was written)."""

    changes: pd.DataFrame
    findings: list[Finding]
    dry_run: bool = False
    diffs: dict[str, str] = field(default_factory=dict)  # name -> unified diff of its definition

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def count(self, action: str) -> int:
        return int((self.changes["action"] == action).sum()) if len(self.changes) else 0

    def summary(self) -> str:
        if not self.ok:
            n = sum(f.severity == "error" for f in self.findings)
            return f"nothing written: {plural(n, 'error')}"
        parts = [
            f"{self.count(a)} {a}"
            for a in ("created", "updated", "deleted", "unchanged", "kept")
            if self.count(a) or a in ("created", "updated", "unchanged")
        ]
        return ("dry run, would be: " if self.dry_run else "") + ", ".join(parts)

    def __str__(self) -> str:
        lines = [str(f) for f in self.findings if f.severity == "error"]
        if self.ok:
            for row in self.changes.itertuples(index=False):
                if row.action == "unchanged":
                    continue
                what = f" ({row.changed})" if row.changed else ""
                versioned = {"definition", "description", "draft"} & set(str(row.changed).split(", "))
                version = f" -> version {row.version}" if row.action == "updated" and versioned else ""
                lines.append(f"{row.action:>9}  {row.name}{version}{what}")
                if row.name in self.diffs:
                    lines += ["             " + line for line in self.diffs[row.name].splitlines()]
        lines.append(self.summary())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def to_json(self) -> str:
        rows = [
            {k: (None if pd.isna(v) else v) if not isinstance(v, (list, str)) else v for k, v in r.items()}
            for r in self.changes.to_dict("records")
        ]
        return json.dumps(
            {
                "ok": self.ok, "dry_run": self.dry_run, "changes": rows,
                "errors": [asdict(f) for f in self.findings if f.severity == "error"],
            },
            ensure_ascii=False, indent=2, default=str,
        )  # fmt: skip


SYNC_COLUMNS = ["name", "action", "version", "changed", "file"]


def sync(
    ws: Workspace, folder: str | os.PathLike[str], *, prune: bool = False, dry_run: bool = False
) -> SyncReport:
    """Load the ``.segment`` files of ``folder`` into ``ws``'s catalog: create new segments, save a new
    version of changed ones, update display names and tags. Dynamic segments without a file are kept
    (reported as ``kept``) unless ``prune``. Every file is validated first; if one fails nothing is written.

    >>> print(sync(ws, "segments/"))
    """
    files, findings = read_folder(folder)
    findings += [f for f in _validate(ws, files) if f.severity == "error"]
    cat = ws.catalog
    rows = {r["name"]: r for r in cat.segment_rows()}
    for f in files:
        if f.name in rows and rows[f.name]["type"] == "static":
            findings.append(
                Finding(str(f.path), f.name, "error", f"'{f.name}' is a static segment in the catalog (a "
                        "frozen member list): a file cannot redefine it; rename one of them")
            )  # fmt: skip
    listed = {f.name for f in files}
    gone = sorted(n for n, r in rows.items() if n not in listed and r["type"] == "dynamic")
    if prune:
        for name in gone:
            users = sorted(
                {u for u in referrers(cat, name) if u not in gone}
                | {f.name for f in files if name in references(f.definition)}
            )
            if users:
                findings.append(
                    Finding(str(folder), name, "error", f"cannot delete '{name}' (no file): segment "
                            f"{', '.join(repr(u) for u in users)} refers to it")
                )  # fmt: skip
    if any(f.severity == "error" for f in findings):
        return SyncReport(pd.DataFrame(columns=SYNC_COLUMNS), findings, dry_run)
    tags, dialects = cat.tags(), cat.tags(kind="dialect")
    plan: list[dict[str, Any]] = []
    diffs: dict[str, str] = {}
    by_name = {f.name: f for f in files}
    ordered, _deps, _cycle = dependency_order([{"name": f.name, "definition": f.definition} for f in files])
    for item in ordered:
        f = by_name[item["name"]]
        row = rows.get(f.name)
        if row is None:
            plan.append({"file": f, "row": None, "action": "created", "changed": "", "version": 1})
            continue
        changed = _changed(f, row, tags.get(row["id"], []), dialects.get(row["id"], []))
        versioned = {"definition", "description", "draft"} & set(changed)
        if "definition" in changed:
            diffs[f.name] = _diff(row["definition"], f.definition)
        plan.append(
            {
                "file": f, "row": row, "action": "updated" if changed else "unchanged", "changed": ", ".join(changed),
                "version": int(row["version"]) + (1 if versioned else 0),
            }
        )  # fmt: skip
    if not dry_run:
        _apply(ws, plan)
    out = [
        {"name": p["file"].name, "action": p["action"], "version": p["version"], "changed": p["changed"],
         "file": str(p["file"].path)}
        for p in plan
    ]  # fmt: skip
    for name in gone:
        action = "deleted" if prune else "kept"
        out.append({"name": name, "action": action, "version": None, "changed": "no file", "file": None})
    if prune and not dry_run:
        _delete(ws, gone)
    changes = pd.DataFrame(out, columns=SYNC_COLUMNS)
    changes["version"] = changes["version"].astype("Int64")
    return SyncReport(changes, findings, dry_run, diffs)


def _changed(f: SegmentFile, row: dict[str, Any], tags: list[str], dialects: list[str]) -> list[str]:
    changed = []
    if f.definition.strip() != (row["definition"] or "").strip():
        changed.append("definition")
    if (f.description or "") != (row["description"] or ""):
        changed.append("description")
    if f.draft != bool(row["draft"]):
        changed.append("draft")
    if (f.display_name or None) != (row["display_name"] or None):
        changed.append("display_name")
    if sorted(set(f.tags)) != sorted(tags):
        changed.append("tags")
    if sorted(set(f.dialects)) != sorted(dialects):
        changed.append("dialects")
    return changed


def _diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.strip().splitlines(), new.strip().splitlines(), lineterm="", n=0)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++", "@@")))


def _apply(ws: Workspace, plan: list[dict[str, Any]]) -> None:
    cat = ws.catalog
    for p in plan:
        f: SegmentFile = p["file"]
        row = p["row"]
        if p["action"] == "unchanged":
            continue
        # What did not change is saved as the catalog has it, so that it adds no version.
        definition, description = f.definition, f.description
        if row is not None:
            definition = row["definition"] if "definition" not in p["changed"] else definition
            if "description" not in p["changed"]:
                description = row["description"]
            elif description is None:
                description = ""  # the file has none: clear it (None would keep the old one)
        seg = save(
            ws, f.name, definition, description=description, display_name=f.display_name, draft=f.draft
        )
        with cat.transaction() as c:
            if f.display_name is None and row is not None and row["display_name"]:
                cat.update_segment(seg.id, c, display_name=None)
            cat.set_tags(seg.id, f.tags, c)
            cat.set_tags(seg.id, f.dialects, c, kind="dialect")


def _delete(ws: Workspace, names: list[str]) -> None:
    """Delete segments, those that refer to others first."""
    pending = list(names)
    while pending:
        for name in pending:
            if not [u for u in referrers(ws.catalog, name) if u in pending]:
                ws.get(name).delete()
                pending.remove(name)
                break
        else:  # a reference cycle among them: cannot happen for saved segments (they validate)
            raise SegmentError(f"cannot delete {', '.join(pending)}: they refer to each other")


# --- export: catalog -> files -------------------------------------------------------------------------


def export_code(ws: Workspace, folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Write every dynamic segment of ``ws``'s catalog to ``folder`` as ``<name>.segment`` (static
    segments are frozen member lists, not code: listed as skipped). Returns name, file, action.

    >>> export_code(ws, "segments/")
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    cat = ws.catalog
    tags, dialects = cat.tags(), cat.tags(kind="dialect")
    out = []
    used: set[str] = set()
    for row in cat.segment_rows():
        if row["type"] == "static":
            out.append({"name": row["name"], "file": None, "action": "skipped (static)"})
            continue
        name = file_name(row["name"])
        stem, n = name[: -len(SUFFIX)], 2
        while name.lower() in used:  # two names with one slug (a/b, a_b): keep both files
            name, n = f"{stem}_{n}{SUFFIX}", n + 1
        used.add(name.lower())
        text = render(
            row["name"], row["definition"], display_name=row["display_name"], description=row["description"],
            tags=tags.get(row["id"], []), dialects=dialects.get(row["id"], []), draft=bool(row["draft"]),
        )  # fmt: skip
        path = root / name
        action = "unchanged" if path.exists() and path.read_text(encoding="utf-8") == text else "written"
        if action == "written":
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        out.append({"name": row["name"], "file": str(path), "action": action})
    return pd.DataFrame(out, columns=["name", "file", "action"])
