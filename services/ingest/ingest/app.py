"""The ingest service's app factory and lifespan: migrate, connect to Kafka, serve."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from ingest import native, native_pagerduty, store
from ingest.api import router
from ingest.committer import Committer
from ingest.fastpath import EventsApp, EventsFastPath
from ingest.formats.mapping import load_mappings
from ingest.ratelimit import RateLimiter, SharedRateLimiter
from ingest.settings import IngestSettings
from ingest.signatures import SignatureGuard
from pacta.db import create_engine, database_reachable, migrate
from pacta.kafka import create_producer, ensure_topics, kafka_reachable, start_with_retry
from pacta.logs import get_logger
from pacta.runtime import collector_aside
from pacta.serve import active_connections
from pacta.tasks import stop_tasks
from pacta.web import create_base_app

log = get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
#: Set by the worker supervisor: a directory its workers share (the rate-limit buckets).
SHARED_STATE_DIR = "PACTA_INGEST_SHARED_STATE_DIR"


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the engine serves readiness and pruning; the claims use a plain asyncpg pool
        engine = create_engine(settings.database_url, pool_size=2, pre_ping=False)
        await migrate(settings.database_url, store.SCHEMA, MIGRATIONS)
        pool = await store.create_claim_pool(
            settings.database_url, size=8, fsync=settings.ingest_claim_fsync
        )
        stop = asyncio.Event()
        app.state.engine = engine
        app.state.claim_pool = pool
        app.state.producer = None
        app.state.committer = Committer(
            lambda: pool,
            lambda: app.state.producer,
            prefix=settings.topic_prefix,
            timeout=settings.ingest_produce_timeout,
            recent=settings.ingest_recent_ids,
            gather=settings.ingest_cycle_wait_ms / 1000,
            connections=active_connections,
        )
        # whole batches per partition (publisher.py): no linger, it would only delay each ack
        producer = create_producer(settings, client_id="pacta-ingest", linger_ms=0)

        async def connect() -> None:
            # Serve (and answer 503) while Kafka is still coming up, rather than refuse to start.
            if await start_with_retry(producer, "ingest-producer", stop):
                with contextlib.suppress(Exception):
                    await ensure_topics(settings)
                app.state.producer = producer

        app.state.readiness.update(
            database=lambda: database_reachable(engine),
            kafka=lambda: _producer_ready(app),
        )
        tasks = [asyncio.create_task(connect()), asyncio.create_task(_prune(app, settings, stop))]
        # Workers share the port: one that serves before its producer is up would answer 503
        # next to a ready sibling. Wait for the producer a little; past that, serve (and 503).
        await asyncio.wait(tasks[:1], timeout=10)
        collector_aside()  # a batch's or a request's garbage, not start-up's, collected
        try:
            yield
        finally:
            await stop_tasks(stop, tasks)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(app.state.committer.close(), 10)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)
            await engine.dispose()

    app = create_base_app(
        title="Pacta ingest",
        description="Authenticates, validates and normalises events, and puts them on Kafka.",
        settings=settings,
        lifespan=lifespan,
        max_body_bytes=settings.ingest_max_body_bytes,
        app_class=EventsApp,
    )
    assert isinstance(app, EventsApp)
    app.state.settings = settings
    app.state.limiter = _limiter(settings)
    secrets = settings.hmac_secrets()
    # No secret configured, no guard: unsigned deployments pay nothing on the hot path.
    app.state.signatures = SignatureGuard(secrets, settings.ingest_hmac_window) if secrets else None
    app.include_router(router)
    # the native formats (docs/integrations.md); a bad mappings file stops the start-up
    app.state.mappings = load_mappings(settings.ingest_mappings_file or None)
    app.include_router(native.router)
    app.include_router(native_pagerduty.router)
    # ahead of every layer: the events' fast path does the timer's, encoding guard's and body
    # limit's work itself (fastpath.py); every other request passes on through them
    app.fast = EventsFastPath(app, settings.ingest_max_body_bytes)
    return app


def _limiter(settings: IngestSettings) -> RateLimiter:
    """Buckets shared by the workers of one supervisor (workers.py), else this process's own."""
    shared = os.environ.get(SHARED_STATE_DIR)
    rate, burst = settings.ingest_rate_limit, settings.ingest_rate_burst
    if shared:
        path = os.path.join(shared, "ratelimit.bin")
        return SharedRateLimiter(path, settings.keys(), rate, burst)
    return RateLimiter(rate, burst)


async def _producer_ready(app: FastAPI) -> bool:
    producer = app.state.producer
    return producer is not None and await kafka_reachable(producer)


async def _prune(app: FastAPI, settings: IngestSettings, stop: asyncio.Event) -> None:
    """Forget ids older than the dedup window, hourly, so the table stays bounded."""
    while not stop.is_set():
        try:
            async with app.state.engine.begin() as conn:
                removed = await store.prune(conn, older_than_days=settings.ingest_dedup_days)
            if removed:
                log.info("pruned seen event ids", removed=removed)
        except Exception as exc:
            log.warning("pruning seen ids failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 3600)
