"""The general query log reader (MySQL 5.7/8.x/9.x and MariaDB).

Each record is ``[time]<TAB>  <thread id> <Command><TAB><argument>``; MariaDB writes the time
(``YYMMDD H:MM:SS``) only when it changes, MySQL an ISO time on every record. A statement runs
on over the following lines until the next record. ``Query`` and ``Execute`` records (the
latter carries the SQL of a binary-protocol execution with its values filled in) become
statements; ``Connect``, ``Init DB`` and ``use`` tell which user, host and database a thread
has. The general log has no timings, so classes from it have counts but no statistics.
"""

from __future__ import annotations

import re

from sqlops.querylog.digest import DigestAccumulator
from sqlops.querylog.fingerprint import Fingerprinter
from sqlops.querylog.slowlog import MAX_STATEMENT_JOIN, parse_log_time

# The start of a general-log record; public because the format sniffer (reader.py) counts them.
RECORD_START = re.compile(
    rb"^(\d{6} [ \d]\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?)?"
    rb"\t+ *(\d+) (Query|Execute|Prepare|Connect|Quit|Init DB|Close stmt|Reset stmt|Field List|Statistics"
    rb"|Ping|Shutdown|Binlog Dump|Binlog Dump GTID|Change user|Long Data|Fetch|Refresh|Processlist|Kill"
    rb"|Debug|Sleep|Table Dump|Connect Out|Register Slave|Set option|Daemon|Error|Time|Delayed insert"
    rb"|Reset connection|Clone|Group Replication Data Stream subscription)(?:\t|\r?$)",
    re.M,
)
_SERVER_HEADER = re.compile(rb"^[^\n]*, Version: [^\n]*started with:\r?$", re.M)
_HEADER_LINES = re.compile(rb"(?:(?:Tcp port|TCP Port): [^\n]*|Time\s+Id\s+Command\s+Argument)\r?$")
_CONNECT = re.compile(rb"(\S*?)@(\S*) on (\S*)")
_USE = re.compile(rb"use\s+`?([^`;\s]+)`?\s*;?\s*$", re.I)
STATEMENT_COMMANDS = frozenset((b"Query", b"Execute"))
_NO_METRICS = (None,) * 6  # the general log has no timings or row counts


class GeneralLogScanner:
    """Reads a whole general log held in memory block by block (same contract as the slow-log
    scanner: ``feed`` returns the bytes consumed)."""

    def __init__(self, acc: DigestAccumulator, source: int, fingerprinter: Fingerprinter) -> None:
        self.acc = acc
        self.source = source
        self.stats = acc.sources[source]
        self.fp = fingerprinter
        self.threads: dict[bytes, tuple[bytes | None, bytes | None, bytes | None]] = {}
        self.time: float | None = None

    def feed(self, buf: bytes, base_pos: int, base_line: int, final: bool) -> int:
        records = list(RECORD_START.finditer(buf))
        headers = [m.start() for m in _SERVER_HEADER.finditer(buf)]
        bounds = sorted([m.start() for m in records] + headers)
        line, line_pos = base_line, 0
        if not bounds and not final:
            # No record in a whole block: report it and let it go (keeping the last, maybe
            # partial, line) instead of holding an ever larger buffer.
            keep = buf.rfind(b"\n") + 1
            if keep and _strip_headers(buf[:keep]).strip(b"\x00 \t\r\n"):
                self.acc.skip(self.source, base_pos, line, "text outside any record")
            return keep
        first = bounds[0] if bounds else len(buf)
        if first > 0 and _strip_headers(buf[:first]).strip(b"\x00 \t\r\n"):
            self.acc.skip(self.source, base_pos, line, "text outside any record")
        by_start = {m.start(): m for m in records}
        k = 0
        while k < len(bounds):
            s = bounds[k]
            line += buf.count(b"\n", line_pos, s)
            line_pos = s
            e = bounds[k + 1] if k + 1 < len(bounds) else len(buf)
            record = by_start.get(s)
            if record is None:  # a server start header and its two lines
                self.stats.server_headers += 1
                if k + 1 >= len(bounds) and not final:
                    return buf.find(b"\n", s) + 1 or len(buf)  # the rest is fed again
                if _strip_headers(buf[s:e]).strip(b"\x00 \t\r\n"):
                    self.acc.skip(self.source, base_pos + s, line, "text outside any record")
                k += 1
                continue
            if k + 1 >= len(bounds) and not final:
                return s
            used = self._record(buf, record, e, bounds, k, base_pos + s, line, final)
            if used is None:
                return s
            k += used
        return len(buf)

    def _record(
        self,
        buf: bytes,
        m: re.Match[bytes],
        e: int,
        bounds: list[int],
        k: int,
        pos: int,
        line: int,
        final: bool,
    ) -> int | None:
        stamp, thread, command = m.group(1), m.group(2), m.group(3)
        if stamp:
            self.time = parse_log_time(stamp)
        arg_start = m.end()
        user, host, database = self.threads.get(thread, (None, None, None))
        if command == b"Connect":
            c = _CONNECT.match(buf, arg_start, e)
            if c is not None:
                self.threads[thread] = (c.group(1) or None, c.group(2) or None, c.group(3) or None)
            return 1
        if command == b"Init DB":
            name = buf[arg_start:e].strip() or None
            self.threads[thread] = (user, host, name)
            return 1
        if command == b"Quit":
            self.threads.pop(thread, None)
            return 1
        if command not in STATEMENT_COMMANDS:
            return 1
        used = 1
        sql = _strip_headers(buf[arg_start:e]).strip()
        fp = self.fp(sql) if sql else None
        if fp is not None and not fp.complete:
            j = k + 1
            while j < len(bounds) or final:
                j += 1
                if j > len(bounds):
                    break
                if j == len(bounds) and not final:
                    return None
                nxt = bounds[j] if j < len(bounds) else len(buf)
                if nxt - m.start() > MAX_STATEMENT_JOIN:
                    break
                joined = buf[arg_start:nxt].strip()
                candidate = self.fp(joined)
                if candidate.complete:
                    sql, fp, used = joined, candidate, j - k
                    break
            if not fp.complete:
                self.acc.skip(
                    self.source, pos, line, "truncated statement: a string or comment is not closed"
                )
                return 1
        if fp is None:
            self.acc.skip(self.source, pos, line, "record without a statement")
            return 1
        use = _USE.match(sql)
        if use is not None:
            database = use.group(1)
            self.threads[thread] = (user, host, database)
        self.stats.entries += 1
        self.acc.add(
            fp,
            (
                *_NO_METRICS,
                self.time,
                database,
                user,
                host,
                None,
                None,
                None,
                sql,
                pos,
                line,
                self.source,
                None,
            ),
        )
        return used


def _strip_headers(text: bytes) -> bytes:
    """Remove server start header lines (they can sit between records)."""
    if b", Version: " not in text and b"Command" not in text:
        return text
    lines = text.split(b"\n")
    kept = [ln for ln in lines if not (_SERVER_HEADER.match(ln) or _HEADER_LINES.match(ln))]
    return b"\n".join(kept)
