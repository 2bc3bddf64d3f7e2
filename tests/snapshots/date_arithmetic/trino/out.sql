-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    DATE_ADD('DAY', 30, (
      c.signup_date
    ))
  ) > CAST('2025-01-01' AS DATE)
  AND (
    DATE_ADD('YEAR', -1, (
      c.birth_date
    ))
  ) < c.signup_date
  AND (
    DATE_ADD('DAY', 14, (
      c.signup_date
    ))
  ) < CAST('2025-06-01' AS DATE)
  AND (
    DATE_ADD('MONTH', 1, (
      c.signup_date
    ))
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATE_ADD('HOUR', 6, (
          support_calls_1.called_at
        ))
      ) > CAST('2025-06-30 20:00:00' AS TIMESTAMP)
      AND (
        DATE_ADD('MONTH', -1, (
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
    DATE_ADD('DAY', 30, (
      c.signup_date
    ))
  ) > CAST('2025-01-01' AS DATE)
  AND (
    DATE_ADD('YEAR', -1, (
      c.birth_date
    ))
  ) < c.signup_date
  AND (
    DATE_ADD('DAY', 14, (
      c.signup_date
    ))
  ) < CAST('2025-06-01' AS DATE)
  AND (
    DATE_ADD('MONTH', 1, (
      c.signup_date
    ))
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATE_ADD('HOUR', 6, (
          support_calls_1.called_at
        ))
      ) > CAST('2025-06-30 20:00:00' AS TIMESTAMP)
      AND (
        DATE_ADD('MONTH', -1, (
          support_calls_1.called_at
        ))
      ) < CAST('2025-06-01 00:00:00' AS TIMESTAMP)
  );
