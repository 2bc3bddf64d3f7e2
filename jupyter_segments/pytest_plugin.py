"""A pytest plugin for expectations about segments, registered through the ``pytest11`` entry point.

In a test::

    def test_vip(assert_segment):
        assert_segment("vip", count_between=(1000, 5000), includes=[42], excludes=[7], as_of="2025-06-30")

Fixtures:

- ``segments_workspace`` (session): the Workspace the expectations run on. Set in ``pytest.ini`` /
  ``pyproject.toml`` (``[tool.pytest.ini_options]``) or on the command line:

  ``segments_db`` / ``--segments-db``: a database URL, or ``demo`` (the generated demo;
  ``demo?customers=2000&seed=7&anchor=2025-06-30``), the default;
  ``segments_catalog`` / ``--segments-catalog``: the catalog (default: in memory for the demo,
  ``.segments/catalog.sqlite`` otherwise);
  ``segments_dir`` / ``--segments-dir``: a folder of ``.segment`` files synced into that catalog first
  (with an in-memory catalog, the files are what is tested; nothing of yours is written);
  ``segments_customers`` and ``segments_key``: the customer table and key when the catalog has none.

  A conftest.py may override the fixture to build its own Workspace.
- ``assert_segment(segment, ...)``: ``expect_segment`` on ``segments_workspace``.

``expect_segment(ws, segment, count=, count_between=, includes=, excludes=, as_of=)`` evaluates a saved
segment (or a definition) in the database, one count and one query for the listed customers, and fails
with what was expected, what was found and, for a customer on the wrong side, why (``ws.explain``).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import code_files
from .backends.base import plain_rows, plain_value
from .catalog import open_catalog
from .dsl import ast as A
from .errors import SegmentError, plural
from .intelligence.features import key_list_condition
from .workspace import Workspace, connect, connect_demo

EXPLAINED = 3  # customers on the wrong side explained in a failure message
_OPTIONS = {
    "segments_db": "database URL, or demo[?customers=N&seed=S&anchor=YYYY-MM-DD] (default: demo)",
    "segments_catalog": "catalog path or URL (default: in memory for the demo, .segments/catalog.sqlite otherwise)",
    "segments_dir": "a folder of .segment files synced into the catalog before the tests",
    "segments_customers": "the customer table, when the catalog has none saved",
    "segments_key": "the customer key column (with segments_customers)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "jupyter-segments", "expectations about segments (jupyter_segments.pytest_plugin)"
    )
    for name, help_text in _OPTIONS.items():
        group.addoption("--" + name.replace("_", "-"), dest=name, default=None, help=help_text)
        parser.addini(name, help_text, default=None)


def _setting(config: pytest.Config, name: str) -> str | None:
    return config.getoption(name) or config.getini(name) or None


@pytest.fixture(scope="session")
def segments_workspace(pytestconfig: pytest.Config) -> Iterator[Workspace]:
    """The Workspace ``assert_segment`` runs on (see the module's docstring for its settings)."""
    db = _setting(pytestconfig, "segments_db") or "demo"
    catalog = _setting(pytestconfig, "segments_catalog")
    root = Path(pytestconfig.rootpath)
    try:
        ws = _open(db, catalog, root)
        customers = _setting(pytestconfig, "segments_customers")
        if customers:
            ws.customers(customers, key=_setting(pytestconfig, "segments_key") or "id")
        _ = ws.catalog  # restores the customer table and relationships saved with the segments
        if ws.model.customer is None:
            raise SegmentError(
                "segments_workspace: the catalog has no customer table saved: set segments_customers "
                "and segments_key"
            )
        folder = _setting(pytestconfig, "segments_dir")
        if folder:
            report = code_files.sync(ws, root / folder)
            if not report.ok:
                raise SegmentError(f"segments_workspace: the files in {folder} do not sync:\n{report}")
    except SegmentError as e:
        pytest.fail(str(e), pytrace=False)
    yield ws
    ws.close()


def _open(db: str, catalog: str | None, root: Path) -> Workspace:
    if db == "demo" or db.startswith("demo?"):
        query = dict(urllib.parse.parse_qsl(db.partition("?")[2]))
        unknown = set(query) - {"customers", "seed", "anchor"}
        if unknown:
            raise SegmentError(
                f"segments_db: unknown demo setting {sorted(unknown)[0]!r} (customers, seed, anchor)"
            )
        try:
            anchor = dt.date.fromisoformat(query["anchor"]) if "anchor" in query else None
            size, seed = int(query.get("customers", 10_000)), int(query.get("seed", 42))
        except ValueError as e:
            raise SegmentError(f"segments_db: {db!r}: {e}") from None
        return connect_demo(size, seed=seed, anchor=anchor, catalog=_catalog(catalog, root) or ":memory:")
    return connect(db, catalog=_catalog(catalog, root))


def _catalog(catalog: str | None, root: Path) -> Any:
    if catalog is None or catalog == ":memory:" or "://" in catalog:
        return catalog
    return open_catalog(str(root / catalog))


@pytest.fixture
def assert_segment(segments_workspace: Workspace) -> Callable[..., None]:
    """``assert_segment("vip", count_between=(1000, 5000), includes=[42], excludes=[7], as_of=...)``."""

    def check(segment: str, **expectations: Any) -> None:
        __tracebackhide__ = True
        expect_segment(segments_workspace, segment, **expectations)

    return check


def expect_segment(
    ws: Workspace,
    segment: str,
    *,
    count: int | None = None,
    count_between: tuple[int, int] | None = None,
    includes: Iterable[Any] = (),
    excludes: Iterable[Any] = (),
    as_of: Any = None,
) -> None:
    """Fail (``AssertionError``) unless saved segment (or definition) ``segment`` has ``count`` members
    or between ``count_between`` (both ends included), and the customers ``includes`` are members and
    ``excludes`` are not, evaluated now in the database (``as_of`` fixes relative windows).

    >>> expect_segment(ws, "vip", count_between=(1000, 5000), includes=[42], excludes=[7])
    """
    __tracebackhide__ = True
    includes, excludes = list(includes), list(excludes)
    if count_between is not None and (len(count_between) != 2 or count_between[0] > count_between[1]):
        raise SegmentError(f"count_between takes (low, high) with low <= high, not {count_between!r}")
    text = _definition(ws, segment)
    label = f"segment '{segment}'" if text != segment else f"definition {segment!r}"
    when = f" as of {as_of}" if as_of is not None else ""
    problems: list[str] = []
    members = ws.count(text, as_of=as_of)
    if count is not None and members != count:
        problems.append(f"has {plural(members, 'member')}, expected exactly {count:,}")
    if count_between is not None and not count_between[0] <= members <= count_between[1]:
        low, high = count_between
        side = "fewer" if members < low else "more"
        problems.append(
            f"has {plural(members, 'member')}, expected between {low:,} and {high:,} "
            f"({abs(members - (low if members < low else high)):,} {side})"
        )
    if includes or excludes:
        keys = list(ws.model.customer_entity().keys)
        found = _members_among(ws, text, keys, [_key_row(keys, k) for k in [*includes, *excludes]], as_of)
        wrong = [(k, "is not a member (expected in)") for k in includes if _key_row(keys, k) not in found]
        wrong += [(k, "is a member (expected out)") for k in excludes if _key_row(keys, k) in found]
        for i, (key, what) in enumerate(wrong):
            line = f"customer {key!r} {what}"
            if i < EXPLAINED:
                try:
                    why = ws.explain(text, key, as_of=as_of, records=False)
                    line += "\n" + "\n".join("    " + x for x in str(why).splitlines()[1:])
                except SegmentError as e:  # no such customer, say so
                    line += f" ({e.reason})"
            problems.append(line)
    if problems:
        raise AssertionError(f"{label}{when}:\n  " + "\n  ".join(problems))


def _definition(ws: Workspace, segment: str) -> str:
    """The text to evaluate: a saved segment (a static one through ``in segment``) or a definition."""
    catalog = ws.catalog_or_none
    if catalog is not None and segment.strip().isidentifier() and catalog.has_segment(segment.strip()):
        row = catalog.segment_row(segment.strip())
        return row["definition"] if row["type"] != "static" else f"in segment {segment.strip()}"
    return segment


def _key_row(keys: list[str], customer: Any) -> tuple:
    """A customer as given in includes/excludes (a key value; for a composite key a tuple in key order
    or a {column: value} dict) as the tuple of its key values."""
    if len(keys) == 1:
        return (plain_value(customer),)
    if isinstance(customer, dict) and set(customer) == set(keys):
        return tuple(plain_value(customer[k]) for k in keys)
    if isinstance(customer, (tuple, list)) and len(customer) == len(keys):
        return tuple(plain_value(v) for v in customer)
    raise SegmentError(
        f"the customer key is ({', '.join(keys)}): give {customer!r} as a tuple of {len(keys)} values "
        f"in that order or a dict of them"
    )


def _members_among(ws: Workspace, text: str, keys: list[str], rows: list[tuple], as_of: Any) -> set[tuple]:
    """Which of the key ``rows`` are members: one query (the definition AND key IN (...); a composite
    key: (a = .. AND b IN (..)) OR ...)."""
    tree = ws.parse(text)
    listed = key_list_condition(keys, rows)
    condition: A.Expr = (
        A.SetOp("intersect", tree.condition, listed)
        if isinstance(tree.condition, A.SetOp)
        else A.And((tree.condition, listed))
    )
    return set(plain_rows(ws.member_keys(A.Definition(condition), as_of=as_of)))
