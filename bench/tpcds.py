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
    python -m bench.tpcds --databases postgres         # PostgreSQL only (loaded once, see ensure_pg)
    python -m bench --figures 9 --tpcds-sf 1           # figure 9: both databases, into bench/results

Each segment's hand-written SQL returns its members (``c_customer_sk``); every run checks that each
variant returns exactly the compiled SQL's members before timing. Ratios: compiled / fastest
hand-written, candidates interleaved, best of ``rounds``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

import jupyter_segments as js
from jupyter_segments.workspace import Workspace

from .data import data_dir
from .harness import duckdb_runner, geomean, postgres_runner, time_interleaved

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


# --- the PostgreSQL copy ------------------------------------------------------------------------------
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
# The tables the model uses, with TPC-DS's primary keys.
PRIMARY_KEYS = {
    "customer": ("c_customer_sk",),
    "customer_address": ("ca_address_sk",),
    "date_dim": ("d_date_sk",),
    "item": ("i_item_sk",),
    "store": ("s_store_sk",),
    "store_sales": ("ss_item_sk", "ss_ticket_number"),
    "web_sales": ("ws_item_sk", "ws_order_number"),
    "catalog_sales": ("cs_item_sk", "cs_order_number"),
    "store_returns": ("sr_item_sk", "sr_ticket_number"),
}


def pg_name(sf: float) -> str:
    return "segments_bench_tpcds_sf" + f"{sf:g}".replace(".", "_")


def pg_url(sf: float) -> str:
    return f"{PG_SERVER}/{pg_name(sf)}"


