"""Every service's error answers: a database that went away is a 503 to retry, not a 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from pacta.problems import install_problem_handlers


class _Dropped(Exception):
    sqlstate = "08006"  # connection_failure


class _Refused(Exception):
    sqlstate = "23505"  # unique_violation: the data, not the database


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/dropped")
    async def dropped() -> None:
        raise sa_exc.DBAPIError("SELECT 1", None, _Dropped(), connection_invalidated=True)

    @app.get("/refused")
    async def refused() -> None:
        raise sa_exc.IntegrityError("INSERT", None, _Refused())

    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_a_dropped_database_connection_answers_503_with_retry_after() -> None:
    r = await _get("/dropped")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "the database did not answer; retry"


async def test_an_error_in_the_data_is_still_a_500() -> None:
    r = await _get("/refused")
    assert r.status_code == 500
    assert r.json()["title"] == "Internal error"


def _driver_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/closed")
    async def closed() -> None:
        raise asyncpg.InterfaceError("cannot perform operation: connection is closed")

    @app.get("/shutdown")
    async def shutdown() -> None:
        raise asyncpg.exceptions.AdminShutdownError("terminating connection")

    @app.get("/duplicate")
    async def duplicate() -> None:
        raise asyncpg.UniqueViolationError("duplicate key")

    return app


@pytest.mark.parametrize(
    ("path", "status"), [("/closed", 503), ("/shutdown", 503), ("/duplicate", 500)]
)
async def test_errors_straight_from_the_driver_are_told_apart_too(path: str, status: int) -> None:
    transport = httpx.ASGITransport(app=_driver_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get(path)).status_code == status
