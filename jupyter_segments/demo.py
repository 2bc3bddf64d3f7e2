"""Deterministic retail demo data, generated inside DuckDB with SQL.

Every random value is ``hash(seed, salt, row id)`` scaled to [0, 1), so the data depends only on
(customers, seed, anchor) -- not on thread count or scan order -- and 10 million customers build
in minutes without a Python loop. All dates count back from ``anchor`` so "in the last 90 days"
always has data.

Planted patterns for segmentation demos: gold/platinum customers spend more per order,
newsletter subscribers order more often, customers in region 'North' with the newsletter spend
about 3x as much in total as everyone else, churn-prone customers call support more, and 8% of
customers never ordered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

import duckdb
import pandas as pd
from sqlglot import exp

from .backends._sql import BIGINT, BOOLEAN, DATE, DOUBLE, INTEGER, TEXT, TIMESTAMP, create_table_sql
from .backends.base import Backend
from .model import Model

# Parents before children: the order tables are created and loaded in.
TABLES: tuple[str, ...] = (
    "regions",
    "customers",
    "products",
    "orders",
    "order_lines",
    "support_calls",
    "web_events",
)

PRIMARY_KEYS: dict[str, str] = {
    "regions": "region_id",
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_lines": "line_id",
    "support_calls": "call_id",
    "web_events": "event_id",
}

# (child_table, parent_table, child_col, parent_col). support_calls.cust_id is deliberately not
# named customer_id, so only a declared foreign key (or the user) can tell what it joins to.
RELATIONSHIPS: tuple[tuple[str, str, str, str], ...] = (
    ("customers", "regions", "region_id", "region_id"),
    ("orders", "customers", "customer_id", "customer_id"),
    ("order_lines", "orders", "order_id", "order_id"),
    ("order_lines", "products", "product_id", "product_id"),
    ("support_calls", "customers", "cust_id", "customer_id"),
    ("web_events", "customers", "customer_id", "customer_id"),
)

# The relationships ``copy_to(..., constraints=True)`` declares as FOREIGN KEYs. web_events is left
# out on purpose: it can only be found by its column name, so both ways of inferring a
# relationship (declared key, matching name) have a case in the demo.
FOREIGN_KEYS: tuple[tuple[str, str, str, str], ...] = tuple(r for r in RELATIONSHIPS if r[0] != "web_events")


def declare_model(model: Model) -> None:
    """The demo's customer entity and its links to customers, for a model of the demo tables
    (``declare_model(ws.model)``).

    support_calls.cust_id cannot be inferred from its name. The generator makes no orphan rows, so
    each link to customers is declared with ``assume_integrity`` (tests/test_demo.py checks it):
    segments that only need orders, calls or events then skip the customer table.
    """
    model.set_customer("customers", "customer_id")
    for child, parent, child_column, parent_column in RELATIONSHIPS:
        if parent == "customers":
            model.add_relationship(child, parent, child_column, parent_column, True)


REGIONS = ("North", "South", "East", "West", "Central", "Islands")
COUNTRIES = (  # (code, weight, cities)
    ("US", 30, ("New York", "Chicago", "Austin")),
    ("DE", 14, ("Berlin", "München", "Köln")),
    ("FR", 10, ("Paris", "Lyon", "Marseille")),
    ("GB", 10, ("London", "Manchester", "Leeds")),
    ("NL", 6, ("Amsterdam", "Rotterdam", "Utrecht")),
    ("ES", 6, ("Madrid", "Barcelona", "Sevilla")),
    ("IT", 6, ("Roma", "Milano", "Napoli")),
    ("SE", 4, ("Stockholm", "Göteborg", "Malmö")),
    ("PL", 4, ("Warszawa", "Kraków", "Łódź")),
    ("CA", 4, ("Toronto", "Montréal", "Vancouver")),
    ("AU", 3, ("Sydney", "Melbourne", "Perth")),
    ("JP", 3, ("東京", "大阪", "Kyoto")),
)
FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kai", "Lena",
    "Mia", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tara", "Umar", "Vera", "Will", "Yuki", "Zoë",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Müller", "Schmidt", "O'Brien", "D'Angelo", "García", "Rossi", "Dubois",
    "Novak", "Kowalski", "Jansen", "Larsson", "Tanaka", "Brown", "Wilson", "Nguyen", "Martin",
    "Ødegaard", "Fischer",
)  # fmt: skip
CATEGORIES = ("toys", "books", "garden", "electronics", "fashion", "food", "sports", "beauty")
N_PRODUCTS = 500

_TWO64 = "18446744073709551616.0"


def _lit(value: str) -> str:
    """A SQL string literal (quotes in names like O'Brien escaped by sqlglot)."""
    return exp.Literal.string(value).sql(dialect="duckdb")


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


class _Rng:
    """SQL expressions for deterministic pseudo-random numbers keyed by (seed, salt, id)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)  # int(): the seed is spliced into SQL text

    def u(self, salt: str, key: str) -> str:
        """Uniform in [0, 1).

        ``hash(seed, salt, id)`` would not do: DuckDB combines the hashes of several arguments by
        XOR-ing in the last one, so two salts give streams that differ by a constant bit pattern
        and are strongly correlated. Instead each (seed, salt) picks an offset and the key plus
        offset goes through DuckDB's single-value hash, which mixes all bits.
        """
        digest = hashlib.blake2b(f"{self.seed}:{salt}".encode(), digest_size=8).digest()
        offset = int.from_bytes(digest, "big") >> 3  # < 2**61: key + offset stays in BIGINT
        return f"(hash(({key})::BIGINT + {offset}) / {_TWO64})"

    def normal(self, salt: str, key: str) -> str:
        """Standard normal (Box-Muller)."""
        u1 = f"(1.0 - {self.u(salt + '.1', key)})"  # (0, 1]: ln() must not see 0
        return f"(sqrt(-2.0 * ln({u1})) * cos(2 * pi() * {self.u(salt + '.2', key)}))"

    def exponential(self, salt: str, key: str) -> str:
        """Exponential with mean 1."""
        return f"(-ln(1.0 - {self.u(salt, key)}))"

    def pick(self, salt: str, key: str, values: Sequence[str]) -> str:
        """One of ``values``, uniformly."""
        return f"{_list(values)}[1 + floor({self.u(salt, key)} * {len(values)})::INTEGER]"

    def weighted(self, salt: str, key: str, choices: Sequence[tuple[str | None, float]]) -> str:
        """One of the values with the given weights (None -> NULL)."""
        total = sum(w for _, w in choices)
        u = self.u(salt, key)
        parts, acc = [], 0.0
        for value, weight in choices[:-1]:
            acc += weight / total
            parts.append(f"WHEN {u} < {acc!r} THEN {'NULL' if value is None else _lit(value)}")
        last = choices[-1][0]
        return f"(CASE {' '.join(parts)} ELSE {'NULL' if last is None else _lit(last)} END)"


def generate(
    customers: int = 10_000,
    *,
    seed: int = 42,
    anchor: dt.date | None = None,
    path: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Build the demo tables and return the DuckDB connection holding them.

    ``anchor`` is the last day of data (default: today). ``path`` writes a DuckDB file (replacing
    the demo tables in it); without it the database is in memory. Same arguments, same data.

    Scale: per customer about 10 orders, 31 order lines, 2 support calls and 5 web events. Memory
    use in memory is roughly 2.4 GB per million customers, so for 10 million pass ``path`` (about
    5 GB on disk, 8 GB peak RAM, ~6 minutes on 2 cores).
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    anchor = anchor or dt.date.today()
    if isinstance(anchor, dt.datetime):
        anchor = anchor.date()
    conn = duckdb.connect(path or ":memory:")
    conn.execute("SET enable_progress_bar = false")
    r = _Rng(seed)
    a = f"DATE '{anchor.isoformat()}'"
    a_end = (
        f"(TIMESTAMP '{anchor.isoformat()} 00:00:00' + INTERVAL 1 DAY)"  # events run up to the anchor's end
    )
    n = int(customers)

    conn.execute(
        "CREATE OR REPLACE TABLE regions AS SELECT region_id::INTEGER AS region_id, name::VARCHAR AS name "
        f"FROM (VALUES {', '.join(f'({i}, {_lit(name)})' for i, name in enumerate(REGIONS, 1))}) v(region_id, name)"
    )

    countries = [(code, w) for code, w, _ in COUNTRIES]
    cities = "CASE country " + " ".join(f"WHEN {_lit(c)} THEN {_list(cs)}" for c, _, cs in COUNTRIES) + " END"
    tier = r.weighted(
        "tier", "id", [(None, 20), ("bronze", 40), ("silver", 22), ("gold", 13), ("platinum", 5)]
    )
    # Stage 1: independent attributes of each customer.
    conn.execute(f"""
        CREATE OR REPLACE TEMP TABLE _c1 AS
        SELECT
            id AS customer_id,
            {r.pick("first", "id", FIRST_NAMES)} AS first_name,
            {r.pick("last", "id", LAST_NAMES)} AS last_name,
            {r.weighted("country", "id", countries)} AS country,
            {r.u("city", "id")} AS u_city,
            CASE WHEN {r.u("region_null", "id")} < 0.03 THEN NULL
                 ELSE 1 + floor({r.u("region", "id")} * {len(REGIONS)})::INTEGER END AS region_id,
            {r.weighted("gender", "id", [("F", 48), ("M", 46), ("X", 3), (None, 3)])} AS gender,
            CASE WHEN {r.u("age_null", "id")} < 0.05 THEN NULL
                 ELSE 18 + floor(pow({r.u("age", "id")}, 1.4) * 73)::INTEGER END AS age,
            floor({r.u("birthday", "id")} * 365)::INTEGER AS birthday_offset,
            ({a} - floor({r.u("signup", "id")} * 5 * 365)::INTEGER) AS signup_date,
            {r.u("newsletter", "id")} < 0.35 AS newsletter,
            {tier} AS loyalty_tier,
            {r.u("email", "id")} AS u_email,
            {r.u("churn", "id")} AS u_churn
        FROM range(1, {n + 1}) t(id)
    """)
    # Stage 2: derived attributes and how many child rows each customer gets. Children get
    # contiguous ids from running sums over customer_id, which are the same on every run.
    conn.execute(f"""
        CREATE OR REPLACE TEMP TABLE _c2 AS
        WITH base AS (
            SELECT *,
                (CASE loyalty_tier WHEN 'platinum' THEN 2.4 WHEN 'gold' THEN 1.7 WHEN 'silver' THEN 1.2
                      WHEN 'bronze' THEN 1.0 ELSE 0.9 END)
                  * (CASE WHEN region_id = 1 AND newsletter THEN 2.3 ELSE 1.0 END) AS spend_mult,
                least(1.0, greatest(0.0, 0.15 + 0.6 * u_churn
                      - (CASE WHEN loyalty_tier IN ('gold', 'platinum') THEN 0.12 ELSE 0 END)
                      - (CASE WHEN newsletter THEN 0.05 ELSE 0 END))) AS churn_score,
                CASE WHEN {r.u("no_orders", "customer_id")} < 0.08 THEN 0
                     ELSE least(250, 1 + floor({r.exponential("n_orders", "customer_id")}
                                  * (CASE WHEN newsletter THEN 14.0 ELSE 9.0 END))::INTEGER) END AS n_orders,
                CASE WHEN {r.u("no_events", "customer_id")} < 0.25 THEN 0
                     ELSE least(200, 1 + floor({r.exponential("n_events", "customer_id")} * 6.3)::INTEGER)
                END AS n_events
            FROM _c1
        ),
        counted AS (
            SELECT *,
                CASE WHEN {r.u("no_calls", "customer_id")} < 0.55 - 0.3 * churn_score THEN 0
                     ELSE least(60, 1 + floor({r.exponential("n_calls", "customer_id")}
                                  * (1.0 + 4.4 * churn_score))::INTEGER) END AS n_calls
            FROM base
        )
        SELECT *,
            (sum(n_orders) OVER w - n_orders)::BIGINT AS order_off,
            (sum(n_calls) OVER w - n_calls)::BIGINT AS call_off,
            (sum(n_events) OVER w - n_events)::BIGINT AS event_off
        FROM counted
        WINDOW w AS (ORDER BY customer_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    """)
    conn.execute("DROP TABLE _c1")
    email_user = "lower(replace(replace(first_name || '.' || last_name, '''', ''), ' ', ''))"
    conn.execute(f"""
        CREATE OR REPLACE TABLE customers AS
        SELECT
            customer_id::BIGINT AS customer_id,
            first_name::VARCHAR AS first_name,
            last_name::VARCHAR AS last_name,
            (CASE WHEN u_email < 0.05 THEN NULL WHEN u_email < 0.07 THEN ''
                  ELSE {email_user} || customer_id || '@example.com' END)::VARCHAR AS email,
            country::VARCHAR AS country,
            ({cities})[1 + floor(u_city * 3)::INTEGER]::VARCHAR AS city,
            region_id::INTEGER AS region_id,
            gender::VARCHAR AS gender,
            age::INTEGER AS age,
            CASE WHEN age IS NULL THEN NULL
                 ELSE (({a} - INTERVAL (age) YEAR)::DATE - birthday_offset) END::DATE AS birth_date,
            signup_date::DATE AS signup_date,
            newsletter::BOOLEAN AS newsletter,
            loyalty_tier::VARCHAR AS loyalty_tier,
            round(churn_score, 4)::DOUBLE AS churn_score
        FROM _c2
    """)

    conn.execute(f"""
        CREATE OR REPLACE TABLE products AS
        SELECT
            id::INTEGER AS product_id,
            ({r.pick("adj", "id", ["Classic", "Smart", "Eco", "Deluxe", "Mini", "Pro", "Happy", "Urban"])}
             || ' ' || category || ' item ' || id)::VARCHAR AS name,
            category::VARCHAR AS category,
            round(2 + exp(1.2 + 1.1 * {r.normal("price", "id")}) * 6, 2)::DECIMAL(10, 2) AS price
        FROM (SELECT id, {r.pick("category", "id", CATEGORIES)} AS category FROM range(1, {N_PRODUCTS + 1}) t(id))
    """)

    # Orders: recent dates more likely (u^1.7 piles up near 0 days ago), never before signup.
    oid = "(c.order_off + k + 1)"
    conn.execute(f"""
        CREATE OR REPLACE TABLE orders AS
        SELECT
            {oid}::BIGINT AS order_id,
            c.customer_id::BIGINT AS customer_id,
            ({a} - floor(pow({r.u("order_date", oid)}, 1.7)
                        * least(3 * 365, {a} - c.signup_date + 1))::INTEGER)::DATE AS order_date,
            {r.weighted("status", oid, [("delivered", 80), ("shipped", 8), ("returned", 7), ("cancelled", 5)])}::VARCHAR
                AS status,
            {r.weighted("channel", oid, [("web", 50), ("app", 35), ("store", 15)])}::VARCHAR AS channel,
            round(35 * c.spend_mult * exp(0.55 * {r.normal("amount", oid)}), 2)::DOUBLE AS amount,
            CASE WHEN {r.u("discount_null", oid)} < 0.7 THEN NULL
                 ELSE round(5 + 25 * {r.u("discount", oid)}, 2) END::DOUBLE AS discount
        FROM _c2 c, range(c.n_orders) r(k)
    """)

    # Order lines: 0..9 per order (about 3); line_id = order_id * 10 + line number keeps ids
    # unique without a running sum over all orders. Popular products come up more (u^2); the
    # unit price is the product's list price +-10%, looked up in a list rather than by a join.
    lid = "(o.order_id * 10 + j)"
    conn.execute(f"""
        CREATE OR REPLACE TABLE order_lines AS
        WITH o AS (
            SELECT order_id,
                CASE WHEN {r.u("no_lines", "order_id")} < 0.04 THEN 0
                     ELSE least(9, 1 + floor({r.exponential("n_lines", "order_id")} * 2.7)::INTEGER) END AS n_lines
            FROM orders
        ),
        l AS (
            SELECT
                {lid}::BIGINT AS line_id,
                o.order_id::BIGINT AS order_id,
                (1 + floor(pow({r.u("product", lid)}, 2) * {N_PRODUCTS}))::INTEGER AS product_id,
                (CASE WHEN {r.u("bulk", lid)} < 0.01 THEN 11 + floor({r.u("qty", lid)} * 40)
                      ELSE 1 + floor(pow({r.u("qty", lid)}, 2.5) * 10) END)::INTEGER AS quantity
            FROM o, range(o.n_lines) r(j)
        )
        SELECT line_id, order_id, product_id, quantity,
            round((SELECT list(price::DOUBLE ORDER BY product_id) FROM products)[product_id]
                  * (0.9 + 0.2 * {r.u("unit_price", "line_id")}), 2)::DOUBLE AS unit_price
        FROM l
    """)

    cid = "(c.call_off + k + 1)"
    conn.execute(f"""
        CREATE OR REPLACE TABLE support_calls AS
        SELECT
            {cid}::BIGINT AS call_id,
            c.customer_id::BIGINT AS cust_id,
            ({a_end} - to_seconds(floor({r.u("called_at", cid)} * 730 * 86400)::BIGINT + 1))::TIMESTAMP AS called_at,
            {r.weighted("topic", cid, [("billing", 25), ("delivery", 30), ("returns", 15), ("product", 20), ("account", 10)])}::VARCHAR
                AS topic,
            (CASE WHEN {r.u("esc_null", cid)} < 0.02 THEN NULL
                  ELSE {r.u("escalated", cid)} < 0.05 + 0.2 * c.churn_score END)::BOOLEAN AS escalated,
            least(180, 1 + floor({r.exponential("duration", cid)} * 8))::INTEGER AS duration_minutes
        FROM _c2 c, range(c.n_calls) r(k)
    """)

    eid = "(c.event_off + k + 1)"
    event_type = r.weighted(
        "event_type", eid, [("page_view", 60), ("search", 20), ("add_to_cart", 14), ("checkout", 6)]
    )
    conn.execute(f"""
        CREATE OR REPLACE TABLE web_events AS
        WITH e AS (
            SELECT {eid} AS event_id, c.customer_id, {event_type} AS event_type
            FROM _c2 c, range(c.n_events) r(k)
        )
        SELECT
            event_id::BIGINT AS event_id,
            customer_id::BIGINT AS customer_id,
            ({a_end} - to_seconds(floor(pow({r.u("event_time", "event_id")}, 1.5) * 365 * 86400)::BIGINT + 1))::TIMESTAMP
                AS event_time,
            event_type::VARCHAR AS event_type,
            (CASE event_type
                WHEN 'search' THEN '/search'
                WHEN 'add_to_cart' THEN '/cart'
                WHEN 'checkout' THEN '/checkout'
                ELSE CASE WHEN {r.u("page", "event_id")} < 0.2 THEN '/'
                          ELSE '/product/' || (1 + floor({r.u("page_product", "event_id")} * {N_PRODUCTS})::INTEGER)
                     END
             END)::VARCHAR AS page
        FROM e
    """)
    for temp in ("_c1", "_c2"):
        conn.execute(f"DROP TABLE IF EXISTS {temp}")
    if path:
        conn.execute("CHECKPOINT")
    return conn


def frames(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Every demo table as a DataFrame, rows ordered by primary key."""
    return {
        table: conn.execute(f'SELECT * FROM "{table}" ORDER BY "{PRIMARY_KEYS[table]}"').df()
        for table in TABLES
    }


def _portable_type(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t.startswith("DECIMAL"):
        return t
    return {
        "INTEGER": INTEGER,
        "BIGINT": BIGINT,
        "DOUBLE": DOUBLE,
        "BOOLEAN": BOOLEAN,
        "DATE": DATE,
        "TIMESTAMP": TIMESTAMP,
        "VARCHAR": TEXT,
    }[t]


def copy_to(
    source_conn: duckdb.DuckDBPyConnection,
    backend: Backend,
    tables: Iterable[str] | None = None,
    chunk_size: int = 50_000,
    *,
    constraints: bool = False,
) -> dict[str, int]:
    """Load demo tables from ``source_conn`` into ``backend``, replacing them; returns rows per table.

    With ``constraints=True`` each table gets its PRIMARY KEY and the FOREIGN KEYs in
    ``FOREIGN_KEYS`` whose parent is copied too (declared inline, the only way SQLite accepts them).
    Rows stream through in ``chunk_size`` pieces, so the demo never has to fit in memory twice.
    """
    wanted = set(TABLES if tables is None else tables)
    unknown = wanted - set(TABLES)
    if unknown:
        raise ValueError(f"not demo tables: {sorted(unknown)}")
    order = [t for t in TABLES if t in wanted]
    # Children first: a foreign key would stop the parent from being dropped.
    for table in reversed(order):
        backend.drop_table(table)
    counts: dict[str, int] = {}
    vectors = max(1, chunk_size // 2048)
    for table in order:
        cols = source_conn.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
            "AND schema_name = current_schema() ORDER BY column_index",
            [table],
        ).fetchall()
        fks = [
            (c, parent, pc) for child, parent, c, pc in FOREIGN_KEYS if child == table and parent in wanted
        ]
        ddl = create_table_sql(
            table,
            [(name, _portable_type(t)) for name, t in cols],
            backend.dialect,
            primary_key=PRIMARY_KEYS[table] if constraints else None,
            foreign_keys=fks if constraints else [],
        )
        if backend.dialect == "mysql":
            ddl += " DEFAULT CHARSET=utf8mb4"
        backend.execute(ddl)
        cur = source_conn.cursor()
        try:
            cur.execute(f'SELECT * FROM "{table}" ORDER BY "{PRIMARY_KEYS[table]}"')
            total = 0
            while len(chunk := cur.fetch_df_chunk(vectors, date_as_object=True)):
                # date_as_object: DATE columns arrive as datetime.date, which backends store as dates.
                backend.write_table(table, chunk, replace=False)
                total += len(chunk)
        finally:
            cur.close()
        counts[table] = total
        # Fresh tables have no statistics: MariaDB then plans nested aggregates as a re-read of every
        # order line per customer (minutes instead of a fraction of a second). Analyze once loaded.
        analyze = {"mysql": "ANALYZE TABLE", "postgres": "ANALYZE", "sqlite": "ANALYZE"}.get(backend.dialect)
        if analyze:
            backend.execute(f"{analyze} {exp.to_identifier(table, quoted=True).sql(backend.dialect)}")
    return counts
