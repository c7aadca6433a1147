"""Alerting's Prometheus metrics (docs/metrics.md): notifications by receiver and outcome, their
latency from the signal's detection, the delivery queue's depth and alerts by state."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NOTIFICATIONS = Counter(
    "pacta_notifications_total",
    "Delivery attempts by receiver, receiver type and outcome (delivered, retry, failed)",
    ["receiver", "type", "outcome"],
)
LATENCY = Histogram(
    "pacta_notification_latency_seconds",
    "From the signal's detected_at to the receiver's acceptance of the notification",
    ["receiver"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
QUEUE_DEPTH = Gauge("pacta_delivery_queue_depth", "Deliveries pending or being sent")
ALERTS = Gauge("pacta_alerts", "Alerts of the last 7 days by state", ["state"])
ALERTS_NOTIFIED = Counter(
    "pacta_alert_notifications_queued_total", "Alert entries queued in notifications"
)
SIGNALS = Counter(
    "pacta_alerting_signals_total", "Signals applied by kind (duplicates not counted)", ["kind"]
)
ONCALL_PAGES = Counter(
    "pacta_oncall_pages_total",
    "People paged by an escalation step through an on-call schedule",
    ["schedule", "user"],
)
