#!/usr/bin/env bash
# A Docker engine for the test session, the way scripts/services/install.sh
# provides the native servers: when one already answers (a laptop, a CI runner,
# or the dockerd an earlier run started) it is used as is; otherwise Debian's
# docker.io (dockerd 20.10, containerd, runc) is installed and dockerd started
# as root on the default socket with its data root in /var/lib/docker.
#
#   scripts/docker/engine.sh ensure   # idempotent; prints which engine answers
#   scripts/docker/engine.sh stop     # stops the dockerd this script started (by its pid file)
#   scripts/docker/engine.sh status   # exit 0 when an engine answers
#
# The dockerd it starts is left running after the tests: the engine's image
# cache is what makes a second `make test` warm, and a restart costs ~5 s per
# session for nothing. `make docker-stop` stops it; a new machine starts clean.
#
# Every wait is bounded; each failure says what to do. Environment:
#   ONEX_DOCKER_DIR      state of the dockerd started here (default ~/.cache/onex-host/docker)
#   ONEX_DOCKER_TIMEOUT  seconds to wait for dockerd to answer (default 60)
set -euo pipefail

STATE_DIR="${ONEX_DOCKER_DIR:-$HOME/.cache/onex-host/docker}"
PIDFILE="$STATE_DIR/dockerd.pid"
LOG="$STATE_DIR/dockerd.log"
START_TIMEOUT="${ONEX_DOCKER_TIMEOUT:-60}"
PROBE_TIMEOUT=10

say() { printf '%-9s %s\n' "docker:" "$*"; }
die() { printf '%-9s ERROR: %s\n' "docker:" "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# The client answering for the engine; docker.io brings /usr/bin/docker when
# the machine has none. API version negotiation lets a newer client talk to 20.10.
engine_version() {
    have docker || return 1
    timeout "$PROBE_TIMEOUT" docker version --format '{{.Server.Version}}' 2>/dev/null
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; elif have sudo; then sudo -n "$@"; else
        die "no Docker engine answers and starting one needs root (or sudo): $*"
    fi
}

install_engine() {
    if have dockerd && have containerd && have runc; then return; fi
    have apt-get || die "no Docker engine answers and there is no apt-get to install one: start Docker and rerun"
    mkdir -p "$STATE_DIR"
    local log="$STATE_DIR/apt-install.log"
    say "installing Debian's docker.io (log: $log)"
    # No init system runs here: the package's service start fails harmlessly; policy-rc.d keeps it quiet.
    as_root timeout 300 apt-get update -qq >"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get update failed (log: $log)"; }
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends \
        docker.io iptables ca-certificates >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get install docker.io failed (log: $log)"; }
    have dockerd || die "docker.io is installed but there is no dockerd on PATH"
}

# The pid in the pid file, when that process is still a dockerd (after a reboot or
# a killed session the number may belong to something else: never signal that).
running_pid() {
    [[ -f $PIDFILE ]] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] && echo "$pid"
}

start_engine() {
    mkdir -p "$STATE_DIR"
    local pid
    if pid=$(running_pid); then
        say "dockerd (pid $pid) is starting; waiting for it"
    else
        say "starting dockerd (log: $LOG)"
        # setsid: the engine outlives this make run and is not in its process group.
        # dockerd writes its own pid to $PIDFILE: `stop` signals that process and no other.
        # 9>&-: the engine must not inherit (and so hold forever) the start lock.
        rm -f "$PIDFILE"
        local sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
        "${sudo[@]}" setsid dockerd --data-root /var/lib/docker --host unix:///var/run/docker.sock \
            --pidfile "$PIDFILE" >"$LOG" 2>&1 </dev/null 9>&- &
        local launcher=$! waited=0
        until pid=$(running_pid); do
            kill -0 "$launcher" 2>/dev/null || { tail -n 30 "$LOG" >&2; die "dockerd exited during start-up (log: $LOG)"; }
            ((waited++ < 20)) || die "dockerd wrote no pid file within 10s (log: $LOG)"
            sleep 0.5
        done
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until engine_version >/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$LOG" >&2
            rm -f "$PIDFILE"
            die "dockerd exited during start-up (log: $LOG)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$LOG" >&2
            die "dockerd (pid $pid) did not answer within ${START_TIMEOUT}s (log: $LOG); stop it with: $0 stop"
        fi
        sleep 1
    done
}

# Containers of an earlier session that died with its engine: compose projects
# and testcontainers the test sessions name onex-test-*. Their restart policy
# would bring them back with the engine. Run only right after this script
# started dockerd, so no session of this engine can still be using them.
remove_leftovers() {
    local ids
    ids=$(timeout 30 docker ps -a --filter "label=com.docker.compose.project" \
        --format '{{.ID}} {{.Label "com.docker.compose.project"}}' | awk '$2 ~ /^onex-test-/ {print $1}') || true
    ids+=" $(timeout 30 docker ps -aq --filter "label=org.testcontainers.lang" 2>/dev/null || true)"
    if [[ -n ${ids// /} ]]; then
        say "removing containers left by an earlier test session: $(echo $ids | wc -w)"
        # shellcheck disable=SC2086 # one id per word
        timeout 120 docker rm --force --volumes $ids >/dev/null 2>&1 || true
    fi
    timeout 60 docker network prune --force --filter "label!=keep" >/dev/null 2>&1 || true
}

ensure() {
    local version
    if version=$(engine_version); then
        say "engine $version answers${DOCKER_HOST:+ at $DOCKER_HOST}"
        return
    fi
    install_engine
    exec 9>"/tmp/onex-dockerd.lock"
    timeout 120 flock 9 || die "another engine start holds /tmp/onex-dockerd.lock for over 120s"
    if ! version=$(engine_version); then
        start_engine
        remove_leftovers
        version=$(engine_version)
    fi
    say "engine $version answers (dockerd started by $0, pid $(cat "$PIDFILE" 2>/dev/null || echo '?'); stop: make docker-stop)"
}

stop() {
    local pid
    if ! pid=$(running_pid); then
        say "no dockerd started by this script is running"
        rm -f "$PIDFILE"
        return
    fi
    say "stopping dockerd (pid $pid)"
    as_root kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then die "dockerd (pid $pid) still runs 30s after SIGTERM"; fi
        sleep 1
    done
    rm -f "$PIDFILE"
}

case "${1:-ensure}" in
ensure) ensure ;;
stop) stop ;;
status) version=$(engine_version) && say "engine $version answers" ;;
*) die "usage: $0 [ensure|stop|status]" ;;
esac
