"""The reporting service's app factory: consume its topics, serve its API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from pacta.events import MONITORING_TOPIC, SIGNALS_TOPIC, TICKETS_TOPIC
from pacta.runtime import consumer_lifespan
from pacta.web import create_base_app
from reporting import store
from reporting.consumer import make_handler
from reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    lifespan = consumer_lifespan(
        settings,
        schema=store.SCHEMA,
        migrations=MIGRATIONS,
        group="reporting",
        topics=[MONITORING_TOPIC, TICKETS_TOPIC, SIGNALS_TOPIC],
        make_handler=make_handler,
    )
    app = create_base_app(
        title="Pacta reporting",
        description="Read models, monthly reports, trends and the overview page.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
