-- as_of=None
SELECT
  COUNT(*) AS members
FROM (
  SELECT DISTINCT
    web_events_1.customer_id AS k
  FROM web_events AS web_events_1
  WHERE
    web_events_1.event_type = 'checkout' AND web_events_1.customer_id IS NOT NULL
) AS keys_1
WHERE
  NOT (
    EXISTS(
      SELECT
        1
      FROM orders AS orders_1
      WHERE
        orders_1.customer_id = keys_1.k AND orders_1.channel = 'app'
    )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  COUNT(*) AS members
FROM (
  SELECT DISTINCT
    web_events_1.customer_id AS k
  FROM web_events AS web_events_1
  WHERE
    web_events_1.event_type = 'checkout' AND web_events_1.customer_id IS NOT NULL
) AS keys_1
WHERE
  NOT (
    EXISTS(
      SELECT
        1
      FROM orders AS orders_1
      WHERE
        orders_1.customer_id = keys_1.k AND orders_1.channel = 'app'
    )
  );
