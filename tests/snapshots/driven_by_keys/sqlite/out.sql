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
      web_events_1.event_type = 'checkout'
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        orders_1.customer_id
      FROM orders AS orders_1
      WHERE
        orders_1.channel = 'app' AND NOT (
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
      web_events_1.event_type = 'checkout'
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        orders_1.customer_id
      FROM orders AS orders_1
      WHERE
        orders_1.channel = 'app' AND NOT (
          orders_1.customer_id IS NULL
        )
    )
  );
