"""The engine's batched apply path against the real PostgreSQL and Kafka: a backfill consumed in
one large batch (bodies built as dicts, bundles in the outbox) ends where the same events
applied one at a time end (rows in the outbox, no bundles), and everything it persisted and
published is what the model-based builders make of it: signal bodies that are canonical
`Signal` dumps, the newest clock fact of each clock equal to `clock_fact` of its stored row,
every signal on Kafka once, with its CloudEvents headers, and the outbox empty."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson

from pacta.db import create_engine, migrate
from pacta.events import (
    FACTS_TOPIC,
    SIGNAL_TYPE,
    SIGNALS_TOPIC,
    TICKETS_TOPIC,
    Signal,
    TicketEvent,
    topic_name,
)
from pacta.kafka import Record, create_producer, ensure_topics
from pacta.settings import CommonSettings
from sla_engine.app import MIGRATIONS
from sla_engine.clocks.keeper import ClockKeeper
from sla_engine.clocks.rows import ClockRow, clock_fact
from sla_engine.kafka.consumer import make_handler
from sla_engine.kafka.outbox import Relay, written
from sla_engine.resources.registry import load_registry, put_resource
from sla_engine.store import OVERLAP_FROM, SCHEMA
from tests.conftest import RUN_ID
from tests.support.kafka import TopicReader, consumer_records
from tests.support.postgres import create_database, drop_database

POLICY = {
    "match": {},
    "targets": {
        "P1": {"response": "15m", "resolution": "1h"},
        "P2": {"response": "1h", "resolution": "4h"},
        "P4": {"response": "8h", "resolution": "48h"},
    },
    "warn_at": [0.5],
    "pause_statuses": ["waiting_for_customer"],
}
M = timedelta(minutes=1)
H = timedelta(hours=1)


def lifecycles(t0: datetime, tickets: int) -> list[TicketEvent]:
    """Varied lifecycles a day in the past, interleaved across tickets as a backfill sends
    them: met in time, responded late, paused, priority raised, reopened, left open."""
    per: list[list[dict[str, Any]]] = []
    for n in range(tickets):
        at = t0 + n * timedelta(seconds=7)
        variant = n % 6
        steps: list[dict[str, Any]] = [
            {"action": "created", "priority": "P2", "status": "open", "at": at},
        ]
        if variant == 0:
            steps[0]["labels"] = {"team": "a"}
            steps += [
                {"action": "responded", "at": at + M},
                {"action": "resolved", "at": at + 2 * M},
            ]
        elif variant == 1:
            steps += [
                {"action": "responded", "at": at + 2 * H},
                {"action": "resolved", "at": at + 3 * H, "labels": {"team": "b"}},
            ]
        elif variant == 2:
            steps += [
                {"action": "updated", "status": "waiting_for_customer", "at": at + 10 * M},
                {"action": "updated", "status": "open", "at": at + 5 * H},
                {"action": "resolved", "at": at + 6 * H},
            ]
        elif variant == 3:
            steps += [
                {"action": "updated", "priority": "P1", "at": at + 30 * M},
                {"action": "resolved", "at": at + 50 * M},
            ]
        elif variant == 4:
            steps += [
                {"action": "resolved", "at": at + 10 * M},
                {"action": "reopened", "status": "open", "at": at + 20 * M},
                {"action": "resolved", "at": at + 30 * M},
            ]
        else:
            steps += [{"action": "responded", "at": at + 5 * M}]  # resolution left open
        per.append(
            [
                {
                    "id": f"T{n:03d}-{i}",
                    "ticket_id": f"T{n:03d}",
                    "service": f"svc-{n % 3}",
                    "customer": None if n % 4 else "acme",
                    "occurred_at": s.pop("at").isoformat(),
                    "received_at": t0.isoformat(),
                    **s,
                }
                for i, s in enumerate(steps)
            ]
        )
    out: list[TicketEvent] = []
    for step in range(max(len(p) for p in per)):
        out += [TicketEvent.model_validate(p[step]) for p in per if step < len(p)]
    # a late one: the first ticket's response arrives after everything else
    late = next(e for e in out if e.id == "T001-1")
    out.remove(late)
    return [*out, late]


def as_records(topic: str, events: list[TicketEvent]) -> list[Record]:
    return consumer_records(topic, events, lambda e: e.ticket_id)


@asynccontextmanager
async def engine_path(tag: str) -> AsyncIterator[SimpleNamespace]:
    """The engine's consumer handler and relay in this process, on a database and topic prefix
    of their own."""
    name = f"pacta_test_{RUN_ID}_{tag}"
    dsn = await create_database(name)
    settings = CommonSettings(
        database_url=dsn,
        topic_prefix=f"test{RUN_ID}{tag}",
    )
    await ensure_topics(settings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    engine = create_engine(settings.database_url)
    producer = create_producer(settings, "test-apply-path")
    await producer.start()
    handle = None
    try:
        async with engine.begin() as conn:
            await put_resource(conn, kind="policy", name="p", body=POLICY)
            registry = await load_registry(conn)
        keeper = ClockKeeper(engine, registry, settings.topic_prefix)
        handle = make_handler(engine, keeper)
        yield SimpleNamespace(
            handle=handle,
            relay=Relay(engine, producer, batch=2000),
            settings=settings,
            engine=engine,
            dsn=dsn,
        )
    finally:
        await producer.stop()
        if handle is not None:
            await handle.release()
        await engine.dispose()
        await drop_database(name)


async def outcome(path: SimpleNamespace) -> dict[str, Any]:
    conn = await asyncpg.connect(path.dsn)
    try:
        clocks = [dict(r) for r in await conn.fetch("SELECT * FROM sla_engine.clocks")]
        signals = [
            (r["signal_id"], orjson.loads(r["body"]), r["retracted"])
            for r in await conn.fetch(
                "SELECT signal_id, body::text, retracted FROM sla_engine.signals"
            )
        ]
        left = await conn.fetchval("SELECT count(*) FROM sla_engine.outbox")
    finally:
        await conn.close()
    return {"clocks": clocks, "signals": signals, "outbox_left": left}


def settled(clocks: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """What a clock ended as, whichever batches brought its events (not its snapshot version
    or the instant it was last accounted to)."""
    return {
        (c["ticket_id"], c["metric"]): (
            c["state"],
            c["priority"],
            c["target_ms"],
            c["started_at_ms"],
            c["stopped_at_ms"],
            c["breached_at_ms"],
            c["elapsed_ms"] if c["stopped_at_ms"] is not None else None,
            c["episode"],
            c["labels"],
        )
        for c in clocks
    }


def standing(signals: list[tuple[str, dict[str, Any], bool]]) -> set[tuple[Any, ...]]:
    """The signals in force (not retracted), by what they say: ids aside (an occurrence fired
    again after a late event moved it is `#2`), and labels and detection aside."""
    return {
        (
            b["ticket_id"],
            b["metric"],
            b["kind"],
            b["threshold"],
            b["priority"],
            b["occurred_at"],
            b["deadline"],
            b["elapsed_seconds"],
            b["target_seconds"],
        )
        for _id, b, retracted in signals
        if not retracted and b["kind"] != "retracted"
    }


async def read_all(bootstrap: str, topic: str, count: int) -> TopicReader:
    """The topic's records once `count` have come (and half a second more for any beyond)."""
    async with TopicReader(bootstrap, topic) as reader:
        with contextlib.suppress(AssertionError):
            await reader.wait_for(f"record {count}", lambda _r: len(reader.records) >= count, 30)
        await asyncio.sleep(0.5)  # anything beyond `count` (a duplicate) would show up too
    return reader


