-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      orders_1.customer_id
    FROM orders AS orders_1
    WHERE
      orders_1.amount > 100
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        support_calls_1.cust_id
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.escalated AND NOT (
          support_calls_1.cust_id IS NULL
        )
    )
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        orders_2.customer_id
      FROM orders AS orders_2
      WHERE
        CASE WHEN orders_2.status = CAST('delivered' AS BINARY) THEN 1 ELSE 0 END = 0
        AND NOT (
          orders_2.customer_id IS NULL
        )
    )
  )
  AND TRUE;

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      orders_1.customer_id
    FROM orders AS orders_1
    WHERE
      orders_1.amount > 100
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        support_calls_1.cust_id
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.escalated AND NOT (
          support_calls_1.cust_id IS NULL
        )
    )
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        orders_2.customer_id
      FROM orders AS orders_2
      WHERE
        CASE WHEN orders_2.status = CAST('delivered' AS BINARY) THEN 1 ELSE 0 END = 0
        AND NOT (
          orders_2.customer_id IS NULL
        )
    )
  )
  AND TRUE;
