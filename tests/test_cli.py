"""``jupyter-segments demo`` and ``compile``: what they print is checked against hand-written SQL."""

from __future__ import annotations

import re
import subprocess
import sys

import duckdb

from jupyter_segments import demo
from jupyter_segments.cli import main


def test_demo_prints_counts_that_match_hand_written_sql(capsys, tmp_path):
    path = str(tmp_path / "demo.duckdb")
    assert main(["demo", "--customers", "2000", "--seed", "5", "--path", path]) == 0
    out = capsys.readouterr().out
    counts = {
        m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"^== (\w+): ([\d,]+) members", out, re.M)
    }
    con = duckdb.connect(path, read_only=True)
    hand = {
        "germans_over_40": "SELECT count(*) FROM customers WHERE country = 'DE' AND age >= 40",
        "big_spenders": """SELECT count(*) FROM (SELECT customer_id FROM orders WHERE status <> 'returned'
                           GROUP BY customer_id HAVING sum(amount) >= 1000) s
                           JOIN customers USING (customer_id)""",
        "north_newsletter": """SELECT count(*) FROM customers c JOIN regions r USING (region_id)
                               WHERE r.name = 'North' AND c.newsletter""",
    }
    for name, sql in hand.items():
        assert counts[name] == con.execute(sql).fetchone()[0], name
    assert "SELECT" in out and "First members of big spenders" in out


def test_compile_prints_sql_for_a_dialect_that_runs():
    conn = demo.generate(1_000, seed=3)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_segments.cli",
            "compile",
            "count(support_calls) >= 3",
            "--dialect",
            "duckdb",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    got = {r[0] for r in conn.execute(proc.stdout).fetchall()}
    want = {
        r[0]
        for r in conn.execute(
            "SELECT customer_id FROM customers WHERE customer_id IN "
            "(SELECT cust_id FROM support_calls GROUP BY cust_id HAVING count(*) >= 3)"
        ).fetchall()
    }
    assert got == want and got


def test_bad_definition_is_a_message_not_a_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_segments.cli", "compile", "contry = 'DE'"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "did you mean 'country'" in proc.stderr and "Traceback" not in proc.stderr
