-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(STRFTIME('%Y', (
      c.signup_date
    )) AS INTEGER)
  ) = 2024
  AND (
    (
      CAST(STRFTIME('%m', (
        c.signup_date
      )) AS INTEGER) + 2
    ) / 3
  ) = 1
  AND (
    CAST(STRFTIME('%m', (
      c.signup_date
    )) AS INTEGER)
  ) = 3
  AND (
    CAST(STRFTIME('%d', (
      c.signup_date
    )) AS INTEGER)
  ) < 15
  AND (
    (
      CAST(STRFTIME('%w', (
        c.signup_date
      )) AS INTEGER) + 6
    ) % 7 + 1
  ) = 7
  AND (
    CAST(JULIANDAY(DATE((
      '2025-01-01'
    ))) - JULIANDAY(DATE((
      c.signup_date
    ))) AS INTEGER)
  ) > 30
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATE((
          DATETIME(support_calls_1.called_at)
        ))
      ) = '2025-06-01'
      AND (
        (
          CAST(STRFTIME('%w', (
            DATETIME(support_calls_1.called_at)
          )) AS INTEGER) + 6
        ) % 7 + 1
      ) = 1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    CAST(STRFTIME('%Y', (
      c.signup_date
    )) AS INTEGER)
  ) = 2024
  AND (
    (
      CAST(STRFTIME('%m', (
        c.signup_date
      )) AS INTEGER) + 2
    ) / 3
  ) = 1
  AND (
    CAST(STRFTIME('%m', (
      c.signup_date
    )) AS INTEGER)
  ) = 3
  AND (
    CAST(STRFTIME('%d', (
      c.signup_date
    )) AS INTEGER)
  ) < 15
  AND (
    (
      CAST(STRFTIME('%w', (
        c.signup_date
      )) AS INTEGER) + 6
    ) % 7 + 1
  ) = 7
  AND (
    CAST(JULIANDAY(DATE((
      '2025-01-01'
    ))) - JULIANDAY(DATE((
      c.signup_date
    ))) AS INTEGER)
  ) > 30
  AND c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATE((
          DATETIME(support_calls_1.called_at)
        ))
      ) = '2025-06-01'
      AND (
        (
          CAST(STRFTIME('%w', (
            DATETIME(support_calls_1.called_at)
          )) AS INTEGER) + 6
        ) % 7 + 1
      ) = 1
  );
