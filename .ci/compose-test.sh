#!/usr/bin/env bash
# docker/compose.yml end to end with the local images: both servers up, `sqlops schema init`,
# the bundled Squid log (tests/data/squid/logformat/native.log) fed to sqlops-logfile-daemon in
# the sqlops container as Squid feeds it (`L<line>` per line on stdin), the rows counted in the
# database, then `down -v`. Needs SQLOPS_MARIADB_IMAGE, SQLOPS_MYSQL_IMAGE and SQLOPS_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."
project=${COMPOSE_PROJECT_NAME:-sqlops-ci-$$}
compose() { docker-compose -p "$project" -f docker/compose.yml "$@"; }
trap 'compose --profile tools down -v --remove-orphans >/dev/null 2>&1 || true' EXIT
# Free ports so a user's own compose project (33084/33114) is left alone.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SQLOPS_MYSQL_PORT=$(port) SQLOPS_MARIADB_PORT=$(port)
export SQLOPS_MYSQL_PORT SQLOPS_MARIADB_PORT

log=tests/data/squid/logformat/native.log
# 12 lines: 8 parse, 4 are malformed on purpose and go to the quarantine (see native.parsed).
expected="8 4"
compose up -d mariadb mysql >&2
for service in mariadb mysql; do
    # `run` waits until both servers are healthy (depends_on).
    compose run --rm -T sqlops --dsn "mysql://root:sqlops@$service/squid" schema init >&2
    sed 's/^/L/' "$log" | compose run --rm -T --entrypoint sqlops-logfile-daemon sqlops \
        "/$service:3306/squid/access_log/root/sqlops" 2>&1 | tail -n 3 >&2
    client=$([ "$service" = mariadb ] && echo mariadb || echo mysql)
    sql() { compose exec -T "$service" "$client" -uroot -psqlops -N -e "$1" 2>/dev/null | tr -d '\r'; }
    got=$(sql 'SELECT (SELECT COUNT(*) FROM squid.access_log), (SELECT COUNT(*) FROM squid.sqlops_ingest_quarantine)' | tr -s '[:space:]' ' ' | sed 's/ $//')
    echo "compose: $service $(sql 'SELECT VERSION()'): rows, quarantined = $got (expected $expected) from $log"
    [ "$got" = "$expected" ] || { echo "compose: $service: expected '$expected', got '$got'" >&2; exit 1; }
done
compose --profile tools down -v --remove-orphans >&2
trap - EXIT
