"""Run a service's app under uvicorn with Pacta's JSON logging (one worker per process)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from pacta.logs import configure_logging
from pacta.settings import CommonSettings


def serve(app: FastAPI, settings: CommonSettings, service: str, port: int) -> None:
    configure_logging(settings.log_level, service)
    # One worker per process keeps metrics and timers simple; scale out with more processes.
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )
