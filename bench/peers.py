"""Figure 2's peers: the suite in polars (lazy API) and in ibis (on DuckDB), beside pandas.

Both are written as a user of each library writes them, independently of the compiler:

- **polars**: the tables read out of the same DuckDB file as Arrow and wrapped as ``pl.LazyFrame``s
  (``load_polars``: the "loading" of figure 2), then ``filter``, ``join`` (inner, semi, anti),
  ``group_by().agg()`` with filtered aggregates, ``is_in`` and window-style sorts; ``collect()`` at the
  end. Each function returns a LazyFrame of ``customer_id`` (and the projected columns).
- **ibis**: ``ibis.duckdb.from_connection`` on the same DuckDB connection as the compiled SQL (ibis
  compiles to SQL and DuckDB runs it: nothing is loaded), ``filter``, ``group_by().agg()``,
  ``semi_join`` / ``anti_join``, ``union``, window functions. Each function returns an ibis table
  expression; ``to_pyarrow()`` runs it.

Every run checks that each returns exactly the compiled SQL's members (and projected values) before
anything is timed (``versus_peers``; the smoke test checks it at 3,000 customers).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import ibis
import polars as pl
from ibis import _

from .harness import compiled_sql, duckdb_runner, result_frame, same_members, time_interleaved
from .suite import DATES, PANDAS_TABLES, SUITE, Segment

Lazy = dict[str, pl.LazyFrame]
PolarsFn = Callable[[Lazy], pl.LazyFrame]
IbisFn = Callable[[Any], Any]  # an ibis backend -> a table expression


def _d(key: str) -> dt.date:
    return dt.date.fromisoformat(DATES[key])


ANCHOR, NEXT, D30, D90, D180, D365 = (_d(k) for k in ("anchor", "next", "d30", "d90", "d180", "d365"))


# --- polars ------------------------------------------------------------------------------------------
def load_polars(conn: duckdb.DuckDBPyConnection) -> tuple[Lazy, float]:
    """Every table read out of DuckDB into polars once (DuckDB's ``.pl()``: Arrow record batches, the
    fastest way out; ``pl.from_arrow`` of a whole Arrow table took 1.5-2x longer), then used lazily."""
    t = time.perf_counter()
    lazy = {table: conn.sql(f"SELECT * FROM {table}").pl().lazy() for table in PANDAS_TABLES}
    return lazy, time.perf_counter() - t


def _in_last(col: str, start: dt.date) -> pl.Expr:
    return pl.col(col).is_between(start, ANCHOR)


def _pl_high_value(f: Lazy) -> pl.LazyFrame:
    spend = f["orders"].group_by("customer_id").agg(pl.col("amount").sum())
    return spend.filter(pl.col("amount") >= 1000).select("customer_id")


def _pl_churn_risk(f: Lazy) -> pl.LazyFrame:
    risky = f["customers"].filter(pl.col("churn_score") > 0.5).select("customer_id")
    esc = (
        f["support_calls"]
        .filter(pl.col("escalated"))
        .group_by("cust_id")
        .len()
        .filter(pl.col("len") >= 2)
        .select(customer_id="cust_id")
    )
    return pl.concat([risky, esc]).unique()


def pl_attributes(f: Lazy) -> pl.LazyFrame:
    c = f["customers"]
    return c.filter((pl.col("country") == "DE") & (pl.col("age") >= 30) & pl.col("newsletter")).select(
        "customer_id"
    )


def pl_in_between_null(f: Lazy) -> pl.LazyFrame:
    return (
        f["customers"]
        .filter(
            pl.col("loyalty_tier").is_in(["gold", "platinum"]),
            pl.col("churn_score").is_between(0.2, 0.5),
            pl.col("region_id").is_not_null(),
        )
        .select("customer_id")
    )


def pl_strings(f: Lazy) -> pl.LazyFrame:
    first = pl.col("first_name").str.to_lowercase().str.starts_with("an")
    last = pl.col("last_name").str.to_lowercase().str.contains("son", literal=True)
    return f["customers"].filter(first | last, pl.col("email") != "").select("customer_id")


def pl_dates(f: Lazy) -> pl.LazyFrame:
    return (
        f["customers"]
        .filter(_in_last("signup_date", D90) | (pl.col("birth_date") < dt.date(1960, 1, 1)))
        .select("customer_id")
    )


def pl_to_one(f: Lazy) -> pl.LazyFrame:
    north = f["regions"].filter(pl.col("name") == "North")
    return (
        f["customers"]
        .join(north, on="region_id", how="semi")
        .filter(pl.col("newsletter"), pl.col("loyalty_tier").is_not_null())
        .select("customer_id")
    )


def pl_sum(f: Lazy) -> pl.LazyFrame:
    return _pl_high_value(f)


def pl_count_where(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .filter(pl.col("status") == "delivered", _in_last("order_date", D365))
        .group_by("customer_id")
        .len()
        .filter(pl.col("len") >= 5)
        .select("customer_id")
    )


def pl_two_filtered_aggs(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .group_by("customer_id")
        .agg(
            web=pl.col("amount").filter(pl.col("channel") == "web").sum(),
            returned=(pl.col("status") == "returned").sum(),
        )
        .filter(pl.col("web") > 500, pl.col("returned") == 0)
        .select("customer_id")
    )


def pl_avg_max(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .group_by("customer_id")
        .agg(avg=pl.col("amount").mean(), last=pl.col("order_date").max())
        .filter(pl.col("avg") > 80, pl.col("last") < dt.date(2025, 1, 1))
        .select("customer_id")
    )


def pl_any(f: Lazy) -> pl.LazyFrame:
    return (
        f["support_calls"]
        .filter(pl.col("escalated"), pl.col("topic") == "billing")
        .select(customer_id="cust_id")
        .unique()
    )


def pl_none_recent(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .group_by("customer_id")
        .agg(n=pl.len(), recent=_in_last("order_date", D180).sum())
        .filter(pl.col("n") >= 3, pl.col("recent") == 0)
        .select("customer_id")
    )


def pl_all(f: Lazy) -> pl.LazyFrame:
    delivered = (pl.col("status") == "delivered").fill_null(False)  # a NULL status is not delivered
    return (
        f["orders"]
        .group_by("customer_id")
        .agg(n=pl.len(), ok=delivered.all())
        .filter(pl.col("n") >= 2, pl.col("ok"))
        .select("customer_id")
    )


def pl_multi_hop_any(f: Lazy) -> pl.LazyFrame:
    electronics = f["products"].filter(pl.col("category") == "electronics")
    lines = f["order_lines"].filter(pl.col("quantity") >= 5).join(electronics, on="product_id", how="semi")
    return f["orders"].join(lines, on="order_id", how="semi").select("customer_id").unique()


def pl_multi_hop_sum(f: Lazy) -> pl.LazyFrame:
    orders = f["orders"].filter(pl.col("status") != "cancelled").select("order_id", "customer_id")
    return (
        f["order_lines"]
        .join(orders, on="order_id")
        .group_by("customer_id")
        .agg(pl.col("quantity").sum())
        .filter(pl.col("quantity") >= 60)
        .select("customer_id")
    )


def pl_nested_any(f: Lazy) -> pl.LazyFrame:
    big = f["order_lines"].group_by("order_id").agg(pl.col("quantity").sum()).filter(pl.col("quantity") > 30)
    return f["orders"].join(big, on="order_id", how="semi").select("customer_id").unique()


def pl_nested_count(f: Lazy) -> pl.LazyFrame:
    big = f["order_lines"].group_by("order_id").len().filter(pl.col("len") >= 5)
    return (
        f["orders"]
        .join(big, on="order_id", how="semi")
        .group_by("customer_id")
        .len()
        .filter(pl.col("len") >= 2)
        .select("customer_id")
    )


def pl_timestamps(f: Lazy) -> pl.LazyFrame:
    start, end = dt.datetime.combine(D30, dt.time()), dt.datetime.combine(NEXT, dt.time())
    checkout = f["web_events"].filter(
        pl.col("event_type") == "checkout", pl.col("event_time") >= start, pl.col("event_time") < end
    )
    recent = f["orders"].filter(_in_last("order_date", D30))
    return checkout.join(recent, on="customer_id", how="anti").select("customer_id").unique()


def pl_union(f: Lazy) -> pl.LazyFrame:
    c = f["customers"]
    big = f["orders"].group_by("customer_id").agg(pl.col("amount").sum()).filter(pl.col("amount") > 2000)
    left = c.filter(pl.col("country") == "US").join(big, on="customer_id", how="semi")
    esc = f["support_calls"].filter(pl.col("escalated")).select(customer_id="cust_id")
    right = c.filter(pl.col("churn_score") > 0.6).join(esc, on="customer_id", how="semi")
    return pl.concat([left.select("customer_id"), right.select("customer_id")]).unique()


def pl_except(f: Lazy) -> pl.LazyFrame:
    c = f["customers"]
    frequent = f["orders"].group_by("customer_id").len().filter(pl.col("len") >= 10)
    # "except loyalty_tier in (...)": a customer with no tier is not in the excepted group
    excepted = c.filter(pl.col("loyalty_tier").is_in(["gold", "platinum"]))
    return (
        c.filter(pl.col("newsletter"))
        .join(frequent, on="customer_id", how="semi")
        .join(excepted, on="customer_id", how="anti")
        .select("customer_id")
    )


def pl_intersect(f: Lazy) -> pl.LazyFrame:
    cart = f["web_events"].filter(pl.col("event_type") == "add_to_cart")
    recent = f["orders"].filter(_in_last("order_date", D90))
    return cart.join(recent, on="customer_id", how="anti").select("customer_id").unique()


def pl_segment_refs(f: Lazy) -> pl.LazyFrame:
    return _pl_high_value(f).join(_pl_churn_risk(f), on="customer_id", how="anti")


def pl_projection(f: Lazy) -> pl.LazyFrame:
    per = (
        f["orders"]
        .group_by("customer_id")
        .agg(n=pl.len(), total_spend=pl.col("amount").sum(), last_order=pl.col("order_date").max())
        .filter(pl.col("n") >= 5)
    )
    calls = f["support_calls"].group_by("cust_id").agg(calls=pl.len()).rename({"cust_id": "customer_id"})
    return (
        f["customers"]
        .filter(pl.col("loyalty_tier") == "platinum")
        .join(per, on="customer_id")
        .join(calls, on="customer_id", how="left")
        .select("customer_id", "total_spend", "last_order", pl.col("calls").fill_null(0))
    )


def pl_projection_filtered(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .group_by("customer_id")
        .agg(app_orders=(pl.col("channel") == "app").sum(), avg_order=pl.col("amount").mean())
        .filter(pl.col("app_orders") > 0)
    )


def pl_ranking(f: Lazy) -> pl.LazyFrame:
    spend = f["orders"].group_by("customer_id").agg(total=pl.col("amount").sum())
    return (
        f["customers"]
        .filter(pl.col("country") == "DE")
        .select("customer_id")
        .join(spend, on="customer_id", how="left")
        .with_columns(pl.col("total").fill_null(0.0))
        .sort(["total", "customer_id"], descending=[True, False])
        .filter(pl.int_range(pl.len()) * 10 < pl.len())  # the first 10% (rounded up)
        .select("customer_id")
    )


def pl_median_spend(f: Lazy) -> pl.LazyFrame:
    median = f["orders"].group_by("customer_id").agg(pl.col("amount").median())
    return median.filter(pl.col("amount") > 60).select("customer_id")


def pl_basket(f: Lazy) -> pl.LazyFrame:
    return (
        f["order_lines"]
        .join(f["orders"].select("order_id", "customer_id"), on="order_id")
        .group_by("customer_id")
        .agg(value=(pl.col("quantity") * pl.col("unit_price")).sum())
        .filter(pl.col("value") > 500)
        .select("customer_id")
    )


def pl_first_channel(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .filter(pl.col("order_date").is_not_null())
        .group_by("customer_id")
        .agg(pl.col("channel").sort_by("order_date", "order_id").first())
        .filter(pl.col("channel") == "web")
        .select("customer_id")
    )


def pl_mode_channel(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .filter(pl.col("channel").is_not_null())
        .group_by("customer_id", "channel")
        .len()
        .group_by("customer_id")
        .agg(pl.col("channel").sort_by("len", "channel", descending=[True, False]).first())
        .filter(pl.col("channel") == "web")
        .select("customer_id")
    )


def pl_stddev_percentile(f: Lazy) -> pl.LazyFrame:
    return (
        f["orders"]
        .group_by("customer_id")
        .agg(spread=pl.col("amount").std(ddof=1), p90=pl.col("amount").quantile(0.9, interpolation="linear"))
        .filter(pl.col("spread") > 40, pl.col("p90") > 150)
        .select("customer_id")
    )


# --- ibis --------------------------------------------------------------------------------------------
def ibis_backend(conn: duckdb.DuckDBPyConnection) -> Any:
    """ibis on the compiled SQL's own DuckDB connection (same database, same settings)."""
    return ibis.duckdb.from_connection(conn)


