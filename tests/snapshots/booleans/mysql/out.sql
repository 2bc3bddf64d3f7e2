-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.newsletter <> 0
  AND NOT (
    c.newsletter = 0
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        support_calls_1.cust_id
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.escalated <> 0 AND NOT (
          support_calls_1.cust_id IS NULL
        )
    )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.newsletter <> 0
  AND NOT (
    c.newsletter = 0
  )
  AND NOT (
    c.customer_id IN (
      SELECT
        support_calls_1.cust_id
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.escalated <> 0 AND NOT (
          support_calls_1.cust_id IS NULL
        )
    )
  );
