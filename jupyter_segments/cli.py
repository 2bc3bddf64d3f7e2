"""``jupyter-segments demo | compile | refresh``: the command line over the same Python API."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb
import sqlalchemy.exc
from sqlglot.dialects.dialect import Dialect

from . import code_files
from .backends.base import mask_url
from .catalog import open_catalog
from .catalog.store import FAILED
from .errors import SegmentError, plural
from .workspace import connect, connect_demo

DESCRIPTION = """\
Customer segmentation compiled to SQL for your own database: the command line over the same Python
API as the notebook magics.

  jupyter-segments demo        build the demo database, print segments, counts and SQL
  jupyter-segments compile     print the SQL of a definition for any dialect
  jupyter-segments refresh     refresh saved segments (for cron or a scheduler)
  jupyter-segments sync        load a folder of .segment files into the catalog
  jupyter-segments export-code write the catalog's segments out as .segment files
  jupyter-segments check       validate .segment files against a database (for CI)
  jupyter-segments advise      print CREATE INDEX statements the saved segments would use

Run a command with -h for its options."""

DEMO_PATH = "demo.duckdb"  # where `jupyter-segments demo` leaves its database for the README's Python block
DEMO_SIZES = (1_000, 10_000_000)

# The segments the demo walks through: from one attribute to nested scopes and set operations.
DEMO_SEGMENTS: list[tuple[str, str]] = [
    ("germans_over_40", "country = 'DE' and age >= 40"),
    ("big_spenders", "sum(orders.amount where status != 'returned') >= 1000"),
    ("recent_buyers", "any(orders where order_date in last 90 days)"),
    ("bulk_orderers", "any(orders where sum(order_lines.quantity) > 30)"),
    (
        "toy_buyers_no_escalations",
        "any(orders.order_lines where products.category = 'toys')\nand none(support_calls where escalated)",
    ),
    ("north_newsletter", "regions.name = 'North' and newsletter"),
    (
        "vip_or_loyal",
        "(sum(orders.amount) >= 2000) UNION (loyalty_tier in ('gold', 'platinum'))\n"
        "EXCEPT (count(support_calls) >= 5)",
    ),
]


def _cmd_demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    path = None if args.path == ":memory:" else args.path
    ws = connect_demo(args.customers, seed=args.seed, path=path)
    where = f", written to {path}" if path else " (in memory)"
    print(
        f"Demo database: {args.customers:,} customers (seed {args.seed}) built in "
        f"{time.perf_counter() - started:.1f} s{where}\n"
    )
    for name, text in DEMO_SEGMENTS:
        started = time.perf_counter()
        count = ws.count(text)
        ms = (time.perf_counter() - started) * 1000
        print(f"== {name}: {plural(count, 'member')} ({ms:.0f} ms)")
        print("   " + text.replace("\n", "\n   "))
        if args.sql:
            print(ws.compile(text, dialect=args.dialect))
        print()
    big_spenders = DEMO_SEGMENTS[1][1]
    preview = ws.members(
        big_spenders
        + "\nPROJECT sum(orders.amount where status != 'returned') AS spend, count(orders) AS orders",
        limit=5,
    )
    print("First members of big spenders, with projected columns:")
    print(
        preview[["customer_id", "first_name", "last_name", "country", "spend", "orders"]].to_string(
            index=False
        )
    )
    if not args.sql:
        print("\nSQL for big_spenders (" + args.dialect + "):")
        print(ws.compile(DEMO_SEGMENTS[1][1], dialect=args.dialect))
    ws.close()
    print("\nNext steps:")
    if path:
        print(f'  in Python:   ws = jupyter_segments.connect("duckdb:///{path}")   (README.md, "In Python")')
    print("  in Jupyter:  %load_ext jupyter_segments   %segment connect --demo   %segment help")
    print("               or open notebooks/quickstart.ipynb from the source tree")
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.definition == "-" else args.definition
    if args.db:
        ws = connect(args.db)
        ws.customers(args.customers, key=args.key)
        for rel in args.relate or []:
            child, parent, on = rel.split(":", 2)
            ws.relate(child, parent, on=tuple(on.split("=")) if "=" in on else on)
    else:
        ws = connect_demo(1_000)
    print(ws.compile(text, dialect=args.dialect))
    return 0


def _add_refresh(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "refresh",
        help="refresh saved segments (as the scheduled refresh in a notebook does)",
        description="Refresh saved segments in dependency order and record each run in the catalog. "
        "Exit status 1 if any run failed.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--all", action="store_true", help="every segment (inactive ones are recorded as Skipped)"
    )
    which.add_argument("segments", nargs="*", default=[], metavar="NAME", help="segments to refresh")
    p.add_argument(
        "--db", type=_database, required=True, help="the customer database URL, e.g. duckdb:///shop.duckdb"
    )
    p.add_argument(
        "--catalog", type=_catalog, required=True, help="the catalog: a file path or a SQLAlchemy URL"
    )
    p.add_argument("--catalog-schema", default=None, help="PostgreSQL schema of the catalog tables")
    p.add_argument("--customers", default=None, help="customer table (default: the one saved in the catalog)")
    p.add_argument("--key", default=None, help="customer key column (with --customers)")
    p.add_argument(
        "--one-by-one", action="store_true", help="one query per segment instead of one shared query"
    )
    p.add_argument("--members-prefix", default=None, help="prefix of the members tables (default seg_)")
    p.add_argument("--json", action="store_true", help="print the runs as JSON lines")
    p.set_defaults(func=_cmd_refresh)


def _cmd_refresh(args: argparse.Namespace) -> int:
    try:
        catalog = open_catalog(args.catalog, schema=args.catalog_schema)
        ws = connect(args.db, catalog=catalog)
    except SegmentError as e:
        print(f"jupyter-segments refresh: {e}", file=sys.stderr)
        return 2
    try:
        if args.customers:
            ws.customers(args.customers, key=args.key or "id")
        if args.members_prefix:
            ws.members_prefix = args.members_prefix
        _ = ws.catalog  # restores the customer entity and relationships saved with the segments
        if ws.model.customer is None:
            print(
                "jupyter-segments refresh: the catalog has no customer table saved; pass --customers and --key",
                file=sys.stderr,
            )
            return 2
        names = None if args.all else list(args.segments)
        runs = ws.refresh(names, shared=not args.one_by_one, trigger="cli", skip_inactive=args.all)
    except SegmentError as e:
        print(f"jupyter-segments refresh: {e}", file=sys.stderr)
        return 2
    finally:
        ws.close()
    for run in runs:
        if args.json:
            print(
                json.dumps(
                    {
                        "segment": run.segment, "status": run.status, "members": run.members, "added": run.added,
                        "removed": run.removed, "duration": run.duration, "errors": run.errors, "warnings": run.warnings,
                    },
                    ensure_ascii=False,
                )
            )  # fmt: skip
        else:
            line = f"{run.segment}: {run.status}"
            if run.members is not None:
                line += f", {plural(run.members, 'member')} (+{run.added} -{run.removed})"
            if run.duration is not None:
                line += f", {run.duration:.2f}s"
            for msg in run.errors + run.warnings:
                line += f"\n    {msg.splitlines()[0]}"
            print(line)
    return 1 if any(r.status == FAILED for r in runs) else 0


# --- segments as code: sync, export-code, check (jupyter_segments/code_files.py) ---------------------


def _add_code_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sync",
        help="load a folder of .segment files into the catalog",
        description="Create the segments of FOLDER's .segment files, save a new version of those that "
        "changed, update display names and tags, and report what changed. Every file is validated "
        "first: if one fails, nothing is written (exit status 1). Segments without a file are kept "
        "unless --prune.",
    )
    p.add_argument("folder", type=Path)
    p.add_argument("--prune", action="store_true", help="delete dynamic segments that have no file")
    p.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    _database_options(p, catalog_required=True)
    p.set_defaults(func=_cmd_sync)

    p = sub.add_parser(
        "export-code",
        help="write the catalog's segments out as .segment files",
        description="Write every dynamic segment of the catalog to FOLDER as NAME.segment (the format "
        "sync reads); static segments are frozen member lists and are skipped.",
    )
    p.add_argument("folder", type=Path)
    p.add_argument(
        "--catalog", type=_catalog, required=True, help="the catalog: a file path or a SQLAlchemy URL"
    )
    p.add_argument("--catalog-schema", default=None, help="PostgreSQL schema of the catalog tables")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(func=_cmd_export_code)

    p = sub.add_parser(
        "check",
        help="validate .segment files against a database's model (for CI)",
        description="Parse and type-check every .segment file in FOLDER against the database's model, "
        "print the static checks' warnings and compile each file for the dialects it lists. Exit "
        "status 0 if no errors, 1 if any (or, with --strict, any warning), 2 if the check could not run.",
    )
    p.add_argument("folder", type=Path)
    p.add_argument(
        "--dialect", action="append", type=_dialect, default=[], help="also compile for this dialect"
    )
    p.add_argument("--strict", action="store_true", help="warnings fail the check too")
    _database_options(p, catalog_required=False)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "advise",
        help="print CREATE INDEX statements for the indexes the saved segments would use",
        description="List the indexes that the catalog's saved segments (or the DEFINITIONs given) would "
        "use and the database lacks, as CREATE INDEX statements for you to run; nothing is created. "
        "--measure times each affected count without and with them in a transaction that is rolled "
        "back (DuckDB, SQLite, PostgreSQL; MariaDB/MySQL commit DDL, so there it is not measured).",
    )
    p.add_argument("definitions", nargs="*", metavar="DEFINITION", help="saved segment names or DSL text")
    p.add_argument("--measure", action="store_true", help="time the counts with the indexes (rolled back)")
    p.add_argument("--sql", action="store_true", help="print only the statements, as one script")
    _database_options(p, catalog_required=False)
    p.set_defaults(func=_cmd_advise)


def _database_options(p: argparse.ArgumentParser, catalog_required: bool) -> None:
    if catalog_required:
        p.add_argument("--db", type=_database, required=True, help="the customer database URL")
        p.add_argument(
            "--catalog", required=True, help="the catalog: a file path or a SQLAlchemy URL (created if new)"
        )
    else:
        p.add_argument("--db", type=_database, help="the customer database URL (default: the demo schema)")
        p.add_argument(
            "--catalog", type=_catalog, help="a catalog: its model and segments 'in segment' finds"
        )
    p.add_argument("--catalog-schema", default=None, help="PostgreSQL schema of the catalog tables")
    p.add_argument("--customers", default=None, help="customer table (default: the one saved in the catalog)")
    p.add_argument("--key", default=None, help="customer key column (with --customers)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def _code_workspace(args: argparse.Namespace):
    """The workspace a sync or check runs against: --db (or the demo) with --catalog's saved model."""
    catalog = open_catalog(args.catalog, schema=args.catalog_schema) if args.catalog else ":memory:"
    ws = connect_demo(1_000, catalog=catalog) if args.db is None else connect(args.db, catalog=catalog)
    if args.customers:
        ws.customers(args.customers, key=args.key or "id")
    _ = ws.catalog  # restores the customer entity and relationships saved with the segments
    if ws.model.customer is None:
        ws.close()
        raise SegmentError("the catalog has no customer table saved; pass --customers and --key")
    return ws