def _ib_in_last(col: Any, start: dt.date) -> Any:
    return col.between(start, ANCHOR)


def _ib_high_value(con: Any) -> Any:
    o = con.table("orders")
    return o.group_by("customer_id").agg(spend=o.amount.sum()).filter(_.spend >= 1000).select("customer_id")


def _ib_churn_risk(con: Any) -> Any:
    c, s = con.table("customers"), con.table("support_calls")
    esc = s.filter(s.escalated).group_by("cust_id").agg(n=_.count()).filter(_.n >= 2)
    return (
        c.filter(c.churn_score > 0.5)
        .select("customer_id")
        .union(esc.select(customer_id=esc.cust_id), distinct=True)
    )


def ib_attributes(con: Any) -> Any:
    c = con.table("customers")
    return c.filter(c.country == "DE", c.age >= 30, c.newsletter).select("customer_id")


def ib_in_between_null(con: Any) -> Any:
    c = con.table("customers")
    return c.filter(
        c.loyalty_tier.isin(["gold", "platinum"]), c.churn_score.between(0.2, 0.5), c.region_id.notnull()
    ).select("customer_id")


def ib_strings(con: Any) -> Any:
    c = con.table("customers")
    first = c.first_name.lower().startswith("an")
    last = c.last_name.lower().contains("son")
    return c.filter(first | last, c.email != "").select("customer_id")


