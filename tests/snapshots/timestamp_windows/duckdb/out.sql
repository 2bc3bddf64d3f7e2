-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        support_calls_1.called_at >= (
          CURRENT_TIMESTAMP - INTERVAL 30 DAY
        )
        AND support_calls_1.called_at <= CURRENT_TIMESTAMP
      )
      OR (
        support_calls_1.called_at >= (
          CURRENT_TIMESTAMP - INTERVAL 21 DAY
        )
        AND support_calls_1.called_at <= CURRENT_TIMESTAMP
      )
      OR (
        support_calls_1.called_at >= (
          CURRENT_TIMESTAMP - INTERVAL 2 MONTH
        )
        AND support_calls_1.called_at <= CURRENT_TIMESTAMP
      )
      OR (
        support_calls_1.called_at >= (
          CURRENT_TIMESTAMP - INTERVAL 1 YEAR
        )
        AND support_calls_1.called_at <= CURRENT_TIMESTAMP
      )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        support_calls_1.called_at >= CAST('2025-05-31 12:30:00' AS TIMESTAMP)
        AND support_calls_1.called_at <= CAST('2025-06-30 12:30:00' AS TIMESTAMP)
      )
      OR (
        support_calls_1.called_at >= CAST('2025-06-09 12:30:00' AS TIMESTAMP)
        AND support_calls_1.called_at <= CAST('2025-06-30 12:30:00' AS TIMESTAMP)
      )
      OR (
        support_calls_1.called_at >= CAST('2025-04-30 12:30:00' AS TIMESTAMP)
        AND support_calls_1.called_at <= CAST('2025-06-30 12:30:00' AS TIMESTAMP)
      )
      OR (
        support_calls_1.called_at >= CAST('2024-06-30 12:30:00' AS TIMESTAMP)
        AND support_calls_1.called_at <= CAST('2025-06-30 12:30:00' AS TIMESTAMP)
      )
  );
