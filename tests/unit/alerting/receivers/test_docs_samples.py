"""The samples in docs/receivers.md are what the receivers send today, so the page cannot drift."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerting.receivers import email, msteams, pagerduty, slack
from tests.unit.alerting.receivers.samples import breach, notification

DOC = Path(__file__).parents[4] / "docs" / "receivers.md"
ACK = "https://pacta.example.com/v1/ack/eyJ...sig"
PAGERDUTY = pagerduty.Config(type="pagerduty", routing_key="0123456789abcdef0123456789abcdef")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)\n```", DOC.read_text(), flags=re.DOTALL)


def _json_samples() -> list[Any]:
    return [json.loads(block) for block in _blocks("json")]


def test_json_samples_are_the_payloads_sent() -> None:
    firing = notification(breach(ack_url=ACK))
    met = breach(kind="met", state="resolved", occurred_at="2026-12-01T13:40:00Z", ack_url=ACK)
    resolved = notification(met, status="resolved")
    hook = slack.Config(type="slack", url="https://hooks.slack.com/services/x")
    assert _json_samples() == [
        slack.payload(firing, hook),
        msteams.payload(firing),
        pagerduty.events(firing, PAGERDUTY)[0],
        pagerduty.events(resolved, PAGERDUTY)[0],
    ]


def test_mail_sample_is_the_mail_sent() -> None:
    config = email.Config.model_validate(
        {
            "type": "email",
            "host": "smtp.example.com",
            "from": "Pacta <alerts@example.com>",
            "to": ["oncall@example.com"],
        }
    )
    msg = email.message(
        notification(breach(ack_url=ACK)), config, datetime(2026, 12, 1, 14, 0, 1, tzinfo=UTC)
    )
    text = msg.get_body(("plain",))
    assert text is not None
    headers = "\n".join(f"{name}: {value}" for name, value in msg.items())
    expected = headers + "\n" + str(text.get_content()).strip()
    (sample,) = _blocks("text")
    assert sample == expected
