#!/usr/bin/env bash
# A Docker engine for CI and for contributors without one running (Debian's docker.io).
#
#   .ci/docker-engine.sh start   use the engine that answers, or start our own dockerd; prints DOCKER_HOST=...
#   .ci/docker-engine.sh stop    stop the dockerd this script started (images stay in the data root)
#   .ci/docker-engine.sh env     print DOCKER_HOST=... of the engine that answers (exit 1 if none)
#
# Our dockerd has its own socket, pidfile and exec root, and keeps its images under
# /var/cache/sqlops/docker (SQLOPS_DOCKER_ROOT), outside the clone, so a later run on the same
# machine reuses them. Needs root. Everything but the DOCKER_HOST line goes to stderr.
set -euo pipefail

SOCK=${SQLOPS_DOCKER_SOCK:-/run/sqlops-docker.sock}
DATA_ROOT=${SQLOPS_DOCKER_ROOT:-/var/cache/sqlops/docker}
PIDFILE=/run/sqlops-docker.pid
EXEC_ROOT=/run/sqlops-docker
LOG=/var/log/sqlops-dockerd.log
OURS=unix://$SOCK

log() { echo "docker-engine: $*" >&2; }

answers() { DOCKER_HOST=$1 timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
    local missing=""
    command -v dockerd >/dev/null || missing="$missing docker.io"
    command -v docker-compose >/dev/null || missing="$missing docker-compose"
    if [ -n "$missing" ]; then
        log "installing$missing"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2; }
    fi
}

current() {
    # An engine the caller already has (DOCKER_HOST or the default socket), else ours if it runs.
    local candidate
    for candidate in "${DOCKER_HOST:-}" unix:///var/run/docker.sock "$OURS"; do
        [ -n "$candidate" ] && answers "$candidate" && { echo "$candidate"; return 0; }
    done
    return 1
}

start() {
    install_packages
    local host
    if host=$(current); then
        log "engine answers at $host ($(DOCKER_HOST=$host docker version --format '{{.Server.Version}}'))"
        echo "DOCKER_HOST=$host"
        return
    fi
    mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
    log "starting dockerd on $SOCK, data root $DATA_ROOT (log: $LOG)"
    setsid dockerd -H "$OURS" --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
        --storage-driver overlay2 --log-level warn </dev/null >>"$LOG" 2>&1 &
    for _ in $(seq 1 60); do
        if answers "$OURS"; then
            log "dockerd $(DOCKER_HOST=$OURS docker version --format '{{.Server.Version}}') is up"
            echo "DOCKER_HOST=$OURS"
            return
        fi
        sleep 1
    done
    log "dockerd did not answer within 60 s; last lines of $LOG:"
    tail -n 30 "$LOG" >&2 || true
    exit 1
}

stop() {
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        kill "$(cat "$PIDFILE")"
        for _ in $(seq 1 30); do kill -0 "$(cat "$PIDFILE" 2>/dev/null)" 2>/dev/null || break; sleep 1; done
        log "dockerd stopped"
    else
        log "no dockerd of ours is running"
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    env) host=$(current) && echo "DOCKER_HOST=$host" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
