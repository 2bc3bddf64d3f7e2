"""The prebuilt JupyterLab extension in jupyter_segments/labextension matches its sources and installs.

The sources live in labextension/ (TypeScript, CSS, package.json); ``python labextension/build.py``
rebuilds the committed output and records a hash of the sources in it. Editing a source without
rebuilding fails ``test_build_matches_sources``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "jupyter_segments" / "labextension"


def _build_script():
    spec = importlib.util.spec_from_file_location("labextension_build", ROOT / "labextension" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_matches_sources():
    build = _build_script()
    recorded = json.loads((BUILT / "sources.json").read_text())
    files = [p.relative_to(build.HERE).as_posix() for p in build.source_files()]
    assert recorded["files"] == files, "sources were added or removed: run python labextension/build.py"
    assert recorded["sha256"] == build.sources_hash(), (
        "labextension/ changed since the committed build: run python labextension/build.py and commit "
        "jupyter_segments/labextension"
    )
    assert any(f.startswith("src/") and f.endswith(".ts") for f in files)


def test_built_extension_is_complete():
    meta = json.loads((BUILT / "package.json").read_text())
    source_meta = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert meta["name"] == source_meta["name"] == "jupyter-segments"
    assert meta["version"] == source_meta["version"]
    load = meta["jupyterlab"]["_build"]["load"]
    assert (BUILT / load).is_file()
    static = {p.name for p in (BUILT / "static").iterdir()}
    remote_entries = [n for n in static if n.startswith("remoteEntry.")]
    assert remote_entries == [Path(load).name], "stale files in static/: rebuild with labextension/build.py"
    install = json.loads((BUILT / "install.json").read_text())
    assert install["packageName"] == "jupyter-segments"


def test_wheel_puts_it_where_jupyterlab_looks():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["shared-data"] == {
        "jupyter_segments/labextension": "share/jupyter/labextensions/jupyter-segments"
    }


@pytest.mark.slow
def test_jupyterlab_lists_it_enabled_and_ok(tmp_path):
    """What ``pip install .`` produces (share/jupyter/labextensions/jupyter-segments), seen by JupyterLab."""
    (tmp_path / "labextensions").mkdir()
    (tmp_path / "labextensions" / "jupyter-segments").symlink_to(BUILT, target_is_directory=True)
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = out.stdout + out.stderr
    line = next((ln for ln in text.splitlines() if "jupyter-segments" in ln), "")
    assert "enabled" in line and "OK" in line and "v0.1.0" in line, text