def ib_dates(con: Any) -> Any:
    c = con.table("customers")
    return c.filter(_ib_in_last(c.signup_date, D90) | (c.birth_date < dt.date(1960, 1, 1))).select(
        "customer_id"
    )


def ib_to_one(con: Any) -> Any:
    c, r = con.table("customers"), con.table("regions")
    j = c.join(r, "region_id")
    return j.filter(j.name == "North", j.newsletter, j.loyalty_tier.notnull()).select("customer_id")


def ib_sum(con: Any) -> Any:
    return _ib_high_value(con)


def ib_count_where(con: Any) -> Any:
    o = con.table("orders")
    delivered = o.filter(o.status == "delivered", _ib_in_last(o.order_date, D365))
    return delivered.group_by("customer_id").agg(n=_.count()).filter(_.n >= 5).select("customer_id")


def ib_two_filtered_aggs(con: Any) -> Any:
    o = con.table("orders")
    per = o.group_by("customer_id").agg(
        web=o.amount.sum(where=o.channel == "web"), returned=o.count(where=o.status == "returned")
    )
    return per.filter(_.web > 500, _.returned == 0).select("customer_id")


def ib_avg_max(con: Any) -> Any:
    o = con.table("orders")
    per = o.group_by("customer_id").agg(avg=o.amount.mean(), last=o.order_date.max())
    return per.filter(_.avg > 80, _.last < dt.date(2025, 1, 1)).select("customer_id")


