"""A realistic month of an IT organisation, made up deterministically from a seed: services on
business-hours and 24x7 calendars, their policies, outages (some inside maintenance windows)
and tickets of every priority and type with pauses, reopens and changes. No I/O here."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
CALENDARS: dict[str, dict[str, Any]] = {
    "demo-business-hours": {
        "timezone": "Europe/Berlin",
        "hours": {day: ["08:00-18:00"] for day in WEEKDAYS},
        "holiday_country": "DE",
    },
    "demo-extended-hours": {
        "timezone": "Europe/Berlin",
        "hours": {**{day: ["07:00-21:00"] for day in WEEKDAYS}, "sat": ["09:00-14:00"]},
        "holiday_country": "DE",
    },
}
TIERS: dict[str, dict[str, Any]] = {
    "gold": {
        "calendar": "24x7",
        "targets": {
            "P1": {"response": "15m", "resolution": "4h"},
            "P2": {"response": "30m", "resolution": "8h"},
            "P3": {"response": "4h", "resolution": "2d"},
            "P4": {"response": "1d", "resolution": "5d"},
        },
        "availability": {"target": 99.9, "calendar": "24x7", "down_severities": ["critical"]},
    },
    "silver": {
        "calendar": "demo-extended-hours",
        "targets": {
            "P1": {"response": "30m", "resolution": "8h"},
            "P2": {"response": "1h", "resolution": "1d"},
            "P3": {"response": "8h", "resolution": "3d"},
            "P4": {"response": "2d", "resolution": "10d"},
        },
        "availability": {"target": 99.5, "calendar": "demo-extended-hours"},
    },
    "bronze": {
        "calendar": "demo-business-hours",
        "targets": {
            "P1": {"response": "1h", "resolution": "1d"},
            "P2": {"response": "4h", "resolution": "2d"},
            "P3": {"response": "1d", "resolution": "5d"},
            "P4": {"response": "3d", "resolution": "15d"},
        },
        "availability": {"target": 99.0, "calendar": "demo-business-hours"},
    },
}
SERVICES = {
    "checkout": "gold", "payments": "gold", "search": "gold", "accounts": "gold",
    "catalog": "silver", "email": "silver", "vpn": "silver", "crm": "silver",
    "intranet": "bronze", "hr-portal": "bronze", "wiki": "bronze", "erp": "bronze",
}  # fmt: skip
PRIORITIES = (("P1", 0.06), ("P2", 0.18), ("P3", 0.46), ("P4", 0.30))
TYPES = (("incident", 0.55), ("service_request", 0.27), ("problem", 0.06), ("change", 0.12))
SECONDS = {"m": 60, "h": 3600, "d": 86400}
PAUSE = "waiting_for_customer"


@dataclass
class Month:
    """Everything the demo loads: resources first, then events in time order, then the late
    ones, then a correction declared after the month closed."""

    name: str
    calendars: dict[str, dict[str, Any]]
    policies: dict[str, dict[str, Any]]
    windows: list[dict[str, Any]] = field(default_factory=list)
    monitoring: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    late_tickets: list[dict[str, Any]] = field(default_factory=list)
    correction: dict[str, Any] = field(default_factory=dict)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * SECONDS[duration[-1]]


def last_month(now: datetime) -> tuple[datetime, datetime]:
    """The first instants of the previous UTC month and of the current one."""
    end = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    return start, end


def build(now: datetime, *, tickets: int = 300, seed: int = 7, prefix: str = "") -> Month:
    """The month before `now`, with about `tickets` tickets; `prefix` names the services (the
    tests give each run its own). No event lies after `now`."""
    rng = random.Random(seed)
    start, end = last_month(now)
    month = Month(
        name=f"{start:%Y-%m}",
        calendars=CALENDARS,
        policies={
            f"demo-{prefix}{service}": {
                "match": {"service": prefix + service},
                "pause_statuses": [PAUSE],
                "warn_at": [0.5, 0.75, 0.9],
                **TIERS[tier],
            }
            for service, tier in SERVICES.items()
        },
    )
    _outages(month, rng, start, end, prefix)
    for n in range(tickets):
        _ticket(month, rng, n, start, end, now, prefix)
    month.monitoring.sort(key=lambda e: e["occurred_at"])
    month.tickets.sort(key=lambda e: e["occurred_at"])
    # the ops team forgot to register last month's ERP upgrade: declared now, after the fact,
    # it takes the upgrade's outage out of the month's downtime (the report is restated)
    wednesday = start + timedelta(days=17 + (2 - (start + timedelta(days=17)).weekday()) % 7)
    upgrade = wednesday.replace(hour=9)  # 10:00 or 11:00 in Berlin: inside business hours
    _outage(month, prefix + "erp", upgrade + timedelta(minutes=10), 95, "critical", "upgrade")
    month.correction = {
        "service": prefix + "erp",
        "starts_at": _iso(upgrade),
        "ends_at": _iso(upgrade + timedelta(hours=3)),
        "reason": "ERP upgrade (registered after the fact)",
        "id": f"demo-{prefix}erp-upgrade-{month.name}",
    }
    month.monitoring.sort(key=lambda e: e["occurred_at"])
    return month


def _outage(
    month: Month, service: str, at: datetime, minutes: int, severity: str, check: str
) -> None:
    for status, moment in (("firing", at), ("resolved", at + timedelta(minutes=minutes))):
        month.monitoring.append({
            "service": service, "check": check, "status": status, "severity": severity,
            "occurred_at": _iso(moment), "source": "demo",
        })  # fmt: skip


def _outages(month: Month, rng: random.Random, start: datetime, end: datetime, prefix: str) -> None:
    days = (end - start).days
    for service in SERVICES:
        # the ERP's only outage is its upgrade (see `build`): the correction takes it to 100 %
        for _ in range(0 if service == "erp" else rng.choice((0, 1, 1, 2, 3))):
            at = start + timedelta(days=rng.uniform(0, days - 1), minutes=rng.randint(0, 59))
            _outage(
                month,
                prefix + service,
                at,
                rng.choice((4, 9, 17, 35, 70, 160)),
                "critical",
                rng.choice(("http_5xx", "latency_p99", "db_down")),
            )
        # a degradation that does not count as down: every service is watched, so its
        # availability is measured (a service nobody watched has none, not 100 %)
        at = start + timedelta(days=rng.uniform(0, days - 1))
        _outage(month, prefix + service, at, 45, "warning", "disk_usage")
    # planned maintenance: Saturday night deploys, the outage inside the window not counted
    for n, service in enumerate(("checkout", "payments", "email", "intranet")):
        saturday = start + timedelta(days=(5 - start.weekday()) % 7 + 7 * (n % 4))
        begin = saturday.replace(hour=1)
        month.windows.append({
            "service": prefix + service, "starts_at": _iso(begin),
            "ends_at": _iso(begin + timedelta(hours=2)), "reason": "planned deploy",
            "id": f"demo-{prefix}{service}-deploy-{month.name}",
        })  # fmt: skip
        _outage(month, prefix + service, begin + timedelta(minutes=20), 25, "critical", "deploy")


def _ticket(
    month: Month,
    rng: random.Random,
    n: int,
    start: datetime,
    end: datetime,
    now: datetime,
    prefix: str,
) -> None:
    service = rng.choice(list(SERVICES))
    tier = TIERS[SERVICES[service]]
    priority, kind = _pick(rng, PRIORITIES), _pick(rng, TYPES)
    created = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
    target = tier["targets"][priority]
    # most meet their targets; about one in six is late
    late = rng.random() < 0.17
    respond = _seconds(target["response"]) * (
        rng.uniform(1.1, 3) if late else rng.uniform(0.05, 0.8)
    )
    resolve = _seconds(target["resolution"]) * (rng.uniform(1.05, 2.5) if late and rng.random() < 0.6 else rng.uniform(0.1, 0.85))  # fmt: skip
    ticket_id = f"{prefix.upper()}{ {'incident': 'INC', 'service_request': 'REQ', 'problem': 'PRB', 'change': 'CHG'}[kind]}-{10000 + n}"  # fmt: skip
    base = {"ticket_id": ticket_id, "service": prefix + service, "priority": priority,
            "type": kind, "source": "demo", "customer": rng.choice(("acme", "globex", "initech"))}  # fmt: skip
    steps: list[tuple[float, str, str, dict[str, Any]]] = [(0, "created", "open", {})]
    steps.append((max(respond, 30), "responded", "in_progress", {}))
    if rng.random() < 0.3:  # waiting for the customer: the clock pauses
        pause_at = respond + (resolve - respond) * rng.uniform(0.1, 0.5)
        steps.append((pause_at, "updated", PAUSE, {}))
        steps.append((pause_at + rng.uniform(1800, 2 * 86400), "updated", "in_progress", {}))
        resolve += steps[-1][0] - pause_at
    outcome = (
        {"outcome": "failed" if rng.random() < 0.15 else "successful"} if kind == "change" else {}
    )
    steps.append((max(resolve, respond + 60), "resolved", "resolved", outcome))
    if rng.random() < 0.06:  # reopened: the resolution clock runs again
        again = steps[-1][0] + rng.uniform(3600, 86400)
        steps.append((again, "reopened", "open", {}))
        steps.append((again + rng.uniform(1800, 6 * 3600), "resolved", "resolved", outcome))
    steps.append((steps[-1][0] + 86400 * 2, "closed", "closed", outcome))
    late_one = rng.random() < 0.04  # a responded event that arrives after everything else
    for offset, action, status, extra in steps:
        at = created + timedelta(seconds=offset)
        if at > now - timedelta(minutes=1):
            break  # still open today: the overview shows it counting down
        event = {**base, "action": action, "status": status, "occurred_at": _iso(at), **extra}
        target_list = month.late_tickets if late_one and action == "responded" else month.tickets
        target_list.append(event)
