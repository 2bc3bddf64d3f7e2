-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    QUANTILE_CONT(CAST(orders_1.amount AS DOUBLE), 0.5) AS median_1,
    QUANTILE_CONT(
      CAST(CASE WHEN orders_1.status <> 'returned' THEN orders_1.amount END AS DOUBLE),
      0.9
    ) AS percentile_2,
    STDDEV_SAMP(orders_1.amount) AS stddev_3
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    ordered_1.k AS k,
    FIRST(ordered_1.v ORDER BY ordered_1.n DESC, ordered_1.v ASC) AS v
  FROM (
    SELECT
      orders_2.customer_id AS k,
      products_1.category AS v,
      COUNT(*) AS n
    FROM orders AS orders_2
    JOIN order_lines AS order_lines_1
      ON order_lines_1.order_id = orders_2.order_id
    LEFT JOIN products AS products_1
      ON products_1.product_id = order_lines_1.product_id
    WHERE
      products_1.category IS NOT NULL
    GROUP BY
      orders_2.customer_id,
      products_1.category
  ) AS ordered_1
  GROUP BY
    ordered_1.k
) AS order_lines_mode_1
  ON order_lines_mode_1.k = c.customer_id
LEFT JOIN (
  SELECT
    orders_3.customer_id AS k,
    FIRST(orders_3.channel ORDER BY orders_3.order_date ASC, orders_3.order_id ASC) AS v
  FROM orders AS orders_3
  WHERE
    orders_3.order_date IS NOT NULL
  GROUP BY
    orders_3.customer_id
) AS orders_first_1
  ON orders_first_1.k = c.customer_id
LEFT JOIN (
  SELECT
    support_calls_1.cust_id AS k,
    FIRST(
      support_calls_1.topic ORDER BY support_calls_1.called_at DESC, CASE WHEN support_calls_1.topic IS NULL THEN 1 ELSE 0 END ASC, support_calls_1.topic ASC
    ) AS v
  FROM support_calls AS support_calls_1
  WHERE
    support_calls_1.called_at IS NOT NULL
  GROUP BY
    support_calls_1.cust_id
) AS support_calls_last_1
  ON support_calls_last_1.k = c.customer_id
WHERE
  orders_agg_1.median_1 > 40
  AND orders_agg_1.percentile_2 > 100
  AND orders_agg_1.stddev_3 > 10
  AND order_lines_mode_1.v = 'toys'
  AND orders_first_1.v = 'web'
  AND support_calls_last_1.v = 'billing'
  AND c.customer_id IN (
    SELECT
      orders_4.customer_id
    FROM orders AS orders_4
    LEFT JOIN (
      SELECT
        order_lines_2.order_id AS k,
        QUANTILE_CONT(CAST(order_lines_2.quantity AS DOUBLE), 0.5) AS median_1
      FROM order_lines AS order_lines_2
      GROUP BY
        order_lines_2.order_id
    ) AS order_lines_agg_1
      ON order_lines_agg_1.k = orders_4.order_id
    WHERE
      order_lines_agg_1.median_1 > 2
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    QUANTILE_CONT(CAST(orders_1.amount AS DOUBLE), 0.5) AS median_1,
    QUANTILE_CONT(
      CAST(CASE WHEN orders_1.status <> 'returned' THEN orders_1.amount END AS DOUBLE),
      0.9
    ) AS percentile_2,
    STDDEV_SAMP(orders_1.amount) AS stddev_3
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    ordered_1.k AS k,
    FIRST(ordered_1.v ORDER BY ordered_1.n DESC, ordered_1.v ASC) AS v
  FROM (
    SELECT
      orders_2.customer_id AS k,
      products_1.category AS v,
      COUNT(*) AS n
    FROM orders AS orders_2
    JOIN order_lines AS order_lines_1
      ON order_lines_1.order_id = orders_2.order_id
    LEFT JOIN products AS products_1
      ON products_1.product_id = order_lines_1.product_id
    WHERE
      products_1.category IS NOT NULL
    GROUP BY
      orders_2.customer_id,
      products_1.category
  ) AS ordered_1
  GROUP BY
    ordered_1.k
) AS order_lines_mode_1
  ON order_lines_mode_1.k = c.customer_id
LEFT JOIN (
  SELECT
    orders_3.customer_id AS k,
    FIRST(orders_3.channel ORDER BY orders_3.order_date ASC, orders_3.order_id ASC) AS v
  FROM orders AS orders_3
  WHERE
    orders_3.order_date IS NOT NULL
  GROUP BY
    orders_3.customer_id
) AS orders_first_1
  ON orders_first_1.k = c.customer_id
LEFT JOIN (
  SELECT
    support_calls_1.cust_id AS k,
    FIRST(
      support_calls_1.topic ORDER BY support_calls_1.called_at DESC, CASE WHEN support_calls_1.topic IS NULL THEN 1 ELSE 0 END ASC, support_calls_1.topic ASC
    ) AS v
  FROM support_calls AS support_calls_1
  WHERE
    support_calls_1.called_at IS NOT NULL
  GROUP BY
    support_calls_1.cust_id
) AS support_calls_last_1
  ON support_calls_last_1.k = c.customer_id
WHERE
  orders_agg_1.median_1 > 40
  AND orders_agg_1.percentile_2 > 100
  AND orders_agg_1.stddev_3 > 10
  AND order_lines_mode_1.v = 'toys'
  AND orders_first_1.v = 'web'
  AND support_calls_last_1.v = 'billing'
  AND c.customer_id IN (
    SELECT
      orders_4.customer_id
    FROM orders AS orders_4
    LEFT JOIN (
      SELECT
        order_lines_2.order_id AS k,
        QUANTILE_CONT(CAST(order_lines_2.quantity AS DOUBLE), 0.5) AS median_1
      FROM order_lines AS order_lines_2
      GROUP BY
        order_lines_2.order_id
    ) AS order_lines_agg_1
      ON order_lines_agg_1.k = orders_4.order_id
    WHERE
      order_lines_agg_1.median_1 > 2
  );
