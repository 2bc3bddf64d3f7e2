-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(TRIM(c.city)) = 'berlin'
  AND LENGTH(c.last_name) > 3
  AND COALESCE(c.gender, 'x') <> 'x'
  AND (
    COALESCE(c.first_name, '') || COALESCE(' ', '') || COALESCE(c.last_name, '')
  ) GLOB 'A*'
  AND ABS((
    c.churn_score
  ) - (
    0.5
  )) < 0.1
  AND (
    ROUND((
      c.churn_score
    ), (
      1
    ))
  ) = 0.5
  AND (
    ROUND((
      c.churn_score
    ), (
      0
    ))
  ) = 0
  AND (
    CAST((
      (
        c.churn_score
      ) * (
        10
      )
    ) AS INTEGER) - (
      (
        (
          c.churn_score
        ) * (
          10
        )
      ) < CAST((
        (
          c.churn_score
        ) * (
          10
        )
      ) AS INTEGER)
    )
  ) = 3
  AND (
    CAST((
      (
        c.churn_score
      ) * (
        10
      )
    ) AS INTEGER) + (
      (
        (
          c.churn_score
        ) * (
          10
        )
      ) > CAST((
        (
          c.churn_score
        ) * (
          10
        )
      ) AS INTEGER)
    )
  ) = 4
  AND MAX(COALESCE(c.age, 18), COALESCE(18, c.age)) < (
    MIN(COALESCE(c.age, 90), COALESCE(90, c.age))
  ) + (
    1
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
WHERE
  LOWER(TRIM(c.city)) = 'berlin'
  AND LENGTH(c.last_name) > 3
  AND COALESCE(c.gender, 'x') <> 'x'
  AND (
    COALESCE(c.first_name, '') || COALESCE(' ', '') || COALESCE(c.last_name, '')
  ) GLOB 'A*'
  AND ABS((
    c.churn_score
  ) - (
    0.5
  )) < 0.1
  AND (
    ROUND((
      c.churn_score
    ), (
      1
    ))
  ) = 0.5
  AND (
    ROUND((
      c.churn_score
    ), (
      0
    ))
  ) = 0
  AND (
    CAST((
      (
        c.churn_score
      ) * (
        10
      )
    ) AS INTEGER) - (
      (
        (
          c.churn_score
        ) * (
          10
        )
      ) < CAST((
        (
          c.churn_score
        ) * (
          10
        )
      ) AS INTEGER)
    )
  ) = 3
  AND (
    CAST((
      (
        c.churn_score
      ) * (
        10
      )
    ) AS INTEGER) + (
      (
        (
          c.churn_score
        ) * (
          10
        )
      ) > CAST((
        (
          c.churn_score
        ) * (
          10
        )
      ) AS INTEGER)
    )
  ) = 4
  AND MAX(COALESCE(c.age, 18), COALESCE(18, c.age)) < (
    MIN(COALESCE(c.age, 90), COALESCE(90, c.age))
  ) + (
    1
  );
