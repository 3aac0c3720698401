-- Saved report queries of the shop admin (run by hand in the mysql client).
USE shop;

/* Customers without an invoice this year; the name may contain ';' */
SELECT c.id, c.name
  FROM shop_customers c
 WHERE NOT EXISTS (SELECT 1 FROM invoices i
                    WHERE i.customer_id = c.id
                      AND i.created_at >= '2026-01-01')
   AND c.name <> 'test; do not use';

# Biggest customers
select customer_id, sum(amount) as total from invoices group by customer_id order by total desc limit 10;

SET @month = '2026-11';

DELIMITER //
CREATE PROCEDURE close_month(IN p_month CHAR(7))
BEGIN
    UPDATE invoices SET closed = 1 WHERE DATE_FORMAT(created_at, '%Y-%m') = p_month;
    SELECT ROW_COUNT();
END //
DELIMITER ;

UPDATE invoices SET status = 'overdue'
 WHERE status = 'open' AND due_date < CURRENT_DATE - INTERVAL 30 DAY;

WITH monthly AS (
    SELECT DATE_FORMAT(created_at, '%Y-%m') AS month, SUM(amount) AS total
      FROM invoices GROUP BY month
)
SELECT month, total FROM monthly ORDER BY month
