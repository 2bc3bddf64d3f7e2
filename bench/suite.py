"""The benchmark suite: one row per segment -- DSL, hand-written SQL variants, and a pandas version.

Every segment is evaluated as of ``ANCHOR`` (the last day of the demo data), so relative windows are
fixed dates and the hand-written SQL can spell them out. The hand-written SQL is what an analyst who
knows SQL (and the schema) would write: ``GROUP BY ... HAVING`` on the child table, ``EXCEPT`` for
"but not", ``DISTINCT`` for existence. Several variants are allowed per segment; figure 1 compares the
compiled SQL with the *fastest* of them. It is portable between DuckDB and PostgreSQL.

The pandas versions are what a data scientist writes with the tables loaded as DataFrames: boolean
masks, ``merge``, ``groupby().agg()``, ``isin``. Each returns the member keys (or, for segments with
projections, a DataFrame indexed by key holding the projected columns).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from .data import ANCHOR

Frames = dict[str, pd.DataFrame]
PandasFn = Callable[[Frames], "pd.Index | pd.DataFrame"]


def _days_ago(n: int) -> dt.date:
    return ANCHOR - dt.timedelta(days=n)


# Constants spliced into the hand-written SQL (bench-owned values, never user input).
DATES = {
    "anchor": ANCHOR.isoformat(),
    "next": (ANCHOR + dt.timedelta(days=1)).isoformat(),  # a timestamp window runs to the anchor day's end
    "d30": _days_ago(30).isoformat(),
    "d90": _days_ago(90).isoformat(),
    "d180": _days_ago(180).isoformat(),
    "d365": _days_ago(365).isoformat(),
}
# Saved segments that the suite refers to with ``in segment NAME``.
SAVED = {
    "high_value": "sum(orders.amount) >= 1000",
    "churn_risk": "churn_score > 0.5 or count(support_calls where escalated) >= 2",
}


@dataclass(frozen=True)
class Segment:
    name: str
    forms: str  # the DSL forms it exercises
    dsl: str
    sql: tuple[str, ...]  # hand-written variants returning customer_id (+ projected columns)
    pandas: PandasFn
    projections: tuple[str, ...] = field(default=())  # projected column names (members shape)

    def hand_sql(self) -> list[str]:
        return [s.format(**DATES) for s in self.sql]


# --- pandas helpers --------------------------------------------------------------------------------
def _ts(d: str) -> pd.Timestamp:
    return pd.Timestamp(d)


def _keys(customers: pd.DataFrame, mask) -> pd.Index:
    return pd.Index(customers.loc[mask, "customer_id"])


def _per_customer(orders: pd.DataFrame, **aggs) -> pd.DataFrame:
    """Aggregates of orders per customer_id, customers without orders absent."""
    return orders.groupby("customer_id").agg(**aggs)


def _in_last(s: pd.Series, days: int) -> pd.Series:
    return (s >= _ts(DATES[f"d{days}"])) & (s <= _ts(DATES["anchor"]))


def _high_value(f: Frames) -> pd.Index:
    spend = f["orders"].groupby("customer_id")["amount"].sum()
    return pd.Index(spend.index[spend >= 1000])


def _churn_risk(f: Frames) -> pd.Index:
    c, s = f["customers"], f["support_calls"]
    esc = s[s["escalated"] == True].groupby("cust_id").size()  # noqa: E712 - NULL escalated is not true
    return _keys(c, c["churn_score"] > 0.5).union(pd.Index(esc.index[esc >= 2]))


# --- pandas versions, one per segment -----------------------------------------------------------------
def pd_attributes(f: Frames) -> pd.Index:
    c = f["customers"]
    return _keys(c, (c["country"] == "DE") & (c["age"] >= 30) & (c["newsletter"] == True))  # noqa: E712


def pd_in_between_null(f: Frames) -> pd.Index:
    c = f["customers"]
    mask = (
        c["loyalty_tier"].isin(["gold", "platinum"])
        & c["churn_score"].between(0.2, 0.5)
        & c["region_id"].notna()
    )
    return _keys(c, mask)


def pd_strings(f: Frames) -> pd.Index:
    c = f["customers"]
    first = c["first_name"].str.lower().str.startswith("an")
    last = c["last_name"].str.lower().str.contains("son", regex=False)
    email = c["email"].notna() & (c["email"] != "")
    return _keys(c, (first | last).fillna(False) & email)


def pd_dates(f: Frames) -> pd.Index:
    c = f["customers"]
    mask = _in_last(c["signup_date"], 90) | (c["birth_date"] < _ts("1960-01-01"))
    return _keys(c, mask)


def pd_to_one(f: Frames) -> pd.Index:
    c = f["customers"].merge(f["regions"].rename(columns={"name": "region"}), on="region_id", how="left")
    mask = (c["region"] == "North") & (c["newsletter"] == True) & c["loyalty_tier"].notna()  # noqa: E712
    return _keys(c, mask)


def pd_sum(f: Frames) -> pd.Index:
    return _high_value(f)


def pd_count_where(f: Frames) -> pd.Index:
    o = f["orders"]
    o = o[(o["status"] == "delivered") & _in_last(o["order_date"], 365)]
    n = o.groupby("customer_id").size()
    return pd.Index(n.index[n >= 5])


def pd_two_filtered_aggs(f: Frames) -> pd.Index:
    o = f["orders"]
    web = o[o["channel"] == "web"].groupby("customer_id")["amount"].sum()
    returned = o.loc[o["status"] == "returned", "customer_id"].unique()
    keys = web.index[web > 500]
    return pd.Index(keys[~keys.isin(returned)])


def pd_avg_max(f: Frames) -> pd.Index:
    a = _per_customer(f["orders"], avg=("amount", "mean"), last=("order_date", "max"))
    return pd.Index(a.index[(a["avg"] > 80) & (a["last"] < _ts("2025-01-01"))])


def pd_any(f: Frames) -> pd.Index:
    s = f["support_calls"]
    return pd.Index(s.loc[(s["escalated"] == True) & (s["topic"] == "billing"), "cust_id"].unique())  # noqa: E712


def pd_none_recent(f: Frames) -> pd.Index:
    o = f["orders"]
    n = o.groupby("customer_id").size()
    recent = o.loc[_in_last(o["order_date"], 180), "customer_id"].unique()
    keys = n.index[n >= 3]
    return pd.Index(keys[~keys.isin(recent)])


def pd_all(f: Frames) -> pd.Index:
    o = f["orders"]
    a = o.assign(ok=o["status"] == "delivered").groupby("customer_id")["ok"].agg(["size", "all"])
    return pd.Index(a.index[(a["size"] >= 2) & a["all"]])


def _lines(f: Frames) -> pd.DataFrame:
    return f["order_lines"].merge(f["orders"][["order_id", "customer_id", "status"]], on="order_id")


def pd_multi_hop_any(f: Frames) -> pd.Index:
    lines = _lines(f).merge(f["products"][["product_id", "category"]], on="product_id")
    hit = lines[(lines["category"] == "electronics") & (lines["quantity"] >= 5)]
    return pd.Index(hit["customer_id"].unique())


def pd_multi_hop_sum(f: Frames) -> pd.Index:
    lines = _lines(f)
    q = lines[lines["status"] != "cancelled"].groupby("customer_id")["quantity"].sum()
    return pd.Index(q.index[q >= 60])


def pd_nested_any(f: Frames) -> pd.Index:
    q = f["order_lines"].groupby("order_id")["quantity"].sum()
    big = q.index[q > 30]
    o = f["orders"]
    return pd.Index(o.loc[o["order_id"].isin(big), "customer_id"].unique())


def pd_nested_count(f: Frames) -> pd.Index:
    n = f["order_lines"].groupby("order_id").size()
    o = f["orders"]
    per = o[o["order_id"].isin(n.index[n >= 5])].groupby("customer_id").size()
    return pd.Index(per.index[per >= 2])


def pd_timestamps(f: Frames) -> pd.Index:
    w, o = f["web_events"], f["orders"]
    start, end = _ts(DATES["d30"]), _ts(DATES["next"])
    checkout = w.loc[
        (w["event_type"] == "checkout") & (w["event_time"] >= start) & (w["event_time"] < end), "customer_id"
    ].unique()
    recent = o.loc[_in_last(o["order_date"], 30), "customer_id"].unique()
    keys = pd.Index(checkout)
    return keys[~keys.isin(recent)]


def pd_union(f: Frames) -> pd.Index:
    c, o, s = f["customers"], f["orders"], f["support_calls"]
    spend = o.groupby("customer_id")["amount"].sum()
    us = _keys(c, c["country"] == "US")
    left = us[us.isin(spend.index[spend > 2000])]
    esc = s.loc[s["escalated"] == True, "cust_id"].unique()  # noqa: E712
    risky = _keys(c, c["churn_score"] > 0.6)
    return left.union(risky[risky.isin(esc)])


def pd_except(f: Frames) -> pd.Index:
    c = f["customers"]
    n = f["orders"].groupby("customer_id").size()
    subs = _keys(c, (c["newsletter"] == True) & ~c["loyalty_tier"].isin(["gold", "platinum"]))  # noqa: E712
    return subs[subs.isin(n.index[n >= 10])]


def pd_intersect(f: Frames) -> pd.Index:
    w, o = f["web_events"], f["orders"]
    cart = pd.Index(w.loc[w["event_type"] == "add_to_cart", "customer_id"].unique())
    recent = o.loc[_in_last(o["order_date"], 90), "customer_id"].unique()
    return cart[~cart.isin(recent)]


def pd_segment_refs(f: Frames) -> pd.Index:
    return _high_value(f).difference(_churn_risk(f))


def pd_projection(f: Frames) -> pd.DataFrame:
    c, o, s = f["customers"], f["orders"], f["support_calls"]
    a = _per_customer(
        o, n=("amount", "size"), total_spend=("amount", "sum"), last_order=("order_date", "max")
    )
    plat = c.loc[c["loyalty_tier"] == "platinum", ["customer_id"]]
    m = plat.merge(a[a["n"] >= 5], left_on="customer_id", right_index=True)
    calls = s.groupby("cust_id").size().rename("calls")
    m = m.merge(calls, left_on="customer_id", right_index=True, how="left")
    m["calls"] = m["calls"].fillna(0)
    return m.set_index("customer_id")[["total_spend", "last_order", "calls"]]


def pd_projection_filtered(f: Frames) -> pd.DataFrame:
    o = f["orders"]
    a = _per_customer(o, avg_order=("amount", "mean"))
    app = o[o["channel"] == "app"].groupby("customer_id").size().rename("app_orders")
    return a.join(app, how="inner")[["app_orders", "avg_order"]]


def pd_ranking(f: Frames) -> pd.Index:
    c, o = f["customers"], f["orders"]
    de = c[c["country"] == "DE"][["customer_id"]]
    spend = o.groupby("customer_id")["amount"].sum()
    de = de.assign(total=de["customer_id"].map(spend).fillna(0.0))
    ranked = de.sort_values(["total", "customer_id"], ascending=[False, True])
    return pd.Index(ranked["customer_id"].head(math.ceil(len(ranked) * 10 / 100)))


def pd_median_spend(f: Frames) -> pd.Index:
    median = f["orders"].groupby("customer_id")["amount"].median()
    return pd.Index(median.index[median > 60])


def pd_basket(f: Frames) -> pd.Index:
    lines = f["order_lines"].merge(f["orders"][["order_id", "customer_id"]], on="order_id")
    value = (lines["quantity"] * lines["unit_price"]).groupby(lines["customer_id"]).sum()
    return pd.Index(value.index[value > 500])


def pd_first_channel(f: Frames) -> pd.Index:
    o = f["orders"][f["orders"]["order_date"].notna()]
    first = o.sort_values(["customer_id", "order_date", "order_id"]).groupby("customer_id").head(1)
    return pd.Index(first.loc[first["channel"] == "web", "customer_id"])


def pd_mode_channel(f: Frames) -> pd.Index:
    o = f["orders"][f["orders"]["channel"].notna()]
    counts = o.groupby(["customer_id", "channel"]).size().rename("n").reset_index()
    top = counts.sort_values(["customer_id", "n", "channel"], ascending=[True, False, True])
    top = top.groupby("customer_id").head(1)
    return pd.Index(top.loc[top["channel"] == "web", "customer_id"])


def pd_stddev_percentile(f: Frames) -> pd.Index:
    amounts = f["orders"][f["orders"]["amount"].notna()].groupby("customer_id")["amount"]
    spread, p90 = amounts.std(ddof=1), amounts.quantile(0.9)
    return pd.Index(spread.index[(spread > 40) & (p90 > 150)])


# --- the suite ---------------------------------------------------------------------------------------
SUITE: tuple[Segment, ...] = (
    Segment(
        "attributes",
        "attribute filters, boolean",
        "country = 'DE' and age >= 30 and newsletter",
        ("SELECT customer_id FROM customers WHERE country = 'DE' AND age >= 30 AND newsletter",),
        pd_attributes,
    ),
    Segment(
        "in_between_null",
        "IN list, BETWEEN, IS NOT NULL",
        "loyalty_tier in ('gold', 'platinum') and churn_score between 0.2 and 0.5 and region_id is not null",
        (
            "SELECT customer_id FROM customers WHERE loyalty_tier IN ('gold', 'platinum') "
            "AND churn_score BETWEEN 0.2 AND 0.5 AND region_id IS NOT NULL",
        ),
        pd_in_between_null,
    ),
    Segment(
        "strings",
        "starts with, contains, is not empty",
        "(first_name starts with 'an' or last_name contains 'SON') and email is not empty",
        (
            "SELECT customer_id FROM customers WHERE (first_name ILIKE 'an%' OR last_name ILIKE '%son%') "
            "AND email <> ''",
        ),
        pd_strings,
    ),
    Segment(
        "dates",
        "in last N days, before",
        "signup_date in last 90 days or birth_date before '1960-01-01'",
        (
            "SELECT customer_id FROM customers WHERE signup_date BETWEEN DATE '{d90}' AND DATE '{anchor}' "
            "OR birth_date < DATE '1960-01-01'",
        ),
        pd_dates,
    ),
    Segment(
        "to_one_hop",
        "to-one path (customers -> regions)",
        "regions.name = 'North' and newsletter and loyalty_tier is not null",
        (
            "SELECT c.customer_id FROM customers c JOIN regions r ON r.region_id = c.region_id "
            "WHERE r.name = 'North' AND c.newsletter AND c.loyalty_tier IS NOT NULL",
            "SELECT customer_id FROM customers WHERE region_id IN (SELECT region_id FROM regions "
            "WHERE name = 'North') AND newsletter AND loyalty_tier IS NOT NULL",
        ),
        pd_to_one,
    ),
    Segment(
        "sum",
        "aggregate",
        "sum(orders.amount) >= 1000",
        ("SELECT customer_id FROM orders GROUP BY customer_id HAVING SUM(amount) >= 1000",),
        pd_sum,
    ),
    Segment(
        "count_where",
        "aggregate with filter, date window",
        "count(orders where status = 'delivered' and order_date in last 365 days) >= 5",
        (
            "SELECT customer_id FROM orders WHERE status = 'delivered' "
            "AND order_date BETWEEN DATE '{d365}' AND DATE '{anchor}' GROUP BY customer_id HAVING COUNT(*) >= 5",
        ),
        pd_count_where,
    ),
    Segment(
        "two_filtered_aggs",
        "two aggregates with different filters",
        "sum(orders.amount where channel = 'web') > 500 and count(orders where status = 'returned') = 0",
        (
            "SELECT customer_id FROM orders WHERE channel = 'web' GROUP BY customer_id HAVING SUM(amount) > 500 "
            "EXCEPT SELECT customer_id FROM orders WHERE status = 'returned'",
            "SELECT customer_id FROM orders GROUP BY customer_id "
            "HAVING SUM(CASE WHEN channel = 'web' THEN amount END) > 500 "
            "AND COUNT(CASE WHEN status = 'returned' THEN 1 END) = 0",
        ),
        pd_two_filtered_aggs,
    ),
    Segment(
        "avg_max",
        "avg, max, before",
        "avg(orders.amount) > 80 and max(orders.order_date) before '2025-01-01'",
        (
            "SELECT customer_id FROM orders GROUP BY customer_id "
            "HAVING AVG(amount) > 80 AND MAX(order_date) < DATE '2025-01-01'",
        ),
        pd_avg_max,
    ),
    Segment(
        "any",
        "any(... where ...)",
        "any(support_calls where escalated and topic = 'billing')",
        (
            "SELECT DISTINCT cust_id FROM support_calls WHERE escalated AND topic = 'billing'",
            "SELECT customer_id FROM customers c WHERE EXISTS (SELECT 1 FROM support_calls s "
            "WHERE s.cust_id = c.customer_id AND s.escalated AND s.topic = 'billing')",
        ),
        pd_any,
    ),
    Segment(
        "none_recent",
        "none(...), count",
        "count(orders) >= 3 and none(orders where order_date in last 180 days)",
        (
            "SELECT customer_id FROM orders GROUP BY customer_id HAVING COUNT(*) >= 3 "
            "AND COUNT(CASE WHEN order_date BETWEEN DATE '{d180}' AND DATE '{anchor}' THEN 1 END) = 0",
            "SELECT customer_id FROM orders GROUP BY customer_id HAVING COUNT(*) >= 3 EXCEPT "
            "SELECT customer_id FROM orders WHERE order_date BETWEEN DATE '{d180}' AND DATE '{anchor}'",
        ),
        pd_none_recent,
    ),
    Segment(
        "all",
        "all(... where ...)",
        "count(orders) >= 2 and all(orders where status = 'delivered')",
        (
            "SELECT customer_id FROM orders GROUP BY customer_id "
            "HAVING COUNT(*) >= 2 AND MIN(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) = 1",
        ),
        pd_all,
    ),
    Segment(
        "multi_hop_any",
        "multi-hop path with a to-one step inside",
        "any(orders.order_lines where products.category = 'electronics' and quantity >= 5)",
        (
            "SELECT DISTINCT o.customer_id FROM orders o JOIN order_lines l ON l.order_id = o.order_id "
            "JOIN products p ON p.product_id = l.product_id WHERE p.category = 'electronics' AND l.quantity >= 5",
            "SELECT DISTINCT customer_id FROM orders WHERE order_id IN (SELECT order_id FROM order_lines "
            "WHERE quantity >= 5 AND product_id IN (SELECT product_id FROM products WHERE category = 'electronics'))",
        ),
        pd_multi_hop_any,
    ),
    Segment(
        "multi_hop_sum",
        "multi-hop aggregate, parent attribute in filter",
        "sum(orders.order_lines.quantity where orders.status != 'cancelled') >= 60",
        (
            "SELECT o.customer_id FROM orders o JOIN order_lines l ON l.order_id = o.order_id "
            "WHERE o.status <> 'cancelled' GROUP BY o.customer_id HAVING SUM(l.quantity) >= 60",
        ),
        pd_multi_hop_sum,
    ),
    Segment(
        "nested_any",
        "nested scope: any(orders where sum(order_lines...))",
        "any(orders where sum(order_lines.quantity) > 30)",
        (
            "SELECT DISTINCT customer_id FROM orders WHERE order_id IN "
            "(SELECT order_id FROM order_lines GROUP BY order_id HAVING SUM(quantity) > 30)",
            "SELECT DISTINCT o.customer_id FROM orders o JOIN order_lines l ON l.order_id = o.order_id "
            "GROUP BY o.order_id, o.customer_id HAVING SUM(l.quantity) > 30",
        ),
        pd_nested_any,
    ),
    Segment(
        "nested_count",
        "nested scope: count(orders where count(order_lines...))",
        "count(orders where count(order_lines) >= 5) >= 2",
        (
            "SELECT customer_id FROM orders WHERE order_id IN "
            "(SELECT order_id FROM order_lines GROUP BY order_id HAVING COUNT(*) >= 5) "
            "GROUP BY customer_id HAVING COUNT(*) >= 2",
        ),
        pd_nested_count,
    ),
    Segment(
        "timestamps",
        "timestamp window, any + none",
        "any(web_events where event_type = 'checkout' and event_time in last 30 days) "
        "and none(orders where order_date in last 30 days)",
        (
            "SELECT DISTINCT customer_id FROM web_events WHERE event_type = 'checkout' "
            "AND event_time >= TIMESTAMP '{d30} 00:00:00' AND event_time < TIMESTAMP '{next} 00:00:00' "
            "EXCEPT SELECT customer_id FROM orders WHERE order_date BETWEEN DATE '{d30}' AND DATE '{anchor}'",
        ),
        pd_timestamps,
    ),
    Segment(
        "union",
        "UNION of two groups",
        "(country = 'US' and sum(orders.amount) > 2000) union (any(support_calls where escalated) "
        "and churn_score > 0.6)",
        (
            "SELECT c.customer_id FROM customers c JOIN (SELECT customer_id FROM orders GROUP BY customer_id "
            "HAVING SUM(amount) > 2000) o ON o.customer_id = c.customer_id WHERE c.country = 'US' "
            "UNION SELECT customer_id FROM customers WHERE churn_score > 0.6 "
            "AND customer_id IN (SELECT cust_id FROM support_calls WHERE escalated)",
        ),
        pd_union,
    ),
    Segment(
        "except",
        "EXCEPT",
        "(newsletter and count(orders) >= 10) except loyalty_tier in ('gold', 'platinum')",
        (
            "SELECT c.customer_id FROM customers c JOIN (SELECT customer_id FROM orders GROUP BY customer_id "
            "HAVING COUNT(*) >= 10) o ON o.customer_id = c.customer_id WHERE c.newsletter "
            "EXCEPT SELECT customer_id FROM customers WHERE loyalty_tier IN ('gold', 'platinum')",
            "SELECT c.customer_id FROM customers c JOIN (SELECT customer_id FROM orders GROUP BY customer_id "
            "HAVING COUNT(*) >= 10) o ON o.customer_id = c.customer_id WHERE c.newsletter "
            "AND (c.loyalty_tier IS NULL OR c.loyalty_tier NOT IN ('gold', 'platinum'))",
        ),
        pd_except,
    ),
    Segment(
        "intersect",
        "INTERSECT of any() and none()",
        "any(web_events where event_type = 'add_to_cart') intersect none(orders where order_date in last 90 days)",
        (
            "SELECT customer_id FROM web_events WHERE event_type = 'add_to_cart' "
            "EXCEPT SELECT customer_id FROM orders WHERE order_date BETWEEN DATE '{d90}' AND DATE '{anchor}'",
        ),
        pd_intersect,
    ),
    Segment(
        "segment_refs",
        "in segment / not in segment",
        "in segment high_value and not in segment churn_risk",
        (
            "SELECT customer_id FROM orders GROUP BY customer_id HAVING SUM(amount) >= 1000 "
            "EXCEPT (SELECT customer_id FROM customers WHERE churn_score > 0.5 "
            "UNION SELECT cust_id FROM support_calls WHERE escalated GROUP BY cust_id HAVING COUNT(*) >= 2)",
        ),
        pd_segment_refs,
    ),
    Segment(
        "projection",
        "PROJECT aggregates over two paths",
        "loyalty_tier = 'platinum' and count(orders) >= 5 "
        "project sum(orders.amount) as total_spend, max(orders.order_date) as last_order, "
        "count(support_calls) as calls",
        (
            "SELECT c.*, o.total_spend, o.last_order, COALESCE(s.calls, 0) AS calls FROM customers c "
            "JOIN (SELECT customer_id, SUM(amount) AS total_spend, MAX(order_date) AS last_order "
            "FROM orders GROUP BY customer_id HAVING COUNT(*) >= 5) o ON o.customer_id = c.customer_id "
            "LEFT JOIN (SELECT cust_id, COUNT(*) AS calls FROM support_calls GROUP BY cust_id) s "
            "ON s.cust_id = c.customer_id WHERE c.loyalty_tier = 'platinum'",
        ),
        pd_projection,
        ("total_spend", "last_order", "calls"),
    ),
    Segment(
        "projection_filtered",
        "PROJECT a filtered aggregate",
        "any(orders where channel = 'app') project count(orders where channel = 'app') as app_orders, "
        "avg(orders.amount) as avg_order",
        (
            "SELECT c.*, o.app_orders, o.avg_order FROM customers c JOIN (SELECT customer_id, "
            "COUNT(CASE WHEN channel = 'app' THEN 1 END) AS app_orders, AVG(amount) AS avg_order "
            "FROM orders GROUP BY customer_id HAVING COUNT(CASE WHEN channel = 'app' THEN 1 END) > 0) o "
            "ON o.customer_id = c.customer_id",
        ),
        pd_projection_filtered,
        ("app_orders", "avg_order"),
    ),
    Segment(
        "ranking",
        "top p% by an aggregate among a population",
        "top 10% by sum(orders.amount) among country = 'DE'",
        (
            "SELECT customer_id FROM (SELECT c.customer_id, NTILE(10) OVER (ORDER BY COALESCE(s.total, 0) DESC, "
            "c.customer_id) AS tile FROM customers c LEFT JOIN (SELECT customer_id, SUM(amount) AS total "
            "FROM orders GROUP BY customer_id) s ON s.customer_id = c.customer_id WHERE c.country = 'DE') r "
            "WHERE tile = 1",
            "SELECT customer_id FROM (SELECT c.customer_id, ROW_NUMBER() OVER (ORDER BY COALESCE(s.total, 0) DESC, "
            "c.customer_id) AS rn, COUNT(*) OVER () AS n FROM customers c LEFT JOIN (SELECT customer_id, "
            "SUM(amount) AS total FROM orders GROUP BY customer_id) s ON s.customer_id = c.customer_id "
            "WHERE c.country = 'DE') r WHERE (rn - 1) * 10 < n",
        ),
        pd_ranking,
    ),
    Segment(
        "median_spend",
        "median of related records",
        "median(orders.amount) > 60",
        (
            "SELECT customer_id FROM orders GROUP BY customer_id "
            "HAVING PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY amount) > 60",
        ),
        pd_median_spend,
    ),
    Segment(
        "basket",
        "aggregate of an expression over a two-step path",
        "sum(orders.order_lines.quantity * orders.order_lines.unit_price) > 500",
        (
            "SELECT o.customer_id FROM orders o JOIN order_lines l ON l.order_id = o.order_id "
            "GROUP BY o.customer_id HAVING SUM(l.quantity * l.unit_price) > 500",
        ),
        pd_basket,
    ),
    Segment(
        "first_channel",
        "first(x by y): the value on the earliest record",
        "first(orders.channel by order_date) = 'web'",
        (
            "SELECT customer_id FROM (SELECT customer_id, channel, ROW_NUMBER() OVER (PARTITION BY customer_id "
            "ORDER BY order_date, order_id) AS rn FROM orders WHERE order_date IS NOT NULL) t "
            "WHERE rn = 1 AND channel = 'web'",
        ),
        pd_first_channel,
    ),
    Segment(
        "mode_channel",
        "mode(x): the most frequent value, ties to the smallest",
        "mode(orders.channel) = 'web'",
        (
            "SELECT customer_id FROM (SELECT customer_id, channel, ROW_NUMBER() OVER (PARTITION BY customer_id "
            "ORDER BY COUNT(*) DESC, channel) AS rn FROM orders WHERE channel IS NOT NULL "
            "GROUP BY customer_id, channel) t WHERE rn = 1 AND channel = 'web'",
        ),
        pd_mode_channel,
    ),
    Segment(
        "spread",
        "stddev (sample) and a percentile of related records",
        "stddev(orders.amount) > 40 and percentile(orders.amount, 0.9) > 150",
        (
            "SELECT customer_id FROM orders GROUP BY customer_id HAVING STDDEV_SAMP(amount) > 40 "
            "AND PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY amount) > 150",
        ),
        pd_stddev_percentile,
    ),
)

# Tables each pandas version needs loaded (the "including loading" figure loads them all once).
PANDAS_TABLES = ("customers", "regions", "products", "orders", "order_lines", "support_calls", "web_events")
