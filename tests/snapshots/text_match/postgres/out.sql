-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.city ILIKE '%o''b!%!_![x]!!%' ESCAPE '!'
  OR c.last_name ILIKE 'Mü%'
  OR c.email ILIKE '%.com'
  OR (
    c.email IS NULL OR c.email = ''
  )
  OR c.first_name ILIKE 'a%'
  OR c.first_name LIKE 'B%';

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  c.city ILIKE '%o''b!%!_![x]!!%' ESCAPE '!'
  OR c.last_name ILIKE 'Mü%'
  OR c.email ILIKE '%.com'
  OR (
    c.email IS NULL OR c.email = ''
  )
  OR c.first_name ILIKE 'a%'
  OR c.first_name LIKE 'B%';
