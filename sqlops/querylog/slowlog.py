"""The slow query log reader: MySQL 5.7/8.x/9.x, MariaDB 10.x/11.x and Percona Server.

The file is read as bytes (invalid UTF-8 is the user's data, not our problem) in large blocks.
An entry starts at ``# Time:`` / ``# User@Host:`` at the start of a line; a server start header
(``…/mysqld, Version: … started with:`` plus its two lines, Windows paths too) separates
entries as well. Such a line is an entry boundary unless it sits inside a string literal, a
quoted identifier or a ``/* */`` comment of the statement before it: the statement's tokens
tell (the fingerprint reports whether anything is still open), and then the text up to the
next boundary is joined to the statement as long as the statement can still close.

Every entry becomes a statement or a :class:`~sqlops.querylog.digest.Skipped` record with its
file and line: an entry without a statement, a truncated one (no terminating ``;`` or still
open at the end), text that is not part of any entry. NUL bytes are removed and counted.
"""

from __future__ import annotations

import calendar
import contextlib
import re
from typing import Any

from sqlops.querylog.digest import EXAMPLE_LIMIT, INHERIT, DigestAccumulator, SourceStats
from sqlops.querylog.fingerprint import (
    BIG_FINGERPRINT,
    LITERAL_SPLIT,
    Fingerprint,
    Fingerprinter,
    fingerprint_big,
    lexical_state,
)

