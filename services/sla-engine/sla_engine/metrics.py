"""Prometheus metrics of the sla-engine (docs/metrics.md)."""

from prometheus_client import Counter, Gauge, Histogram

CLOCKS_OPEN = Gauge("pacta_clocks_open", "Open SLA clocks held by this instance", ["state"])
SIGNALS = Counter(
    "pacta_signals_total", "Signals produced", ["kind", "service", "metric", "priority"]
)
DETECTION_LAG = Histogram(
    "pacta_breach_detection_lag_seconds",
    "Wall time from a warning or breach instant to its detection (timer-fired signals)",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AVAILABILITY = Gauge("pacta_availability_ratio", "Month-to-date availability (0-1)", ["service"])
COVERAGE = Gauge(
    "pacta_availability_coverage_ratio",
    "Month-to-date share of the agreed service time that monitoring measured (0-1)",
    ["service"],
)
BUDGET_REMAINING = Gauge(
    "pacta_error_budget_remaining_ratio", "Share of the month's error budget left", ["service"]
)
OUTBOX_PENDING = Gauge("pacta_outbox_pending", "Outbox rows not yet relayed to Kafka")
EVENTS_APPLIED = Counter("pacta_engine_events_applied_total", "Events applied", ["kind"])
WATERMARK_BEHIND = Gauge(
    "pacta_clock_watermark_behind_seconds",
    "How far the event time consumed from a tickets partition lags the wall clock while the "
    "partition is behind (a backfill): its clocks are judged at that instant; 0 when caught up",
    ["partition"],
)
