#!/usr/bin/env bash
# The four Pacta services as background processes: python -m ingest|sla_engine|alerting|reporting.
# Usage: services.sh start|stop|status
# Logs in var/log/<service>.log, pids in var/run/<service>.pid. The caller's environment is
# passed through; only the port variables and PACTA_INGEST_WORKERS get defaults here.
# The ingest runs PACTA_INGEST_WORKERS processes on its one port; its pid file holds the
# supervisor (with more than one), which stops them all on SIGTERM. Here the default is one:
# this box also runs Kafka, PostgreSQL and the three other services, and one worker's fuller
# produce-and-claim cycles cost the ingest and the broker about a third less per event than
# two workers' (docs/benchmarks.md); 0 = one per core, as in a container of its own.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY="$ROOT/.venv/bin/python"
READY_TIMEOUT=90
STOP_GRACE=15

export PACTA_INGEST_PORT="${PACTA_INGEST_PORT:-8001}"
export PACTA_SLA_ENGINE_PORT="${PACTA_SLA_ENGINE_PORT:-8002}"
export PACTA_ALERTING_PORT="${PACTA_ALERTING_PORT:-8003}"
export PACTA_REPORTING_PORT="${PACTA_REPORTING_PORT:-8004}"
export PACTA_INGEST_WORKERS="${PACTA_INGEST_WORKERS:-1}"

SERVICES=(ingest sla-engine alerting reporting)
declare -A MODULE=([ingest]=ingest [sla-engine]=sla_engine [alerting]=alerting [reporting]=reporting)
declare -A PORT=(
    [ingest]="$PACTA_INGEST_PORT"
    [sla-engine]="$PACTA_SLA_ENGINE_PORT"
    [alerting]="$PACTA_ALERTING_PORT"
    [reporting]="$PACTA_REPORTING_PORT"
)

pidfile() { echo "$RUN_DIR/$1.pid"; }
service_pid() { live_pid "$(pidfile "$1")" "-m ${MODULE[$1]}"; }
is_ready() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:${PORT[$1]}/readyz" 2>/dev/null)" == 200 ]]
}

fail() { # fail <service> <reason>: show the end of its log (this run only) and give up
    say "$1: $2; last lines of $LOG_DIR/$1.log:"
    awk '/^=== / { n = 0 } { line[n++] = $0 } END { for (i = (n > 30 ? n - 30 : 0); i < n; i++) print line[i] }' \
        "$LOG_DIR/$1.log" >&2 2>/dev/null || true
    exit 1
}

launch() {
    local name="$1" log="$LOG_DIR/$1.log" i
    rm -f "$(pidfile "$name")"
    printf '\n=== %s starting %s on port %s\n' "$(date -Is)" "$name" "${PORT[$name]}" >>"$log"
    # setsid: the service outlives this script; `exec` keeps the pid the inner shell wrote.
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$(pidfile "$name")" \
        "$PY" -m "${MODULE[$name]}" </dev/null >>"$log" 2>&1 &
    for ((i = 0; i < 50; i++)); do
        [[ -s "$(pidfile "$name")" ]] && return 0
        sleep 0.1
    done
    fail "$name" "did not start"
}

start() {
    [[ -x "$PY" ]] || die "$PY missing: run deploy/local/python.sh (make setup) first"
    command -v curl >/dev/null || apt_ensure curl
    cd "$ROOT"
    local name t0=$SECONDS pending=()
    for name in "${SERVICES[@]}"; do
        if service_pid "$name" >/dev/null; then
            say "$name already running"
        elif port_open "${PORT[$name]}"; then
            # Someone else's process would answer our /readyz polls: refuse before launching any.
            die "$name: port ${PORT[$name]} is taken by pid $(listener_pid "${PORT[$name]}")"
        else
            pending+=("$name")
        fi
    done
    for name in "${pending[@]+"${pending[@]}"}"; do launch "$name"; done
    local waiting=("${SERVICES[@]}") left deadline=$((SECONDS + READY_TIMEOUT))
    while ((${#waiting[@]})); do
        left=()
        for name in "${waiting[@]}"; do
            service_pid "$name" >/dev/null || fail "$name" "process exited during start"
            is_ready "$name" || left+=("$name")
        done
        waiting=("${left[@]+"${left[@]}"}")
        ((${#waiting[@]})) || break
        ((SECONDS < deadline)) || fail "${waiting[0]}" "/readyz not 200 after ${READY_TIMEOUT}s"
        sleep 0.3
    done
    say "all ready in $((SECONDS - t0))s"
}

stop() {
    local name pid
    for name in "${SERVICES[@]}"; do
        if pid="$(service_pid "$name")"; then
            say "stopping $name (pid $pid)"
            stop_pid "$pid" "$STOP_GRACE" &
        fi
    done
    wait
    for name in "${SERVICES[@]}"; do rm -f "$(pidfile "$name")"; done
}

status() {
    local name pid state rc=0
    for name in "${SERVICES[@]}"; do
        if pid="$(service_pid "$name")"; then
            is_ready "$name" && state=ready || state="not ready"
            echo "$name: running (pid $pid, port ${PORT[$name]}, $state)"
        else
            echo "$name: stopped"
            rc=3
        fi
    done
    return "$rc"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
