"""Grafana unified alerting webhook contact point: Alertmanager's v4 body (Grafana embeds
Alertmanager) with `version` "1" and extra fields (values, URLs, title), which are ignored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ingest.formats.alertmanager import alerts_to_events
from ingest.formats.base import Event, load_json, obj
from ingest.formats.mapping import AlertMapping


def parse(
    body: bytes, headers: Mapping[str, str], mapping: AlertMapping, now: datetime
) -> list[Event]:
    message = obj(load_json(body), "body")
    # Grafana's own version is "1"; a custom payload template would not carry `alerts`.
    return alerts_to_events(message, mapping, now, source="grafana")
