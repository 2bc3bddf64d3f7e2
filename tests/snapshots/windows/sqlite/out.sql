-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= DATE('now', '-90 days') AND c.signup_date <= DATE('now')
  )
  OR (
    c.signup_date >= DATE('now', '-14 days') AND c.signup_date <= DATE('now')
  )
  OR (
    c.signup_date >= DATE('now', '-6 months') AND c.signup_date <= DATE('now')
  )
  OR (
    c.signup_date >= DATE('now', '-1 years') AND c.signup_date <= DATE('now')
  )
  OR c.birth_date < '1960-01-01'
  OR c.signup_date > '2025-01-01';

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    c.signup_date >= '2025-04-01' AND c.signup_date <= '2025-06-30'
  )
  OR (
    c.signup_date >= '2025-06-16' AND c.signup_date <= '2025-06-30'
  )
  OR (
    c.signup_date >= '2024-12-30' AND c.signup_date <= '2025-06-30'
  )
  OR (
    c.signup_date >= '2024-06-30' AND c.signup_date <= '2025-06-30'
  )
  OR c.birth_date < '1960-01-01'
  OR c.signup_date > '2025-01-01';
