"""EXPLAIN ANALYZE, condensed: the operators of the compiled and hand-written SQL for one suite segment.

    python -m bench.explain none_recent --customers 1000000
    python -m bench.explain strings --sql "SELECT ..."      # also profile an alternative shape

Prints one line per operator (indented by depth): name, rows out, seconds, and its main detail.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from .data import open_db
from .harness import compiled_sql, workspace
from .suite import DATES, SUITE


def profile(conn: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, list[str]]:
    """(seconds summed over operators, operator lines) of one run of ``sql`` under DuckDB's JSON profiler."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.json"
        conn.execute("PRAGMA enable_profiling = 'json'")
        conn.execute(f"PRAGMA profiling_output = '{out}'")
        try:
            conn.sql(sql).fetchall()
        finally:
            conn.execute("PRAGMA disable_profiling")
        tree = json.loads(out.read_text())
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        name = node.get("name") or node.get("type") or "?"
        extra = node.get("extra_info") or {}
        detail = ""
        for key in ("Table", "Join Type", "Conditions", "Aggregates", "Expression", "Filters", "Groups"):
            if key in extra:
                value = extra[key]
                value = " ".join(value) if isinstance(value, list) else str(value)
                detail += f" {key}: {' '.join(value.split())[:110]};"
        rows = node.get("intermediate_rows", "")
        secs = node.get("timing", 0.0)
        if name not in ("RESULT_COLLECTOR", "PROJECTION"):  # bookkeeping, never the cost
            lines.append(f"{'  ' * depth}{name.strip()} rows={rows} {secs:.3f}s{detail}")
        for child in node.get("children", []):
            walk(child, depth + 1)

    for child in tree.get("operator", []):
        walk(child, 0)
    total = sum(_timings(op) for op in tree.get("operator", []))
    return total, lines


def _timings(node: dict[str, Any]) -> float:
    return float(node.get("timing", 0.0)) + sum(_timings(c) for c in node.get("children", []))


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.explain")
    p.add_argument("segment", choices=[s.name for s in SUITE])
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--sql", action="append", default=[], help="an alternative query to profile too")
    args = p.parse_args()
    seg = next(s for s in SUITE if s.name == args.segment)
    conn = open_db(args.customers)
    ws = workspace(conn)
    queries = {"compiled": compiled_sql(ws, seg)}
    queries |= {f"hand-written {i}": sql for i, sql in enumerate(seg.hand_sql())}
    queries |= {f"alternative {i}": sql.format(**DATES) for i, sql in enumerate(args.sql)}
    for label, sql in queries.items():
        conn.sql(sql).fetchall()  # warm the buffer cache: profile the second run
        total, lines = profile(conn, sql)
        print(f"--- {label}: {total:.3f} s\n{sql}\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
