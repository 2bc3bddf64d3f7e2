"""One look for every widget: JupyterLab theme variables (light and dark), spacing, small HTML helpers.

All colours come from ``var(--jp-...)`` so the widgets follow the user's JupyterLab theme, dark included.
The stylesheet is injected once per widget tree as an ``<style>`` block in an HTML widget (ipywidgets has no
other way to ship CSS without a lab extension); class names are prefixed ``jseg-`` to stay out of the way.
"""

from __future__ import annotations

import html
from typing import SupportsIndex, SupportsInt

import ipywidgets as W

CSS = """
<style>
.jseg-root, .jseg-static { --jseg-s1: 4px; --jseg-s2: 8px; --jseg-s3: 12px; --jseg-s4: 16px; /* the one spacing scale */
  font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1); background: var(--jp-layout-color1);
  border: 1px solid var(--jp-border-color2); border-radius: 4px; padding: var(--jseg-s3) var(--jseg-s4);
  gap: var(--jseg-s2); }
.jseg-title { font-size: var(--jp-ui-font-size3); font-weight: 600; color: var(--jp-ui-font-color0);
  margin: 0 0 2px 0; }
.jseg-subtitle { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size1); }
.jseg-section { border-top: 1px solid var(--jp-border-color2); padding-top: 8px; margin-top: 4px; gap: 6px; }
.jseg-label { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0); text-transform: uppercase;
  letter-spacing: .04em; }
.jseg-group { border: 1px solid var(--jp-border-color2); border-radius: 4px; padding: 8px;
  background: var(--jp-layout-color0); gap: 6px; }
.jseg-node { border-left: 3px solid var(--jp-brand-color2); padding-left: 8px; gap: 4px; }
.jseg-node-or { border-left-color: var(--jp-warn-color2); }
.jseg-row { gap: 4px; align-items: center; }
.jseg-code pre, pre.jseg-code { font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size);
  background: var(--jp-layout-color2); color: var(--jp-content-font-color1); border-radius: 3px;
  padding: 6px 8px; margin: 0; white-space: pre-wrap; word-break: break-word; }
.jseg-count { font-size: var(--jp-ui-font-size2); color: var(--jp-ui-font-color0); }
.jseg-count b { font-size: var(--jp-ui-font-size3); color: var(--jp-brand-color1); }
.jseg-muted { color: var(--jp-ui-font-color2); }
.jseg-error { color: var(--jp-error-color1); background: var(--jp-layout-color2);
  border-left: 3px solid var(--jp-error-color1); padding: 6px 8px; border-radius: 3px; }
.jseg-error pre { margin: 4px 0 0 0; font-family: var(--jp-code-font-family); white-space: pre-wrap;
  color: var(--jp-ui-font-color1); }
.jseg-info { color: var(--jp-ui-font-color1); background: var(--jp-layout-color2);
  border-left: 3px solid var(--jp-success-color1); padding: 6px 8px; border-radius: 3px; }
.jseg-warn { color: var(--jp-ui-font-color1); background: var(--jp-layout-color2);
  border-left: 3px solid var(--jp-warn-color1); padding: 6px 8px; border-radius: 3px; }
.jseg-table { border-collapse: collapse; font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color1); }
.jseg-table th { text-align: left; font-weight: 600; color: var(--jp-ui-font-color1);
  border-bottom: 1px solid var(--jp-border-color1); padding: 4px 8px; background: var(--jp-layout-color2); }
.jseg-table td { border-bottom: 1px solid var(--jp-border-color3); padding: 3px 8px; white-space: nowrap; }
.jseg-table td.num, .jseg-table th.num { text-align: right; font-variant-numeric: tabular-nums; }
.jseg-table tr.jseg-selected td { background: var(--jp-brand-color3); }
.jseg-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: var(--jp-ui-font-size0);
  border: 1px solid var(--jp-border-color1); color: var(--jp-ui-font-color1); }
.jseg-ok { color: var(--jp-success-color1); border-color: var(--jp-success-color1); }
.jseg-bad { color: var(--jp-error-color1); border-color: var(--jp-error-color1); }
.jseg-mid { color: var(--jp-warn-color1); border-color: var(--jp-warn-color1); }
.jseg-th { background: var(--jp-layout-color2); color: var(--jp-ui-font-color1); padding: 0 8px;
  height: 28px; line-height: 28px; text-align: center; }
.jseg-spark { color: var(--jp-brand-color1); font-family: var(--jp-code-font-family); letter-spacing: -1px; }
.jseg-root .widget-hbox { gap: 6px; }
.jseg-root .widget-vbox { gap: 6px; }
.jseg-root .widget-label { color: var(--jp-ui-font-color1); }
</style>
"""

# Widths chosen so one condition row fits a default notebook column.
W_ENTITY = "150px"
W_ATTR = "160px"
W_OP = "130px"
W_VALUE = "150px"
W_SMALL = "90px"


def style() -> W.HTML:
    """The stylesheet as a (hidden-looking) HTML widget; put it first in a widget's root box."""
    return W.HTML(CSS, layout=W.Layout(height="0px", margin="0"))


def root(children: list[W.Widget], **layout) -> W.VBox:
    box = W.VBox([style(), *children], layout=W.Layout(**layout))
    box.add_class("jseg-root")
    return box


def title(text: str, subtitle: str = "") -> W.HTML:
    sub = f'<div class="jseg-subtitle">{html.escape(subtitle)}</div>' if subtitle else ""
    return W.HTML(f'<div class="jseg-title">{html.escape(text)}</div>{sub}')


def label(text: str) -> W.HTML:
    return W.HTML(f'<span class="jseg-label">{html.escape(text)}</span>')


def section(children: list[W.Widget], heading: str | None = None) -> W.VBox:
    box = W.VBox(([label(heading)] if heading else []) + children)
    box.add_class("jseg-section")
    return box


def code_html(text: str) -> str:
    return f'<pre class="jseg-code">{html.escape(text)}</pre>'


def button(
    description: str, *, kind: str = "", icon: str = "", tooltip: str = "", width: str = ""
) -> W.Button:
    """A button; ``kind`` is an ipywidgets style (primary, success, danger, warning) which Lab themes."""
    b = W.Button(description=description, button_style=kind, icon=icon, tooltip=tooltip or description)
    if width:
        b.layout.width = width
    return b


def badge(text: str, tone: str = "") -> str:
    cls = {"ok": "jseg-ok", "bad": "jseg-bad", "mid": "jseg-mid"}.get(tone, "")
    return f'<span class="jseg-badge {cls}">{html.escape(text)}</span>'


STATUS_TONE = {
    "successful": "ok",
    "success": "ok",
    "failed": "bad",
    "canceled": "bad",
    "cancelled": "bad",
    "running": "mid",
    "queued": "mid",
    "skipped": "mid",
}


def status_badge(status: object) -> str:
    text = "" if status is None or status != status else str(status)  # NaN -> ""
    return badge(text, STATUS_TONE.get(text.lower(), "")) if text else '<span class="jseg-muted">—</span>'


def fmt_int(n: object) -> str:
    try:
        if n is None or n != n:  # NaN
            return "—"
        if not isinstance(n, (str, bytes, bytearray, SupportsInt, SupportsIndex)):
            return str(n)  # what int()'s TypeError below would give too
        return f"{int(n):,}"
    except (TypeError, ValueError):
        return str(n)
