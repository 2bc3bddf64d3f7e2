-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(TRIM(c.city)) = 'berlin'
  AND LEN(c.last_name) > 3
  AND COALESCE(c.gender, 'x') <> 'x'
  AND (
    COALESCE(c.first_name, '') + COALESCE(' ', '') + COALESCE(c.last_name, '')
  ) LIKE 'A%'
  AND ABS((
    c.churn_score
  ) - (
    0.5
  )) < 0.1
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS NUMERIC(38, 10)), (
      1
    )) AS FLOAT)
  ) = 0.5
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS NUMERIC(38, 10)), (
      0
    )) AS FLOAT)
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
    CEILING((
      (
        c.churn_score
      ) * (
        10
      )
    ))
  ) = 4
  AND (
    CASE WHEN 18 IS NULL OR c.age >= 18 THEN COALESCE(c.age, 18) ELSE 18 END
  ) < (
    (
      CASE WHEN 90 IS NULL OR c.age <= 90 THEN COALESCE(c.age, 90) ELSE 90 END
    )
  ) + (
    1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(TRIM(c.city)) = 'berlin'
  AND LEN(c.last_name) > 3
  AND COALESCE(c.gender, 'x') <> 'x'
  AND (
    COALESCE(c.first_name, '') + COALESCE(' ', '') + COALESCE(c.last_name, '')
  ) LIKE 'A%'
  AND ABS((
    c.churn_score
  ) - (
    0.5
  )) < 0.1
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS NUMERIC(38, 10)), (
      1
    )) AS FLOAT)
  ) = 0.5
  AND (
    CAST(ROUND(CAST((
      c.churn_score
    ) AS NUMERIC(38, 10)), (
      0
    )) AS FLOAT)
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
    CEILING((
      (
        c.churn_score
      ) * (
        10
      )
    ))
  ) = 4
  AND (
    CASE WHEN 18 IS NULL OR c.age >= 18 THEN COALESCE(c.age, 18) ELSE 18 END
  ) < (
    (
      CASE WHEN 90 IS NULL OR c.age <= 90 THEN COALESCE(c.age, 90) ELSE 90 END
    )
  ) + (
    1
  );
