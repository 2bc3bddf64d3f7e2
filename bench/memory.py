"""Figure 5: peak memory of one case, measured in a fresh process.

    python -m bench.memory preview 10000000 "age >= 40"
    python -m bench.memory download 10000000 "age >= 42"

The process imports everything, connects and loads the model, then records its resident set ("idle"),
resets the kernel's high-water mark (``/proc/self/clear_refs`` = 5) and runs the case. Peak above idle
= ``VmHWM`` after the case minus ``VmRSS`` before it. It prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .data import ANCHOR, data_dir, open_db


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def measure(case: str, customers: int, definition: str) -> dict[str, Any]:
    from .harness import workspace

    ws = workspace(open_db(customers))
    ws.model.customer_entity()  # the model is read at connect time in a session: not part of the case
    ws.backend.scalar("SELECT 1")
    idle = _status_kb("VmRSS")
    _reset_peak()
    t = time.perf_counter()
    if case == "preview":
        rows = len(ws.members(definition, limit=100, as_of=ANCHOR))
        out_bytes = 0
    elif case == "download":
        path = data_dir() / "tmp" / f"download_{customers}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with path.open("w", newline="") as f:
            for i, chunk in enumerate(ws.iter_members(definition, as_of=ANCHOR, chunk_size=50_000)):
                chunk.to_csv(f, header=i == 0, index=False)
                rows += len(chunk)
        out_bytes = path.stat().st_size
        path.unlink()
    else:
        raise SystemExit(f"unknown case {case!r}: preview or download")
    seconds = time.perf_counter() - t
    peak = _status_kb("VmHWM")
    return {
        "case": case,
        "customers": customers,
        "definition": definition,
        "rows": rows,
        "csv_mb": round(out_bytes / 2**20, 1),
        "seconds": round(seconds, 2),
        "idle_mb": round(idle / 1024, 1),
        "peak_above_idle_mb": round((peak - idle) / 1024, 1),
    }


def run_case(case: str, customers: int, definition: str) -> dict[str, Any]:
    """Run one case in a child process (so earlier work in this process does not count)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", case, str(customers), definition],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
