"""Monthly RANGE partitions for the log table (and any table with a DATE/DATETIME column).

``inspect`` reads the live layout (read-only), ``planner`` turns state + policy + today into a
:class:`~sqlops.plan.Plan` (pure), ``ddl`` builds the partition statements sqlglot cannot,
``migrate`` rewrites the primary key and partitions a table online, ``rotate`` and ``status``
are what the CLI and the scheduler call (DESIGN.md §2).
"""
