#!/usr/bin/env bash
# Load a realistic last month into the running stack (`make up` first): a dozen services on
# business-hours and 24x7 calendars, outages and maintenance windows, a few hundred tickets.
# Extra arguments go to `python -m pacta_cli.demo` (--tickets N, --seed N, --wait SECONDS).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for port in "${PACTA_INGEST_PORT:-8001}" "${PACTA_SLA_ENGINE_PORT:-8002}" \
    "${PACTA_ALERTING_PORT:-8003}" "${PACTA_REPORTING_PORT:-8004}"; do
    port_open "$port" || die "nothing answers on 127.0.0.1:$port: run \`make up\` first"
done
export PACTA_API_KEY="${PACTA_API_KEY:-dev-admin-key}"
say "loading last month (PACTA_API_KEY=${PACTA_API_KEY%"${PACTA_API_KEY#???}"}...)"
exec "$ROOT/.venv/bin/python" -m pacta_cli.demo "$@"
