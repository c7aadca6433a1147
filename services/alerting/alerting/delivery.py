"""The delivery worker: at least once from the durable queue, a per-receiver concurrency limit,
exponential backoff with jitter, every attempt recorded; a lease makes a crash safe (the rows a
dead worker held come due again when their lease runs out)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import aiohttp
import httpx
import orjson

from alerting import receivers, store
from alerting.context import Context
from alerting.metrics import LATENCY, NOTIFICATIONS
from alerting.receivers import http1
from alerting.receivers.base import DeliveryError, Notification, Sender
from alerting.store.deliveries import LEASE_MS, DeliveryRow, NewAttempt
from alerting.store.deliveries import Outcome as OutcomeKind
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.logs import get_logger

log = get_logger(__name__)
LEASE_S = LEASE_MS / 1000
PREFETCH = 32
"""Rows per receiver a worker holds, in slots' worth: a batch of signals (up to 1,000) is
leased in the transaction that queues it, not claimed again a few rows per finished send.
Rows held longer than a lease (a slow receiver) keep it: the worker renews its leases."""
RENEW_S = LEASE_S / 4
RECORD_GAP_S = 0.1
RECORD_BUSY = 100
"""Past RECORD_BUSY outcomes in a second, outcomes are written at most every RECORD_GAP_S
(unless a claim's worth waits): in an alert storm sends finish one by one, and a transaction
(with its commit's WAL flush) per few outcomes cost PostgreSQL more than the rows it wrote.
Below that, each is written as soon as it is in. A send's slot is free once it was answered."""


def backoff_seconds(
    attempt: int, initial: float, cap: float, hint: float | None, rng: random.Random
) -> float:
    """Exponential from `initial`, capped, with jitter (half to all of it) so that retries
    after an outage do not arrive in one wave; a receiver's Retry-After is a floor."""
    delay = min(cap, initial * (2 ** max(0, attempt - 1)))
    delay *= rng.uniform(0.5, 1.0)
    if hint is not None:
        delay = max(delay, min(hint, 3600.0))
    return float(delay)


def more_may_wait(taken: Mapping[str, int], free: Mapping[str, int], default_free: int) -> bool:
    """After a claim that took `taken` rows by receiver with `free` room each (`default_free`
    for a receiver not listed): whether due rows may be left that it had no room for. A
    receiver given all its room, or none, may have more; one given less had no more due."""
    if any(n <= 0 for n in free.values()):
        return True
    return any(n >= free.get(r, default_free) for r, n in taken.items())


class Outcome(NamedTuple):
    """What one attempt came to: the attempt as it is recorded, and what the metrics and the
    delivery log need beside it."""

    attempt: NewAttempt
    receiver: str
    kind: str  # the receiver's type, "unknown" if it is not configured
    detected_at: datetime | None
    alert_ids: tuple[str, ...]


class Worker:
    def __init__(
        self,
        ctx: Context,
        *,
        concurrency: int,
        retry_initial: float,
        retry_max: float,
        give_up_after: float,
    ) -> None:
        self.engine, self.ctx = ctx.engine, ctx
        self.concurrency = concurrency
        self.retry_initial, self.retry_max, self.give_up_after = (
            retry_initial,
            retry_max,
            give_up_after,
        )
        # rows taken per receiver (sending or waiting for a slot); a few slots' worth is taken
        # ahead, so a freed slot does not wait for a database round trip
        self.busy: dict[str, int] = {}
        # rows waiting for a sender, and the senders running, by receiver: up to `concurrency`
        # sender loops per receiver take rows from its queue (a task per loop, not per row)
        self.queues: dict[str, collections.deque[DeliveryRow]] = {}
        self.senders_running: dict[str, int] = {}
        self.prefetch = concurrency * PREFETCH
        self.tasks: set[asyncio.Task[None]] = set()
        self.held: set[int] = set()  # delivery ids leased here and not yet recorded
        # whether due rows may wait that the last claim left for want of room (at start-up:
        # rows a stopped process held). Only then does a freed slot ring for a claim: rows
        # leased in the consumer's transaction need none, and a claim per finished send found
        # nothing all through an alert storm
        self.unclaimed = True
        # keep-alive pools at least as deep as every receiver's concurrency: a POST never
        # waits for a connection its slot already allowed, nor opens one per request
        pool = max(256, concurrency * 8)
        self.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        )
        self.web = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool, limit_per_host=0, keepalive_timeout=30),
            auto_decompress=False,
        )
        self.pool = http1.Pool()  # the webhook's keep-alive connections
        self.senders: dict[str, tuple[bytes, Sender, object]] = {}
        self.rng = random.Random()
        # outcomes wait here to be written together: one transaction per round, not per send
        self.outcomes: list[Outcome] = []
        self.outcome_ready = asyncio.Event()
        # the metrics' children by label values: a lookup per outcome, not a labels() call
        self.counters: dict[tuple[str, str, str], Any] = {}
        self.latencies: dict[str, Any] = {}
        self.closing = False

    def sender_for(self, name: str) -> tuple[str, Sender] | None:
        config = self.ctx.live.receivers.get(name)
        if config is None:
            return None
        kind = str(getattr(config, "type", ""))
        cached = self.senders.get(name)
        if cached is not None and cached[2] is config:
            # the same config object as last time: no dump per send to compare
            return kind, cached[1]
        fingerprint = orjson.dumps(config.model_dump(mode="json"))
        if cached is None or cached[0] != fingerprint:
            module = receivers.TYPES[kind]
            wanted = getattr(module, "CLIENT", "httpx")
            clients: dict[str, Any] = {
                "aiohttp": self.web,
                "http1": (self.pool, self.web),
                "both": (self.http, self.web, self.pool),
            }
            client = clients.get(wanted, self.http)
            cached = (fingerprint, module.build(config, client), config)
        else:
            cached = (fingerprint, cached[1], config)
        self.senders[name] = cached
        return kind, cached[1]

    async def record_forever(self, stop: asyncio.Event) -> None:
        """Write the outcomes of finished sends (rounds paced while many come: RECORD_BUSY); a
        delivery stays leased to this worker until its outcome is written."""
        began = second = 0.0
        written = 0  # outcomes written since `second`
        while not stop.is_set() or self.outcomes:
            if not self.outcomes:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.outcome_ready.wait(), 0.5)
                self.outcome_ready.clear()
                continue
            now = time.monotonic()
            if now - second >= 1.0:
                second, written = now, 0
            gap = began + RECORD_GAP_S - now
            if written >= RECORD_BUSY and gap > 0 and len(self.outcomes) < self.prefetch:
                # more finish meanwhile: one transaction writes them together
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), gap)
            began = time.monotonic()
            batch, self.outcomes = self.outcomes, []
            written += len(batch)
            try:
                async with self.engine.begin() as conn:
                    await store.deliveries.record_attempts(
                        conn, attempts=[o.attempt for o in batch]
                    )
            except Exception as exc:
                if stop.is_set():
                    return
                # the rows stay leased: put the outcomes back and try again
                log.warning("delivery outcomes not recorded; retrying", error=repr(exc))
                self.outcomes = batch + self.outcomes
                await asyncio.sleep(0.5)
                continue
            self.held.difference_update([o.attempt.delivery_id for o in batch])
            counts = self._observe(batch)
            log.info(
                "deliveries recorded",
                delivered=counts["delivered"],
                retry=counts["retry"],
                failed=counts["failed"],
                ids=[o.attempt.delivery_id for o in batch[:20]],
            )

    async def run(self, stop: asyncio.Event) -> None:
        helpers = [
            asyncio.create_task(self.record_forever(stop), name="delivery-recorder"),
            asyncio.create_task(self.renew_forever(stop), name="delivery-lease-renewal"),
        ]
        try:
            await self._claim_forever(stop)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def renew_forever(self, stop: asyncio.Event) -> None:
        """Keep the leases of the rows this worker holds: a row waiting for a slot behind a
        slow receiver must not come due for another claim while this process lives."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RENEW_S)
            if stop.is_set() or not self.held:
                continue
            until = ms_to_datetime(int((time.time() + LEASE_S) * 1000))
            try:
                async with self.engine.begin() as conn:
                    await store.deliveries.renew(conn, ids=sorted(self.held), lease_until=until)
            except Exception as exc:  # tried again next round, well inside the lease
                log.warning("delivery leases not renewed; retrying", error=repr(exc))

    async def _claim_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            claimed = 0
            try:
                claimed = await self.claim_and_start()
            except Exception as exc:
                log.warning("delivery claim failed; retrying", error=repr(exc))
                await asyncio.sleep(0.5)
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ctx.delivery_wake.wait(), 0.25)
                self.ctx.delivery_wake.clear()

    async def claim_and_start(self) -> int:
        now = time.time()
        free = {r: self.prefetch - n for r, n in self.busy.items() if n}
        async with self.engine.begin() as conn:
            rows = await store.deliveries.claim(
                conn,
                now=ms_to_datetime(int(now * 1000)),
                lease_until=ms_to_datetime(int((now + LEASE_S) * 1000)),
                free=free,
                default_free=self.prefetch,
            )
        self.start(rows)
        taken = collections.Counter(r.receiver for r in rows)
        self.unclaimed = more_may_wait(taken, free, self.prefetch)
        return len(rows)

    def room(self, receiver: str) -> int:
        """How many more rows of this receiver the worker takes now (none once stopping: a
        row leased then would wait for its lease to run out)."""
        return 0 if self.closing else self.prefetch - self.busy.get(receiver, 0)

    def start(self, rows: Sequence[DeliveryRow]) -> None:
        """Send rows leased to this worker (by its claim, or by the transaction that queued
        them), each once a slot of its receiver is free."""
        touched = set()
        for row in rows:
            self.busy[row.receiver] = self.busy.get(row.receiver, 0) + 1
            self.held.add(row.id)
            queue = self.queues.get(row.receiver)
            if queue is None:
                queue = self.queues[row.receiver] = collections.deque()
            queue.append(row)
            touched.add(row.receiver)
        for receiver in touched:
            running = self.senders_running.get(receiver, 0)
            wanted = min(self.concurrency, running + len(self.queues[receiver]))
            for _ in range(wanted - running):
                task = asyncio.create_task(self.send_queued(receiver), name=f"sender-{receiver}")
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            self.senders_running[receiver] = max(running, wanted)

    async def send_queued(self, receiver: str) -> None:
        """One of a receiver's slots: send its queued rows one after another until none is left."""
        queue = self.queues[receiver]
        try:
            while queue:
                row = queue.popleft()
                try:
                    outcome = await self._send(row)
                except Exception as exc:  # never expected; the lease brings the row back
                    log.warning(
                        "delivery failed before its outcome", delivery_id=row.id, error=repr(exc)
                    )
                    self.busy[receiver] -= 1
                    continue
                # the receiver's slot frees as soon as it answered; the row stays leased until
                # the outcome is written, so no one takes it again meanwhile
                self.busy[receiver] -= 1
                self.outcomes.append(outcome)
                self.outcome_ready.set()
                if self.unclaimed and self.busy[receiver] <= self.prefetch // 2:
                    # rows wait that a claim left, and there is room for a claim worth its
                    # transaction; short of that, the claim loop's own round (a quarter of a
                    # second) or the next commit takes what waits
                    self.ctx.delivery_wake.set()
        finally:
            self.senders_running[receiver] -= 1

    async def _send(self, row: DeliveryRow) -> Outcome:
        started_ms = time.time_ns() // 1_000_000
        outcome: OutcomeKind = "failed"
        detail, hint = "receiver is not configured", None
        try:
            found = self.sender_for(row.receiver)
        except Exception as exc:  # a receiver type that cannot be built: kept for replay
            found, detail = None, f"receiver cannot be built: {type(exc).__name__}: {exc}"
        kind = found[0] if found else "unknown"
        if found is not None:
            notification = Notification(
                receiver=row.receiver,
                group_key=row.group_key,
                status=row.status,
                alerts=row.alerts,
                idempotency_key=row.idempotency_key,
            )
            try:
                detail = await found[1].send(notification)
                outcome = "delivered"
            except DeliveryError as exc:
                outcome = "retry" if exc.retryable else "failed"
                detail, hint = str(exc), exc.retry_after
            except Exception as exc:
                outcome, detail = "retry", f"{type(exc).__name__}: {exc}"
        finished_ms = time.time_ns() // 1_000_000
        next_ms: int | None = None
        if outcome == "retry":
            age_s = (finished_ms - datetime_to_ms(row.created_at)) / 1000
            if age_s >= self.give_up_after:
                outcome, detail = "failed", f"gave up after {age_s:.0f}s: {detail}"
            else:
                delay = backoff_seconds(
                    row.attempts, self.retry_initial, self.retry_max, hint, self.rng
                )
                next_ms = finished_ms + int(delay * 1000)
        attempt = NewAttempt(
            row.id, row.attempts, started_ms, finished_ms, outcome, str(detail), next_ms
        )
        return Outcome(attempt, row.receiver, kind, row.detected_at, row.alert_ids[:20])

    def _observe(self, batch: Sequence[Outcome]) -> collections.Counter[str]:
        """Count a round's recorded outcomes (each counter once per round), observe the
        delivered ones' latency and log each failed attempt; the outcomes by kind."""
        by_key: collections.Counter[tuple[str, str, str]] = collections.Counter()
        for o in batch:
            a = o.attempt
            by_key[o.receiver, o.kind, a.outcome] += 1
            if a.outcome == "delivered":
                if o.detected_at is not None:
                    histogram = self.latencies.get(o.receiver)
                    if histogram is None:
                        histogram = self.latencies[o.receiver] = LATENCY.labels(o.receiver)
                    latency_ms = a.finished_ms - datetime_to_ms(o.detected_at)
                    histogram.observe(max(0.0, latency_ms / 1000))
                continue
            # a success is counted in the round's summary; a failure is worth a line of its own
            log.warning(
                "delivery attempt failed",
                delivery_id=a.delivery_id,
                receiver=o.receiver,
                attempt=a.attempt,
                outcome=a.outcome,
                detail=a.detail[:200],
                alert_ids=list(o.alert_ids),
            )
        counts: collections.Counter[str] = collections.Counter()
        for key, n in by_key.items():
            counter = self.counters.get(key)
            if counter is None:
                counter = self.counters[key] = NOTIFICATIONS.labels(*key)
            counter.inc(n)
            counts[key[2]] += n
        return counts

    async def close(self, grace: float = 5.0) -> None:
        """A planned stop: let sends in flight finish for a moment, write their outcomes, and
        hand back the leases of the rest so another instance takes them at once."""
        self.closing = True
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=grace)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        try:
            if self.outcomes:
                batch, self.outcomes = self.outcomes, []
                async with self.engine.begin() as conn:
                    await store.deliveries.record_attempts(
                        conn, attempts=[o.attempt for o in batch]
                    )
                self.held -= {o.attempt.delivery_id for o in batch}
            if self.held:
                async with self.engine.begin() as conn:
                    await store.deliveries.release(conn, ids=sorted(self.held))
        except Exception as exc:  # the leases run out by themselves
            log.warning("delivery leases not handed back", error=repr(exc))
        self.pool.close()
        await self.http.aclose()
        await self.web.close()
