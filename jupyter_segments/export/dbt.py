"""dbt destination: a model file holding the segment's compiled SQL for a chosen warehouse dialect.

This productionizes a segment: dbt runs the same SQL the notebook did, on its own schedule.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlglot import exp

from ..errors import SegmentError
from . import ExportResult

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JINJA_OPEN = re.compile(r"\{(?=[{%#])")


def _escape_jinja(text: str) -> str:
    """Text that Jinja renders as itself: each ``{`` that would open ``{{``, ``{%`` or ``{#`` is written as
    the expression ``{{ '{' }}``.

    >>> _escape_jinja("'{{ run_query(1) }}'")
    "'{{ '{' }}{ run_query(1) }}'"
    """
    return _JINJA_OPEN.sub("{{ '{' }}", text)


def _comment(text: str) -> str:
    """One line of a ``--`` comment: every line break (``\\r``, ``\\n``, ``\\u2028``, ...) and run of
    white space is one space, and Jinja is escaped."""
    return _escape_jinja(" ".join(text.split()))


class DbtDestination:
    """Write ``<path>/<model>.sql`` (``path``: a dbt project's models directory, or a file ending in .sql).

    ``dialect`` picks the warehouse (default: the connected database's). With ``source='shop'`` table
    names become ``{{ source('shop', 'orders') }}`` so dbt tracks lineage; ``materialized`` sets the
    model's config. Relative windows (``in last 90 days``) use the warehouse's current date at run time.
    """

    name = "dbt"
    needs_members = False  # it sends the definition, not the members

    def target(self, path: Any = "models", model: str | None = None, **_: Any) -> str:
        return str(path)

    def send(
        self, segment, path: Any = "models", dialect: str | None = None, model: str | None = None,
        source: str | None = None, materialized: str = "table", shape: str = "keys",
    ) -> ExportResult:  # fmt: skip
        session = segment.session
        if model is not None and not _IDENTIFIER.fullmatch(model):
            raise SegmentError(
                f"model must be a plain dbt model name (letters, digits, _), not {model!r}",
                hint="choose the folder with path=...",
            )
        name = model or re.sub(r"[^0-9A-Za-z_]+", "_", f"segment_{segment.name}").strip("_").lower()
        if not _IDENTIFIER.fullmatch(name):
            name = f"segment_{name}"
        target = Path(os.fspath(path)).expanduser()
        if target.suffix != ".sql":
            target = target / f"{name}.sql"
        target.parent.mkdir(parents=True, exist_ok=True)
        dialect = dialect or session.dialect
        try:
            query = session.query(segment.definition, shape=shape, dialect=dialect, relative=True)
        except SegmentError as e:
            raise SegmentError(f"cannot compile '{segment.name}' for {dialect}: {e}") from None
        marks: dict[str, str] = {}
        if source is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", source):
            raise SegmentError(f"source must be a dbt source name such as 'shop', not {source!r}")
        if materialized not in ("table", "view", "incremental", "ephemeral"):
            raise SegmentError(
                f"materialized must be table, view, incremental or ephemeral, not {materialized!r}"
            )
        if source:
            for table in query.find_all(exp.Table):
                if isinstance(table.this, exp.Identifier) and not table.args.get("db"):
                    mark = f"__js_source_{len(marks)}__"
                    marks[mark] = f"{{{{ source('{source}', '{table.name}') }}}}"
                    table.set("this", exp.to_identifier(mark))
        # dbt renders the file with Jinja: the user's text (names, literals, descriptions) must reach the
        # warehouse as written, never run as a template. Escape it first, then put our own Jinja in.
        sql = _escape_jinja(query.sql(dialect=dialect, pretty=True))
        for mark, jinja in marks.items():
            sql = sql.replace(mark, jinja)
        description = _comment(segment.description or "")
        text = (
            f"{{{{ config(materialized='{materialized}') }}}}\n"
            f"-- Segment '{_comment(segment.name)}' (version {segment.version}) exported by jupyter-segments\n"
            f"-- Definition: {_comment(segment.definition)}\n"
            + (f"-- {description}\n" if description else "")
            + f"-- Dialect: {dialect}\n\n{sql}\n"
        )
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        return ExportResult(None, str(target), {"dialect": dialect})
