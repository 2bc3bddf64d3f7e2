-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    DATE_ADD((
      c.signup_date
    ), INTERVAL '30' DAY)
  ) > CAST('2025-01-01' AS DATE)
  AND (
    DATE_ADD((
      c.birth_date
    ), INTERVAL '-1' YEAR)
  ) < c.signup_date
  AND (
    DATE_ADD((
      c.signup_date
    ), INTERVAL '14' DAY)
  ) < CAST('2025-06-01' AS DATE)
  AND (
    DATE_ADD((
      c.signup_date
    ), INTERVAL '1' MONTH)
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATE_ADD((
          support_calls_1.called_at
        ), INTERVAL '6' HOUR)
      ) > CAST('2025-06-30 20:00:00' AS DATETIME)
      AND (
        DATE_ADD((
          support_calls_1.called_at
        ), INTERVAL '-1' MONTH)
      ) < CAST('2025-06-01 00:00:00' AS DATETIME)
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    DATE_ADD((
      c.signup_date
    ), INTERVAL '30' DAY)
  ) > CAST('2025-01-01' AS DATE)
  AND (
    DATE_ADD((
      c.birth_date
    ), INTERVAL '-1' YEAR)
  ) < c.signup_date
  AND (
    DATE_ADD((
      c.signup_date
    ), INTERVAL '14' DAY)
  ) < CAST('2025-06-01' AS DATE)
  AND (
    DATE_ADD((
      c.signup_date
    ), INTERVAL '1' MONTH)
  ) > CAST('2024-02-29' AS DATE)
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATE_ADD((
          support_calls_1.called_at
        ), INTERVAL '6' HOUR)
      ) > CAST('2025-06-30 20:00:00' AS DATETIME)
      AND (
        DATE_ADD((
          support_calls_1.called_at
        ), INTERVAL '-1' MONTH)
      ) < CAST('2025-06-01 00:00:00' AS DATETIME)
  );
