"""``%segment`` / ``%%segment``: notebook magics over the Workspace API.

Each command is argument parsing (one argparse parser per subcommand), one call into the Workspace API,
then a display. Errors from the engine or the database are shown as IPython ``UsageError`` messages (no
traceback) unless ``%config SegmentMagic.short_errors = False``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import keyword
import re
import shlex
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display
from traitlets import Bool, Integer, List, Unicode

from . import changes as changes_
from . import code_files, demo, ui  # ui is light: each widget module (ipywidgets) loads when first asked for
from .backends.base import mask_url
from .completion import install, uninstall
from .display import (
    FrameView,
    HelpRow,
    HelpTable,
    Message,
    ModelView,
    SegmentCard,
    SegmentResult,
    SqlView,
    describe,
    runs_view,
)
from .dsl import parse, to_text
from .dsl.params import has_params
from .editor import register_comm, unregister_comm
from .errors import SegmentError, did_you_mean, plural
from .render import parse_columns
from .workspace import Workspace, connect

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

DEFAULT_DEMO_CUSTOMERS = 10_000


class _HelpShown(Exception):
    """``-h`` printed a usage text: the command is done."""


class _ArgParser(argparse.ArgumentParser):
    """argparse that reports errors as ``UsageError`` instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message)
        raise _HelpShown()


def _parser(command: str, description: str) -> _ArgParser:
    return _ArgParser(prog=f"%segment {command}", description=description, add_help=True)


