"""The `slack` receiver: an incoming-webhook message in Block Kit (a header, one section per
alert with its facts, an Acknowledge button) and a plain `text` fallback for notifications."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict, StringConstraints

from alerting.receivers.base import Notification, ReceiverConfig, Sender
from alerting.receivers.common import HttpUrl, Line, post_json, secret
from alerting.receivers.render import AlertView, Rendered, clip, render

MAX_ALERTS = 10
"""Alerts shown one by one; Slack takes at most 50 blocks and each alert uses three or four."""
EMOJI = {"critical": ":red_circle:", "error": ":large_orange_circle:", "warning": ":warning:"}
RESOLVED_EMOJI = ":white_check_mark:"


class Config(ReceiverConfig):
    """`url` is the incoming webhook (a credential: whoever has it can post to the channel)."""

    model_config = ConfigDict(extra="forbid")
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"url"})

    type: Literal["slack"]
    url: HttpUrl = secret()
    channel: Line | None = None
    username: Line | None = None
    icon_emoji: Annotated[str, StringConstraints(pattern=r"^:[a-z0-9_+'-]{1,100}:$")] | None = None


def payload(notification: Notification, config: Config) -> dict[str, Any]:
    """The JSON body Slack's incoming webhook takes."""
    rendered = render(notification)
    # the fallback is what a phone's notification shows: the start is enough
    body: dict[str, Any] = {"text": clip(escape(rendered.text()), 3000), "blocks": blocks(rendered)}
    # an incoming webhook posts to its own channel; these overrides only apply to legacy hooks
    for key in ("channel", "username", "icon_emoji"):
        value = getattr(config, key)
        if value is not None:
            body[key] = value
    return body


def blocks(rendered: Rendered) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": rendered.title, "emoji": True}}
    ]
    for index, alert in enumerate(rendered.alerts[:MAX_ALERTS]):
        out.extend(sections(alert))
        if alert.ack_url:
            out.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": f"ack-{index}",
                            "text": {"type": "plain_text", "text": "Acknowledge"},
                            "url": alert.ack_url,
                        }
                    ],
                }
            )
        out.append({"type": "divider"})
    hidden = len(rendered.alerts) - MAX_ALERTS
    if hidden > 0:
        more = f"… and {hidden} more alert{'s' if hidden > 1 else ''} in this group"
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return out


def sections(alert: AlertView) -> list[dict[str, Any]]:
    """The headline with the facts as fields; a section takes ten fields, so more facts (eleven
    at most) continue in a second section."""
    mark = RESOLVED_EMOJI if alert.resolving else EMOJI.get(alert.severity, ":information_source:")
    text = f"{mark} *{escape(alert.headline)}*: {escape(alert.subject)}"
    if alert.summary:
        text += f"\n{escape(alert.summary)}"
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{name}*\n{escape(value)}", 2000)}
        for name, value in alert.facts()
    ]
    out: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(text, 3000)},
            "fields": fields[:10],
        }
    ]
    if fields[10:]:
        out.append({"type": "section", "fields": fields[10:20]})
    return out


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only these three characters are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackSender:
    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    async def send(self, notification: Notification) -> str:
        # Slack answers 200 "ok"; 4xx (invalid_payload, channel_not_found, ...) would fail
        # again, 429 carries Retry-After, 5xx retry: post_json classifies them so
        response = await post_json(self.http, self.config.url, payload(notification, self.config))
        return f"HTTP {response.status_code} {response.text[:50]}".strip()


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    return SlackSender(config, http)
