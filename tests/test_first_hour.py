"""A new user's first hour (issue 20), from the user's side: the CLI, missing drivers, the demo's catalog,
and what listings print."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import jupyter_segments as js
from jupyter_segments.cli import main


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_segments.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_version_and_a_description_without_markup():
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"jupyter-segments {js.__version__}"
    helptext = _cli("-h").stdout
    assert "``" not in helptext and "jupyter-segments demo" in helptext


@pytest.mark.parametrize(
    "args, says",
    [
        (("demo", "--customers", "10"), "10 is outside 1,000 to 10,000,000"),
        (("demo", "--customers", "many"), "'many' is not a whole number"),
        (("compile", "age > 3", "--dialect", "nosuch"), "unknown dialect 'nosuch'"),
        (
            ("compile", "age > 3", "--db", "duckdb:///missing.duckdb"),
            "there is no database file missing.duckdb",
        ),
        (("compile", "contry = 'DE'"), "did you mean 'country'"),
        (("refresh", "--all", "--db", "duckdb:///:memory:", "--catalog", "nope.sqlite"), "no catalog file"),
        (
            ("compile", "age > 3", "--db", "postgresql://u:secret@127.0.0.1:1/x"),
            "cannot connect to postgresql+psycopg://u:***@127.0.0.1:1/x",
        ),
    ],
)
def test_expected_failures_are_one_message_without_a_traceback(args, says, tmp_path):
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "secret" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created: no empty database, no catalog


def test_demo_leaves_its_database_and_says_what_to_do_next(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--customers", "1000"]) == 0
    out = capsys.readouterr().out
    assert "written to demo.duckdb" in out and (tmp_path / "demo.duckdb").exists()
    next_steps = out.split("Next steps:", 1)[1]
    assert 'connect("duckdb:///demo.duckdb")' in next_steps and "%load_ext jupyter_segments" in next_steps
    assert not (tmp_path / ".segments").exists()
    ws = js.connect("duckdb:///demo.duckdb")
    ws.customers("customers", key="customer_id")
    assert ws.count("count(orders) >= 1") > 0
    ws.close()


def test_demo_in_memory_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--customers", "1000", "--path", ":memory:"]) == 0
    assert "(in memory)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url, module, extra",
    [
        ("postgresql://u:secret@db.example.com/shop", "psycopg", "postgres"),
        ("mysql://root@db.example.com/shop", "pymysql", "mysql"),
        ("mariadb://root@db.example.com/shop", "pymysql", "mysql"),
    ],
)
def test_a_missing_driver_names_the_extra(url, module, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it raises ImportError
    monkeypatch.setitem(sys.modules, "MySQLdb", None)
    with pytest.raises(js.SegmentError) as e:
        js.connect(url)
    assert f"pip install 'jupyter-segments[{extra}]'" in str(e.value) and "secret" not in str(e.value)
    with pytest.raises(js.SegmentError) as e:
        js.connect("duckdb:///:memory:", catalog=url).catalog  # noqa: B018 - opening it is the test
    assert f"pip install 'jupyter-segments[{extra}]'" in str(e.value) and "secret" not in str(e.value)


def test_connect_demo_keeps_its_catalog_out_of_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ws = js.connect_demo(1_000)
    ws.segment("vip", "sum(orders.amount) >= 2000")
    ws.refresh()
    assert ws.get("vip").count > 0
    ws.close()
    assert list(tmp_path.iterdir()) == []
    # A catalog given explicitly is used and kept.
    ws = js.connect_demo(1_000, catalog=str(tmp_path / "c.sqlite"))
    ws.segment("vip", "sum(orders.amount) >= 2000")
    ws.close()
    assert (tmp_path / "c.sqlite").exists()


def test_refresh_output_says_1_member_and_listings_read_cleanly(tmp_path, monkeypatch, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    ws = js.connect_demo(1_000, path=str(tmp_path / "d.duckdb"), catalog=str(tmp_path / "c.sqlite"))
    ws.segment("one", "customer_id = 1")
    ws.close()
    code = main(
        [
            "refresh",
            "one",
            "--db",
            f"duckdb:///{tmp_path / 'd.duckdb'}",
            "--catalog",
            str(tmp_path / "c.sqlite"),
        ]
    )
    assert code == 0
    assert re.search(r"^one: Successful, 1 member \(\+1 -0\)", capsys.readouterr().out, re.M)

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_segments")
    try:
        shell.run_line_magic(
            "segment", f"connect duckdb:///{tmp_path / 'd.duckdb'} --catalog {tmp_path / 'c.sqlite'}"
        )
        capsys.readouterr()
        shell.run_line_magic("segment", "history one")
        shell.run_line_magic("segment", "list")
        out = capsys.readouterr().out
    finally:
        magics = shell.magics_manager.registry.get("SegmentMagic")
        if magics is not None and magics.ws is not None:
            magics.ws.close()
        shell.run_line_magic("unload_ext", "jupyter_segments")
    assert "1 segment\n" in out or out.startswith("1 segment") or "\n1 segment" in out, out
    assert "[]" not in out, out
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", out), out  # times to the second
