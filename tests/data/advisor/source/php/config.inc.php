<?php
/*
 * Shop admin: database settings and table names.
 * Included by every page (require_once 'config.inc.php').
 */
define('DB_HOST', 'localhost');
define('DB_NAME', 'shop');
define("TABLE_PREFIX", "shop_");

// Table names: change them here only.
define('TABLE_CUSTOMERS', TABLE_PREFIX . 'customers');
define('TABLE_INVOICES', 'invoices');
const TABLE_COUNTRIES = 'countries';

// An old copy of the config defined this too; both agree, so it is not ambiguous.
if (!defined('TABLE_INVOICES')) {
    define('TABLE_INVOICES', 'invoices');
}

function db_connect()
{
    $link = mysqli_connect(DB_HOST, 'shop_admin', getenv('SHOP_DB_PASSWORD'), DB_NAME);
    mysqli_set_charset($link, 'utf8mb4');
    return $link;
}
