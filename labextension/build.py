"""Rebuild the prebuilt JupyterLab extension committed in jupyter_segments/labextension/.

    python labextension/build.py            # npm ci (first time), tsc, webpack via @jupyterlab/builder
    python labextension/build.py --check    # exit 1 if the committed build is older than the sources

Needs Node.js 18+ and npm, and JupyterLab 4 installed in this Python (its ``staging/package.json`` says
which packages the host shares). Users never run this: ``pip install .`` ships the built files.

The build records a hash of its sources (``sources.json`` next to the built files); the test suite
(tests/test_labextension.py) recomputes it and fails when the TypeScript sources and the build disagree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "jupyter_segments" / "labextension"
# What the build is made from (node_modules and lib/ are derived; the lock file pins the bundled deps).
SOURCES = ("package.json", "package-lock.json", "tsconfig.json", "src/*.ts", "style/*.css", "style/*.js")
INSTALL_JSON = {
    "packageManager": "python",
    "packageName": "jupyter-segments",
    "uninstallInstructions": "Use your Python package manager (pip, conda, etc.) to uninstall jupyter-segments",
}


def source_files() -> list[Path]:
    files: set[Path] = set()
    for pattern in SOURCES:
        files.update(p for p in HERE.glob(pattern) if p.is_file())
    return sorted(files)


def sources_hash() -> str:
    """sha256 over each source file's path and bytes (line endings as stored)."""
    h = hashlib.sha256()
    for path in source_files():
        rel = path.relative_to(HERE).as_posix()
        data = path.read_bytes().replace(b"\r\n", b"\n")
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def recorded_hash() -> str | None:
    try:
        return json.loads((OUT / "sources.json").read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        return None


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=HERE, check=True)


def build(install: bool) -> None:
    import jupyterlab  # the host whose shared packages the bundle must consume

    staging = Path(jupyterlab.__file__).parent / "staging"
    npm = shutil.which("npm")
    node = shutil.which("node")
    if not npm or not node:
        sys.exit("Node.js and npm are needed to rebuild the extension (users do not need them)")
    if install or not (HERE / "node_modules").is_dir():
        _run([npm, "ci", "--no-audit", "--no-fund"])
    shutil.rmtree(HERE / "lib", ignore_errors=True)
    (HERE / "tsconfig.tsbuildinfo").unlink(missing_ok=True)
    _run([node, "node_modules/typescript/bin/tsc"])
    shutil.rmtree(OUT / "static", ignore_errors=True)
    builder = "node_modules/@jupyterlab/builder/lib/build-labextension.js"
    _run([node, builder, "--core-path", str(staging), "."])
    (OUT / "install.json").write_text(json.dumps(INSTALL_JSON, indent=2) + "\n")
    files = [p.relative_to(HERE).as_posix() for p in source_files()]
    record = {"sha256": sources_hash(), "files": files}
    (OUT / "sources.json").write_text(json.dumps(record, indent=2) + "\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"built {OUT} ({size / 1024:.0f} KiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare the sources with the recorded hash")
    ap.add_argument("--install", action="store_true", help="run npm ci even if node_modules exists")
    a = ap.parse_args()
    if a.check:
        ok = recorded_hash() == sources_hash()
        print("the build matches its sources" if ok else "the build is stale: run python labextension/build.py")
        sys.exit(0 if ok else 1)
    build(a.install)


if __name__ == "__main__":
    main()