def ib_any(con: Any) -> Any:
    s = con.table("support_calls")
    return s.filter(s.escalated, s.topic == "billing").select(customer_id=s.cust_id).distinct()


def ib_none_recent(con: Any) -> Any:
    o = con.table("orders")
    per = o.group_by("customer_id").agg(n=o.count(), recent=o.count(where=_ib_in_last(o.order_date, D180)))
    return per.filter(_.n >= 3, _.recent == 0).select("customer_id")


def ib_all(con: Any) -> Any:
    o = con.table("orders")
    delivered = (o.status == "delivered").fill_null(False)  # a NULL status is not delivered
    per = o.group_by("customer_id").agg(n=o.count(), ok=delivered.all())
    return per.filter(_.n >= 2, _.ok).select("customer_id")


def ib_multi_hop_any(con: Any) -> Any:
    o, lines, p = con.table("orders"), con.table("order_lines"), con.table("products")
    hits = lines.filter(lines.quantity >= 5).semi_join(p.filter(p.category == "electronics"), "product_id")
    return o.semi_join(hits, "order_id").select("customer_id").distinct()


def ib_multi_hop_sum(con: Any) -> Any:
    o, lines = con.table("orders"), con.table("order_lines")
    j = lines.join(o.filter(o.status != "cancelled"), "order_id")
    return j.group_by("customer_id").agg(q=j.quantity.sum()).filter(_.q >= 60).select("customer_id")


