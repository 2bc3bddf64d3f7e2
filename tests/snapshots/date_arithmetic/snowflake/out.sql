-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    DATEADD(DAY, 30, (
      c.signup_date
    ))
  ) > CAST('2025-01-01' AS DATE)
  AND (
    DATEADD(YEAR, -1, (
      c.birth_date
    ))
  ) < c.signup_date
  AND (
    DATEADD(DAY, 14, (
      c.signup_date
    ))
  ) < CAST('2025-06-01' AS DATE)
  AND (
    DATEADD(MONTH, 1, (
      c.signup_date
    ))
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATEADD(HOUR, 6, (
          support_calls_1.called_at
        ))
      ) > CAST('2025-06-30 20:00:00' AS TIMESTAMP)
      AND (
        DATEADD(MONTH, -1, (
          support_calls_1.called_at
        ))
      ) < CAST('2025-06-01 00:00:00' AS TIMESTAMP)
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    DATEADD(DAY, 30, (
      c.signup_date
    ))
  ) > CAST('2025-01-01' AS DATE)
  AND (
    DATEADD(YEAR, -1, (
      c.birth_date
    ))
  ) < c.signup_date
  AND (
    DATEADD(DAY, 14, (
      c.signup_date
    ))
  ) < CAST('2025-06-01' AS DATE)
  AND (
    DATEADD(MONTH, 1, (
      c.signup_date
    ))
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATEADD(HOUR, 6, (
          support_calls_1.called_at
        ))
      ) > CAST('2025-06-30 20:00:00' AS TIMESTAMP)
      AND (
        DATEADD(MONTH, -1, (
          support_calls_1.called_at
        ))
      ) < CAST('2025-06-01 00:00:00' AS TIMESTAMP)
  );
