"""Alerting's Kafka shell: signals in, each applied exactly once. The inbox claim, the alerts,
their groups and the deliveries of groups already due commit in one transaction."""

from __future__ import annotations

import time

from fastapi import FastAPI

from alerting import flushing, pipeline, store
from alerting.dispatcher import now_ms
from alerting.metrics import SIGNALS
from alerting.store.deliveries import DeliveryRow
from pacta.events import Signal
from pacta.kafka import BatchHandler, Record, decode_events
from pacta.logs import get_logger

log = get_logger(__name__)


def make_handler(app: FastAPI) -> BatchHandler:
    async def handle(records: list[Record]) -> None:
        signals = [s for s in decode_events(records) if isinstance(s, Signal)]
        if not signals:
            return
        ctx = app.state.ctx
        started = time.perf_counter()
        async with app.state.engine.begin() as conn:
            # a signal seen before (restart, replay, rebalance) is skipped here, in the same
            # transaction that applies the rest: it can never notify twice
            new = await store.inbox.claim(conn, signal_ids=[s.signal_id for s in signals])
            seen: set[str] = set()
            fresh = []
            for s in signals:
                if s.signal_id in new and s.signal_id not in seen:
                    seen.add(s.signal_id)
                    fresh.append(s)
            await store.inbox.record_signals(conn, signals=fresh)
            at = now_ms()
            touched = await pipeline.apply_signals(
                conn, ctx, [s.model_dump(mode="json") for s in fresh], at
            )
            leased: list[DeliveryRow] = []
            queued = await flushing.flush_due(conn, ctx, at, keys=sorted(touched), leased=leased)
        # committed: the deliveries leased to this process's worker start now, without a claim
        ctx.delivery_start(leased)
        for s in fresh:
            SIGNALS.labels(s.kind).inc()
        # after the commit: a worker woken earlier would find nothing yet
        ctx.delivery_wake.set()
        ctx.dispatch_wake.set()
        if fresh:
            log.info(
                "signals applied",
                ids=[s.signal_id for s in fresh][:20],
                count=len(fresh),
                deliveries=queued,
                seconds=round(time.perf_counter() - started, 4),
            )

    return handle
