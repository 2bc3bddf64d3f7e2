-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.newsletter = 1
  AND NOT (
    c.newsletter = 0
  )
  AND NOT (
    EXISTS(
      SELECT
        1
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.cust_id = c.customer_id AND support_calls_1.escalated = 1
    )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.newsletter = 1
  AND NOT (
    c.newsletter = 0
  )
  AND NOT (
    EXISTS(
      SELECT
        1
      FROM support_calls AS support_calls_1
      WHERE
        support_calls_1.cust_id = c.customer_id AND support_calls_1.escalated = 1
    )
  );
