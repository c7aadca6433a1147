"""Prometheus metrics of the ingest service."""

from prometheus_client import Counter, Histogram

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

#: `source` is free text from the sender; past this many distinct values it reads `other`, so a
#: sender cannot grow the number of time series (and this process's memory) without bound.
MAX_SOURCE_LABELS = 50
_sources: set[str] = set()


def source_label(source: str) -> str:
    if source in _sources:
        return source
    if len(_sources) < MAX_SOURCE_LABELS:
        _sources.add(source)
        return source
    return "other"


CLAIM_SECONDS = Histogram(
    "pacta_ingest_claim_seconds",
    "Time to claim a cycle's event ids in PostgreSQL, after Kafka's acknowledgement",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
CYCLE_REQUESTS = Histogram(
    "pacta_ingest_cycle_requests",
    "Requests that shared one produce-and-claim cycle",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
