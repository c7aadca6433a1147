"""PagerDuty Events API v2 (`POST /v2/enqueue`): trigger fires, resolve resolves, both keyed by
the dedup_key (the check); acknowledge is answered as PagerDuty does and changes nothing.

The service is `payload.custom_details.service`, else `payload.group`, else `payload.source`;
a resolve carries no payload, so the router remembers the service of each (routing_key,
dedup_key) at its trigger and passes it in (`Context.remembered_service`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ingest.formats.base import Event, FormatError, build, load_json, obj, stable_id, text
from ingest.formats.mapping import PagerDutyMapping
from ingest.formats.times import parse_time
from pacta.events import MonitoringEvent

ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_DEDUP_KEY = 255  # PagerDuty's limits (Events API v2 docs)
MAX_SUMMARY = 1024
MAX_BODY = 512 * 1024  # an event larger than this PagerDuty refuses as invalid


@dataclass(frozen=True)
class Context:
    mapping: PagerDutyMapping
    remembered_service: str | None = None


@dataclass(frozen=True)
class Result:
    events: tuple[Event, ...]
    dedup_key: str
    #: (routing_key, dedup_key, service) to remember for the resolve, if a trigger
    remember: tuple[str, str, str] | None


def correlation(body: bytes) -> tuple[str | None, str | None]:
    """routing_key and dedup_key of a body, or None where absent or unreadable."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    rk, dk = data.get("routing_key"), data.get("dedup_key")

    def usable(value: Any) -> str | None:
        # what PostgreSQL can hold and a valid event could carry; anything else fails parsing
        ok = isinstance(value, str) and 0 < len(value) <= MAX_DEDUP_KEY and "\x00" not in value
        return value if ok else None

    return (rk if isinstance(rk, str) and rk else None, usable(dk))


def parse(body: bytes, headers: Mapping[str, str], ctx: Context, now: datetime) -> Result:
    event = obj(load_json(body), "body")
    routing_key = text(event.get("routing_key"), "routing_key")
    assert routing_key is not None
    action = event.get("event_action")
    if action not in ACTIONS:
        raise FormatError("event_action", "must be trigger, acknowledge or resolve")
    dedup_key = text(event.get("dedup_key"), "dedup_key", required=action != "trigger")
    payload = event.get("payload")
    if action == "trigger" and payload is None:
        raise FormatError("payload", "is required for a trigger")
    if dedup_key is None:
        # PagerDuty makes one up; derived from the body, a client's retry gets the same one
        dedup_key = hashlib.sha256(routing_key.encode() + b"\0" + body).hexdigest()[:32]
    if len(dedup_key) > MAX_DEDUP_KEY:
        raise FormatError("dedup_key", f"is longer than {MAX_DEDUP_KEY} characters")
    if action == "acknowledge":
        return Result((), dedup_key, None)
    if payload is None:
        if ctx.remembered_service is None:
            # as PagerDuty does with an unknown dedup_key: accepted, nothing to resolve
            return Result((), dedup_key, None)
        labels: dict[str, str] = {}
        service, severity, summary, when = ctx.remembered_service, "critical", None, None
    else:
        service, severity, summary, when, labels = _payload(obj(payload, "payload"), ctx, action)
    occurred = when or now
    # Without a timestamp the receipt second is the occurrence: a client's retry within it
    # counts once; a later retry is a repeat, which the engine treats as one (a firing while
    # firing, a resolve with nothing firing).
    moment = str(event["payload"].get("timestamp")) if when else now.strftime("%Y%m%dT%H%M%S")
    status = "firing" if action == "trigger" else "resolved"
    data = {
        "id": stable_id("pagerduty", routing_key, dedup_key, action, moment),
        "service": service,
        "check": dedup_key,
        "status": status,
        "severity": severity,
        "occurred_at": occurred,
        "source": "pagerduty",
        "summary": summary,
        "labels": labels,
    }
    result = build(MonitoringEvent, data, now, "body")
    remember = (routing_key, dedup_key, result.service) if action == "trigger" else None
    return Result((result,), dedup_key, remember)


def _payload(
    payload: dict[str, Any], ctx: Context, action: str
) -> tuple[str, str, str | None, datetime | None, dict[str, str]]:
    summary = text(payload.get("summary"), "payload.summary", required=action == "trigger")
    if summary is not None and len(summary) > MAX_SUMMARY:
        raise FormatError("payload.summary", f"is longer than {MAX_SUMMARY} characters")
    source = text(payload.get("source"), "payload.source", required=action == "trigger")
    raw_severity = payload.get("severity")
    if not isinstance(raw_severity, str):
        raw_severity = None
    if action == "trigger" and raw_severity not in ctx.mapping.severities:
        allowed = ", ".join(ctx.mapping.severities)
        raise FormatError("payload.severity", f"must be one of {allowed}")
    details = payload.get("custom_details")
    detail_service = details.get("service") if isinstance(details, dict) else None
    group = payload.get("group")
    service = next(
        (s for s in (detail_service, group, source) if isinstance(s, str) and s.strip()),
        ctx.remembered_service,
    )
    if not service:
        raise FormatError("payload.source", "is required (the service)")
    when = payload.get("timestamp")
    labels = {
        k: v
        for k in ("component", "group", "class", "source")
        if isinstance(v := payload.get(k), str) and v
    }
    severity = ctx.mapping.severities.get(str(raw_severity), "critical")
    return (
        service,
        severity,
        summary,
        parse_time(when, "payload.timestamp") if when is not None else None,
        {f"pagerduty_{k}": v[:1024] for k, v in labels.items()},
    )
