"""Measure alternative SQL shapes for the same segment (the numbers quoted in docs/sql-shape.md).

    python docs/measure_shapes.py [customers] [postgres_url]
"""

from __future__ import annotations

import statistics
import sys
import time

import jupyter_segments as js
from jupyter_segments import demo
from jupyter_segments.backends import open_backend

SHAPES = {
    "one aggregate": {
        "pre-aggregate + LEFT JOIN (ours)": "SELECT COUNT(*) FROM customers c LEFT JOIN (SELECT customer_id k, SUM(amount) s FROM orders WHERE status <> 'returned' GROUP BY customer_id) a ON a.k = c.customer_id WHERE COALESCE(a.s, 0) >= 1000",
        "correlated subquery": "SELECT COUNT(*) FROM customers c WHERE COALESCE((SELECT SUM(amount) FROM orders o WHERE o.customer_id = c.customer_id AND o.status <> 'returned'), 0) >= 1000",
    },
    "two aggregates, one table": {
        "conditional aggregation, one scan (ours)": "SELECT COUNT(*) FROM customers c LEFT JOIN (SELECT customer_id k, SUM(CASE WHEN status <> 'returned' THEN amount END) s, COUNT(CASE WHEN channel = 'web' THEN 1 END) n FROM orders GROUP BY customer_id) a ON a.k = c.customer_id WHERE COALESCE(a.s, 0) >= 1000 AND COALESCE(a.n, 0) >= 3",
        "one derived table per aggregate": "SELECT COUNT(*) FROM customers c LEFT JOIN (SELECT customer_id k, SUM(amount) s FROM orders WHERE status <> 'returned' GROUP BY customer_id) a ON a.k = c.customer_id LEFT JOIN (SELECT customer_id k, COUNT(*) n FROM orders WHERE channel = 'web' GROUP BY customer_id) b ON b.k = c.customer_id WHERE COALESCE(a.s, 0) >= 1000 AND COALESCE(b.n, 0) >= 3",
        "two correlated subqueries": "SELECT COUNT(*) FROM customers c WHERE COALESCE((SELECT SUM(amount) FROM orders o WHERE o.customer_id = c.customer_id AND o.status <> 'returned'), 0) >= 1000 AND (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.customer_id AND o.channel = 'web') >= 3",
    },
    "existence (any)": {
        "IN semi-join (ours)": "SELECT COUNT(*) FROM customers c WHERE c.customer_id IN (SELECT customer_id FROM orders WHERE amount > 500 AND customer_id IS NOT NULL)",
        "EXISTS": "SELECT COUNT(*) FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.amount > 500)",
        "pre-aggregate count > 0": "SELECT COUNT(*) FROM customers c LEFT JOIN (SELECT customer_id k, COUNT(*) n FROM orders WHERE amount > 500 GROUP BY customer_id) a ON a.k = c.customer_id WHERE COALESCE(a.n, 0) > 0",
    },
    "absence (none)": {
        "NOT EXISTS (ours, except SQLite/MariaDB)": "SELECT COUNT(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM support_calls s WHERE s.cust_id = c.customer_id AND s.escalated)",
        "NOT IN (ours on SQLite/MariaDB)": "SELECT COUNT(*) FROM customers c WHERE NOT (c.customer_id IN (SELECT cust_id FROM support_calls WHERE escalated AND cust_id IS NOT NULL))",
        "pre-aggregate count = 0": "SELECT COUNT(*) FROM customers c LEFT JOIN (SELECT cust_id k, COUNT(*) n FROM support_calls WHERE escalated GROUP BY cust_id) a ON a.k = c.customer_id WHERE COALESCE(a.n, 0) = 0",
    },
}


def best_of(backend, sql: str, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = backend.scalar(sql)
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    conn = demo.generate(customers, seed=1)
    targets = [("duckdb", open_backend(conn))]
    if len(sys.argv) > 2:
        pg = open_backend(sys.argv[2])
        demo.copy_to(conn, pg)
        targets.append(("postgres", pg))
    print(f"| database | case | shape | best of 3 (ms) | vs ours |\n|---|---|---|---|---|")
    for db, backend in targets:
        for case, shapes in SHAPES.items():
            base = None
            results = set()
            for shape, sql in shapes.items():
                if db == "postgres" and "correlated" in shape:
                    # Without an index on the foreign key PostgreSQL runs this as a nested loop over
                    # every order for every customer: quadratic, minutes even at 100k. Not timed.
                    print(f"| {db} | {case} | {shape} | (quadratic: not run) | |")
                    continue
                t, r = best_of(backend, sql)
                results.add(r)
                base = base or t
                print(f"| {db} | {case} | {shape} | {t * 1000:.0f} | {t / base:.2f} |")
            assert len(results) == 1, (case, results)  # every shape gives the same count


if __name__ == "__main__":
    main()
