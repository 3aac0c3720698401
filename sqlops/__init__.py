"""sqlops: MySQL/MariaDB companion for Squid logging, partitions, query advice and host tuning."""

__version__ = "0.1.0"