def ib_nested_any(con: Any) -> Any:
    o, lines = con.table("orders"), con.table("order_lines")
    big = lines.group_by("order_id").agg(q=lines.quantity.sum()).filter(_.q > 30)
    return o.semi_join(big, "order_id").select("customer_id").distinct()


def ib_nested_count(con: Any) -> Any:
    o, lines = con.table("orders"), con.table("order_lines")
    big = lines.group_by("order_id").agg(n=_.count()).filter(_.n >= 5)
    per = o.semi_join(big, "order_id").group_by("customer_id").agg(n=_.count())
    return per.filter(_.n >= 2).select("customer_id")


def ib_timestamps(con: Any) -> Any:
    w, o = con.table("web_events"), con.table("orders")
    start, end = dt.datetime.combine(D30, dt.time()), dt.datetime.combine(NEXT, dt.time())
    checkout = w.filter(w.event_type == "checkout", w.event_time >= start, w.event_time < end)
    recent = o.filter(_ib_in_last(o.order_date, D30))
    return checkout.anti_join(recent, "customer_id").select("customer_id").distinct()


def ib_union(con: Any) -> Any:
    c, o, s = con.table("customers"), con.table("orders"), con.table("support_calls")
    big = o.group_by("customer_id").agg(spend=o.amount.sum()).filter(_.spend > 2000)
    left = c.filter(c.country == "US").semi_join(big, "customer_id").select("customer_id")
    esc = s.filter(s.escalated)
    right = c.filter(c.churn_score > 0.6).semi_join(esc, c.customer_id == esc.cust_id).select("customer_id")
    return left.union(right, distinct=True)


def ib_except(con: Any) -> Any:
    c, o = con.table("customers"), con.table("orders")
    frequent = o.group_by("customer_id").agg(n=_.count()).filter(_.n >= 10)
    subs = c.filter(c.newsletter).semi_join(frequent, "customer_id").select("customer_id")
    return subs.difference(c.filter(c.loyalty_tier.isin(["gold", "platinum"])).select("customer_id"))


def ib_intersect(con: Any) -> Any:
    w, o = con.table("web_events"), con.table("orders")
    cart = w.filter(w.event_type == "add_to_cart")
    recent = o.filter(_ib_in_last(o.order_date, D90))
    return cart.anti_join(recent, "customer_id").select("customer_id").distinct()


def ib_segment_refs(con: Any) -> Any:
    return _ib_high_value(con).difference(_ib_churn_risk(con))


