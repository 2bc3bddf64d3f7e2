"""results.json -> results.md (every figure next to its target) and PNG plots."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .builder_latency import markdown as builder_markdown
from .estimates import markdown as estimates_markdown
from .estimates import summary as estimates_summary
from .harness import geomean, loglog_slope
from .noindex import markdown as noindex_markdown
from .noindex import summary as noindex_summary
from .spark import markdown as spark_markdown
from .suite import SUITE
from .tpcds import markdown as tpcds_markdown
from .tpcds import summary_rows as tpcds_summary

TARGETS = {
    "fig1_geomean": 1.05,
    "fig1_max": 1.3,
    "fig2_incl": 10.0,
    "fig2_excl": 3.0,
    "fig3": 4.0,
    "fig4_compile_ms": 2.0,
    "fig4_share": 0.05,
    "fig5_preview_mb": 50.0,
    "fig5_download_mb": 200.0,
    "fig6_exponent": 1.0,
}


def _ok(good: bool) -> str:
    return "yes" if good else "**no**"


def _fmt_n(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def _rows(results: dict[str, Any], key: str) -> Any:
    return results.get(key, {}).get("rows")


def summary(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, met) rows for the headline table."""
    out: list[tuple[str, str, str, str]] = []
    fig1 = (_rows(results, "fig1_duckdb") or []) + (_rows(results, "fig1_postgres") or [])
    by_run: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for r in fig1:
        by_run[(r["database"], r["customers"])].append(r)
    for (db, n), rows in sorted(by_run.items()):
        ratios = [r["ratio"] for r in rows]
        g, worst = geomean(ratios), max(rows, key=lambda r: r["ratio"])
        out.append(
            (
                f"1. compiled / fastest hand-written SQL, {db} {_fmt_n(n)} ({len(rows)} segments)",
                f"geomean {g:.3f}; max {worst['ratio']:.2f} ({worst['segment']})",
                f"geomean <= {TARGETS['fig1_geomean']}; max <= {TARGETS['fig1_max']}",
                _ok(g <= TARGETS["fig1_geomean"] and worst["ratio"] <= TARGETS["fig1_max"]),
            )
        )
    fig2 = _rows(results, "fig2_pandas")
    if fig2:
        segs = fig2["segments"]
        pandas_total = sum(r["pandas_s"] for r in segs)
        compiled_total = sum(r["compiled_s"] for r in segs)
        incl = (fig2["load_s"] + pandas_total) / compiled_total
        excl = pandas_total / compiled_total
        slowest = min(segs, key=lambda r: r["ratio_excl"])
        measured = (
            f"incl. loading {incl:.1f}x; excl. {excl:.1f}x (per segment: geomean "
            f"{geomean([r['ratio_excl'] for r in segs]):.1f}x, min {slowest['ratio_excl']:.1f}x {slowest['segment']})"
        )
        met = _ok(incl >= TARGETS["fig2_incl"] and excl >= TARGETS["fig2_excl"])
        batch = _batch(fig2)
        if batch:
            b_incl, b_excl = batch
            measured += (
                f"; whole suite as a batch (load once + every segment vs one shared refresh of all "
                f"{fig2['batch']['segments']}): incl. loading {b_incl:.1f}x; excl. {b_excl:.1f}x"
            )
            met = (
                f"per segment: {met}; batch: "
                f"{_ok(b_incl >= TARGETS['fig2_incl'] and b_excl >= TARGETS['fig2_excl'])}"
            )
        out.append(
            (
                f"2. pandas / compiled, whole suite, {_fmt_n(fig2['customers'])}",
                measured,
                f">= {TARGETS['fig2_incl']:.0f}x incl.; >= {TARGETS['fig2_excl']:.0f}x excl.",
                met,
            )
        )
        out += _peers_summary(fig2)
    fig3 = _rows(results, "fig3_refresh")
    if fig3:
        r = fig3[0]
        out.append(
            (
                f"3. refresh-all, one by one / shared, {r['segments']} segments, {_fmt_n(r['customers'])}",
                f"{r['ratio']:.2f}x ({r['one_by_one_s']:.2f} s vs {r['shared_s']:.2f} s)",
                f">= {TARGETS['fig3']:.0f}x",
                _ok(r["ratio"] >= TARGETS["fig3"]),
            )
        )
    fig4 = _rows(results, "fig4_interactive")
    if fig4:
        counts = fig4["counts"]
        ratios = sorted(r["ratio"] for r in counts)
        out.append(
            (
                f"4a. count after an edit / COUNT(*) of customers, {_fmt_n(counts[0]['customers'])}",
                f"median {ratios[len(ratios) // 2]:.0f}x, max {ratios[-1]:.0f}x "
                f"(COUNT(*) {1000 * counts[0]['count_star_s']:.2f} ms; median count "
                f"{1000 * sorted(r['count_s'] for r in counts)[len(counts) // 2]:.0f} ms)",
                "(reported)",
                "-",
            )
        )
        comp = fig4["compile"]
        worst_ms = max(comp, key=lambda r: r["compile_ms"])
        worst_share = max(comp, key=lambda r: r["share"])
        total_share = sum(r["compile_ms"] for r in comp) / sum(r["eval_ms"] for r in comp)
        steps = _compile_steps(comp)
        clock = comp[0].get("clock", "thread CPU")  # older results timed compiles in thread CPU time
        out.append(
            (
                f"4b. compile time per definition (parse + compile + SQL), vs evaluation at "
                f"{_fmt_n(fig4['compile_customers'])}",
                f"max {worst_ms['compile_ms']:.2f} ms ({worst_ms['segment']}); max share "
                f"{100 * worst_share['share']:.1f}% ({worst_share['segment']}); whole suite {100 * total_share:.1f}%"
                + (f" (suite {clock} time: {steps})" if steps else "")
                + ("" if clock == "wall" else "; compile in thread CPU time vs evaluation in wall time"),
                f"< {TARGETS['fig4_compile_ms']:.0f} ms; <= {100 * TARGETS['fig4_share']:.0f}%",
                # Three verdicts: the "at most 5% of the evaluation time" reads per segment
                # or over the suite; both are shown.
                f"< 2 ms: {_ok(worst_ms['compile_ms'] < TARGETS['fig4_compile_ms'])}; "
                f"share per segment: {_ok(worst_share['share'] <= TARGETS['fig4_share'])}; "
                f"over the suite: {_ok(total_share <= TARGETS['fig4_share'])}",
            )
        )
    for r in _rows(results, "fig5_memory") or []:
        limit = TARGETS["fig5_preview_mb" if r["case"] == "preview" else "fig5_download_mb"]
        what = "members(limit=100)" if r["case"] == "preview" else f"CSV download of {r['rows']:,} members"
        out.append(
            (
                f"5. peak RSS above idle: {what}, `{r['definition']}`, {_fmt_n(r['customers'])}",
                f"{r['peak_above_idle_mb']:.0f} MB ({r['seconds']:.1f} s)",
                f"<= {limit:.0f} MB",
                _ok(r["peak_above_idle_mb"] <= limit),
            )
        )
    scaling = scaling_rows(results)
    if scaling:
        total = scaling["suite total"]
        worst = max((k for k in scaling if k != "suite total"), key=lambda k: scaling[k])
        out.append(
            (
                f"6. scaling exponent of time vs customers ({', '.join(_fmt_n(n) for n in scaling_scales(results))})",
                f"suite total {total:.2f}; max per segment {scaling[worst]:.2f} ({worst})",
                f"<= {TARGETS['fig6_exponent']:.1f}",
                _ok(total <= TARGETS["fig6_exponent"]),
            )
        )
    out += tpcds_summary(_rows(results, "fig9_tpcds"))
    out += noindex_summary(_rows(results, "fig10_noindex"))
    estimates = estimates_summary(_rows(results, "fig11_estimates") or [])
    if estimates is not None:
        out.append(estimates)
    return out


