-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(TRIM(c.city)) = CAST('berlin' AS BINARY)
  AND CHAR_LENGTH(c.last_name) > 3
  AND COALESCE(c.gender, 'x') <> CAST('x' AS BINARY)
  AND (
    CONCAT(COALESCE(c.first_name, ''), COALESCE(' ', ''), COALESCE(c.last_name, ''))
  ) LIKE (
    CAST((
      'A%'
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  AND ABS((
    c.churn_score
  ) - (
    0.5
  )) < 0.1
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS DECIMAL(38, 10)), (
      1
    )) AS DOUBLE)
  ) = 0.5
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS DECIMAL(38, 10)), (
      0
    )) AS DOUBLE)
  ) = 0
  AND (
    FLOOR((
      (
        c.churn_score
      ) * (
        10
      )
    ))
  ) = 3
  AND (
    CEIL((
      (
        c.churn_score
      ) * (
        10
      )
    ))
  ) = 4
  AND GREATEST(COALESCE(c.age, 18), COALESCE(18, c.age)) < (
    LEAST(COALESCE(c.age, 90), COALESCE(90, c.age))
  ) + (
    1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(TRIM(c.city)) = CAST('berlin' AS BINARY)
  AND CHAR_LENGTH(c.last_name) > 3
  AND COALESCE(c.gender, 'x') <> CAST('x' AS BINARY)
  AND (
    CONCAT(COALESCE(c.first_name, ''), COALESCE(' ', ''), COALESCE(c.last_name, ''))
  ) LIKE (
    CAST((
      'A%'
    ) AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin
  )
  AND ABS((
    c.churn_score
  ) - (
    0.5
  )) < 0.1
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS DECIMAL(38, 10)), (
      1
    )) AS DOUBLE)
  ) = 0.5
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS DECIMAL(38, 10)), (
      0
    )) AS DOUBLE)
  ) = 0
  AND (
    FLOOR((
      (
        c.churn_score
      ) * (
        10
      )
    ))
  ) = 3
  AND (
    CEIL((
      (
        c.churn_score
      ) * (
        10
      )
    ))
  ) = 4
  AND GREATEST(COALESCE(c.age, 18), COALESCE(18, c.age)) < (
    LEAST(COALESCE(c.age, 90), COALESCE(90, c.age))
  ) + (
    1
  );
