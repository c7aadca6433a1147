#!/usr/bin/env bash
# Real PostgreSQL on 127.0.0.1:5432 with role and database `pacta` (password `pacta`).
# Usage: postgres.sh start|stop|status
# Uses a server already listening on 5432; otherwise starts Debian's cluster for that port,
# installing the `postgresql` package first when it is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=5432
URL="postgresql://pacta:pacta@127.0.0.1:$PORT/pacta"
MIN_CONNECTIONS=300 # the test suite runs several services, each with a pool

is_up() { pg_isready -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; }

# "<version> <name>" of the Debian cluster on our port (empty when none).
debian_cluster() {
    command -v pg_lsclusters >/dev/null || return 0
    pg_lsclusters -h 2>/dev/null | awk -v port="$PORT" '$3 == port { print $1, $2; exit }'
}

ctl() { # ctl start|stop|restart|reload: the Debian cluster, without systemd
    local cluster
    cluster="$(debian_cluster)"
    [[ -n "$cluster" ]] || die "no Debian cluster on port $PORT"
    # shellcheck disable=SC2086 # "<version> <name>" splits into two arguments on purpose
    pg_ctlcluster --skip-systemctl-redirect $cluster "$1"
}

as_postgres() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"); }

# Connection count the server allows, asked as the project role (empty when login fails).
max_connections() { psql -X "$URL" -tAc 'show max_connections' 2>/dev/null || true; }

wait_up() {
    local deadline=$((SECONDS + 30))
    until is_up; do
        ((SECONDS < deadline)) || die "PostgreSQL not ready on 127.0.0.1:$PORT after 30s"
        sleep 0.2
    done
}

ensure_running() {
    is_up && return 0
    command -v pg_ctlcluster >/dev/null || apt_ensure postgresql
    if [[ -z "$(debian_cluster)" ]]; then
        local version
        version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -n1)"
        say "creating cluster $version main on port $PORT"
        pg_createcluster --port "$PORT" "$version" main >/dev/null
    fi
    say "starting cluster $(debian_cluster)"
    ctl start
    wait_up
}

provision() {
    say "creating role and database pacta"
    as_postgres -d postgres <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pacta') THEN
        CREATE ROLE pacta LOGIN CREATEDB PASSWORD 'pacta';
    ELSE
        ALTER ROLE pacta LOGIN CREATEDB PASSWORD 'pacta';
    END IF;
END
$$;
SELECT 'CREATE DATABASE pacta OWNER pacta'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pacta') \gexec
SQL
}

# Debian's pg_hba.conf allows scram logins from 127.0.0.1; add the rule if someone removed it.
ensure_tcp_login() {
    [[ -n "$(max_connections)" ]] && return 0
    local hba
    hba="$(as_postgres -d postgres -tAc 'show hba_file')"
    say "allowing password logins from 127.0.0.1 in $hba"
    echo 'host all all 127.0.0.1/32 scram-sha-256' >>"$hba"
    as_postgres -d postgres -c 'select pg_reload_conf()' >/dev/null
    sleep 0.5
    [[ -n "$(max_connections)" ]] || die "cannot log in as pacta over TCP: $URL"
}

ensure_connections() {
    local current
    current="$(max_connections)"
    ((${current:-0} >= MIN_CONNECTIONS)) && return 0
    if [[ -z "$(debian_cluster)" ]]; then
        say "WARNING: max_connections is $current (< $MIN_CONNECTIONS) on a server not managed here"
        return 0
    fi
    say "raising max_connections from $current to $MIN_CONNECTIONS (restart)"
    as_postgres -d postgres -c "ALTER SYSTEM SET max_connections = $MIN_CONNECTIONS"
    ctl restart
    wait_up
}

start() {
    # Fast path: up, reachable as pacta, large enough.
    if is_up && (($(max_connections || true) + 0 >= MIN_CONNECTIONS)); then
        say "ready on 127.0.0.1:$PORT"
        return 0
    fi
    ensure_running
    [[ -n "$(max_connections)" ]] || provision
    ensure_tcp_login
    ensure_connections
    psql -X "$URL" -qtAc 'select 1' >/dev/null
    say "ready on 127.0.0.1:$PORT ($URL)"
}

stop() {
    local cluster
    cluster="$(debian_cluster)"
    if [[ -n "$cluster" ]] && pg_lsclusters -h | awk -v p="$PORT" '$3 == p' | grep -q online; then
        say "stopping cluster $cluster"
        ctl stop
    elif is_up; then
        say "the server on $PORT is not a Debian cluster; leaving it"
    else
        say "not running"
    fi
}

status() {
    if is_up; then
        echo "postgres: running on 127.0.0.1:$PORT"
    else
        echo "postgres: stopped"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
