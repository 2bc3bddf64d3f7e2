"""The oracle suite on the demo data as pandas.to_sql writes it into SQLite (issue 13): dates and
timestamps as TIMESTAMP text, booleans as 0/1 INTEGERs, no keys, no indexes. A definition must mean
the same on data stored the way people store it as on the typed tables the suite loads elsewhere."""

from __future__ import annotations

import sqlite3

import oracle as O
import pytest
import test_engine_oracle as EO
import test_language as L
from conftest import DEMO_ANCHOR
from test_engine_oracle import Demo, demo  # noqa: F401 - the oracle's frames

from jupyter_segments import Workspace
from jupyter_segments.backends import open_backend

TABLES = ("regions", "customers", "products", "orders", "order_lines", "support_calls", "web_events")


@pytest.fixture(scope="module")
def pandas_ws(demo_frames, tmp_path_factory) -> Workspace:
    path = tmp_path_factory.mktemp("pandas") / "demo.db"
    with sqlite3.connect(path) as conn:
        for table in TABLES:
            demo_frames[table].to_sql(table, conn, index=False)
    ws = Workspace(open_backend(f"sqlite:///{path}"))
    ws.customers("customers", key="customer_id")
    ws.relate("support_calls", "customers", on=("cust_id", "customer_id"))
    ws.session.segment_source = EO.segment_source
    return ws


def test_the_storage_is_what_pandas_writes(pandas_ws: Workspace) -> None:
    types = {
        c.name: (c.type, c.db_type, c.flag) for c in pandas_ws.model.entity("customers").columns.values()
    }
    assert types["signup_date"] == ("timestamp", "TIMESTAMP", False)  # datetime64 -> TIMESTAMP text
    assert types["newsletter"] == ("number", "INTEGER", True)  # bool -> 0/1 INTEGER
    stored = pandas_ws.backend.query("SELECT signup_date, newsletter FROM customers LIMIT 1")
    assert isinstance(stored.iloc[0, 0], str) and stored.iloc[0, 1] in (0, 1)


CASES = [(f"engine-{c[0]}", c[1], c[2]) for c in EO.CASES + EO.SEGMENT_CASES] + [
    (f"language-{c[0]}", c[1], c[2]) for c in L.CASES
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pandas_written_sqlite_matches_the_oracle(
    pandas_ws: Workspace,
    demo: Demo,  # noqa: F811 - the fixture imported above
    text: str,
    expected,
) -> None:
    want = O.members(expected(demo))
    got = sorted(int(k) for k in pandas_ws.member_keys(text, as_of=DEMO_ANCHOR))
    assert got == want, (
        f"{len(got)} members, oracle {len(want)}\n{pandas_ws.compile(text, as_of=DEMO_ANCHOR)}"
    )
