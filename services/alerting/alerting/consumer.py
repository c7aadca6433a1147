"""Alerting's Kafka shell: signals in, each applied exactly once. The inbox claim, the alerts,
their groups and the deliveries of groups already due commit in one transaction."""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import flushing, pipeline, store
from alerting.metrics import SIGNALS
from pacta.clock import now_ms
from pacta.db import claim_events
from pacta.events import Signal
from pacta.kafka import BatchHandler, Record, decode_events
from pacta.logs import get_logger

log = get_logger(__name__)


async def record_signals(conn: AsyncConnection, *, signals: list[Signal]) -> None:
    if signals:
        rows = [
            {
                "id": s.signal_id,
                "kind": s.kind,
                "service": s.service,
                "occurred_at": s.occurred_at,
                "body": s.model_dump(mode="json"),
            }
            for s in signals
        ]
        await conn.execute(
            sa.text(
                "INSERT INTO alerting.signals (signal_id, kind, service, occurred_at, body) "
                "SELECT id, kind, service, occurred_at, body FROM "
                + store.recordset(
                    "id text, kind text, service text, occurred_at timestamptz, body jsonb"
                )
                + " ORDER BY ord ON CONFLICT DO NOTHING"
            ),
            {"rows": orjson.dumps(rows).decode()},
        )


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
            new = await claim_events(conn, store.SCHEMA, [s.signal_id for s in signals])
            seen: set[str] = set()
            fresh = []
            for s in signals:
                if s.signal_id in new and s.signal_id not in seen:
                    seen.add(s.signal_id)
                    fresh.append(s)
            await record_signals(conn, signals=fresh)
            at = now_ms()
            touched = await pipeline.apply_signals(
                conn, ctx, [s.model_dump(mode="json") for s in fresh], at
            )
            leased: list[Any] = []
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
