-- as_of=None
SELECT
  orders_agg_1.k AS customer_id
FROM (
  SELECT
    orders_1.customer_id AS k,
    COUNT(*) AS count_1
  FROM orders AS orders_1
  WHERE
    orders_1.status = 'delivered'
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
WHERE
  orders_agg_1.count_1 >= 5
  AND orders_agg_1.k IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      support_calls_1.escalated
  )
  AND NOT (
    EXISTS(
      SELECT
        1
      FROM web_events AS web_events_1
      WHERE
        web_events_1.customer_id = orders_agg_1.k
        AND web_events_1.event_type = 'checkout'
    )
  )
  AND orders_agg_1.k IS NOT NULL;

-- as_of=2025-06-30T12:30:00
SELECT
  orders_agg_1.k AS customer_id
FROM (
  SELECT
    orders_1.customer_id AS k,
    COUNT(*) AS count_1
  FROM orders AS orders_1
  WHERE
    orders_1.status = 'delivered'
  GROUP BY
    orders_1.customer_id
) AS orders_agg_1
WHERE
  orders_agg_1.count_1 >= 5
  AND orders_agg_1.k IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      support_calls_1.escalated
  )
  AND NOT (
    EXISTS(
      SELECT
        1
      FROM web_events AS web_events_1
      WHERE
        web_events_1.customer_id = orders_agg_1.k
        AND web_events_1.event_type = 'checkout'
    )
  )
  AND orders_agg_1.k IS NOT NULL;
