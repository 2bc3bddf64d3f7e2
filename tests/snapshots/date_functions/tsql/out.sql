-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(DATEPART(YEAR, (
      c.signup_date
    )) AS INTEGER)
  ) = 2024
  AND (
    CAST(DATEPART(QUARTER, (
      c.signup_date
    )) AS INTEGER)
  ) = 1
  AND (
    CAST(DATEPART(MONTH, (
      c.signup_date
    )) AS INTEGER)
  ) = 3
  AND (
    CAST(DATEPART(DAY, (
      c.signup_date
    )) AS INTEGER)
  ) < 15
  AND (
    (
      DATEPART(WEEKDAY, (
        c.signup_date
      )) + @@DATEFIRST + 5
    ) % 7 + 1
  ) = 7
  AND (
    DATEDIFF(
      DAY,
      CAST((
        c.signup_date
      ) AS DATE),
      CAST((
        CAST('2025-01-01' AS DATE)
      ) AS DATE)
    )
  ) > 30
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        CAST((
          support_calls_1.called_at
        ) AS DATE)
      ) = CAST('2025-06-01' AS DATE)
      AND (
        (
          DATEPART(WEEKDAY, (
            support_calls_1.called_at
          )) + @@DATEFIRST + 5
        ) % 7 + 1
      ) = 1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(DATEPART(YEAR, (
      c.signup_date
    )) AS INTEGER)
  ) = 2024
  AND (
    CAST(DATEPART(QUARTER, (
      c.signup_date
    )) AS INTEGER)
  ) = 1
  AND (
    CAST(DATEPART(MONTH, (
      c.signup_date
    )) AS INTEGER)
  ) = 3
  AND (
    CAST(DATEPART(DAY, (
      c.signup_date
    )) AS INTEGER)
  ) < 15
  AND (
    (
      DATEPART(WEEKDAY, (
        c.signup_date
      )) + @@DATEFIRST + 5
    ) % 7 + 1
  ) = 7
  AND (
    DATEDIFF(
      DAY,
      CAST((
        c.signup_date
      ) AS DATE),
      CAST((
        CAST('2025-01-01' AS DATE)
      ) AS DATE)
    )
  ) > 30
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        CAST((
          support_calls_1.called_at
        ) AS DATE)
      ) = CAST('2025-06-01' AS DATE)
      AND (
        (
          DATEPART(WEEKDAY, (
            support_calls_1.called_at
          )) + @@DATEFIRST + 5
        ) % 7 + 1
      ) = 1
  );
