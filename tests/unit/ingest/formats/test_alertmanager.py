"""Alertmanager (v4) and Grafana webhooks into monitoring events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.formats import alertmanager, grafana
from ingest.formats.base import FormatError
from ingest.formats.mapping import AlertMapping
from pacta.events import MonitoringEvent
from tests.unit.ingest.formats.conftest import NOW, dump, load, raw

GROUP = "alertmanager/group-firing-and-resolved.json"


def parse(body: bytes, mapping: AlertMapping | None = None) -> list[MonitoringEvent]:
    events = alertmanager.parse(body, {}, mapping or AlertMapping(), NOW)
    assert all(isinstance(e, MonitoringEvent) for e in events)
    return events  # type: ignore[return-value]


def test_each_alert_is_an_event_and_resolved_alerts_resolve_at_their_end() -> None:
    resolved, firing = parse(raw(GROUP))
    assert (resolved.status, firing.status) == ("resolved", "firing")
    assert resolved.occurred_at == datetime(2026, 3, 2, 8, 41, 0, 112233, UTC)
    assert firing.occurred_at == datetime(2026, 3, 2, 8, 20, 30, 500000, UTC)
    assert {e.service for e in (resolved, firing)} == {"checkout"}
    assert {e.check for e in (resolved, firing)} == {"CheckoutHighErrorRate"}
    assert (resolved.severity, firing.severity) == ("critical", "warning")
    assert resolved.source == "alertmanager"
    assert resolved.summary == "5xx ratio 7.2% on 10.0.3.17:8080"
    assert resolved.labels["instance"] == "10.0.3.17:8080"


def test_ids_are_stable_across_resends_and_differ_per_status_and_episode() -> None:
    first, again = parse(raw(GROUP)), parse(raw(GROUP))
    assert [e.id for e in first] == [e.id for e in again]
    message = load(GROUP)
    message["alerts"][1]["startsAt"] = "2026-03-02T09:00:00Z"  # a new episode
    assert parse(dump(message))[1].id != first[1].id
    message = load(GROUP)
    message["alerts"][0]["status"] = "firing"
    message["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    assert parse(dump(message))[0].id != first[0].id


def test_service_label_is_configurable_with_a_fallback() -> None:
    message = load(GROUP)
    for alert in message["alerts"]:
        alert["labels"]["team_service"] = "payments"
    events = parse(dump(message), AlertMapping(service_label="team_service"))
    assert {e.service for e in events} == {"payments"}
    del message["commonLabels"]["service"]
    for alert in message["alerts"]:
        del alert["labels"]["service"]
    with pytest.raises(FormatError) as info:
        parse(dump(message))
    assert info.value.field == "alerts.0.labels.service"
    assert {e.service for e in parse(dump(message), AlertMapping(default_service="shop"))} == {
        "shop"
    }


def test_unknown_severity_takes_the_default() -> None:
    message = load(GROUP)
    message["alerts"][0]["labels"]["severity"] = "page-me-now"
    assert parse(dump(message), AlertMapping(default_severity="major"))[0].severity == "major"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "3"}, "version"),
        ({"alerts": {}}, "alerts"),
        ({"alerts": [{"status": "pending"}]}, "alerts.0.status"),
        (
            {"alerts": [{"status": "firing", "labels": {"service": "s"}}]},
            "alerts.0.labels.alertname",
        ),
        (
            {"alerts": [{"status": "firing", "labels": {"service": "s", "alertname": "a"}}]},
            "alerts.0.startsAt",
        ),
        (
            {
                "alerts": [
                    {
                        "status": "resolved",
                        "labels": {"service": "s", "alertname": "a"},
                        "startsAt": "2026-03-02T08:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                    }
                ]
            },
            "alerts.0.endsAt",
        ),
        ({"alerts": [{"status": "firing", "labels": {"service": 5}}]}, "alerts.0.labels.service"),
    ],
)
def test_bad_payloads_name_the_field(change: dict[str, object], field: str) -> None:
    message = {**load(GROUP), "commonLabels": {}, **change}
    with pytest.raises(FormatError) as info:
        parse(dump(message))
    assert info.value.field == field


def test_malformed_json_is_a_400() -> None:
    with pytest.raises(FormatError) as info:
        parse(b"{not json")
    assert info.value.status == 400


def test_a_resolve_beyond_the_window_is_refused() -> None:
    message = load(GROUP)
    message["alerts"][0]["endsAt"] = "2024-01-01T00:00:00Z"
    with pytest.raises(FormatError, match="400 days") as info:
        parse(dump(message))
    assert info.value.field.startswith("alerts.0")


def test_an_alert_firing_for_over_400_days_counts_from_the_windows_edge() -> None:
    message = load(GROUP)
    message["alerts"][1]["startsAt"] = "2024-01-01T00:00:00Z"
    firing = parse(dump(message))[1]
    assert firing.occurred_at == NOW - timedelta(days=400) + timedelta(hours=1)
    assert firing.labels["alertmanager_starts_at"] == "2024-01-01T00:00:00Z"
    assert firing.id == parse(dump(message))[1].id


def test_grafana_firing_then_resolved_share_the_check_and_differ_in_id() -> None:
    mapping = AlertMapping(format="grafana")
    (firing,) = grafana.parse(raw("grafana/firing.json"), {}, mapping, NOW)
    (resolved,) = grafana.parse(raw("grafana/resolved.json"), {}, mapping, NOW)
    assert isinstance(firing, MonitoringEvent)
    assert isinstance(resolved, MonitoringEvent)
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert firing.occurred_at == datetime(2026, 3, 2, 9, 5, 0, 157076, UTC)
    assert resolved.occurred_at == datetime(2026, 3, 2, 9, 35, 10, 157076, UTC)
    assert (firing.service, firing.check, firing.severity) == (
        "payments",
        "PaymentsLatencyHigh",
        "major",
    )
    assert firing.source == resolved.source == "grafana"
    assert firing.id != resolved.id
    assert firing.labels["grafana_folder"] == "Payments"


def test_the_watchdog_alert_is_a_heartbeat_at_each_notification() -> None:
    """Prometheus' always-firing Watchdog says the monitoring pipeline is alive: each
    notification is a heartbeat of the service now (never an outage), and a repeat of the same
    alert at the next flush is another heartbeat, not a duplicate."""
    message = load(GROUP)
    watchdog = message["alerts"][1]
    watchdog["labels"] = {**watchdog["labels"], "alertname": "Watchdog", "severity": "none"}
    watchdog["startsAt"] = "2025-01-01T00:00:00Z"  # firing for a long time
    message["alerts"] = [watchdog]
    (beat,) = parse(dump(message))
    assert (beat.check, beat.status, beat.severity) == ("heartbeat", "firing", "info")
    assert beat.service == "checkout"
    assert beat.occurred_at == NOW
    (later,) = alertmanager.parse(dump(message), {}, AlertMapping(), NOW + timedelta(minutes=1))
    assert later.id != beat.id
    assert later.occurred_at == NOW + timedelta(minutes=1)
