"""The reporting service's app factory: consume its topics into the read model, serve reports,
trends and the overview page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from pacta.runtime import consumer_lifespan
from pacta.web import create_base_app
from reporting import store
from reporting.api import router
from reporting.consumer import TOPICS, make_handler
from reporting.settings import ReportingSettings
from reporting.views import router as views_router

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    lifespan = consumer_lifespan(
        settings,
        schema=store.SCHEMA,
        migrations=MIGRATIONS,
        group="reporting",
        topics=list(TOPICS),
        make_handler=lambda app: make_handler(app.state.engine, store.SCHEMA),
    )
    app = create_base_app(
        title="Pacta reporting",
        description="Read models, monthly reports, trends and the overview page.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.schema = store.SCHEMA
    app.include_router(router)
    app.include_router(views_router)
    return app
