"""Issue 21: ``%segment explain NAME KEY`` on the session's demo DuckDB, checked with pandas."""

from __future__ import annotations

import oracle as O
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output


@pytest.fixture(scope="module")
def ip(demo_conn, tmp_path_factory):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_segments")
    catalog = tmp_path_factory.mktemp("explain_magic") / "catalog.sqlite"
    shell.run_line_magic("config", f"SegmentMagic.catalog = {str(catalog)!r}")
    shell.user_ns["demo_db"] = demo_conn
    with capture_output():
        shell.run_line_magic("segment", "connect demo_db")
        shell.run_line_magic("segment", "customers customers --key customer_id")
    return shell


def run(ip, code: str):
    with capture_output() as captured:
        result = ip.run_cell(code)
    return result, captured


def test_explain_magic(ip, demo_frames) -> None:
    ws = ip.magics_manager.registry["SegmentMagic"].ws
    ws.segment("js_explain_vip", "sum(orders.amount) >= 1000")
    orders = demo_frames["orders"]
    spend = orders.groupby("customer_id")["amount"].sum()
    customers = pd.Index(demo_frames["customers"]["customer_id"])
    spend = spend.reindex(customers, fill_value=0)
    member = int(O.members(O.cmp(spend.astype("Float64"), ">=", 1000))[0])
    other = int(spend.index[spend < 1000][0])
    try:
        result, out = run(ip, f"%segment explain js_explain_vip {member} --as-of 2025-06-30 -o why")
        assert result.error_in_exec is None, out.stderr
        text = "\n".join(o.data.get("text/plain", "") for o in out.outputs)
        assert text.startswith(f"customer {member}: MEMBER")
        assert "records of sum(orders.amount)" in text
        assert "<li>" in "\n".join(o.data.get("text/html", "") for o in out.outputs)
        assert ip.user_ns["why"].verdict is True
        _, out = run(ip, f'%segment explain "sum(orders.amount) >= 1000" {other} --as-of 2025-06-30')
        text = "\n".join(o.data.get("text/plain", "") for o in out.outputs)
        assert text.startswith(f"customer {other}: not a member")
        assert f"sum(orders.amount) = {spend.loc[other]:.2f}".rstrip("0").rstrip(".") in text.replace(
            ".00", ""
        )
    finally:
        ws.get("js_explain_vip").delete()


def test_sweep_and_near_magics(ip, demo_frames) -> None:
    orders = demo_frames["orders"]
    customers = pd.Index(demo_frames["customers"]["customer_id"])
    spend = orders.groupby("customer_id")["amount"].sum().reindex(customers, fill_value=0)
    result, out = run(ip, '%segment sweep "sum(orders.amount) >= {x}" x=0:3000:1000 --as-of 2025-06-30 -o sw')
    assert result.error_in_exec is None, out.stderr
    frame = ip.user_ns["sw"]
    assert frame["x"].tolist() == [0, 1000, 2000]
    assert frame["members"].tolist() == [int((spend >= x).sum()) for x in (0, 1000, 2000)]
    _, out = run(ip, '%segment sweep "age > {a}" a=30,60.5 -o sw2')
    ages = demo_frames["customers"]["age"]
    assert ip.user_ns["sw2"]["members"].tolist() == [int((ages > 30).sum()), int((ages > 60.5).sum())]
    result, out = run(ip, '%segment sweep "age > {a}" a=x:y')
    assert result.error_in_exec is not None and "is not a number" in str(result.error_in_exec)

    text = "sum(orders.amount) >= 1000 and age > 30"
    result, out = run(ip, f'%segment near "{text}" --as-of 2025-06-30 -o nm')
    assert result.error_in_exec is None, out.stderr
    found = ip.user_ns["nm"]
    age = demo_frames["customers"].set_index("customer_id")["age"].reindex(customers)
    rich, old = spend >= 1000, (age > 30).fillna(False)
    assert found.members == int((rich & old).sum())
    assert found.counts["customers"].tolist() == [int((~rich & old).sum()), int((rich & ~old).sum())]
    assert "miss only: age > 30" in "\n".join(o.data.get("text/plain", "") for o in out.outputs)