def _cmd_sync(args: argparse.Namespace) -> int:
    ws = _code_workspace(args)
    try:
        report = code_files.sync(ws, args.folder, prune=args.prune, dry_run=args.dry_run)
    finally:
        ws.close()
    print(report.to_json() if args.format == "json" else report)
    return 0 if report.ok else 1


def _cmd_export_code(args: argparse.Namespace) -> int:
    catalog = open_catalog(args.catalog, schema=args.catalog_schema)
    ws = connect("duckdb:///:memory:", catalog=catalog)  # writing files reads the catalog only
    try:
        written = code_files.export_code(ws, args.folder)
    finally:
        ws.close()
    if args.format == "json":
        print(json.dumps(written.to_dict("records"), ensure_ascii=False, indent=2))
        return 0
    for row in written.itertuples(index=False):
        print(f"{row.action:>16}  {row.name}" + (f"  ->  {row.file}" if row.file else ""))
    n = int((written["action"] == "written").sum())
    print(f"{plural(n, 'file')} written to {args.folder}, {len(written) - n} unchanged or skipped")
    return 0


def _cmd_advise(args: argparse.Namespace) -> int:
    ws = _code_workspace(args)
    try:
        advice = ws.advise(args.definitions or None, measure=args.measure)
    finally:
        ws.close()
    if args.sql:
        print(advice.sql, end="")
    elif args.format == "json":
        print(advice.frame().to_json(orient="records", force_ascii=False))
    else:
        print(advice)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    ws = _code_workspace(args)
    try:
        report = code_files.check(ws, args.folder, dialects=args.dialect)
    finally:
        ws.close()
    print(report.to_json() if args.format == "json" else report)
    failed = report.errors or (args.strict and report.warnings)
    return 1 if failed else 0


