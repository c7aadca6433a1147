"""Prometheus metrics of the ingest service."""

from prometheus_client import Counter

EVENTS_RECEIVED = Counter(
    "pacta_ingest_events_received_total", "Events acknowledged (202) as new", ["source", "kind"]
)
EVENTS_DUPLICATED = Counter(
    "pacta_ingest_events_duplicated_total",
    "Events acknowledged but already seen",
    ["source", "kind"],
)
EVENTS_REJECTED = Counter(
    "pacta_ingest_events_rejected_total",
    "Requests refused, by reason",
    ["source", "kind", "reason"],
)
