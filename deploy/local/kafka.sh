#!/usr/bin/env bash
# Real Apache Kafka (KRaft, broker + controller in one JVM) on 127.0.0.1:9092, controller 9093.
# Usage: kafka.sh start|stop|status|pid|restart
# Jars are resolved from Maven Central into $PACTA_CACHE_DIR/kafka-libs once; state lives in
# $PACTA_VAR_DIR (default <repo>/var): kafka/data, run/kafka.pid, log/kafka.log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source "$HERE/kafka-lib.sh"

KDIR="$VAR/kafka"
DATA="$KDIR/data"
CONF="$KDIR/server.properties"
PIDFILE="$RUN_DIR/kafka.pid"
LOG="$LOG_DIR/kafka.log"
PORT=9092
READY_TIMEOUT=60

# Our broker's pid: from the pid file, or adopted from the listener on 9092 when it runs our
# server.properties (pid file lost, e.g. var/run removed).
broker_pid() {
    live_pid "$PIDFILE" kafka.Kafka && return 0
    local pid
    pid="$(listener_pid "$PORT")"
    if [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$CONF"; then
        echo "$pid" >"$PIDFILE"
        echo "$pid"
        return 0
    fi
    return 1
}

# Does whatever listens on 9092 answer as Kafka? An admin client lists topics when the venv
# exists; without it, the TCP connect plus (for our own broker) the started line in the log.
answers_as_kafka() {
    port_open "$PORT" || return 1
    if [[ -x "$PY" ]] && "$PY" -c 'import aiokafka' 2>/dev/null; then
        timeout 10 "$PY" - "127.0.0.1:$PORT" 2>/dev/null <<'EOF'
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def main() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


asyncio.run(asyncio.wait_for(main(), 8))
EOF
    elif [[ -n "${1:-}" ]]; then
        tail -n 200 "$LOG" 2>/dev/null | grep -q 'Kafka Server started'
    fi
}

wait_ready() {
    local pid="$1" deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$LOG" >&2 || true
            die "broker (pid $pid) exited during start; see $LOG"
        fi
        answers_as_kafka own && return 0
        sleep 0.3
    done
    tail -n 30 "$LOG" >&2 || true
    die "broker (pid $pid) not ready after ${READY_TIMEOUT}s; see $LOG"
}

start() {
    local pid t0=$SECONDS
    if pid="$(broker_pid)"; then
        wait_ready "$pid"
        say "running (pid $pid)"
        return 0
    fi
    if port_open "$PORT"; then
        answers_as_kafka || die "port $PORT is taken by something that does not answer as Kafka"
        say "Kafka already listening on 127.0.0.1:$PORT (not ours), using it"
        return 0
    fi
    ensure_java
    ensure_jars
    mkdir -p "$DATA"
    sed "s|@DATA_DIR@|$DATA|g" "$HERE/kafka-server.properties" >"$CONF"
    if [[ ! -f "$DATA/meta.properties" ]]; then
        local cluster_id
        cluster_id="$(java -cp "$(classpath)" kafka.tools.StorageTool random-uuid 2>/dev/null)"
        say "formatting $DATA (cluster id $cluster_id)"
        java -cp "$(classpath)" -Dlog4j2.configurationFile="$HERE/kafka-log4j2.properties" \
            kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$CONF" \
            >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "storage format failed"; }
    fi
    printf '\n=== %s starting Kafka %s\n' "$(date -Is)" "$KAFKA_VERSION" >>"$LOG"
    # setsid: the broker leaves our session and survives this script; `exec` keeps the pid
    # that the inner shell writes.
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
        java -Xms256m -Xmx768m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$HERE/kafka-log4j2.properties" \
        -cp "$(classpath)" kafka.Kafka "$CONF" </dev/null >>"$LOG" 2>&1 &
    local i
    for ((i = 0; i < 50; i++)); do
        pid="$(live_pid "$PIDFILE" kafka.Kafka)" && break
        sleep 0.1
    done
    [[ -n "${pid:-}" ]] || { tail -n 30 "$LOG" >&2; die "broker did not start; see $LOG"; }
    wait_ready "$pid"
    say "started (pid $pid) in $((SECONDS - t0))s"
}

stop() {
    local pid
    if pid="$(broker_pid)"; then
        say "stopping pid $pid"
        stop_pid "$pid" 30
        rm -f "$PIDFILE"
    elif port_open "$PORT"; then
        say "a Kafka not started by this script listens on $PORT; leaving it"
    else
        say "not running"
    fi
}

status() {
    local pid
    if pid="$(broker_pid)"; then
        echo "kafka: running (pid $pid) on 127.0.0.1:$PORT"
    elif port_open "$PORT"; then
        echo "kafka: something else listens on 127.0.0.1:$PORT"
    else
        echo "kafka: stopped"
        return 3
    fi
}

print_pid() {
    local pid
    pid="$(broker_pid)" || pid="$(listener_pid "$PORT")"
    [[ -n "$pid" ]] || { say "not running"; return 1; }
    echo "$pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    pid) print_pid ;;
    restart) stop && start ;;
    *) echo "usage: $0 start|stop|status|pid|restart" >&2; exit 2 ;;
esac
