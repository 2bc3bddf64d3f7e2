-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(c.city) LIKE LOWER('%o''b!%!_![x]!!%') ESCAPE '!'
  OR LOWER(c.last_name) LIKE LOWER('Mü%')
  OR LOWER(c.email) LIKE LOWER('%.com')
  OR (
    c.email IS NULL OR c.email = ''
  )
  OR LOWER(c.first_name) LIKE LOWER('a%')
  OR c.first_name LIKE CAST('B%' AS BINARY);

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(c.city) LIKE LOWER('%o''b!%!_![x]!!%') ESCAPE '!'
  OR LOWER(c.last_name) LIKE LOWER('Mü%')
  OR LOWER(c.email) LIKE LOWER('%.com')
  OR (
    c.email IS NULL OR c.email = ''
  )
  OR LOWER(c.first_name) LIKE LOWER('a%')
  OR c.first_name LIKE CAST('B%' AS BINARY);