def ib_projection(con: Any) -> Any:
    c, o, s = con.table("customers"), con.table("orders"), con.table("support_calls")
    per = (
        o.group_by("customer_id")
        .agg(n=o.count(), total_spend=o.amount.sum(), last_order=o.order_date.max())
        .filter(_.n >= 5)
    )
    calls = s.group_by("cust_id").agg(calls=s.count())
    j = c.filter(c.loyalty_tier == "platinum").join(per, "customer_id")
    j = j.left_join(calls, j.customer_id == calls.cust_id)
    return j.select("customer_id", "total_spend", "last_order", calls=j.calls.fill_null(0))


def ib_projection_filtered(con: Any) -> Any:
    o = con.table("orders")
    per = o.group_by("customer_id").agg(
        app_orders=o.count(where=o.channel == "app"), avg_order=o.amount.mean()
    )
    return per.filter(_.app_orders > 0)


def ib_ranking(con: Any) -> Any:
    c, o = con.table("customers"), con.table("orders")
    spend = o.group_by("customer_id").agg(total=o.amount.sum())
    de = c.filter(c.country == "DE").select("customer_id").left_join(spend, "customer_id")
    de = de.select("customer_id", total=de.total.fill_null(0.0))
    ranked = de.mutate(tile=ibis.ntile(10).over(order_by=[ibis.desc("total"), "customer_id"]))
    return ranked.filter(ranked.tile == 0).select("customer_id")  # ibis numbers tiles from 0


def ib_median_spend(con: Any) -> Any:
    o = con.table("orders")
    return o.group_by("customer_id").agg(m=o.amount.median()).filter(_.m > 60).select("customer_id")


def ib_basket(con: Any) -> Any:
    o, lines = con.table("orders"), con.table("order_lines")
    j = lines.join(o, "order_id")
    per = j.group_by("customer_id").agg(value=(j.quantity * j.unit_price).sum())
    return per.filter(_.value > 500).select("customer_id")


def ib_first_channel(con: Any) -> Any:
    o = con.table("orders")
    o = o.filter(o.order_date.notnull())
    first = o.group_by("customer_id").agg(
        channel=o.channel.first(order_by=[o.order_date, o.order_id], include_null=True)
    )
    return first.filter(first.channel == "web").select("customer_id")


def ib_mode_channel(con: Any) -> Any:
    o = con.table("orders")
    counts = o.filter(o.channel.notnull()).group_by("customer_id", "channel").agg(n=_.count())
    rank = ibis.row_number().over(group_by="customer_id", order_by=[ibis.desc("n"), "channel"])
    top = counts.mutate(rn=rank)
    return top.filter(top.rn == 0, top.channel == "web").select("customer_id")


def ib_stddev_percentile(con: Any) -> Any:
    o = con.table("orders")
    per = o.group_by("customer_id").agg(spread=o.amount.std(how="sample"), p90=o.amount.quantile(0.9))
    return per.filter(_.spread > 40, _.p90 > 150).select("customer_id")


# --- the table -----------------------------------------------------------------------------------------
POLARS: dict[str, PolarsFn] = {
    "attributes": pl_attributes,
    "in_between_null": pl_in_between_null,
    "strings": pl_strings,
    "dates": pl_dates,
    "to_one_hop": pl_to_one,
    "sum": pl_sum,
    "count_where": pl_count_where,
    "two_filtered_aggs": pl_two_filtered_aggs,
    "avg_max": pl_avg_max,
    "any": pl_any,
    "none_recent": pl_none_recent,
    "all": pl_all,
    "multi_hop_any": pl_multi_hop_any,
    "multi_hop_sum": pl_multi_hop_sum,
    "nested_any": pl_nested_any,
    "nested_count": pl_nested_count,
    "timestamps": pl_timestamps,
    "union": pl_union,
    "except": pl_except,
    "intersect": pl_intersect,
    "segment_refs": pl_segment_refs,
    "projection": pl_projection,
    "projection_filtered": pl_projection_filtered,
    "ranking": pl_ranking,
    "median_spend": pl_median_spend,
    "basket": pl_basket,
    "first_channel": pl_first_channel,
    "mode_channel": pl_mode_channel,
    "spread": pl_stddev_percentile,
}
IBIS: dict[str, IbisFn] = {
    "attributes": ib_attributes,
    "in_between_null": ib_in_between_null,
    "strings": ib_strings,
    "dates": ib_dates,
    "to_one_hop": ib_to_one,
    "sum": ib_sum,
    "count_where": ib_count_where,
    "two_filtered_aggs": ib_two_filtered_aggs,
    "avg_max": ib_avg_max,
    "any": ib_any,
    "none_recent": ib_none_recent,
    "all": ib_all,
    "multi_hop_any": ib_multi_hop_any,
    "multi_hop_sum": ib_multi_hop_sum,
    "nested_any": ib_nested_any,
    "nested_count": ib_nested_count,
    "timestamps": ib_timestamps,
    "union": ib_union,
    "except": ib_except,
    "intersect": ib_intersect,
    "segment_refs": ib_segment_refs,
    "projection": ib_projection,
    "projection_filtered": ib_projection_filtered,
    "ranking": ib_ranking,
    "median_spend": ib_median_spend,
    "basket": ib_basket,
    "first_channel": ib_first_channel,
    "mode_channel": ib_mode_channel,
    "spread": ib_stddev_percentile,
}


