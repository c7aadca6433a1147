"""The engine's availability path against the real PostgreSQL: monitoring events consumed in one
batch (the check tails read by the claim statement), one at a time, or applied with the tails
read on their own (`check_tails`) end with the same down intervals and the same signals; so do
an event that comes out of order and an outage that began long before the month it is planned
in (read again from further back)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
import pytest
import sqlalchemy as sa

from pacta.db import create_engine, migrate
from pacta.events import FACTS_TOPIC, MONITORING_TOPIC, MonitoringEvent, topic_name
from pacta.kafka import Record
from pacta.settings import CommonSettings
from sla_engine.app import MIGRATIONS
from sla_engine.availability.tracker import OutageTracker
from sla_engine.clocks.keeper import ClockKeeper
from sla_engine.kafka.consumer import make_handler
from sla_engine.kafka.outbox import written
from sla_engine.kafka.tickets import decode_ticket
from sla_engine.resources.registry import load_registry, put_resource
from sla_engine.store import SCHEMA
from sla_engine.store.journal import claim_and_journal
from tests.conftest import RUN_ID, fresh_database
from tests.support.kafka import consumer_records

POLICY = {"match": {}, "availability": {"target": 99.9}}
M = timedelta(minutes=1)


def monitoring(now: datetime) -> list[MonitoringEvent]:
    """Two services' checks: outages opened and closed, one resolve that comes late, a
    heartbeat, and an outage still open that began 45 days ago."""
    raw: list[tuple[str, str, str, datetime, dict[str, str]]] = [
        ("svc-a", "http", "firing", now - 180 * M, {"zone": "a"}),
        ("svc-a", "http", "resolved", now - 140 * M, {}),
        ("svc-a", "db", "firing", now - 100 * M, {}),
        ("svc-a", "heartbeat", "resolved", now - 90 * M, {}),
        ("svc-a", "http", "firing", now - 60 * M, {"zone": "b"}),
        ("svc-a", "db", "resolved", now - 30 * M, {}),
        ("svc-b", "ping", "firing", now - timedelta(days=45), {}),
        ("svc-b", "ping", "firing", now - 5 * M, {}),
        ("svc-a", "http", "resolved", now - 170 * M, {}),  # out of order: re-derived
    ]
    return [
        MonitoringEvent.model_validate(
            {
                "id": f"M{n:02d}",
                "service": service,
                "check": check,
                "status": status,
                "occurred_at": at.isoformat(),
                "labels": labels,
            }
        )
        for n, (service, check, status, at, labels) in enumerate(raw)
    ]


def as_records(topic: str, events: list[MonitoringEvent]) -> list[Record]:
    return consumer_records(topic, events, lambda e: e.service)


@asynccontextmanager
async def outage_path(tag: str) -> AsyncIterator[SimpleNamespace]:
    """The engine's consumer handler with an outage tracker, on a database of its own."""
    async with fresh_database(tag) as url:
        settings = CommonSettings(database_url=url, topic_prefix=f"test{RUN_ID}{tag}")
        await migrate(settings.database_url, SCHEMA, MIGRATIONS)
        engine = create_engine(settings.database_url)
        handle = None
        try:
            async with engine.begin() as conn:
                await put_resource(conn, kind="policy", name="avail", body=POLICY)
                registry = await load_registry(conn)
            keeper = ClockKeeper(engine, registry, settings.topic_prefix)
            outages = OutageTracker(engine, registry, settings.topic_prefix)
            handle = make_handler(engine, keeper, outages)
            yield SimpleNamespace(
                handle=handle,
                outages=outages,
                engine=engine,
                topic=topic_name(settings.topic_prefix, MONITORING_TOPIC),
                dsn=url,
            )
        finally:
            if handle is not None:
                await handle.release()
            await engine.dispose()


async def outcome(path: SimpleNamespace) -> dict[str, Any]:
    conn = await asyncpg.connect(path.dsn)
    try:
        intervals = {
            tuple(r)
            for r in await conn.fetch(
                "SELECT service, check_name, started_at, ended_at, severity, labels::text "
                "FROM sla_engine.down_intervals"
            )
        }
        signals = {
            tuple(r)
            for r in await conn.fetch(
                "SELECT signal_id, kind, retracted FROM sla_engine.signals "
                "WHERE metric = 'availability'"
            )
        }
        outbox = await conn.fetch(
            "SELECT seq, topic, record_id, body FROM sla_engine.outbox ORDER BY seq"
        )
        versions = dict(
            ((r["service"], r["month"]), r["version"])
            for r in await conn.fetch("SELECT * FROM sla_engine.availability_facts")
        )
    finally:
        await conn.close()
    held = written(path.engine)
    for seq, topic, record_id, body in outbox:
        # what the relay sends from memory is the row as PostgreSQL holds it
        (record,) = held.rows[seq]
        assert (record.topic, record.record_id, record.value) == (topic, record_id, body)
        if topic.endswith(FACTS_TOPIC):
            fact = orjson.loads(body)
            assert record_id == fact["fact_id"]
            assert (
                fact["fact_id"]
                == f"availability:{fact['service']}:{fact['month']}:{fact['version']}"
            )
            assert fact["version"] <= versions[(fact["service"], fact["month"])]
    return {
        "intervals": intervals,
        "signals": signals,
        "outbox": [(topic, record_id) for _seq, topic, record_id, _body in outbox],
        "facts": versions,
    }


