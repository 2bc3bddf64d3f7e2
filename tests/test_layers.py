"""The package's layers, from the bottom up: each module imports only from its own layer or lower ones.

Read LAYERS as the architecture in one place (docs/architecture.md draws it). A definition goes up it:
``dsl`` parses text to a tree, ``bind`` resolves it against the ``model``, ``compile`` lowers it to
sqlglot, a backend runs it; the ``Session`` is that engine for one connection; the ``catalog`` stores
segments; refresh, export, schedule and intelligence work with a Session and a Catalog; the
``Workspace`` composes them for users; the front ends sit on the Workspace.

How imports are read (with ``ast``, without importing anything):
- every ``import`` and ``from ... import`` in a module, at module level and inside functions alike;
  only the body of ``if TYPE_CHECKING:`` is left out (type-only imports do not run);
- relative imports are resolved; ``from . import x`` where ``x`` is a module counts as importing
  that module, otherwise as importing the package;
- an import names one module: the packages above it are not counted as imported (Python runs their
  ``__init__`` first, but here a package's ``__init__`` only re-exports and opens its own modules;
  ``model`` imports ``backends.base`` without depending on the drivers ``backends/__init__`` opens);
- ``importlib.import_module`` of a name held in a string (export's built-in destinations) is not an
  import here: those names are plug-in style entry points, looked up at run time.

A function-level import of one of our own modules is allowed only as a late load of something heavy
and optional (duckdb, SQLAlchemy, IPython, ipywidgets), with a comment on its line or the line above
saying so; never to get around a cycle (the cycle check sees function-level imports too).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "jupyter_segments"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Bottom first. A module belongs to the layer of its longest matching prefix (a prefix matches the
# module itself and everything under it); "" is the package's own __init__.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # SegmentError and did-you-mean: the one exception users see.
    ("errors", ("errors",)),
    # Text <-> definition tree: tokens, parser with spans, printer, {var} placeholders. No model, no SQL.
    ("dsl", ("dsl",)),
    # What a database offers (the Backend protocol, Column, ForeignKey, masked URLs): the model is
    # described in these terms, so this one module of backends/ sits below model (model.py imports it).
    ("database interface", ("backends.base",)),
    # Tables, keys, relationships with their names, column types and overrides.
    ("model", ("model",)),
    # Tree + model -> typed tree: every name resolved, every node typed; name and type errors. No sqlglot.
    ("bind", ("bind",)),
    # Typed tree -> sqlglot expression: the SQL shape, per-dialect rules in dialects.py.
    ("compile", ("compile",)),
    # The drivers: DuckDB, SQLite, SQLAlchemy (PostgreSQL, MariaDB, ...); open_backend; SQL text helpers.
    ("backends", ("backends",)),
    # The engine: one connection, one model; parse, compile, count, members, keys, streams.
    ("engine", ("session",)),
    # The store of saved segments, versions, runs, measures, exports; where members are kept.
    ("catalog", ("catalog",)),
    # Work on a Session and a Catalog: refresh, export destinations, schedules, intelligence, demo data.
    (
        "services",
        ("refresh", "export", "schedule", "intelligence", "demo", "explain", "changes", "estimate", "advise"),
    ),
    # What users hold: the Workspace, and the Segment handle with save/get/list/duplicate.
    ("facade", ("workspace", "segments", "code_files", "static_segments")),
    # Front ends over the Workspace: tables rendered, rich display, completion and editor support, widgets,
    # magics, CLI.
    ("front ends", ("render", "display", "completion", "editor", "ui", "magics", "cli", "pytest_plugin")),
    # `import jupyter_segments`: connect, Workspace, SegmentError and %load_ext.
    ("package", ("",)),
]


# --- reading the imports --------------------------------------------------------------------------


def module_name(path: Path) -> str:
    """'catalog.store' for catalog/store.py, 'catalog' for catalog/__init__.py, '' for __init__.py."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, in_function: bool = False):
    """(import node, inside a function) for every import outside ``if TYPE_CHECKING:`` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _walk_one(other, in_function)
            continue
        yield from _walk_one(child, in_function)


def _walk_one(node: ast.AST, in_function: bool):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, in_function
        return
    inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
    yield from _walk(node, inside)


def _ours(name: str) -> str | None:
    """'catalog.store' for 'jupyter_segments.catalog.store', '' for the package, None if not ours."""
    if name == PACKAGE:
        return ""
    if name.startswith(PACKAGE + "."):
        return name[len(PACKAGE) + 1 :]
    return None


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for each import of one of our modules."""
    is_package = path.name == "__init__.py"
    # The package relative imports start from: the module's own for __init__.py, else its parent's.
    package = name if is_package else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []
    for node, in_function in _walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [t for a in node.names if (t := _ours(a.name)) is not None]
        else:
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level - 1 > len(base_parts):
                    raise AssertionError(f"{path}:{node.lineno}: relative import above the package")
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                base = _join(base, node.module or "")
            else:
                ours = _ours(node.module or "")
                if ours is None:
                    continue
                base = ours
            for alias in node.names:
                sub = _join(base, alias.name)
                targets.append(sub if sub in known else base)
        found += [(t, node.lineno, in_function) for t in targets]
    return found