def _database_errors() -> tuple[type[BaseException], ...]:
    """Exception types raised by the database drivers we talk to (imported lazily: all are optional)."""
    found: list[type[BaseException]] = [SegmentError]
    try:
        import duckdb

        found.append(duckdb.Error)
    except ImportError:  # pragma: no cover
        pass
    import sqlite3

    found.append(sqlite3.Error)
    try:
        import sqlalchemy.exc

        found.append(sqlalchemy.exc.SQLAlchemyError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


def _mask_exception(e: BaseException) -> None:
    """Mask URL passwords inside an exception's message, in place (it may be re-raised with a traceback)."""
    if e.args and isinstance(e.args[0], str):
        masked = mask_url(e.args[0])
        if masked != e.args[0]:
            e.args = (masked, *e.args[1:])


def _mask_credentials(text: str) -> str:
    """``user:secret@host`` (with or without a scheme) -> ``user:***@host``."""
    return re.sub(r"([^\s:/@]+:)[^\s@/]*@", r"\1***@", mask_url(text))


def _known_dialect(name: str) -> str | None:
    from sqlglot.dialects.dialect import Dialect

    aliases = {"postgresql": "postgres", "mariadb": "mysql", "sqlserver": "tsql", "mssql": "tsql"}
    name = aliases.get(name.lower(), name.lower())
    return name if name and name in Dialect.classes else None


@magics_class
class SegmentMagic(Magics):
    """``%segment COMMAND ...`` and ``%%segment [NAME] [options]`` cells; ``%segment help`` lists commands."""

    # IPython 8 declares ``shell = None`` on Magics (IPython 9 types it); it is always set once a magic runs.
    shell: InteractiveShell  # type: ignore[assignment, unused-ignore]  # IPython 8 only

    preview_rows = Integer(10, help="Rows of members previewed under a %%segment cell.").tag(config=True)
    preview_columns = List(
        Unicode(),
        default_value=[],
        help="Customer columns previewed under a %%segment cell, in this order (empty: all). The key and "
        "the projected columns are always shown first. A cell's --columns a,b,c overrides it.",
    ).tag(config=True)
    default_dialect = Unicode(
        "", help="SQL dialect shown by %%segment and %segment sql (empty: the connected database's)."
    ).tag(config=True)
    catalog = Unicode(
        ".segments/catalog.sqlite",
        help="Where saved segments live: a SQLite path (relative to the notebook) or a SQLAlchemy URL. "
        "Used at the next %segment connect.",
    ).tag(config=True)
    refresh_on_save = Bool(
        True, help="After %%segment NAME saves an active segment, refresh it so its members are stored."
    ).tag(config=True)
    short_errors = Bool(
        True, help="Show segment and database errors as a short message without a Python traceback."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.ws: Any = None  # the connected Workspace
        self._owns_ws = False  # False when the user handed us their own Workspace object
        self._demo_dir: tempfile.TemporaryDirectory | None = None
        self._demo_conn: Any = None  # the demo's DuckDB connection (ours to close)
        self._commands: dict[str, tuple[Callable[[argparse.Namespace], Any], _ArgParser]] = {}
        self._build_commands()
        self._cell_parser = self._make_cell_parser()

    # --- entry point --------------------------------------------------------------------------------
    @line_cell_magic
    def segment(self, line: str = "", cell: str | None = None) -> None:
        """Segments in the notebook. ``%segment help`` lists every command with an example."""
        try:
            if cell is None:
                self._run_line(line)
            else:
                self._run_cell(line, cell)
        except _HelpShown:
            return None
        except UsageError as e:
            _mask_exception(e)
            raise
        except _database_errors() as e:
            _mask_exception(e)
            if self.short_errors:
                message = str(e)
                if not isinstance(e, SegmentError):  # a raw driver error: name its origin
                    message = f"the database reported an error: {message}"
                raise UsageError(message) from None
            raise
        return None

    def _run_line(self, line: str) -> None:
        try:
            argv = shlex.split(line)
        except ValueError as e:
            raise UsageError(f"%segment: {e} (check the quotes)") from None
        if not argv:
            display(self._help())
            return
        command, rest = argv[0].lower(), argv[1:]
        if command not in self._commands:
            raise UsageError(
                f"unknown %segment command '{argv[0]}'{did_you_mean(command, self._commands)} "
                "(%segment help lists them)"
            )
        handler, parser = self._commands[command]
        handler(parser.parse_args(rest))

    def _require_ws(self) -> Any:
        if self.ws is None:
            raise UsageError(
                "not connected: run  %segment connect --demo  or  %segment connect duckdb:///shop.duckdb"
            )
        return self.ws

    # --- commands -------------------------------------------------------------------------------------
    def _build_commands(self) -> None:
        c = self._commands

        p = _parser("connect", "Connect to a database: a URL, a notebook variable, or the demo.")
        p.add_argument("target", nargs="?", help="URL, or the name of a variable holding a connection/Engine")
        p.add_argument("--demo", action="store_true", help="the generated retail demo in embedded DuckDB")
        p.add_argument("--customers", type=int, default=DEFAULT_DEMO_CUSTOMERS, help="demo size")
        p.add_argument("--seed", type=int, default=42, help="demo seed")
        p.add_argument("--anchor", help="demo: last day of data, YYYY-MM-DD (default: today)")
        p.add_argument("--catalog", help="catalog path or URL (default: %%config SegmentMagic.catalog)")
        p.add_argument("-o", "--out", help="also put the Workspace in this notebook variable")
        c["connect"] = (self._connect, p)

        p = _parser("customers", "Declare the customer (profile) table and its key.")
        p.add_argument("table")
        p.add_argument("--key", required=True, help="key column, or columns: region,account_no")
        c["customers"] = (self._customers, p)

        p = _parser("relate", "Declare that each CHILD row points to one PARENT row.")
        p.add_argument("child")
        p.add_argument("parent")
        p.add_argument(
            "--on", help="shared column, or child_column:parent_column; pairs for a composite key: a:b,c:d"
        )
        p.add_argument("--remove", action="store_true", help="remove (or reject an inferred) relationship")
        p.add_argument(
            "--assume-integrity",
            action="store_true",
            help="every non-NULL CHILD value exists in PARENT: segments may read CHILD alone",
        )
        p.add_argument(
            "--name", help="the to-many step from PARENT (default: CHILD's name), for a second link"
        )
        p.add_argument(
            "--parent-name", dest="parent_name", help="the to-one step from CHILD (default: PARENT)"
        )
        p.add_argument("--replace", action="store_true", help="replace the link with the same names")
        c["relate"] = (self._relate, p)

        p = _parser("model", "Show entities, keys, typed columns, relationships and measures.")
        c["model"] = (self._model, p)

        c["help"] = (lambda _a: display(self._help()), _parser("help", "List every command."))

        # Catalog lifecycle (jupyter_segments.catalog).
        p = _parser("list", "List saved segments.")
        p.add_argument("--search", help="filter by name")
        p.add_argument("--sort", help="sort by this column (e.g. members; -members reverses)")
        p.add_argument("--all-columns", action="store_true", help="show every column")
        p.add_argument("-o", "--out", help="put the DataFrame in this variable")
        c["list"] = (self._list, p)

        for name, description in (
            ("show", "Show a saved segment."),
            ("check", "Check a saved segment (or DSL text in quotes) without running it."),
            ("history", "Member counts per refresh of a saved segment."),
            ("delete", "Delete a saved segment."),
        ):
            p = _parser(name, description)
            p.add_argument("name")
            if name == "history":
                p.add_argument("-o", "--out", help="put the DataFrame in this variable")
            c[name] = (getattr(self, f"_{name}"), p)

        p = _parser("explain", "Why a customer is (not) in a saved segment (or DSL text in quotes).")
        p.add_argument("name")
        p.add_argument("key", help="the customer's key")
        p.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD: evaluate as of that date")
        p.add_argument("-o", "--out", help="put the Explanation in this variable")
        c["explain"] = (self._explain, p)

        p = _parser("near", "Who misses a saved segment (or DSL text in quotes) by one AND condition.")
        p.add_argument("name")
        p.add_argument("--max-failed", dest="max_failed", type=int, default=1, help="conditions missed")
        p.add_argument("--limit", type=int, default=100, help="customers listed")
        p.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD: evaluate as of that date")
        p.add_argument("-o", "--out", help="put the NearMisses in this variable")
        c["near"] = (self._near, p)

        p = _parser("advise", "CREATE INDEX statements for the indexes the saved segments would use.")
        p.add_argument("names", nargs="*", help="saved segments or DSL text in quotes (default: all saved)")
        p.add_argument(
            "--measure", action="store_true", help="time the counts with the indexes (rolled back)"
        )
        p.add_argument("-o", "--out", help="put the Advice in this variable")
        c["advise"] = (self._advise, p)

        p = _parser("sweep", "Member counts of a definition with {x} for many values of x, in one query.")
        p.add_argument("template", help="DSL text in quotes with {name} placeholders")
        p.add_argument("values", nargs="+", help="name=1,5,10 or name=start:stop:step (stop excluded)")
        p.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD: evaluate as of that date")
        p.add_argument("-o", "--out", help="put the DataFrame in this variable")
        c["sweep"] = (self._sweep, p)

        p = _parser("sync", "Load a folder of .segment files into the catalog (segments as code).")
        p.add_argument("folder")
        p.add_argument("--prune", action="store_true", help="delete dynamic segments that have no file")
        p.add_argument("--dry-run", dest="dry_run", action="store_true", help="report, write nothing")
        p.add_argument("-o", "--out", help="put the SyncReport in this variable")
        c["sync"] = (self._sync, p)

        p = _parser("changes", "Who joined and left a saved segment at its refreshes (since a date).")
        p.add_argument("name")
        p.add_argument("--since", help="YYYY-MM-DD[ HH:MM]: refreshes finished since then (default: all)")
        p.add_argument(
            "--net", action="store_true", help="only customers whose membership differs at the end"
        )
        p.add_argument("-o", "--out", help="put the DataFrame in this variable")
        c["changes"] = (self._changes, p)

        p = _parser("static", "Save a frozen member list from a CSV/Parquet file or a notebook variable.")
        p.add_argument("name")
        p.add_argument("source", help="a .csv/.parquet path, or a variable holding a DataFrame or a list")
        p.add_argument(
            "--key", help="the column of keys, or columns: region,account_no (default: the customer key)"
        )
        p.add_argument("--strict", action="store_true", help="refuse values that match no customer")
        c["static"] = (self._static, p)

        p = _parser("refresh", "Re-evaluate saved segments and store their members.")
        p.add_argument("names", nargs="*")
        p.add_argument("--all", action="store_true", help="every active segment")
        c["refresh"] = (self._refresh, p)

        for name in ("activate", "deactivate"):
            p = _parser(name, f"{name.capitalize()} a saved segment, now or at a later time.")
            p.add_argument("name")
            p.add_argument("--at", help="YYYY-MM-DD[ HH:MM] to schedule it")
            c[name] = (getattr(self, f"_{name}"), p)

        p = _parser("rename", "Rename a saved segment.")
        p.add_argument("name")
        p.add_argument("new_name")
        c["rename"] = (self._rename, p)

        p = _parser("duplicate", "Copy a saved segment under a new name.")
        p.add_argument("name")
        p.add_argument("new_name")
        c["duplicate"] = (self._duplicate, p)

        p = _parser("export", "Download a saved segment's members (CSV or Parquet).")
        p.add_argument("name")
        p.add_argument("path", nargs="?", help="output file (its extension picks the format)")
        p.add_argument("--format", dest="fmt", help="csv or parquet (default: from the path, else csv)")
        c["export"] = (self._export, p)

        p = _parser("sql", "The SQL of a saved segment, in any dialect.")
        p.add_argument("name")
        p.add_argument("--dialect", help="e.g. postgres, snowflake, bigquery (default: the connection's)")
        p.add_argument("--as-of", dest="as_of", help="fix relative windows at this date")
        c["sql"] = (self._sql, p)

        # Widgets (jupyter_segments.ui).
        for name in ("quick", "manager"):
            p = _parser(name, f"Open the {name} widget.")
            p.add_argument("-o", "--out", help="also put the widget object in this variable")
            c[name] = (getattr(self, f"_{name}"), p)
        p = _parser("builder", "Build a segment by clicking; with NAME, edit that saved segment.")
        p.add_argument("name", nargs="?")
        p.add_argument("-o", "--out", help="also put the widget object in this variable")
        c["builder"] = (self._builder, p)
        p = _parser("view", "Open the view of a saved segment (trend, members, runs).")
        p.add_argument("name")
        p.add_argument("-o", "--out", help="also put the widget object in this variable")
        c["view"] = (self._view, p)

        # Intelligence (jupyter_segments.intelligence).
        p = _parser("rfm", "RFM scores and labels from an activity table.")
        p.add_argument("entity", help="activity table, e.g. orders")
        p.add_argument("--date", required=True, help="activity date column")
        p.add_argument("--amount", required=True, help="amount column")
        p.add_argument("--window", default="1 year", help="frequency/monetary window, e.g. '1 year'")
        p.add_argument("--as-of", dest="as_of")
        p.add_argument("--save", action="store_true", help="save one segment per RFM label")
        p.add_argument("--labels", nargs="*", help="with --save: only these labels (quote names with spaces)")
        p.add_argument("-o", "--out", help="put the scores DataFrame in this variable")
        c["rfm"] = (self._rfm, p)

        p = _parser("suggest", "Suggest segments where a measure is unusually high or low.")
        p.add_argument("--measure", required=True, help="e.g. 'sum(orders.amount)'")
        p.add_argument("--using", nargs="*", help="attributes/aggregates the rules may use")
        p.add_argument("-o", "--out")
        c["suggest"] = (self._suggest, p)

        p = _parser("compare", "Overlap and differences of two segments (or one against everyone else).")
        p.add_argument("a")
        p.add_argument("b", nargs="?")
        p.add_argument("-o", "--out")
        c["compare"] = (self._compare, p)

        p = _parser("similar", "Customers similar to a segment's members (lookalikes).")
        p.add_argument("name")
        p.add_argument("--size", type=float, default=0.2, help="share of the target audience (default 0.2)")
        p.add_argument("--include-members", action="store_true")
        p.add_argument("--save", metavar="NEW_NAME", help="save the lookalikes as a segment")
        p.add_argument("-o", "--out")
        c["similar"] = (self._similar, p)

    # --- connection and model -------------------------------------------------------------------------
    def _connect(self, a: argparse.Namespace) -> None:
        if a.demo == bool(a.target):
            raise UsageError("%segment connect: give a URL or variable name, or --demo")
        if a.demo:
            ws, owns, demo_conn, demo_dir = self._open_demo(a)
        else:
            target, owns, demo_conn, demo_dir = self._resolve_target(a.target), True, None, None
            if isinstance(target, Workspace):
                ws, owns = target, False
            else:
                ws = connect(target, catalog=a.catalog or self.catalog)
        try:
            message = self._connected_message(ws, a)  # reads the table list: fails early on a bad server
        except BaseException:
            if owns:
                ws.close()
            if demo_dir is not None:
                demo_dir.cleanup()
            raise
        # Only now that the new connection works is the previous one closed.
        self._close()
        self.ws, self._owns_ws, self._demo_dir, self._demo_conn = ws, owns, demo_dir, demo_conn
        if a.out:
            self._store(a.out, ws)
        display(Message(message))

    def _open_demo(self, a: argparse.Namespace) -> tuple[Any, bool, Any, Any]:
        if a.customers < 1:
            raise UsageError("%segment connect: --customers must be at least 1")
        anchor = _parse_when(a.anchor, "--anchor").date() if a.anchor else None
        demo_dir, catalog = None, a.catalog
        if catalog is None:
            # A demo is throw-away: its saved segments must not mix with those of a real database.
            demo_dir = tempfile.TemporaryDirectory(prefix="jupyter-segments-demo-")
            catalog = f"{demo_dir.name}/catalog.sqlite"
        conn = demo.generate(a.customers, seed=a.seed, anchor=anchor)
        ws = connect(conn, catalog=catalog)
        demo.declare_model(ws.model)
        return ws, True, conn, demo_dir

    def _resolve_target(self, target: str) -> Any:
        ns = self.shell.user_ns
        if target.isidentifier() and not keyword.iskeyword(target):
            if target not in ns:
                raise UsageError(f"%segment connect: there is no variable '{target}' in the notebook")
            return ns[target]
        if "://" not in target:
            raise UsageError(
                f"%segment connect: '{_mask_credentials(target)}' is neither a database URL nor a variable name "
                "(e.g. duckdb:///shop.duckdb, postgresql://user@host/db)"
            )
        return target

    def _connected_message(self, ws: Any, a: argparse.Namespace) -> str:
        tables = ws.tables()
        text = f"connected to {ws.backend.display_url} ({ws.dialect}), {len(tables)} tables"
        if a.demo:
            text += f"; demo data: {a.customers:,} customers (seed {a.seed})"
        if ws.model.customer:
            text += f"; customers: {ws.model.customer} (key {ws.model.customer_key})"
        else:
            text += "; next: %segment customers TABLE --key COLUMN"
        return text

    def _close(self) -> None:
        if self.ws is not None and self._owns_ws:
            try:
                self.ws.close()
            finally:
                conn = getattr(self, "_demo_conn", None)
                if conn is not None:  # connections passed in are not closed by the backend
                    conn.close()
        if self._demo_dir is not None:
            self._demo_dir.cleanup()
        self.ws, self._demo_dir, self._demo_conn = None, None, None

    def _customers(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        keys = [k.strip() for k in a.key.split(",")]  # region,account_no: a composite key
        ws.customers(a.table, key=keys[0] if len(keys) == 1 else tuple(keys))
        display(Message(f"customer entity: {ws.model.customer} (key {ws.model.customer_key})"))

    def _relate(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        if a.remove:
            ws.unrelate(a.child, a.parent, a.name)
            display(Message(f"removed the relationship {a.child} -> {a.parent}"))
            return
        if not a.on:
            raise UsageError("%segment relate: --on COLUMN or --on CHILD_COLUMN:PARENT_COLUMN is required")
        pairs = []  # a composite key: --on region:region,account_no:account_no (or region,account_no)
        for part in a.on.split(","):
            child_col, sep, parent_col = part.strip().partition(":")
            if sep and not (child_col and parent_col):
                raise UsageError("%segment relate: write --on child_column:parent_column")
            pairs.append((child_col, parent_col) if sep else (child_col, child_col))
        rel = ws.relate(
            a.child,
            a.parent,
            on=pairs[0] if len(pairs) == 1 else pairs,
            assume_integrity=a.assume_integrity,
            name=a.name,
            parent_name=a.parent_name,
            replace=a.replace,
        )
        display(Message(f"related: each {rel.child} row points to one {rel.parent} row ({rel.describe()})"))

    def _model(self, a: argparse.Namespace) -> None:
        display(ModelView(self._require_ws()))

    # --- %%segment cells ------------------------------------------------------------------------------
    def _make_cell_parser(self) -> _ArgParser:
        p = _ArgParser(
            prog="%%segment",
            description="Define (with NAME: and save) a segment and show its members.",
        )
        p.add_argument("name", nargs="?", help="save the segment under this name")
        p.add_argument("--as-of", dest="as_of", help="evaluate relative windows at this date (YYYY-MM-DD)")
        p.add_argument("--preview", type=int, help="rows of members to preview")
        p.add_argument(
            "--columns",
            metavar="A,B,C",
            help="customer columns to preview, in this order (the key and projected columns always show)",
        )
        p.add_argument(
            "--sql",
            nargs="?",
            const="",
            default=None,
            metavar="DIALECT",
            help="show the SQL only, without running",
        )
        p.add_argument("-o", "--out", help="put the result in this notebook variable")
        p.add_argument("--draft", action="store_true", help="save without validating or evaluating")
        return p

    def _run_cell(self, line: str, cell: str) -> None:
        try:
            argv = shlex.split(line)
        except ValueError as e:
            raise UsageError(f"%%segment: {e} (check the quotes)") from None
        a = self._cell_parser.parse_args(argv)
        dialect = None
        if a.sql is not None:
            dialect = _known_dialect(a.sql) if a.sql else None
            if a.sql and dialect is None:
                if a.name is None and a.sql.isidentifier():  # "%%segment --sql vip": vip is the name
                    a.name = a.sql
                else:
                    raise UsageError(f"%%segment: unknown SQL dialect '{a.sql}'")
        if a.name is not None and not a.name.isidentifier():
            raise UsageError(f"%%segment: '{a.name}' is not a valid segment name (letters, digits, _)")
        if a.draft and a.name is None:
            raise UsageError("%%segment --draft needs a NAME to save the draft under")
        if a.preview is not None and a.preview < 0:
            raise UsageError("%%segment: --preview must be 0 or more")
        text = cell.strip("\n")
        if not text.strip():
            raise UsageError("%%segment: the cell is empty; write a condition such as  age >= 30")
        ws = self._require_ws()

        if a.draft:
            self._save_draft(ws, a.name, text)
            return

        tree = ws.parse(text, params=self.shell.user_ns)
        if a.sql is not None:
            target = dialect or self.default_dialect or ws.dialect
            sql = ws.compile(tree, dialect=target, as_of=a.as_of)
            if a.out:
                self._store(a.out, sql)
            display(SqlView(sql, target, title=a.name))
            return

        preview_rows = self.preview_rows if a.preview is None else a.preview
        columns = parse_columns(a.columns if a.columns is not None else list(self.preview_columns))
        result = SegmentResult.evaluate(
            ws,
            tree,
            name=a.name,
            as_of=a.as_of,
            preview_rows=preview_rows,
            dialect=self.default_dialect or None,
            columns=columns,
        )
        if a.name is not None:
            result.saved = self._save(ws, a.name, self._saved_text(text, tree))
        if a.out:
            self._store(a.out, result)
        display(result)

    @staticmethod
    def _saved_text(text: str, tree: Any) -> str:
        """The text to save: as written (keeping comments), unless ``{vars}`` were bound into it."""
        return to_text(tree) if has_params(parse(text)) else text

    def _save(self, ws: Any, name: str, text: str) -> bool:
        seg = ws.segment(name, text)
        if self.refresh_on_save and getattr(seg, "active", False):
            # Store the members now, so the catalog (list, history, export) matches what the cell shows.
            run = seg.refresh()
            if not getattr(run, "ok", True):
                errors = "; ".join(map(str, getattr(run, "errors", []))) or getattr(run, "status", "failed")
                display(Message(f"note: '{name}' was saved, but storing its members failed: {errors}"))
        return True

    def _save_draft(self, ws: Any, name: str, text: str) -> None:
        try:  # bind {vars} if they resolve; a draft may be unfinished, so keep the text otherwise
            text = self._saved_text(text, ws.parse(text, params=self.shell.user_ns))
        except SegmentError:
            pass
        ws.segment(name, text, draft=True)
        display(Message(f"saved '{name}' as a draft (inactive until it validates and is activated)"))

    def _store(self, var: str, value: Any) -> None:
        if not var.isidentifier() or keyword.iskeyword(var):
            raise UsageError(f"-o: '{var}' is not a valid Python variable name")
        self.shell.user_ns[var] = value

    # --- catalog lifecycle ----------------------------------------------------------------------------
    def _segment(self, name: str) -> Any:
        return self._require_ws().get(name)

    def _list(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        kwargs = {k: v for k, v in (("search", a.search), ("sort", a.sort)) if v}
        frame = ws.segments(**kwargs)
        if a.out:
            self._store(a.out, frame)
        shown = frame if a.all_columns else frame[[c for c in LIST_COLUMNS if c in frame.columns]]
        display(FrameView(_listing(shown), title=plural(len(frame), "segment")))

    def _show(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        card = SegmentCard(ws.get(a.name), preview_rows=self.preview_rows, key=ws.model.customer_key)
        display(card)

    def _check(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        text = a.name if not a.name.isidentifier() else self._segment(a.name).definition
        found = ws.check(text, params=self.shell.user_ns)
        if not found:
            display(Message(f"'{a.name}': no problems found"))
        for warning in found:
            display(Message(f"warning: {warning}"))

    def _explain(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        text = a.name if not a.name.isidentifier() else self._segment(a.name).definition
        found = ws.explain(text, a.key, as_of=a.as_of, params=self.shell.user_ns)
        if a.out:
            self._store(a.out, found)
        display(found)

    def _near(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        text = a.name if not a.name.isidentifier() else self._segment(a.name).definition
        found = ws.near_misses(text, max_failed=a.max_failed, limit=a.limit, as_of=a.as_of)
        if a.out:
            self._store(a.out, found)
        display(found)

    def _advise(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        found = ws.advise(a.names or None, measure=a.measure)
        if a.out:
            self._store(a.out, found)
        display(found)

    def _sweep(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        grid = dict(_sweep_values(v) for v in a.values)
        frame = ws.sweep(a.template, as_of=a.as_of, **grid)
        if a.out:
            self._store(a.out, frame)
        display(frame)

    def _sync(self, a: argparse.Namespace) -> None:
        report = code_files.sync(self._require_ws(), a.folder, prune=a.prune, dry_run=a.dry_run)
        if a.out:
            self._store(a.out, report)
        if not report.ok:
            raise UsageError(str(report))
        display(Message(str(report)))

    def _changes(self, a: argparse.Namespace) -> None:
        frame = self._segment(a.name).changes(
            since=_parse_when(a.since, "--since") if a.since else None, net=a.net
        )
        if a.out:
            self._store(a.out, frame)
        display(FrameView(_listing(frame), title=f"changes of {a.name}", note=changes_.describe(frame)))

    def _static(self, a: argparse.Namespace) -> None:
        data = self.shell.user_ns[a.source] if a.source in self.shell.user_ns else a.source
        # unknown="ignore": the values that match no customer are shown below, not warned about
        key = [k.strip() for k in a.key.split(",")] if a.key and "," in a.key else a.key  # a composite key
        seg = self._require_ws().static_segment(
            a.name, data, key=key, unknown="error" if a.strict else "ignore"
        )
        text = f"saved static segment '{a.name}': {plural(seg.count or 0, 'member')}"
        if seg.unknown_keys:
            shown = ", ".join(map(repr, seg.unknown_keys[:10])) + (
                " ..." if len(seg.unknown_keys) > 10 else ""
            )
            text += f"; {plural(len(seg.unknown_keys), 'value')} matched no customer: {shown}"
        display(Message(text))

    def _history(self, a: argparse.Namespace) -> None:
        frame = self._segment(a.name).history()
        if a.out:
            self._store(a.out, frame)
        display(FrameView(_listing(frame), title=f"history of {a.name}"))

    def _delete(self, a: argparse.Namespace) -> None:
        self._segment(a.name).delete()
        display(Message(f"deleted '{a.name}'"))

    def _refresh(self, a: argparse.Namespace) -> None:
        if a.all == bool(a.names):
            raise UsageError("%segment refresh: give segment names, or --all")
        ws = self._require_ws()
        runs = ws.refresh() if a.all else ws.refresh(list(a.names))
        display(runs_view(runs if isinstance(runs, (list, tuple)) else [runs]))

    def _activate(self, a: argparse.Namespace) -> None:
        seg = self._segment(a.name)
        run = seg.activate(**({"at": _parse_when(a.at)} if a.at else {}))
        if a.at:
            display(Message(f"'{a.name}' will be activated at {a.at}"))
        elif run is not None:
            display(runs_view([run], title=f"'{a.name}' is active"))
        else:
            display(Message(f"'{a.name}' is active"))

    def _deactivate(self, a: argparse.Namespace) -> None:
        seg = self._segment(a.name)
        seg.deactivate(**({"at": _parse_when(a.at)} if a.at else {}))
        display(Message(f"'{a.name}' " + (f"will be deactivated at {a.at}" if a.at else "is inactive")))

    def _rename(self, a: argparse.Namespace) -> None:
        self._segment(a.name).rename(a.new_name)
        display(Message(f"renamed '{a.name}' to '{a.new_name}'"))

    def _duplicate(self, a: argparse.Namespace) -> None:
        self._require_ws().duplicate(a.name, a.new_name)
        display(Message(f"copied '{a.name}' to '{a.new_name}'"))

    def _export(self, a: argparse.Namespace) -> None:
        fmt = (a.fmt or (a.path.rsplit(".", 1)[-1] if a.path and "." in a.path else "csv")).lower()
        if fmt not in ("csv", "parquet"):
            raise UsageError(f"%segment export: unknown format '{fmt}' (csv or parquet)")
        record = self._segment(a.name).export(fmt, path=a.path)
        target = getattr(record, "target", None) or a.path
        rows = getattr(record, "rows", None)
        display(
            Message(
                f"exported '{a.name}' as {fmt}"
                + (f" to {target}" if target else "")
                + (f" ({plural(rows, 'member')})" if isinstance(rows, int) else "")
            )
        )

    def _sql(self, a: argparse.Namespace) -> None:
        ws = self._require_ws()
        dialect = self.default_dialect or ws.dialect
        if a.dialect:
            dialect = _known_dialect(a.dialect)
            if dialect is None:
                raise UsageError(f"%segment sql: unknown SQL dialect '{a.dialect}'")
        try:
            source = ws.session._segment_source(a.name)
        except KeyError as e:
            raise UsageError(f"unknown segment '{a.name}'{e.args[0] if e.args else ''}") from None
        text = source if isinstance(source, str) else f"in segment {a.name}"  # a static segment's table
        display(SqlView(ws.compile(text, dialect=dialect, as_of=a.as_of), dialect, title=a.name))

    # --- widgets --------------------------------------------------------------------------------------
    def _widget(self, cls_name: str, *args: Any, out: str | None = None) -> None:
        ws = self._require_ws()
        cls = getattr(ui, cls_name)
        widget = cls(ws, *args)
        if out:
            self._store(out, widget)
        display(widget)

    def _builder(self, a: argparse.Namespace) -> None:
        self._widget("SegmentBuilder", *([a.name] if a.name else []), out=a.out)

    def _quick(self, a: argparse.Namespace) -> None:
        self._widget("QuickSegment", out=a.out)

    def _manager(self, a: argparse.Namespace) -> None:
        self._widget("SegmentManager", out=a.out)

    def _view(self, a: argparse.Namespace) -> None:
        self._widget("SegmentView", a.name, out=a.out)

    # --- intelligence ---------------------------------------------------------------------------------
    def _intel(self, method: str) -> Callable[..., Any]:
        return getattr(self._require_ws(), method)

    def _rfm(self, a: argparse.Namespace) -> None:
        scores = self._intel("rfm")(a.entity, date=a.date, amount=a.amount, window=a.window, as_of=a.as_of)
        if a.out:
            self._store(a.out, scores)
        display(describe(scores))
        if a.save:
            saved = self._intel("rfm_segments")(scores, list(a.labels) if a.labels else None)
            frame = pd.DataFrame(list(dict(saved).items()), columns=["label", "segment"])
            display(FrameView(frame, title=f"saved {len(frame)} RFM segments"))

    def _suggest(self, a: argparse.Namespace) -> None:
        kwargs: dict[str, Any] = {"measure": a.measure}
        if a.using:
            kwargs["using"] = list(a.using)
        found = self._intel("suggest")(**kwargs)
        if a.out:
            self._store(a.out, found)
        display(describe(found))

    def _compare(self, a: argparse.Namespace) -> None:
        cmp = self._intel("compare")(a.a, a.b) if a.b else self._intel("compare")(a.a)
        if a.out:
            self._store(a.out, cmp)
        display(describe(cmp))

    def _similar(self, a: argparse.Namespace) -> None:
        sim = self._intel("similar")(a.name, size=a.size, include_members=a.include_members)
        if a.save:
            sim.save(a.save)
        if a.out:
            self._store(a.out, sim)
        display(describe(sim))

    # --- help -------------------------------------------------------------------------------------------
    def _help(self) -> HelpTable:
        return HelpTable(HELP, footer=HELP_FOOTER)


def _listing(frame: pd.DataFrame) -> pd.DataFrame:
    """A catalog listing as people read it: times to the second, durations to the millisecond, lists of
    errors or warnings as text (empty when there are none). The frame stored with -o stays as it was."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[col] = values.dt.floor("s")
        elif col == "duration":
            out[col] = values.map(lambda v: v if v is None or pd.isna(v) else round(float(v), 3))
        elif values.dtype == object and values.map(lambda v: isinstance(v, (list, tuple))).any():
            out[col] = values.map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    return out


def _parse_when(text: str, option: str = "--at") -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} '{text}' is not a date/time: write YYYY-MM-DD or 'YYYY-MM-DD HH:MM'"
        ) from None


LIST_COLUMNS = ["name", "display_name", "type", "state", "draft", "members", "last_refresh", "last_status"]

HELP: list[HelpRow] = [
    HelpRow("connect URL|VAR|--demo", "connect to a database (URL, connection variable, or the demo)",
            "%segment connect --demo --customers 2000"),
    HelpRow("customers TABLE --key COL", "declare the customer (profile) table and its key",
            "%segment customers customers --key customer_id"),
    HelpRow("relate CHILD PARENT --on COL", "declare a relationship (--on child_col:parent_col, --remove, --assume-integrity)",
            "%segment relate support_calls customers --on cust_id:customer_id"),
    HelpRow("model", "entities, keys, typed columns, relationships and measures", "%segment model"),
    HelpRow("%%segment [NAME] [options]", "define (and with NAME save) a segment; shows count, members, SQL",
            "%%segment vip --preview 5 --columns country,age -o vip_result"),
    HelpRow("%%segment --sql [DIALECT]", "show the compiled SQL without running it",
            "%%segment --sql snowflake"),
    HelpRow("list", "saved segments with state, members and last refresh", "%segment list --search vip"),
    HelpRow("show NAME", "one saved segment", "%segment show vip"),
    HelpRow("check NAME", "static checks of a saved segment (or quoted DSL text)", "%segment check vip"),
    HelpRow("explain NAME KEY", "why a customer is (not) in a segment: each condition's values and truth",
            "%segment explain vip 1234"),
    HelpRow("near NAME", "who misses a segment by one AND condition, counted per condition", "%segment near vip"),
    HelpRow("sweep 'TEXT {x}' x=A:B:STEP", "member counts for many values of {x} (one query)",
            "%segment sweep 'sum(orders.amount) >= {x}' x=0:5001:250"),
    HelpRow("advise [NAME...] [--measure]", "CREATE INDEX statements for indexes the segments would use",
            "%segment advise --measure"),
    HelpRow("sync FOLDER [--prune]", "load .segment files into the catalog; report what changed",
            "%segment sync segments/"),
    HelpRow("changes NAME [--since D]", "who joined and left at its refreshes (seg.on_change pushes them)",
            "%segment changes vip --since 2025-06-01"),
    HelpRow("static NAME FILE|VAR [--key C]", "a frozen member list from a CSV/Parquet file or a variable",
            "%segment static campaign_2025 campaign.csv"),
    HelpRow("refresh NAME...|--all", "re-evaluate saved segments and store their members", "%segment refresh --all"),
    HelpRow("activate NAME [--at T]", "activate a segment, now or at a later time", "%segment activate vip"),
    HelpRow("deactivate NAME [--at T]", "deactivate a segment, now or at a later time",
            "%segment deactivate vip --at 2027-01-01T09:00"),
    HelpRow("rename NAME NEW", "rename a saved segment", "%segment rename vip top_customers"),
    HelpRow("duplicate NAME NEW", "copy a saved segment", "%segment duplicate vip vip_eu"),
    HelpRow("delete NAME", "delete a saved segment", "%segment delete vip_eu"),
    HelpRow("history NAME", "member counts per refresh", "%segment history vip"),
    HelpRow("export NAME [PATH]", "download all members as CSV or Parquet", "%segment export vip vip.csv"),
    HelpRow("sql NAME [--dialect D]", "a saved segment's SQL in any dialect", "%segment sql vip --dialect snowflake"),
    HelpRow("builder [NAME]", "build (or edit) a segment by clicking (widget)", "%segment builder"),
    HelpRow("quick", "a one-condition segment from a field's distribution (widget)", "%segment quick"),
    HelpRow("manager", "the segments page: search, refresh, export ... (widget)", "%segment manager"),
    HelpRow("view NAME", "trend, members and runs of a segment (widget)", "%segment view vip"),
    HelpRow("rfm ENTITY --date C --amount C", "RFM scores and labels (--save: one segment per label)",
            "%segment rfm orders --date order_date --amount amount"),
    HelpRow("suggest --measure EXPR", "segments where a measure is unusually high",
            "%segment suggest --measure 'sum(orders.amount)' --using country age"),
    HelpRow("compare A [B]", "overlap and differentiators of two segments", "%segment compare vip churn_risk"),
    HelpRow("similar NAME", "lookalike customers of a segment", "%segment similar vip --save vip_lookalikes"),
    HelpRow("help", "this table", "%segment help"),
]  # fmt: skip
HELP_FOOTER = [
    "Every command takes -h for its options. In %%segment cells {name} binds a notebook variable as a value "
    "(a list becomes an IN list).",
    "Settings: %config SegmentMagic.preview_rows / preview_columns / default_dialect / catalog / short_errors",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_segments``: register the magics and the ``%%segment`` completer."""
    magics = SegmentMagic(ipython)
    ipython.register_magics(magics)
    install(ipython, lambda: magics.ws, list(magics._commands))
    # Diagnostics and hover for the JupyterLab extension (jupyter_segments/editor.py); needs a kernel.
    register_comm(getattr(ipython, "kernel", None), lambda: magics.ws, lambda: ipython.user_ns)


def unload_ipython_extension(ipython: Any) -> None:
    uninstall(ipython)
    unregister_comm(getattr(ipython, "kernel", None))


def _sweep_values(spec: str) -> tuple[str, list[Any]]:
    """``x=1,5,10`` or ``x=0:5001:250`` (a range, stop excluded) as ("x", [values])."""
    name, sep, values = spec.partition("=")
    if not sep or not name.strip().isidentifier() or not values.strip():
        raise UsageError(f"%segment sweep: '{spec}' is not name=1,5,10 or name=start:stop:step")

    def number(text: str) -> int | float:
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                raise UsageError(f"%segment sweep: '{text}' is not a number (in '{spec}')") from None

    if ":" in values:
        parts = [number(p) for p in values.split(":")]
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] == 0):
            raise UsageError(f"%segment sweep: '{spec}': write name=start:stop or name=start:stop:step")
        start, stop, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1
        out: list[Any] = []
        x = start
        while (x < stop) if step > 0 else (x > stop):
            out.append(x)
            x += step
            if len(out) > 10_000:
                raise UsageError(f"%segment sweep: '{spec}' has more than 10,000 values")
        return name.strip(), out
    return name.strip(), [number(v.strip()) if _looks_numeric(v) else v.strip() for v in values.split(",")]


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
