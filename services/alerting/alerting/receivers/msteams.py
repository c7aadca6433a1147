"""The `msteams` receiver: a Teams incoming webhook or Workflows message carrying an Adaptive
Card (1.4): the title, then per alert a container with its facts and an Acknowledge action."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict

from alerting.receivers.base import Notification, ReceiverConfig, Sender
from alerting.receivers.common import HttpUrl, post_json, secret
from alerting.receivers.render import AlertView, Rendered, render

MAX_ALERTS = 20
"""Alerts shown one by one; Teams refuses a message over about 28 KB."""
CARD_VERSION = "1.4"
STYLE = {"critical": "attention", "error": "attention", "warning": "warning", "info": "emphasis"}


class Config(ReceiverConfig):
    """`url` is the webhook or Workflows trigger URL (a credential: it carries its signature)."""

    model_config = ConfigDict(extra="forbid")
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"url"})

    type: Literal["msteams"]
    url: HttpUrl = secret()


def payload(notification: Notification) -> dict[str, Any]:
    """The message body both the legacy connector and a Workflows trigger accept."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card(render(notification)),
            }
        ],
    }


def card(rendered: Rendered) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": rendered.title,
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
        }
    ]
    body.extend(container(alert) for alert in rendered.alerts[:MAX_ALERTS])
    hidden = len(rendered.alerts) - MAX_ALERTS
    if hidden > 0:
        more = f"… and {hidden} more alert{'s' if hidden > 1 else ''} in this group"
        body.append({"type": "TextBlock", "text": more, "isSubtle": True, "wrap": True})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }


def container(alert: AlertView) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{alert.headline}: {alert.subject}",
            "weight": "Bolder",
            "wrap": True,
        }
    ]
    if alert.summary:
        items.append({"type": "TextBlock", "text": alert.summary, "wrap": True})
    items.append(
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": value} for name, value in alert.facts()],
        }
    )
    if alert.ack_url:
        items.append(
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": "Acknowledge", "url": alert.ack_url}
                ],
            }
        )
    style = "good" if alert.resolving else STYLE[alert.severity]
    return {"type": "Container", "style": style, "separator": True, "items": items}


class TeamsSender:
    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    async def send(self, notification: Notification) -> str:
        # a connector answers 200, a Workflows trigger 202; 4xx would fail again, 429 and 5xx
        # retry (post_json classifies)
        response = await post_json(self.http, self.config.url, payload(notification))
        return f"HTTP {response.status_code}"


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    return TeamsSender(config, http)
