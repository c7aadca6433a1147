"""Where the sla-engine's apply time goes: the consumer's batch handler run in this process on
consumed-like records (no Kafka fetch), each SQL statement timed, then the outbox relayed.

    PYTHONPATH=. .venv/bin/python -m bench.engine_inprocess --events 60000 [--profile out.prof]
    PYTHONPATH=. .venv/bin/python -m bench.engine_inprocess --monitoring --events 20000 --batch 100

`--monitoring`: monitoring events as the cost bench sends them (each `firing`, `major`, on 64
services, one check, all at one instant), applied by the outage tracker: the availability path.

Prints, per batch stage, the wall seconds and the share of PostgreSQL statements in them: the
breakdown in docs/benchmarks.md ("Apply rate: where the time goes").
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import time
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from aiokafka import ConsumerRecord

import pacta.runtime as runtime
from bench.engine_apply import cpu_seconds
from bench.engine_seed import POLICY, POLICY_BODY, lifecycle_events
from bench.env import KAFKA, RetryingEnv
from pacta.clock import now_ms
from pacta.db import create_engine, migrate
from pacta.events import MONITORING_TOPIC, TICKETS_TOPIC, topic_name
from pacta.kafka import Record, create_producer
from pacta.logs import configure_logging
from pacta.settings import CommonSettings
from sla_engine.app import MIGRATIONS
from sla_engine.availability.tracker import OutageTracker
from sla_engine.clocks.keeper import ClockKeeper
from sla_engine.kafka import outbox
from sla_engine.kafka.consumer import make_handler
from sla_engine.kafka.outbox import Relay
from sla_engine.resources.registry import load_registry, put_resource
from sla_engine.store import SCHEMA


class StatementTimer:
    """Wall seconds spent in each SQL statement (by its first words), from the driver's call to
    its answer: what PostgreSQL and the round trip cost, apart from Python around them."""

    def __init__(self, engine: Any) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        sync = engine.sync_engine

        @sa.event.listens_for(sync, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("t0", []).append(time.perf_counter())

        @sa.event.listens_for(sync, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            took = time.perf_counter() - conn.info["t0"].pop()
            words = " ".join(statement.split()[:4])[:60]
            self.seconds[words] += took
            self.calls[words] += 1

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def monitoring_records(prefix: str, events: int, services: int = 64) -> list[Record]:
    """What bench/load.lua posts: every event firing, on `services` services, one instant."""
    topic = topic_name(prefix, MONITORING_TOPIC)
    now = now_ms()
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now / 1000)) + "Z"
    out: list[Record] = []
    for n in range(events):
        service = f"svc-{n % services}"
        value = (
            f'{{"id":"m-{n}","occurred_at":"{at}","service":"{service}","check":"bench",'
            '"status":"firing","severity":"major","summary":"bench load"}'
        ).encode()
        key = service.encode()
        out.append(ConsumerRecord(topic, 0, n, now, 0, key, value, None, len(key), len(value), ()))
    return out


def records(prefix: str, events: int) -> list[Record]:
    topic = topic_name(prefix, TICKETS_TOPIC)
    now = now_ms()
    out: list[Record] = []
    for n, (tid, _eid, value) in enumerate(lifecycle_events("E", events // 3, now - 86_400_000)):
        out.append(
            ConsumerRecord(topic, 0, n, now, 0, tid.encode(), value, None, len(tid), len(value), ())
        )
    return out


async def run(events: int, batch: int, profile: str | None, monitoring: bool = False) -> None:
    configure_logging("WARNING", "sla-engine")  # as the benchmark's engine runs
    async with RetryingEnv() as env:
        settings = CommonSettings(
            kafka_bootstrap=KAFKA, database_url=env.database_url, topic_prefix=env.topic_prefix
        )
        await migrate(settings.database_url, SCHEMA, MIGRATIONS)
        engine = create_engine(settings.database_url, pre_ping=False)  # as the engine runs
        async with engine.begin() as conn:
            await put_resource(conn, kind="policy", name=POLICY, body=POLICY_BODY)
            registry = await load_registry(conn)
        keeper = ClockKeeper(engine, registry, env.topic_prefix)
        outages = OutageTracker(engine, registry, env.topic_prefix) if monitoring else None
        handle = make_handler(engine, keeper, outages)
        producer = create_producer(settings, "bench")
        await producer.start()
        relay = Relay(engine, producer, batch=2000)
        recs = (monitoring_records if monitoring else records)(env.topic_prefix, events)
        timer = StatementTimer(engine)
        profiler = cProfile.Profile() if profile else None
        handled = relayed = 0.0
        cpu0 = time.process_time()
        pg_cpu0 = 0.0  # the backends start with the run (a fresh database)
        for i in range(0, len(recs), batch):
            if profiler:
                profiler.enable()
            t0 = time.perf_counter()
            await handle(recs[i : i + batch])
            t1 = time.perf_counter()
            while await relay.relay_once():
                pass
            t2 = time.perf_counter()
            if profiler:
                profiler.disable()
            handled, relayed = handled + t1 - t0, relayed + t2 - t1
        cpu = time.process_time() - cpu0
        async with engine.connect() as conn:
            pids = (
                await conn.execute(
                    sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                )
            ).scalars()
            pg_cpu = sum(cpu_seconds(pid) for pid in pids) - pg_cpu0
        await producer.stop()
        await handle.release()
        await engine.dispose()
    if profiler and profile:
        profiler.dump_stats(profile)
    n = len(recs)
    print(f"{n:,} events, batches of {batch:,}")
    print(f"  handler  {handled:6.2f} s  {n / handled:8,.0f} events/s")
    print(f"  relay    {relayed:6.2f} s  (outbox to Kafka)")
    print(f"  together {handled + relayed:6.2f} s  {n / (handled + relayed):8,.0f} events/s")
    print(f"  this process's CPU in both: {cpu:.2f} s ({n / cpu:,.0f} events per CPU-second)")
    print(f"  PostgreSQL's CPU (this database's backends): {pg_cpu:.2f} s")
    print(f"  per event: this process {cpu / n * 1e6:.0f} us, PostgreSQL {pg_cpu / n * 1e6:.0f} us")
    print(f"  SQL statements (wall, in both): {timer.total:.2f} s")
    for words, secs in sorted(timer.seconds.items(), key=lambda kv: -kv[1]):
        print(f"    {secs:6.2f} s  {timer.calls[words]:5d}x  {words}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--batch", type=int, default=5_000)
    p.add_argument("--profile", default=None, help="write cProfile stats here")
    p.add_argument("--rows", action="store_true", help="outbox records as rows (no bundles)")
    p.add_argument("--monitoring", action="store_true", help="monitoring events (availability)")
    p.add_argument(
        "--gc",
        default="",
        help="gc thresholds (default: the engine's, 700,10,10 where it sets none)",
    )
    args = p.parse_args()
    young = getattr(runtime, "GC_YOUNG_THRESHOLD", None)  # an older tree has none
    gc.set_threshold(
        *(int(x) for x in (args.gc or (f"{young},20,100" if young else "700,10,10")).split(","))
    )
    if args.rows:
        outbox.BUNDLE_FROM = 1 << 62
    asyncio.run(run(args.events, args.batch, args.profile, args.monitoring))


if __name__ == "__main__":
    main()
