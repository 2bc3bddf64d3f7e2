"""The CLI never shows a traceback for an expected failure (issue 15): a closed pipe, a DuckDB file
locked by another process, an unreachable server (password masked), an unknown dialect, a bad URL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": REPO}
CLI = [sys.executable, "-m", "jupyter_segments.cli"]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pipes and file locks")


def _run(args, **kw):
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=180, env=ENV, **kw)


def test_a_closed_pipe_ends_quietly(tmp_path):
    # jupyter-segments demo | head -1: the reader closes the pipe after one line.
    shell = f"{' '.join(CLI)} demo --customers 1000 --path {tmp_path / 'd.duckdb'} | head -1"
    done = subprocess.run(
        ["bash", "-c", shell + "; echo status=${PIPESTATUS[0]}"],
        capture_output=True, text=True, timeout=180, env=ENV, cwd=tmp_path,
    )  # fmt: skip
    assert "status=141" in done.stdout, done
    assert done.stderr == "", done.stderr


def test_a_locked_duckdb_file_is_a_message(tmp_path):
    db = tmp_path / "shop.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            c = duckdb.connect({str(db)!r}); c.execute("CREATE TABLE customers AS SELECT 1 AS customer_id")
            print("open", flush=True); time.sleep(120)
        """)],
        stdout=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        done = _run(["compile", "customer_id > 1", "--db", f"duckdb:///{db}"])
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"the DuckDB file {db} is open in another process" in done.stderr, done.stderr
        assert "close it there" in done.stderr
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    "args, message",
    [
        (["compile", "age > 1", "--db", "postgresql://u:S3cretXyz@127.0.0.1:1/x"], "127.0.0.1"),
        (["compile", "age > 1", "--dialect", "nosuch"], "unknown dialect 'nosuch'"),
        (["compile", "age > 1", "--db", "notaurl:::"], "is not a database URL"),
        (["compile", "age > (", "--dialect", "duckdb"], "line 1, column"),
        (["compile", "(" * 500 + "age > 1" + ")" * 500], "nested too deeply"),
    ],
)
def test_expected_failures_are_messages(args, message):
    done = _run(args)
    assert done.returncode == 2, done
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "S3cretXyz" not in done.stderr + done.stdout