async def test_one_large_batch_ends_where_one_event_at_a_time_ends() -> None:
    t0 = datetime.now(UTC) - timedelta(days=1)
    # more tickets than OVERLAP_FROM: the big batch computes while its statements run
    events = lifecycles(t0, OVERLAP_FROM + 16)
    async with engine_path("big") as big, engine_path("one") as one:
        topic = topic_name(big.settings.topic_prefix, TICKETS_TOPIC)
        records = as_records(topic, events)
        await big.handle(records)
        for record in records:
            await one.handle([record])
        # one relay reads what it sends back from the outbox (bundles unpacked), as after a
        # restart; the other sends the records as this process wrote them
        written(big.engine).forget()
        await big.relay.flush()
        await one.relay.flush()
        fast, slow = await outcome(big), await outcome(one)

        assert fast["outbox_left"] == slow["outbox_left"] == 0
        assert len(fast["clocks"]) == len(slow["clocks"]) == 2 * (OVERLAP_FROM + 16)
        assert settled(fast["clocks"]) == settled(slow["clocks"])
        assert standing(fast["signals"]) == standing(slow["signals"])
        assert any(b["kind"] == "retracted" for _i, b, _r in slow["signals"])  # a replay ran

        for path, result in ((big, fast), (one, slow)):
            prefix = path.settings.topic_prefix
            # every signal recorded is a canonical Signal dump, published once as recorded
            for signal_id, body, _retracted in result["signals"]:
                assert Signal.model_validate(body).model_dump(mode="json") == body, signal_id
            on_kafka = await read_all(
                path.settings.kafka_bootstrap,
                topic_name(prefix, SIGNALS_TOPIC),
                len(result["signals"]),
            )
            bodies = {i: b for i, b, _r in result["signals"]}
            assert sorted(s["signal_id"] for s in on_kafka.records) == sorted(bodies)
            for record, headers in zip(on_kafka.records, on_kafka.headers, strict=True):
                assert record == bodies[record["signal_id"]]
                assert headers["ce_id"] == record["signal_id"].encode()
                assert headers["ce_time"] == record["occurred_at"].encode()
                assert headers["ce_type"] == SIGNAL_TYPE.encode()
            # the newest fact of each clock is what clock_fact makes of its stored row
            facts = await read_all(
                path.settings.kafka_bootstrap,
                topic_name(prefix, FACTS_TOPIC),
                len(result["clocks"]),
            )
            newest: dict[tuple[str, str], dict[str, Any]] = {}
            for fact in facts.records:
                key = (fact["ticket_id"], fact["metric"])
                if key not in newest or fact["version"] > newest[key]["version"]:
                    newest[key] = fact
            assert len({f["fact_id"] for f in facts.records}) == len(facts.records)
            for row in result["clocks"]:
                expected = orjson.loads(orjson.dumps(clock_fact(ClockRow.of_stored(row))))
                assert newest[(row["ticket_id"], row["metric"])] == expected


