-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= (
      MAKEDATE(YEAR(CURRENT_DATE), 1)
    )
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= (
      DATE_ADD(
        (
          (
            DATE_ADD(MAKEDATE(YEAR(CURRENT_DATE), 1), INTERVAL (QUARTER(CURRENT_DATE) - 1) QUARTER)
          )
        ),
        INTERVAL '-3' MONTH
      )
    )
    AND c.signup_date < (
      DATE_ADD(MAKEDATE(YEAR(CURRENT_DATE), 1), INTERVAL (QUARTER(CURRENT_DATE) - 1) QUARTER)
    )
  )
  OR (
    c.signup_date >= (
      DATE_SUB(CURRENT_DATE, INTERVAL (WEEKDAY(CURRENT_DATE)) DAY)
    )
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= (
      DATE_ADD(
        (
          (
            DATE_SUB(CURRENT_DATE, INTERVAL (DAYOFMONTH(CURRENT_DATE) - 1) DAY)
          )
        ),
        INTERVAL '-1' MONTH
      )
    )
    AND c.signup_date < (
      DATE_SUB(CURRENT_DATE, INTERVAL (DAYOFMONTH(CURRENT_DATE) - 1) DAY)
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
          DATE_SUB(CURRENT_DATE, INTERVAL (DAYOFMONTH(CURRENT_DATE) - 1) DAY)
        )
        AND support_calls_1.called_at <= CURRENT_TIMESTAMP()
      )
      OR (
        support_calls_1.called_at >= (
          DATE_ADD(
            (
              (
                DATE_SUB(CURRENT_DATE, INTERVAL (WEEKDAY(CURRENT_DATE)) DAY)
              )
            ),
            INTERVAL '-7' DAY
          )
        )
        AND support_calls_1.called_at < (
          DATE_SUB(CURRENT_DATE, INTERVAL (WEEKDAY(CURRENT_DATE)) DAY)
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
