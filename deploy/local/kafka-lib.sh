# Kafka's jars and Java for deploy/local/kafka.sh and kafka-cluster.sh: resolved from Maven
# Central into $PACTA_CACHE_DIR/kafka-libs once. Sourced after lib.sh; not executable alone.
# shellcheck shell=bash disable=SC2034 # the paths are used by the callers

POM="$HERE/kafka-pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
LOG4J_VERSION="$(sed -n 's:.*<log4j.version>\(.*\)</log4j.version>.*:\1:p' "$POM")"
LIBS="$CACHE/kafka-libs"
BINDING="$CACHE/kafka-slf4j1-binding"
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
