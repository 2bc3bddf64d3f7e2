"""Small static HTML for the intelligence results: tables with inline bars, an R x F grid, a Venn picture.

Plain HTML/SVG (no JavaScript) so results render in JupyterLab, in saved notebooks and on GitHub alike;
each result also has ``.chart()`` returning an Altair chart for interactive use or PNG export
(``chart.save("x.png")`` renders through vl-convert).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

_CARD = (
    "<div style='font-family:var(--jp-ui-font-family,sans-serif);font-size:12px;border:1px solid #ddd;"
    "border-radius:4px;padding:8px;max-width:980px'>"
)
_PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
    "#2f4b7c",
    "#888",
)


def esc(value: object) -> str:
    return html.escape(str(value))


def card(title: str, *parts: str) -> str:
    return _CARD + f"<div style='margin-bottom:6px'>{title}</div>" + "".join(parts) + "</div>"


def row(*parts: str) -> str:
    cells = "".join(f"<div style='margin-right:16px'>{p}</div>" for p in parts)
    return f"<div style='display:flex;flex-wrap:wrap;align-items:flex-start'>{cells}</div>"


def _fmt(value: object, spec: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "<span style='color:#999'>–</span>"
    if spec:
        try:
            return esc(spec.format(value))
        except (ValueError, TypeError):
            pass
    if isinstance(value, float):
        return esc(f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}")
    return esc(value)


def table(
    frame: pd.DataFrame,
    *,
    bars: Mapping[str, float] | None = None,
    formats: Mapping[str, str] | None = None,
    max_rows: int = 20,
    signed_bars: Mapping[str, float] | None = None,
) -> str:
    """An HTML table; columns in ``bars`` get a bar scaled to the given maximum, ``signed_bars`` a bar
    left (negative) or right (positive) of a centre line."""
    bars, formats, signed_bars = bars or {}, formats or {}, signed_bars or {}
    head = "".join(f"<th style='text-align:left;padding:2px 6px'>{esc(c)}</th>" for c in frame.columns)
    body = []
    for _, r in frame.head(max_rows).iterrows():
        cells = []
        for c in frame.columns:
            v = r[c]
            text = _fmt(v, formats.get(c))
            if c in bars and isinstance(v, (int, float)) and not math.isnan(float(v)):
                width = 80 * max(0.0, float(v)) / (bars[c] or 1)
                text = (
                    f"<span style='display:inline-block;width:{width:.0f}px;height:9px;background:#4c78a8;"
                    f"margin-right:4px'></span>{text}"
                )
            elif c in signed_bars and isinstance(v, (int, float)) and not math.isnan(float(v)):
                half = 40 * min(1.0, abs(float(v)) / (signed_bars[c] or 1))
                color = "#54a24b" if v >= 0 else "#e45756"
                left = f"<span style='display:inline-block;width:{40 - (half if v < 0 else 0):.0f}px'></span>"
                bar = f"<span style='display:inline-block;width:{half:.0f}px;height:9px;background:{color}'></span>"
                text = f"<span style='display:inline-block;width:84px;border-left:0'>{left}{bar}</span>{text}"
            cells.append(f"<td style='padding:2px 6px;white-space:nowrap'>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<div style='color:#777'>… {len(frame) - max_rows:,} more rows</div>"
        if len(frame) > max_rows
        else ""
    )
    return (
        f"<table style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{more}"
    )


def rf_grid(scores: pd.DataFrame) -> str:
    """The 5 x 5 recency x frequency grid: customers per cell, coloured by the cell's most common label."""
    counts = scores.groupby(["r", "f"]).size()
    labels = scores.groupby(["r", "f"])["label"].agg(lambda s: s.value_counts().index[0])
    order = list(dict.fromkeys(scores["label"]))
    color = {lab: _PALETTE[i % len(_PALETTE)] for i, lab in enumerate(sorted(order))}
    top = max(1, int(counts.max()) if len(counts) else 1)
    rows = []
    for f in range(5, 0, -1):
        cells = [f"<td style='padding:0 4px;color:#777'>F{f}</td>"]
        for r in range(1, 6):
            n = int(counts.get((r, f), 0))
            lab = labels.get((r, f), "")
            bg = color.get(lab, "#f3f3f3")
            alpha = 0.35 + 0.65 * n / top if n else 1
            cells.append(
                f"<td title='{esc(lab)}: {n:,}' style='width:54px;height:30px;text-align:center;"
                f"background:{bg};opacity:{alpha:.2f};color:#000;font-size:10px'>{n:,}<br>"
                f"<span style='font-size:8px'>{esc(lab[:14])}</span></td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    foot = (
        "<tr><td></td>"
        + "".join(f"<td style='text-align:center;color:#777'>R{r}</td>" for r in range(1, 6))
        + "</tr>"
    )
    return f"<table style='border-collapse:separate;border-spacing:2px'>{''.join(rows)}{foot}</table>"