def _batch(fig2: dict[str, Any]) -> tuple[float, float] | None:
    """Figure 2's batch ratios (incl., excl. loading): pandas over the suite vs one shared refresh of it."""
    batch = fig2.get("batch")
    if not batch or batch["segments"] != len(fig2["segments"]):
        return None  # older results, or a batch over other segments than the pandas rows
    pandas_total = sum(r["pandas_s"] for r in fig2["segments"])
    return (fig2["load_s"] + pandas_total) / batch["shared_s"], pandas_total / batch["shared_s"]


def _compile_steps(comp: list[dict[str, Any]]) -> str:
    """'parse x%, compile y%, SQL text z%' of the suite's summed step times ('' for older results)."""
    if not all("parse_ms" in r for r in comp):
        return ""
    keys = {"parse": "parse_ms", "compile": "build_ms", "SQL text": "sql_ms"}
    totals = {k: sum(r[v] for r in comp) for k, v in keys.items()}
    whole = sum(totals.values())
    return ", ".join(f"{k} {100 * v / whole:.0f}%" for k, v in totals.items())


def _scaling_data(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Compiled SQL times per (segment, scale): figure 1's runs plus the compiled-only large scales."""
    return (_rows(results, "fig1_duckdb") or []) + (_rows(results, "fig6_large") or [])


def scaling_scales(results: dict[str, Any]) -> list[int]:
    return sorted({r["customers"] for r in _scaling_data(results)})


def scaling_rows(results: dict[str, Any]) -> dict[str, float]:
    """Log-log slope of compiled time vs customers: suite total and per segment (DuckDB)."""
    rows = _scaling_data(results)
    scales = scaling_scales(results)
    if len(scales) < 2:
        return {}
    t = {(r["segment"], r["customers"]): r["compiled_s"] for r in rows}
    out = {"suite total": loglog_slope(scales, [sum(v for (s, n), v in t.items() if n == c) for c in scales])}
    for seg in SUITE:
        if all((seg.name, n) in t for n in scales):
            out[seg.name] = loglog_slope(scales, [t[(seg.name, n)] for n in scales])
    return out


def hand_scaling(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(compiled, hand-written) exponents between the two smallest figure-1 scales."""
    rows = _rows(results, "fig1_duckdb") or []
    scales = sorted({r["customers"] for r in rows})[:2]
    if len(scales) < 2:
        return {}
    by = {(r["segment"], r["customers"]): r for r in rows}
    out: dict[str, tuple[float, float]] = {}
    for name in ["suite total"] + [s.name for s in SUITE]:
        if name == "suite total":
            c = [sum(r["compiled_s"] for r in rows if r["customers"] == n) for n in scales]
            h = [sum(r["hand_s"] for r in rows if r["customers"] == n) for n in scales]
        elif all((name, n) in by for n in scales):
            c = [by[(name, n)]["compiled_s"] for n in scales]
            h = [by[(name, n)]["hand_s"] for n in scales]
        else:
            continue
        out[name] = (loglog_slope(scales, c), loglog_slope(scales, h))
    return out


def _fig2_totals(
    fig2: dict[str, Any], fig3: list[dict[str, Any]] | None, fig1: list[dict[str, Any]] | None
) -> list[str]:
    """Figure 2's whole-suite comparisons: per segment (summed), as a batch (one shared refresh), and
    the fastest hand-written SQL of figure 1 (summed): the ratio no SQL generator could beat here."""
    segs = fig2["segments"]
    pandas_total = sum(r["pandas_s"] for r in segs)
    compiled_total = sum(r["compiled_s"] for r in segs)
    pandas_cell = f"{fig2['load_s']:.2f} + {pandas_total:.2f}"
    rows = [
        [
            f"per segment: {len(segs)} separate queries (figure 1's compiled times, summed)",
            pandas_cell,
            f"{compiled_total:.2f}",
            f"{(fig2['load_s'] + pandas_total) / compiled_total:.1f}x",
            f"{pandas_total / compiled_total:.1f}x",
        ]
    ]
    batch = _batch(fig2)
    if batch:
        b = fig2["batch"]
        rows.append(
            [
                f"whole suite as a batch: one shared refresh of all {b['segments']} segments ({b['how']})",
                pandas_cell,
                f"{b['shared_s']:.2f}",
                f"{batch[0]:.1f}x",
                f"{batch[1]:.1f}x",
            ]
        )
    names = {r["segment"] for r in segs}
    hand = [
        r
        for r in fig1 or []
        if r["database"] == "duckdb" and r["customers"] == fig2["customers"] and r["segment"] in names
    ]
    if len(hand) == len(segs):
        hand_total = sum(r["hand_s"] for r in hand)
        rows.append(
            [
                "for reference: the fastest hand-written SQL per segment (figure 1's, summed)",
                pandas_cell,
                f"{hand_total:.2f}",
                f"{(fig2['load_s'] + pandas_total) / hand_total:.1f}x",
                f"{pandas_total / hand_total:.1f}x",
            ]
        )
    lines = [
        _table(
            [
                "comparison",
                "pandas s (load + compute)",
                "jupyter-segments s",
                "incl. loading",
                "excl. loading",
            ],
            rows,
        ),
        "",
        "pandas: every table loaded once, then each segment computed (best of N per segment, summed).",
    ]
    if batch:
        b = fig2["batch"]
        note = (
            "The batch side writes every segment's members to a table (figure 3's shared side), timed in "
            "figure 2 itself, before the DataFrames are loaded; it is not interleaved with the pandas runs "
            "(neither are figure 1's per-segment times)."
        )
        same = [r for r in fig3 or [] if r["customers"] == b["customers"] and r["segments"] == b["segments"]]
        if same:
            note += f" Figure 3 timed the same shared refresh separately: {same[0]['shared_s']:.2f} s."
        lines.append(note)
    return lines + [""]


def _peers_totals(peers: dict[str, Any]) -> dict[str, float]:
    """Figure 2's peers over the suite: summed seconds (polars without and with its load)."""
    segs = peers["segments"]
    t = {k: sum(r[f"{k}_s"] for r in segs) for k in ("compiled", "polars", "ibis", "ibis_sql")}
    t["polars_incl"] = peers["polars_load_s"] + t["polars"]
    return t


def _peers_summary(fig2: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows for polars and ibis (figure 2's peers): ratios peer / compiled, no target."""
    peers = fig2.get("peers")
    if not peers:
        return []
    segs, t, n = peers["segments"], _peers_totals(peers), _fmt_n(fig2["customers"])

    def spread(key: str) -> str:
        lo, hi = min(segs, key=lambda r: r[key]), max(segs, key=lambda r: r[key])
        return (
            f"per segment: geomean {geomean([r[key] for r in segs]):.2f}x, min {lo[key]:.2f}x {lo['segment']}, "
            f"max {hi[key]:.2f}x {hi['segment']}"
        )

    return [
        (
            f"2. polars (lazy) / compiled, whole suite, {n}",
            f"incl. loading {t['polars_incl'] / t['compiled']:.1f}x; excl. {t['polars'] / t['compiled']:.1f}x "
            f"({t['polars']:.2f} s vs {t['compiled']:.2f} s; load {peers['polars_load_s']:.1f} s); {spread('polars_ratio')}",
            "(reported)",
            "-",
        ),
        (
            f"2. ibis (DuckDB) / compiled, whole suite, {n}",
            f"{t['ibis'] / t['compiled']:.2f}x (runs in the database: no loading; {t['ibis']:.2f} s vs "
            f"{t['compiled']:.2f} s); {spread('ibis_ratio')}; ibis' SQL alone / compiled "
            f"{t['ibis_sql'] / t['compiled']:.2f}x",
            "(reported)",
            "-",
        ),
    ]


def _peers_markdown(fig2: dict[str, Any]) -> list[str]:
    """Figure 2's polars and ibis table (bench/peers.py)."""
    peers = fig2.get("peers")
    if not peers:
        return []
    segs, t = peers["segments"], _peers_totals(peers)

    def ms(x: float) -> str:
        return f"{1000 * x:.0f}" if x >= 0.01 else f"{1000 * x:.1f}"

    rows = [
        [
            r["segment"],
            ms(r["compiled_s"]),
            ms(r["polars_s"]),
            f"{r['polars_ratio']:.2f}",
            ms(r["ibis_s"]),
            f"{r['ibis_ratio']:.2f}",
            ms(r["ibis_sql_s"]),
            f"{r['ibis_sql_s'] / r['compiled_s']:.2f}",
        ]
        for r in segs
    ]
    rows.append(
        [
            "**whole suite (sum)**",
            ms(t["compiled"]),
            f"{ms(t['polars'])} (+ load {ms(peers['polars_load_s'])})",
            f"{t['polars'] / t['compiled']:.2f} (incl. load {t['polars_incl'] / t['compiled']:.2f})",
            ms(t["ibis"]),
            f"{t['ibis'] / t['compiled']:.2f}",
            ms(t["ibis_sql"]),
            f"{t['ibis_sql'] / t['compiled']:.2f}",
        ]
    )
    rows.append(
        [
            "**geomean of ratios**",
            "",
            "",
            f"{geomean([r['polars_ratio'] for r in segs]):.2f}",
            "",
            f"{geomean([r['ibis_ratio'] for r in segs]):.2f}",
            "",
            f"{geomean([r['ibis_sql_s'] / r['compiled_s'] for r in segs]):.2f}",
        ]  # fmt: skip
    )
    return [
        "",
        f"### polars and ibis vs compiled at {_fmt_n(fig2['customers'])} (bench/peers.py)",
        "",
        "polars: the lazy API on the tables read out of the same DuckDB file once (DuckDB -> Arrow -> polars: "
        f"{peers['polars_load_s']:.1f} s), `collect()` timed. ibis: `ibis.duckdb.from_connection` on the compiled "
        "SQL's connection, timed from building the expression to the Arrow result (nothing to load); "
        "'ibis SQL' is `ibis.to_sql` of it run as the compiled SQL is (DuckDB's plan without ibis' Python). "
        "Compiled SQL, polars, ibis and ibis SQL interleaved per segment, best of N; each peer returns exactly "
        "the compiled members (checked every run). Why a peer is faster on a shape: results/findings.md.",
        "",
        _table(
            [
                "segment",
                "compiled ms",
                "polars ms",
                "polars / compiled",
                "ibis ms",
                "ibis / compiled",
                "ibis SQL ms",
                "ibis SQL / compiled",
            ],  # fmt: skip
            rows,
        ),
    ]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# results.json sections in the order of the figures, with what each holds
SECTIONS = {
    "fig1_duckdb": "1. compiled vs hand-written, DuckDB",
    "fig1_postgres": "1. compiled vs hand-written, PostgreSQL",
    "fig2_pandas": "2. pandas vs compiled",
    "fig3_refresh": "3. refresh-all",
    "fig4_interactive": "4. interactive counts and compile time",
    "fig5_memory": "5. memory",
    "fig6_large": "6. scaling (compiled SQL at the large scales)",
    "fig7_spark": "7. Spark local: compiled vs hand-written SQL vs DataFrame code",
    "fig8_builder": "8. builder: from an edit to the count shown",
    "fig9_tpcds": "9. TPC-DS shapes: compiled vs hand-written, DuckDB and PostgreSQL",
    "fig10_noindex": "10. MariaDB and SQLite without indexes, then with the advised ones",
    "fig11_estimates": "11. instant estimates: time to the estimate and to the exact count",
}


def provenance(results: dict[str, Any]) -> list[list[str]]:
    """(figure, measured at, commit) for each figure in the results: a partial re-run keeps older figures."""
    # Before commits were recorded per figure, one commit (the last run's) was kept for the whole file.
    rows = []
    for key, label in SECTIONS.items():
        section = results.get(key)
        if not section:
            continue
        commit = section.get("commit") or "not recorded (measured before commits were kept per figure)"
        rows.append([label, str(section.get("measured_at", "not recorded")).replace("T", " "), commit])
    return rows


def markdown(results: dict[str, Any]) -> str:
    machine = {k: v for k, v in results.get("machine", {}).items() if k != "commit"}
    parts = [
        "# Benchmark results",
        "",
        "Generated by `python -m bench` (see bench/README.md). Every figure is a ratio of times measured in",
        "the same run, candidates interleaved, best of N rounds. Machine: "
        + ", ".join(f"{k} {v}" for k, v in machine.items())
        + ". A partial re-run (`--figures`) keeps the other figures: the date and commit of each are below.",
        "",
        "## Summary",
        "",
        _table(["figure", "measured", "target", "met"], [list(r) for r in summary(results)]),
        "",
        "## When each figure was measured",
        "",
        _table(["figure", "measured at", "commit"], provenance(results)),
    ]
    fig1 = (_rows(results, "fig1_duckdb") or []) + (_rows(results, "fig1_postgres") or [])
    if fig1:
        runs = sorted({(r["database"], r["customers"]) for r in fig1})
        by = {(r["database"], r["customers"], r["segment"]): r for r in fig1}
        forms = {s.name: s.forms for s in SUITE}
        rows = []
        for seg in SUITE:
            row: list[Any] = [seg.name, forms[seg.name]]
            for db, n in runs:
                r = by.get((db, n, seg.name))
                row.append(
                    f"{r['ratio']:.2f} ({1000 * r['compiled_s']:.0f} / {1000 * r['hand_s']:.0f} ms)"
                    if r
                    else "-"
                )
            rows.append(row)
        members = {r["segment"]: r["members"] for r in fig1 if r["customers"] == max(n for _, n in runs)}
        parts += [
            "",
            "## 1. Compiled vs fastest hand-written SQL",
            "",
            "ratio (compiled ms / hand-written ms); the hand-written SQL is in bench/suite.py and returns the "
            "same members (checked every run).",
            "",
            _table(["segment", "forms"] + [f"{db} {_fmt_n(n)}" for db, n in runs], rows),
            "",
            "Members at the largest DuckDB scale: "
            + ", ".join(f"{k} {v:,}" for k, v in members.items())
            + ".",
            "",
            "![figure 1](fig1_vs_hand.png)",
        ]
    fig2 = _rows(results, "fig2_pandas")
    if fig2:
        parts += [
            "",
            f"## 2. pandas vs compiled at {_fmt_n(fig2['customers'])}",
            "",
            f"Loading every table into DataFrames (DuckDB -> pandas, the fastest path): {fig2['load_s']:.1f} s.",
            "",
            *_fig2_totals(fig2, _rows(results, "fig3_refresh"), _rows(results, "fig1_duckdb")),
            _table(
                ["segment", "pandas ms", "compiled ms", "pandas / compiled"],
                [
                    [
                        r["segment"],
                        f"{1000 * r['pandas_s']:.0f}",
                        f"{1000 * r['compiled_s']:.0f}",
                        f"{r['ratio_excl']:.1f}",
                    ]
                    for r in fig2["segments"]
                ],
            ),
            "",
            "![figure 2](fig2_pandas.png)",
            *_peers_markdown(fig2),
        ]
    fig3 = _rows(results, "fig3_refresh")
    if fig3:
        r = fig3[0]
        parts += [
            "",
            "## 3. Refresh-all",
            "",
            f"{r['segments']} segments at {_fmt_n(r['customers'])}: members of each written to a table, one query "
            f"per segment: {r['one_by_one_s']:.2f} s; one shared query ({r['how']}) + one cut per segment: "
            f"{r['shared_s']:.2f} s; ratio {r['ratio']:.2f}.",
        ]
    fig4 = _rows(results, "fig4_interactive")
    if fig4:
        compiled = {k["segment"]: k for k in fig4["compile"]}
        clock4 = fig4["compile"][0].get("clock", "thread CPU") if fig4["compile"] else "wall"
        rows = []
        for c in fig4["counts"]:
            k = compiled.get(c["segment"])
            rows.append(
                [
                    c["segment"],
                    f"{1000 * c['count_s']:.1f}",
                    f"{1000 * c['count_star_s']:.2f}",
                    f"{c['ratio']:.0f}",
                ]
                + (
                    [
                        f"{k['compile_ms']:.2f}",
                        " / ".join(f"{k[f]:.2f}" for f in ("parse_ms", "build_ms", "sql_ms"))
                        if "parse_ms" in k
                        else "-",
                        f"{k['eval_ms']:.1f}",
                        f"{100 * k['share']:.1f}%",
                    ]
                    if k
                    else ["-"] * 4
                )
            )
        parts += [
            "",
            "## 4. Interactive",
            "",
            f"compile ms: {clock4} time of parse + compile + SQL text per definition (mean of many, best batch); the",
            "three steps are also timed one by one (so they add up to about the total; referenced segments are parsed",
            "in compile). The evaluation it is compared with is figure 1's wall time of the compiled SQL.",
            "",
            _table(
                [
                    "segment",
                    "count after edit ms",
                    "COUNT(*) ms",
                    "ratio",
                    "compile ms",
                    "parse / compile / SQL text ms",
                    f"eval ms ({_fmt_n(fig4['compile_customers'])})",
                    "compile share",
                ],  # fmt: skip
                rows,
            ),
        ]
    fig5 = _rows(results, "fig5_memory")
    if fig5:
        parts += [
            "",
            "## 5. Memory (fresh process per case; peak = VmHWM after the case - VmRSS before it)",
            "",
            _table(
                ["case", "definition", "customers", "rows", "CSV MB", "s", "idle MB", "peak above idle MB"],
                [
                    [
                        r["case"],
                        f"`{r['definition']}`",
                        f"{r['customers']:,}",
                        f"{r['rows']:,}",
                        r["csv_mb"],
                        r["seconds"],
                        r["idle_mb"],
                        r["peak_above_idle_mb"],
                    ]
                    for r in fig5
                ],  # fmt: skip
            ),
        ]
    scaling = scaling_rows(results)
    if scaling:
        parts += [
            "",
            "## 6. Scaling (DuckDB, compiled SQL)",
            "",
            "Exponent over all scales for the compiled SQL, and between the two smallest scales for the",
            "compiled and the fastest hand-written SQL (the same database work grows the same way).",
            "",
            _table(
                [
                    "segment",
                    "exponent (compiled)",
                    "compiled, 2 smallest scales",
                    "hand-written, 2 smallest scales",
                ],
                [
                    [k, f"{v:.2f}", *(f"{x:.2f}" for x in hand_scaling(results).get(k, (float("nan"),) * 2))]
                    for k, v in scaling.items()
                ],  # fmt: skip
            ),
            "",
            "![figure 6](fig6_scaling.png)",
        ]
    if _rows(results, "fig7_spark"):
        parts += ["", *spark_markdown(results["fig7_spark"]["rows"])]
    if _rows(results, "fig8_builder"):
        parts += ["", *builder_markdown(results["fig8_builder"]["rows"])]
    if _rows(results, "fig9_tpcds"):
        parts += ["", *tpcds_markdown(results["fig9_tpcds"]["rows"])]
    if _rows(results, "fig10_noindex"):
        parts += ["", *noindex_markdown(results["fig10_noindex"]["rows"])]
    if _rows(results, "fig11_estimates"):
        parts += ["", *estimates_markdown(results["fig11_estimates"]["rows"])]
    return "\n".join(parts) + "\n"


def plots(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig1 = (_rows(results, "fig1_duckdb") or []) + (_rows(results, "fig1_postgres") or [])
    if fig1:
        runs = sorted({(r["database"], r["customers"]) for r in fig1})
        by = {(r["database"], r["customers"], r["segment"]): r["ratio"] for r in fig1}
        names = [s.name for s in SUITE]
        fig, ax = plt.subplots(figsize=(12, 5))
        width = 0.8 / len(runs)
        for i, (db, n) in enumerate(runs):
            xs = [j + i * width for j in range(len(names))]
            ax.bar(xs, [by.get((db, n, s), 0) for s in names], width, label=f"{db} {_fmt_n(n)}")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.axhline(TARGETS["fig1_max"], color="red", ls="--", lw=0.8, label="max target 1.3")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, rotation=60, ha="right")
        ax.set_ylabel("compiled / fastest hand-written")
        ax.set_title("Figure 1: compiled SQL vs hand-written SQL (lower is better)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "fig1_vs_hand.png", dpi=110)
        plt.close(fig)
    fig2 = _rows(results, "fig2_pandas")
    if fig2:
        segs = fig2["segments"]
        fig, ax = plt.subplots(figsize=(12, 4.5))
        peer = {r["segment"]: r for r in (fig2.get("peers") or {}).get("segments", [])}
        if peer:  # pandas, polars and ibis side by side (each / compiled)
            xs = range(len(segs))
            ax.bar([x - 0.27 for x in xs], [r["ratio_excl"] for r in segs], 0.27, label="pandas")
            for k, (key, label) in enumerate(
                (("polars_ratio", "polars (lazy)"), ("ibis_ratio", "ibis (DuckDB)"))
            ):
                vals = [peer[r["segment"]][key] if r["segment"] in peer else 0 for r in segs]
                ax.bar([x + 0.27 * k for x in xs], vals, 0.27, label=label)
            ax.set_xticks(list(xs), [r["segment"] for r in segs])
            ax.axhline(1.0, color="black", lw=0.8)
        else:
            ax.bar([r["segment"] for r in segs], [r["ratio_excl"] for r in segs])
        ax.axhline(TARGETS["fig2_excl"], color="red", ls="--", lw=0.8, label="target 3x (excl. loading)")
        ax.set_yscale("log")
        ax.set_ylabel(("pandas, polars, ibis" if peer else "pandas") + " time / compiled time")
        ax.set_title(
            f"Figure 2: {'pandas, polars' if peer else 'pandas'} (tables already loaded)"
            f"{', ibis' if peer else ''} vs compiled SQL, {_fmt_n(fig2['customers'])} customers"
        )
        ax.tick_params(axis="x", rotation=60)
        for label in ax.get_xticklabels():
            label.set_ha("right")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "fig2_pandas.png", dpi=110)
        plt.close(fig)
    rows = _scaling_data(results)
    scales = scaling_scales(results)
    if len(scales) >= 2:
        fig, ax = plt.subplots(figsize=(7, 5))
        t = {(r["segment"], r["customers"]): r["compiled_s"] for r in rows}
        for seg in SUITE:
            ax.plot(
                scales, [t.get((seg.name, n), float("nan")) for n in scales], color="grey", alpha=0.4, lw=0.8
            )
        total = [sum(v for (s, n), v in t.items() if n == c) for c in scales]
        ax.plot(scales, total, color="C0", lw=2, marker="o", label="suite total")
        ax.plot(
            scales, [total[0] * n / scales[0] for n in scales], color="red", ls="--", lw=0.8, label="linear"
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("customers")
        ax.set_ylabel("seconds (compiled SQL, DuckDB)")
        ax.set_title("Figure 6: time vs customers (grey: each segment)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "fig6_scaling.png", dpi=110)
        plt.close(fig)


def write_report(results: dict[str, Any], out: Path) -> None:
    (out / "results.md").write_text(markdown(results))
    plots(results, out)
