-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(DATE_PART(YEAR, (
      c.signup_date
    )) AS INT)
  ) = 2024
  AND (
    CAST(DATE_PART(QUARTER, (
      c.signup_date
    )) AS INT)
  ) = 1
  AND (
    CAST(DATE_PART(MONTH, (
      c.signup_date
    )) AS INT)
  ) = 3
  AND (
    CAST(DATE_PART(DAY, (
      c.signup_date
    )) AS INT)
  ) < 15
  AND (
    DAYOFWEEKISO((
      c.signup_date
    ))
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
        DAYOFWEEKISO((
          support_calls_1.called_at
        ))
      ) = 1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(DATE_PART(YEAR, (
      c.signup_date
    )) AS INT)
  ) = 2024
  AND (
    CAST(DATE_PART(QUARTER, (
      c.signup_date
    )) AS INT)
  ) = 1
  AND (
    CAST(DATE_PART(MONTH, (
      c.signup_date
    )) AS INT)
  ) = 3
  AND (
    CAST(DATE_PART(DAY, (
      c.signup_date
    )) AS INT)
  ) < 15
  AND (
    DAYOFWEEKISO((
      c.signup_date
    ))
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
        DAYOFWEEKISO((
          support_calls_1.called_at
        ))
      ) = 1
  );