async def test_the_claim_reads_the_tails_check_tails_would() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events = monitoring(now)
    outcomes = []
    async with outage_path("outb") as path:
        records = as_records(path.topic, events)
        await path.handle(records)
        await path.handle(records)  # redelivered: repeats change nothing
        outcomes.append(await outcome(path))
    async with outage_path("out1") as path:
        for record in as_records(path.topic, events):
            await path.handle([record])
        outcomes.append(await outcome(path))
    async with outage_path("outc") as path:
        for event in events:  # the tails read apart from the claim
            async with path.engine.begin() as conn:
                claimed = await claim_and_journal(conn, tickets=[], monitoring=[event])
                assert claimed.ids == {event.id}
                assert claimed.tails == {}
                await path.outages.apply(conn, [event])
            path.outages.committed()
        outcomes.append(await outcome(path))
    # the outboxes differ as the batches do (a fact per batch): each was checked in `outcome`
    batch, single, apart = ({k: o[k] for k in ("intervals", "signals")} for o in outcomes)
    assert batch == single == apart
    by_check = {(s, c) for s, c, *_ in batch["intervals"]}
    assert by_check == {("svc-a", "http"), ("svc-a", "db"), ("svc-b", "ping")}
    open_b = [iv for iv in batch["intervals"] if iv[0] == "svc-b"]
    assert len(open_b) == 1
    assert open_b[0][3] is None
    assert open_b[0][2] == now - timedelta(days=45)
    # the outage of 45 days is past any monthly budget at 99.9 %: it was signalled
    assert any(
        sid.startswith("svc-b/") and kind == "availability_breach"
        for sid, kind, _r in batch["signals"]
    )


async def test_an_id_is_claimed_once_across_the_journals_and_the_old_inbox() -> None:
    """The journals are the inbox: an id either of them holds, or the inbox of an engine before
    migration 0008, is not claimed again, whichever kind of event brings it; a ticket and a
    monitoring event of one batch sharing an id are both claimed (one claim of the id)."""
    now = datetime.now(UTC).replace(microsecond=0)
    m = monitoring(now)

    def ticket(event_id: str) -> Any:
        return decode_ticket(
            orjson.dumps(
                {
                    "id": event_id,
                    "ticket_id": f"T-{event_id}",
                    "service": "svc-a",
                    "action": "created",
                    "occurred_at": now.isoformat(),
                }
            )
        )

    async with outage_path("claim") as path:
        async with path.engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO sla_engine.inbox (event_id) VALUES ('old')"))
            first = await claim_and_journal(
                conn,
                tickets=[ticket("t1"), ticket("both"), ticket("old")],
                monitoring=[m[0], m[1].model_copy(update={"id": "both"})],
            )
        assert first.ids == {"t1", "both", m[0].id}
        async with path.engine.begin() as conn:
            again = await claim_and_journal(
                conn,
                tickets=[ticket("t1"), ticket(m[0].id), ticket("t2")],
                monitoring=[m[0], m[2].model_copy(update={"id": "t1"}), m[3]],
            )
        assert again.ids == {"t2", m[3].id}


async def test_a_failed_batch_drops_the_held_connection() -> None:
    """The handler keeps its connection between batches; a batch that fails rolls back and
    drops it, and applied again on another connection it ends where a batch that never failed
    ends."""
    now = datetime.now(UTC).replace(microsecond=0)
    events = monitoring(now)
    async with outage_path("outd") as path:
        records = [as_records(path.topic, [event]) for event in events]
        await path.handle(records[0])
        held = path.handle.held.conn
        await path.handle(records[1])
        assert path.handle.held.conn is held  # kept from one batch to the next
        apply = path.outages.apply

        async def failing(*args: Any, **kwargs: Any) -> None:
            await apply(*args, **kwargs)  # its writes are rolled back with the batch
            raise RuntimeError("boom")

        path.outages.apply = failing
        with pytest.raises(RuntimeError):
            await path.handle(records[2])
        assert path.handle.held.conn is None
        path.outages.apply = apply
        for batch in records[2:]:
            await path.handle(batch)
        assert path.handle.held.conn not in (None, held)
        failed = await outcome(path)
    async with outage_path("oute") as path:
        for batch in [as_records(path.topic, [event]) for event in events]:
            await path.handle(batch)
        clean = await outcome(path)
    assert {k: failed[k] for k in ("intervals", "signals")} == {
        k: clean[k] for k in ("intervals", "signals")
    }
