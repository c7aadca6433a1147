"""The record stream the reporting benchmarks feed the read model: a year of 100 services,
each ticket's 4 events and 4 clock facts, each service-month's availability fact."""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

from pacta.durations import format_timestamp_ms
from pacta.events import FACTS_TOPIC, TICKETS_TOPIC
from reporting.domain.periods import month_bounds

SERVICES = 100
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
H = 3_600_000


@dataclass
class Rec:
    topic: str
    key: bytes
    value: bytes
    offset: int = 0


def _ts(ms: int) -> str:
    return format_timestamp_ms(ms)


def ticket_records(prefix: str, n: int, rng: random.Random) -> list[Rec]:
    """Events of ticket n (4) and its clock facts (4)."""
    service = f"svc-{n % SERVICES:03d}"
    start, end = month_bounds(MONTHS[n % len(MONTHS)], "UTC")
    created = rng.randrange(start, end - 12 * H)
    responded = created + rng.randrange(60_000, 2 * H)
    resolved = responded + rng.randrange(H, 10 * H)
    tid = f"T{n}"
    prio = ("P1", "P2", "P3", "P4")[n % 4]
    out = []
    for i, (action, at) in enumerate(
        (
            ("created", created),
            ("responded", responded),
            ("resolved", resolved),
            ("closed", resolved + H),
        )
    ):
        event = {
            "id": f"{tid}-{i}",
            "occurred_at": _ts(at),
            "ticket_id": tid,
            "service": service,
            "type": "incident",
            "priority": prio,
            "action": action,
            "received_at": _ts(at),
        }
        out.append(Rec(f"{prefix}.{TICKETS_TOPIC}", tid.encode(), orjson.dumps(event)))
    for metric, stop, target in (("response", responded, H), ("resolution", resolved, 8 * H)):
        for version, state in (
            (1, "running"),
            (2, "met" if stop - created <= target else "breached"),
        ):
            fact = {
                "fact_id": f"clock:{tid}:{metric}:{version}",
                "fact": "clock",
                "ticket_id": tid,
                "metric": metric,
                "service": service,
                "policy": "gold",
                "priority": prio,
                "state": state,
                "version": version,
                "elapsed_seconds": 0.0 if version == 1 else (stop - created) / 1000,
                "target_seconds": target / 1000,
                "started_at": _ts(created),
                "stopped_at": None if version == 1 else _ts(stop),
                "breached_at": _ts(created + target) if state == "breached" else None,
                "deadline": _ts(created + target),
            }
            out.append(Rec(f"{prefix}.{FACTS_TOPIC}", service.encode(), orjson.dumps(fact)))
    return out


def availability_records(prefix: str, rng: random.Random) -> list[Rec]:
    """Each service-month's availability fact, with a dozen outages and one maintenance."""
    out = []
    for s in range(SERVICES):
        service = f"svc-{s:03d}"
        for month in MONTHS:
            start, end = month_bounds(month, "UTC")
            down = sorted(rng.randrange(start, end - H) for _ in range(12))
            fact = {
                "fact_id": f"availability:{service}:{month}:1",
                "fact": "availability",
                "service": service,
                "month": month,
                "policy": "gold",
                "target": 99.9,
                "calendar": "24x7",
                "version": 1,
                "down_intervals": [[_ts(d), _ts(d + rng.randrange(60_000, H))] for d in down],
                "maintenance_intervals": [
                    [_ts(start + 5 * 24 * H), _ts(start + 5 * 24 * H + 2 * H)]
                ],
                "calendar_timezone": "UTC",
                "month_start": _ts(start),
                "month_end": _ts(end),
            }
            out.append(Rec(f"{prefix}.{FACTS_TOPIC}", service.encode(), orjson.dumps(fact)))
    return out
