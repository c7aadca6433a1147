"""What every receiver says about a notification, computed once and pure: per alert what
happened, to which ticket or service, how late, and the ack link; a title for the group."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # only the type: render imports nothing that does I/O
    from alerting.receivers.base import Notification
from pacta.durations import format_duration

Severity = Literal["critical", "error", "warning", "info"]
RESOLVING_KINDS = frozenset({"met", "stopped", "retracted", "recovered"})
TITLE_MAX = 150
"""Slack's header block and most mail clients' subject lines show about this much."""
FACT_MAX = 500
"""One fact's value at most (64 labels of 1 KiB each would overflow a Teams card)."""


@dataclass(frozen=True)
class AlertView:
    """One alert as a person reads it; every text already formatted, None where it does not apply."""

    alert_id: str
    state: str
    kind: str
    headline: str  # "Resolution breach", "Response warning at 75%", "Availability breach"
    subject: str  # "Ticket T-42" or "Service checkout"
    service: str
    ticket_id: str | None
    customer: str | None
    priority: str | None
    metric: str
    policy: str | None  # "gold v2": the policy and the version the condition was computed under
    deadline: str | None
    lateness: str | None  # "12m past the deadline", "due in 1h", "met 20m before the deadline"
    progress: str | None  # "3h of 4h target (75%)"
    summary: str | None
    labels: tuple[tuple[str, str], ...]
    ack_url: str | None
    occurred_at: str | None  # RFC 3339 in UTC, for receivers that take a machine timestamp
    severity: Severity
    resolving: bool
    late: bool

    def facts(self) -> list[tuple[str, str]]:
        """The (name, value) pairs every receiver lists, in one order, empty ones left out."""
        pairs = [
            ("Ticket", self.ticket_id),
            ("Service", self.service),
            ("Customer", self.customer),
            ("Priority", self.priority),
            # the policy and its version ride with the metric (Slack shows ten facts a section)
            ("Metric", f"{self.metric} (policy {self.policy})" if self.policy else self.metric),
            ("Deadline", self.deadline),
            ("How late", self.lateness),
            # a replay's signals carry `late`, so a backfill is told from a live breach
            ("Detected", "late, from replayed events" if self.late else None),
            ("Elapsed", self.progress),
            ("State", self.state),
            ("Labels", ", ".join(f"{k}={v}" for k, v in self.labels) or None),
        ]
        return [(name, clip(value, FACT_MAX)) for name, value in pairs if value]


@dataclass(frozen=True)
class Rendered:
    """A whole notification: its title and its alerts in the order they came."""

    title: str
    status: str
    group_key: str
    alerts: tuple[AlertView, ...]

    def text(self) -> str:
        """A plain-text rendering (Slack's `text` fallback, the mail's text part uses its own)."""
        lines = [self.title]
        for alert in self.alerts:
            lines.append(f"{alert.headline}: {alert.subject}")
            if alert.lateness:
                lines.append(f"  {alert.lateness}")
            if alert.ack_url:
                lines.append(f"  Acknowledge: {alert.ack_url}")
        return "\n".join(lines)


def render(notification: Notification) -> Rendered:
    """The notification as every receiver shows it; the same input always gives the same text."""
    alerts = tuple(view_alert(alert) for alert in notification.alerts)
    return Rendered(
        title=title(notification.status, alerts),
        status=notification.status,
        group_key=notification.group_key,
        alerts=alerts,
    )


def title(status: str, alerts: tuple[AlertView, ...]) -> str:
    """`[FIRING:2] checkout resolution breach` or `[RESOLVED] checkout resolution met`, as
    Alertmanager's default title: the firing alerts counted and described (a group that fires
    may also carry alerts that resolved since the last notification; the body lists those)."""
    firing = tuple(a for a in alerts if not a.resolving)
    if status == "firing":
        tag, described = f"[FIRING:{len(firing)}]", firing or alerts
    else:
        tag, described = f"[{status.upper()}]", alerts
    services = _distinct(a.service for a in described)
    headlines = _distinct(a.headline.lower() for a in described)
    what = " ".join(part for part in (", ".join(services), ", ".join(headlines)) if part)
    return clip(" ".join(f"{tag} {what}".split()), TITLE_MAX)


