"""Alerting's Kafka shell: signals in, each applied exactly once. The inbox claim, the alerts,
their groups and the deliveries of groups already due commit in one transaction per part of
a consumed batch (`sub_batches`); the deliveries leave as each part commits."""

from __future__ import annotations

import time
from collections import Counter

from fastapi import FastAPI

from alerting import pipeline
from alerting.context import Context
from alerting.metrics import SIGNALS
from pacta.clock import now_ms
from pacta.events import Signal
from pacta.kafka import BatchHandler, Record, decode_events
from pacta.logs import get_logger

log = get_logger(__name__)


def make_handler(app: FastAPI) -> BatchHandler:
    """The batch handler of the signals topic (made once the lifespan built the context)."""
    ctx: Context = app.state.ctx

    async def handle(records: list[Record]) -> None:
        signals = [s for s in decode_events(records) if isinstance(s, Signal)]
        for part in sub_batches(signals):
            await apply(part)

    async def apply(signals: list[Signal]) -> None:
        started = time.perf_counter()
        async with ctx.engine.begin() as conn:
            applied = await pipeline.run(conn, ctx, signals, now_ms())
        # committed: the deliveries leased to this process's worker start now, without a claim
        ctx.delivery_start(applied.leased)
        for kind, n in Counter(s.kind for s in applied.fresh).items():
            SIGNALS.labels(kind).inc(n)
        # after the commit: a worker woken earlier would find nothing yet. The worker is woken
        # only for deliveries it did not take leased here (those wait for its claim)
        if applied.left_for_claim:
            ctx.delivery_wake.set()
        # the timers only for what they would otherwise take up late: in an alert storm every
        # batch's groups flushed in it and sleep until their repeat, and a timer round per
        # batch (two transactions) found nothing due
        if applied.for_timers or ctx.dispatcher_late_for(applied.next_flush_ms):
            ctx.dispatch_wake.set()
        if applied.fresh:
            log.info(
                "signals applied",
                ids=[s.signal_id for s in applied.fresh[:20]],
                count=len(applied.fresh),
                deliveries=applied.queued,
                seconds=round(time.perf_counter() - started, 4),
            )

    return handle


FIRST_SUB_BATCH = 64  # signals in the first transaction of a consumed batch
LAST_SUB_BATCH = 512  # and at most in any later one


def sub_batches(signals: list[Signal]) -> list[list[Signal]]:
    """A consumed batch in transactions that grow: the first is small, so its notifications
    leave before the rest of a backlog (an alert storm's 1,000 signals) is applied; each next
    one twice the last, up to a size whose statements cost little per signal. Finer than one
    transaction per batch, never coarser: the inbox still drops a signal applied before (a
    batch replayed after a failure part-way)."""
    out, size, at = [], FIRST_SUB_BATCH, 0
    while at < len(signals):
        # a rest smaller than the first part joins this one: no transaction for a few signals
        end = at + size if len(signals) - at - size >= FIRST_SUB_BATCH else len(signals)
        out.append(signals[at:end])
        at = end
        size = min(size * 2, LAST_SUB_BATCH)
    return out