def _version() -> str:
    try:
        return version("jupyter-segments")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _dialect(text: str) -> str:
    aliases = {"postgresql": "postgres", "mariadb": "mysql", "sqlserver": "tsql", "mssql": "tsql"}
    name = aliases.get(text.lower(), text.lower())
    if name not in Dialect.classes:
        raise argparse.ArgumentTypeError(
            f"unknown dialect '{text}' (known: {', '.join(sorted(d for d in Dialect.classes if d))})"
        )
    return name


def _database(text: str) -> str:
    """A database URL; a DuckDB or SQLite file that does not exist is an error, not a new empty file."""
    scheme, _, rest = text.partition(":///")
    if (
        scheme in ("duckdb", "sqlite")
        and rest
        and rest != ":memory:"
        and not Path(rest.split("?")[0]).exists()
    ):
        raise argparse.ArgumentTypeError(f"there is no database file {rest} (from {text})")
    return text


def _catalog(text: str) -> str:
    """A catalog to refresh from: a file that does not exist is an error (there is nothing to refresh)."""
    if "://" not in text and text != ":memory:" and not Path(text).expanduser().exists():
        raise argparse.ArgumentTypeError(f"there is no catalog file {text}")
    return _database(text) if text.startswith("sqlite:///") else text


def _demo_size(text: str) -> int:
    try:
        n = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    low, high = DEMO_SIZES
    if not low <= n <= high:
        raise argparse.ArgumentTypeError(f"{n:,} is outside {low:,} to {high:,}")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-segments", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="build the demo database, define segments, print counts and SQL",
        description="Build the generated retail demo in DuckDB, count seven segments on it and print the "
        f"SQL. The database is left in {DEMO_PATH} (its demo tables replaced) for the README's Python "
        "examples; --path :memory: keeps nothing.",
    )
    demo.add_argument(
        "--customers",
        type=_demo_size,
        default=100_000,
        help="demo size (1,000 to 10,000,000; default 100,000)",
    )
    demo.add_argument("--seed", type=int, default=42, help="same seed, same data (default 42)")
    demo.add_argument(
        "--path", default=DEMO_PATH, help=f"the demo DuckDB file (default {DEMO_PATH}; :memory: for none)"
    )
    demo.add_argument(
        "--dialect",
        type=_dialect,
        default="duckdb",
        help="dialect of the SQL shown (postgres, snowflake, ...)",
    )
    demo.add_argument("--sql", action="store_true", help="print the SQL of every segment")
    demo.set_defaults(func=_cmd_demo)

    comp = sub.add_parser("compile", help="print the SQL of a definition ('-' reads it from stdin)")
    comp.add_argument("definition")
    comp.add_argument("--dialect", type=_dialect, default="duckdb", help="SQL dialect (default duckdb)")
    comp.add_argument("--db", type=_database, help="database URL (default: the demo schema)")
    comp.add_argument("--customers", default="customers", help="customer table (with --db)")
    comp.add_argument("--key", default="customer_id", help="customer key column (with --db)")
    comp.add_argument(
        "--relate", action="append", help="child:parent:column or child:parent:child_col=parent_col"
    )
    comp.set_defaults(func=_cmd_compile)

    _add_refresh(sub)
    _add_code_commands(sub)
    return parser


# What a user can cause (a bad definition, an unreachable server, a locked file, a full disk): a message,
# exit status 2, no traceback. Anything else is a bug and keeps its traceback.
EXPECTED_ERRORS = (SegmentError, OSError, duckdb.Error, sqlite3.Error, sqlalchemy.exc.SQLAlchemyError)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("jupyter-segments: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (jupyter-segments demo | head): stop quietly, as cat would. Point stdout
        # at /dev/null so the interpreter's last flush does not complain about the pipe either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except EXPECTED_ERRORS as e:
        message = str(e) if isinstance(e, SegmentError) else f"{type(e).__name__}: {e}"
        if isinstance(e, sqlalchemy.exc.SQLAlchemyError):  # drop SQLAlchemy's "(Background on ...)" link
            message = message.split("\n(Background on this error")[0]
        print(f"jupyter-segments {args.command}: {mask_url(message)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
