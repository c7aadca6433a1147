"""The reporting service's app factory: consume its topics into the read model, serve reports,
trends and the overview page; the routes get their wiring as one `Reporting` object."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from pacta.problems import problem_response, validation_errors
from pacta.runtime import consumer_lifespan
from pacta.web import create_base_app
from reporting import autopublish, publication, relay, store
from reporting.api import issue_month, router
from reporting.api_review import router as review_router
from reporting.api_subscriptions import router as subscriptions_router
from reporting.consumer import TOPICS, make_handler
from reporting.context import Reporting
from reporting.settings import ReportingSettings
from reporting.views import router as views_router

MIGRATIONS = Path(__file__).parent / "migrations"
FETCH_MIN_BYTES = 64 * 1024
FETCH_MAX_WAIT_MS = 250
"""The read model has no latency to keep within a fraction of a second: at 1,000 events/s a
fetch waits for about a quarter second's records instead of answering with each few (a
second's wait was measured cheaper still, but left the topics a report combines, tickets,
facts and policies, up to a second apart, where a reader expects them together)."""


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()

    @contextlib.asynccontextmanager
    async def wiring(app: FastAPI) -> AsyncIterator[None]:
        ctx = Reporting(
            settings=settings,
            engine=app.state.engine,
            schema=store.SCHEMA,
            api_keys=app.state.api_keys,
        )
        app.state.reporting = ctx

        async def issue(month: str, tz: str, now: int) -> publication.Issued | None:
            return await issue_month(ctx, month, tz, now, automatic=True)

        async def ready() -> bool:
            # the consumer runtime exists once the hook has returned
            runtime = getattr(app.state, "runtime", None)
            return runtime is not None and bool(await runtime.ready())

        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(autopublish.run(ctx, issue, ready), name="autopublish"),
            asyncio.create_task(relay.run(ctx, stop), name="report-relay"),
        ]
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    lifespan = consumer_lifespan(
        settings,
        schema=store.SCHEMA,
        migrations=MIGRATIONS,
        group="reporting",
        topics=list(TOPICS),
        make_handler=lambda app: make_handler(app.state.engine, store.SCHEMA),
        hook=wiring,
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    app = create_base_app(
        title="Pacta reporting",
        description="Read models, monthly reports, trends and the overview page.",
        settings=settings,
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _bad_query)
    app.include_router(router)
    app.include_router(review_router)
    app.include_router(subscriptions_router)
    app.include_router(views_router)
    return app


async def _bad_query(request: Request, exc: Exception) -> Response:
    """Bad input names its field as the report's own checks do (`month`, not `query.month`):
    one spelling for every problem a client reads."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {**e, "field": e["field"].removeprefix("query.").removeprefix("path.")}
        for e in validation_errors(exc.errors())
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(
        422, "Invalid request", detail, instance=request.url.path, errors=errors
    )
