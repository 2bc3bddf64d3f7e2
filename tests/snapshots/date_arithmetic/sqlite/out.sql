-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    DATE((
      c.signup_date
    ), '+30 days')
  ) > '2025-01-01'
  AND (
    MIN(
      DATE((
        c.birth_date
      ), '-12 months'),
      DATE((
        c.birth_date
      ), 'start of month', '-11 months', '-1 day')
    )
  ) < c.signup_date
  AND (
    DATE((
      c.signup_date
    ), '+14 days')
  ) < '2025-06-01'
  AND (
    MIN(
      DATE((
        c.signup_date
      ), '+1 months'),
      DATE((
        c.signup_date
      ), 'start of month', '+2 months', '-1 day')
    )
  ) > '2024-02-29'
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATETIME((
          DATETIME(support_calls_1.called_at)
        ), '+6 hours')
      ) > '2025-06-30 20:00:00'
      AND (
        MIN(
          DATETIME((
            DATETIME(support_calls_1.called_at)
          ), '-1 months'),
          DATE((
            DATETIME(support_calls_1.called_at)
          ), 'start of month', '+0 months', '-1 day') || ' ' || TIME((
            DATETIME(support_calls_1.called_at)
          ))
        )
      ) < '2025-06-01 00:00:00'
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    DATE((
      c.signup_date
    ), '+30 days')
  ) > '2025-01-01'
  AND (
    MIN(
      DATE((
        c.birth_date
      ), '-12 months'),
      DATE((
        c.birth_date
      ), 'start of month', '-11 months', '-1 day')
    )
  ) < c.signup_date
  AND (
    DATE((
      c.signup_date
    ), '+14 days')
  ) < '2025-06-01'
  AND (
    MIN(
      DATE((
        c.signup_date
      ), '+1 months'),
      DATE((
        c.signup_date
      ), 'start of month', '+2 months', '-1 day')
    )
  ) > '2024-02-29'
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATETIME((
          DATETIME(support_calls_1.called_at)
        ), '+6 hours')
      ) > '2025-06-30 20:00:00'
      AND (
        MIN(
          DATETIME((
            DATETIME(support_calls_1.called_at)
          ), '-1 months'),
          DATE((
            DATETIME(support_calls_1.called_at)
          ), 'start of month', '+0 months', '-1 day') || ' ' || TIME((
            DATETIME(support_calls_1.called_at)
          ))
        )
      ) < '2025-06-01 00:00:00'
  );
