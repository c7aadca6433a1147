"""Two engine instances that both hold a ticket (a zombie of a rebalance, or an instance killed
and back at once) against the real PostgreSQL and Kafka: the clock write is fenced by the
ticket's snapshot version, so the instance that did not see the other's write rolls back,
reads the ticket again and builds on it. No clock version is written twice (a clock fact's id
carries it: reporting would keep one and drop the other), and no stale snapshot overwrites
a newer one."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg

from pacta.db import create_engine, migrate
from pacta.events import FACTS_TOPIC, TICKETS_TOPIC, TicketEvent, topic_name
from pacta.settings import CommonSettings
from sla_engine.app import MIGRATIONS
from sla_engine.clocks.keeper import ClockKeeper
from sla_engine.kafka.consumer import Handler, make_handler
from sla_engine.resources.registry import load_registry, put_resource
from sla_engine.store import SCHEMA
from tests.conftest import RUN_ID
from tests.integration.test_sla_apply_path import POLICY, as_records
from tests.support.postgres import create_database, drop_database


@asynccontextmanager
async def two_instances(tag: str) -> AsyncIterator[SimpleNamespace]:
    """Two keepers and their handlers, as two engine instances, on one database."""
    name = f"pacta_test_{RUN_ID}_{tag}"
    dsn = await create_database(name)
    settings = CommonSettings(database_url=dsn, topic_prefix=f"test{RUN_ID}{tag}")
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    engines = [create_engine(settings.database_url), create_engine(settings.database_url)]
    handlers: list[Handler] = []
    try:
        async with engines[0].begin() as conn:
            await put_resource(conn, kind="policy", name="p", body=POLICY)
        keepers = []
        for engine in engines:
            async with engine.begin() as conn:
                registry = await load_registry(conn)
            keepers.append(ClockKeeper(engine, registry, settings.topic_prefix))
        handlers = [make_handler(e, k) for e, k in zip(engines, keepers, strict=True)]
        yield SimpleNamespace(
            keepers=keepers,
            handlers=handlers,
            topic=topic_name(settings.topic_prefix, TICKETS_TOPIC),
            facts=topic_name(settings.topic_prefix, FACTS_TOPIC),
            dsn=dsn,
        )
    finally:
        for handler in handlers:
            await handler.release()
        for engine in engines:
            await engine.dispose()
        await drop_database(name)


def event(n: int, at: datetime, **fields: object) -> TicketEvent:
    return TicketEvent.model_validate(
        {
            "id": f"F-{n}",
            "ticket_id": "F1",
            "service": "svc",
            "occurred_at": at.isoformat(),
            "received_at": at.isoformat(),
            **fields,
        }
    )


async def test_two_holders_of_a_ticket_never_write_one_version_twice() -> None:
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    async with two_instances("fence") as engines:
        a, b = engines.handlers
        keeper_a = engines.keepers[0]
        # instance A creates the ticket and holds it
        await a(as_records(engines.topic, [event(0, t0, action="created", priority="P2")]))
        assert keeper_a.book.tickets["F1"].version == 1
        # instance B, which now also believes it owns it, brings the response
        await b(
            as_records(engines.topic, [event(1, t0 + timedelta(minutes=1), action="responded")])
        )
        # A, still holding version 1 in memory, brings an event B never saw
        await a(
            as_records(
                engines.topic,
                [event(2, t0 + timedelta(minutes=2), action="updated", priority="P1")],
            )
        )
        conn = await asyncpg.connect(engines.dsn)
        try:
            facts = [
                r["record_id"]
                for r in await conn.fetch(
                    "SELECT record_id FROM sla_engine.outbox WHERE topic = $1", engines.facts
                )
            ]
            clocks = {
                r["metric"]: r
                for r in await conn.fetch(
                    "SELECT metric, version, stopped_at_ms, priority FROM sla_engine.clocks "
                    "WHERE ticket_id = 'F1'"
                )
            }
        finally:
            await conn.close()
    twice = [fid for fid, n in Counter(facts).items() if n > 1]
    assert not twice, f"clock versions written twice: {twice}"
    # A's write built on B's: the response B stopped stays stopped, A's priority holds
    assert clocks["response"]["stopped_at_ms"] is not None, clocks
    assert clocks["resolution"]["priority"] == "P1", clocks
    assert max(c["version"] for c in clocks.values()) == 3, clocks
