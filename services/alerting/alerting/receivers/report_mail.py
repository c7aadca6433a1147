"""An issued report as an e-mail: a short summary per service, the link to the revision as
issued, and the report attached (alerting/report_delivery.py queues these deliveries)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

from alerting.receivers.base import Notification

KIND = "report"


def is_report(notification: Notification) -> bool:
    return len(notification.alerts) == 1 and notification.alerts[0].get("kind") == KIND


def _line(s: Mapping[str, Any]) -> str:
    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{value:.3f} %"

    verdict = {True: "met", False: "MISSED", None: "no target"}
    return (
        f"- {s['service']}: availability {pct(s.get('availability'))} "
        f"({verdict[s.get('availability_met')]}), response clocks met "
        f"{pct(s.get('response_compliance'))}, resolution clocks met "
        f"{pct(s.get('resolution_compliance'))}"
    )


def report_message(
    notification: Notification, sender: str, to: list[str], now: datetime
) -> EmailMessage:
    """The mail of an issued report: a short summary, the link, and the report attached."""
    r = notification.alerts[0]
    domain = getaddresses([sender])[0][1].rpartition("@")[2] or "pacta.invalid"
    key = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:40]
    msg = EmailMessage()
    msg["Subject"] = f"SLA report {r['month']} ({r['tz']}), revision {r['revision']}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{key}@{domain}>"  # the same on every attempt of this delivery
    msg["Auto-Submitted"] = "auto-generated"
    lines = [
        f"The service level report for {r['month']} (time zone {r['tz']}) was issued as "
        f"revision {r['revision']} at {r['published_at']}.",
        "",
        *(_line(s) for s in r.get("summary") or []),
        "",
        f"As issued: {r['link']}",
    ]
    if r.get("content_base64") is None:
        lines.append("The report is too large to attach; the link above serves it.")
    msg.set_content("\n".join(lines))
    if r.get("content_base64") is not None:
        maintype, _, subtype = str(r["content_type"]).split(";")[0].partition("/")
        msg.add_attachment(
            base64.b64decode(r["content_base64"]),
            maintype=maintype,
            subtype=subtype,
            filename=r["filename"],
        )
    return msg
