"""Alerting's delivery path in one process: leased deliveries sent to a webhook and their
outcomes recorded, without Kafka and without the apply.

    python -m bench.alerting_send --signals 20000          # deliveries of 20,000 breaches

The drain's route on a database of the run's own: the signals are applied first by the
consumer's handler (not measured), every delivery written leased to this process, as the drain
writes them. Then the delivery worker sends them to the bench's receiver (a process of its own)
and records every outcome: this process's CPU and its PostgreSQL backends' CPU per delivery,
from the first send to the last outcome written. The part of the drain outside the handler
(`bench.alerting_apply`), apart from Kafka's fetches. `--profile out.raw` samples this process
with py-spy meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import uvloop

from alerting.delivery import Worker
from alerting.store.deliveries import DeliveryRow
from bench.alerting_apply import BATCH, _records, _ticks, handler
from bench.env import BenchEnv, RetryingEnv
from bench.procs import CLK_TCK, CpuMeter
from bench.receiver import Receiver
from bench.report import OUT_DIR, stamp
from pacta.events import SIGNALS_TOPIC, topic_name

WARM = 500  # deliveries sent before the measured ones: connections open, code warm


async def _recorded(worker: Worker, receiver: Receiver, want: int, limit: float) -> int:
    """Wait until the worker holds nothing and `want` bodies arrived; the bodies arrived."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not worker.held and not worker.outcomes:
            got = await receiver.count()
            if got >= want:
                return got
        await asyncio.sleep(0.02)
    return await receiver.count()


async def _feed(worker: Worker, rows: list[DeliveryRow]) -> None:
    """Hand the worker rows as it has room for them, as the drain's committed parts do: it never
    holds more than its prefetch (the claim's scan of leased rows stays as short as there)."""
    at = 0
    while at < len(rows):
        room = worker.room("bench")
        if room > 0:
            worker.start(rows[at : at + room])
            at += room
        await asyncio.sleep(0.005)


async def run(signals: int, profile: str) -> dict[str, Any]:
    receiver = Receiver(OUT_DIR / "logs" / f"send-{stamp()}-receiver.log")
    await asyncio.to_thread(receiver.start)
    try:
        async with RetryingEnv() as env:
            return await _run(env, receiver, signals, profile)
    finally:
        receiver.stop()


async def _run(env: BenchEnv, receiver: Receiver, signals: int, profile: str) -> dict[str, Any]:
    async with handler(env, receiver.url("/pacta")) as h:
        settings, ctx, leased = h.settings, h.ctx, h.leased
        topic = topic_name(env.topic_prefix, SIGNALS_TOPIC)
        prefix = f"s{env.rand}"
        total = WARM + signals
        for start in range(0, total, BATCH):
            await h.handle(_records(topic, prefix, start, min(BATCH, total - start)))
        worker = Worker(
            ctx,
            concurrency=settings.alerting_receiver_concurrency,
            retry_initial=settings.alerting_retry_initial_seconds,
            retry_max=settings.alerting_retry_max_seconds,
            give_up_after=settings.alerting_give_up_after_seconds,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        worker.start(leased[:WARM])
        await _recorded(worker, receiver, WARM, 60)
        spy = None
        if profile:
            spy = await asyncio.create_subprocess_exec(
                *(os.path.join(os.path.dirname(sys.executable), "py-spy"), "record"),
                *("-p", str(os.getpid()), "-o", profile, "-r", "200", "--nonblocking"),
                *(("-f", "raw") if profile.endswith(".raw") else ()),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            await asyncio.sleep(1.0)  # attached
        backends = CpuMeter.backends_of(env.db_name)()
        load = os.getloadavg()[0]
        cpu0, pg0, t0 = time.process_time(), _ticks(backends), time.monotonic()
        await _feed(worker, leased[WARM:])
        got = await _recorded(worker, receiver, total, 240) - WARM
        cpu = time.process_time() - cpu0
        pg = (_ticks(backends) - pg0) / CLK_TCK
        wall = time.monotonic() - t0
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled so far
            await asyncio.wait_for(spy.wait(), 30)
        stop.set()
        await running
        await worker.close()
        async with env.db() as conn:
            delivered = await conn.fetchval(
                "SELECT count(*) FROM alerting.deliveries WHERE state = 'delivered'"
            )
    sent = len(leased) - WARM
    out = {
        "deliveries": sent,
        "received": got,
        "delivered": int(delivered) - WARM,
        "wall_s": round(wall, 2),
        "per_s": round(sent / wall, 1),
        "alerting_us_per_delivery": round(cpu / max(1, sent) * 1e6, 1),
        "postgres_us_per_delivery": round(pg / max(1, sent) * 1e6, 1),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(
        f"[bench] alerting send: {sent:,} deliveries ({got:,} received, {out['delivered']:,} "
        f"recorded delivered) in {wall:.2f} s = {out['per_s']:,.0f}/s; alerting "
        f"{out['alerting_us_per_delivery']:,.1f} us CPU/delivery, its PostgreSQL backends "
        f"{out['postgres_us_per_delivery']:,.1f} us (load {out['load_before']} -> "
        f"{out['load_after']})",
        flush=True,
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.alerting_send", description=__doc__)
    p.add_argument("--signals", type=int, default=20_000)
    p.add_argument("--profile", default="", help="py-spy of this process to this file (.raw)")
    args = p.parse_args()
    uvloop.run(run(args.signals, args.profile))


if __name__ == "__main__":
    main()
