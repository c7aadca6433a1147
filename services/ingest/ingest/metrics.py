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
