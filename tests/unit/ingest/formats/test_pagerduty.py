"""PagerDuty Events API v2: trigger fires, resolve resolves (its service remembered), ack
changes nothing; the check is the dedup_key; PagerDuty's own limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.formats import pagerduty
from ingest.formats.base import FormatError
from ingest.formats.mapping import PagerDutyMapping
from pacta.events import MonitoringEvent
from tests.unit.ingest.formats.conftest import NOW, dump, load, raw

CTX = pagerduty.Context(PagerDutyMapping())


def one(result: pagerduty.Result) -> MonitoringEvent:
    (event,) = result.events
    assert isinstance(event, MonitoringEvent)
    return event


def test_trigger_fires_the_dedup_key_for_the_custom_details_service() -> None:
    result = pagerduty.parse(raw("pagerduty/trigger.json"), {}, CTX, NOW)
    event = one(result)
    assert (event.service, event.check, event.status) == (
        "checkout",
        "checkout/db-primary/replication-lag",
        "firing",
    )
    assert event.occurred_at == datetime(2026, 3, 2, 8, 14, 58, 120000, UTC)  # +0100, no colon
    assert event.severity == "critical"
    assert event.labels["pagerduty_component"] == "postgres"
    assert result.dedup_key == "checkout/db-primary/replication-lag"
    assert result.remember == ("5f0a6c2e9b8d4e17a3c1f2b4d6e8a0c1", result.dedup_key, "checkout")


def test_service_falls_back_to_group_then_source() -> None:
    body = load("pagerduty/trigger.json")
    del body["payload"]["custom_details"]["service"]
    assert one(pagerduty.parse(dump(body), {}, CTX, NOW)).service == "checkout-db"
    del body["payload"]["group"]
    assert one(pagerduty.parse(dump(body), {}, CTX, NOW)).service == "db-primary.checkout.internal"


def test_trigger_without_dedup_key_gets_one_a_retry_repeats() -> None:
    body = raw("pagerduty/trigger-minimal.json")
    first = pagerduty.parse(body, {}, CTX, NOW)
    again = pagerduty.parse(body, {}, CTX, NOW)
    assert first.dedup_key == again.dedup_key
    assert len(first.dedup_key) == 32
    assert one(first).id == one(again).id
    assert one(first).occurred_at == NOW  # no timestamp: the receipt time
    assert one(first).severity == "warning"


def test_resolve_takes_the_remembered_service_and_ack_changes_nothing() -> None:
    ctx = pagerduty.Context(PagerDutyMapping(), remembered_service="checkout")
    event = one(pagerduty.parse(raw("pagerduty/resolve.json"), {}, ctx, NOW))
    assert (event.service, event.check, event.status) == (
        "checkout",
        "checkout/db-primary/replication-lag",
        "resolved",
    )
    ack = pagerduty.parse(raw("pagerduty/acknowledge.json"), {}, ctx, NOW)
    assert ack.events == ()
    assert ack.dedup_key == "checkout/db-primary/replication-lag"
    unknown = pagerduty.parse(raw("pagerduty/resolve.json"), {}, CTX, NOW)
    assert unknown.events == ()  # as PagerDuty: accepted, nothing to resolve


def test_a_retried_resolve_within_the_second_has_one_id() -> None:
    ctx = pagerduty.Context(PagerDutyMapping(), remembered_service="checkout")
    a = one(pagerduty.parse(raw("pagerduty/resolve.json"), {}, ctx, NOW))
    b = one(pagerduty.parse(raw("pagerduty/resolve.json"), {}, ctx, NOW.replace(microsecond=5)))
    assert a.id == b.id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_action": "escalate"}, "event_action"),
        ({"routing_key": ""}, "routing_key"),
        ({"dedup_key": "x" * 256}, "dedup_key"),
        ({"payload": None}, "payload"),
        ({"payload": {"summary": "s", "source": "h", "severity": "fatal"}}, "payload.severity"),
        (
            {"payload": {"summary": "s" * 1025, "source": "h", "severity": "info"}},
            "payload.summary",
        ),
        ({"payload": {"source": "h", "severity": "info"}}, "payload.summary"),
        (
            {"payload": {"summary": "s", "source": "h", "severity": "info", "timestamp": "now"}},
            "payload.timestamp",
        ),
    ],
)
def test_invalid_events_name_the_field(change: dict[str, object], field: str) -> None:
    body = {**load("pagerduty/trigger.json"), **change}
    with pytest.raises(FormatError) as info:
        pagerduty.parse(dump(body), {}, CTX, NOW)
    assert info.value.field == field


def test_resolve_needs_its_dedup_key() -> None:
    body = {"routing_key": "k", "event_action": "resolve"}
    with pytest.raises(FormatError) as info:
        pagerduty.parse(dump(body), {}, CTX, NOW)
    assert info.value.field == "dedup_key"


def test_correlation_reads_keys_leniently() -> None:
    assert pagerduty.correlation(raw("pagerduty/resolve.json")) == (
        "5f0a6c2e9b8d4e17a3c1f2b4d6e8a0c1",
        "checkout/db-primary/replication-lag",
    )
    assert pagerduty.correlation(b"[1]") == (None, None)
    assert pagerduty.correlation(b"{") == (None, None)