def ensure_pg(sf: float = 1) -> str:
    """A PostgreSQL database with the model's TPC-DS tables at scale ``sf``, as a DBA would keep them:
    primary keys, an index on every foreign-key column the model joins on (unless a primary key leads
    with it), ANALYZEd. Loaded once with COPY from CSV that DuckDB writes (sf=1: ~2 min); the table
    ``bench_loaded`` is created last and marks a complete load. Returns the URL (psycopg form)."""
    import psycopg  # only this figure needs PostgreSQL

    name, url = pg_name(sf), pg_url(sf)
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')  # name is ours: segments_bench_tpcds_sf<sf>
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('public.bench_loaded')").fetchone()[0] is not None:  # type: ignore[index]
            return url
    source = duckdb.connect(str(ensure_tpcds(sf)), read_only=True)
    stage = data_dir() / f"tpcds_sf{sf:g}_csv"
    stage.mkdir(parents=True, exist_ok=True)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for table in PRIMARY_KEYS:
                cols = source.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                types = {"VARCHAR": "text", "DOUBLE": "double precision"}
                ddl = ", ".join(f"{c} {types.get(t, t)}" for c, t in cols)
                conn.execute(f"DROP TABLE IF EXISTS {table}")
                conn.execute(f"CREATE TABLE {table} ({ddl})")
                csv = stage / f"{table}.csv"
                source.execute(f"COPY {table} TO '{csv}' (FORMAT csv, HEADER false)")
                with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                    with csv.open("rb") as f:
                        while block := f.read(1 << 20):
                            copy.write(block)
                csv.unlink()
            for table, key in PRIMARY_KEYS.items():
                conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(key)})")
            for child, _parent, col, *_ in RELATIONSHIPS:
                if PRIMARY_KEYS[child][0] != col:
                    conn.execute(f"CREATE INDEX IF NOT EXISTS {child}_{col}_idx ON {child} ({col})")
            conn.execute("ANALYZE")
            conn.execute("CREATE TABLE bench_loaded (sf double precision)")
    finally:
        source.close()
        if stage.exists() and not any(stage.iterdir()):
            stage.rmdir()
    return url


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
    shape: str  # issue 22's shape it exercises: any, to_one, channels; or ranking, percentile, control
    dsl: str
    sql: tuple[str, ...]  # hand-written SQL, each returning the members; runs on DuckDB and PostgreSQL
    postgres: tuple[str, ...] = ()  # PostgreSQL's own hand-written SQL, where it needs another form

    def hand(self, database: str) -> tuple[str, ...]:
        return (self.postgres or self.sql) if database == "postgres" else self.sql


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
            # PostgreSQL: per German customer, the indexes on the two foreign keys
            "SELECT c_customer_sk FROM customer WHERE c_birth_country = 'GERMANY' AND (EXISTS "
            "(SELECT 1 FROM web_sales WHERE ws_bill_customer_sk = c_customer_sk) OR EXISTS "
            "(SELECT 1 FROM catalog_sales WHERE cs_bill_customer_sk = c_customer_sk))",
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
    # issue 22's kinds once more: ranking, percentiles, dates and returns, role names, ratios
    Segment(
        "top_web_spenders",
        "ranking",
        "top 100 by sum(web_sales.ws_net_paid)",
        (
            "SELECT k FROM (SELECT ws_bill_customer_sk AS k, SUM(ws_net_paid) AS s FROM web_sales "
            "WHERE ws_bill_customer_sk IS NOT NULL GROUP BY ws_bill_customer_sk) t "
            "ORDER BY s DESC, k LIMIT 100",  # right while 100 customers spent more than 0 (checked)
        ),
    ),
    Segment(
        "top_texas_catalog",
        "ranking",
        "top 5% by sum(catalog_sales.cs_net_paid) among customer_address.ca_state = 'TX'",
        (
            "SELECT k FROM (SELECT k, ROW_NUMBER() OVER (ORDER BY s DESC, k) AS rn, COUNT(*) OVER () AS n "
            "FROM (SELECT c_customer_sk AS k, COALESCE(t.s, 0) AS s FROM customer "
            "JOIN customer_address ON ca_address_sk = c_current_addr_sk "
            "LEFT JOIN (SELECT cs_bill_customer_sk AS k, SUM(cs_net_paid) AS s FROM catalog_sales "
            "GROUP BY cs_bill_customer_sk) t ON t.k = c_customer_sk WHERE ca_state = 'TX') v) r "
            "WHERE rn <= CEIL(0.05 * n)",
        ),
    ),
    Segment(
        "median_store_paid",
        "percentile",
        "median(store_sales.ss_net_paid) > 1500",
        (
            "SELECT ss_customer_sk FROM store_sales WHERE ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk "
            "HAVING PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY ss_net_paid) > 1500",
        ),
    ),
    Segment(
        "p90_web_paid",
        "percentile",
        "percentile(web_sales.ws_net_paid, 0.9) > 9000",
        (
            "SELECT ws_bill_customer_sk FROM web_sales WHERE ws_bill_customer_sk IS NOT NULL "
            "GROUP BY ws_bill_customer_sk HAVING PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY ws_net_paid) > 9000",
        ),
    ),
    Segment(
        "lapsed_store_2002",
        "any",
        "any(store_sales where date_dim.d_year = 2001) and none(store_sales where date_dim.d_year = 2002)",
        (
            "SELECT ss_customer_sk FROM store_sales JOIN date_dim ON d_date_sk = ss_sold_date_sk "
            "WHERE d_year = 2001 AND ss_customer_sk IS NOT NULL EXCEPT "
            "SELECT ss_customer_sk FROM store_sales JOIN date_dim ON d_date_sk = ss_sold_date_sk WHERE d_year = 2002",
            "SELECT c_customer_sk FROM customer WHERE c_customer_sk IN (SELECT ss_customer_sk FROM store_sales "
            "JOIN date_dim ON d_date_sk = ss_sold_date_sk WHERE d_year = 2001) AND NOT EXISTS (SELECT 1 "
            "FROM store_sales JOIN date_dim ON d_date_sk = ss_sold_date_sk "
            "WHERE ss_customer_sk = c_customer_sk AND d_year = 2002)",
        ),
    ),
    Segment(
        "december_returns",
        "to_one",
        "count(store_returns where date_dim.d_moy = 12) >= 3",
        (
            "SELECT sr_customer_sk FROM store_returns JOIN date_dim ON d_date_sk = sr_returned_date_sk "
            "WHERE d_moy = 12 AND sr_customer_sk IS NOT NULL GROUP BY sr_customer_sk HAVING COUNT(*) >= 3",
        ),
    ),
    Segment(
        "weekend_store_shoppers",
        "to_one",
        "count(store_sales where date_dim.d_weekend = 'Y') >= 30",
        (
            "SELECT ss_customer_sk FROM store_sales JOIN date_dim ON d_date_sk = ss_sold_date_sk "
            "WHERE d_weekend = 'Y' AND ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk HAVING COUNT(*) >= 30",
        ),
    ),
    Segment(
        "shipped_next_year",
        "to_one",
        "count(web_sales where ship_date.d_year > date_dim.d_year) >= 15",
        (
            "SELECT ws_bill_customer_sk FROM web_sales JOIN date_dim s ON s.d_date_sk = ws_sold_date_sk "
            "JOIN date_dim p ON p.d_date_sk = ws_ship_date_sk WHERE p.d_year > s.d_year "
            "AND ws_bill_customer_sk IS NOT NULL GROUP BY ws_bill_customer_sk HAVING COUNT(*) >= 15",
        ),
    ),
    Segment(
        "gift_recipients",
        "any",
        "any(web_shipments where ws_bill_customer_sk <> ws_ship_customer_sk and ws_net_paid > 2000)",
        (
            "SELECT DISTINCT ws_ship_customer_sk FROM web_sales WHERE ws_bill_customer_sk <> ws_ship_customer_sk "
            "AND ws_net_paid > 2000 AND ws_ship_customer_sk IS NOT NULL",
        ),
    ),
    Segment(
        "return_rate",
        "channels",
        "count(store_returns) / count(store_sales) > 0.25",
        (
            "SELECT s.k FROM (SELECT ss_customer_sk AS k, COUNT(*) AS n FROM store_sales "
            "WHERE ss_customer_sk IS NOT NULL GROUP BY ss_customer_sk) s "
            "JOIN (SELECT sr_customer_sk AS k, COUNT(*) AS n FROM store_returns GROUP BY sr_customer_sk) r "
            "ON r.k = s.k WHERE r.n > 0.25 * s.n",
        ),
    ),
    Segment(
        "big_spender_no_returns",
        "any",
        "sum(store_sales.ss_net_paid) > 15000 and none(store_returns)",
        (
            "SELECT ss_customer_sk FROM store_sales WHERE ss_customer_sk IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM store_returns WHERE sr_customer_sk = ss_customer_sk) "
            "GROUP BY ss_customer_sk HAVING SUM(ss_net_paid) > 15000",
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
    return ws.query(seg.dsl, shape="keys").sql(dialect=ws.dialect)


DATABASES = ("duckdb", "postgres")
MAX_ROUNDS = 15
ROUND_BUDGET_S = 1.0


@contextmanager
def opened(
    database: str, sf: float
) -> Iterator[tuple[Workspace, Callable[[str], Any], Callable[[str], list[Any]]]]:
    """(workspace, runner that fetches every row, sorted member keys of a query) on ``database``."""
    if database == "duckdb":
        conn = duckdb.connect(str(ensure_tpcds(sf)), read_only=True)
        conn.execute("SET enable_progress_bar = false")
        try:
            yield (
                workspace(conn),
                duckdb_runner(conn),
                lambda sql: sorted(r[0] for r in conn.execute(sql).fetchall()),
            )
        finally:
            conn.close()
        return
    import psycopg  # only the PostgreSQL half needs it

    url = ensure_pg(sf)
    ws = workspace(url.replace("postgresql://", "postgresql+psycopg://"))
    with psycopg.connect(url, autocommit=True) as pg:
        try:
            yield ws, postgres_runner(pg), lambda sql: sorted(r[0] for r in pg.execute(sql).fetchall())
        finally:
            ws.close()


def run(
    sf: float,
    rounds: int,
    only: list[str] | None = None,
    show: bool = False,
    against: dict[str, str] | None = None,
    databases: Sequence[str] = DATABASES,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Check and time every segment on each database; log and return one record per segment and
    database: compiled / fastest hand-written, candidates interleaved, best of ``rounds`` (more for a
    short query: as many as take about ROUND_BUDGET_S per candidate, at most MAX_ROUNDS).

    ``against``: other compiled SQL per segment (e.g. an earlier commit's, written with ``--dump``),
    checked and timed in the same rounds and printed as its own ratio to the hand-written SQL
    (DuckDB only: the dump is DuckDB SQL)."""
    records: list[dict[str, Any]] = []
    for database in databases:
        with opened(database, sf) as (ws, run_sql, member_keys):
            ratios: list[float] = []
            for seg in SEGMENTS:
                if only and seg.name not in only:
                    continue
                sql = compiled_sql(ws, seg)
                if show:
                    log(sql)
                members = member_keys(sql)  # also the warm-up
                hands = seg.hand(database)
                for i, hand in enumerate(hands):
                    theirs = member_keys(hand)
                    if theirs != members:
                        raise AssertionError(
                            f"{database} {seg.name}: hand-written {i} returns {len(theirs)} keys, "
                            f"compiled {len(members)}"
                        )
                other = (against or {}).get(seg.name) if database == "duckdb" else None
                if other is not None and member_keys(other) != members:
                    raise AssertionError(f"{seg.name}: the --against SQL returns other members")
                candidates = {"compiled": lambda s=sql: run_sql(s)}
                candidates.update({f"hand{i}": (lambda s=h: run_sql(s)) for i, h in enumerate(hands)})
                if other is not None and other != sql:
                    candidates["against"] = lambda s=other: run_sql(s)
                # Short queries get more rounds (up to MAX_ROUNDS, ~1 s per candidate): on 2 shared cores
                # one plan's best of 5 varied up to 2x between runs when it took 20-50 ms.
                start = time.perf_counter()
                run_sql(sql)
                once = time.perf_counter() - start
                n = max(rounds, min(MAX_ROUNDS, math.ceil(ROUND_BUDGET_S / max(once, 1e-3))))
                timings = time_interleaved(candidates, n)
                hand_s = min(t.best for n, t in timings.items() if n.startswith("hand"))
                ratio = timings["compiled"].best / hand_s
                ratios.append(ratio)
                records.append(
                    {
                        "database": database,
                        "segment": seg.name,
                        "shape": seg.shape,
                        "members": len(members),
                        "rounds": n,
                        "compiled_s": timings["compiled"].best,
                        "hand_s": hand_s,
                        "ratio": ratio,
                    }
                )
                was = f"  against {timings['against'].best / hand_s:.2f}" if "against" in timings else ""
                log(
                    f"{database:8s} {seg.name:26s} {seg.shape:10s} members {len(members):6d}  compiled "
                    f"{timings['compiled'].best * 1000:8.1f} ms  hand {hand_s * 1000:8.1f} ms  ratio {ratio:.2f}{was}"
                )
            log(
                f"{database}: geomean {geomean(ratios):.2f}, max {max(ratios, default=float('nan')):.2f} over {len(ratios)} segments"
            )
    return records


TARGET = {"geomean": 1.0, "max": 1.3}  # issue 22, per database


def section(sf: float, rounds: dict[str, int], log: Callable[[str], None] = print) -> dict[str, Any]:
    """Figure 9 of ``python -m bench``: every segment on DuckDB and PostgreSQL at scale ``sf``
    (``rounds`` per database)."""
    records: list[dict[str, Any]] = []
    for database in DATABASES:
        records += run(sf, rounds[database], databases=[database], log=log)
    return {"sf": sf, "rounds": rounds, "target": TARGET, "segments": records}


def summary_rows(fig9: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """Figure 9's rows of the headline table: one per database, (figure, measured, target, met)."""
    out: list[tuple[str, str, str, str]] = []
    for database in DATABASES:
        rows = [r for r in (fig9 or {}).get("segments", []) if r["database"] == database]
        if not rows:
            continue
        g, worst = geomean([r["ratio"] for r in rows]), max(rows, key=lambda r: r["ratio"])
        out.append(
            (
                f"9. TPC-DS sf={fig9['sf']:g}: compiled / fastest hand-written SQL, {database} ({len(rows)} segments)",  # type: ignore[index]
                f"geomean {g:.3f}; max {worst['ratio']:.2f} ({worst['segment']})",
                f"geomean <= {TARGET['geomean']}; max <= {TARGET['max']}",
                "yes" if g <= TARGET["geomean"] and worst["ratio"] <= TARGET["max"] else "**no**",
            )
        )
    return out


def markdown(fig9: dict[str, Any]) -> list[str]:
    """Figure 9's section of results.md: one row per segment, a column pair per database."""
    rows = fig9["segments"]
    by = {(r["database"], r["segment"]): r for r in rows}
    dbs = [d for d in DATABASES if any(r["database"] == d for r in rows)]
    header = ["segment", "shape", "members"]
    for d in dbs:
        header += [f"{d} compiled ms", f"{d} hand ms", f"{d} ratio"]
    lines = [
        f"## 9. TPC-DS shapes: compiled vs hand-written SQL, sf={fig9['sf']:g}",
        "",
        "bench/tpcds.py: CRM segments over TPC-DS (DuckDB's tpcds extension; PostgreSQL loaded from it with",
        "primary keys, foreign-key indexes, ANALYZE). Each segment's hand-written SQL is checked to return",
        "the compiled SQL's members on each database before timing; candidates interleaved, best of "
        + ", ".join(f"{n} rounds on {d}" for d, n in fig9["rounds"].items())
        + f" (a query under {1000 * ROUND_BUDGET_S / MAX_ROUNDS:.0f} ms: {MAX_ROUNDS} rounds; between: about"
        + f" {ROUND_BUDGET_S:g} s of rounds per candidate).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for seg in SEGMENTS:
        first = next((by[(d, seg.name)] for d in dbs if (d, seg.name) in by), None)
        if first is None:
            continue
        cells = [seg.name, seg.shape, str(first["members"])]
        for d in dbs:
            r = by.get((d, seg.name))
            cells += (
                [f"{1000 * r['compiled_s']:.1f}", f"{1000 * r['hand_s']:.1f}", f"{r['ratio']:.2f}"]
                if r
                else ["", "", ""]
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sf", type=float, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated segment names")
    parser.add_argument("--databases", default=",".join(DATABASES), help="duckdb,postgres or one of them")
    parser.add_argument("--show", action="store_true", help="print the compiled SQL")
    parser.add_argument("--dump", help="write the compiled DuckDB SQL per segment to this JSON file and stop")
    parser.add_argument("--against", help="a --dump file: time that SQL too (e.g. the previous commit's)")
    args = parser.parse_args()
    if args.dump:
        conn = duckdb.connect(str(ensure_tpcds(args.sf)), read_only=True)
        ws = workspace(conn)
        Path(args.dump).write_text(json.dumps({s.name: compiled_sql(ws, s) for s in SEGMENTS}, indent=1))
        sys.exit(0)
    against = json.loads(Path(args.against).read_text()) if args.against else None
    only = [s for s in args.only.split(",") if s] or None
    run(args.sf, args.rounds, only, args.show, against, [d for d in args.databases.split(",") if d])
