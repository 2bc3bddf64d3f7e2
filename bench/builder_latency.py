"""Counting latency in the builder: from a user's edit to the number shown in the summary.

    python -m bench.builder_latency --scales 100000,1000000     # or: python -m bench --figures 8

For each edit (a widget value set as the browser would set it) the time runs until the builder's
summary shows the new count (the worker's result delivered to the label). Beside it, in the same
rounds, the same count by ``ws.count`` on the main thread (the floor: the database's time plus
compiling) and by hand-written SQL. The ratio builder / ws.count is what the builder adds: the
debounce thread, validation, compiling for the SQL view, the label. Measured with no debounce pause
(delay 0) so the ratio shows the machinery; with the default pause (0.4 s) a user waits that much more.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from jupyter_segments.ui.builder import SegmentBuilder

from .data import open_db
from .harness import workspace

# (what is edited, starting definition, the edit: (row, widget, value), the edited DSL, hand-written SQL)
EDITS = [
    (
        "customer attribute",
        "age >= 30",
        (0, "value", 40),
        "age >= 40",
        "SELECT count(*) FROM customers WHERE age >= 40",
    ),
    (
        "aggregate",
        "sum(orders.amount) >= 500",
        (0, "agg_value", 1000),
        "sum(orders.amount) >= 1000",
        "SELECT count(*) FROM (SELECT customer_id FROM orders GROUP BY customer_id HAVING sum(amount) >= 1000)",
    ),
    (
        "aggregate with where",
        "sum(orders.amount where status != 'returned') >= 500",
        (0, "agg_value", 1000),
        "sum(orders.amount where status != 'returned') >= 1000",
        "SELECT count(*) FROM (SELECT customer_id FROM orders WHERE status != 'returned' "
        "GROUP BY customer_id HAVING sum(amount) >= 1000)",
    ),
    (
        "two conditions",
        "age >= 30 AND any(orders where channel = 'web')",
        (0, "value", 50),
        "age >= 50 AND any(orders where channel = 'web')",
        "SELECT count(*) FROM customers c WHERE age >= 50 AND EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.channel = 'web')",
    ),
]


@dataclass
class Latency:
    customers: int
    edit: str
    builder_s: float  # edit -> number shown (median of rounds)
    ws_count_s: float  # ws.count of the edited definition on the main thread (median)
    hand_sql_s: float  # the hand-written count (median)
    ratio_to_ws_count: float
    ratio_to_hand: float
    first_edit_s: float  # the first edit of a new builder: it also counts all customers (the share)


def _timed(fn: Any, *args: Any) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def _edit_to_shown(b: SegmentBuilder, row: int, field: str, value: Any, want: str) -> float:
    t0 = time.perf_counter()
    getattr(b.row_views()[row], field).value = value
    if not b.debouncer.wait(600):
        raise TimeoutError(f"no count within 10 minutes for {want!r}")
    seconds = time.perf_counter() - t0
    if b.counted_text != want or b.count is None:
        raise AssertionError(f"the builder shows {b.counted_text!r}, expected {want!r}")
    return seconds


def measure(customers: int, rounds: int = 3, log: Any = print) -> list[Latency]:
    conn = open_db(customers)
    ws = workspace(conn)
    out = []
    try:
        for name, start, (row, field, value), edited, hand in EDITS:
            want = int(conn.execute(hand).fetchone()[0])
            builder_times, ws_times, hand_times = [], [], []
            for _ in range(rounds):
                b = SegmentBuilder(ws, text=start, delay=0.0)
                try:
                    b.wait(600)  # the starting definition counted (and all customers, once)
                    b.load(start)  # the same definition again: now a steady state
                    b.wait(600)
                    builder_times.append(_edit_to_shown(b, row, field, value, edited))
                    if b.count != want:
                        raise AssertionError(f"{name}: builder {b.count} != hand-written {want}")
                finally:
                    b.close()
                ws_times.append(_timed(ws.count, edited))
                hand_times.append(_timed(lambda sql: conn.execute(sql).fetchone(), hand))
            # A new builder's first count: the definition and all customers (counted once per builder).
            b = SegmentBuilder(ws, delay=0.0)
            try:
                t0 = time.perf_counter()
                b.load(edited)
                b.wait(600)
                first = time.perf_counter() - t0
            finally:
                b.close()
            med_b, med_w, med_h = (statistics.median(x) for x in (builder_times, ws_times, hand_times))
            out.append(Latency(customers, name, med_b, med_w, med_h, med_b / med_w, med_b / med_h, first))
            log(
                f"  {customers:>9,} {name:<22} edit->shown {med_b * 1000:7.1f} ms  ws.count "
                f"{med_w * 1000:7.1f} ms  hand {med_h * 1000:7.1f} ms  x{med_b / med_w:.2f} / x{med_b / med_h:.2f}"
                f"  first {first * 1000:7.1f} ms"
            )
    finally:
        ws.close()
        conn.close()
    return out


def section(scales: list[int], rounds: int, log: Any = print) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in scales:
        log(f"builder latency: {n:,} customers")
        rows += [asdict(x) for x in measure(n, rounds, log)]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.builder_latency", description=__doc__.splitlines()[0])
    p.add_argument("--scales", default="100000,1000000")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    section([int(s) for s in args.scales.split(",")], args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """Figure 8 in results.md: per scale and edit, the latency and its ratios."""
    out = [
        "## 8. Builder: from an edit to the count shown",
        "",
        "bench/builder_latency.py: median of the rounds; no debounce pause (the builder's default 0.4 s "
        "adds to what a user waits). 'first': a new builder's first count, which also counts all "
        "customers once (the share). Ratios to `ws.count` of the same definition and to hand-written "
        "SQL, timed in the same rounds.",
        "",
        "| customers | edit | edit -> shown | ws.count | hand-written | x ws.count | x hand | first |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(
            f"| {r['customers']:,} | {r['edit']} | {r['builder_s'] * 1000:.0f} ms | {r['ws_count_s'] * 1000:.0f} ms "
            f"| {r['hand_sql_s'] * 1000:.0f} ms | {r['ratio_to_ws_count']:.2f} | {r['ratio_to_hand']:.2f} "
            f"| {r['first_edit_s'] * 1000:.0f} ms |"
        )
    return out
