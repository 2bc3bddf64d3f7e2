"""Shared pieces of the benchmark: the workspace over a demo database, SQL for a segment, timing, checks."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

import jupyter_segments as js
from jupyter_segments import demo
from jupyter_segments.workspace import Workspace

from .data import ANCHOR
from .suite import SAVED, Segment


def workspace(target: Any) -> Workspace:
    """A workspace over the demo tables, modelled as ``connect_demo`` models them, with the suite's
    saved segments (SAVED) saved in a catalog in memory, so ``in segment`` resolves as for a user."""
    ws = js.connect(target, catalog=":memory:")
    demo.declare_model(ws.model)
    for name, text in SAVED.items():
        ws.segment(name, text)
    return ws


def compiled_sql(ws: Workspace, seg: Segment, dialect: str | None = None, shape: str | None = None) -> str:
    """The project's SQL for a segment: member keys, or key + customer columns + projections."""
    shape = shape or ("members" if seg.projections else "keys")
    target = dialect or ws.dialect
    return ws.query(seg.dsl, shape=shape, dialect=target, as_of=ANCHOR).sql(dialect=target)  # type: ignore[arg-type]


# --- running SQL -----------------------------------------------------------------------------------------
Runner = Callable[[str], Any]


def duckdb_runner(conn: duckdb.DuckDBPyConnection) -> Runner:
    """Run a query to completion and fetch every row (as Arrow: the cheapest full fetch)."""

    def run(sql: str) -> Any:
        return conn.sql(sql).to_arrow_table()

    return run


def postgres_runner(conn: Any) -> Runner:
    def run(sql: str) -> Any:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
            return pd.DataFrame(rows, columns=[d.name for d in cur.description])

    return run


def result_frame(result: Any, seg: Segment) -> pd.DataFrame:
    """A runner's result as a frame indexed by customer key (first column), sorted."""
    if isinstance(result, pd.DataFrame):
        frame = result
    else:
        frame = result.to_pandas()
    key = frame.columns[0]
    frame = frame.rename(columns={key: "customer_id"}).set_index("customer_id").sort_index()
    if seg.projections:
        frame.columns = [str(c) for c in frame.columns]
        return frame[list(seg.projections)]
    return frame.iloc[:, :0]


def same_members(a: pd.DataFrame, b: pd.DataFrame | pd.Index) -> str | None:
    """None when both hold the same keys, each as many times (multisets: a key listed twice is a
    difference), and the same projected values (within rounding); else what differs."""
    b_frame = b if isinstance(b, pd.DataFrame) else pd.DataFrame(index=pd.Index(b, name="customer_id"))
    a, b_frame = a.sort_index(kind="stable"), b_frame.sort_index(kind="stable")
    ca, cb = Counter(a.index.tolist()), Counter(b_frame.index.tolist())
    if ca != cb:
        ka, kb = set(ca), set(cb)
        dup_a, dup_b = len(a) - len(ka), len(b_frame) - len(kb)
        return (
            f"{len(a)} vs {len(b_frame)} rows, {len(ka)} vs {len(kb)} distinct members; "
            f"{len(ka - kb)} only left, {len(kb - ka)} only right; "
            f"{dup_a} duplicate rows left, {dup_b} duplicate rows right"
        )
    if len(a.columns):
        for col in a.columns:
            x, y = a[col], b_frame[col]
            x, y = x.reset_index(drop=True), y.reset_index(drop=True)
            if pd.api.types.is_numeric_dtype(x) or pd.api.types.is_numeric_dtype(y):
                diff = (pd.to_numeric(x).astype(float) - pd.to_numeric(y).astype(float)).abs()
                if (diff > 1e-6 * (1 + pd.to_numeric(x).abs().astype(float))).any():
                    return f"column {col} differs"
            elif not (pd.to_datetime(x).values == pd.to_datetime(y).values).all():
                return f"column {col} differs"
    return None


@dataclass
class Timing:
    best: float  # seconds, minimum over the rounds
    runs: list[float]


def time_interleaved(candidates: dict[str, Callable[[], Any]], rounds: int) -> dict[str, Timing]:
    """Time each candidate ``rounds`` times, rotating the order every round so none always runs first."""
    names = list(candidates)
    runs: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t = time.perf_counter()
            candidates[name]()
            runs[name].append(time.perf_counter() - t)
    return {n: Timing(min(v), v) for n, v in runs.items()}


def geomean(values: Sequence[float]) -> float:
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x): the scaling exponent."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / den if den else float("nan")
