-- as_of=None
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN regions AS regions_1
  ON regions_1.region_id = c.region_id
WHERE
  regions_1.name = 'North'
  AND c.customer_id IN (
    SELECT
      orders_1.customer_id
    FROM orders AS orders_1
    JOIN order_lines AS order_lines_1
      ON order_lines_1.order_id = orders_1.order_id
    LEFT JOIN products AS products_1
      ON products_1.product_id = order_lines_1.product_id
    WHERE
      products_1.category = 'toys'
  );

-- as_of=2025-06-30T12:30:00
SELECT
  c.customer_id
FROM customers AS c
LEFT JOIN regions AS regions_1
  ON regions_1.region_id = c.region_id
WHERE
  regions_1.name = 'North'
  AND c.customer_id IN (
    SELECT
      orders_1.customer_id
    FROM orders AS orders_1
    JOIN order_lines AS order_lines_1
      ON order_lines_1.order_id = orders_1.order_id
    LEFT JOIN products AS products_1
      ON products_1.product_id = order_lines_1.product_id
    WHERE
      products_1.category = 'toys'
  );