# An entry start: "# Time:" (with the "# User@Host:" line after it) or "# User@Host:" alone.
# Searching for the newline first lets the regex engine scan with memchr (6x faster than ^).
_ENTRY_LINE = re.compile(rb"\n(\x00*# Time: [^\n]*\n\x00*# User@Host: |\x00*# (?:Time|User@Host): )")
_ENTRY_AT_START = re.compile(rb"\x00*# Time: [^\n]*\n\x00*# User@Host: |\x00*# (?:Time|User@Host): ")
# The common header shapes in one match (MySQL 5.7-9.x without log_slow_extra, MariaDB
# default verbosity); anything else goes through the general line-by-line parser.
_FAST_HEADER = re.compile(
    rb"(?:# Time: ([^\n]*)\n)?"
    rb"# User@Host: ([^\[\n]*)\[([^\]\n]*)\] @ ([^\[\n]*?) ?\[([^\]\n]*)\](?: +Id: +\d+)?\n"
    rb"(?:# Thread_id: \d+ +Schema: (\S*) +QC_hit: \w+\n)?"
    rb"# Query_time: ([0-9.]+) +Lock_time: ([0-9.]+) +Rows_sent: (\d+) +Rows_examined: (\d+)\n"
    rb"(?:# Rows_affected: (\d+) +Bytes_sent: (\d+)\n)?"
    rb"(?!#)(?:use ([^\n]*);\n)?(?:SET timestamp=(\d+);\n)?"
)
_SERVER_HEADER = re.compile(rb"[^\n]*, Version: [^\n]*started with:\r?\n?")
_SERVER_HEADER_MORE = re.compile(rb"(?:Tcp port|TCP Port): [^\n]*\n?|Time\s+Id\s+Command\s+Argument\r?\n?")
_USER_HOST = re.compile(
    rb"# User@Host: ([^\[\n]*)\[([^\]\n]*)\] @ ([^\[\n]*?) ?\[([^\]\n]*)\](?:\s+Id:\s+(\d+))?"
)
_KV = re.compile(rb"(\w+): (\S*)")
_SET_META = re.compile(rb"SET (?:(?:last_insert_id|insert_id|timestamp)=\d+,?)+;\r?\n?")
_TIMESTAMP_IN_SET = re.compile(rb"timestamp=(\d+)")
_ISO_TIME = re.compile(rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_OLD_TIME = re.compile(rb"(\d\d)(\d\d)(\d\d) +(\d\d?):(\d\d):(\d\d)")
_ADMIN = b"# administrator command: "

# A statement may swallow header-like lines while a literal is open, but not without end: past
# this many bytes it is reported as truncated and the next header is taken as real.
MAX_STATEMENT_JOIN = 4 * 1024 * 1024
MAX_JOINED_BOUNDARIES = 64

# Fields with a fixed place in every class (index into digest.METRICS); times become µs.
_METRIC_FIELDS = {
    b"Query_time": 0,
    b"Lock_time": 1,
    b"Rows_sent": 2,
    b"Rows_examined": 3,
    b"Rows_affected": 4,
    b"Bytes_sent": 5,
}
# Fields that are not statistics.
_IGNORED_FIELDS = frozenset(
    (b"Thread_id", b"Id", b"Schema", b"Start", b"End", b"Log_slow_rate_type", b"Log_slow_rate_limit")
)
# MariaDB's engine statistics (log_slow_verbosity=engine) are in milliseconds; everything
# else called *_time or *_wait is in seconds. Extras are reported in seconds.
_MILLISECOND_FIELDS = frozenset((b"Engine_time", b"Pages_read_time"))
_ERRNO_FIELDS = (b"Errno", b"Last_errno")


def _usec(value: bytes) -> int:
    return int(float(value) * 1e6 + 0.5)


def _number(name: bytes, value: bytes) -> float | None:
    if value == b"Yes":
        return 1
    if value == b"No":
        return 0
    try:
        number = float(value) if b"." in value else int(value)
    except ValueError:
        return None  # hex transaction ids and other labels are not statistics
    if name in _MILLISECOND_FIELDS:
        return number / 1000
    return number


def parse_log_time(raw: bytes) -> float | None:
    """`# Time:` as epoch seconds: ISO 8601 (MySQL ≥ 5.7; no zone = UTC) or YYMMDD H:MM:SS
    (MariaDB, MySQL ≤ 5.6; local time of the server, taken as UTC here)."""
    m = _ISO_TIME.match(raw)
    if m:
        y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
        frac = float(m.group(7)) if m.group(7) else 0.0
        offset = 0
        zone = m.group(8)
        if zone and zone != b"Z":
            sign = -1 if zone[:1] == b"-" else 1
            offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        return calendar.timegm((y, mo, d, h, mi, s)) + frac - offset
    m = _OLD_TIME.match(raw)
    if m:
        y, mo, d, h, mi, s = (int(x) for x in m.groups())
        return float(calendar.timegm((2000 + y, mo, d, h, mi, s)))
    return None


class SlowLogScanner:
    """Turns blocks of a slow log into rows of a DigestAccumulator.

    ``feed(buf, base_pos, base_line, final)`` processes the complete entries of ``buf`` (whose
    first byte is at file offset ``base_pos`` and on line ``base_line``) and returns how many
    bytes it consumed; the caller keeps the rest and feeds it again with the next block.
    """

    def __init__(
        self,
        acc: DigestAccumulator,
        source: int,
        fingerprinter: Fingerprinter,
        *,
        long_query_time_us: int | None = None,
        inherit_database: bool = False,
    ) -> None:
        self.acc = acc
        self.source = source
        self.stats: SourceStats = acc.sources[source]
        self.fp = fingerprinter
        self.long_query_time_us = long_query_time_us
        # The database named by the last `use` line (MySQL writes it only when it changes).
        self.database: bytes | None = INHERIT if inherit_database else None
        self.stop_at: int | None = None  # a range worker: entries starting at/after this belong to the next
        self.next_start: int | None = None  # the first entry start at/after stop_at
        self._body_meta: tuple[bytes | None, int | None] = (None, None)  # `use` db, SET timestamp

    # -- blocks ------------------------------------------------------------------------------

    def feed(self, buf: bytes, base_pos: int, base_line: int, final: bool) -> int:
        starts = entry_starts(buf)
        has_nul = b"\x00" in buf
        line = base_line
        line_pos = 0
        if not starts or starts[0] != 0:
            first = starts[0] if starts else len(buf)
            if not starts and not final:
                # No entry in a whole block: report it and let it go (keeping the last, maybe
                # partial, line) instead of holding an ever larger buffer.
                keep = buf.rfind(b"\n") + 1
                if keep and buf[:keep].strip(b"\x00 \t\r\n"):
                    self._skip(base_pos, line, "text outside any entry")
                return keep
            if buf[:first].strip(b"\x00 \t\r\n"):
                self._skip(base_pos, line, "text outside any entry")
        k = 0
        n = len(starts)
        # The hot loop: entries whose header matches _FAST_HEADER and whose statement ends in
        # ";\n" are handled inline (no call per entry); everything else goes to _entry().
        fast_match = _FAST_HEADER.match if not has_nul else None
        split = LITERAL_SPLIT.split
        cache = self.fp.cache
        fingerprint_of = self.fp
        big = self.fp.BIG_STATEMENT
        acc = self.acc
        pending = acc.pending
        pending_fp = acc.pending_fp
        source = self.source
        lqt = self.long_query_time_us
        stop_at = self.stop_at
        entries = 0
        while k < n:
            s = starts[k]
            if stop_at is not None and base_pos + s >= stop_at:
                self.next_start = base_pos + s
                self.stats.entries += entries
                return len(buf)
            line += buf.count(b"\n", line_pos, s)
            line_pos = s
            if k + 1 < n:
                e = starts[k + 1]
            elif final:
                e = len(buf)
            else:
                self.stats.entries += entries
                return s
            m = fast_match(buf, s, e) if fast_match is not None else None
            # Fast only for "...;\n" endings and statements that do not start with "#"
            # ("# administrator command:" lines, comment-first statements).
            if m is not None:
                if e - 2 > m.end() and buf[e - 2] == 59 and buf[e - 1] == 10:
                    sql = buf[m.end() : e - 2]
                    if sql[0] == 35 or sql[-1] <= 32:
                        m = None
                else:
                    m = None
            if m is not None:
                fp = cache.get(tuple(split(sql))) if len(sql) <= big else None
                if fp is None:
                    fp = fingerprint_of(sql)
                if fp.complete:
                    (
                        time_raw,
                        user,
                        user2,
                        host,
                        ip,
                        schema,
                        qt,
                        lt,
                        sent,
                        examined,
                        affected,
                        nbytes,
                        use_db,
                        ts,
                    ) = m.groups()
                    if use_db is not None:
                        self.database = use_db.strip(b"`") or None
                    query_time = int(float(qt) * 1e6 + 0.5)
                    row = (
                        query_time,
                        int(float(lt) * 1e6 + 0.5),
                        int(sent),
                        int(examined),
                        None if affected is None else int(affected),
                        None if nbytes is None else int(nbytes),
                        float(ts) if ts is not None else (parse_log_time(time_raw) if time_raw else None),
                        (schema or None) if schema is not None else self.database,
                        user.strip() or user2.strip(),
                        ip.strip() or host.strip(),
                        True if lqt is not None and query_time < lqt else None,
                        None,
                        None,
                        sql,
                        base_pos + s,
                        line,
                        source,
                        None,
                    )
                    if len(sql) > big:  # add() bounds what a long statement's row keeps
                        acc.add(fp, row)
                        entries += 1
                        k += 1
                        continue
                    key = fp.key
                    rows = pending.get(key)
                    if rows is None:
                        pending[key] = rows = []
                        pending_fp[key] = fp
                    rows.append(row)
                    entries += 1
                    acc.pending_rows += 1
                    if acc.pending_rows >= acc.FLUSH_ROWS:
                        acc.flush()
                    k += 1
                    continue
            used = self._entry(buf, s, e, starts, k, base_pos, line, final, has_nul)
            if used is None:  # needs more input to decide
                self.stats.entries += entries
                return s
            k += used
        self.stats.entries += entries
        if final and self.stop_at is not None and self.next_start is None:
            self.next_start = base_pos + len(buf)
        return len(buf)

    # -- one entry ---------------------------------------------------------------------------

    def _entry(
        self,
        buf: bytes,
        s: int,
        e: int,
        starts: list[int],
        k: int,
        base_pos: int,
        line: int,
        final: bool,
        has_nul: bool,
    ) -> int | None:
        """Handle the entry at starts[k]; return how many start positions it used up (or None
        when the decision needs text beyond this block)."""
        data, ds, de = buf, s, e
        if has_nul and buf.find(b"\x00", s, e) >= 0:
            segment = buf[s:e]
            nuls = segment.count(b"\x00")
            self.stats.nul_bytes += nuls
            self._skip(base_pos + s, line, f"NUL bytes dropped: {nuls} in this entry")
            data, ds, de = segment.replace(b"\x00", b""), 0, len(segment.replace(b"\x00", b""))

        header = _SERVER_HEADER.match(data, ds, de)
        if header is not None:
            p = header.end()
            for _ in range(2):
                more = _SERVER_HEADER_MORE.match(data, p, de)
                if more is None:
                    break
                p = more.end()
            self.stats.server_headers += 1
            self.database = None  # a new server process starts a new `use` sequence
            if data[p:de].strip():
                self._skip(base_pos + s, line, "text after a server start header is not an entry")
            return 1

        head = self._header(data, ds, de)
        body = head["body"]
        result = self._statement(data, body, de)
        used = 1
        if result is not None and not result[1].complete and data is buf:
            # A literal is still open: the next boundaries may be text inside it. Join them
            # while the statement can still close, within MAX_STATEMENT_JOIN bytes.
            j = k + 1
            scanned, state = body, b""
            while True:
                j += 1
                if j > len(starts) or j - k > MAX_JOINED_BOUNDARIES:
                    break
                if j == len(starts) and not final:
                    if len(buf) - s > MAX_STATEMENT_JOIN:
                        break
                    return None
                nxt = starts[j] if j < len(starts) else len(buf)
                if nxt - s > MAX_STATEMENT_JOIN:
                    break
                state = lexical_state(data, scanned, nxt, state)
                scanned = nxt
                if not state:
                    joined = self._statement(data, body, nxt)
                    if joined is not None and joined[1].complete:
                        result, used = joined, j - k
                    break
            if used == 1:
                result = self._statement(data, body, de)  # restore this entry's own metadata

        if result is None:
            reason = "entry without a statement"
            if head["metrics"][0] is None and not head["user"]:
                reason = "unrecognised text: not a slow-log entry"
            self._skip(base_pos + s, line, reason)
            return 1
        sql, fp = result
        if not fp.complete:
            self._skip(base_pos + s, line, "truncated entry: a string, identifier or comment is not closed")
            return 1
        if not sql.endswith(b";"):
            self._skip(base_pos + s, line, "truncated entry: the statement has no terminating ';'")
            return used
        example = sql[:-1].rstrip() if len(sql) <= EXAMPLE_LIMIT else sql[: EXAMPLE_LIMIT + 1]
        self._emit(head, example, fp, base_pos + s, line)
        return used

    def _header(self, data: bytes, p: int, e: int) -> dict[str, Any]:
        fields: dict[bytes, bytes] = {}
        time_raw = user = host = None
        explain: list[bytes] = []
        while p < e and data[p] == 0x23 and not data.startswith(_ADMIN, p):
            nl = data.find(b"\n", p, e)
            if nl < 0:
                nl = e
            if data.startswith(b"# User@Host: ", p):
                m = _USER_HOST.match(data, p, nl)
                if m is not None:
                    user = m.group(1).strip() or m.group(2).strip()
                    host = m.group(4).strip() or m.group(3).strip()
                    if m.group(5):
                        fields[b"Id"] = m.group(5)
            elif data.startswith(b"# Time: ", p):
                time_raw = data[p + 8 : nl].strip()
            elif data.startswith(b"# explain: ", p):
                explain.append(data[p + 11 : nl].rstrip(b"\r"))
            else:
                fields.update(_KV.findall(data, p, nl))
            p = nl + 1
        metrics: list[int | None] = [None, None, None, None, None, None]
        extras: dict[bytes, float] | None = None
        no_index: bool | None = None
        errno: int | None = None
        database: Any = None
        has_schema = False
        for name, value in fields.items():
            slot = _METRIC_FIELDS.get(name)
            if slot is not None:
                with contextlib.suppress(ValueError):  # a garbled number: leave the value unknown
                    metrics[slot] = _usec(value) if slot < 2 else int(value)
                continue
            if name == b"Schema":
                has_schema = True
                database = value or None
                continue
            if name in _IGNORED_FIELDS:
                continue
            number = _number(name, value)
            if number is None:
                continue
            if name in _ERRNO_FIELDS:
                errno = int(number)
                continue
            if name in (b"Full_scan", b"Full_join", b"Select_scan", b"Select_full_join"):
                no_index = bool(no_index) or number > 0
            if extras is None:
                extras = {}
            extras[name] = number
        if no_index is None and explain:
            no_index = any(_explain_scans(row) for row in explain[1:])
        if no_index is None and extras is not None and b"Read_rnd_next" in extras:
            # MySQL's log_slow_extra has no Select_scan. Its evidence: most examined rows came
            # from sequential reads (Read_rnd_next) and no temporary table (whose rows are read
            # the same way) was made. A heuristic, so anything else stays "unknown".
            examined = metrics[3] or 0
            sequential = extras[b"Read_rnd_next"]
            if examined and sequential * 2 >= examined and not extras.get(b"Created_tmp_tables"):
                no_index = True
        return {
            "body": min(p, e),
            "time": time_raw,
            "user": user,
            "host": host,
            "metrics": metrics,
            "extras": extras,
            "no_index": no_index,
            "errno": errno,
            "database": database,
            "has_schema": has_schema,
            "explain": b"\n".join(explain) if explain else None,
        }

    def _statement(self, data: bytes, p: int, e: int) -> tuple[bytes, Fingerprint] | None:
        """The statement text of an entry body (``use``/``SET timestamp`` lines removed) and its
        fingerprint; None when there is no statement. Stores the `use` database and timestamp
        it found on ``self._body_meta``."""
        use_db = None
        ts = None
        if data.startswith(b"use ", p):
            nl = data.find(b"\n", p, e)
            nl = e if nl < 0 else nl
            use_db = data[p + 4 : nl].rstrip(b"\r").rstrip(b";").strip(b"`") or None
            p = nl + 1
        if data.startswith(b"SET ", p):
            m = _SET_META.match(data, p, e)
            if m is not None:
                t = _TIMESTAMP_IN_SET.search(data, p, m.end())
                if t is not None:
                    ts = int(t.group(1))
                p = m.end()
        self._body_meta = (use_db, ts)
        sql = data[p:e].strip()
        if not sql:
            return None
        if sql.startswith(_ADMIN):
            text = b"administrator command: " + sql[len(_ADMIN) :].rstrip(b";").strip()
            return sql, Fingerprint(text, text.upper(), True)
        if len(sql) > BIG_FINGERPRINT:  # no more copies of a huge statement than needed
            return sql, fingerprint_big(sql, 0, len(sql) - sql.endswith(b";"))
        return sql, self.fp(sql[:-1] if sql.endswith(b";") else sql)

    def _emit(self, head: dict[str, Any], sql: bytes, fp: Fingerprint, pos: int, line: int) -> None:
        use_db, ts = self._body_meta
        if use_db is not None:
            self.database = use_db
        database = head["database"] if head["has_schema"] else self.database
        timestamp: float | None = float(ts) if ts is not None else None
        if timestamp is None and head["time"] is not None:
            timestamp = parse_log_time(head["time"])
        metrics = head["metrics"]
        no_index = head["no_index"]
        if no_index is None and self.long_query_time_us is not None and metrics[0] is not None:
            # Faster than long_query_time yet logged: only log_queries_not_using_indexes does that.
            no_index = True if metrics[0] < self.long_query_time_us else None
        self.stats.entries += 1
        self.acc.add(
            fp,
            (
                *metrics,
                timestamp,
                database,
                head["user"],
                head["host"],
                no_index,
                head["errno"],
                head["extras"],
                sql,
                pos,
                line,
                self.source,
                head["explain"],
            ),
        )

    def _skip(self, pos: int, line: int, reason: str) -> None:
        self.acc.skip(self.source, pos, line, reason)


def _explain_scans(row: bytes) -> bool:
    """An EXPLAIN row (tab-separated: id, select_type, table, type, ...) with a full table or
    full index scan."""
    cells = row.split(b"\t")
    return len(cells) > 3 and cells[3] in (b"ALL", b"index")


def entry_starts(buf: bytes) -> list[int]:
    """Offsets of every candidate entry start and server start header in `buf`."""
    first = _ENTRY_AT_START.match(buf)
    starts = [0] if first is not None else []
    # One match per entry: a "# Time:" line swallows the "# User@Host:" line after it.
    pos = first.end() if first is not None else 0
    starts += [m.start(1) for m in _ENTRY_LINE.finditer(buf, pos)]
    at = buf.find(b", Version: ")
    if at < 0:
        return starts
    headers = []
    while at >= 0:
        line_start = buf.rfind(b"\n", 0, at) + 1
        if _SERVER_HEADER.match(buf, line_start):
            headers.append(line_start)
        at = buf.find(b", Version: ", at + 1)
    return sorted(set(starts).union(headers))
