-- as_of=None
SELECT
  COUNT(*) AS members
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(orders_1.amount) AS sum_1
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
WHERE
  orders_agg_1.sum_1 >= 1000;

-- as_of=2025-06-30T12:30:00
SELECT
  COUNT(*) AS members
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(orders_1.amount) AS sum_1
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
WHERE
  orders_agg_1.sum_1 >= 1000;
