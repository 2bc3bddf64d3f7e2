-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      ranked_1.k
    FROM (
      SELECT
        c_1.customer_id AS k,
        ROW_NUMBER() OVER (ORDER BY COALESCE(orders_agg_1.sum_1, 0) DESC, c_1.customer_id) AS rn,
        COUNT(*) OVER () AS n
      FROM customers AS c_1
      LEFT JOIN (
        SELECT
          orders_1.customer_id AS k,
          SUM(orders_1.amount) AS sum_1
        FROM orders AS orders_1
        GROUP BY
          orders_1.customer_id
      ) AS orders_agg_1
        ON orders_agg_1.k = c_1.customer_id
      WHERE
        c_1.country = 'DE'
    ) AS ranked_1
    WHERE
      (
        ranked_1.rn - 1
      ) * 100 < 10 * ranked_1.n
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        ranked_2.k
      FROM (
        SELECT
          c_2.customer_id AS k
        FROM customers AS c_2
        WHERE
          c_2.age IS NOT NULL
        ORDER BY
          c_2.age ASC,
          c_2.customer_id
        LIMIT 100
      ) AS ranked_2
    )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      ranked_1.k
    FROM (
      SELECT
        c_1.customer_id AS k,
        ROW_NUMBER() OVER (ORDER BY COALESCE(orders_agg_1.sum_1, 0) DESC, c_1.customer_id) AS rn,
        COUNT(*) OVER () AS n
      FROM customers AS c_1
      LEFT JOIN (
        SELECT
          orders_1.customer_id AS k,
          SUM(orders_1.amount) AS sum_1
        FROM orders AS orders_1
        GROUP BY
          orders_1.customer_id
      ) AS orders_agg_1
        ON orders_agg_1.k = c_1.customer_id
      WHERE
        c_1.country = 'DE'
    ) AS ranked_1
    WHERE
      (
        ranked_1.rn - 1
      ) * 100 < 10 * ranked_1.n
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        ranked_2.k
      FROM (
        SELECT
          c_2.customer_id AS k
        FROM customers AS c_2
        WHERE
          c_2.age IS NOT NULL
        ORDER BY
          c_2.age ASC,
          c_2.customer_id
        LIMIT 100
      ) AS ranked_2
    )
  );
