-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= (
      DATE('now', 'start of year')
    )
    AND c.signup_date <= DATE('now')
  )
  OR (
    c.signup_date >= (
      MIN(
        DATE(
          (
            (
              DATE(
                'now',
                'start of month',
                '-' || (
                  (
                    CAST(STRFTIME('%m', 'now') AS INTEGER) - 1
                  ) % 3
                ) || ' months'
              )
            )
          ),
          '-3 months'
        ),
        DATE(
          (
            (
              DATE(
                'now',
                'start of month',
                '-' || (
                  (
                    CAST(STRFTIME('%m', 'now') AS INTEGER) - 1
                  ) % 3
                ) || ' months'
              )
            )
          ),
          'start of month',
          '-2 months',
          '-1 day'
        )
      )
    )
    AND c.signup_date < (
      DATE(
        'now',
        'start of month',
        '-' || (
          (
            CAST(STRFTIME('%m', 'now') AS INTEGER) - 1
          ) % 3
        ) || ' months'
      )
    )
  )
  OR (
    c.signup_date >= (
      DATE('now', '-6 days', 'weekday 1')
    )
    AND c.signup_date <= DATE('now')
  )
  OR (
    c.signup_date >= (
      MIN(
        DATE((
          (
            DATE('now', 'start of month')
          )
        ), '-1 months'),
        DATE((
          (
            DATE('now', 'start of month')
          )
        ), 'start of month', '+0 months', '-1 day')
      )
    )
    AND c.signup_date < (
      DATE('now', 'start of month')
    )
  )
  OR (
    c.signup_date >= '2023-01-01' AND c.signup_date < '2024-01-01'
  )
  OR (
    c.signup_date >= '2024-02-01' AND c.signup_date < '2024-03-01'
  )
  OR c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATETIME(support_calls_1.called_at) >= (
          DATE('now', 'start of month')
        )
        AND DATETIME(support_calls_1.called_at) <= DATETIME('now')
      )
      OR (
        DATETIME(support_calls_1.called_at) >= (
          DATE((
            (
              DATE('now', '-6 days', 'weekday 1')
            )
          ), '-7 days')
        )
        AND DATETIME(support_calls_1.called_at) < (
          DATE('now', '-6 days', 'weekday 1')
        )
      )
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= '2025-01-01' AND c.signup_date <= '2025-06-30'
  )
  OR (
    c.signup_date >= '2025-01-01' AND c.signup_date < '2025-04-01'
  )
  OR (
    c.signup_date >= '2025-06-30' AND c.signup_date <= '2025-06-30'
  )
  OR (
    c.signup_date >= '2025-05-01' AND c.signup_date < '2025-06-01'
  )
  OR (
    c.signup_date >= '2023-01-01' AND c.signup_date < '2024-01-01'
  )
  OR (
    c.signup_date >= '2024-02-01' AND c.signup_date < '2024-03-01'
  )
  OR c.customer_id IN (
    SELECT
      support_calls_1.cust_id
    FROM support_calls AS support_calls_1
    WHERE
      (
        DATETIME(support_calls_1.called_at) >= '2025-06-01 00:00:00'
        AND DATETIME(support_calls_1.called_at) <= '2025-06-30 12:30:00'
      )
      OR (
        DATETIME(support_calls_1.called_at) >= '2025-06-23 00:00:00'
        AND DATETIME(support_calls_1.called_at) < '2025-06-30 00:00:00'
      )
  );
