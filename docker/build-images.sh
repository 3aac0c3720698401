#!/usr/bin/env bash
# Build the two database images from Debian packages, without any image registry:
#
#   docker/build-images.sh [mariadb] [mysql]     (both when no argument; needs root and an engine)
#
#   sqlops/mariadb:10.11   MariaDB 10.11 (+ galera-4, rsync, lsof, tzdata) from Debian bookworm:
#                          `debootstrap --variant=minbase bookworm`, `apt-get install` in it,
#                          `docker import`, then docker/images/server.Dockerfile (the entrypoint)
#   sqlops/mysql:9         Oracle MySQL 9.x (mysql-server-core, mysql-client-core) from Debian
#                          unstable: the chroot .ci/mysql-chroot.sh keeps, imported the same way
#
# Each image is also tagged with a hash of its build inputs (this script, the entrypoint, the
# Dockerfile, the package list, the chroot recipe): `sqlops/mariadb:10.11-<hash>`. A tag that
# exists is not built again; a changed recipe gives a new hash and a rebuild. The mirror is the
# one apt on this machine uses. Prints `SQLOPS_MARIADB_IMAGE=...` / `SQLOPS_MYSQL_IMAGE=...`
# on stdout (everything else on stderr), ready for `docker compose` or the tests.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
WORK=${SQLOPS_ROOTFS_DIR:-/var/cache/sqlops/rootfs}
MYSQL_CHROOT=${SQLOPS_MYSQL_CHROOT:-/var/cache/sqlops/mysql-sid}
MARIADB_PACKAGES="mariadb-server mariadb-client galera-4 rsync lsof tzdata"
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin needed, nothing pulled

log() { echo "build-images: $*" >&2; }

quietly() {
    # quietly LOGFILE CMD...: the command's output goes to LOGFILE, shown only when it fails.
    local logfile=$1; shift
    if ! "$@" >>"$logfile" 2>&1; then
        log "failed: $* (last lines of $logfile:)"; tail -n 40 "$logfile" >&2; return 1
    fi
}

inputs_hash() {
    # $1 = extra text (package list); then the files that shape the image.
    { echo "$1"; shift; cat "$@"; } | sha256sum | cut -c1-12
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

prune_old() {
    # prune_old NAME TAG BASE: drop the other hash tags of NAME and NAME-base (older recipes).
    local name=$1 keep=$2 keep_base=$3 old
    for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$name"); do
        case "$old" in *":${keep%%-*}-"*) [ "$old" = "$name:$keep" ] || docker rmi "$old" >/dev/null || true ;; esac
    done
    for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$name-base"); do
        [ "$old" = "$name-base:$keep_base" ] || docker rmi "$old" >/dev/null || true
    done
}

finish_image() {
    # finish_image BASE_TAG IMAGE HASH: the entrypoint layer on top of an imported root fs.
    local base=$1 image=$2 hash=$3
    docker build -q --force-rm --build-arg BASE="$base" --label "sqlops.image-inputs=$hash" \
        -t "$image:$hash" -f "$HERE/images/server.Dockerfile" "$HERE/images" >&2
}

import_rootfs() {
    # import_rootfs DIR TAG [tar excludes...]: the directory as an image (one layer).
    local dir=$1 tag=$2; shift 2
    tar -C "$dir" --numeric-owner --one-file-system "$@" -c . \
        | docker import -c 'ENV LANG=C.UTF-8' -m "sqlops root fs from $dir" - "$tag" >/dev/null
}