def graph() -> tuple[dict[str, Path], dict[str, dict[str, int]], list[tuple[str, str, int]]]:
    """(modules, module -> {imported module: line}, function-level imports (module, imported, line))."""
    mods = modules()
    known = set(mods)
    edges: dict[str, dict[str, int]] = {m: {} for m in mods}
    late: list[tuple[str, str, int]] = []
    for name, path in mods.items():
        for target, line, in_function in imports(name, path, known):
            assert target in known, f"{path}:{line} imports {PACKAGE}.{target}, which is not a module"
            if target == name:
                continue
            edges[name].setdefault(target, line)
            if in_function and (name, target, line) not in late:
                late.append((name, target, line))
    return mods, edges, late


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if prefix == "" or module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), index)
    return None if best is None else best[1]


def _label(module: str) -> str:
    return _join(PACKAGE, module)


def find_cycle(edges: dict[str, dict[str, int]], within: set[str] | None = None) -> list[str] | None:
    """One import cycle as [a, b, ..., a] (among the modules ``within``, default all), or None."""
    nodes = set(edges) if within is None else within
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(n for n in edges[node] if n in nodes):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(nodes):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def tangles(edges: dict[str, dict[str, int]]) -> list[set[str]]:
    """The groups of modules that import each other in a circle (strongly connected, two or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for start in sorted(edges):
        if start not in index:
            visit(start)
    return found


# --- the tests -------------------------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    mods = modules()
    assert "workspace" in mods and "errors" in mods, f"no package found at {ROOT}"
    # "" (the package) matches everything, so check against the named prefixes only.
    named = [p for _, prefixes in LAYERS for p in prefixes if p]
    missing = [_label(m) for m in mods if m and not any(m == p or m.startswith(p + ".") for p in named)]
    assert not missing, (
        "modules in no layer (add their prefix to LAYERS in tests/test_layers.py, where they belong): "
        + ", ".join(missing)
    )


def test_no_import_cycle() -> None:
    mods, edges, _ = graph()
    reports = []
    for group in tangles(edges):
        cycle = find_cycle(edges, group)
        assert cycle is not None
        steps = [
            f"{mods[a].relative_to(ROOT.parent)}:{edges[a][b]} imports {_label(b)}"
            for a, b in zip(cycle, cycle[1:], strict=False)
        ]
        reports.append(
            f"{len(group)} modules import each other in a circle: {', '.join(sorted(map(_label, group)))}\n"
            f"  for example {' -> '.join(map(_label, cycle))}:\n    " + "\n    ".join(steps)
        )
    assert not reports, "import cycles:\n" + "\n".join(reports)


def test_imports_only_look_down() -> None:
    mods, edges, _ = graph()
    upward = []
    for module, targets in sorted(edges.items()):
        own = layer_of(module)
        assert own is not None
        for target, line in sorted(targets.items()):
            theirs = layer_of(target)
            assert theirs is not None
            if theirs > own:
                upward.append(
                    f"{mods[module].relative_to(ROOT.parent)}:{line}: {_label(module)} ({LAYERS[own][0]}) "
                    f"imports {_label(target)} ({LAYERS[theirs][0]})"
                )
    assert not upward, "imports from a higher layer:\n  " + "\n  ".join(upward)


def test_function_level_imports_of_our_modules_say_why() -> None:
    mods, _, late = graph()
    silent = []
    for module, target, line in late:
        lines = mods[module].read_text(encoding="utf-8").splitlines()
        own, above = lines[line - 1], lines[line - 2].strip() if line >= 2 else ""
        if "#" not in own and not above.startswith("#"):
            silent.append(f"{mods[module].relative_to(ROOT.parent)}:{line} imports {_label(target)}")
    assert not silent, (
        "function-level imports of our own modules without a comment saying why they are late "
        "(move them to the top of the module; keep them late only for a heavy optional dependency):\n  "
        + "\n  ".join(silent)
    )


def test_the_checks_see_what_they_should() -> None:
    """The reader itself: relative imports, `from . import module`, TYPE_CHECKING, function level."""
    mods, edges, late = graph()
    assert "errors" in edges["dsl.parser"]  # from ..errors import SegmentError
    assert "dsl.ast" in edges["dsl.parser"]  # from . import ast as A
    assert not edges["errors"]
    cycle = find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}})
    assert cycle == ["a", "b", "c", "a"]
    assert layer_of("backends.base") < layer_of("model") < layer_of("backends.duckdb_backend")  # type: ignore[operator]
    assert layer_of("") == len(LAYERS) - 1


# --- the binder and the compiler ------------------------------------------------------------------


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of the packages a module imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_bind_knows_no_sql_and_compile_raises_no_name_or_type_errors() -> None:
    """The binder resolves names and types without SQL; the compiler lowers the typed tree without
    resolving a name or checking a type (it neither raises SegmentError nor suggests names)."""
    mods = modules()
    bind_sql = [
        _label(m) for m, p in mods.items() if m.startswith("bind") and "sqlglot" in _third_party_imports(p)
    ]
    assert not bind_sql, f"bind/ imports sqlglot: {bind_sql}"
    for module, path in mods.items():
        if not module.startswith("compile"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert not names & {"SegmentError", "did_you_mean"}, (
            f"{_label(module)} resolves names or raises errors"
        )
        calls = {  # model.step(...), entity.column(...); not D.column / exp.column, which build SQL
            n.func.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and not (isinstance(n.func.value, ast.Name) and n.func.value.id in ("D", "exp"))
        }
        assert not calls & {"step", "steps_from", "column", "all_measures"}, (
            f"{_label(module)} looks names up in the model: {sorted(calls & {'step', 'steps_from', 'column'})}"
        )
