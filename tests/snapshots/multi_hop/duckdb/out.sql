-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    COUNT(DISTINCT order_lines_1.product_id) AS count_distinct_1,
    SUM(order_lines_1.quantity) AS sum_2
  FROM orders AS orders_1
  JOIN order_lines AS order_lines_1
    ON order_lines_1.order_id = orders_1.order_id
  GROUP BY
    orders_1.customer_id
) AS order_lines_agg_1
  ON order_lines_agg_1.k = c.customer_id
WHERE
  order_lines_agg_1.count_distinct_1 >= 5 AND order_lines_agg_1.sum_2 > 10;

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    COUNT(DISTINCT order_lines_1.product_id) AS count_distinct_1,
    SUM(order_lines_1.quantity) AS sum_2
  FROM orders AS orders_1
  JOIN order_lines AS order_lines_1
    ON order_lines_1.order_id = orders_1.order_id
  GROUP BY
    orders_1.customer_id
) AS order_lines_agg_1
  ON order_lines_agg_1.k = c.customer_id
WHERE
  order_lines_agg_1.count_distinct_1 >= 5 AND order_lines_agg_1.sum_2 > 10;
