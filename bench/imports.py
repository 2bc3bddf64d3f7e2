"""Import time: ``import jupyter_segments`` and ``%load_ext jupyter_segments`` in a fresh interpreter.

    python -m bench.imports [--runs 5]

Each figure is the median wall time of ``--runs`` fresh ``python -c`` processes (so nothing is cached
in the interpreter), next to a bare ``python -c pass`` for the interpreter's own start, ``import pandas,
sqlglot`` (the two dependencies every part of the package uses at import: the floor), the import plus a
first ``js.connect`` (what any real use pays) and an IPython shell alone (``%load_ext`` costs the
difference; not ``IPython.testing``'s shell, which loads matplotlib itself); then the heavy third-party
modules each leaves loaded. Nothing here is asserted in tests: the numbers depend
on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = ("pandas", "numpy", "pyarrow", "duckdb", "sqlalchemy", "sqlglot", "IPython", "ipywidgets",
         "altair", "vl_convert", "sklearn", "scipy", "croniter", "matplotlib")  # fmt: skip

SHELL = "from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance()"
CASES = {
    "python -c pass": "pass",
    "import pandas, sqlglot (floor)": "import pandas, sqlglot.expressions",
    "import jupyter_segments": "import jupyter_segments",
    # What the first real step needs anyway (the catalog is SQLite through SQLAlchemy): deferring more
    # of the import only moves it here.
    "import + js.connect(DuckDB)": (
        "import jupyter_segments as js; js.connect('duckdb:///:memory:', catalog=':memory:').close()"
    ),
    "IPython shell alone": SHELL,
    "IPython shell + %load_ext jupyter_segments": f"{SHELL}; ip.run_line_magic('load_ext', 'jupyter_segments')",
}


def timed(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def loaded(code: str) -> list[str]:
    probe = f"{code}\nimport sys, json; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"| what | median s ({args.runs} runs) | min s | heavy modules loaded |")
    print("|---|---|---|---|")
    for name, code in CASES.items():
        times = [timed(code) for _ in range(args.runs)]
        mods = ", ".join(loaded(code)) if code != "pass" else ""
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {mods} |")


if __name__ == "__main__":
    main()
