"""Issue 21, segments as code: ``.segment`` files synced into the catalog, written out of it, and checked.

The catalog is read back through its own tables (SQLAlchemy on the catalog file) and the files as text,
never through the code under test; counts of synced segments are compared with hand-written SQL.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import DEMO_ANCHOR
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import jupyter_segments as js
from jupyter_segments import SegmentError, code_files
from jupyter_segments.backends.duckdb_backend import DuckDBBackend
from jupyter_segments.catalog import Catalog
from jupyter_segments.catalog.schema import make_tables
from jupyter_segments.cli import main as cli_main

AS_OF = DEMO_ANCHOR.isoformat()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def ws(demo_conn, tmp_path):
    """The session demo data (DuckDB) with a fresh catalog file."""
    workspace = js.Workspace(DuckDBBackend(demo_conn), catalog=str(tmp_path / "catalog.sqlite"))
    js.demo.declare_model(workspace.model)
    yield workspace
    workspace.catalog.close()


def catalog_rows(path: Path) -> dict[str, dict]:
    """The segments table as stored, with versions and tags (read with plain SQLAlchemy)."""
    t = make_tables()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        segs = {r.name: dict(r._mapping) for r in c.execute(sa.select(t.segments))}
        for seg in segs.values():
            seg["versions"] = [
                v.definition
                for v in c.execute(
                    sa.select(t.versions)
                    .where(t.versions.c.segment_id == seg["id"])
                    .order_by(t.versions.c.version)
                )
            ]
            tags = c.execute(sa.select(t.tags).where(t.tags.c.segment_id == seg["id"])).all()
            seg["tags"] = sorted(r.tag for r in tags if r.kind == "tag")
            seg["dialects"] = sorted(r.tag for r in tags if r.kind == "dialect")
    engine.dispose()
    return segs


def sample(folder: Path) -> None:
    write(
        folder,
        "vip.segment",
        """
        -- name: vip
        -- description: customers who spent 1,000 or more
        -- tags: value, retail
        -- dialects: postgres, snowflake
        sum(orders.amount) >= 1000
        """,
    )
    write(
        folder,
        "de/vip_de.segment",
        """
        -- tags: value
        -- display_name: VIP in Germany
        -- a comment that is not a header field ends the header
        in segment vip and country = 'DE'
        """,
    )


def test_sync_creates_updates_keeps_and_prunes(ws, tmp_path):
    folder = tmp_path / "segments"
    sample(folder)
    ws.segment("legacy", "age > 70")  # in the catalog, not in the folder

    report = code_files.sync(ws, folder)
    assert report.ok
    actions = dict(zip(report.changes["name"], report.changes["action"], strict=True))
    assert actions == {"vip": "created", "vip_de": "created", "legacy": "kept"}
    rows = catalog_rows(tmp_path / "catalog.sqlite")
    assert rows["vip"]["definition"] == "sum(orders.amount) >= 1000"
    assert rows["vip"]["description"] == "customers who spent 1,000 or more"
    assert rows["vip"]["tags"] == ["retail", "value"] and rows["vip"]["dialects"] == ["postgres", "snowflake"]
    # The comment line below the header belongs to the definition (DSL comments are kept as written).
    assert rows["vip_de"]["definition"].startswith("-- a comment")
    assert rows["vip_de"]["display_name"] == "VIP in Germany"
    assert "legacy" in rows

    # The segments synced count what hand-written SQL counts.
    hand = """SELECT count(*) FROM customers WHERE country = 'DE' AND customer_id IN
              (SELECT customer_id FROM orders GROUP BY customer_id HAVING sum(amount) >= 1000)"""
    assert ws.count("in segment vip_de") == ws.backend.scalar(hand)

    # Unchanged files: nothing written, no version.
    again = code_files.sync(ws, folder)
    assert set(again.changes.query("name != 'legacy'")["action"]) == {"unchanged"}
    assert catalog_rows(tmp_path / "catalog.sqlite")["vip"]["versions"] == ["sum(orders.amount) >= 1000"]

    # A changed definition is a new version, reported with its diff; changed tags alone are no version.
    write(
        folder,
        "vip.segment",
        """
        -- name: vip
        -- description: customers who spent 1,000 or more
        -- tags: value
        -- dialects: postgres, snowflake
        sum(orders.amount) >= 2000
        """,
    )
    write(
        folder,
        "de/vip_de.segment",
        """
        -- tags: value, germany
        -- display_name: VIP in Germany
        -- a comment that is not a header field ends the header
        in segment vip and country = 'DE'
        """,
    )
    dry = code_files.sync(ws, folder, dry_run=True)
    assert dry.count("updated") == 2
    assert catalog_rows(tmp_path / "catalog.sqlite")["vip"]["definition"].endswith(">= 1000")  # dry run
    updated = code_files.sync(ws, folder)
    text = str(updated)
    assert "updated  vip -> version 2 (definition, tags)" in text
    assert "-sum(orders.amount) >= 1000" in text and "+sum(orders.amount) >= 2000" in text
    assert "updated  vip_de (tags)" in text
    rows = catalog_rows(tmp_path / "catalog.sqlite")
    assert rows["vip"]["versions"] == ["sum(orders.amount) >= 1000", "sum(orders.amount) >= 2000"]
    assert rows["vip"]["tags"] == ["value"] and rows["vip_de"]["tags"] == ["germany", "value"]
    assert len(rows["vip_de"]["versions"]) == 1

    # Never deleted without prune; with it, the segment without a file goes.
    assert "legacy" in catalog_rows(tmp_path / "catalog.sqlite")
    pruned = code_files.sync(ws, folder, prune=True)
    assert pruned.count("deleted") == 1
    assert set(catalog_rows(tmp_path / "catalog.sqlite")) == {"vip", "vip_de"}


def test_one_bad_file_and_nothing_is_written(ws, tmp_path):
    folder = tmp_path / "segments"
    sample(folder)
    write(folder, "broken.segment", "-- name: broken\nsum(orders.amout) >= 10\n")
    report = code_files.sync(ws, folder)
    assert not report.ok and "nothing written: 1 error" in str(report)
    (finding,) = report.findings
    assert finding.file.endswith("broken.segment") and (finding.line, finding.column) == (2, 12)
    assert "did you mean 'amount'" in finding.message
    assert catalog_rows(tmp_path / "catalog.sqlite") == {}


def test_sync_refuses_to_redefine_a_static_segment_and_to_prune_a_referenced_one(ws, tmp_path):
    folder = tmp_path / "segments"
    write(folder, "frozen.segment", "age > 30\n")
    ws.segment("frozen", "age > 60", type="static")
    report = code_files.sync(ws, folder)
    assert not report.ok and "static segment" in report.findings[0].message

    other = tmp_path / "other"
    write(other, "uses.segment", "in segment base and age > 30\n")
    ws.segment("base", "age > 20")
    ws.segment("user", "in segment base")  # kept by the catalog, refers to base
    refused = code_files.sync(ws, other, prune=True)
    # base has no file but 'uses' (a file) and 'user' (pruned too) refer to it: deleting it would break 'uses'
    assert not refused.ok and "refers to it" in str(refused)
    assert {"base", "user"} <= set(catalog_rows(tmp_path / "catalog.sqlite"))


def test_export_code_round_trip(ws, tmp_path):
    ws.segment("vip", "sum(orders.amount) >= 1000\n-- big ones\nPROJECT sum(orders.amount) AS spend",
               description="big spenders\nover two lines")  # fmt: skip
    ws.segment("vip", "sum(orders.amount) >= 1500\nPROJECT sum(orders.amount) AS spend",
               description="big spenders")  # fmt: skip
    ws.segment("Odd name/with slash", "-- note: starts with a field-like comment\nage between 30 and 40",
               display_name="Odd one")  # fmt: skip
    ws.segment("draft_one", "age >", draft=True)
    ws.segment("refers", "in segment vip except country = 'DE'")
    ws.segment("snapshot", "age > 80", type="static")
    with ws.catalog.transaction() as c:
        ws.catalog.set_tags(ws.get("vip").id, ["value", "retail"], c)
        ws.catalog.set_tags(ws.get("vip").id, ["postgres"], c, kind="dialect")

    out = tmp_path / "code"
    written = code_files.export_code(ws, out)
    assert dict(zip(written["name"], written["action"], strict=True))["snapshot"] == "skipped (static)"
    files = sorted(p.name for p in out.iterdir())
    assert files == ["Odd_name_with_slash.segment", "draft_one.segment", "refers.segment", "vip.segment"]
    assert (out / "vip.segment").read_text() == (
        "-- name: vip\n-- description: big spenders\n-- tags: retail, value\n-- dialects: postgres\n"
        "sum(orders.amount) >= 1500\nPROJECT sum(orders.amount) AS spend\n"
    )

    # Into a fresh catalog: the same segments, definitions, descriptions, names, tags, drafts.
    fresh = js.Workspace(ws.backend, catalog=str(tmp_path / "fresh.sqlite"))
    js.demo.declare_model(fresh.model)
    report = code_files.sync(fresh, out)
    assert report.ok, str(report)
    before = catalog_rows(tmp_path / "catalog.sqlite")
    after = catalog_rows(tmp_path / "fresh.sqlite")
    assert set(after) == set(before) - {"snapshot"}
    for name, row in after.items():
        for col in ("definition", "display_name", "draft", "tags", "dialects", "state"):
            assert row[col] == before[name][col], (name, col)
        assert (row["description"] or None) == (before[name]["description"] or None), name
    # Back out again: byte for byte the same files; and the original catalog sees nothing to change.
    again = code_files.export_code(fresh, tmp_path / "code2")
    assert set(again["action"]) == {"written"}
    for path in out.iterdir():
        assert (tmp_path / "code2" / path.name).read_text() == path.read_text(), path.name
    assert set(code_files.export_code(ws, out)["action"]) == {"unchanged", "skipped (static)"}
    unchanged = code_files.sync(ws, out)
    assert set(unchanged.changes["action"]) == {"unchanged"}, str(unchanged)  # static ones are no code
    fresh.catalog.close()


def test_check_reports_errors_warnings_and_dialects_with_file_lines(ws, tmp_path):
    folder = tmp_path / "segments"
    sample(folder)
    write(folder, "odd.segment", "-- name: odd\n-- tags: x\nage > 50\nand age < 30\n")
    write(folder, "typo.segment", "-- nmae: typo\nage > 3\n")
    write(folder, "dup.segment", "-- name: vip\nage > 3\n")
    write(folder, "ghost.segment", "in segment nobody\n")
    write(folder, "bad_dialect.segment", "-- dialects: postgress\nage > 3\n")
    report = code_files.check(ws, folder, dialects=["mysql"])
    by_file = {Path(f.file).name: f for f in report.findings}
    assert by_file["odd.segment"].severity == "warning" and by_file["odd.segment"].line == 3
    assert "never both true" in by_file["odd.segment"].message
    assert by_file["typo.segment"].line == 1 and "did you mean 'name'" in by_file["typo.segment"].message
    assert "segment 'vip' is also defined in" in by_file["vip.segment"].message  # dup.segment came first
    assert "unknown segment 'nobody'" in by_file["ghost.segment"].message
    assert "unknown dialect 'postgress'" in by_file["bad_dialect.segment"].message
    assert report.files == 7 and len(report.errors) == 4 and len(report.warnings) == 1
    parsed = json.loads(report.to_json())
    assert parsed["errors"] == 4 and {f["severity"] for f in parsed["findings"]} == {"error", "warning"}


def test_cli_sync_check_and_export_code(demo_conn, tmp_path, capsys):
    db = tmp_path / "shop.duckdb"
    demo_conn.execute(f"ATTACH '{db}' AS shop")
    for table in js.demo.TABLES:
        demo_conn.execute(f"CREATE TABLE shop.{table} AS SELECT * FROM {table}")
    demo_conn.execute("DETACH shop")
    folder = tmp_path / "segments"
    sample(folder)
    common = ["--db", f"duckdb:///{db}", "--customers", "customers", "--key", "customer_id"]

    assert cli_main(["check", str(folder), *common]) == 0
    assert "2 files checked: 0 errors, 0 warnings" in capsys.readouterr().out
    write(folder, "odd.segment", "age > 50 and age < 30\n")
    assert cli_main(["check", str(folder), *common]) == 0
    capsys.readouterr()
    assert cli_main(["check", str(folder), *common, "--strict", "--format", "json"]) == 1
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["warnings"] == 1 and parsed["findings"][0]["line"] == 1

    catalog = tmp_path / "cat.sqlite"
    assert cli_main(["sync", str(folder), *common, "--catalog", str(catalog)]) == 0
    text = capsys.readouterr().out
    assert "created  vip" in text and "3 created, 0 updated, 0 unchanged" in text
    # The catalog remembers the model: a second sync needs no --customers.
    assert (
        cli_main(
            ["sync", str(folder), "--db", f"duckdb:///{db}", "--catalog", str(catalog), "--format", "json"]
        )
        == 0
    )
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["ok"] and {c["action"] for c in parsed["changes"]} == {"unchanged"}

    write(folder, "broken.segment", "count(orders) >=\n")
    assert cli_main(["sync", str(folder), "--db", f"duckdb:///{db}", "--catalog", str(catalog)]) == 1
    assert "nothing written: 1 error" in capsys.readouterr().out

    out_dir = tmp_path / "exported"
    assert cli_main(["export-code", str(out_dir), "--catalog", str(catalog)]) == 0
    assert "3 files written" in capsys.readouterr().out
    assert sorted(p.name for p in out_dir.iterdir()) == ["odd.segment", "vip.segment", "vip_de.segment"]
    with pytest.raises(SystemExit) as exited:  # argparse: usage and a message, status 2
        cli_main(["export-code", str(out_dir), "--catalog", str(tmp_path / "none.sqlite")])
    assert exited.value.code == 2
    assert "there is no catalog file" in capsys.readouterr().err


@contextlib.contextmanager
def magic_shell(demo_conn, catalog):
    """The IPython shell with %segment connected to the session's demo DuckDB and its own ``catalog``;
    the shell's earlier connection (another test module's) is put back afterwards."""
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_segments")
    shell.user_ns["demo_db"] = demo_conn
    magic = shell.magics_manager.registry["SegmentMagic"]
    saved = (magic.ws, magic._owns_ws, magic._demo_dir, magic._demo_conn)
    magic.ws, magic._demo_dir, magic._demo_conn = None, None, None
    try:
        with capture_output():
            shell.run_line_magic("segment", f"connect demo_db --catalog {catalog}")
            shell.run_line_magic("segment", "customers customers --key customer_id")
        yield shell, magic.ws
    finally:
        magic._close()
        magic.ws, magic._owns_ws, magic._demo_dir, magic._demo_conn = saved


def shown(out) -> str:
    """What a magic displayed, as text."""
    return out.stdout + "".join(o.data.get("text/plain", "") for o in out.outputs)


def test_magic_sync(demo_conn, tmp_path):
    folder = tmp_path / "segments"
    sample(folder)
    with magic_shell(demo_conn, tmp_path / "m.sqlite") as (shell, _ws):
        with capture_output() as out:
            shell.run_line_magic("segment", f"sync {folder} -o report")
        assert "2 created, 0 updated, 0 unchanged" in shown(out)
        assert shell.user_ns["report"].ok
        write(folder, "bad.segment", "age >\n")
        result = shell.run_cell(f"%segment sync {folder}")
        assert isinstance(result.error_in_exec, Exception) and "nothing written" in str(result.error_in_exec)


def test_bad_headers_are_errors_naming_file_and_line(tmp_path):
    with pytest.raises(SegmentError, match=r"x.segment:2: 'name' is given twice"):
        code_files.read_file(write(tmp_path, "x.segment", "-- name: a\n-- name: b\nage > 1\n"))
    with pytest.raises(SegmentError, match="no definition below the header"):
        code_files.read_file(write(tmp_path, "y.segment", "-- name: a\n\n"))
    with pytest.raises(SegmentError, match="draft must be true or false"):
        code_files.read_file(write(tmp_path, "z.segment", "-- draft: maybe\nage > 1\n"))
    with pytest.raises(SegmentError, match="there is no folder"):
        code_files.read_folder(tmp_path / "missing")


def test_a_version_1_catalog_is_upgraded_with_its_segments_kept(tmp_path):
    path = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    t = make_tables()
    with engine.begin() as c:  # what version 1 created: its tables, schema_version = 1
        t.metadata.create_all(c, tables=[t.schema_version, t.settings, t.segments, t.versions, t.runs,
                                         t.measures, t.exports])  # fmt: skip
        c.execute(t.schema_version.insert().values(version=1))
    engine.dispose()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        now = sa.func.current_timestamp()
        seg_id = c.execute(
            t.segments.insert().values(name="old", definition="age > 1", type="dynamic", state="active",
                                       draft=False, version=1, created_at=now, updated_at=now, has_prev=False)
        ).inserted_primary_key[0]  # fmt: skip
    engine.dispose()
    cat = Catalog(str(path))
    assert cat.schema_version() == 2
    assert cat.segment_row("old")["definition"] == "age > 1"
    with cat.transaction() as c:
        cat.set_tags(seg_id, ["a"], c)
    assert cat.tags() == {seg_id: ["a"]}
    cat.close()
