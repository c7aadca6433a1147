"""The sla-engine's outbox relay alone: commit -> record on the producer, and CPU per record.

    PYTHONPATH=. python -m bench.outbox_relay --seconds 5

In this process, on a database and topic prefix of its own: timer-like transactions (`--small`
signals each, every `--every-ms`) and, meanwhile, backfill-like ones (`--big` clock facts in
bundles, with `--busy-ms` of the event loop's time each, as a consumed batch's apply takes),
committed and rung as the engine rings its relay. Reports, for the small transactions'
signals, commit -> the record's timestamp on Kafka (the producer's append: when the relay
handed it over) and this process's CPU per relayed record (the workload's own is the same
either side: compare A/B), with the load average beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.alerting_report import quantiles
from bench.env import KAFKA, BenchEnv
from pacta.db import create_engine, migrate
from pacta.events import FACTS_TOPIC, SIGNALS_TOPIC, topic_name
from pacta.kafka import create_producer
from pacta.settings import CommonSettings
from sla_engine.kafka.outbox import Relay, enqueue_raw, enqueued_in, outbox_record
from sla_engine.store import SCHEMA

MIGRATIONS = Path(__file__).parents[1] / "services/sla-engine/sla_engine/migrations"


async def _commit(engine: Any, relay: Relay, records: list[Any], busy_s: float) -> float:
    async with engine.begin() as conn:
        await enqueue_raw(conn, records)
        seqs = enqueued_in(conn)
    if busy_s:
        until = time.perf_counter() + busy_s
        while time.perf_counter() < until:
            pass
    committed = time.time()
    # the relay of either side: one rung with the seqs, or without
    if inspect.signature(relay.notify).parameters:
        relay.notify(seqs)
    else:
        relay.notify()
    return committed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with BenchEnv() as env:
        settings = CommonSettings(
            kafka_bootstrap=KAFKA, database_url=env.database_url, topic_prefix=env.topic_prefix
        )
        await migrate(settings.database_url, SCHEMA, MIGRATIONS)
        engine = create_engine(settings.database_url)
        producer = create_producer(settings, client_id="bench-relay", linger_ms=0)
        await producer.start()
        relay = Relay(engine, producer, batch=2000)
        task = asyncio.create_task(relay.run())
        signals = topic_name(env.topic_prefix, SIGNALS_TOPIC)
        facts = topic_name(env.topic_prefix, FACTS_TOPIC)
        committed: dict[str, float] = {}
        n = 0

        def body(k: int) -> bytes:
            return orjson.dumps({"signal_id": f"s{k}", "kind": "breach", "pad": "x" * 200})

        async def small() -> None:
            nonlocal n
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                ids = [f"s{n + i}" for i in range(args.small)]
                records = [
                    outbox_record(signals, f"svc-{(n + i) % 16}", rid, body(n + i), "t")
                    for i, rid in enumerate(ids)
                ]
                n += args.small
                at = await _commit(engine, relay, records, 0)
                for rid in ids:
                    committed[rid] = at
                await asyncio.sleep(args.every_ms / 1000)

        big_records = 0

        async def big() -> None:
            nonlocal big_records
            end = time.monotonic() + args.seconds
            k = 0
            while time.monotonic() < end:
                records = [
                    outbox_record(facts, f"svc-{i % 16}", f"f{k}-{i}", body(i), "t")
                    for i in range(args.big)
                ]
                k += 1
                big_records += len(records)
                await _commit(engine, relay, records, args.busy_ms / 1000)
                await asyncio.sleep(0.02)

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(small(), big() if args.big else asyncio.sleep(0))
        # drained: nothing left on the outbox
        while True:
            async with engine.connect() as conn:
                left = await conn.exec_driver_sql("SELECT count(*) FROM sla_engine.outbox")
                if left.scalar() == 0:
                    break
            await asyncio.sleep(0.05)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - t0
        relay.stop.set()
        relay.notify()
        await asyncio.wait_for(task, 10)
        await producer.stop()
        await engine.dispose()

        consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        await consumer.start()
        try:
            parts = await env._partitions(signals)
            tps = [TopicPartition(signals, p) for p in parts]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            relayed: dict[str, float] = {}
            ends = await consumer.end_offsets(tps)
            while sum(await _positions(consumer, tps)) < sum(ends.values()):
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for r in batch:
                        rid = dict(r.headers).get("ce_id", b"").decode()
                        relayed[rid] = r.timestamp / 1000
        finally:
            await consumer.stop()
        waits = [1000 * (relayed[rid] - at) for rid, at in committed.items() if rid in relayed]
        total = len(committed) + big_records
        return {
            "signals": len(committed),
            "relayed": len(waits),
            "commit_to_relayed_ms": quantiles(waits),
            "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 2),
            "cpu_us_per_record": round(1e6 * cpu / max(1, total), 1),
            "load": os.getloadavg()[0],
        }


async def _positions(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> list[int]:
    return [await consumer.position(tp) for tp in tps]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--small", type=int, default=10, help="signals per timer-like transaction")
    p.add_argument("--every-ms", type=float, default=10.0)
    p.add_argument("--big", type=int, default=2000, help="facts per backfill-like transaction")
    p.add_argument("--busy-ms", type=float, default=20.0)
    print(orjson.dumps(asyncio.run(run(p.parse_args())), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
