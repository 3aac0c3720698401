#!/bin/bash
# Entrypoint of the sqlops/mariadb and sqlops/mysql images (docker/build-images.sh).
#
# Like the official mariadb/mysql images: the first start initialises an empty datadir and
# applies MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD (or, explicitly,
# MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD), MARIADB_DATABASE /
# MYSQL_DATABASE and MARIADB_USER+MARIADB_PASSWORD / MYSQL_USER+MYSQL_PASSWORD; root may log in
# from anywhere ('root'@'%'). Arguments that start with '-' go to the server; any other
# command runs as it is (`docker run --rm IMAGE mysql --version`).
set -euo pipefail

if [ "${1:0:1}" = "-" ]; then set -- mysqld "$@"; fi
case "${1:-}" in
    mysqld|mariadbd) shift ;;
    *) exec "$@" ;;
esac

daemon=$(command -v mariadbd || command -v mysqld || echo /usr/sbin/mysqld)
datadir=/var/lib/mysql
root_pw=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
allow_empty=${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}
database=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
user=${MARIADB_USER:-${MYSQL_USER:-}}
user_pw=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}

say() { echo "entrypoint: $*" >&2; }
lit() { local v=${1//\\/\\\\}; printf "'%s'" "${v//\'/\'\'}"; }
ident() { printf '`%s`' "${1//\`/\`\`}"; }

# /var/lib/mysql-files: Debian's compiled-in secure_file_priv (as in the official image).
mkdir -p /run/mysqld "$datadir" /var/lib/mysql-files
chown mysql:mysql /run/mysqld "$datadir" /var/lib/mysql-files

init_args=()
if [ ! -d "$datadir/mysql" ]; then
    case "$allow_empty" in 1|yes|true|on) allow_empty=1 ;; *) allow_empty= ;; esac
    if [ -z "$root_pw" ] && [ -z "$allow_empty" ]; then
        say "the datadir is empty: set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD), or"
        say "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 (or MYSQL_ALLOW_EMPTY_PASSWORD=yes) for a password-less root"
        exit 1
    fi
    say "initialising $datadir"
    if command -v mariadb-install-db >/dev/null; then
        mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=normal \
            --skip-test-db --skip-name-resolve >/dev/null
    else
        "$daemon" --initialize-insecure --user=mysql --datadir="$datadir" --log-error-verbosity=1
    fi
    sql=/run/mysqld/init.sql
    {
        echo "CREATE USER IF NOT EXISTS 'root'@'%';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "$root_pw" ]; then
            echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(lit "$root_pw");"
            echo "ALTER USER 'root'@'%' IDENTIFIED BY $(lit "$root_pw");"
        fi
        if [ -n "$database" ]; then echo "CREATE DATABASE IF NOT EXISTS $(ident "$database");"; fi
        if [ -n "$user" ]; then
            echo "CREATE USER IF NOT EXISTS $(lit "$user")@'%' IDENTIFIED BY $(lit "$user_pw");"
            if [ -n "$database" ]; then echo "GRANT ALL ON $(ident "$database").* TO $(lit "$user")@'%';"; fi
        fi
        if command -v mariadb-install-db >/dev/null; then
            # mariadb-install-db also made root@127.0.0.1, root@::1 and root@<hostname> without
            # a password; they would win over root@'%' for local logins.
            echo "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN ('localhost', '%');"
        fi
        echo "FLUSH PRIVILEGES;"
    } > "$sql"
    chown mysql:mysql "$sql"
    chmod 600 "$sql"
    init_args=(--init-file="$sql")
fi

exec "$daemon" --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 \
    --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid --skip-name-resolve \
    "${init_args[@]}" "$@"
