"""Reporting at the targets' larger scale: the rebuild by replay (records through Kafka into a fresh
schema, `reporting.rebuild.rebuild`, timed) and the read model grown to 10,000,000 events.

The rebuild replays a stream of the bench's shape (each ticket's 4 events and its 4 clock
facts, each service-month's availability fact) from real Kafka topics; its rate, extrapolated,
gives the time for the stream of 10,000,000 events and their facts. The 10 M read model is the
1 M one multiplied tenfold in SQL (every ticket and clock copied nine times under new ids, the
daily aggregates multiplied by ten): the rows the report reads at that scale, without seeding
20,000,000 records through the apply path on a shared box.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any, cast

import sqlalchemy as sa

from bench.env import KAFKA, BenchEnv
from bench.reporting_records import availability_records, ticket_records
from pacta.db import create_engine
from pacta.kafka import create_producer, ensure_topics, send_all
from reporting.rebuild import rebuild
from reporting.settings import ReportingSettings

REBUILD_TARGET_S = 600.0
SCALE = 10


def _settings(env: BenchEnv) -> ReportingSettings:
    return ReportingSettings(
        kafka_bootstrap=KAFKA, database_url=env.database_url, topic_prefix=env.topic_prefix
    )


async def produce_stream(env: BenchEnv, events: int) -> int:
    """Produce a stream of `events` events (and their facts) into the bench's topics; returns
    the number of records produced."""
    settings = _settings(env)
    await ensure_topics(settings)
    rng = random.Random(11)
    producer = create_producer(settings, "bench-reporting", linger_ms=5)
    await producer.start()
    produced = 0
    try:
        chunk: list[tuple[str, bytes, bytes, list[Any]]] = [
            (r.topic, r.key, r.value, []) for r in availability_records(env.topic_prefix, rng)
        ]
        for n in range(events // 4):
            chunk += [
                (r.topic, r.key, r.value, []) for r in ticket_records(env.topic_prefix, n, rng)
            ]
            if len(chunk) >= 20_000:
                await send_all(producer, cast(Any, chunk), timeout=120)
                produced += len(chunk)
                chunk = []
        await send_all(producer, cast(Any, chunk), timeout=120)
        produced += len(chunk)
    finally:
        await producer.stop()
    return produced


async def measure_rebuild(env: BenchEnv, events: int, target_events: int) -> dict[str, Any]:
    """Produce a stream of `events` events (and their facts), then time its rebuild by replay."""
    settings = _settings(env)
    produced = await produce_stream(env, events)
    started, cpu, waited = time.perf_counter(), rebuild_cpu_s(), _run_queue_s()
    own = time.process_time()
    replayed = await rebuild(settings, live="reporting_replay")
    seconds, cpu = time.perf_counter() - started, rebuild_cpu_s() - cpu
    own = time.process_time() - own
    waited = _run_queue_s() - waited
    rate = replayed / seconds
    per_event = produced / events
    return {
        "events": events,
        "records": replayed,
        "seconds": seconds,
        "records_per_s": rate,
        "cpu_us_per_record": cpu / replayed * 1e6,
        # the rest of the wall time: the event loop waiting on PostgreSQL or Kafka
        "run_queue_s": waited,
        "idle_s": seconds - own - waited,  # this process's: its forked replays' run apart
        "records_per_event": per_event,
        "target_events": target_events,
        "extrapolated_s": target_events * per_event / rate,
    }


def rebuild_cpu_s() -> float:
    """This process's CPU seconds and its waited-for children's (the rebuild's forked replays)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _run_queue_s() -> float:
    """Seconds this thread has waited for a core (other processes had them): wall time that
    is neither its CPU nor a wait on I/O."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except OSError:
        return 0.0


async def grow_tenfold(env: BenchEnv) -> dict[str, Any]:
    """The 1 M read model made a 10 M one: nine copies of every ticket and clock row under new
    ids (same service, times and outcome), and every daily aggregate multiplied by ten."""
    engine = create_engine(env.database_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    started = time.perf_counter()
    k = SCALE - 1
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO reporting.clocks SELECT c.ticket_id || '~' || k, metric, "
                    "service, policy, priority, state, version, elapsed_ms, target_ms, "
                    "started_at, stopped_at, breached_at, deadline, outcome_at, body, "
                    f"policy_version FROM reporting.clocks c, generate_series(1, {k}) k"
                )
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO reporting.tickets SELECT t.ticket_id || '~' || k, service, "
                    "type, priority, outcome, opened_at, completed_at, body FROM "
                    f"reporting.tickets t, generate_series(1, {k}) k"
                )
            )
            await conn.execute(
                sa.text(
                    f"UPDATE reporting.clock_days SET met = met * {SCALE}, "
                    f"breached = breached * {SCALE}, stopped = stopped * {SCALE}, "
                    f"elapsed_ms = elapsed_ms * {SCALE}"
                )
            )
            await conn.execute(
                sa.text(
                    f"UPDATE reporting.clock_version_days SET met = met * {SCALE}, "
                    f"breached = breached * {SCALE}"
                )
            )
            await conn.execute(
                sa.text(
                    f"UPDATE reporting.ticket_days SET count = count * {SCALE}, "
                    f"failed = failed * {SCALE}"
                )
            )
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("clocks", "tickets", "clock_days", "clock_version_days", "ticket_days"):
                await conn.execute(sa.text(f"VACUUM ANALYZE reporting.{table}"))
            clocks = await conn.scalar(sa.text("SELECT count(*) FROM reporting.clocks"))
            tickets = await conn.scalar(sa.text("SELECT count(*) FROM reporting.tickets"))
    finally:
        await engine.dispose()
    return {"seconds": time.perf_counter() - started, "clocks": clocks, "tickets": tickets}
