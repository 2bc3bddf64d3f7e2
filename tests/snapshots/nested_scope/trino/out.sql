-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      orders_1.customer_id
    FROM orders AS orders_1
    LEFT JOIN (
      SELECT
        order_lines_1.order_id AS k,
        SUM(order_lines_1.quantity) AS sum_1
      FROM order_lines AS order_lines_1
      GROUP BY
        order_lines_1.order_id
    ) AS order_lines_agg_1
      ON order_lines_agg_1.k = orders_1.order_id
    WHERE
      order_lines_agg_1.sum_1 > 30
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      orders_1.customer_id
    FROM orders AS orders_1
    LEFT JOIN (
      SELECT
        order_lines_1.order_id AS k,
        SUM(order_lines_1.quantity) AS sum_1
      FROM order_lines AS order_lines_1
      GROUP BY
        order_lines_1.order_id
    ) AS order_lines_agg_1
      ON order_lines_agg_1.k = orders_1.order_id
    WHERE
      order_lines_agg_1.sum_1 > 30
  );