build_mariadb() {
    local hash base tag dir mirror buildlog
    # The root fs depends on the package list and this script; the image adds the entrypoint.
    base="10.11-$(inputs_hash "$MARIADB_PACKAGES" "$0")"
    hash=$(inputs_hash "$base" "$HERE/images/entrypoint.sh" "$HERE/images/server.Dockerfile")
    tag="10.11-$hash"
    if ! have_image "sqlops/mariadb:$tag" && have_image "sqlops/mariadb-base:$base"; then
        finish_image "sqlops/mariadb-base:$base" sqlops/mariadb "$tag"
        log "built sqlops/mariadb:$tag on the cached root fs sqlops/mariadb-base:$base"
    elif ! have_image "sqlops/mariadb:$tag"; then
        command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
        mirror=$(bash "$REPO/.ci/mysql-chroot.sh" mirror)
        dir="$WORK/mariadb-bookworm-$hash"
        umount "$dir/proc" 2>/dev/null || true  # a build interrupted while proc was mounted
        rm -rf "$dir"; mkdir -p "$dir"
        buildlog="$WORK/mariadb-build.log"; : > "$buildlog"
        log "debootstrap bookworm into $dir from $mirror (log: $buildlog)"
        quietly "$buildlog" debootstrap --variant=minbase bookworm "$dir" "$mirror"
        # Packages' scripts must not start services inside the build root.
        printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"; chmod +x "$dir/usr/sbin/policy-rc.d"
        mount -t proc proc "$dir/proc"
        log "installing $MARIADB_PACKAGES"
        # shellcheck disable=SC2086
        quietly "$buildlog" chroot "$dir" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends $MARIADB_PACKAGES
        umount "$dir/proc"
        rm -f "$dir/usr/sbin/policy-rc.d"
        # The datadir the package created belongs to root@localhost over the socket only: the
        # entrypoint initialises a fresh one from the environment.
        rm -rf "$dir"/var/lib/mysql/* "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*_Packages
        import_rootfs "$dir" "sqlops/mariadb-base:$base"
        finish_image "sqlops/mariadb-base:$base" sqlops/mariadb "$tag"
        rm -rf "$dir"
        log "built sqlops/mariadb:$tag"
    else
        log "sqlops/mariadb:$tag is cached"
    fi
    docker tag "sqlops/mariadb:$tag" sqlops/mariadb:10.11
    prune_old sqlops/mariadb "$tag" "$base"
    echo "SQLOPS_MARIADB_IMAGE=sqlops/mariadb:$tag"
}

build_mysql() {
    local hash base tag
    base="9-$(inputs_hash "mysql-server-core mysql-client-core" "$0" "$REPO/.ci/mysql-chroot.sh")"
    hash=$(inputs_hash "$base" "$HERE/images/entrypoint.sh" "$HERE/images/server.Dockerfile")
    tag="9-$hash"
    if ! have_image "sqlops/mysql:$tag" && have_image "sqlops/mysql-base:$base"; then
        finish_image "sqlops/mysql-base:$base" sqlops/mysql "$tag"
        log "built sqlops/mysql:$tag on the cached root fs sqlops/mysql-base:$base"
    elif ! have_image "sqlops/mysql:$tag"; then
        bash "$REPO/.ci/mysql-chroot.sh" prepare >&2
        log "importing $MYSQL_CHROOT (without its test datadirs)"
        import_rootfs "$MYSQL_CHROOT" "sqlops/mysql-base:$base" \
            --exclude='./var/lib/sqlops-*' --exclude='./run/mysqld/*' --exclude='./tmp/*' \
            --exclude='./.sqlops-*' --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*'
        finish_image "sqlops/mysql-base:$base" sqlops/mysql "$tag"
        log "built sqlops/mysql:$tag"
    else
        log "sqlops/mysql:$tag is cached"
    fi
    docker tag "sqlops/mysql:$tag" sqlops/mysql:9
    prune_old sqlops/mysql "$tag" "$base"
    echo "SQLOPS_MYSQL_IMAGE=sqlops/mysql:$tag"
}

docker version --format '{{.Server.Version}}' >/dev/null \
    || { log "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset}); try .ci/docker-engine.sh start"; exit 1; }
[ $# -gt 0 ] || set -- mariadb mysql
for what in "$@"; do
    case "$what" in
        mariadb) build_mariadb ;;
        mysql) build_mysql ;;
        *) echo "usage: $0 [mariadb] [mysql]" >&2; exit 2 ;;
    esac
done
