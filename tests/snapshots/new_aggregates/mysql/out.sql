-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    STDDEV_SAMP(orders_1.amount) AS stddev_1
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    ordered_1.k AS k,
    MIN(ordered_1.v) + (
      0.5 * (
        ordered_1.n - 1
      ) - (
        MIN(ordered_1.rn) - 1
      )
    ) * (
      MAX(ordered_1.v) - MIN(ordered_1.v)
    ) AS v
  FROM (
    SELECT
      orders_2.customer_id AS k,
      CAST(orders_2.amount AS DOUBLE) AS v,
      ROW_NUMBER() OVER (PARTITION BY orders_2.customer_id ORDER BY orders_2.amount ASC) AS rn,
      COUNT(*) OVER (PARTITION BY orders_2.customer_id) AS n
    FROM orders AS orders_2
    WHERE
      NOT (
        orders_2.amount IS NULL
      )
  ) AS ordered_1
  WHERE
    ordered_1.rn > 0.5 * (
      ordered_1.n - 1
    )
    AND ordered_1.rn < 0.5 * (
      ordered_1.n - 1
    ) + 2
  GROUP BY
    ordered_1.k,
    ordered_1.n
) AS orders_median_1
  ON orders_median_1.k = c.customer_id
LEFT JOIN (
  SELECT
    ordered_2.k AS k,
    MIN(ordered_2.v) + (
      0.9 * (
        ordered_2.n - 1
      ) - (
        MIN(ordered_2.rn) - 1
      )
    ) * (
      MAX(ordered_2.v) - MIN(ordered_2.v)
    ) AS v
  FROM (
    SELECT
      orders_3.customer_id AS k,
      CAST(orders_3.amount AS DOUBLE) AS v,
      ROW_NUMBER() OVER (PARTITION BY orders_3.customer_id ORDER BY orders_3.amount ASC) AS rn,
      COUNT(*) OVER (PARTITION BY orders_3.customer_id) AS n
    FROM orders AS orders_3
    WHERE
      orders_3.status <> CAST('returned' AS BINARY)
      AND NOT (
        orders_3.amount IS NULL
      )
  ) AS ordered_2
  WHERE
    ordered_2.rn > 0.9 * (
      ordered_2.n - 1
    )
    AND ordered_2.rn < 0.9 * (
      ordered_2.n - 1
    ) + 2
  GROUP BY
    ordered_2.k,
    ordered_2.n
) AS orders_pctl_1
  ON orders_pctl_1.k = c.customer_id
LEFT JOIN (
  SELECT DISTINCT
    ordered_3.k AS k,
    ordered_3.v AS v
  FROM (
    SELECT
      orders_4.customer_id AS k,
      MIN(products_1.category) AS v,
      ROW_NUMBER() OVER (
        PARTITION BY orders_4.customer_id
        ORDER BY COUNT(*) DESC, CAST(products_1.category AS BINARY) ASC
      ) AS rn
    FROM orders AS orders_4
    JOIN order_lines AS order_lines_1
      ON order_lines_1.order_id = orders_4.order_id
    LEFT JOIN products AS products_1
      ON products_1.product_id = order_lines_1.product_id
    WHERE
      NOT (
        products_1.category IS NULL
      )
    GROUP BY
      orders_4.customer_id,
      CAST(products_1.category AS BINARY)
  ) AS ordered_3
  WHERE
    ordered_3.rn = 1
) AS order_lines_mode_1
  ON order_lines_mode_1.k = c.customer_id
LEFT JOIN (
  SELECT DISTINCT
    ordered_4.k AS k,
    ordered_4.v AS v
  FROM (
    SELECT
      orders_5.customer_id AS k,
      orders_5.channel AS v,
      ROW_NUMBER() OVER (
        PARTITION BY orders_5.customer_id
        ORDER BY orders_5.order_date ASC, orders_5.order_id ASC
      ) AS rn
    FROM orders AS orders_5
    WHERE
      NOT (
        orders_5.order_date IS NULL
      )
  ) AS ordered_4
  WHERE
    ordered_4.rn = 1
) AS orders_first_1
  ON orders_first_1.k = c.customer_id
