"""Generate a realistic MySQL 8 slow query log with known classes (the benchmark's input).

Every entry comes from one of the SHAPES below (62 statement shapes an application, its
reports and its admins run: point lookups, joins over numbered tables, binary UUID lookups
with hex literals, IN lists and multi-row INSERTs of varying length, multi-line report queries
with comments, optimizer hints, backticks, negative numbers, NULL tests ...). Literal values
vary on every entry; layout (whitespace, keyword case, comment text) varies where real clients
vary it. Each shape is one true class, so the ground truth is the shape of every entry.

Besides the log the generator writes ``<log>.truth.json``: the number of entries per shape and
one sample statement per shape (the benchmark maps samples to each tool's classes).

A few pathological entries are mixed in, as in real logs: a server restart header now and
then, and (rarely) a statement whose string literal contains text that looks like slow-log
header lines. Neither adds a class.

Usage: python bench/digest/generate.py OUT.log [--size-mb 1024] [--seed 5]
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

R = random.Random()


def ip() -> str:
    return f"10.{R.randrange(4)}.{R.randrange(256)}.{R.randrange(1, 255)}"


def word(n: int = 8) -> str:
    return "".join(R.choice(string.ascii_lowercase) for _ in range(n))


def day() -> str:
    return f"2026-{R.randrange(1, 13):02d}-{R.randrange(1, 29):02d}"


def ts() -> str:
    return f"{day()} {R.randrange(24):02d}:{R.randrange(60):02d}:{R.randrange(60):02d}"


def uuid_hex() -> str:
    return "0x" + "".join(R.choice("0123456789ABCDEF") for _ in range(32))


def in_list(make: Callable[[], str], low: int = 1, high: int = 40) -> str:
    return ", ".join(make() for _ in range(R.randint(low, high)))


def kw(text: str) -> str:
    """Hand-written SQL is sometimes lower case: the same class either way."""
    return text.lower() if R.random() < 0.1 else text


def sp() -> str:
    return R.choice([" ", " ", " ", "  ", "\n  "])


def user_ids() -> str:
    return in_list(lambda: str(R.randrange(1, 10**6)))


def names() -> str:
    return in_list(lambda: f"'{word(6)}'", 1, 12)


def insert_rows() -> str:
    return ",\n".join(
        f"({R.randrange(10**6)}, '{ip()}', {R.randrange(100, 599)}, '{word(10)}.example.com', NOW(3))"
        for _ in range(R.randint(1, 25))
    )


SHAPES: list[Callable[[], str]] = [
    lambda: f"SELECT * FROM users WHERE id = {R.randrange(1, 10**6)}",
    lambda: f"SELECT id, email, name FROM users WHERE email = '{word()}@{word(5)}.com'",
    lambda: kw(f"SELECT id, email FROM users WHERE id IN ({user_ids()})"),
    lambda: (
        f"SELECT COUNT(*) FROM orders WHERE user_id = {R.randrange(10**6)} AND status = '{R.choice(['new', 'paid', 'sent'])}'"
    ),
    lambda: (
        f"SELECT o.id, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.created_at >= '{ts()}' ORDER BY o.created_at DESC LIMIT {R.randrange(10, 100)}"
    ),
    lambda: f"SELECT * FROM orders_2025 WHERE id = {R.randrange(10**7)}",
    lambda: f"SELECT * FROM orders_2026 WHERE id = {R.randrange(10**7)}",
    lambda: (
        f"SELECT a1.id, a1.total FROM orders_2026 a1 JOIN order_items_2026 i2 ON i2.order_id = a1.id WHERE a1.user_id = {R.randrange(10**6)}"
    ),
    lambda: f"SELECT id, name FROM shard1.accounts WHERE owner_id = {R.randrange(10**6)}",
    lambda: f"SELECT id, name FROM shard2.accounts WHERE owner_id = {R.randrange(10**6)}",
    lambda: f"SELECT id, name FROM shard3.accounts WHERE owner_id = {R.randrange(10**6)}",
    lambda: f"SELECT * FROM sessions WHERE session_uuid = {uuid_hex()}",
    lambda: (
        f"SELECT user_id, expires_at FROM tokens WHERE token_hash = X'{uuid_hex()[2:]}' AND expires_at > NOW()"
    ),
    lambda: f"UPDATE sessions SET last_seen = '{ts()}' WHERE session_uuid = {uuid_hex()}",
    lambda: f"DELETE FROM sessions WHERE expires_at < '{ts()}' LIMIT {R.choice([100, 500, 1000])}",
    lambda: (
        f"INSERT INTO access_log (user_id, ip_client, http_status, http_host, created_at) VALUES\n{insert_rows()}"
    ),
    lambda: (
        f"INSERT INTO audit (user_id, action, details) VALUES ({R.randrange(10**6)}, '{R.choice(['login', 'logout', 'buy'])}', '{word(20)}')"
    ),
    lambda: (
        f"INSERT INTO counters (name, value) VALUES ('{word(6)}', {R.randrange(100)}) ON DUPLICATE KEY UPDATE value = value + VALUES(value)"
    ),
    lambda: f"REPLACE INTO settings (name, value) VALUES ('{word(8)}', '{word(12)}')",
    lambda: (
        f"UPDATE users SET login_count = login_count + 1, last_login = '{ts()}' WHERE id = {R.randrange(10**6)}"
    ),
    lambda: (
        f"UPDATE orders SET status = '{R.choice(['paid', 'sent'])}' WHERE id = {R.randrange(10**7)} AND status = 'new'"
    ),
    lambda: (
        f"UPDATE stock SET quantity = quantity - {R.randrange(1, 5)} WHERE product_id = {R.randrange(10**5)} AND quantity >= {R.randrange(1, 5)}"
    ),
    lambda: f"DELETE FROM cart_items WHERE cart_id = {R.randrange(10**6)}",
    lambda: (
        f"SELECT p.id, p.name, p.price FROM products p WHERE p.category_id = {R.randrange(500)} AND p.price BETWEEN {R.randrange(100)} AND {R.randrange(100, 1000)} ORDER BY p.price LIMIT {R.randrange(10, 50)}"
    ),
    lambda: f"SELECT * FROM products WHERE name LIKE '%{word(4)}%' LIMIT 20",
    lambda: (
        f"SELECT * FROM products WHERE MATCH(name, description) AGAINST ('{word(6)} {word(5)}' IN BOOLEAN MODE) LIMIT 50"
    ),
    lambda: f"SELECT id FROM products WHERE sku IN ({names()})",
    lambda: f"SELECT COUNT(*) FROM access_log WHERE DATE(created_at) = '{day()}'",
    lambda: (
        f"SELECT ip_client, COUNT(*) AS hits FROM access_log WHERE created_at >= '{ts()}' GROUP BY ip_client ORDER BY hits DESC LIMIT 20"
    ),
    lambda: (
        f"SELECT http_status, COUNT(*)\nFROM access_log\nWHERE created_at BETWEEN '{ts()}' AND '{ts()}'\nGROUP BY http_status"
    ),
    lambda: (
        f"SELECT\n    DATE(created_at)   AS day,\n    http_host,\n    COUNT(*)           AS hits,\n"
        f"    SUM(bytes)         AS total_bytes\nFROM access_log\n-- daily report for {word(5)}\n"
        f"WHERE created_at >= '{day()}'\n  AND http_status = {R.choice([200, 404, 500])}\n"
        f"GROUP BY DATE(created_at), http_host\nORDER BY day, hits DESC"
    ),
    lambda: (
        f"/* app=shop controller={R.choice(['cart', 'order'])} request_id={R.randrange(10**9)} */ "
        f"SELECT id, total FROM orders WHERE user_id = {R.randrange(10**6)} ORDER BY id DESC LIMIT 10"
    ),
    lambda: (
        f"SELECT /*+ MAX_EXECUTION_TIME({R.choice([1000, 5000])}) */ id FROM orders WHERE total > {R.randrange(1000)}.{R.randrange(100):02d}"
    ),
    lambda: (
        f"SELECT `u`.`id`, `u`.`email` FROM `users` AS `u` WHERE `u`.`created_at` > '{ts()}' AND `u`.`deleted_at` IS NULL LIMIT {R.randrange(1, 100)}"
    ),
    lambda: (
        f"SELECT id FROM ledger WHERE amount < -{R.randrange(1, 10**5)} AND account_id = {R.randrange(10**5)}"
    ),
    lambda: (
        f"SELECT id FROM ledger WHERE amount > {R.randrange(1, 10**5)}.{R.randrange(100)} AND booked = {R.choice(['TRUE', 'FALSE'])}"
    ),
    lambda: f"SELECT * FROM users WHERE referrer_id IS NULL AND created_at < '{ts()}' LIMIT 100",
    lambda: f"SELECT * FROM users WHERE referrer_id = {R.choice(['NULL', str(R.randrange(10**6))])} LIMIT 1",
    lambda: (
        f"SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.total > {R.randrange(1000)})"
    ),
    lambda: (
        f"SELECT u.id, (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) AS n FROM users u WHERE u.id BETWEEN {R.randrange(10**5)} AND {R.randrange(10**5, 10**6)}"
    ),
    lambda: (
        f"SELECT category_id, AVG(price) FROM products GROUP BY category_id HAVING AVG(price) > {R.randrange(10, 500)}"
    ),
    lambda: (
        f"SELECT * FROM messages WHERE thread_id = {R.randrange(10**6)} ORDER BY created_at DESC LIMIT {R.randrange(0, 200)}, 20"
    ),
    lambda: (
        f"SELECT * FROM messages WHERE body LIKE '{word(3)}%' AND sender_id = {R.randrange(10**6)} LIMIT 20 OFFSET {R.randrange(1000)}"
    ),
    lambda: f"SELECT id FROM events WHERE payload->>'$.type' = '{word(5)}' AND created_at > '{ts()}'",
    lambda: f"SELECT JSON_EXTRACT(payload, '$.user') FROM events WHERE id = {R.randrange(10**7)}",
    lambda: f"SELECT CONCAT(first_name, ' ', last_name) FROM people WHERE utf8mb4_name = _utf8mb4'{word(7)}'",
    lambda: f"SELECT id FROM files WHERE checksum = _binary'{word(16)}'",
    lambda: (
        f"SELECT id FROM flags WHERE mask & {R.randrange(1, 256)} = {R.randrange(1, 256)} AND bits = b'{R.randrange(2)}{R.randrange(2)}{R.randrange(2)}'"
    ),
    lambda: f"CALL refresh_user_stats({R.randrange(10**6)})",
    lambda: f"CALL report_daily('{day()}', {R.randrange(10)})",
    lambda: "SET NAMES utf8mb4",
    lambda: f"SET autocommit={R.choice([0, 1])}",
    lambda: "BEGIN",
    lambda: "COMMIT",
    lambda: R.choice(["ROLLBACK", "rollback"]),
    lambda: f"SELECT SLEEP({R.randrange(1, 3)})",
    lambda: "SELECT @@version_comment LIMIT 1",
    lambda: f"SHOW FULL PROCESSLIST /* {word(4)} */",
    lambda: (
        f"SELECT t1.id, t2.label FROM t1 LEFT JOIN t2 ON t2.t1_id = t1.id WHERE t1.kind = {R.randrange(5)}"
    ),
    lambda: (
        f"WITH recent AS (SELECT user_id, MAX(created_at) AS last FROM orders WHERE created_at > '{day()}' GROUP BY user_id) SELECT COUNT(*) FROM recent WHERE last < '{day()}'"
    ),
    lambda: (
        f"SELECT id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY total DESC) AS rn FROM orders WHERE created_at >= '{day()}' LIMIT {R.randrange(100, 1000)}"
    ),
    lambda: "administrator command: Quit",
]
ADMIN = len(SHAPES) - 1  # the "# administrator command: Quit;" entries

HEADER = (
    "/usr/sbin/mysqld, Version: 8.4.3 (MySQL Community Server - GPL). started with:\n"
    "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n"
    "Time                 Id Command    Argument\n"
)
FAKE_LITERAL = (
    "INSERT INTO audit (user_id, action, details) VALUES ({uid}, 'paste', 'from the old log:\n"
    "# Time: 2020-01-01T00:00:00.000000Z\n# User@Host: x[x] @ y [10.0.0.1]  Id: 1\n"
    "# Query_time: 99.000000  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n')"
)


def generate(out: Path, size_mb: int, seed: int) -> dict[str, object]:
    R.seed(seed)
    weights = [R.uniform(0.2, 3.0) for _ in SHAPES]
    counts = [0] * len(SHAPES)
    samples: list[str | None] = [None] * len(SHAPES)
    target = size_mb * 1024 * 1024
    written = 0
    epoch = 1795784394.0
    databases = ["shop", "shop", "shop", "reports"]
    current_db = None
    users = [("app", "10.1.0.5"), ("app", "10.1.0.6"), ("report", "10.1.0.9"), ("admin", "127.0.0.1")]
    thread = 10
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(HEADER)
        chunk: list[str] = []
        while written < target:
            for _ in range(2000):
                shape = R.choices(range(len(SHAPES)), weights)[0]
                sql = SHAPES[shape]()
                if shape == 2 and R.random() < 0.00005:
                    sql = FAKE_LITERAL.format(uid=R.randrange(10**6))
                    shape = 16  # same shape as the audit INSERT
                counts[shape] += 1
                if samples[shape] is None and shape != ADMIN:
                    samples[shape] = sql
                epoch += R.random() * 0.01
                user, host = R.choice(users)
                thread += 1 if R.random() < 0.01 else 0
                query_time = R.lognormvariate(-6, 2)
                rows_examined = int(R.lognormvariate(5, 3))
                stamp = _iso(epoch)
                entry = (
                    f"# Time: {stamp}\n# User@Host: {user}[{user}] @  [{host}]  Id: {thread:>5}\n"
                    f"# Query_time: {query_time:.6f}  Lock_time: {query_time * 0.01:.6f} "
                    f"Rows_sent: {min(rows_examined, R.randrange(0, 100))}  Rows_examined: {rows_examined}\n"
                )
                db = R.choice(databases)
                if db != current_db:
                    entry += f"use {db};\n"
                    current_db = db
                entry += f"SET timestamp={int(epoch)};\n"
                entry += "# administrator command: Quit;\n" if shape == ADMIN else sql + ";\n"
                chunk.append(entry)
                if R.random() < 0.000002:
                    chunk.append(HEADER)
                    current_db = None
            text = "".join(chunk)
            chunk.clear()
            fh.write(text)
            written += len(text.encode())
    truth = {
        "entries": sum(counts),
        "classes": sum(1 for c in counts if c),
        "counts": {str(i): c for i, c in enumerate(counts)},
        "samples": {str(i): s for i, s in enumerate(samples) if s is not None},
        "admin_shape": str(ADMIN),
        "bytes": out.stat().st_size,
    }
    Path(str(out) + ".truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def _iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    truth = generate(args.out, args.size_mb, args.seed)
    print(f"wrote {args.out}: {truth['bytes']} bytes, {truth['entries']} entries, {truth['classes']} classes")


if __name__ == "__main__":
    main()
