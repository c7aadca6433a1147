"""Group concurrent requests into one produce-then-claim cycle.

Under load, every request waiting for Kafka joins the next cycle: one produce sends the new
events of all of them, and once the broker acknowledged (acks=all) one autocommit statement
claims their ids in PostgreSQL; then each request is answered. A few cycles run at once so one
slow acknowledgement does not hold up the rest. Each produce request and each claim costs
Kafka, PostgreSQL and this process about the same whatever it carries, so a cycle waits up to
`gather` seconds (a millisecond or a few) for more requests to join it: at a paced stream of single
events fewer, larger cycles cost far less per event, for that much latency. The wait ends as
soon as it can gain nothing: once every connection that sent this process a request lately has
one waiting here (a closed loop of clients, or one client alone), no new request is about to
arrive before some are answered, so the cycle goes at once.

Why this order is safe (docs/benchmarks.md, "crash windows"): the 202 comes only after both
the acknowledgement and the committed claim, so a retry of an acknowledged id finds the claim,
in any process and after any restart. A crash or failure between the two leaves a record on
Kafka without a claim and without a 202; the sender's retry produces it again, and the
consumers' inboxes (keyed by event id) apply it once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from ingest import store
from ingest.domain.dedup import RecentIds, candidates, fresh_per_request
from ingest.metrics import CLAIM_SECONDS, CYCLE_REQUESTS
from ingest.parsing import Event
from ingest.publisher import Publisher

Pending = tuple[Sequence[Event], "asyncio.Future[list[Event]]"]
FULL_ENOUGH = 16
"""Events that make a cycle go without waiting: its fixed costs (a produce request, a claim,
three wake-ups of this process) are spread thin already. So the wait follows the arrival rate:
at 5,000 single events a second a cycle fills in ~3 ms, at 1,000 it waits up to `gather`."""


class Committer:
    def __init__(
        self,
        pool: Callable[[], Any],
        producer: Callable[[], AIOKafkaProducer | None],
        *,
        prefix: str,
        timeout: float,
        recent: int = 200_000,
        max_events: int = 5000,
        cycles: int = 4,
        gather: float = 0.0,
        connections: Callable[[], int] | None = None,
    ) -> None:
        """`connections()` counts this process's HTTP connections that sent a request lately
        (`pacta.serve.active_connections`; None: unknown, every cycle waits its whole
        `gather`)."""
        self.pool, self.producer, self.timeout = pool, producer, timeout
        self.publisher = Publisher(prefix)
        self.recent = RecentIds(recent)
        self.max_events, self.gather, self.cycles = max_events, gather, cycles
        self.connections = connections
        self.pending: list[Pending] = []
        self.pending_events = 0
        self.waiting = 0  # requests submitted and not answered yet (pending or in a cycle)
        self.running: set[asyncio.Task[None]] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.due = False  # the pending requests' wait is over: they go as a cycle slot frees
        self.claims: store.ClaimConnections | None = None

    async def submit(self, events: Sequence[Event]) -> list[Event]:
        """Produce and claim `events` (ids set); return those that were new, once Kafka holds
        them and the claim is committed. Raises whatever failed the cycle."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Event]] = loop.create_future()
        self.pending.append((events, future))
        self.pending_events += len(events)
        self.waiting += 1
        try:
            if not self.due:
                if (
                    self.gather <= 0
                    or self.pending_events >= FULL_ENOUGH
                    or (self.connections is not None and self.waiting >= self.connections())
                ):
                    # waiting longer would add latency and no request
                    if self.timer is not None:
                        self.timer.cancel()
                    self._go()
                elif self.timer is None:
                    self.timer = loop.call_later(self.gather, self._go)
            return await future
        finally:
            self.waiting -= 1

    def _go(self) -> None:
        """The pending requests' wait is over: start cycles while slots are free."""
        self.timer = None
        self.due = True
        self._start()

    def _start(self) -> None:
        while self.due and self.pending and len(self.running) < self.cycles:
            # everything that queued while we waited for a slot rides in this cycle
            batch: list[Pending] = []
            size = 0
            while self.pending and (not batch or size + len(self.pending[0][0]) <= self.max_events):
                item = self.pending.pop(0)
                batch.append(item)
                size += len(item[0])
            self.pending_events -= size
            CYCLE_REQUESTS.observe(len(batch))
            task = asyncio.get_running_loop().create_task(self._cycle(batch))
            self.running.add(task)
            task.add_done_callback(self._done)
        if not self.pending:
            self.due = False

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self._start()

    async def _cycle(self, batch: list[Pending]) -> None:
        requests = [events for events, _ in batch]
        try:
            producer, pool = self.producer(), self.pool()
            if producer is None or pool is None:
                raise ConnectionError("Kafka or PostgreSQL is not reachable yet")
            # ids this process saw claimed answer as duplicates without a produce
            todo = candidates(requests, self.recent)
            new: set[str] = set()
            if todo:
                ids = [e.id for e in todo if e.id is not None]
                async with asyncio.timeout(self.timeout):
                    await self.publisher.publish(producer, todo, timeout=self.timeout)
                    started = time.perf_counter()
                    # an id already claimed (by another process, or before a restart) was
                    # produced again: the consumers' inboxes absorb it, the sender hears
                    # "duplicate"
                    new = await self._claims(pool).claim_ids(ids)
                    CLAIM_SECONDS.observe(time.perf_counter() - started)
                self.recent.add_all(ids)
            fresh = fresh_per_request(requests, new)
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), mine in zip(batch, fresh, strict=True):
            if not future.done():
                future.set_result(mine)

    def _claims(self, pool: Any) -> store.ClaimConnections:
        if self.claims is None or self.claims.pool is not pool:
            self.claims = store.ClaimConnections(pool)
        return self.claims

    async def close(self) -> None:
        """Hand the claims' kept connections back to their pool (before it closes)."""
        if self.claims is not None:
            await self.claims.close()
