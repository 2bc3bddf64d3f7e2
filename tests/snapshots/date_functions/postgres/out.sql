-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(EXTRACT(YEAR FROM (
      c.signup_date
    )) AS INT)
  ) = 2024
  AND (
    CAST(EXTRACT(QUARTER FROM (
      c.signup_date
    )) AS INT)
  ) = 1
  AND (
    CAST(EXTRACT(MONTH FROM (
      c.signup_date
    )) AS INT)
  ) = 3
  AND (
    CAST(EXTRACT(DAY FROM (
      c.signup_date
    )) AS INT)
  ) < 15
  AND (
    CAST(EXTRACT(ISODOW FROM (
      c.signup_date
    )) AS INT)
  ) = 7
  AND (
    CAST((
      CAST('2025-01-01' AS DATE)
    ) AS DATE) - CAST((
      c.signup_date
    ) AS DATE)
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
        CAST(EXTRACT(ISODOW FROM (
          support_calls_1.called_at
        )) AS INT)
      ) = 1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(EXTRACT(YEAR FROM (
      c.signup_date
    )) AS INT)
  ) = 2024
  AND (
    CAST(EXTRACT(QUARTER FROM (
      c.signup_date
    )) AS INT)
  ) = 1
  AND (
    CAST(EXTRACT(MONTH FROM (
      c.signup_date
    )) AS INT)
  ) = 3
  AND (
    CAST(EXTRACT(DAY FROM (
      c.signup_date
    )) AS INT)
  ) < 15
  AND (
    CAST(EXTRACT(ISODOW FROM (
      c.signup_date
    )) AS INT)
  ) = 7
  AND (
    CAST((
      CAST('2025-01-01' AS DATE)
    ) AS DATE) - CAST((
      c.signup_date
    ) AS DATE)
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
        CAST(EXTRACT(ISODOW FROM (
          support_calls_1.called_at
        )) AS INT)
      ) = 1
  );
