#!/usr/bin/env python3
"""Export paid invoices to CSV for the accountant (run from cron)."""

import csv
import sys

# settings.py sits next to this script in /usr/local/lib/shop.
import pymysql
from settings import PAGE_SIZE, TABLE_CUSTOMERS, TABLE_INVOICES

ARCHIVE_TABLE = "invoices_archive"


def open_db():
    return pymysql.connect(read_default_file="~/.my.cnf", database="shop")


def paid_invoices(cur, since, customer=None):
    sql = (
        "SELECT i.id, i.amount, c.name "
        f"FROM {TABLE_INVOICES} i "
        "JOIN " + TABLE_CUSTOMERS + " c ON c.id = i.customer_id "
        "WHERE i.status = 'paid' AND i.created_at >= %s"
    )
    params = [since]
    if customer is not None:
        sql += " AND c.id = %(customer)s"
    sql += f" ORDER BY i.id LIMIT {PAGE_SIZE}"
    cur.execute(sql, params)
    return cur.fetchall()


def archive(cur, before):
    cur.execute(
        "INSERT INTO %s SELECT * FROM %s WHERE created_at < %%s" % (ARCHIVE_TABLE, TABLE_INVOICES),  # noqa: UP031
        (before,),
    )
    cur.execute("DELETE FROM {t} WHERE created_at < %s".format(t=TABLE_INVOICES), (before,))  # noqa: UP032


def count_rows(cur, table):
    cur.execute(f"SELECT COUNT(*) FROM {table}")
    return cur.fetchone()[0]


def customer_names(cur, ids):
    marks = ", ".join(["%s"] * len(ids))
    cur.execute(f"SELECT id, name FROM {TABLE_CUSTOMERS} WHERE id IN ({marks})", ids)
    cur.execute(b"SELECT 1")
    return dict(cur.fetchall())


def main(argv):
    db = open_db()
    with db.cursor() as cur:
        writer = csv.writer(sys.stdout)
        for row in paid_invoices(cur, argv[1]):
            writer.writerow(row)
        print("Select the rows you want to export.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