def venn(a_label: str, b_label: str, only_a: int, both: int, only_b: int) -> str:
    """Two circles with areas proportional to |A| and |B| and their distance set by the overlap."""
    na, nb = only_a + both, only_b + both
    big = max(na, nb, 1)
    ra, rb = 60 * math.sqrt(na / big), 60 * math.sqrt(nb / big)
    ra, rb = max(ra, 8), max(rb, 8)
    d = _distance_for_overlap(ra, rb, both / big * math.pi * 3600 if big else 0)
    cx_a = 80
    cx_b = cx_a + d
    width = int(cx_b + rb + 20)
    return (
        f"<svg width='{max(width, 220)}' height='170' xmlns='http://www.w3.org/2000/svg' style='font-size:11px'>"
        f"<circle cx='{cx_a:.1f}' cy='80' r='{ra:.1f}' fill='#4c78a8' fill-opacity='0.45' stroke='#4c78a8'/>"
        f"<circle cx='{cx_b:.1f}' cy='80' r='{rb:.1f}' fill='#f58518' fill-opacity='0.45' stroke='#f58518'/>"
        f"<text x='{cx_a - ra / 2:.1f}' y='84' text-anchor='middle'>{only_a:,}</text>"
        f"<text x='{(cx_a + ra + cx_b - rb) / 2:.1f}' y='84' text-anchor='middle' font-weight='bold'>{both:,}</text>"
        f"<text x='{cx_b + rb / 2:.1f}' y='84' text-anchor='middle'>{only_b:,}</text>"
        f"<text x='{cx_a:.1f}' y='160' text-anchor='middle' fill='#4c78a8'>{esc(a_label[:28])}</text>"
        f"<text x='{cx_b:.1f}' y='16' text-anchor='middle' fill='#f58518'>{esc(b_label[:28])}</text>"
        "</svg>"
    )


def _lens_area(r1: float, r2: float, d: float) -> float:
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return math.pi * min(r1, r2) ** 2
    a = r1 * r1 * math.acos((d * d + r1 * r1 - r2 * r2) / (2 * d * r1))
    b = r2 * r2 * math.acos((d * d + r2 * r2 - r1 * r1) / (2 * d * r2))
    c = 0.5 * math.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    return a + b - c


def _distance_for_overlap(r1: float, r2: float, area: float) -> float:
    """Centre distance whose lens has ``area`` (bisection; the lens shrinks as d grows)."""
    lo, hi = abs(r1 - r2), r1 + r2
    if area <= 0:
        return hi + 6
    for _ in range(50):
        mid = (lo + hi) / 2
        if _lens_area(r1, r2, mid) > area:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


VEGA_MIME = "application/vnd.vega.v5+json"
# JupyterLab 4 renders Vega 5 / Vega-Lite 5 itself; Altair 6 writes Vega-Lite 6, which it would show as
# HTML loading Vega from a CDN. vl-convert compiles the spec to Vega 5 here, offline.
VEGA_LITE_VERSION = "5.21"


class OfflineChart:
    """An Altair chart that displays without the network: a Vega 5 spec JupyterLab renders itself
    (tooltips included), an SVG for nbconvert and GitHub, and a line of text for terminals. Everything
    else (``.save``, ``.properties``, ``.to_dict``, ...) is the Altair chart's, also at ``.altair``.

    >>> ws.compare("vip", "young").chart()
    """

    def __init__(self, chart: Any, title: str) -> None:
        self.altair = chart
        self.title = title

    def __getattr__(self, name: str) -> Any:
        return getattr(self.altair, name)

    def __repr__(self) -> str:
        return f"<chart: {self.title}; .save('chart.png') writes it, .altair is the Altair chart>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        import vl_convert as vlc  # late: vl-convert is only needed to show a chart

        spec = self.altair.to_dict()
        return {
            VEGA_MIME: vlc.vegalite_to_vega(spec, vl_version=VEGA_LITE_VERSION),
            "image/svg+xml": vlc.vegalite_to_svg(spec, vl_version=VEGA_LITE_VERSION),
            "text/plain": repr(self),
        }
