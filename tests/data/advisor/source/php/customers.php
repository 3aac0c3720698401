<?php
require_once 'config.inc.php';

$db = db_connect();
$page = isset($_GET['page']) ? $_GET['page'] : 1;
$country = $_GET['country'];
$search = $_GET['q'];

// Listing with optional filters
$sql = "SELECT c.id, c.name, c.email, k.name AS country
        FROM " . TABLE_CUSTOMERS . " c
        JOIN " . TABLE_COUNTRIES . " k ON k.code = c.country";
$sql .= " WHERE c.deleted = 0";
if ($country != '') {
    $sql .= " AND c.country = '" . mysqli_real_escape_string($db, $country) . "'";
}
if ($search) {
    $sql .= " AND c.name LIKE '%$search%'";
}
$sql .= " ORDER BY c.name LIMIT " . (($page - 1) * 50) . ", 50";
$result = mysqli_query($db, $sql);

while ($row = mysqli_fetch_assoc($result)) {
    $count = mysqli_query($db, "SELECT COUNT(*) FROM " . TABLE_INVOICES . " WHERE customer_id = {$row['id']}");
    echo "<tr><td>" . htmlspecialchars($row['name']) . "</td></tr>\n";
}

function customer_total($db, $id)
{
    $query = <<<SQL
        SELECT SUM(i.amount) AS total
          FROM invoices i
         WHERE i.customer_id = {$id}
           AND i.status = 'paid'
        SQL;
    $res = $db->query($query);
    return $res->fetch_row()[0];
}

function invoices_since($db, $id, $days)
{
    return $db->query("SELECT id, amount FROM invoices WHERE customer_id = " . (int)$id
        . " AND created_at > NOW() - INTERVAL " . intval($days) . " DAY");
}

function export_table($db, $table, $ids)
{
    // Table comes from the caller, ids from a form: neither is known here.
    $db->query("SELECT * FROM $table WHERE id IN (" . implode(',', $ids) . ")");
    $db->query("SELECT * FROM invoices WHERE " . implode(' AND ', $ids));
}

function sort_customers($db, $order)
{
    $db->query("SELECT id, name FROM " . TABLE_CUSTOMERS . " ORDER BY $order");
}

echo "Select a customer from the list below:";
$msg = 'Update failed, please try again';
