"""Driving the sla-engine's HTTP API as a user would: admin calls, clock polls with deadlines,
and local wall times (the way SLA figures are computed by hand) turned into instants."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.support.client import ADMIN_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
Clocks = dict[str, dict[str, Any]]
"""A ticket's clocks from `GET /v1/clocks`, by metric."""


def call(
    method: str, url: str, body: Any = None, key: str | None = ADMIN_KEY, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, url, json=body, headers=headers, timeout=15, **kw)


def put(engine: str, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT a calendar or policy that must be accepted; its view as answered."""
    r = call("PUT", f"{engine}/v1/{kind}/{name}", body)
    assert r.status_code in (200, 201), f"PUT {kind}/{name}: {r.status_code} {r.text}"
    return r.json()  # type: ignore[no-any-return]


def local(wall: str, zone: str) -> datetime:
    """`"2026-11-19 16:00"` on the wall clocks of `zone`, as an aware instant."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    """An instant written `2026-11-23T11:00:00Z` (what the answers and signals carry)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def clocks(engine: str, ticket_id: str) -> Clocks:
    r = call("GET", f"{engine}/v1/clocks", params={"ticket_id": ticket_id})
    assert r.status_code == 200, r.text
    return {c["metric"]: c for c in r.json()["items"]}


async def wait_clocks(
    engine: str, ticket_id: str, done: Callable[[Clocks], bool], timeout: float = 20.0
) -> Clocks:
    """Poll `GET /v1/clocks` until `done` holds for the ticket's clocks; fail with what was
    last seen at the deadline."""
    deadline = time.monotonic() + timeout
    seen: Clocks = {}
    while time.monotonic() < deadline:
        seen = clocks(engine, ticket_id)
        try:
            if seen and done(seen):
                return seen
        except (KeyError, TypeError):
            pass  # a clock not there yet
        await asyncio.sleep(0.05)
    raise AssertionError(f"clocks of {ticket_id} not as expected within {timeout}s: {seen}")


def stopped_at(metric: str, when: datetime) -> Callable[[Clocks], bool]:
    """A `done` for `wait_clocks`: the clock of `metric` stopped at `when` (its last event)."""
    return lambda c: c[metric]["stopped_at"] is not None and utc(c[metric]["stopped_at"]) == when


def month_part(start: datetime, end: datetime) -> float:
    """Seconds of [start, end) in the current UTC month (the availability API's period)."""
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(0.0, (end - max(start, first)).total_seconds())


async def wait_downtime(
    engine: str, service: str, expect: float, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll the service's availability until its downtime is `expect` seconds; fail with what
    the engine last said at the deadline."""
    body: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = call("GET", f"{engine}/v1/services/{service}/availability")
        assert r.status_code == 200, r.text
        body = r.json()
        if body["downtime_seconds"] == expect:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{service}: expected {expect}s of downtime, the engine says {body}")
