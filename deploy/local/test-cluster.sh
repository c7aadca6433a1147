#!/usr/bin/env bash
# `make test-cluster`: the three-broker Kafka cluster (kafka-cluster.sh), then tests/cluster/
# against it, the services as real processes (two instances each) and PostgreSQL as for
# `make test`. Extra pytest arguments pass through. The cluster keeps running afterwards
# (a second run starts at once); `kafka-cluster.sh stop` or `make down` stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$HERE/kafka-cluster.sh" start
PACTA_CLUSTER_BOOTSTRAP="$("$HERE/kafka-cluster.sh" bootstrap)"
export PACTA_CLUSTER_BOOTSTRAP
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest tests/cluster "$@"