def view_alert(alert: Mapping[str, Any]) -> AlertView:
    kind = str(alert.get("kind") or "")
    metric = str(alert.get("metric") or "")
    service = str(alert.get("service") or "")
    ticket_id = _text(alert.get("ticket_id"))
    priority = _text(alert.get("priority"))
    state = str(alert.get("state") or "")
    resolving = kind in RESOLVING_KINDS or state == "resolved"
    raw_labels = alert.get("labels")
    labels: Mapping[str, Any] = raw_labels if isinstance(raw_labels, Mapping) else {}
    return AlertView(
        alert_id=str(alert.get("alert_id") or ""),
        state=state,
        kind=kind,
        headline=headline(kind, metric, alert.get("threshold"), labels),
        subject=f"Ticket {ticket_id}" if ticket_id else f"Service {service}",
        service=service,
        ticket_id=ticket_id,
        customer=_text(alert.get("customer")),
        priority=priority,
        metric=metric,
        policy=policy_text(alert.get("policy"), alert.get("policy_version")),
        deadline=_when(alert.get("deadline")),
        lateness=lateness(alert),
        progress=progress(alert.get("elapsed_seconds"), alert.get("target_seconds")),
        summary=_text(alert.get("summary")),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        ack_url=_text(alert.get("ack_url")),
        occurred_at=_iso(alert.get("occurred_at")),
        severity="info" if resolving else severity(kind, priority),
        resolving=resolving,
        late=bool(alert.get("late")),
    )


def headline(kind: str, metric: str, threshold: Any, labels: Mapping[str, Any]) -> str:
    """What happened, in a few words."""
    what = metric.capitalize() or "Clock"
    if kind == "warning":
        return f"{what} warning at {_percent(threshold)}"
    if kind == "availability_warning":
        return f"Error budget warning at {_percent(threshold)}"
    if kind == "burn_rate":
        rule = labels.get("burn_rule")
        factor = "" if _number(threshold) is None else f" ({threshold:g}x)"
        return f"{str(rule).capitalize() + ' burn' if rule else 'Burn'} rate{factor}"
    fixed = {
        "breach": f"{what} breach",
        "met": f"{what} met",
        "stopped": f"{what} stopped after its breach",
        "retracted": f"{what} breach retracted",
        "availability_breach": "Availability breach",
        "recovered": "Recovered",
    }
    return fixed.get(kind) or kind.replace("_", " ").capitalize() or "Alert"


def severity(kind: str, priority: str | None) -> Severity:
    """The one severity scale (PagerDuty's): a P1 breach and an exhausted error budget are
    critical, other breaches and burn rates errors, warnings warnings."""
    if kind == "availability_breach" or (kind == "breach" and priority in ("P1", "P0")):
        return "critical"
    if kind in ("breach", "burn_rate"):
        return "error"
    if kind in ("warning", "availability_warning"):
        return "warning"
    return "info"


def lateness(alert: Mapping[str, Any]) -> str | None:
    """How the condition stands against the deadline, from the signal's own instants only (the
    receiver never reads a clock, so a retried delivery says the same thing)."""
    kind = alert.get("kind")
    deadline = _instant(alert.get("deadline"))
    occurred = _instant(alert.get("occurred_at"))
    detected = _instant(alert.get("detected_at")) or occurred
    if kind == "retracted":
        return "the breach was withdrawn: a late event shows the deadline was met"
    if deadline is None:
        return None
    if kind in ("breach", "availability_breach") and detected is not None:
        # the breach itself happens at the deadline; what is worth saying is how long ago
        past = (detected - deadline).total_seconds()
        return f"{_span(past)} past the deadline" if past >= 1 else "at the deadline"
    if occurred is None:
        return None
    ahead = (deadline - occurred).total_seconds()
    if kind == "warning":
        return f"due in {_span(ahead)}"
    if kind == "met":
        return f"met {_span(ahead)} before the deadline"
    if kind == "stopped":
        return f"stopped {_span(-ahead)} after the deadline"
    return None


def policy_text(policy: Any, version: Any) -> str | None:
    """`gold v2`: which policy, in which version, measured the condition."""
    name = _text(policy)
    if name is None:
        return None
    return f"{name} v{version}" if isinstance(version, int) and version > 0 else name


def progress(elapsed: Any, target: Any) -> str | None:
    """`3h of 4h target (75%)`: working time counted against the target."""
    done, whole = _number(elapsed), _number(target)
    if done is None or whole is None or whole <= 0:
        return None
    return f"{_span(done)} of {_span(whole)} target ({done / whole:.0%})"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _span(seconds: float) -> str:
    return format_duration(max(0, round(seconds)))


def _percent(threshold: Any) -> str:
    fraction = _number(threshold)
    return "a threshold" if fraction is None else f"{fraction:.0%}"


def _number(value: Any) -> float | None:
    # the queue hands over decoded JSON; anything but a finite number is shown as absent
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _when(value: Any) -> str | None:
    moment = _instant(value)
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(value: Any) -> str | None:
    moment = _instant(value)
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _distinct(values: Any) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
