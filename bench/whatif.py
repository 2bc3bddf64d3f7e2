"""Issue 21's what-if features, timed against what they replace (ratios measured in one run).

    python -m bench.whatif --customers 1000000

- a threshold sweep of 20 values (one query) against 20 counts (one query each);
- explaining one customer (one query, without / with the records) against counting the segment;
- near misses (two queries) against counting the segment.

Each pair is checked to agree before it is timed (the sweep's counts equal the 20 counts). Prints a
table; writes nothing.
"""

from __future__ import annotations

import argparse

from .data import ANCHOR, open_db
from .harness import time_interleaved, workspace

SWEEP = "sum(orders.amount where order_date in last 1 year) >= {x}"
VALUES = list(range(0, 5000, 250))  # 20 values
SEGMENT = (
    "sum(orders.amount where order_date in last 1 year) >= 1000 and country = 'DE' "
    "and any(support_calls where escalated)"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    ws = workspace(open_db(args.customers))
    as_of = ANCHOR

    def counts() -> list[int]:
        return [ws.count(SWEEP, params={"x": x}, as_of=as_of) for x in VALUES]

    def sweep() -> list[int]:
        return ws.sweep(SWEEP, x=VALUES, as_of=as_of)["members"].tolist()

    assert sweep() == counts(), "the sweep disagrees with one count per value"
    key = int(ws.member_keys(SEGMENT, as_of=as_of).iloc[0])
    assert ws.explain(SEGMENT, key, as_of=as_of).verdict
    rows = []
    pairs = {
        "sweep of 20 values / 20 counts": {"new": sweep, "old": counts},
        "explain one customer (no records) / count": {
            "new": lambda: ws.explain(SEGMENT, key, as_of=as_of, records=False),
            "old": lambda: ws.count(SEGMENT, as_of=as_of),
        },
        "explain one customer (20 records each) / count": {
            "new": lambda: ws.explain(SEGMENT, key, as_of=as_of),
            "old": lambda: ws.count(SEGMENT, as_of=as_of),
        },
        "near misses (counts + first 100) / count": {
            "new": lambda: ws.near_misses(SEGMENT, as_of=as_of),
            "old": lambda: ws.count(SEGMENT, as_of=as_of),
        },
    }
    for name, candidates in pairs.items():
        t = time_interleaved(candidates, args.rounds)
        rows.append((name, t["new"].best, t["old"].best))
    print(f"DuckDB, {args.customers:,} customers, best of {args.rounds}")
    for name, new, old in rows:
        print(f"  {name:<50} {new * 1000:9.1f} ms / {old * 1000:9.1f} ms = {new / old:6.2f}")


if __name__ == "__main__":
    main()
