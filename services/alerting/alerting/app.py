"""The alerting service's app factory: load its configuration, follow the calendars, consume
signals, run the group and escalation timers and the delivery worker, serve its API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from alerting import config_file, delivery, dispatcher, live, report_delivery, store
from alerting.api_alerts import router as alerts_router
from alerting.api_config import router as config_router
from alerting.api_import import router as import_router
from alerting.api_oncall import router as oncall_router
from alerting.calendar_feed import CalendarFeed
from alerting.consumer import make_handler
from alerting.context import Context
from alerting.metrics import ALERTS, QUEUE_DEPTH
from alerting.settings import AlertingSettings
from alerting.views import current_state
from pacta.clock import now_ms
from pacta.durations import ms_to_datetime
from pacta.events import SIGNALS_TOPIC
from pacta.kafka import ensure_topics
from pacta.logs import get_logger
from pacta.runtime import collector_aside, consumer_lifespan
from pacta.tasks import stop_tasks
from pacta.web import create_base_app

log = get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
STATES = ("firing", "acknowledged", "silenced", "inhibited", "resolved")


async def _refresh(ctx: Context, stop: asyncio.Event) -> None:
    """Pick up what other instances changed through their API, and keep the gauges current."""
    every = ctx.settings.alerting_refresh_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        try:
            async with ctx.engine.connect() as conn:
                live.replace_into(ctx.live, await live.load(conn))
                at = now_ms()
                counts = dict.fromkeys(STATES, 0)
                since = ms_to_datetime(at) - timedelta(days=7)
                if ctx.live.silences or ctx.live.inhibit:
                    # silenced and inhibited are worked out per alert, as the API shows them
                    records = await store.alerts.recent(conn, since=since)
                    sources = await store.alerts.open_labels(conn) if ctx.live.inhibit else []
                    for record in records:
                        counts[current_state(ctx, record.alert, sources, at)] += 1
                else:
                    counts.update(await store.alerts.count_by_state(conn, since=since))
                depth = await store.deliveries.depth(conn)
            for state, n in counts.items():
                ALERTS.labels(state).set(n)
            QUEUE_DEPTH.set(depth)
        except Exception as exc:
            log.warning("alerting refresh failed", error=repr(exc))


async def build_context(engine: AsyncEngine, settings: AlertingSettings) -> Context:
    """Load the configuration (the file first, over what the API had set), the link key, and
    hand back the deliveries a stopped process held."""
    async with engine.begin() as conn:
        known = await store.config.names(conn, kind="receiver")
        await config_file.apply(conn, settings.alerting_config_file, known)
        secret = (
            settings.alerting_link_secret.encode()
            if settings.alerting_link_secret
            else await store.config.link_secret(conn)
        )
        released = await store.deliveries.release_leases(conn)
        config = await live.load(conn)
    if released:
        log.info("deliveries in flight at the last stop resume", count=released)
    return Context(
        engine=engine,
        settings=settings,
        live=config,
        link_secret=secret,
        public_url=settings.public_url(),
        link_ttl_ms=settings.alerting_ack_link_ttl_seconds * 1000,
    )


def create_app(settings: AlertingSettings | None = None) -> FastAPI:
    settings = settings or AlertingSettings()

    @contextlib.asynccontextmanager
    async def alerting_state(app: FastAPI) -> AsyncIterator[None]:
        # httpx logs every request at INFO; the delivery log says more, once
        logging.getLogger("httpx").setLevel(logging.WARNING)
        ctx = app.state.ctx = await build_context(app.state.engine, settings)
        collector_aside()  # a batch's or a request's garbage, not start-up's, collected
        # the calendar feed reads its topic before the consumer runtime would create it
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ensure_topics(settings), 15)
        feed = ctx.calendar_feed = CalendarFeed(settings, ctx.live.calendars)
        worker = delivery.Worker(
            ctx,
            concurrency=settings.alerting_receiver_concurrency,
            retry_initial=settings.alerting_retry_initial_seconds,
            retry_max=settings.alerting_retry_max_seconds,
            give_up_after=settings.alerting_give_up_after_seconds,
        )
        ctx.delivery_room, ctx.delivery_start = worker.room, worker.start
        reports = report_delivery.runtime(settings, ctx.engine, ctx, now_ms)
        reports.start()
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(feed.run(stop), name="calendar-feed"),
            asyncio.create_task(dispatcher.run(ctx, stop), name="dispatcher"),
            asyncio.create_task(worker.run(stop), name="delivery-worker"),
            asyncio.create_task(_refresh(ctx, stop), name="alerting-refresh"),
        ]
        # routes muted by a calendar must know it before the first signal is applied
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.caught_up.wait(), 15)
        try:
            yield
        finally:
            await stop_tasks(stop, tasks)
            await reports.stop()
            await worker.close()

    lifespan = consumer_lifespan(
        settings,
        schema=store.SCHEMA,
        migrations=MIGRATIONS,
        group="alerting",
        topics=[SIGNALS_TOPIC],
        make_handler=make_handler,
        hook=alerting_state,
        # no test round trip per checkout: the consumer and the delivery worker retry a batch
        # whose connection broke, and the API answers 503 (below)
        pre_ping=False,
    )
    app = create_base_app(
        title="Pacta alerting",
        description="Routes, groups, silences, escalates and delivers notifications.",
        settings=settings,
        lifespan=lifespan,
    )
    app.include_router(config_router)
    app.include_router(alerts_router)
    app.include_router(oncall_router)
    app.include_router(import_router)
    return app
