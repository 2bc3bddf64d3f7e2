"""The member-count trend: a line chart drawn as HTML + inline SVG, with nothing loaded from anywhere.

Why not Vega: JupyterLab renders Vega itself only for Vega 5 / Vega-Lite 5 mime bundles, inside an
``Output`` widget whose content is lost in exported notebooks, and Vega cannot read the theme's CSS
variables. An inline SVG fills the cell's width, takes its colours from ``var(--jp-...)`` (light, dark,
high contrast), shows a point's date and count on hover (an SVG ``<title>``), prints nothing outside a
notebook, and is the same markup in a live widget and in ``jupyter nbconvert --to html``.

The plot area is an SVG stretched to the width (``preserveAspectRatio="none"``): lines keep their
thickness (``vector-effect: non-scaling-stroke``) and points are zero-length round-capped strokes, so
they stay round at any width; the axis labels are HTML placed in percent, so text is never stretched.

Time ticks fall on round steps (seconds, minutes, hours, days, months, years) chosen from the span
shown, and each label shows what changes at that step: ``14:05`` within a day (the date written once
where it changes), ``2026-12-02`` across days and months, ``2026-12`` across a year or more. Two ticks never
have the same label.
"""

from __future__ import annotations

import datetime as dt
import html
import math

import pandas as pd

RANGES: dict[str, int | None] = {"7 days": 7, "30 days": 30, "90 days": 90, "1 year": 365, "All": None}

MAX_X_TICKS = 7
MIN_SPAN = dt.timedelta(minutes=1)  # the narrowest time axis drawn
PLOT_HEIGHT = 180  # px; the SVG's own units are 0..1000 across and 0..PLOT_HEIGHT down

SECOND = 1.0
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# (step in seconds, kind) from fine to coarse; months and years step on the calendar.
STEPS: list[tuple[float, str]] = [
    (s, "second") for s in (1, 2, 5, 10, 15, 30)
] + [(m * MINUTE, "minute") for m in (1, 2, 5, 10, 15, 30)] + [
    (h * HOUR, "hour") for h in (1, 2, 3, 6, 12)
] + [(d * DAY, "day") for d in (1, 2, 7, 14)] + [
    (m * 30 * DAY, "month") for m in (1, 2)
] + [(m * 30 * DAY, "quarter") for m in (3, 6)] + [(y * 365 * DAY, "year") for y in (1, 2, 5, 10, 20, 50, 100)]  # fmt: skip


def trend_points(history: pd.DataFrame) -> pd.DataFrame:
    """(date, members) of the successful runs, oldest first, from ``seg.history()``."""
    if history is None or history.empty:
        return pd.DataFrame(
            {"date": pd.Series([], dtype="datetime64[ns]"), "members": pd.Series([], dtype="int64")}
        )
    ok = history[history["status"].astype(str).str.lower().isin(["successful", "success"])]
    ok = ok[ok["members"].notna()]
    when = pd.to_datetime(ok["finished_at"].fillna(ok["started_at"]))
    out = pd.DataFrame({"date": when.to_numpy(), "members": ok["members"].astype("int64").to_numpy()})
    return out.sort_values("date").reset_index(drop=True)


def window(points: pd.DataFrame, days: int | None, *, start: dt.date | None = None, end: dt.date | None = None,
           now: dt.datetime | None = None) -> pd.DataFrame:  # fmt: skip
    """The points within the last ``days`` days (None: all), or between ``start`` and ``end`` (inclusive)."""
    if points.empty:
        return points
    dates = pd.to_datetime(points["date"])
    mask = pd.Series(True, index=points.index)
    if start is not None or end is not None:
        if start is not None:
            mask &= dates >= pd.Timestamp(start)
        if end is not None:
            mask &= dates < pd.Timestamp(end) + pd.Timedelta(days=1)
    elif days is not None:
        ref = pd.Timestamp(now or dt.datetime.now())
        mask &= dates >= ref - pd.Timedelta(days=days)
    return points[mask].reset_index(drop=True)


# -- time ticks ----------------------------------------------------------------------------------------
def _floor(t: dt.datetime, step: float, kind: str) -> dt.datetime:
    """The last round tick at or before ``t`` for a step of ``step`` seconds of this kind."""
    if kind == "year":
        years = max(1, round(step / (365 * DAY)))
        return dt.datetime(t.year - t.year % years, 1, 1)
    if kind in ("month", "quarter"):
        months = max(1, round(step / (30 * DAY)))
        m0 = (t.month - 1) - (t.month - 1) % months
        return dt.datetime(t.year, m0 + 1, 1)
    if kind == "day" and step in (7 * DAY, 14 * DAY):
        monday = dt.datetime(t.year, t.month, t.day) - dt.timedelta(days=t.weekday())
        return monday
    midnight = dt.datetime(t.year, t.month, t.day)
    seconds = (t - midnight).total_seconds()
    return midnight + dt.timedelta(seconds=seconds - seconds % step)


