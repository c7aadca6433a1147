#!/usr/bin/env bash
# Tools for the benchmark and the tests: prometheus, alertmanager, wrk and chromium
# (the reporting overview is rendered headless in a test), the TrueType fonts the report
# PDFs embed (DejaVu Sans for Latin, Cyrillic and Arabic; Droid Sans Fallback for CJK),
# and helm for the chart's tests.
# Installs only what is missing; daemons are not started (Alertmanager's default port 9093 is
# Kafka's controller port here, so tests run it on a port of their own).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

apt_ensure prometheus prometheus-alertmanager wrk chromium fonts-dejavu-core fonts-droid-fallback
# helm for the chart's tests (tests/unit/test_helm_chart.py), built from the Go module proxy
"$HERE/helm.sh" >/dev/null
