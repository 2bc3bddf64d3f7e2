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
    EXISTS(
      SELECT
        1
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.cust_id = c.customer_id AND support_calls_1.escalated
    )
  )
  AND NOT (
    EXISTS(
      SELECT
        1
      FROM orders AS orders_2
      WHERE
        orders_2.customer_id = c.customer_id
        AND CASE WHEN orders_2.status = 'delivered' THEN 1 ELSE 0 END = 0
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
    EXISTS(
      SELECT
        1
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.cust_id = c.customer_id AND support_calls_1.escalated
    )
  )
  AND NOT (
    EXISTS(
      SELECT
        1
      FROM orders AS orders_2
      WHERE
        orders_2.customer_id = c.customer_id
        AND CASE WHEN orders_2.status = 'delivered' THEN 1 ELSE 0 END = 0
    )
  )
  AND TRUE;
