"""Issue 21 in the builder: "How does the count move?" on a top-level row comparing a number runs one
``ws.sweep`` over the whole definition with that row's threshold as ``{x}``; the counts shown are
checked against pandas on the demo tables (DuckDB and SQLite)."""

from __future__ import annotations

import re

import pytest
from test_engine_oracle import workspace_for

from jupyter_segments.errors import SegmentError
from jupyter_segments.ui.builder import SegmentBuilder
from jupyter_segments.ui.why import sweep_values

TEXT = "sum(orders.amount) >= 500 AND age >= 30 AND country != 'DE'"


ON_FILES = pytest.mark.parametrize("backend_name", ["duckdb", "sqlite"], indirect=True)


def shown_counts(html_text: str) -> dict[str, int]:
    """The table under the row: threshold text -> members shown."""
    cells = re.findall(r"<td>&gt;= ([\d,.]+)</td><td>([\d,]+)</td>", html_text)
    return {x.replace(",", ""): int(n.replace(",", "")) for x, n in cells}


def count_calls(monkeypatch, ws) -> list[str]:
    sent: list[str] = []
    fetch = ws.session.fetch
    monkeypatch.setattr(ws.session, "fetch", lambda sql: sent.append(sql) or fetch(sql))
    return sent


@ON_FILES
def test_sweep_counts_equal_pandas_in_one_query(demo_backend, demo_frames, monkeypatch):
    ws = workspace_for(demo_backend)
    c, o = demo_frames["customers"], demo_frames["orders"]
    spent = c["customer_id"].map(o.groupby("customer_id")["amount"].sum()).fillna(0)  # sum of none is 0
    others = (c["age"] >= 30) & (c["country"] != "DE")  # NULLs compare to false, as in SQL
    others = others.fillna(False).astype(bool)

    b = SegmentBuilder(ws, text=TEXT, delay=0.02)
    b.wait()
    rows = b.row_views()
    shown = [rv.sweep_button.layout.display for rv in rows]
    assert shown == ["", "", "none"]  # a number compared with >= sweeps, a text comparison not

    sent = count_calls(monkeypatch, ws)
    frame = b.sweep_row(rows[0])
    assert len(sent) == 1  # every value in one query
    values = sweep_values(500)
    assert values == list(range(0, 1001, 100))
    assert list(frame["x"]) == values
    expected = {str(x): int(((spent >= x) & others).sum()) for x in values}
    assert len(set(expected.values())) > 3  # the counts move on this data: the comparison means something
    assert shown_counts(rows[0].sweep_html.value) == expected
    assert rows[0].sweep_box.layout.display == "flex"
    current = re.search(r'class="jseg-sweep-current"[^>]*><td>&gt;= ([\d,]+)<', rows[0].sweep_html.value)
    assert current is not None and current.group(1) == "500"
    assert b.count == expected["500"]  # the marked value's count is the builder's own count

    # an attribute row: age's threshold moves, the aggregate stays at 500
    sent.clear()
    b.sweep_row(rows[1])
    assert len(sent) == 1
    ages = sweep_values(30)
    assert shown_counts(rows[1].sweep_html.value) == {
        str(a): int(
            ((spent >= 500) & (c["age"] >= a).fillna(False) & (c["country"] != "DE").fillna(False)).sum()
        )
        for a in ages
    }

    # close hides it; an edit closes a sweep of the previous definition
    rows[1].sweep_close.click()
    assert rows[1].sweep_box.layout.display == "none" and rows[1].sweep_html.value == ""
    assert rows[0].agg_value is not None
    rows[0].agg_value.value = 600
    assert rows[0].sweep_box.layout.display == "none"
    with pytest.raises(SegmentError, match="top-level condition comparing a number"):
        b.sweep_row(rows[2])
    b.close()


@ON_FILES
def test_nested_rows_do_not_sweep(demo_backend):
    ws = workspace_for(demo_backend)
    b = SegmentBuilder(ws, text="age >= 30 AND (count(orders) >= 3 OR newsletter)", delay=0.02)
    b.wait()
    assert [rv.sweep_button.layout.display for rv in b.row_views()] == ["", "none", "none"]
    b.close()
