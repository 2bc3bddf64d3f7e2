-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(
      CASE WHEN orders_1.channel = CAST('web' AS BINARY) THEN orders_1.amount ELSE 0 END
    ) AS sum_1
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    orders_2.customer_id AS k,
    SUM((
      order_lines_1.quantity
    ) * (
      order_lines_1.unit_price
    )) AS sum_1
  FROM orders AS orders_2
  JOIN order_lines AS order_lines_1
    ON order_lines_1.order_id = orders_2.order_id
  GROUP BY
    orders_2.customer_id
) AS order_lines_agg_1
  ON order_lines_agg_1.k = c.customer_id
WHERE
  order_lines_agg_1.sum_1 > 500 AND orders_agg_1.sum_1 > 100;

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(
      CASE WHEN orders_1.channel = CAST('web' AS BINARY) THEN orders_1.amount ELSE 0 END
    ) AS sum_1
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    orders_2.customer_id AS k,
    SUM((
      order_lines_1.quantity
    ) * (
      order_lines_1.unit_price
    )) AS sum_1
  FROM orders AS orders_2
  JOIN order_lines AS order_lines_1
    ON order_lines_1.order_id = orders_2.order_id
  GROUP BY
    orders_2.customer_id
) AS order_lines_agg_1
  ON order_lines_agg_1.k = c.customer_id
WHERE
  order_lines_agg_1.sum_1 > 500 AND orders_agg_1.sum_1 > 100;