LEFT JOIN (
  SELECT DISTINCT
    ordered_5.k AS k,
    ordered_5.v AS v
  FROM (
    SELECT
      support_calls_1.cust_id AS k,
      support_calls_1.topic AS v,
      ROW_NUMBER() OVER (
        PARTITION BY support_calls_1.cust_id
        ORDER BY support_calls_1.called_at DESC, CASE WHEN support_calls_1.topic IS NULL THEN 1 ELSE 0 END ASC, CAST(support_calls_1.topic AS BINARY) ASC
      ) AS rn
    FROM support_calls AS support_calls_1
    WHERE
      NOT (
        support_calls_1.called_at IS NULL
      )
  ) AS ordered_5
  WHERE
    ordered_5.rn = 1
) AS support_calls_last_1
  ON support_calls_last_1.k = c.customer_id
WHERE
  orders_median_1.v > 40
  AND orders_pctl_1.v > 100
  AND orders_agg_1.stddev_1 > 10
  AND order_lines_mode_1.v = CAST('toys' AS BINARY)
  AND orders_first_1.v = CAST('web' AS BINARY)
  AND support_calls_last_1.v = CAST('billing' AS BINARY)
  AND c.customer_id IN (
    SELECT
      orders_6.customer_id
    FROM orders AS orders_6
    LEFT JOIN (
      SELECT
        ordered_6.k AS k,
        MIN(ordered_6.v) + (
          0.5 * (
            ordered_6.n - 1
          ) - (
            MIN(ordered_6.rn) - 1
          )
        ) * (
          MAX(ordered_6.v) - MIN(ordered_6.v)
        ) AS v
      FROM (
        SELECT
          order_lines_2.order_id AS k,
          CAST(order_lines_2.quantity AS DOUBLE) AS v,
          ROW_NUMBER() OVER (PARTITION BY order_lines_2.order_id ORDER BY order_lines_2.quantity ASC) AS rn,
          COUNT(*) OVER (PARTITION BY order_lines_2.order_id) AS n
        FROM order_lines AS order_lines_2
        WHERE
          NOT (
            order_lines_2.quantity IS NULL
          )
      ) AS ordered_6
      WHERE
        ordered_6.rn > 0.5 * (
          ordered_6.n - 1
        )
        AND ordered_6.rn < 0.5 * (
          ordered_6.n - 1
        ) + 2
      GROUP BY
        ordered_6.k,
        ordered_6.n
    ) AS order_lines_median_1
      ON order_lines_median_1.k = orders_6.order_id
    WHERE
      order_lines_median_1.v > 2
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    STDDEV_SAMP(orders_1.amount) AS stddev_1
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
LEFT JOIN (
  SELECT
    ordered_1.k AS k,
    MIN(ordered_1.v) + (
      0.5 * (
        ordered_1.n - 1
      ) - (
        MIN(ordered_1.rn) - 1
      )
    ) * (
      MAX(ordered_1.v) - MIN(ordered_1.v)
    ) AS v
  FROM (
    SELECT
      orders_2.customer_id AS k,
      CAST(orders_2.amount AS DOUBLE) AS v,
      ROW_NUMBER() OVER (PARTITION BY orders_2.customer_id ORDER BY orders_2.amount ASC) AS rn,
      COUNT(*) OVER (PARTITION BY orders_2.customer_id) AS n
    FROM orders AS orders_2
    WHERE
      NOT (
        orders_2.amount IS NULL
      )
  ) AS ordered_1
  WHERE
    ordered_1.rn > 0.5 * (
      ordered_1.n - 1
    )
    AND ordered_1.rn < 0.5 * (
      ordered_1.n - 1
    ) + 2
  GROUP BY
    ordered_1.k,
    ordered_1.n
) AS orders_median_1
  ON orders_median_1.k = c.customer_id
LEFT JOIN (
  SELECT
    ordered_2.k AS k,
    MIN(ordered_2.v) + (
      0.9 * (
        ordered_2.n - 1
      ) - (
        MIN(ordered_2.rn) - 1
      )
    ) * (
      MAX(ordered_2.v) - MIN(ordered_2.v)
    ) AS v
  FROM (
    SELECT
      orders_3.customer_id AS k,
      CAST(orders_3.amount AS DOUBLE) AS v,
      ROW_NUMBER() OVER (PARTITION BY orders_3.customer_id ORDER BY orders_3.amount ASC) AS rn,
      COUNT(*) OVER (PARTITION BY orders_3.customer_id) AS n
    FROM orders AS orders_3
    WHERE
      orders_3.status <> CAST('returned' AS BINARY)
      AND NOT (
        orders_3.amount IS NULL
      )
  ) AS ordered_2
  WHERE
    ordered_2.rn > 0.9 * (
      ordered_2.n - 1
    )
    AND ordered_2.rn < 0.9 * (
      ordered_2.n - 1
    ) + 2
  GROUP BY
    ordered_2.k,
    ordered_2.n
) AS orders_pctl_1
  ON orders_pctl_1.k = c.customer_id
LEFT JOIN (
  SELECT DISTINCT
    ordered_3.k AS k,
    ordered_3.v AS v
  FROM (
    SELECT
      orders_4.customer_id AS k,
      MIN(products_1.category) AS v,
      ROW_NUMBER() OVER (
        PARTITION BY orders_4.customer_id
        ORDER BY COUNT(*) DESC, CAST(products_1.category AS BINARY) ASC
      ) AS rn
    FROM orders AS orders_4
    JOIN order_lines AS order_lines_1
      ON order_lines_1.order_id = orders_4.order_id
    LEFT JOIN products AS products_1
      ON products_1.product_id = order_lines_1.product_id
    WHERE
      NOT (
        products_1.category IS NULL
      )
    GROUP BY
      orders_4.customer_id,
      CAST(products_1.category AS BINARY)
  ) AS ordered_3
  WHERE
    ordered_3.rn = 1
) AS order_lines_mode_1
  ON order_lines_mode_1.k = c.customer_id
LEFT JOIN (
  SELECT DISTINCT
    ordered_4.k AS k,
    ordered_4.v AS v
  FROM (
    SELECT
      orders_5.customer_id AS k,
      orders_5.channel AS v,
      ROW_NUMBER() OVER (
        PARTITION BY orders_5.customer_id
        ORDER BY orders_5.order_date ASC, orders_5.order_id ASC
      ) AS rn
    FROM orders AS orders_5
    WHERE
      NOT (
        orders_5.order_date IS NULL
      )
  ) AS ordered_4
  WHERE
    ordered_4.rn = 1
) AS orders_first_1
  ON orders_first_1.k = c.customer_id
LEFT JOIN (
  SELECT DISTINCT
    ordered_5.k AS k,
    ordered_5.v AS v
  FROM (
    SELECT
      support_calls_1.cust_id AS k,
      support_calls_1.topic AS v,
      ROW_NUMBER() OVER (
        PARTITION BY support_calls_1.cust_id
        ORDER BY support_calls_1.called_at DESC, CASE WHEN support_calls_1.topic IS NULL THEN 1 ELSE 0 END ASC, CAST(support_calls_1.topic AS BINARY) ASC
      ) AS rn
    FROM support_calls AS support_calls_1
    WHERE
      NOT (
        support_calls_1.called_at IS NULL
      )
  ) AS ordered_5
  WHERE
    ordered_5.rn = 1
) AS support_calls_last_1
  ON support_calls_last_1.k = c.customer_id
WHERE
  orders_median_1.v > 40
  AND orders_pctl_1.v > 100
  AND orders_agg_1.stddev_1 > 10
  AND order_lines_mode_1.v = CAST('toys' AS BINARY)
  AND orders_first_1.v = CAST('web' AS BINARY)
  AND support_calls_last_1.v = CAST('billing' AS BINARY)
  AND c.customer_id IN (
    SELECT
      orders_6.customer_id
    FROM orders AS orders_6
    LEFT JOIN (
      SELECT
        ordered_6.k AS k,
        MIN(ordered_6.v) + (
          0.5 * (
            ordered_6.n - 1
          ) - (
            MIN(ordered_6.rn) - 1
          )
        ) * (
          MAX(ordered_6.v) - MIN(ordered_6.v)
        ) AS v
      FROM (
        SELECT
          order_lines_2.order_id AS k,
          CAST(order_lines_2.quantity AS DOUBLE) AS v,
          ROW_NUMBER() OVER (PARTITION BY order_lines_2.order_id ORDER BY order_lines_2.quantity ASC) AS rn,
          COUNT(*) OVER (PARTITION BY order_lines_2.order_id) AS n
        FROM order_lines AS order_lines_2
        WHERE
          NOT (
            order_lines_2.quantity IS NULL
          )
      ) AS ordered_6
      WHERE
        ordered_6.rn > 0.5 * (
          ordered_6.n - 1
        )
        AND ordered_6.rn < 0.5 * (
          ordered_6.n - 1
        ) + 2
      GROUP BY
        ordered_6.k,
        ordered_6.n
    ) AS order_lines_median_1
      ON order_lines_median_1.k = orders_6.order_id
    WHERE
      order_lines_median_1.v > 2
  );
