"""Reporting's Prometheus metrics: report generation time, records applied, read-model lag."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REPORT_SECONDS = Histogram(
    "pacta_report_generation_seconds",
    "Time to build a report or trend, by format",
    ["format"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECORDS_APPLIED = Counter(
    "pacta_reporting_records_applied_total",
    "Records folded into the reporting read model, by topic",
    ["topic"],
)
"""Read-model lag behind the topics is `pacta_kafka_consumer_lag` of the reporting group."""
