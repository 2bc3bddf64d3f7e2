-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= DATEADD(DAY, 90 * -1, CURRENT_DATE)
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= DATEADD(DAY, 14 * -1, CURRENT_DATE)
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= DATEADD(MONTH, 6 * -1, CURRENT_DATE)
    AND c.signup_date <= CURRENT_DATE
  )
  OR (
    c.signup_date >= DATEADD(YEAR, 1 * -1, CURRENT_DATE)
    AND c.signup_date <= CURRENT_DATE
  )
  OR c.birth_date < CAST('1960-01-01' AS DATE)
  OR c.signup_date > CAST('2025-01-01' AS DATE);

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= CAST('2025-04-01' AS DATE)
    AND c.signup_date <= CAST('2025-06-30' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2025-06-16' AS DATE)
    AND c.signup_date <= CAST('2025-06-30' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2024-12-30' AS DATE)
    AND c.signup_date <= CAST('2025-06-30' AS DATE)
  )
  OR (
    c.signup_date >= CAST('2024-06-30' AS DATE)
    AND c.signup_date <= CAST('2025-06-30' AS DATE)
  )
  OR c.birth_date < CAST('1960-01-01' AS DATE)
  OR c.signup_date > CAST('2025-01-01' AS DATE);
