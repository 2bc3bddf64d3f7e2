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
        DATETIME(support_calls_1.called_at) >= DATETIME('now', '-30 days')
        AND DATETIME(support_calls_1.called_at) <= DATETIME('now')
      )
      OR (
        DATETIME(support_calls_1.called_at) >= DATETIME('now', '-21 days')
        AND DATETIME(support_calls_1.called_at) <= DATETIME('now')
      )
      OR (
        DATETIME(support_calls_1.called_at) >= DATETIME('now', '-2 months')
        AND DATETIME(support_calls_1.called_at) <= DATETIME('now')
      )
      OR (
        DATETIME(support_calls_1.called_at) >= DATETIME('now', '-1 years')
        AND DATETIME(support_calls_1.called_at) <= DATETIME('now')
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
        DATETIME(support_calls_1.called_at) >= '2025-05-31 12:30:00'
        AND DATETIME(support_calls_1.called_at) <= '2025-06-30 12:30:00'
      )
      OR (
        DATETIME(support_calls_1.called_at) >= '2025-06-09 12:30:00'
        AND DATETIME(support_calls_1.called_at) <= '2025-06-30 12:30:00'
      )
      OR (
        DATETIME(support_calls_1.called_at) >= '2025-04-30 12:30:00'
        AND DATETIME(support_calls_1.called_at) <= '2025-06-30 12:30:00'
      )
      OR (
        DATETIME(support_calls_1.called_at) >= '2024-06-30 12:30:00'
        AND DATETIME(support_calls_1.called_at) <= '2025-06-30 12:30:00'
      )
  );
