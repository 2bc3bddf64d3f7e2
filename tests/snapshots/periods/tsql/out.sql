-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= (
      DATEFROMPARTS(YEAR(GETDATE()), 1, 1)
    )
    AND c.signup_date <= CAST(GETDATE() AS DATE)
  )
  OR (
    c.signup_date >= (
      DATEADD(
        MONTH,
        -3,
        (
          (
            DATEFROMPARTS(YEAR(GETDATE()), (
              DATEPART(QUARTER, GETDATE()) - 1
            ) * 3 + 1, 1)
          )
        )
      )
    )
    AND c.signup_date < (
      DATEFROMPARTS(YEAR(GETDATE()), (
        DATEPART(QUARTER, GETDATE()) - 1
      ) * 3 + 1, 1)
    )
  )
  OR (
    c.signup_date >= (
      DATEADD(
        DAY,
        -(
          (
            DATEPART(WEEKDAY, GETDATE()) + @@DATEFIRST + 5
          ) % 7
        ),
        CAST(GETDATE() AS DATE)
      )
    )
    AND c.signup_date <= CAST(GETDATE() AS DATE)
  )
  OR (
    c.signup_date >= (
      DATEADD(MONTH, -1, (
        (
          DATEFROMPARTS(YEAR(GETDATE()), MONTH(GETDATE()), 1)
        )
      ))
    )
    AND c.signup_date < (
      DATEFROMPARTS(YEAR(GETDATE()), MONTH(GETDATE()), 1)
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
          DATEFROMPARTS(YEAR(GETDATE()), MONTH(GETDATE()), 1)
        )
        AND support_calls_1.called_at <= GETDATE()
      )
      OR (
        support_calls_1.called_at >= (
          DATEADD(
            DAY,
            -7,
            (
              (
                DATEADD(
                  DAY,
                  -(
                    (
                      DATEPART(WEEKDAY, GETDATE()) + @@DATEFIRST + 5
                    ) % 7
                  ),
                  CAST(GETDATE() AS DATE)
                )
              )
            )
          )
        )
        AND support_calls_1.called_at < (
          DATEADD(
            DAY,
            -(
              (
                DATEPART(WEEKDAY, GETDATE()) + @@DATEFIRST + 5
              ) % 7
            ),
            CAST(GETDATE() AS DATE)
          )
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
        support_calls_1.called_at >= CAST('2025-06-01 00:00:00' AS DATETIME2)
        AND support_calls_1.called_at <= CAST('2025-06-30 12:30:00' AS DATETIME2)
      )
      OR (
        support_calls_1.called_at >= CAST('2025-06-23 00:00:00' AS DATETIME2)
        AND support_calls_1.called_at < CAST('2025-06-30 00:00:00' AS DATETIME2)
      )
  );
