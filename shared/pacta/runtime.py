"""The Kafka consumer shell of a service: start with retries, consume in a task, report readiness.

A service gives a group name, its topics and a batch handler; the runtime owns the consumer's
life, so a service's lifespan stays a few lines long.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from fastapi import FastAPI

from pacta.db import create_engine, database_reachable, migrate
from pacta.kafka import (
    FETCH_MAX_WAIT_MS,
    BatchHandler,
    FetchPace,
    consume_forever,
    create_consumer,
    ensure_topics,
    kafka_reachable,
    start_with_retry,
)
from pacta.logs import get_logger
from pacta.settings import CommonSettings

log = get_logger(__name__)


class ConsumerRuntime:
    """One group consumer feeding one handler; `ready()` is true once it consumes."""

    def __init__(
        self,
        settings: CommonSettings,
        *,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        listener: ConsumerRebalanceListener | None = None,
        max_records: int = 1000,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
        pace_fetches: bool = False,
    ) -> None:
        self.settings, self.group, self.handler = settings, group, handler
        self.max_records = max_records
        self.pace = FetchPace(fetch_min_bytes, fetch_max_wait_ms) if pace_fetches else None
        self.consumer: AIOKafkaConsumer = create_consumer(
            settings,
            group,
            topics,
            f"{group}-{settings.instance_id or 'main'}",
            listener,
            max_records,
            fetch_min_bytes=fetch_min_bytes,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        self.stop_event = asyncio.Event()
        self.started = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group}")

    async def _run(self) -> None:
        with contextlib.suppress(Exception):
            await ensure_topics(self.settings)
        if not await start_with_retry(self.consumer, self.group, self.stop_event):
            return
        self.started = True
        while not self.stop_event.is_set():
            try:
                await consume_forever(
                    self.consumer,
                    self.group,
                    self.handler,
                    self.stop_event,
                    self.max_records,
                    pace=self.pace,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Kafka errors surface here (broker restart): keep the consumer, try again.
                log.exception(
                    "consumer loop failed; restarting it", group=self.group, error=repr(exc)
                )
                await asyncio.sleep(1)

    async def ready(self) -> bool:
        return self.started and await kafka_reachable(self.consumer)

    async def stop(self) -> None:
        self.stop_event.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.consumer.stop(), 10)


ServiceHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


GC_YOUNG_THRESHOLD = 50_000
"""Allocations between two young collections (Python's default: 700)."""


def collector_aside() -> None:
    """Keep Python's collector out of a hot path, once start-up is done: a consumed batch or a
    request allocates a few hundred short-lived objects per event, and at the default of a
    young collection every 700 allocations the collector ran every few events and promoted
    what was in flight; what start-up built (modules, the app, its schemas) lives on, so it is
    frozen out of every later collection's walk."""
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)
    gc.freeze()


def consumer_lifespan(
    settings: CommonSettings,
    *,
    schema: str,
    migrations: Path,
    group: str,
    topics: Sequence[str],
    make_handler: Callable[[FastAPI], BatchHandler],
    hook: ServiceHook | None = None,
    make_listener: Callable[[FastAPI], ConsumerRebalanceListener] | None = None,
    max_records: int = 1000,
    pre_ping: bool = True,
    fetch_min_bytes: int = 1,
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
    pace_fetches: bool = False,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan of a consuming service: migrate, then consume; `hook` adds its own tasks.
    `pre_ping` False skips the round trips that test each pooled connection at checkout (see
    `pacta.db.create_engine`); `pace_fetches`: the fetch sizes apply while records flow only
    (`pacta.kafka.FetchPace`).

    The hook runs after the engine exists and before consuming starts, so a service can load
    state (open clocks) that its handler needs.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pre_ping=pre_ping)
        await migrate(settings.database_url, schema, migrations)
        app.state.engine = engine
        app.state.readiness["database"] = lambda: database_reachable(engine)
        async with contextlib.AsyncExitStack() as stack:
            if hook is not None:
                await stack.enter_async_context(hook(app))
            runtime = ConsumerRuntime(
                settings,
                # the group is named after the topic prefix: deployments (and test runs) that
                # share a broker never share a group
                group=f"{settings.topic_prefix}-{group}",
                topics=topics,
                handler=make_handler(app),
                listener=make_listener(app) if make_listener else None,
                max_records=max_records,
                fetch_min_bytes=fetch_min_bytes,
                fetch_max_wait_ms=fetch_max_wait_ms,
                pace_fetches=pace_fetches,
            )
            app.state.runtime = runtime
            app.state.readiness["kafka"] = runtime.ready
            runtime.start()
            try:
                yield
            finally:
                await runtime.stop()
        await engine.dispose()

    return lifespan
