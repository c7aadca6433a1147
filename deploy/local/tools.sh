#!/usr/bin/env bash
# Debian tools for the benchmark and the tests: prometheus, alertmanager, wrk, and chromium
# (the reporting overview is rendered headless in a test), and the TrueType fonts the report
# PDFs embed (DejaVu Sans for Latin, Cyrillic and Arabic; Droid Sans Fallback for CJK).
# Installs only what is missing; daemons are not started (Alertmanager's default port 9093 is
# Kafka's controller port here, so tests run it on a port of their own).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

apt_ensure prometheus prometheus-alertmanager wrk chromium fonts-dejavu-core fonts-droid-fallback
