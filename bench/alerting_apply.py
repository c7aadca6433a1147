"""Alerting's apply path in one process: breach signals through the consumer's batch handler,
without Kafka and without sends.

    python -m bench.alerting_apply --signals 20000          # batches of 1,000, as consumed

The drain's route (`group_by: ['...']`, `group_wait: 0s`) on a database of the run's own; every
delivery is written leased to a worker that sends nothing. Prints the handler's CPU (this
process) and its PostgreSQL backends' CPU per signal: an A/B figure for the apply path that
other work on the box disturbs less than the drain's, which also counts the sends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI

from alerting import store
from alerting.app import MIGRATIONS, build_context
from alerting.consumer import make_handler
from alerting.context import Context
from alerting.settings import AlertingSettings
from alerting.store.deliveries import DeliveryRow
from bench.alerting import ROUTE
from bench.alerting_micro import _signal
from bench.env import BenchEnv, RetryingEnv
from bench.procs import CLK_TCK, CpuMeter, _proc_ticks
from pacta.db import create_engine, migrate
from pacta.events import SIGNALS_TOPIC, topic_name
from pacta.kafka import BatchHandler, Record
from pacta.logs import configure_logging
from pacta.runtime import collector_aside

BATCH = 1000  # records per consumed batch (the consumer's max_records)


def _records(topic: str, prefix: str, start: int, count: int) -> list[Record]:
    return [
        ConsumerRecord(topic, 0, k, 0, 0, None, _signal(prefix, k), None, 0, 0, [])
        for k in range(start, start + count)
    ]


def _ticks(pids: Sequence[int]) -> int:
    return sum(_proc_ticks(p) for p in pids)


@dataclass
class Handler:
    """Alerting's consumer handler in this process; the deliveries it leases are kept in
    `leased`, not sent."""

    settings: AlertingSettings
    ctx: Context
    handle: BatchHandler
    leased: list[DeliveryRow]


@contextlib.asynccontextmanager
async def handler(env: BenchEnv, hook_url: str) -> AsyncIterator[Handler]:
    """The handler on the run's database, migrated, with the bench's route to a webhook at
    `hook_url`; every delivery is written leased to this process."""
    given = {k.lower().removeprefix("pacta_"): v for k, v in env.service_env().items()}
    settings = AlertingSettings.model_validate(given)
    configure_logging(settings.log_level, "alerting")
    await migrate(settings.database_url, store.SCHEMA, MIGRATIONS)
    engine = create_engine(settings.database_url, pre_ping=False)
    try:
        async with engine.begin() as conn:
            hook = {"type": "webhook", "url": hook_url, "secret": "bench"}
            await store.config.put(conn, kind="receiver", name="bench", body=hook)
            await store.config.put(conn, kind="routes", name="root", body=ROUTE)
        ctx = await build_context(engine, settings)
        collector_aside()  # as the service's lifespan does
        leased: list[DeliveryRow] = []
        ctx.delivery_room = lambda receiver: 1 << 30
        ctx.delivery_start = leased.extend
        handle = make_handler(cast(FastAPI, SimpleNamespace(state=SimpleNamespace(ctx=ctx))))
        yield Handler(settings, ctx, handle, leased)
    finally:
        await engine.dispose()


async def run(signals: int) -> dict[str, Any]:
    async with RetryingEnv() as env, handler(env, "http://127.0.0.1:9/bench") as h:
        handle, leased = h.handle, h.leased
        topic = topic_name(env.topic_prefix, SIGNALS_TOPIC)
        prefix = f"a{env.rand}"
        await handle(_records(topic, prefix + "w", 0, 200))
        backends = CpuMeter.backends_of(env.db_name)()
        load = os.getloadavg()[0]
        cpu0, pg0, t0 = time.process_time(), _ticks(backends), time.monotonic()
        spans: list[float] = []  # each batch's CPU per signal
        for start in range(0, signals, BATCH):
            records = _records(topic, prefix, start, min(BATCH, signals - start))
            began = time.process_time()
            await handle(records)
            spans.append((time.process_time() - began) / len(records))
        cpu = time.process_time() - cpu0
        pg = (_ticks(backends) - pg0) / CLK_TCK
        wall = time.monotonic() - t0
    out = {
        "signals": signals,
        "leased": len(leased),
        "wall_s": round(wall, 2),
        "alerting_us_per_signal": round(cpu / signals * 1e6, 1),
        "postgres_us_per_signal": round(pg / signals * 1e6, 1),
        # the quietest batches: other work on the box inflates a batch's CPU, never deflates it
        "alerting_us_per_signal_low": round(sorted(spans)[len(spans) // 4] * 1e6, 1),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(
        f"[bench] alerting apply: {signals:,} signals in {wall:.2f} s, {len(leased):,} deliveries; "
        f"alerting {out['alerting_us_per_signal']:,.0f} us CPU/signal, its PostgreSQL backends "
        f"{out['postgres_us_per_signal']:,.0f} us; alerting's quietest quarter of batches "
        f"{out['alerting_us_per_signal_low']:,.0f} us (load {out['load_before']} -> "
        f"{out['load_after']})",
        flush=True,
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.alerting_apply", description=__doc__)
    p.add_argument("--signals", type=int, default=20_000)
    args = p.parse_args()
    asyncio.run(run(args.signals))


if __name__ == "__main__":
    main()
