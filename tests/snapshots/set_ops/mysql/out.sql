-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    (
      c.country = CAST('DE' AS BINARY) OR c.age > 60
    )
    AND CASE WHEN c.newsletter = 0 THEN 1 ELSE 0 END = 0
  )
  AND NOT (
    c.age > 30
    AND CASE
      WHEN c.gender = CAST('F' AS BINARY) OR c.country = CAST('FR' AS BINARY)
      THEN 1
      ELSE 0
    END = 1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  (
    (
      c.country = CAST('DE' AS BINARY) OR c.age > 60
    )
    AND CASE WHEN c.newsletter = 0 THEN 1 ELSE 0 END = 0
  )
  AND NOT (
    c.age > 30
    AND CASE
      WHEN c.gender = CAST('F' AS BINARY) OR c.country = CAST('FR' AS BINARY)
      THEN 1
      ELSE 0
    END = 1
  );
