"""The sla-engine's app factory: consume events, keep clocks, serve the SLA API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pacta.events import MONITORING_TOPIC, TICKETS_TOPIC
from pacta.runtime import consumer_lifespan
from pacta.web import create_base_app

from sla_engine import store
from sla_engine.consumer import make_handler
from sla_engine.settings import EngineSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: EngineSettings | None = None) -> FastAPI:
    settings = settings or EngineSettings()
    lifespan = consumer_lifespan(
        settings,
        schema=store.SCHEMA,
        migrations=MIGRATIONS,
        group="pacta-sla-engine",
        topics=[MONITORING_TOPIC, TICKETS_TOPIC],
        make_handler=make_handler,
    )
    app = create_base_app(
        title="Pacta sla-engine",
        description="Policies, calendars, maintenance windows and SLA clocks; fires signals.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
