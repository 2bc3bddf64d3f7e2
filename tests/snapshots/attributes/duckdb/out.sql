-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.age >= 30 AND c.country IN ('DE', 'FR') AND c.newsletter AND c.gender IS NOT NULL;

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.age >= 30 AND c.country IN ('DE', 'FR') AND c.newsletter AND c.gender IS NOT NULL;
