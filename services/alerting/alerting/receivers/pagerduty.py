"""The `pagerduty` receiver: PagerDuty Events API v2, one event per alert, keyed by the alert's
id as `dedup_key` so a retry or a repeat updates the same incident and a resolve closes it."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict

from alerting.receivers.base import Notification, ReceiverConfig, Sender
from alerting.receivers.common import HttpUrl, Line, post_json, secret
from alerting.receivers.render import AlertView, clip, render

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024


class Config(ReceiverConfig):
    """`routing_key` is the integration key of a PagerDuty service (a credential)."""

    model_config = ConfigDict(extra="forbid")
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"routing_key"})

    type: Literal["pagerduty"]
    routing_key: Line = secret()
    url: HttpUrl = EVENTS_URL
    client: Line = "Pacta"
    client_url: HttpUrl | None = None


def events(notification: Notification, config: Config) -> list[dict[str, Any]]:
    """The events to enqueue, in the order of the notification's alerts."""
    return [event(alert, notification.group_key, config) for alert in render(notification).alerts]


def event_action(alert: AlertView) -> Literal["trigger", "acknowledge", "resolve"]:
    # a resolved alert closes its incident; one acknowledged in Pacta is acknowledged there too
    if alert.resolving:
        return "resolve"
    if alert.state == "acknowledged":
        return "acknowledge"
    return "trigger"


def dedup_key(alert: AlertView) -> str:
    """The alert's id: stable over every signal of the alert, so trigger and resolve meet."""
    if len(alert.alert_id) <= DEDUP_KEY_MAX:
        return alert.alert_id
    return hashlib.sha256(alert.alert_id.encode()).hexdigest()


def event(alert: AlertView, group_key: str, config: Config) -> dict[str, Any]:
    action = event_action(alert)
    body: dict[str, Any] = {
        "routing_key": config.routing_key,
        "event_action": action,
        "dedup_key": dedup_key(alert),
    }
    if action != "trigger":
        return body  # PagerDuty reads only the key of an acknowledge or resolve
    details: dict[str, Any] = {name.lower().replace(" ", "_"): v for name, v in alert.facts()}
    details.update(alert_id=alert.alert_id, group_key=group_key, kind=alert.kind)
    if alert.summary:
        details["summary"] = alert.summary
    payload: dict[str, Any] = {
        "summary": clip(f"{alert.headline}: {alert.subject} ({alert.service})", SUMMARY_MAX),
        "source": alert.service or "pacta",
        "severity": alert.severity,
        "component": alert.metric,
        "group": alert.customer or alert.service,
        "class": alert.kind,
        "custom_details": details,
    }
    if alert.occurred_at:
        payload["timestamp"] = alert.occurred_at
    body["payload"] = payload
    if alert.ack_url:
        body["links"] = [{"href": alert.ack_url, "text": "Acknowledge in Pacta"}]
    body["client"] = config.client
    if config.client_url:
        body["client_url"] = config.client_url
    return body


class PagerDutySender:
    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    async def send(self, notification: Notification) -> str:
        # 202 accepted; 400 is a malformed event (would fail again); 429 and 5xx retry. A retry
        # of the whole notification resends the events already accepted: PagerDuty folds them
        # into the same incident by dedup_key, so that is harmless
        sent: Counter[str] = Counter()
        status = 0
        for body in events(notification, self.config):
            response = await post_json(self.http, self.config.url, body)
            status = response.status_code
            sent[body["event_action"]] += 1
        counts = ", ".join(f"{action} {n}" for action, n in sorted(sent.items()))
        return f"HTTP {status} for {sum(sent.values())} events ({counts})"


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    return PagerDutySender(config, http)
