"""The member-count trend: an Altair (Vega-Lite) line chart with points and a hover tooltip.

Shown in an ``Output`` widget, JupyterLab 4 renders it with its built-in Vega renderer, tooltips included,
without any extra install. Exported notebooks (nbconvert, GitHub) have no widget state, so every view also
offers a static fallback: the chart as PNG or SVG (rendered by vl-convert, no browser needed) and an HTML
table of the same points.
"""

from __future__ import annotations

import base64
import datetime as dt
import html

import altair as alt
import pandas as pd

RANGES: dict[str, int | None] = {"7 days": 7, "30 days": 30, "90 days": 90, "1 year": 365, "All": None}

# Vega cannot read CSS variables; a mid grey and the JupyterLab brand blue read on light and dark themes.
_AXIS = "#8a8a8a"
_LINE = "#1976d2"


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


def trend_chart(points: pd.DataFrame, title: str = "Members over time") -> alt.Chart:
    """Line with points; hovering a point shows its date and member count."""
    data = points.assign(date=pd.to_datetime(points["date"]))
    days = data["date"].dt.normalize().nunique() if len(data) else 1
    base = alt.Chart(data).encode(
        x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %d", labelColor=_AXIS, tickColor=_AXIS, tickCount=max(2, min(days, 8)))),
        y=alt.Y("members:Q", title="members", scale=alt.Scale(zero=False),
                axis=alt.Axis(labelColor=_AXIS, titleColor=_AXIS, tickColor=_AXIS, gridColor="#8a8a8a33")),
    )  # fmt: skip
    line = base.mark_line(color=_LINE, strokeWidth=2)
    dots = base.mark_point(color=_LINE, filled=True, size=70).encode(
        tooltip=[alt.Tooltip("date:T", title="date", format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("members:Q", title="members", format=",")],
    )  # fmt: skip
    return (
        (line + dots)
        .properties(width=640, height=220, title=alt.TitleParams(title, color=_AXIS, anchor="start"))
        .configure(background="transparent")
        .configure_view(stroke=None)
    )


VEGA_MIME = "application/vnd.vega.v5+json"
# JupyterLab 4's built-in renderer knows Vega 5 / Vega-Lite 5; Altair 6 writes Vega-Lite 6 and would fall
# back to HTML that loads Vega from a CDN. So the spec is compiled to Vega 5 here (vl-convert, offline).
_VL_VERSION = "5.21"


def vega_bundle(chart: alt.TopLevelMixin) -> dict[str, object]:
    """A mime bundle JupyterLab renders natively (hover tooltips included) with no extension or network."""
    import vl_convert as vlc

    spec = vlc.vegalite_to_vega(chart.to_dict(), vl_version=_VL_VERSION)
    return {VEGA_MIME: spec, "text/plain": "<member-count trend chart>"}


def static_png(chart: alt.Chart, width: int = 640) -> bytes:
    """The chart as PNG bytes (vl-convert renders Vega-Lite without a browser)."""
    import vl_convert as vlc

    spec = chart.properties(width=width).to_dict()
    return vlc.vegalite_to_png(spec, scale=1)


def static_svg(chart: alt.Chart, width: int = 640) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.properties(width=width).to_dict())


def points_table_html(points: pd.DataFrame) -> str:
    rows = "".join(
        f'<tr><td>{pd.Timestamp(d):%Y-%m-%d %H:%M}</td><td class="num">{int(m):,}</td></tr>'
        for d, m in zip(points["date"], points["members"], strict=True)
    )
    return (
        '<table class="jseg-table"><tr><th>Date</th><th class="num">Members</th></tr>'
        f"{rows or '<tr><td colspan=2>no successful runs yet</td></tr>'}</table>"
    )


def static_html(points: pd.DataFrame, title: str) -> str:
    """Fallback HTML for exported notebooks: the chart as an embedded PNG plus the table of points."""
    img = ""
    if not points.empty:
        png = static_png(trend_chart(points, title))
        img = (
            f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'
        )
    return f"<div>{img}{points_table_html(points)}</div>"
