"""docs/api holds each service's current OpenAPI document (regenerate with
`python -m pacta.openapi_export`)."""

from __future__ import annotations

from pathlib import Path

from pacta.openapi_export import documents, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"


def test_published_openapi_documents_are_current() -> None:
    for name, document in documents().items():
        published = DOCS / f"{name}.openapi.json"
        assert published.read_text() == render(document), f"regenerate {published.name}"


def test_the_contract_endpoints_are_documented() -> None:
    docs = documents()
    assert {"/v1/events/monitoring", "/v1/events/tickets"} <= set(docs["ingest"]["paths"])
    engine = set(docs["sla-engine"]["paths"])
    assert {
        "/v1/calendars/{name}",
        "/v1/policies/{name}",
        "/v1/policies",
        "/v1/maintenance-windows",
        "/v1/clocks",
        "/v1/services/{service}/availability",
    } <= engine
    for doc in docs.values():
        assert {"/healthz", "/readyz", "/metrics"} <= set(doc["paths"])
