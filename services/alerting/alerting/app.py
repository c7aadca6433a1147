"""The alerting service's app factory: consume its topics, serve its API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from alerting import store
from alerting.consumer import make_handler
from alerting.settings import AlertingSettings
from pacta.events import SIGNALS_TOPIC
from pacta.runtime import consumer_lifespan
from pacta.web import create_base_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: AlertingSettings | None = None) -> FastAPI:
    settings = settings or AlertingSettings()
    lifespan = consumer_lifespan(
        settings,
        schema=store.SCHEMA,
        migrations=MIGRATIONS,
        group="alerting",
        topics=[SIGNALS_TOPIC],
        make_handler=make_handler,
    )
    app = create_base_app(
        title="Pacta alerting",
        description="Routes, groups, silences, escalates and delivers notifications.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
