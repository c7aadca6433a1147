#!/usr/bin/env bash
# A real three-node Apache Kafka cluster (KRaft, broker + controller in each JVM) on this
# machine, beside `make up`'s single broker: brokers on 127.0.0.1:19092/19094/19096,
# controllers on 19093/19095/19097 (PACTA_CLUSTER_PORT_BASE moves them), replication factor 3
# and min.insync.replicas 2 by default.
# Usage: kafka-cluster.sh start [N]|stop [N]|status|pid N|kill N|bootstrap
#   start/stop without N act on all three nodes; `kill N` is SIGKILL (the crash case).
# Jars are shared with kafka.sh; state lives in $PACTA_VAR_DIR (default <repo>/var):
# kafka-cluster/node<N>, run/kafka-node<N>.pid, log/kafka-node<N>.log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HERE/kafka-lib.sh"

NODES=(1 2 3)
BASE="${PACTA_CLUSTER_PORT_BASE:-19092}"
CDIR="$VAR/kafka-cluster"
READY_TIMEOUT=90

port_of() { echo $((BASE + 2 * ($1 - 1))); }
controller_port_of() { echo $((BASE + 2 * ($1 - 1) + 1)); }
conf_of() { echo "$CDIR/node$1/server.properties"; }
pidfile_of() { echo "$RUN_DIR/kafka-node$1.pid"; }
log_of() { echo "$LOG_DIR/kafka-node$1.log"; }

bootstrap() {
    local n out=()
    for n in "${NODES[@]}"; do out+=("127.0.0.1:$(port_of "$n")"); done
    (IFS=,; echo "${out[*]}")
}

voters() {
    local n out=()
    for n in "${NODES[@]}"; do out+=("$n@127.0.0.1:$(controller_port_of "$n")"); done
    (IFS=,; echo "${out[*]}")
}

check_node() {
    [[ " ${NODES[*]} " == *" $1 "* ]] || die "no node '$1' (nodes: ${NODES[*]})"
}

node_pid() {
    live_pid "$(pidfile_of "$1")" "$(conf_of "$1")"
}

# How many brokers the cluster reports alive (registered and unfenced), asked through any
# node that answers; 0 when none does.
live_brokers() {
    [[ -x "$PY" ]] || { echo 0; return 0; }
    timeout 12 "$PY" - "$(bootstrap)" 2>/dev/null <<'EOF' || echo 0
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def main() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000)
    await admin.start()
    try:
        print(len((await admin.describe_cluster())["brokers"]))
    finally:
        await admin.close()


asyncio.run(asyncio.wait_for(main(), 10))
EOF
}

# Wait until the nodes just started run and the cluster reports every running node alive
# (a restarted node has rejoined).
wait_cluster() {
    local deadline=$((SECONDS + READY_TIMEOUT)) n running ready
    while ((SECONDS < deadline)); do
        for n in "$@"; do
            if ! node_pid "$n" >/dev/null; then
                tail -n 30 "$(log_of "$n")" >&2 || true
                die "node $n exited during start; see $(log_of "$n")"
            fi
        done
        ready=1
        for n in "$@"; do port_open "$(port_of "$n")" || ready=0; done
        running=0
        for n in "${NODES[@]}"; do node_pid "$n" >/dev/null && running=$((running + 1)); done
        ((ready)) && (($(live_brokers) >= running)) && return 0
        sleep 0.5
    done
    for n in "$@"; do tail -n 10 "$(log_of "$n")" >&2 || true; done
    die "cluster not ready after ${READY_TIMEOUT}s"
}

prepare() {
    ensure_java
    ensure_jars
    mkdir -p "$CDIR"
    if [[ ! -s "$CDIR/cluster.id" ]]; then
        java -cp "$(classpath)" kafka.tools.StorageTool random-uuid 2>/dev/null >"$CDIR/cluster.id"
    fi
}

