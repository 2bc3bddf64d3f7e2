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
    EXISTS(
      SELECT
        1
      FROM orders AS orders_1
      WHERE
        orders_1.customer_id = c.customer_id AND orders_1.channel = 'app'
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
    EXISTS(
      SELECT
        1
      FROM orders AS orders_1
      WHERE
        orders_1.customer_id = c.customer_id AND orders_1.channel = 'app'
    )
  );
