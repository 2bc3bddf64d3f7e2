-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(
      CASE
        WHEN orders_1.status <> CAST('returned' AS BINARY)
        AND (
          orders_1.order_date >= DATE_SUB(CURRENT_DATE, INTERVAL 90 DAY)
          AND orders_1.order_date <= CURRENT_DATE
        )
        THEN orders_1.amount
      END
    ) AS sum_1,
    COUNT(*) AS count_2,
    AVG(orders_1.amount) AS avg_3,
    MAX(orders_1.order_date) AS max_4
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
WHERE
  orders_agg_1.sum_1 >= 1000
  AND orders_agg_1.count_2 > 3
  AND orders_agg_1.avg_3 > 20
  AND orders_agg_1.max_4 > CAST('2025-01-01' AS DATE);

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN (
  SELECT
    orders_1.customer_id AS k,
    SUM(
      CASE
        WHEN orders_1.status <> CAST('returned' AS BINARY)
        AND (
          orders_1.order_date >= CAST('2025-04-01' AS DATE)
          AND orders_1.order_date <= CAST('2025-06-30' AS DATE)
        )
        THEN orders_1.amount
      END
    ) AS sum_1,
    COUNT(*) AS count_2,
    AVG(orders_1.amount) AS avg_3,
    MAX(orders_1.order_date) AS max_4
  FROM orders AS orders_1
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
  ON orders_agg_1.k = c.customer_id
WHERE
  orders_agg_1.sum_1 >= 1000
  AND orders_agg_1.count_2 > 3
  AND orders_agg_1.avg_3 > 20
  AND orders_agg_1.max_4 > CAST('2025-01-01' AS DATE);
