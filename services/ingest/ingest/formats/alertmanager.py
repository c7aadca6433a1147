"""Prometheus Alertmanager webhook, payload version 4: each alert is one monitoring event.

Resolution is per alert (`alerts[i].status`); the id comes from the fingerprint, the status and
the raw start/end strings, so the group's re-sends (every flush, every repeat, every retry)
count once while a new episode of the same alert (a new `startsAt`) counts anew. The `Watchdog`
alert is a heartbeat at every notification instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ingest.formats.base import (
    Event,
    FormatError,
    build,
    load_json,
    obj,
    stable_id,
    str_map,
    text,
)
from ingest.formats.mapping import AlertMapping
from ingest.formats.times import is_zero_time, parse_time
from pacta.events import MAX_PAST, MonitoringEvent

MAX_ALERTS = 1000
WATCHDOG = "Watchdog"
"""The alert Prometheus' rules fire at all times to prove the pipeline works (kube-prometheus)."""
HEARTBEAT = "heartbeat"
"""The check of a heartbeat: an event that only says the service's monitoring is alive."""
OLDEST = MAX_PAST - timedelta(hours=1)


def parse(
    body: bytes, headers: Mapping[str, str], mapping: AlertMapping, now: datetime
) -> list[Event]:
    message = obj(load_json(body), "body")
    version = message.get("version")
    if version is not None and version != "4":
        raise FormatError("version", f"payload version {version!r} is not supported (only 4)")
    return alerts_to_events(message, mapping, now, source="alertmanager")


def alerts_to_events(
    message: dict[str, Any], mapping: AlertMapping, now: datetime, *, source: str
) -> list[Event]:
    """The `alerts` array (shared with Grafana, whose alerts have the same fields)."""
    alerts = message.get("alerts")
    if not isinstance(alerts, list):
        raise FormatError("alerts", "must be an array")
    if len(alerts) > MAX_ALERTS:
        raise FormatError("alerts", f"holds more than {MAX_ALERTS} alerts", status=413)
    common = str_map(message.get("commonLabels"), "commonLabels")
    return [_event(alert, i, common, mapping, now, source) for i, alert in enumerate(alerts)]


def _event(
    raw: Any,
    i: int,
    common: dict[str, str],
    mapping: AlertMapping,
    now: datetime,
    source: str,
) -> MonitoringEvent:
    where = f"alerts.{i}"
    alert = obj(raw, where)
    labels = {**common, **str_map(alert.get("labels"), f"{where}.labels")}
    annotations = str_map(alert.get("annotations"), f"{where}.annotations")
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise FormatError(f"{where}.status", "must be firing or resolved")
    service = labels.get(mapping.service_label) or mapping.default_service
    if not service:
        raise FormatError(f"{where}.labels.{mapping.service_label}", "is required (the service)")
    check = labels.get(mapping.check_label)
    if not check:
        raise FormatError(f"{where}.labels.{mapping.check_label}", "is required (the check)")
    starts_raw = alert.get("startsAt")
    starts = parse_time(starts_raw, f"{where}.startsAt")
    ends_raw = alert.get("endsAt")
    if status == "resolved":
        if is_zero_time(ends_raw):
            raise FormatError(f"{where}.endsAt", "a resolved alert needs its end time")
        occurred = parse_time(ends_raw, f"{where}.endsAt")
    else:
        # Go's zero time while firing; a future end is Alertmanager's resolve_timeout estimate
        occurred = starts
        if starts < now - OLDEST:
            # an alert firing for over 400 days (a Watchdog) is still firing: refusing it would
            # refuse its whole group at every flush, so it counts from the window's edge
            occurred = now - OLDEST
            labels = {**labels, "alertmanager_starts_at": str(starts_raw)}
    fingerprint = text(alert.get("fingerprint"), f"{where}.fingerprint", required=False)
    # No fingerprint (a hand-written payload): the label set stands in for it.
    identity = fingerprint or "\x1e".join(f"{k}={v}" for k, v in sorted(labels.items()))
    parts = [source, identity, status, str(starts_raw)]
    if status == "resolved":
        parts.append(str(ends_raw))
    severities = {k.lower(): v for k, v in mapping.severities.items()}
    severity = severities.get(labels.get(mapping.severity_label, "").lower())
    severity = severity or mapping.default_severity
    if labels.get("alertname") == WATCHDOG:
        # the always-firing Watchdog says the monitoring pipeline is alive: each notification
        # is a heartbeat of the service at the instant it came (never down), so a repeat at
        # the next flush is another heartbeat, not a duplicate
        check, status, severity, occurred = HEARTBEAT, "firing", "info", now
        parts = [source, identity, HEARTBEAT, now.isoformat()]
    data = {
        "id": stable_id(source, *parts),
        "service": service,
        "check": check,
        "status": status,
        "severity": severity,
        "occurred_at": occurred,
        "source": source,
        # long descriptions are common; the generic event keeps 4096 characters of them
        "summary": (annotations.get("summary") or annotations.get("description") or "")[:4096]
        or None,
        "labels": labels,
    }
    return build(MonitoringEvent, data, now, where)
