"""Issue 21, static segments from data: a frozen member list from a DataFrame, a file or a list, usable as
``in segment NAME`` in any definition, with the values that match no customer reported.

The oracle: the listed keys and the demo tables in pandas (never the code's own output), on DuckDB,
SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import DEMO_ANCHOR
from IPython.utils.capture import capture_output
from test_segments_as_code import magic_shell, shown

import jupyter_segments as js
from jupyter_segments import SegmentError
from jupyter_segments.backends.duckdb_backend import DuckDBBackend


@pytest.fixture
def ws(demo_backend, tmp_path):
    workspace = js.Workspace(demo_backend, catalog=str(tmp_path / "catalog.sqlite"))
    workspace.customers("customers", key="customer_id")
    workspace.members_prefix = "t21st_"
    yield workspace
    cat = workspace.catalog
    for row in sorted(cat.segment_rows(), key=lambda r: r["type"]):  # dynamic ones (referrers) first
        workspace.get(row["name"]).delete()
    cat.close()


def test_a_list_from_a_dataframe_used_in_definitions(ws, demo_frames):
    customers = demo_frames["customers"]
    listed = customers["customer_id"].iloc[::7].tolist()[:150]
    data = pd.DataFrame({"customer_id": [*listed, 10**9, listed[0], None], "extra": range(len(listed) + 3)})
    with pytest.warns(UserWarning, match=r"1 value of customer_id matches no customer, left out: 1000000000"):
        seg = ws.static_segment("campaign_2025", data)
    assert seg.unknown_keys == [10**9]
    assert seg.type == "static" and seg.count == len(listed)
    assert set(ws.segments().set_index("name").loc[["campaign_2025"], "type"]) == {"static"}
    assert {int(k) for k in seg.keys()} == set(listed)

    # in segment campaign_2025, inside other conditions and set operators.
    older = set(customers.loc[customers["age"] > 40, "customer_id"])
    assert ws.count("in segment campaign_2025 and age > 40") == len(set(listed) & older)
    got = ws.member_keys("age > 40 EXCEPT (in segment campaign_2025)")
    assert {int(k) for k in got} == older - set(listed)
    # ... in a saved dynamic segment, refreshed like any other.
    ws.segment("campaign_older", "in segment campaign_2025 and age > 40")
    (run,) = ws.refresh("campaign_older")
    assert run.ok and run.members == len(set(listed) & older)
    with pytest.raises(SegmentError, match="refers to it"):
        seg.delete()


def test_from_a_csv_a_parquet_file_and_a_list(ws, demo_frames, tmp_path):
    ids = demo_frames["customers"]["customer_id"].iloc[:40].tolist()
    pd.DataFrame({"customer_id": [str(k) for k in ids[:20]] + ["x17"]}).to_csv(
        tmp_path / "campaign.csv", index=False
    )
    with pytest.warns(UserWarning, match="'x17'"):
        from_csv = ws.static_segment("from_csv", str(tmp_path / "campaign.csv"))
    assert {int(k) for k in from_csv.keys()} == set(ids[:20]) and from_csv.unknown_keys == ["x17"]

    pd.DataFrame({"customer_id": ids[20:]}).to_parquet(tmp_path / "p.parquet")
    from_parquet = ws.static_segment("from_parquet", tmp_path / "p.parquet", unknown="error")
    assert {int(k) for k in from_parquet.keys()} == set(ids[20:]) and from_parquet.unknown_keys == []

    from_list = ws.static_segment("from_list", ids[::2], description="every other one")
    assert from_list.description == "every other one" and from_list.count == len(ids[::2])
    assert ws.count("in segment from_csv or in segment from_parquet") == 40

    # Matched on another customer column: email.
    emails = demo_frames["customers"].set_index("customer_id").loc[ids[:5], "email"].tolist()
    by_email = ws.static_segment("by_email", [*emails, "nobody@example.com"], key="email", unknown="ignore")
    assert {int(k) for k in by_email.keys()} == set(ids[:5]) and by_email.unknown_keys == [
        "nobody@example.com"
    ]


def test_refusals_save_nothing(ws, tmp_path):
    with pytest.raises(SegmentError, match="2 values of customer_id in a list match no customer: -1, -2"):
        ws.static_segment("nope", [1, -1, -2], unknown="error")
    with pytest.raises(SegmentError, match="none of the 1 value"):
        ws.static_segment("nope", [-5])
    with pytest.raises(SegmentError, match="a DataFrame has no column 'email'"):
        ws.static_segment("nope", pd.DataFrame({"customer_id": [1]}), key="email")
    with pytest.raises(SegmentError, match="not a column of customers .*; did you mean 'customer_id'"):
        ws.static_segment("nope", [1], key="customer_idd")
    with pytest.raises(SegmentError, match="there is no file"):
        ws.static_segment("nope", tmp_path / "missing.csv")
    with pytest.raises(SegmentError, match="not a column of customers"):
        ws.static_segment("nope", [1], key="shoe_size")
    with pytest.raises(SegmentError, match="not int"):
        ws.static_segment("nope", 5)
    assert not ws.catalog.has_segment("nope")


def test_a_static_segment_keeps_its_members(demo_conn, demo_frames, tmp_path):
    """Frozen: ``in segment`` reads the members stored when it was saved, not its rule evaluated again."""
    ws = js.Workspace(DuckDBBackend(demo_conn), catalog=str(tmp_path / "catalog.sqlite"))
    ws.customers("customers", key="customer_id")
    ws.members_storage = "parquet"
    rule = "any(orders where order_date in last 90 days)"
    frozen = ws.segment("recent_then", rule, type="static")  # evaluated today: the demo data ended before
    orders = demo_frames["orders"]
    as_of = pd.Timestamp(DEMO_ANCHOR)
    window = orders[(orders.order_date >= as_of - pd.Timedelta(days=90)) & (orders.order_date <= as_of)]
    assert ws.count(rule, as_of=DEMO_ANCHOR) == window["customer_id"].nunique() > 0
    assert ws.count("in segment recent_then", as_of=DEMO_ANCHOR) == frozen.count == 0
    explained = ws.explain("recent_then", 1)
    assert explained.verdict is False and "false" in explained.definition
    ws.catalog.close()


def test_magic_static(demo_conn, tmp_path):
    with magic_shell(demo_conn, tmp_path / "m.sqlite") as (shell, ws):
        ws.members_storage = "parquet"
        shell.user_ns["keys"] = [1, 2, 3, -4]
        with capture_output() as out:
            shell.run_line_magic("segment", "static picked keys")
        assert "saved static segment 'picked': 3 members; 1 value matched no customer: -4" in shown(out)
        result = shell.run_cell("%segment static other keys --strict")
        assert "matches no customer: -4; nothing was saved" in str(result.error_in_exec)
