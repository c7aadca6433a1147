"""The delivery worker: at least once from the durable queue, a per-receiver concurrency limit,
exponential backoff with jitter, every attempt recorded; a lease makes a crash safe (the rows a
dead worker held come due again when their lease runs out)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from datetime import datetime
from typing import Any

import httpx
import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from alerting import queue, receivers
from alerting.context import Context
from alerting.metrics import LATENCY, NOTIFICATIONS, QUEUE_DEPTH
from alerting.receivers.base import DeliveryError, Notification, Sender
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.logs import get_logger

log = get_logger(__name__)
LEASE_S = 120.0


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


class Worker:
    def __init__(
        self,
        engine: AsyncEngine,
        ctx: Context,
        *,
        concurrency: int,
        retry_initial: float,
        retry_max: float,
        give_up_after: float,
    ) -> None:
        self.engine, self.ctx = engine, ctx
        self.concurrency = concurrency
        self.retry_initial, self.retry_max, self.give_up_after = (
            retry_initial,
            retry_max,
            give_up_after,
        )
        self.busy: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64)
        )
        self.senders: dict[str, tuple[bytes, Sender]] = {}
        self.rng = random.Random()

    def sender_for(self, name: str) -> tuple[str, Sender] | None:
        config: BaseModel | None = self.ctx.live.receivers.get(name)
        if config is None:
            return None
        kind = str(getattr(config, "type", ""))
        fingerprint = orjson.dumps(config.model_dump(mode="json"))
        cached = self.senders.get(name)
        if cached is None or cached[0] != fingerprint:
            cached = (fingerprint, receivers.TYPES[kind].build(config, self.http))
            self.senders[name] = cached
        return kind, cached[1]

    async def run(self, stop: asyncio.Event) -> None:
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
        free = {r: self.concurrency - n for r, n in self.busy.items() if n}
        async with self.engine.begin() as conn:
            rows = await queue.claim(
                conn,
                now=ms_to_datetime(int(now * 1000)),
                lease_until=ms_to_datetime(int((now + LEASE_S) * 1000)),
                free=free,
                default_free=self.concurrency,
            )
        for row in rows:
            self.busy[row.receiver] = self.busy.get(row.receiver, 0) + 1
            task = asyncio.create_task(self.deliver(row), name=f"delivery-{row.id}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(rows)

    async def deliver(self, row: Any) -> None:
        try:
            await self._deliver(row)
        except Exception as exc:  # the record itself failed (database away): lease expires
            log.warning("delivery outcome not recorded", delivery_id=row.id, error=repr(exc))
        finally:
            self.busy[row.receiver] -= 1
            self.ctx.delivery_wake.set()

    async def _deliver(self, row: Any) -> None:
        started = ms_to_datetime(int(time.time() * 1000))
        outcome, detail, hint = "failed", "receiver is not configured", None
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
                alerts=tuple(row.alerts),
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
        finished_ms = int(time.time() * 1000)
        next_at: datetime | None = None
        if outcome == "retry":
            age_s = (finished_ms - datetime_to_ms(row.created_at)) / 1000
            if age_s >= self.give_up_after:
                outcome, detail = "failed", f"gave up after {age_s:.0f}s: {detail}"
            else:
                delay = backoff_seconds(
                    row.attempts, self.retry_initial, self.retry_max, hint, self.rng
                )
                next_at = ms_to_datetime(finished_ms + int(delay * 1000))
        async with self.engine.begin() as conn:
            await queue.record_attempt(
                conn,
                delivery_id=row.id,
                attempt=row.attempts,
                started_at=started,
                finished_at=ms_to_datetime(finished_ms),
                outcome=outcome,
                detail=detail,
                next_attempt_at=next_at,
            )
        NOTIFICATIONS.labels(row.receiver, kind, outcome).inc()
        if outcome == "delivered" and row.detected_at is not None and row.attempts >= 1:
            LATENCY.labels(row.receiver).observe(
                max(0.0, (finished_ms - datetime_to_ms(row.detected_at)) / 1000)
            )
        log.info(
            "delivery attempt",
            delivery_id=row.id,
            receiver=row.receiver,
            attempt=row.attempts,
            outcome=outcome,
            detail=detail[:200],
            alert_ids=list(row.alert_ids)[:20],
        )

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.http.aclose()


async def gauge_queue(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        QUEUE_DEPTH.set(await queue.depth(conn))
