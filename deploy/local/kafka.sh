#!/usr/bin/env bash
# Real Apache Kafka (KRaft, broker + controller in one JVM) on 127.0.0.1:9092, controller 9093.
# Usage: kafka.sh start|stop|status|pid|restart
# Jars are resolved from Maven Central into $PACTA_CACHE_DIR/kafka-libs once; state lives in
# $PACTA_VAR_DIR (default <repo>/var): kafka/data, run/kafka.pid, log/kafka.log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POM="$HERE/kafka-pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
LOG4J_VERSION="$(sed -n 's:.*<log4j.version>\(.*\)</log4j.version>.*:\1:p' "$POM")"
LIBS="$CACHE/kafka-libs"
BINDING="$CACHE/kafka-slf4j1-binding"
KDIR="$VAR/kafka"
DATA="$KDIR/data"
CONF="$KDIR/server.properties"
PIDFILE="$RUN_DIR/kafka.pid"
LOG="$LOG_DIR/kafka.log"
PORT=9092
READY_TIMEOUT=60
PY="$ROOT/.venv/bin/python"

ensure_java() {
    if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then
        apt_ensure openjdk-17-jre-headless
    fi
}

# Quiet Maven; its output (and Debian's stray colour codes) goes to a log shown on failure.
mvn_q() {
    command -v mvn >/dev/null || apt_ensure maven
    mvn -q -B "$@" >"$LOG_DIR/mvn.log" 2>&1 || { cat "$LOG_DIR/mvn.log" >&2; die "mvn $1 failed"; }
}

ensure_jars() {
    if [[ ! -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
        say "resolving Kafka $KAFKA_VERSION jars into $LIBS"
        mkdir -p "$LIBS"
        mvn_q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$LIBS"
    fi
    # Kafka 4.x logs through the SLF4J 1.7 API, which only binds to log4j-slf4j-impl (the jar
    # Kafka's own distribution ships); log4j-slf4j2-impl alone leaves the broker silent.
    # The binding sits in its own folder placed first on the classpath, because both jars
    # define the same org.apache.logging.slf4j classes.
    if compgen -G "$LIBS/slf4j-api-1.*.jar" >/dev/null \
        && ! compgen -G "$LIBS/log4j-slf4j-impl-*.jar" >/dev/null \
        && [[ ! -f "$BINDING/log4j-slf4j-impl-$LOG4J_VERSION.jar" ]]; then
        mkdir -p "$BINDING"
        mvn_q dependency:copy -Dartifact="org.apache.logging.log4j:log4j-slf4j-impl:$LOG4J_VERSION" \
            -DoutputDirectory="$BINDING"
    fi
}

classpath() {
    if compgen -G "$BINDING/*.jar" >/dev/null; then
        echo "$BINDING/*:$LIBS/*"
    else
        echo "$LIBS/*"
    fi
}

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