def _advance(t: dt.datetime, step: float, kind: str) -> dt.datetime:
    if kind in ("month", "quarter", "year"):
        months = (
            12 * max(1, round(step / (365 * DAY))) if kind == "year" else max(1, round(step / (30 * DAY)))
        )
        total = t.year * 12 + t.month - 1 + months
        return dt.datetime(total // 12, total % 12 + 1, 1)
    return t + dt.timedelta(seconds=step)


def time_ticks(
    lo: dt.datetime, hi: dt.datetime, max_ticks: int = MAX_X_TICKS
) -> tuple[list[dt.datetime], str]:
    """Round tick times within [lo, hi] (at most ``max_ticks``) and the kind of step between them."""
    span = max((hi - lo).total_seconds(), 1.0)
    step, kind = next(((s, k) for s, k in STEPS if span / s <= max_ticks - 1), STEPS[-1])
    ticks = []
    t = _floor(lo, step, kind)
    while t <= hi:
        if t >= lo:
            ticks.append(t)
        t = _advance(t, step, kind)
    return ticks, kind


def tick_labels(ticks: list[dt.datetime], kind: str) -> list[str]:
    """Labels at the resolution of the step; for steps under a day the date is written where it changes.

    >>> tick_labels([dt.datetime(2026, 12, 2, 9), dt.datetime(2026, 12, 2, 12)], "hour")
    ['2026-12-02 09:00', '12:00']
    """
    if kind == "year":
        return [f"{t:%Y}" for t in ticks]
    if kind == "quarter":
        return [f"{t:%Y-%m}" for t in ticks]
    if kind in ("day", "month"):  # days within months: the first of each month is still a day
        return [f"{t:%Y-%m-%d}" for t in ticks]
    clock = "%H:%M:%S" if kind == "second" else "%H:%M"
    labels, day = [], None
    for t in ticks:
        labels.append(f"{t:%Y-%m-%d} {t:{clock}}" if t.date() != day else f"{t:{clock}}")
        day = t.date()
    return labels


def point_label(t: dt.datetime) -> str:
    """A point's time as its tooltip shows it: to the second, so runs a second apart differ."""
    return f"{t:%Y-%m-%d %H:%M:%S}"


# -- count ticks -----------------------------------------------------------------------------------------
def count_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) covering [lo, hi] with about ``n`` intervals."""
    if hi == lo:
        pad = max(1.0, abs(hi) * 0.05)
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / n
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(step, 1.0)  # member counts are whole numbers
    start = math.floor(lo / step) * step
    ticks = [start]
    while ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


# -- the chart -------------------------------------------------------------------------------------------
CSS = """
.jseg-chart { position: relative; width: 100%; box-sizing: border-box; padding: 4px 8px 0 64px;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: var(--jp-ui-font-size0, 11px);
  color: var(--jp-ui-font-color2, #616161); }
.jseg-chart-plot { position: relative; height: 180px; border-left: 1px solid var(--jp-border-color1, #bdbdbd);
  border-bottom: 1px solid var(--jp-border-color1, #bdbdbd); }
.jseg-chart svg { position: absolute; inset: 0; width: 100%; height: 100%; overflow: visible; }
.jseg-chart .grid { stroke: var(--jp-border-color2, #e0e0e0); stroke-width: 1; vector-effect: non-scaling-stroke; }
.jseg-chart .line { fill: none; stroke: var(--jp-brand-color1, #1976d2); stroke-width: 2;
  vector-effect: non-scaling-stroke; stroke-linejoin: round; }
.jseg-chart .dot { stroke: var(--jp-brand-color1, #1976d2); stroke-width: 8; stroke-linecap: round;
  vector-effect: non-scaling-stroke; }
.jseg-chart .dot:hover { stroke: var(--jp-brand-color0, #0d47a1); stroke-width: 12; }
.jseg-chart .ylab { position: absolute; right: calc(100% + 6px); transform: translateY(-50%); line-height: 1.3;
  white-space: nowrap; font-variant-numeric: tabular-nums; }
.jseg-chart .xaxis { position: relative; height: 36px; }
.jseg-chart .xday { color: var(--jp-ui-font-color3, #9e9e9e); }
.jseg-chart .xlab { position: absolute; top: 4px; transform: translateX(-50%); white-space: nowrap; line-height: 1.3;
  text-align: center; font-variant-numeric: tabular-nums; }
.jseg-chart .xlab.first { transform: none; text-align: left; }
.jseg-chart .xlab.last { transform: translateX(-100%); text-align: right; }
.jseg-chart-title { color: var(--jp-ui-font-color1, #212121); font-size: var(--jp-ui-font-size1, 13px);
  margin: 0 0 4px 0; }
"""


def _pct(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def trend_html(points: pd.DataFrame, title: str = "", *, empty: str = "No successful runs yet.") -> str:
    """The trend as HTML with an inline SVG: fills the width, theme colours, a tooltip on each point.

    >>> trend_html(pd.DataFrame({"date": [pd.Timestamp("2026-12-02 09:00")], "members": [12]}))[:30]
    '<div class="jseg-chart" role="im'
    """
    if points.empty:
        return f'<div class="jseg-chart-empty jseg-muted">{html.escape(empty)}</div>'
    dates = [pd.Timestamp(d).to_pydatetime() for d in points["date"]]
    counts = [int(m) for m in points["members"]]
    lo_t, hi_t = min(dates), max(dates)
    if lo_t == hi_t:  # one point (or several at one time): an hour either side, the point in the middle
        lo_t, hi_t = lo_t - dt.timedelta(hours=1), hi_t + dt.timedelta(hours=1)
    elif hi_t - lo_t < MIN_SPAN:  # runs within a few seconds: a minute around them, so ticks fall inside
        pad = (MIN_SPAN - (hi_t - lo_t)) / 2
        lo_t, hi_t = lo_t - pad, hi_t + pad
    ticks, kind = time_ticks(lo_t, hi_t)
    span = (hi_t - lo_t).total_seconds()
    yt = count_ticks(min(counts), max(counts))
    y0, y1 = yt[0], yt[-1]

    def x(t: dt.datetime) -> float:  # percent of the width
        return (t - lo_t).total_seconds() / span * 100

    def y(v: float) -> float:  # percent of the height, from the top
        return (1 - (v - y0) / (y1 - y0)) * 100

    # The SVG's user units: 0..1000 across, 0..1000 down (stretched), so percent * 10.
    grid = "".join(
        f'<line class="grid" x1="0" x2="1000" y1="{y(v) * 10:.1f}" y2="{y(v) * 10:.1f}"/>' for v in yt
    )
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x(t) * 10:.2f},{y(v) * 10:.2f}"
        for i, (t, v) in enumerate(zip(dates, counts, strict=True))
    )
    dots = "".join(
        f'<path class="dot" d="M{x(t) * 10:.2f},{y(v) * 10:.2f} l0,0"><title>{point_label(t)}: {v:,} members</title></path>'
        for t, v in zip(dates, counts, strict=True)
    )  # fmt: skip
    ylabs = "".join(f'<div class="ylab" style="top:{_pct(y(v))}%">{int(v):,}</div>' for v in yt)
    labels = tick_labels(ticks, kind)
    xlabs = []
    for t, text in zip(ticks, labels, strict=True):
        pos = x(t)
        edge = " first" if pos < 6 else " last" if pos > 94 else ""
        day, _, clock = text.rpartition(" ")  # a sub-day label's date goes on a second line
        shown = f'{clock}<br><span class="xday">{day}</span>' if day else html.escape(text)
        xlabs.append(f'<div class="xlab{edge}" style="left:{_pct(pos)}%">{shown}</div>')
    xgrid = "".join(
        f'<line class="grid" y1="0" y2="1000" x1="{x(t) * 10:.1f}" x2="{x(t) * 10:.1f}"/>' for t in ticks
    )
    summary = f"{len(counts)} run(s) from {point_label(dates[0])} to {point_label(dates[-1])}; latest {counts[-1]:,} members"
    head = f'<div class="jseg-chart-title">{html.escape(title)}</div>' if title else ""
    return (
        f'<div class="jseg-chart" role="img" aria-label="{html.escape(summary)}" data-kind="{kind}">'
        f"<style>{CSS}</style>{head}"
        f'<div class="jseg-chart-plot">{ylabs}'
        f'<svg viewBox="0 0 1000 1000" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        f'{grid}{xgrid}<path class="line" d="{path}"/>{dots}</svg></div>'
        f'<div class="xaxis">{"".join(xlabs)}</div></div>'
    )  # fmt: skip


def points_table_html(points: pd.DataFrame) -> str:
    rows = "".join(
        f'<tr><td>{point_label(pd.Timestamp(d).to_pydatetime())}</td><td class="num">{int(m):,}</td></tr>'
        for d, m in zip(points["date"], points["members"], strict=True)
    )
    return (
        '<table class="jseg-table"><tr><th>Time</th><th class="num">Members</th></tr>'
        f"{rows or '<tr><td colspan=2>no successful runs yet</td></tr>'}</table>"
    )
