#!/usr/bin/env bash
# Oracle MySQL (Debian unstable's mysql-server-core) in a debootstrap chroot, on loopback.
#
#   .ci/mysql-chroot.sh start [NAME] [PORT]   prepare the chroot (cached), start mysqld, print DSN
#   .ci/mysql-chroot.sh stop  [NAME]
#   .ci/mysql-chroot.sh destroy [NAME]         stop and delete NAME's data directory
#   .ci/mysql-chroot.sh dsn   [NAME]
#   .ci/mysql-chroot.sh prepare                build the chroot (cached) without starting a server
#   .ci/mysql-chroot.sh mirror                 the Debian mirror apt on this machine uses
#
# Idempotent. The chroot lives outside the clone (SQLOPS_MYSQL_CHROOT, default
# /var/cache/sqlops/mysql-sid) so a fresh clone reuses it; the first build takes a few minutes.
# Needs root (debootstrap, chroot, mount). Prints `DSN=mysql://root@127.0.0.1:PORT/` and
# `VERSION=...` on stdout; everything else goes to stderr.
set -euo pipefail

ROOT=${SQLOPS_MYSQL_CHROOT:-/var/cache/sqlops/mysql-sid}
CMD=${1:-start}
NAME=${2:-main}
PORT=${3:-${SQLOPS_MYSQL_PORT:-33097}}
DATADIR=/var/lib/sqlops-$NAME
SOCK=/run/mysqld/sqlops-$NAME.sock
PIDFILE=/run/mysqld/sqlops-$NAME.pid
STATE=$ROOT/var/lib/sqlops-$NAME.port

log() { echo "mysql-chroot: $*" >&2; }

mirror() {
    # The URI apt itself uses, as the brief asks (deb822 or one-line sources).
    local m
    m=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -n1 | awk '{print $2}' || true)
    echo "${m:-http://deb.debian.org/debian}"
}

mount_proc() {
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}

ensure_chroot() {
    if [ ! -f "$ROOT/.sqlops-base-ok" ]; then
        command -v debootstrap >/dev/null || { log "installing debootstrap"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; }
        rm -rf "$ROOT"; mkdir -p "$ROOT"
        log "debootstrap sid into $ROOT from $(mirror)"
        debootstrap --variant=minbase sid "$ROOT" "$(mirror)" >&2
        touch "$ROOT/.sqlops-base-ok"
    fi
    mount_proc
    if [ ! -f "$ROOT/.sqlops-mysql-ok" ]; then
        log "installing mysql-server-core in the chroot"
        chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Check-Valid-Until=false update >&2
        chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            mysql-server-core mysql-client-core >&2
        chroot "$ROOT" getent passwd mysql >/dev/null || chroot "$ROOT" useradd --system --no-create-home mysql
        touch "$ROOT/.sqlops-mysql-ok"
    fi
    mkdir -p "$ROOT/run/mysqld"
    chroot "$ROOT" chown mysql:mysql /run/mysqld
}

running() {
    [ -f "$ROOT$PIDFILE" ] && kill -0 "$(cat "$ROOT$PIDFILE")" 2>/dev/null
}

client() {
    chroot "$ROOT" mysql --protocol=socket -S "$SOCK" -uroot "$@"
}

print_dsn() {
    local port version
    port=$(cat "$STATE")
    version=$(client -N -e 'SELECT VERSION()')
    echo "DSN=mysql://root@127.0.0.1:$port/"
    echo "VERSION=$version"
}

start() {
    ensure_chroot
    if running; then log "$NAME already running"; print_dsn; return; fi
    if [ ! -d "$ROOT$DATADIR/mysql" ]; then
        log "initialising $DATADIR"
        rm -rf "$ROOT$DATADIR"
        chroot "$ROOT" mysqld --initialize-insecure --user=mysql --datadir="$DATADIR" >&2
    fi
    echo "$PORT" > "$STATE"
    log "starting mysqld $NAME on 127.0.0.1:$PORT"
    setsid chroot "$ROOT" mysqld --user=mysql --datadir="$DATADIR" --port="$PORT" \
        --bind-address=127.0.0.1 --mysqlx=OFF --secure-file-priv= --socket="$SOCK" \
        --pid-file="$PIDFILE" --log-error="$DATADIR/error.log" \
        --innodb-buffer-pool-size=256M --max-connections=500 \
        </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 120); do
        if client -e 'SELECT 1' >/dev/null 2>&1; then
            # Root over TCP from the host: the initialised root is root@localhost only.
            client -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" >&2
            print_dsn; return
        fi
        sleep 1
    done
    log "mysqld did not come up; last lines of its error log:"
    tail -n 30 "$ROOT$DATADIR/error.log" >&2 || true
    exit 1
}

stop() {
    if running; then
        kill "$(cat "$ROOT$PIDFILE")"
        for _ in $(seq 1 60); do running || break; sleep 1; done
    fi
    log "$NAME stopped"
}

destroy() {
    stop
    rm -rf "${ROOT:?}$DATADIR" "$STATE"
    log "$NAME removed"
}

case "$CMD" in
    start) start ;;
    stop) stop ;;
    destroy) destroy ;;
    dsn) print_dsn ;;
    prepare) ensure_chroot ;;
    mirror) mirror ;;
    *) echo "usage: $0 start|stop|destroy|dsn|prepare|mirror [NAME] [PORT]" >&2; exit 2 ;;
esac
