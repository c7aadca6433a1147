"""Group concurrent requests into one claim-produce-commit cycle.

Under load, every request waiting for PostgreSQL and Kafka joins the next cycle: one
transaction claims all their ids, one produce sends all new events, one commit makes the claims
durable after Kafka acknowledged. The round trips are paid per cycle, not per request, and a
few cycles run at once so one slow acknowledgement does not hold up the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest import store
from ingest.parsing import Event
from ingest.publisher import publish


class Committer:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: Callable[[], AIOKafkaProducer | None],
        *,
        prefix: str,
        timeout: float,
        max_events: int = 2000,
        cycles: int = 4,
    ) -> None:
        self.engine, self.producer, self.prefix, self.timeout = engine, producer, prefix, timeout
        self.max_events = max_events
        self.slots = asyncio.Semaphore(cycles)
        self.pending: list[tuple[Sequence[Event], asyncio.Future[list[Event]]]] = []
        self.draining = False

    async def submit(self, events: Sequence[Event]) -> list[Event]:
        """Claim and produce `events` (ids set); return those that were new, once Kafka holds
        them and the claim is committed. Raises whatever failed the cycle."""
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self.pending.append((events, future))
        if not self.draining:
            self.draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        async with self.slots:
            # everything that queued while we waited for a slot rides in this cycle
            self.draining = False
            batch: list[tuple[Sequence[Event], asyncio.Future[list[Event]]]] = []
            size = 0
            while self.pending and (not batch or size + len(self.pending[0][0]) <= self.max_events):
                item = self.pending.pop(0)
                batch.append(item)
                size += len(item[0])
            if self.pending and not self.draining:
                self.draining = True
                asyncio.get_running_loop().create_task(self._drain())
            if batch:
                await self._cycle(batch)

    async def _cycle(
        self, batch: list[tuple[Sequence[Event], asyncio.Future[list[Event]]]]
    ) -> None:
        try:
            producer = self.producer()
            if producer is None:
                raise ConnectionError("Kafka is not reachable yet")
            ids = list(dict.fromkeys(e.id for events, _ in batch for e in events if e.id))
            async with self.engine.begin() as conn:
                new = await store.claim_ids(conn, ids=ids)
                # an id new to the database goes to its first occurrence, in arrival order
                fresh_per_request: list[list[Event]] = []
                for events, _ in batch:
                    fresh = []
                    for event in events:
                        if event.id in new:
                            new.discard(event.id)
                            fresh.append(event)
                    fresh_per_request.append(fresh)
                everything = [e for fresh in fresh_per_request for e in fresh]
                if everything:
                    await publish(producer, everything, prefix=self.prefix, timeout=self.timeout)
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), fresh in zip(batch, fresh_per_request, strict=True):
            if not future.done():
                future.set_result(fresh)
