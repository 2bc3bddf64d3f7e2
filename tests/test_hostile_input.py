"""Hostile or careless input (issue 15): every definition either works or is a SegmentError with a
line, a column and a caret; never a RecursionError, ValueError or a silently different number."""

from __future__ import annotations

import sys

import pytest

import jupyter_segments as js
from jupyter_segments.backends import open_backend
from jupyter_segments.dsl.parser import MAX_DEPTH
from jupyter_segments.errors import SegmentError, point_at

N = MAX_DEPTH


@pytest.fixture(scope="module")
def ws():
    w = js.connect_demo()
    yield w
    w.close()


def _stack(extra: int, f):
    """Run ``f`` ``extra`` frames deeper than here: a notebook kernel calls us from deep in its stack."""
    return f() if extra == 0 else _stack(extra - 1, f)


# Each at the limit: these must work (and be counted by the database), even from 250 frames down.
AT_LIMIT = {
    "parentheses": "(" * (N - 1) + "age > 30" + ")" * (N - 1),
    "not": "not " * N + "age > 30",
    "a + 1 + 1 ...": "age " + "+ 0 " * N + "> 30",
    "a * 1 * 1 ...": "age " + "* 1 " * N + "> 30",
    "minus signs": "age > " + "- " * N + "30",
    "union": " union ".join(["age > 30"] * (N + 1)),
    "functions": "age > " + "abs(" * (N // 2) + "30" + ")" * (N // 2),  # two levels each
    "repeating functions": "age > " + "ceil(floor(least(" + "30" + ", 40)))",
    "parenthesised not": "(not " * (N // 2) + "age > 30" + ")" * (N // 2),
}


def _same_as(name: str) -> str:
    """The plain condition that ``AT_LIMIT[name]`` means."""
    if name == "not":
        return "not (age > 30)" if N % 2 else "age > 30"
    if name == "parenthesised not":
        return "not (age > 30)" if (N // 2) % 2 else "age > 30"
    if name == "minus signs":
        return "age > -30" if N % 2 else "age > 30"
    return "age > 30"


@pytest.mark.parametrize("name", list(AT_LIMIT))
def test_nesting_up_to_the_limit_works(ws, name):
    text = AT_LIMIT[name]
    assert _stack(250, lambda: ws.count(text)) == ws.count(_same_as(name))
    assert _stack(250, lambda: ws.check(text)) is not None


@pytest.fixture(scope="module")
def sqlite_ws(demo_frames, tmp_path_factory):
    backend = open_backend(f"sqlite:///{tmp_path_factory.mktemp('deep') / 'shop.db'}")
    backend.write_table("customers", demo_frames["customers"])
    w = js.Workspace(backend, catalog=":memory:")
    w.customers("customers", key="customer_id")
    yield w
    w.close()


@pytest.mark.parametrize("name", list(AT_LIMIT))
def test_nesting_up_to_the_limit_works_on_sqlite(sqlite_ws, demo_frames, name):
    # SQLite's parser has a fixed stack: 64 nested NOTs or functions were 'parser stack overflow'.
    ages = demo_frames["customers"]["age"]
    truth = {"age > 30": ages > 30, "not (age > 30)": ages <= 30, "age > -30": ages > -30}
    assert sqlite_ws.count(AT_LIMIT[name]) == int(truth[_same_as(name)].sum())


# What the fuzzer found (RecursionError at modest depth) and what a generator writes.
TOO_DEEP = {
    "110 parentheses": ("(" * 110 + "age > 1" + ")" * 110, N),
    "1000 parentheses": ("(" * 1000 + "age > 1" + ")" * 1000, N),
    "163 nots": ("not " * 163 + "age > 1", 4 * N),
    "a + 1 ... 163 times": ("age " + "+ 1 " * 163 + "> 3", 4 + 4 * N),
    "164 groups joined by union": (" union ".join(["(age > 1)"] * 164), None),
    "minus signs": ("age > " + "- " * 500 + "1", 6 + 2 * N),
    "nested functions": ("age > " + "abs(" * 200 + "1" + ")" * 200, 6 + 4 * (N // 2)),
    # Their SQL repeats the argument: 10 nested were 1.6 MB of SQL and over a minute to generate.
    "nested ceil": ("age > " + "ceil(" * 10 + "1" + ")" * 10, 6 + 5 * 3),
    "nested least": ("age > " + "least(" * 10 + "age" + ", 1)" * 10, 6 + 6 * 3),
}


@pytest.mark.parametrize("name", list(TOO_DEEP))
def test_too_deep_is_a_segment_error_at_the_caret(ws, name):
    text, pos = TOO_DEEP[name]
    for call in (ws.compile, ws.count, ws.check):
        with pytest.raises(SegmentError, match=rf"nested too deeply \(limit {N} levels\)") as e:
            call(text)
        assert e.value.line == 1 and e.value.column is not None and "^" in str(e.value)
        if pos is not None:
            assert e.value.column == pos + 1, (name, e.value.column)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["duckdb", "sqlite"])
@pytest.mark.parametrize("joiner", [" and ", " or "])
def test_long_flat_chains_are_counted_by_every_stage(demo_conn, demo_frames, tmp_path, database, joiner):
    # 994 ANDed conditions were a RecursionError (compile's conjuncts); 10,000 on SQLite reached the
    # database's limit ("Expression tree is too large (maximum depth 1000)"). Each stage must take a
    # flat chain without a level per condition: parse, bind, checks, compile, SQL text, the database.
    backend = open_backend(demo_conn if database == "duckdb" else f"sqlite:///{tmp_path / 'shop.db'}")
    if database == "sqlite":
        backend.write_table("customers", demo_frames["customers"])
    w = js.Workspace(backend, catalog=":memory:")
    w.customers("customers", key="customer_id")
    ages = demo_frames["customers"]["age"]
    text = joiner.join(f"age > {i % 50}" for i in range(10_000))
    expected = int((ages > 49).sum()) if joiner == " and " else int((ages > 0).sum())
    assert _stack(250, lambda: w.count(text)) == expected
    assert w.check(text) == []
    assert "age" in w.compile(text, dialect="postgres")
    if database == "sqlite":
        backend.close()


def test_a_short_chain_stays_flat_sql(ws):
    # Only long chains are grouped (in balanced parentheses): the SQL people read stays as it was.
    sql = ws.compile(" and ".join(f"age > {i}" for i in range(10)), pretty=False)
    assert "(" not in sql.split("WHERE", 1)[1]


def test_huge_in_list_is_counted(ws):
    values = ", ".join(str(i) for i in range(20_000))
    assert ws.count(f"age in ({values})") == ws.count("age >= 0")


@pytest.mark.parametrize(
    "text, column",
    [
        ("first_name = 'a\x00b'", 16),  # inside a string: the caret on the NUL itself
        ("\"first\x00name\" = 'a'", 7),  # inside a quoted name
        ("age > 1\x00", 8),  # outside: an unexpected character
    ],
)
def test_nul_characters_are_refused_at_the_caret(ws, text, column):
    for call in (ws.compile, ws.count):
        with pytest.raises(SegmentError) as e:
            call(text)
        assert (e.value.line, e.value.column) == (1, column)


@pytest.mark.parametrize("digits", ["²", "١٢", "１２", "߁"])
def test_only_ascii_digits_are_numbers(ws, digits):
    # "²" made int() raise ValueError; "١٢" was silently read as 12.
    with pytest.raises(SegmentError) as e:
        ws.compile(f"age > {digits}")
    assert (e.value.line, e.value.column) == (1, 7)


def test_caret_stays_under_the_fault_after_tabs_and_wide_characters():
    # The caret line copies tabs and counts East Asian wide characters twice.
    _, column, excerpt = point_at("\tname = '日本' and agee > 1", 17, 21)
    source, carets = excerpt.split("\n")
    assert column == 18
    assert carets == "  \t" + " " * 18 + "^^^^"
    _, _, excerpt = point_at("x = '日本'", 4, 8)
    assert excerpt.split("\n")[1] == "      ^^^^^^"


def test_recursion_limit_untouched():
    assert sys.getrecursionlimit() <= 10_000  # we refuse deep input; we do not raise Python's limit


@pytest.mark.parametrize(
    "text, column",
    [
        ("age > 1e400", 7),  # float() made it inf: compiled as a column named inf
        ("age > " + "9" * 5000, 7),  # int() refused more than 4,300 digits with a ValueError
        ("age between 1 and -1e999", 20),
        ("signup_date in last 100000 years", 21),  # ValueError: year -97974 is out of range
        ("signup_date in last 999999999 days", 21),  # OverflowError
        ("signup_date in last 99999999999999999999999999 days", 21),
        # Found by tests/test_fuzz.py: the database's conversion error, and ValueError: year 0.
        ("signup_date < signup_date + 292221 years", 29),
        ("signup_date in year 0000", 21),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else v,
)
def test_numbers_and_spans_out_of_range_are_refused_at_the_caret(ws, text, column):
    for call in (ws.compile, ws.count, ws.check):
        with pytest.raises(SegmentError, match="out of range|at most") as e:
            call(text)
        assert (e.value.line, e.value.column) == (1, column) and "^" in str(e.value)


def test_the_longest_span_allowed_is_counted(ws):
    assert ws.count("signup_date in last 1000 years", as_of="2030-01-01") == ws.count(
        "signup_date <= date '2030-01-01'"
    )


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e400, -1e400])
def test_non_finite_parameters_are_refused(ws, value):
    # They were compiled as a column named inf (or NULL for nan: a silently different condition).
    for call in (ws.compile, ws.count):
        with pytest.raises(SegmentError, match="not a finite number") as e:
            call("age > {x}", params={"x": value})
        assert (e.value.line, e.value.column) == (1, 7)
    with pytest.raises(SegmentError, match="not a finite number"):
        ws.count("age in {xs}", params={"xs": [1, value]})


@pytest.mark.parametrize("as_of", ["0001-01-01", "0999-12-31", 20240101, 2024.5, "9999-12-31"])
def test_as_of_out_of_range_or_of_the_wrong_type_is_a_clear_message(ws, as_of):
    for text in ("signup_date in last 30 days", "signup_date in this year", "signup_date in previous month"):
        with pytest.raises(SegmentError, match="as_of"):
            ws.count(text, as_of=as_of)
