-- as_of=None
SELECT
  c.customer_id,
  c.first_name,
  c.last_name,
  c.email,
  c.country,
  c.city,
  c.region_id,
  c.gender,
  c.age,
  c.birth_date,
  c.signup_date,
  c.newsletter,
  c.loyalty_tier,
  c.churn_score,
  COALESCE(orders_agg_1.sum_1, 0) AS spend_90d,
  COALESCE(support_calls_agg_1.count_1, 0) AS calls,
  regions_1.name AS region
FROM customers AS c
LEFT JOIN regions AS regions_1
  ON regions_1.region_id = c.region_id
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(
      CASE
        WHEN orders_1.order_date >= DATE('now', '-90 days')
        AND orders_1.order_date <= DATE('now')
        THEN orders_1.amount
      END
    ) AS sum_1,
    COUNT(*) AS count_2
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    support_calls_1.cust_id AS k,
    COUNT(*) AS count_1
  FROM support_calls AS support_calls_1
  GROUP BY
    support_calls_1.cust_id
) AS support_calls_agg_1
  ON support_calls_agg_1.k = c.customer_id
WHERE
  orders_agg_1.count_2 > 0;

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id,
  c.first_name,
  c.last_name,
  c.email,
  c.country,
  c.city,
  c.region_id,
  c.gender,
  c.age,
  c.birth_date,
  c.signup_date,
  c.newsletter,
  c.loyalty_tier,
  c.churn_score,
  COALESCE(orders_agg_1.sum_1, 0) AS spend_90d,
  COALESCE(support_calls_agg_1.count_1, 0) AS calls,
  regions_1.name AS region
FROM customers AS c
LEFT JOIN regions AS regions_1
  ON regions_1.region_id = c.region_id
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(
      CASE
        WHEN orders_1.order_date >= '2025-04-01' AND orders_1.order_date <= '2025-06-30'
        THEN orders_1.amount
      END
    ) AS sum_1,
    COUNT(*) AS count_2
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    support_calls_1.cust_id AS k,
    COUNT(*) AS count_1
  FROM support_calls AS support_calls_1
  GROUP BY
    support_calls_1.cust_id
) AS support_calls_agg_1
  ON support_calls_agg_1.k = c.customer_id
WHERE
  orders_agg_1.count_2 > 0;
