# Helpers sourced by deploy/local/*.sh: repo paths, logging, pid files, apt installs.
# Not executable on its own; every caller has already set `set -euo pipefail`.
# shellcheck shell=bash disable=SC2034 # the paths are used by the callers

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/local"
VAR="${PACTA_VAR_DIR:-$ROOT/var}"
CACHE="${PACTA_CACHE_DIR:-/var/cache/pacta}"
RUN_DIR="$VAR/run"
LOG_DIR="$VAR/log"
mkdir -p "$RUN_DIR" "$LOG_DIR"

say() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Pid stored in $1 if that process is alive and its command line contains $2.
# A stale file (dead or recycled pid) is removed so later checks stay cheap.
live_pid() {
    local file="$1" marker="$2" pid
    [[ -s "$file" ]] || return 1
    pid="$(<"$file")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"; then
        echo "$pid"
        return 0
    fi
    rm -f "$file"
    return 1
}

# TCP connect to 127.0.0.1:$1 within one second.
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Pid of the process listening on 127.0.0.1:$1 (empty when unknown).
listener_pid() {
    { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2; } || true
}

# SIGTERM $1, wait up to $2 seconds, then SIGKILL.
stop_pid() {
    local pid="$1" grace="$2" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    say "pid $pid ignored SIGTERM for ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

# Install missing Debian packages; `apt-get update` runs only when something is missing.
# A temporary policy-rc.d keeps postinst scripts from starting daemons (Alertmanager's default
# port 9093 is Kafka's controller port here).
apt_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    [[ $EUID -eq 0 ]] || die "need root to install: ${missing[*]}"
    say "installing ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d added=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
    fi
    local rc=0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    ((added)) && rm -f "$policy"
    ((rc == 0)) || die "apt-get install ${missing[*]} failed ($rc)"
}