all_running() {
    local n
    for n in "${NODES[@]}"; do node_pid "$n" >/dev/null || return 1; done
}

start_node() {
    local n="$1" pid conf data log
    if pid="$(node_pid "$n")"; then
        return 0
    fi
    conf="$(conf_of "$n")" data="$CDIR/node$n/data" log="$(log_of "$n")"
    if port_open "$(port_of "$n")" || port_open "$(controller_port_of "$n")"; then
        die "port $(port_of "$n") or $(controller_port_of "$n") is taken by something else"
    fi
    mkdir -p "$data"
    sed -e "s|@NODE@|$n|g" -e "s|@PORT@|$(port_of "$n")|g" \
        -e "s|@CONTROLLER_PORT@|$(controller_port_of "$n")|g" -e "s|@VOTERS@|$(voters)|g" \
        -e "s|@DATA_DIR@|$data|g" "$HERE/kafka-cluster.properties" >"$conf"
    if [[ ! -f "$data/meta.properties" ]]; then
        java -cp "$(classpath)" -Dlog4j2.configurationFile="$HERE/kafka-log4j2.properties" \
            kafka.tools.StorageTool format --cluster-id "$(<"$CDIR/cluster.id")" --config "$conf" \
            >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "storage format of node $n failed"; }
    fi
    printf '\n=== %s starting node %s (Kafka %s)\n' "$(date -Is)" "$n" "$KAFKA_VERSION" >>"$log"
    # setsid: the node leaves our session and survives this script (as in kafka.sh)
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$(pidfile_of "$n")" \
        java -Xms192m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$HERE/kafka-log4j2.properties" \
        -cp "$(classpath)" kafka.Kafka "$conf" </dev/null >>"$log" 2>&1 &
    local i
    for ((i = 0; i < 50; i++)); do
        node_pid "$n" >/dev/null && return 0
        sleep 0.1
    done
    tail -n 30 "$log" >&2 || true
    die "node $n did not start; see $log"
}

start() {
    local t0=$SECONDS n
    if [[ -n "${1:-}" ]]; then
        check_node "$1"
    fi
    # fast path: every node already runs and the cluster answers with all of them
    if all_running && [[ "$(live_brokers)" == "${#NODES[@]}" ]]; then
        say "running: $(bootstrap)"
        return 0
    fi
    prepare
    local which=("${NODES[@]}")
    if [[ -n "${1:-}" ]]; then which=("$1"); fi
    for n in "${which[@]}"; do start_node "$n"; done
    wait_cluster "${which[@]}"
    say "ready in $((SECONDS - t0))s: $(bootstrap)"
}

stop() {
    local n pid
    local which=("${NODES[@]}")
    if [[ -n "${1:-}" ]]; then check_node "$1"; which=("$1"); fi
    for n in "${which[@]}"; do
        if pid="$(node_pid "$n")"; then
            say "stopping node $n (pid $pid)"
            stop_pid "$pid" 30
            rm -f "$(pidfile_of "$n")"
        fi
    done
}

kill_node() {
    local pid
    check_node "$1"
    pid="$(node_pid "$1")" || die "node $1 is not running"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$(pidfile_of "$1")"
    say "killed node $1 (pid $pid)"
}

status() {
    local n pid down=0
    for n in "${NODES[@]}"; do
        if pid="$(node_pid "$n")"; then
            echo "kafka node $n: running (pid $pid) on 127.0.0.1:$(port_of "$n")"
        else
            echo "kafka node $n: stopped"
            down=1
        fi
    done
    echo "brokers alive: $(live_brokers) of ${#NODES[@]}"
    return $((down ? 3 : 0))
}

case "${1:-}" in
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    status) status ;;
    pid) check_node "${2:-}"; node_pid "$2" ;;
    kill) kill_node "${2:-}" ;;
    bootstrap) bootstrap ;;
    *) echo "usage: $0 start [N]|stop [N]|status|pid N|kill N|bootstrap" >&2; exit 2 ;;
esac
