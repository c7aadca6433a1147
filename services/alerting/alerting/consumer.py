"""Alerting's Kafka shell: signals in, each applied exactly once. A consumed batch is split in
lanes by alert (`lanes`), applied side by side; the inbox claim, the alerts, their groups and
the deliveries of groups already due commit in one transaction per part of a lane
(`sub_batches`); the deliveries leave as each part commits."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import Counter

from fastapi import FastAPI

from alerting import pipeline
from alerting.context import Context
from alerting.domain.alerts import alert_key
from alerting.metrics import SIGNALS
from alerting.store.groups import GroupFormedElsewhere
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
        split = lanes(signals, ctx.settings.alerting_apply_lanes)
        if len(split) == 1:
            await apply_lane(split[0])
            return
        # each lane in a transaction of its own while the others' statements run: the
        # process's Python and PostgreSQL work at once instead of in turn. Every lane ends
        # (applied, or rolled back) before a failure is raised: the batch is then applied
        # again, and the inbox drops what a lane committed
        ended = await asyncio.gather(*(apply_lane(lane) for lane in split), return_exceptions=True)
        for outcome in ended:
            if isinstance(outcome, BaseException):
                raise outcome

    async def apply_lane(signals: list[Signal]) -> None:
        for part in sub_batches(signals):
            await apply(part)

    async def apply(signals: list[Signal]) -> None:
        started = time.perf_counter()
        for attempt in range(1, FORMED_RETRIES + 1):
            try:
                async with ctx.engine.begin() as conn:
                    applied = await pipeline.run(conn, ctx, signals, now_ms())
                break
            except GroupFormedElsewhere as exc:
                # another lane (or instance) formed a group this part found missing: rolled
                # back; applied again at once, it finds the group
                if attempt == FORMED_RETRIES:
                    raise
                log.info("group formed meanwhile; part applied again", groups=str(exc))
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


FORMED_RETRIES = 3  # attempts of a part whose new group another transaction formed meanwhile
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


def lanes(signals: list[Signal], n: int) -> list[list[Signal]]:
    """A consumed batch in up to `n` lanes that can be applied at once: every signal of an
    alert in the same lane, in the order consumed, so each alert sees its signals in turn as
    one lane would. Alerts of different lanes are as alerts of different partitions, which
    two instances would apply at once: their groups are locked, and a group formed by two
    lanes is formed once (`GroupFormedElsewhere`). No lane is empty."""
    if n <= 1 or len(signals) <= 1:
        return [signals] if signals else []
    out: list[list[Signal]] = [[] for _ in range(n)]
    for s in signals:
        out[zlib.crc32(alert_key(s).encode()) % n].append(s)
    return [lane for lane in out if lane]
