"""The ingest's produce-and-claim cycle alone, in this process: no HTTP, no other service.

    .venv/bin/python -m bench.ingest_cycle --cycles 400 --events 16

Runs `--cycles` cycles of `--events` single-event requests each (submitted together, as a
closed loop of that many connections would) through `ingest.committer.Committer` against the
box's Kafka and PostgreSQL, and prints this process's CPU per cycle and per event and the mean
wall time of a cycle. `--profile FILE` writes a cProfile of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import time
from datetime import UTC, datetime

import orjson

from bench.env import KAFKA, BenchEnv
from ingest import store
from ingest.api import identify
from ingest.app import MIGRATIONS
from ingest.committer import Committer
from ingest.parsing import Event, parse_events
from pacta.db import migrate
from pacta.kafka import create_producer, start_with_retry
from pacta.settings import CommonSettings


def _requests(rand: str, cycle: int, events: int) -> list[list[Event]]:
    """`events` requests of one monitoring event each, validated and identified."""
    now = datetime.now(UTC)
    out = []
    for i in range(events):
        body = {
            "id": f"{rand}-{cycle}-{i}",
            "occurred_at": now.isoformat(),
            "service": f"svc-{i % 50}",
            "check": "latency",
            "status": "firing",
        }
        parsed = parse_events(orjson.dumps(body), "monitoring", now=now, max_batch=1000)
        identify(parsed, now)
        out.append(parsed)
    return out


async def main(args: argparse.Namespace) -> None:
    async with BenchEnv() as env:
        settings = CommonSettings(kafka_bootstrap=KAFKA, database_url=env.database_url)
        await migrate(settings.database_url, store.SCHEMA, MIGRATIONS)
        pool = await store.create_claim_pool(settings.database_url, 8, fsync=False)
        producer = create_producer(settings, client_id="bench-cycle", linger_ms=0)
        await start_with_retry(producer, "bench", asyncio.Event())
        committer = Committer(
            lambda: pool,
            lambda: producer,
            prefix=env.topic_prefix,
            timeout=10.0,
            gather=0.008,  # the service's default; every "connection" waits: a cycle goes
            connections=lambda: args.events,
        )
        try:
            for c in range(20):  # warm-up: metadata, connections
                await asyncio.gather(*(committer.submit(r) for r in _requests("w", c, args.events)))
            batches = [_requests(env.rand, c, args.events) for c in range(args.cycles)]
            profiler = cProfile.Profile() if args.profile else None
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            for requests in batches:
                await asyncio.gather(*(committer.submit(r) for r in requests))
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            n = args.cycles
            print(
                f"cycles={n} events={args.events} cpu_us_per_cycle={cpu / n * 1e6:.0f} "
                f"cpu_us_per_event={cpu / n / args.events * 1e6:.1f} "
                f"wall_ms_per_cycle={wall / n * 1e3:.2f}",
                flush=True,
            )
        finally:
            close = getattr(committer, "close", None)  # another version's may keep none
            if close is not None:
                await close()
            await producer.stop()
            await pool.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=400)
    p.add_argument("--events", type=int, default=16)
    p.add_argument("--profile", default="")
    asyncio.run(main(p.parse_args()))
