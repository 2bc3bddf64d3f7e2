"""TPC-DS shapes: CRM segments over DuckDB's TPC-DS data, compiled vs hand-written SQL (issue 22).

The data comes from DuckDB's ``tpcds`` extension (``CALL dsdgen(sf=...)``), packaged on PyPI as
``duckdb-ext-tpcds``. The extension file only loads into the DuckDB version it was built for; when the
installed package matches the running DuckDB it is loaded directly (``allow_unsigned_extensions``).
Otherwise (PyPI has the package up to DuckDB 1.4.4, none for 2.x) a matching pair
``duckdb==GEN_DUCKDB`` + ``duckdb-ext-tpcds`` is installed with pip into ``<data dir>/tpcds_gen/``
and generates the data in a subprocess; the running DuckDB then copies the tables from that file.
The database is cached as ``<data dir>/tpcds_sf<sf>.duckdb`` (``$BENCH_DATA_DIR`` or bench/results,
gitignored): sf=1 is ~100k customers, 2.9M store sales, 0.7M web sales, 1.4M catalog sales.

    python -m bench.tpcds --sf 1 --rounds 5            # every segment: members checked, then timed
    python -m bench.tpcds --sf 1 --only any_web_year --show   # print the compiled SQL too

Each segment's hand-written SQL returns its members (``c_customer_sk``); every run checks that each
variant returns exactly the compiled SQL's members before timing. Ratios: compiled / fastest
hand-written, candidates interleaved, best of ``rounds``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import duckdb

import jupyter_segments as js
from jupyter_segments.workspace import Workspace

from .data import data_dir
from .harness import duckdb_runner, geomean, time_interleaved

# The DuckDB version used to generate the data when no tpcds extension matches the running DuckDB.
GEN_DUCKDB = "1.4.4"
GEN_EXTENSION = "duckdb-ext-tpcds>=1.4.4,<1.4.5"


def db_path(sf: float) -> Path:
    return data_dir() / f"tpcds_sf{sf:g}.duckdb"


def _extension_file(version: str, platform: str, search: Path | None = None) -> Path | None:
    """The tpcds extension of the ``duckdb-ext-tpcds`` package (installed, or under ``search``)."""
    if search is not None:
        roots = [search / "duckdb_ext"]
    else:
        spec = importlib.util.find_spec("duckdb_ext")
        roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for root in roots:
        path = root / "extensions" / f"v{version}" / platform / "tpcds.duckdb_extension"
        if path.exists():
            return path
    return None


_GENERATE = textwrap.dedent(
    """
    import sys, duckdb
    path, extension, sf = sys.argv[1], sys.argv[2], float(sys.argv[3])
    conn = duckdb.connect(path, config={"allow_unsigned_extensions": "true"})
    conn.execute(f"LOAD '{extension}'")
    conn.execute(f"CALL dsdgen(sf={sf})")
    conn.close()
    """
)


def ensure_tpcds(sf: float = 1) -> Path:
    """The cached TPC-DS database at scale ``sf`` (generated on first use: sf=1 ~1-2 min)."""
    path = db_path(sf)
    done = path.with_suffix(".ok")  # written last: a killed generation is not mistaken for a cache
    if path.exists() and done.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    probe = duckdb.connect()
    platform = probe.execute("PRAGMA platform").fetchone()[0]  # type: ignore[index]
    probe.close()
    extension = _extension_file(duckdb.__version__, platform)
    if extension is not None:
        conn = duckdb.connect(str(path), config={"allow_unsigned_extensions": "true"})
        conn.execute(f"LOAD '{extension}'")
        conn.execute(f"CALL dsdgen(sf={sf})")
        conn.close()
    else:
        _generate_with_older_duckdb(sf, path, platform)
    done.write_text(f"sf={sf} duckdb={duckdb.__version__}\n")
    return path


def gen_site() -> Path:
    """Where the generating DuckDB and its tpcds extension are installed: ``$BENCH_TPCDS_GEN``, or
    ``tpcds_gen`` in the data directory."""
    return Path(os.environ.get("BENCH_TPCDS_GEN") or data_dir() / "tpcds_gen")


def can_generate() -> bool:
    """Whether data can be generated without installing anything (the smoke test asks)."""
    probe = duckdb.connect()
    platform = probe.execute("PRAGMA platform").fetchone()[0]  # type: ignore[index]
    probe.close()
    return bool(
        _extension_file(duckdb.__version__, platform) or _extension_file(GEN_DUCKDB, platform, gen_site())
    )


def _generate_with_older_duckdb(sf: float, path: Path, platform: str) -> None:
    site = gen_site()
    extension = _extension_file(GEN_DUCKDB, platform, site)
    if extension is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-cache-dir", "--target", str(site)]
            + [f"duckdb=={GEN_DUCKDB}", GEN_EXTENSION],
            check=True,
        )
        extension = _extension_file(GEN_DUCKDB, platform, site)
        assert extension is not None, f"no tpcds extension for DuckDB {GEN_DUCKDB} in {site}"
    staged = path.with_suffix(".gen.duckdb")
    staged.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    subprocess.run(
        [sys.executable, "-c", _GENERATE, str(staged), str(extension), str(sf)], check=True, env=env
    )
    conn = duckdb.connect(str(path))
    conn.execute(f"ATTACH '{staged}' AS gen (READ_ONLY)")
    tables = [
        r[0]
        for r in conn.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'gen'").fetchall()
    ]
    for table in tables:
        conn.execute(f'CREATE TABLE main."{table}" AS SELECT * FROM gen.main."{table}"')
    conn.execute("DETACH gen")
    conn.close()
    staged.unlink()


# --- the model --------------------------------------------------------------------------------------
# (child, parent, child column, parent column, name, parent_name): role names where a table links twice.
RELATIONSHIPS = [
    ("store_sales", "customer", "ss_customer_sk", "c_customer_sk", None, None),
    ("web_sales", "customer", "ws_bill_customer_sk", "c_customer_sk", None, None),
    ("web_sales", "customer", "ws_ship_customer_sk", "c_customer_sk", "web_shipments", "ship_customer"),
    ("catalog_sales", "customer", "cs_bill_customer_sk", "c_customer_sk", None, None),
    (
        "catalog_sales",
        "customer",
        "cs_ship_customer_sk",
        "c_customer_sk",
        "catalog_shipments",
        "ship_customer",
    ),
    ("store_returns", "customer", "sr_customer_sk", "c_customer_sk", None, None),
    ("store_sales", "date_dim", "ss_sold_date_sk", "d_date_sk", None, None),
    ("web_sales", "date_dim", "ws_sold_date_sk", "d_date_sk", None, None),
    ("web_sales", "date_dim", "ws_ship_date_sk", "d_date_sk", "web_ships", "ship_date"),
    ("catalog_sales", "date_dim", "cs_sold_date_sk", "d_date_sk", None, None),
    ("store_returns", "date_dim", "sr_returned_date_sk", "d_date_sk", None, None),
    ("store_sales", "item", "ss_item_sk", "i_item_sk", None, None),
    ("web_sales", "item", "ws_item_sk", "i_item_sk", None, None),
    ("catalog_sales", "item", "cs_item_sk", "i_item_sk", None, None),
    ("store_sales", "store", "ss_store_sk", "s_store_sk", None, None),
    ("customer", "customer_address", "c_current_addr_sk", "ca_address_sk", None, None),
]


def workspace(target: str | duckdb.DuckDBPyConnection) -> Workspace:
    """A workspace over the TPC-DS tables: customer is the customer entity; every link declared with
    ``assume_integrity`` (dsdgen makes no orphans: ``tests/test_bench_tpcds.py`` checks it)."""
    ws = js.connect(target, catalog=":memory:")
    ws.model.set_customer("customer", "c_customer_sk")
    for child, parent, child_col, parent_col, name, parent_name in RELATIONSHIPS:
        ws.relate(
            child, parent, (child_col, parent_col), assume_integrity=True, name=name, parent_name=parent_name
        )
    return ws


# --- the segments -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    name: str
    shape: str  # which of issue 22's shapes it exercises: any, to_one, channels, or control
    dsl: str
    sql: tuple[str, ...]


SEGMENTS: list[Segment] = [
    # (a) any(): a semi-join beside customer conditions, or alone
    Segment(
        "any_store_music_old",
        "any",
        "c_birth_year < 1950 and any(store_sales where item.i_category = 'Music' and ss_quantity >= 90)",
        (
            "SELECT c_customer_sk FROM customer WHERE c_birth_year < 1950 AND c_customer_sk IN "
            "(SELECT ss_customer_sk FROM store_sales JOIN item ON i_item_sk = ss_item_sk "
            "WHERE i_category = 'Music' AND ss_quantity >= 90)",
        ),
    ),
    Segment(
        "any_web_year_preferred",
        "any",
        "c_preferred_cust_flag = 'Y' and any(web_sales where date_dim.d_year = 2002 and ws_net_paid > 1000)",
        (
            "SELECT c_customer_sk FROM customer WHERE c_preferred_cust_flag = 'Y' AND c_customer_sk IN "
            "(SELECT ws_bill_customer_sk FROM web_sales JOIN date_dim ON d_date_sk = ws_sold_date_sk "
            "WHERE d_year = 2002 AND ws_net_paid > 1000)",
        ),
    ),
    Segment(
        "any_catalog_big",
        "any",
        "any(catalog_sales where cs_net_paid > 10000)",
        (
            "SELECT DISTINCT cs_bill_customer_sk FROM catalog_sales "
            "WHERE cs_net_paid > 10000 AND cs_bill_customer_sk IS NOT NULL",
            "SELECT c_customer_sk FROM customer WHERE c_customer_sk IN "
            "(SELECT cs_bill_customer_sk FROM catalog_sales WHERE cs_net_paid > 10000)",
        ),
    ),
    Segment(
        "any_web_and_catalog",
        "any",
        "any(web_sales where ws_quantity >= 95) and any(catalog_sales where cs_quantity >= 95)",
        (
            "SELECT c_customer_sk FROM customer WHERE c_customer_sk IN "
            "(SELECT ws_bill_customer_sk FROM web_sales WHERE ws_quantity >= 95) AND c_customer_sk IN "
            "(SELECT cs_bill_customer_sk FROM catalog_sales WHERE cs_quantity >= 95)",
        ),
    ),
    Segment(
        "not_any_returns",
        "control",
        "c_birth_year < 1940 and not any(store_returns where sr_return_amt > 100)",
        (
            "SELECT c_customer_sk FROM customer WHERE c_birth_year < 1940 AND NOT EXISTS "
            "(SELECT 1 FROM store_returns WHERE sr_customer_sk = c_customer_sk AND sr_return_amt > 100)",
        ),
    ),
    # (b) aggregates through a to-one step
    Segment(
        "min_web_date",
        "to_one",
        "min(web_sales.date_dim.d_date) >= '2002-06-01'",
        (
            "SELECT ws_bill_customer_sk FROM web_sales JOIN date_dim ON d_date_sk = ws_sold_date_sk "
            "WHERE ws_bill_customer_sk IS NOT NULL GROUP BY ws_bill_customer_sk "
            "HAVING MIN(d_date) >= DATE '2002-06-01'",
        ),
    ),
    Segment(
        "distinct_store_years",
        "to_one",
        "count_distinct(store_sales.date_dim.d_year) >= 5",
        (
            "SELECT ss_customer_sk FROM store_sales JOIN date_dim ON d_date_sk = ss_sold_date_sk "
            "WHERE ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk HAVING COUNT(DISTINCT d_year) >= 5",
        ),
    ),
    Segment(
        "distinct_catalog_brands",
        "to_one",
        "count_distinct(catalog_sales.item.i_brand) >= 25",
        (
            "SELECT cs_bill_customer_sk FROM catalog_sales JOIN item ON i_item_sk = cs_item_sk "
            "WHERE cs_bill_customer_sk IS NOT NULL GROUP BY cs_bill_customer_sk "
            "HAVING COUNT(DISTINCT i_brand) >= 25",
        ),
    ),
    Segment(
        "avg_store_price",
        "to_one",
        "avg(store_sales.item.i_current_price) > 4",
        (
            "SELECT ss_customer_sk FROM store_sales JOIN item ON i_item_sk = ss_item_sk "
            "WHERE ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk HAVING AVG(i_current_price) > 4",
        ),
    ),
    Segment(
        "last_store_date_and_count",
        "control",
        "max(store_sales.date_dim.d_date) < '2002-09-01' and count(store_sales) >= 40",
        (
            "SELECT ss_customer_sk FROM store_sales LEFT JOIN date_dim ON d_date_sk = ss_sold_date_sk "
            "WHERE ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk "
            "HAVING MAX(d_date) < DATE '2002-09-01' AND COUNT(*) >= 40",
        ),
    ),
    # more CRM segments of the same kinds
    Segment(
        "count_store_2001",
        "to_one",
        "count(store_sales where date_dim.d_year = 2001) >= 20",
        (
            "SELECT ss_customer_sk FROM store_sales JOIN date_dim ON d_date_sk = ss_sold_date_sk "
            "WHERE d_year = 2001 AND ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk HAVING COUNT(*) >= 20",
        ),
    ),
    Segment(
        "web_spend_2002",
        "to_one",
        "sum(web_sales.ws_net_paid where date_dim.d_year = 2002) > 5000",
        (
            "SELECT ws_bill_customer_sk FROM web_sales JOIN date_dim ON d_date_sk = ws_sold_date_sk "
            "WHERE d_year = 2002 AND ws_bill_customer_sk IS NOT NULL GROUP BY ws_bill_customer_sk "
            "HAVING SUM(ws_net_paid) > 5000",
        ),
    ),
    Segment(
        "store_visits",
        "control",
        "count_distinct(store_sales.ss_ticket_number) >= 5",
        (
            "SELECT ss_customer_sk FROM store_sales WHERE ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk "
            "HAVING COUNT(DISTINCT ss_ticket_number) >= 5",
        ),
    ),
    Segment(
        "returns_and_store_count",
        "any",
        "any(store_returns where sr_return_amt > 500) and count(store_sales) >= 30",
        (
            "SELECT ss_customer_sk FROM store_sales WHERE ss_customer_sk IN "
            "(SELECT sr_customer_sk FROM store_returns WHERE sr_return_amt > 500) "
            "GROUP BY ss_customer_sk HAVING COUNT(*) >= 30",
        ),
    ),
    Segment(
        "catalog_not_web",
        "any",
        "none(web_sales) and any(catalog_sales where cs_net_paid > 5000)",
        (
            "SELECT cs_bill_customer_sk FROM catalog_sales WHERE cs_net_paid > 5000 "
            "AND cs_bill_customer_sk IS NOT NULL "
            "EXCEPT SELECT ws_bill_customer_sk FROM web_sales",
        ),
    ),
    Segment(
        "texas_store_spend",
        "control",
        "customer_address.ca_state = 'TX' and sum(store_sales.ss_net_paid) > 20000",
        (
            "SELECT c_customer_sk FROM customer JOIN customer_address ON ca_address_sk = c_current_addr_sk "
            "JOIN (SELECT ss_customer_sk, SUM(ss_net_paid) AS s FROM store_sales GROUP BY ss_customer_sk) t "
            "ON t.ss_customer_sk = c_customer_sk WHERE ca_state = 'TX' AND t.s > 20000",
        ),
    ),
    Segment(
        "lapsed_catalog",
        "to_one",
        "max(catalog_sales.date_dim.d_date) < '2001-01-01'",
        (
            "SELECT cs_bill_customer_sk FROM catalog_sales JOIN date_dim ON d_date_sk = cs_sold_date_sk "
            "WHERE cs_bill_customer_sk IS NOT NULL GROUP BY cs_bill_customer_sk "
            "HAVING MAX(d_date) < DATE '2001-01-01'",
        ),
    ),
    Segment(
        "web_avg_and_count",
        "control",
        "avg(web_sales.ws_net_paid) > 400 and count(web_sales) >= 5",
        (
            "SELECT ws_bill_customer_sk FROM web_sales WHERE ws_bill_customer_sk IS NOT NULL "
            "GROUP BY ws_bill_customer_sk HAVING AVG(ws_net_paid) > 400 AND COUNT(*) >= 5",
        ),
    ),
    Segment(
        "jewelry_buyers",
        "control",
        "count(store_sales where item.i_category = 'Jewelry') >= 5",
        (
            "SELECT ss_customer_sk FROM store_sales JOIN item ON i_item_sk = ss_item_sk "
            "WHERE i_category = 'Jewelry' AND ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk "
            "HAVING COUNT(*) >= 5",
        ),
    ),
    Segment(
        "germans_online",
        "any",
        "c_birth_country = 'GERMANY' and (any(web_sales) or any(catalog_sales))",
        (
            "SELECT c_customer_sk FROM customer WHERE c_birth_country = 'GERMANY' AND c_customer_sk IN "
            "(SELECT ws_bill_customer_sk FROM web_sales UNION SELECT cs_bill_customer_sk FROM catalog_sales)",
        ),
    ),
    Segment(
        "web_categories",
        "to_one",
        "count_distinct(web_sales.item.i_category) >= 8",
        (
            "SELECT ws_bill_customer_sk FROM web_sales JOIN item ON i_item_sk = ws_item_sk "
            "WHERE ws_bill_customer_sk IS NOT NULL GROUP BY ws_bill_customer_sk "
            "HAVING COUNT(DISTINCT i_category) >= 8",
        ),
    ),
    Segment(
        "young_two_channels",
        "channels",
        "c_birth_year >= 1980 and sum(store_sales.ss_net_paid) + sum(web_sales.ws_net_paid) > 30000",
        (
            "SELECT c_customer_sk FROM customer JOIN (SELECT k, SUM(v) AS s FROM ("
            "SELECT ss_customer_sk AS k, ss_net_paid AS v FROM store_sales UNION ALL "
            "SELECT ws_bill_customer_sk, ws_net_paid FROM web_sales) u GROUP BY k) t ON t.k = c_customer_sk "
            "WHERE c_birth_year >= 1980 AND t.s > 30000",
        ),
    ),
    # (c) one sum per channel, added
    Segment(
        "three_channels",
        "channels",
        "sum(store_sales.ss_net_paid) + sum(web_sales.ws_net_paid) + sum(catalog_sales.cs_net_paid) > 40000",
        (
            "SELECT k FROM (SELECT ss_customer_sk AS k, ss_net_paid AS v FROM store_sales UNION ALL "
            "SELECT ws_bill_customer_sk, ws_net_paid FROM web_sales UNION ALL "
            "SELECT cs_bill_customer_sk, cs_net_paid FROM catalog_sales) s "
            "WHERE k IS NOT NULL GROUP BY k HAVING SUM(v) > 40000",
        ),
    ),
]


def compiled_sql(ws: Workspace, seg: Segment) -> str:
    return ws.query(seg.dsl, shape="keys").sql(dialect="duckdb")


def run(
    sf: float,
    rounds: int,
    only: list[str] | None = None,
    show: bool = False,
    against: dict[str, str] | None = None,
) -> dict[str, float]:
    """Check and time every segment; print and return compiled / fastest hand-written per segment.

    ``against``: other compiled SQL per segment (e.g. an earlier commit's, written with ``--dump``),
    checked and timed in the same rounds and printed as its own ratio to the hand-written SQL."""
    conn = duckdb.connect(str(ensure_tpcds(sf)), read_only=True)
    ws = workspace(conn)
    run_sql = duckdb_runner(conn)
    ratios: dict[str, float] = {}
    for seg in SEGMENTS:
        if only and seg.name not in only:
            continue
        sql = compiled_sql(ws, seg)
        if show:
            print(sql)
        members = sorted(r[0] for r in conn.execute(sql).fetchall())
        for i, hand in enumerate(seg.sql):
            theirs = sorted(r[0] for r in conn.execute(hand).fetchall())
            if theirs != members:
                raise AssertionError(
                    f"{seg.name}: hand-written {i} returns {len(theirs)} keys, compiled {len(members)}"
                )
        other = (against or {}).get(seg.name)
        if other is not None and sorted(r[0] for r in conn.execute(other).fetchall()) != members:
            raise AssertionError(f"{seg.name}: the --against SQL returns other members")
        candidates = {"compiled": lambda s=sql: run_sql(s)}
        candidates.update({f"hand{i}": (lambda s=h: run_sql(s)) for i, h in enumerate(seg.sql)})
        if other is not None and other != sql:
            candidates["against"] = lambda s=other: run_sql(s)
        run_sql(sql)  # warm-up
        timings = time_interleaved(candidates, rounds)
        hand = min(t.best for n, t in timings.items() if n.startswith("hand"))
        ratios[seg.name] = timings["compiled"].best / hand
        was = f"  against {timings['against'].best / hand:.2f}" if "against" in timings else ""
        print(
            f"{seg.name:28s} {seg.shape:9s} members {len(members):6d}  compiled {timings['compiled'].best * 1000:7.1f} ms"
            f"  hand {hand * 1000:7.1f} ms  ratio {ratios[seg.name]:.2f}{was}",
            flush=True,
        )
    print(f"geomean {geomean(list(ratios.values())):.2f} over {len(ratios)} segments")
    return ratios


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sf", type=float, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated segment names")
    parser.add_argument("--show", action="store_true", help="print the compiled SQL")
    parser.add_argument("--dump", help="write the compiled SQL per segment to this JSON file and stop")
    parser.add_argument("--against", help="a --dump file: time that SQL too (e.g. the previous commit's)")
    args = parser.parse_args()
    if args.dump:
        conn = duckdb.connect(str(ensure_tpcds(args.sf)), read_only=True)
        ws = workspace(conn)
        Path(args.dump).write_text(json.dumps({s.name: compiled_sql(ws, s) for s in SEGMENTS}, indent=1))
        sys.exit(0)
    against = json.loads(Path(args.against).read_text()) if args.against else None
    run(args.sf, args.rounds, [s for s in args.only.split(",") if s] or None, args.show, against)
