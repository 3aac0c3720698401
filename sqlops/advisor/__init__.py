"""The query advisor: workload-wide index and rewrite advice, proven with EXPLAIN.

sources (slow log | general log | application source | performance_schema) -> classes (digest)
-> analyse (sqlglot) -> schema model -> candidates -> workload merge -> verify -> report.
"""
