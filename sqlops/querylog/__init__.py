"""Query logs: slow and general log readers, fingerprints, the class model and its reports.

The advisor and the CLI use :func:`digest_logs` (files) or
:func:`~sqlops.querylog.perfschema.read_digest_table` (performance_schema); both return a
:class:`~sqlops.querylog.digest.DigestReport` whose ``classes`` are ranked
:class:`~sqlops.querylog.digest.QueryClass` records.
"""

from __future__ import annotations

from sqlops.querylog.digest import DigestReport, MetricSummary, QueryClass, QueryExample
from sqlops.querylog.fingerprint import Fingerprint, class_id, fingerprint
from sqlops.querylog.reader import ReadOptions, digest_logs

__all__ = [
    "DigestReport",
    "Fingerprint",
    "MetricSummary",
    "QueryClass",
    "QueryExample",
    "ReadOptions",
    "class_id",
    "digest_logs",
    "fingerprint",
]