def run_polars(seg: Segment, frames: Lazy) -> pl.DataFrame:
    return POLARS[seg.name](frames).collect()


def run_ibis(seg: Segment, con: Any) -> Any:
    """Build the expression and run it (ibis compiles it to SQL, DuckDB runs it, Arrow comes back)."""
    return IBIS[seg.name](con).to_pyarrow()


def ibis_sql(seg: Segment, con: Any) -> str:
    return str(ibis.to_sql(IBIS[seg.name](con), dialect="duckdb"))


def check(seg: Segment, reference: Any, polars_out: Any = None, ibis_out: Any = None) -> None:
    """Raise unless each given peer result holds exactly the reference (compiled) members and values."""
    for name, out in (("polars", polars_out), ("ibis", ibis_out)):
        if out is None:
            continue
        problem = same_members(reference, result_frame(out, seg))
        if problem:
            raise AssertionError(f"{seg.name}: the {name} version differs from the compiled SQL: {problem}")


# --- figure 2, peers side ------------------------------------------------------------------------------
@dataclass
class VsPeers:
    customers: int
    segment: str
    compiled_s: float  # timed interleaved with the peers (same rounds)
    polars_s: float  # lazy query + collect (tables already in polars)
    ibis_s: float  # build the expression + compile to SQL + DuckDB run + Arrow result
    ibis_sql_s: float  # ibis' SQL text alone, run as the compiled SQL is (DuckDB's plan, no ibis overhead)
    polars_ratio: float  # polars / compiled
    ibis_ratio: float  # ibis / compiled


def versus_peers(
    frames: Lazy,
    conn: duckdb.DuckDBPyConnection,
    ws: Any,
    customers: int,
    rounds: int,
    suite: tuple[Segment, ...] | list[Segment] = SUITE,
) -> list[VsPeers]:
    """Per segment: compiled SQL, polars, ibis and ibis' SQL interleaved, best of ``rounds``; every
    peer's result is checked against the compiled SQL's first (also the warm-up)."""
    run = duckdb_runner(conn)
    con = ibis_backend(conn)
    rows = []
    for seg in suite:
        compiled = compiled_sql(ws, seg)
        reference = result_frame(run(compiled), seg)
        check(seg, reference, run_polars(seg, frames), run_ibis(seg, con))
        isql = ibis_sql(seg, con)
        check(seg, reference, ibis_out=run(isql))
        t = time_interleaved(
            {
                "compiled": lambda s=compiled: run(s),
                "polars": lambda s=seg: run_polars(s, frames),
                "ibis": lambda s=seg: run_ibis(s, con),
                "ibis_sql": lambda s=isql: run(s),
            },
            rounds,
        )
        c = t["compiled"].best
        rows.append(
            VsPeers(
                customers,
                seg.name,
                c,
                t["polars"].best,
                t["ibis"].best,
                t["ibis_sql"].best,
                t["polars"].best / c,
                t["ibis"].best / c,
            )  # fmt: skip
        )
    return rows
