-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= (
      DATE_TRUNC(CURRENT_DATE, YEAR)
    )
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= (
      DATE_ADD((
        (
          DATE_TRUNC(CURRENT_DATE, QUARTER)
        )
      ), INTERVAL '-3' MONTH)
    )
    AND c.signup_date < (
      DATE_TRUNC(CURRENT_DATE, QUARTER)
    )
  )
  OR (
    c.signup_date >= (
      DATE_TRUNC(CURRENT_DATE, ISOWEEK)
    )
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= (
      DATE_ADD((
        (
          DATE_TRUNC(CURRENT_DATE, MONTH)
        )
      ), INTERVAL '-1' MONTH)
    )
    AND c.signup_date < (
      DATE_TRUNC(CURRENT_DATE, MONTH)
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
          DATE_TRUNC(CURRENT_DATE, MONTH)
        )
        AND support_calls_1.called_at <= CURRENT_TIMESTAMP()
      )
      OR (
        support_calls_1.called_at >= (
          DATE_ADD((
            (
              DATE_TRUNC(CURRENT_DATE, ISOWEEK)
            )
          ), INTERVAL '-7' DAY)
        )
        AND support_calls_1.called_at < (
          DATE_TRUNC(CURRENT_DATE, ISOWEEK)
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
        support_calls_1.called_at >= CAST('2025-06-01 00:00:00' AS DATETIME)
        AND support_calls_1.called_at <= CAST('2025-06-30 12:30:00' AS DATETIME)
      )
      OR (
        support_calls_1.called_at >= CAST('2025-06-23 00:00:00' AS DATETIME)
        AND support_calls_1.called_at < CAST('2025-06-30 00:00:00' AS DATETIME)
      )
  );
