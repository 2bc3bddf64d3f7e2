"""The linters as tests: ruff (lint + format) over the code, tests and benchmarks, and mypy over the package.

Each runs as a subprocess of this interpreter (the configuration is pyproject.toml's [tool.ruff] and
[tool.mypy]); a failure shows the tool's own report. Skipped when the tool is not installed (both are in
the ``test`` extra), a failure under JS_REQUIRE_ALL_BACKENDS=1 (CI).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import unavailable

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["jupyter_segments", "tests", "bench"]


def _run(module: str, *args: str) -> None:
    if importlib.util.find_spec(module) is None:
        unavailable(f"{module} is not installed (pip install -e '.[test]')")
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{module} {' '.join(args)} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )


def test_ruff_check() -> None:
    _run("ruff", "check", "--no-cache", *PATHS)


def test_ruff_format() -> None:
    _run("ruff", "format", "--check", "--no-cache", *PATHS)


def test_mypy() -> None:
    _run("mypy", "jupyter_segments")
