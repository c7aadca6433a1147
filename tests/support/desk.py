"""A desk for engine tests through the pipeline: a service of its own with a policy, ticket
events posted through ingest, and the signals and facts read back from Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

from tests.support.client import iso, post
from tests.support.kafka import SIGNAL_WAIT, TopicReader
from tests.support.processes import ServiceProcess
from tests.support.sla_api import put


class Desk:
    """A service of its own with a policy, and the ticket events posted to it."""

    def __init__(self, stack: dict[str, ServiceProcess], **policy: Any) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.engine, self.ingest = stack["sla_engine"].url, stack["ingest"].url
        self.service, self.ticket = f"svc-{self.tag}", f"T-{self.tag}"
        self.policy = f"p-{self.tag}"
        if policy:
            put(
                self.engine, "policies", self.policy, {"match": {"service": self.service}, **policy}
            )

    def post(self, action: str, at: datetime, ticket: str | None = None, **extra: Any) -> None:
        """One event of the desk's ticket (or of `ticket`), through ingest."""
        body = {
            "ticket_id": ticket or self.ticket,
            "service": self.service,
            "action": action,
            "occurred_at": iso(at),
            **extra,
        }
        r = post(self.ingest, "/v1/events/tickets", body)
        assert r.status_code == 202, r.text

    def post_many(self, events: list[dict[str, Any]]) -> None:
        """Several events in one request (`occurred_at` as datetimes), of the desk's service."""
        body = [
            {"service": self.service, **e, "occurred_at": iso(e["occurred_at"])} for e in events
        ]
        r = post(self.ingest, "/v1/events/tickets", body)
        assert r.status_code == 202, r.text

    def mine(
        self, signals: TopicReader, metric: str = "resolution", ticket: str | None = None
    ) -> list[dict[str, Any]]:
        """The signals seen so far of the ticket's clock, in the order they came."""
        wanted = ticket or self.ticket
        return signals.matching(lambda s: s["ticket_id"] == wanted and s["metric"] == metric)

    async def wait_until(self, what: str, done: Any, timeout: float = 15) -> None:
        """Poll `done()` until it holds (the engine's answers are eventually consistent)."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout}s: {what}")
            await asyncio.sleep(0.05)

    async def wait(
        self, signals: TopicReader, signal_id: str, timeout: float = SIGNAL_WAIT
    ) -> dict[str, Any]:
        return await signals.wait_for(
            signal_id, lambda s: s["signal_id"] == signal_id, timeout=timeout
        )
