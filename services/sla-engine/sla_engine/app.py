"""The sla-engine's app factory: load resources and open clocks, arm timers, consume events,
relay signals through the outbox, serve the SLA API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.events import MONITORING_TOPIC, TICKETS_TOPIC, topic_name
from pacta.kafka import BatchHandler, create_producer, start_with_retry
from pacta.logs import get_logger
from pacta.runtime import collector_aside, consumer_lifespan
from pacta.tasks import stop_tasks
from pacta.web import create_base_app
from sla_engine.api.clocks import router as clocks_router
from sla_engine.api.resources import router
from sla_engine.api.versions import router as versions_router
from sla_engine.availability.tracker import OutageTracker
from sla_engine.clocks.keeper import ClockKeeper
from sla_engine.context import EngineContext
from sla_engine.kafka.consumer import Handler, make_handler
from sla_engine.kafka.outbox import Relay
from sla_engine.kafka.ownership import Partitions
from sla_engine.resources.calendar_feed import publish_all
from sla_engine.resources.config_files import apply_config_dir
from sla_engine.resources.registry import load_registry, new_versions_since, older_than
from sla_engine.settings import EngineSettings
from sla_engine.store import SCHEMA

log = get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


async def _refresh_registry(
    context: EngineContext, stop: asyncio.Event, every: float = 5.0
) -> None:
    """Pick up what other instances changed through their API (they share the database)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        try:
            async with context.db.connect() as conn:
                fresh = await load_registry(conn)
            registry = context.registry
            if older_than(fresh, registry):
                continue  # read before this instance's own latest PUT: the next round
            since = new_versions_since(registry, fresh)
            registry.replace_with(fresh)
            if since is not None:
                # another instance recorded a version: measure the tickets held here by it
                context.keeper.policy_changed(None, since)
                await context.outages.replan_months(None, since)
        except Exception as exc:
            log.warning("registry refresh failed", error=repr(exc))


def _context(app: FastAPI) -> EngineContext:
    context = app.state.context
    assert isinstance(context, EngineContext), "built by the lifespan's hook"
    return context


def _consumer(app: FastAPI) -> AIOKafkaConsumer:
    """The group consumer `consumer_lifespan` runs (it exists once the hook has run)."""
    consumer: AIOKafkaConsumer = app.state.runtime.consumer
    return consumer


def _handler(app: FastAPI) -> BatchHandler:
    context = _context(app)
    handler = app.state.handler = make_handler(
        context.db, context.keeper, context.outages, lambda tp: _consumer(app).highwater(tp)
    )
    return handler


def _partitions(settings: EngineSettings) -> Callable[[FastAPI], Partitions]:
    """Ticket clocks follow the partitions of the tickets topic, outage timers those of the
    monitoring topic, through rebalances."""
    tickets = topic_name(settings.topic_prefix, TICKETS_TOPIC)
    monitoring = topic_name(settings.topic_prefix, MONITORING_TOPIC)

    def make(app: FastAPI) -> Partitions:
        def count(topic: str) -> int | None:
            found = _consumer(app).partitions_for_topic(topic)
            return len(found) if found else None

        context = _context(app)
        keeper, outages = context.keeper, context.outages
        return Partitions(
            count,
            {
                tickets: (keeper.assigned, keeper.revoked),
                monitoring: (outages.assigned, outages.revoked),
            },
        )

    return make


def create_app(settings: EngineSettings | None = None) -> FastAPI:
    settings = settings or EngineSettings()

    @contextlib.asynccontextmanager
    async def engine_state(app: FastAPI) -> AsyncIterator[None]:
        """Before consuming: resources, open clocks and timers; the relay to Kafka."""
        engine: AsyncEngine = app.state.engine  # consumer_lifespan's, migrated
        async with engine.begin() as conn:
            changed_since = await apply_config_dir(conn, settings.sla_engine_config_dir)
            registry = await load_registry(conn)
            await publish_all(conn, settings.topic_prefix, registry)
        keeper = ClockKeeper(engine, registry, settings.topic_prefix)
        await keeper.restore()
        if changed_since is not None:
            keeper.policy_changed(None, changed_since)  # a file changed a policy or calendar
        outages = OutageTracker(engine, registry, settings.topic_prefix)
        await outages.restore()
        collector_aside()  # a batch's or a request's garbage, not start-up's, collected
        # the relay hands over whole record batches: lingering would only delay each ack
        producer = create_producer(settings, client_id="pacta-sla-engine", linger_ms=0)
        stop = asyncio.Event()
        relay = Relay(engine, producer, batch=2000)
        keeper.on_commit.append(relay.notify)
        outages.on_commit.append(relay.notify)
        context = app.state.context = EngineContext(
            settings=settings,
            db=engine,
            registry=registry,
            keeper=keeper,
            outages=outages,
            relay=relay,
        )

        async def relay_when_connected() -> None:
            if await start_with_retry(producer, "sla-engine-producer", stop):
                await relay.run()

        tasks = [
            asyncio.create_task(_refresh_registry(context, stop), name="registry-refresh"),
            asyncio.create_task(relay_when_connected(), name="outbox-relay"),
            asyncio.create_task(keeper.run_timers(stop), name="clock-timers"),
            asyncio.create_task(outages.run_timers(stop), name="availability-timers"),
        ]
        try:
            yield
        finally:
            relay_task = tasks.pop(1)
            await stop_tasks(stop, tasks)
            # a planned stop lets the relay finish its round and flush what is committed, so a
            # restart does not publish those records a second time (consumers would dedup them)
            relay.stop.set()
            relay.notify()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(relay_task), 10)
                if producer.client is not None and relay_task.done():
                    await asyncio.wait_for(relay.flush(), 5)
            relay_task.cancel()
            await asyncio.gather(relay_task, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)
            # the consumer has stopped: its handler's connection goes back before the dispose
            handler: Handler | None = getattr(app.state, "handler", None)
            if handler is not None:
                await handler.release()

    lifespan = consumer_lifespan(
        settings,
        schema=SCHEMA,
        migrations=MIGRATIONS,
        group="sla-engine",
        topics=[MONITORING_TOPIC, TICKETS_TOPIC],
        make_handler=_handler,
        hook=engine_state,
        make_listener=_partitions(settings),
        # a backfill's batches: the per-batch statements (inbox, journal, replays, clocks,
        # signals, outbox) are paid once for this many events, and more of a ticket's events
        # share a batch, so fewer deadlines pass between them (docs/design.md, Apply rate)
        max_records=10_000,
        # no test round trip per checkout (one per consumed batch, relay and timer round):
        # they retry what met a broken connection, and the API answers 503 (below)
        pre_ping=False,
        # a stream of single events comes in fewer, larger batches: one transaction, offset
        # commit and fetch for several events; a quiet engine still polls twice a second, and
        # a lone event after a quiet spell is answered at once
        fetch_min_bytes=settings.sla_engine_fetch_min_bytes,
        fetch_max_wait_ms=settings.sla_engine_fetch_max_wait_ms,
        pace_fetches=True,
    )
    app = create_base_app(
        title="Pacta sla-engine",
        description="Policies, calendars, maintenance windows and SLA clocks; fires signals.",
        settings=settings,
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(clocks_router)
    app.include_router(versions_router)
    return app
