"""Settings of the invoice export job."""

DB_NAME = "shop"
TABLE_INVOICES = "invoices"
TABLE_CUSTOMERS = "shop_" + "customers"
PAGE_SIZE = 500