async def test_a_late_priority_raise_moves_the_breach_one_event_per_batch() -> None:
    """Created P4, responded, raised to P1 half an hour in, resolved eight hours in, each its
    own batch: the breach in force is P1's at 1 h, as from one batch; the P4
    breach the first event fired is retracted, and the P1 one has an id of its own."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)
    steps = [
        ("created", {"priority": "P4", "status": "open"}, timedelta(0)),
        ("responded", {}, 10 * M),
        ("updated", {"priority": "P1"}, 30 * M),
        ("resolved", {}, 8 * H),
    ]
    events = [
        TicketEvent.model_validate(
            {
                "id": f"case1-{n}",
                "ticket_id": "T-case1",
                "service": "checkout",
                "action": action,
                "occurred_at": (t0 + offset).isoformat(),
                **extra,
            }
        )
        for n, (action, extra, offset) in enumerate(steps)
    ]
    async with engine_path("c1one") as one, engine_path("c1batch") as batch:
        records = as_records(topic_name(one.settings.topic_prefix, TICKETS_TOPIC), events)
        for record in records:
            await one.handle([record])
        await batch.handle(records)
        slow, fast = await outcome(one), await outcome(batch)
    breaches = [
        (i, b["priority"], b["occurred_at"], r)
        for i, b, r in slow["signals"]
        if b["kind"] == "breach" and b["metric"] == "resolution"
    ]
    p1_due = (t0 + H).isoformat().replace("+00:00", "Z")
    p4_due = (t0 + 48 * H).isoformat().replace("+00:00", "Z")
    assert sorted(breaches) == [
        ("T-case1/resolution/breach/1", "P4", p4_due, True),
        ("T-case1/resolution/breach/1#2", "P1", p1_due, False),
    ]
    assert standing(slow["signals"]) == standing(fast["signals"])
    assert settled(slow["clocks"]) == settled(fast["clocks"])
