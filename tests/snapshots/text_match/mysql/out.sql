-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(c.city) LIKE (
    CAST((
      LOWER('%o''b!%!_![x]!!%')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  ) ESCAPE '!'
  OR LOWER(c.last_name) LIKE (
    CAST((
      LOWER('Mü%')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  OR LOWER(c.email) LIKE (
    CAST((
      LOWER('%.com')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  OR (
    c.email IS NULL OR c.email = ''
  )
  OR LOWER(c.first_name) LIKE (
    CAST((
      LOWER('a%')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  OR c.first_name LIKE (
    CAST((
      'B%'
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(c.city) LIKE (
    CAST((
      LOWER('%o''b!%!_![x]!!%')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  ) ESCAPE '!'
  OR LOWER(c.last_name) LIKE (
    CAST((
      LOWER('Mü%')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  OR LOWER(c.email) LIKE (
    CAST((
      LOWER('%.com')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  OR (
    c.email IS NULL OR c.email = ''
  )
  OR LOWER(c.first_name) LIKE (
    CAST((
      LOWER('a%')
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  OR c.first_name LIKE (
    CAST((
      'B%'
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  );
