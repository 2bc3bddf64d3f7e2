"""``import jupyter_segments`` and ``%load_ext jupyter_segments`` leave the heavy optional modules unloaded.

scikit-learn, SciPy, Altair, vl-convert, matplotlib, ipywidgets and croniter are imported where they
are first needed (suggestions, charts, widgets, schedules), not when the package or the magics load.
A module-level import of one of them would add up to seconds to every kernel that loads the
extension; this keeps that from coming back unnoticed. No timing here (bench/imports.py measures it):
only which modules a fresh interpreter has loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LATE = ("sklearn", "scipy", "altair", "vl_convert", "matplotlib", "ipywidgets", "croniter")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return {m.split(".")[0] for m in json.loads(out.strip().splitlines()[-1])}


@pytest.mark.parametrize(
    "code, also_late",
    [
        pytest.param("import jupyter_segments", ("IPython",), id="import"),  # IPython: the magics' business
        pytest.param(
            "from IPython.core.interactiveshell import InteractiveShell\n"
            "InteractiveShell.instance().run_line_magic('load_ext', 'jupyter_segments')",
            (),
            id="load_ext",
        ),
    ],
)
def test_heavy_optional_modules_load_late(code: str, also_late: tuple[str, ...]) -> None:
    loaded = _loaded_after(code)
    assert "jupyter_segments" in loaded
    early = sorted(m for m in LATE + also_late if m in loaded)
    assert not early, f"{code!r} imports {early}: import them in the function that needs them"
