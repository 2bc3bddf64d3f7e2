"""Large static segments (issue 21 follow-up): ``in segment <static>`` reads the stored members table with
a semi-join, not a list of literals, so 12,000 keys (more than the 10,000 where the IN list got slow)
cost what a table of them costs, and no key becomes SQL text.

The oracle: the listed keys and the customers frame in pandas, on DuckDB, SQLite, PostgreSQL and MariaDB;
a one-column key and a composite key (region, account_no).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

import jupyter_segments as js

N = 15_000  # customers
LISTED = 12_000  # keys in the static segment


@pytest.fixture
def big(demo_backend, tmp_path):
    """A customers table of N rows of its own in the test database: an integer key, a composite key
    (region, account_no) and an age; dropped at the end."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, N + 1) * 3,
            "region": np.where(np.arange(N) % 2 == 0, "eu", "us"),  # the same account_no in both
            "account_no": np.arange(N) // 2,
            "age": rng.integers(18, 90, N),
        }
    )
    table = f"jsk_customers_{os.getpid()}"
    demo_backend.write_table(table, frame)
    ws = js.Workspace(demo_backend, catalog=str(tmp_path / "catalog.sqlite"))
    ws.members_prefix = f"jsk{os.getpid()}_"
    yield ws, table, frame
    for row in sorted(ws.catalog.segment_rows(), key=lambda r: r["type"]):  # referrers (dynamic) first
        ws.get(row["name"]).delete()
    ws.catalog.close()
    demo_backend.drop_table(table)


def _sql_has_no_keys(sql: str, keys: list) -> bool:
    return len(sql) < 2_000 and not any(f" {k}," in sql or f"'{k}'" in sql for k in keys[:50])


def test_one_column_key(big):
    ws, table, frame = big
    ws.customers(table, key="customer_id")
    rng = np.random.default_rng(1)
    listed = sorted(int(k) for k in rng.choice(frame["customer_id"], LISTED, replace=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown key's warning (tested in test_static_segments)
        seg = ws.static_segment("listed", [*listed, 1])  # 1 is no customer (keys are multiples of 3)
    assert seg.unknown_keys == [1] and seg.count == LISTED

    members = frame["customer_id"].isin(listed)
    older = frame["age"] > 40
    assert ws.count("in segment listed and age > 40") == int((members & older).sum())
    assert ws.count("not (in segment listed)") == int((~members).sum())
    got = ws.member_keys("age > 40 EXCEPT (in segment listed)")
    assert sorted(int(k) for k in got) == sorted(frame.loc[older & ~members, "customer_id"])
    sql = ws.compile("in segment listed and age > 40")
    assert _sql_has_no_keys(sql, listed), sql[:500]
    # Why? for a listed customer and one not listed, by the static segment's name.
    outside = int(frame.loc[~members, "customer_id"].iloc[0])
    assert ws.explain("listed", customer=listed[0]).verdict is True
    assert ws.explain("listed", customer=outside).verdict is False
    # ... in a saved dynamic segment, refreshed like any other.
    ws.segment("listed_older", "in segment listed and age > 40")
    (run,) = ws.refresh("listed_older")
    assert run.ok and run.members == int((members & older).sum())


def test_composite_key(big):
    ws, table, frame = big
    ws.customers(table, key=("region", "account_no"))
    picked = frame.sample(LISTED, random_state=2)
    listed = list(picked[["region", "account_no"]].itertuples(index=False, name=None))
    seg = ws.static_segment("listed", listed, key=["region", "account_no"])
    assert seg.count == LISTED

    members = frame.index.isin(picked.index)
    older = frame["age"] > 40
    assert ws.count("in segment listed and age > 40") == int((members & older).sum())
    assert ws.count("not (in segment listed)") == int((~members).sum())
    got = ws.members("in segment listed and age > 40")[["region", "account_no"]]
    want = frame.loc[members & older, ["region", "account_no"]]
    assert sorted(map(tuple, got.itertuples(index=False))) == sorted(map(tuple, want.itertuples(index=False)))
    sql = ws.compile("in segment listed")
    if ws.dialect != "mysql":  # MariaDB: a text key column is listed (static_segments._semi_join_fits)
        assert _sql_has_no_keys(sql, [a for _, a in listed]), sql[:500]


def test_magic_sql_of_a_static_segment_reads_its_table(demo_conn, tmp_path):
    from IPython.utils.capture import capture_output
    from test_segments_as_code import magic_shell, shown

    with magic_shell(demo_conn, tmp_path / "m.sqlite") as (shell, ws):
        shell.user_ns["keys"] = [1, 2, 3]
        with capture_output():
            shell.run_line_magic("segment", "static picked keys")
        with capture_output() as out:
            shell.run_line_magic("segment", "sql picked")
        assert "seg_members__picked" in shown(out) and "1, 2, 3" not in shown(out), shown(out)
