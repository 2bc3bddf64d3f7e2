-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= (
      CAST(DATE_TRUNC('YEAR', CURRENT_DATE) AS DATE)
    )
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= (
      CAST((
        (
          CAST(DATE_TRUNC('QUARTER', CURRENT_DATE) AS DATE)
        )
      ) + INTERVAL '-3' MONTH AS DATE)
    )
    AND c.signup_date < (
      CAST(DATE_TRUNC('QUARTER', CURRENT_DATE) AS DATE)
    )
  )
  OR (
    c.signup_date >= (
      CAST(DATE_TRUNC('WEEK', CURRENT_DATE) AS DATE)
    )
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= (
      CAST((
        (
          CAST(DATE_TRUNC('MONTH', CURRENT_DATE) AS DATE)
        )
      ) + INTERVAL '-1' MONTH AS DATE)
    )
    AND c.signup_date < (
      CAST(DATE_TRUNC('MONTH', CURRENT_DATE) AS DATE)
    )
  )
  OR (
    c.signup_date >= CAST('2023-01-01' AS DATE)
    AND c.signup_date < CAST('2024-01-01' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2024-02-01' AS DATE)
    AND c.signup_date < CAST('2024-03-01' AS DATE)
  )
  OR c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        support_calls_1.called_at >= (
          CAST(DATE_TRUNC('MONTH', CURRENT_DATE) AS DATE)
        )
        AND support_calls_1.called_at <= CURRENT_TIMESTAMP()
      )
      OR (
        support_calls_1.called_at >= (
          CAST((
            (
              CAST(DATE_TRUNC('WEEK', CURRENT_DATE) AS DATE)
            )
          ) + INTERVAL '-7' DAY AS DATE)
        )
        AND support_calls_1.called_at < (
          CAST(DATE_TRUNC('WEEK', CURRENT_DATE) AS DATE)
        )
      )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= CAST('2025-01-01' AS DATE)
    AND c.signup_date <= CAST('2025-06-30' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2025-01-01' AS DATE)
    AND c.signup_date < CAST('2025-04-01' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2025-06-30' AS DATE)
    AND c.signup_date <= CAST('2025-06-30' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2025-05-01' AS DATE)
    AND c.signup_date < CAST('2025-06-01' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2023-01-01' AS DATE)
    AND c.signup_date < CAST('2024-01-01' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2024-02-01' AS DATE)
    AND c.signup_date < CAST('2024-03-01' AS DATE)
  )
  OR c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        support_calls_1.called_at >= CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        AND support_calls_1.called_at <= CAST('2025-06-30 12:30:00' AS TIMESTAMP)
      )
      OR (
        support_calls_1.called_at >= CAST('2025-06-23 00:00:00' AS TIMESTAMP)
        AND support_calls_1.called_at < CAST('2025-06-30 00:00:00' AS TIMESTAMP)
      )
  );
