#!/usr/bin/python
# Still Python 2: the scanner cannot read it and says so.
import MySQLdb

db = MySQLdb.connect(read_default_file="/etc/mysql/debian.cnf")
cur = db.cursor()
cur.execute("SELECT COUNT(*) FROM invoices")
print "invoices:", cur.fetchone()[0]
