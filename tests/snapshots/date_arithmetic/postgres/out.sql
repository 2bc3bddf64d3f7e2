-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST((
      c.signup_date
    ) + INTERVAL '30 DAY' AS DATE)
  ) > CAST('2025-01-01' AS DATE)
  AND (
    CAST((
      c.birth_date
    ) + INTERVAL '-1 YEAR' AS DATE)
  ) < c.signup_date
  AND (
    CAST((
      c.signup_date
    ) + INTERVAL '14 DAY' AS DATE)
  ) < CAST('2025-06-01' AS DATE)
  AND (
    CAST((
      c.signup_date
    ) + INTERVAL '1 MONTH' AS DATE)
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        CAST((
          support_calls_1.called_at
        ) + INTERVAL '6 HOUR' AS TIMESTAMP)
      ) > CAST('2025-06-30 20:00:00' AS TIMESTAMP)
      AND (
        CAST((
          support_calls_1.called_at
        ) + INTERVAL '-1 MONTH' AS TIMESTAMP)
      ) < CAST('2025-06-01 00:00:00' AS TIMESTAMP)
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST((
      c.signup_date
    ) + INTERVAL '30 DAY' AS DATE)
  ) > CAST('2025-01-01' AS DATE)
  AND (
    CAST((
      c.birth_date
    ) + INTERVAL '-1 YEAR' AS DATE)
  ) < c.signup_date
  AND (
    CAST((
      c.signup_date
    ) + INTERVAL '14 DAY' AS DATE)
  ) < CAST('2025-06-01' AS DATE)
  AND (
    CAST((
      c.signup_date
    ) + INTERVAL '1 MONTH' AS DATE)
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        CAST((
          support_calls_1.called_at
        ) + INTERVAL '6 HOUR' AS TIMESTAMP)
      ) > CAST('2025-06-30 20:00:00' AS TIMESTAMP)
      AND (
        CAST((
          support_calls_1.called_at
        ) + INTERVAL '-1 MONTH' AS TIMESTAMP)
      ) < CAST('2025-06-01 00:00:00' AS TIMESTAMP)
  );
