-- as_of=None
SELECT
  COUNT(*) AS members
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      web_events_1.customer_id
    FROM web_events AS web_events_1
    WHERE
      web_events_1.event_type = CAST('checkout' AS BINARY)
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        orders_1.customer_id
      FROM orders AS orders_1
      WHERE
        orders_1.channel = CAST('app' AS BINARY)
        AND NOT (
          orders_1.customer_id IS NULL
        )
    )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  COUNT(*) AS members
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      web_events_1.customer_id
    FROM web_events AS web_events_1
    WHERE
      web_events_1.event_type = CAST('checkout' AS BINARY)
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        orders_1.customer_id
      FROM orders AS orders_1
      WHERE
        orders_1.channel = CAST('app' AS BINARY)
        AND NOT (
          orders_1.customer_id IS NULL
        )
    )
  );
