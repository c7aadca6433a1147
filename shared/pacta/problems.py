"""RFC 9457 problem documents: every 4xx and 5xx answer of every service takes this shape."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from pacta.kafka import is_transient
from pacta.logs import get_logger

log = get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
"""RFC 9457 as every service declares its 4xx answers in OpenAPI (schemathesis checks them)."""


def problem_answer(description: str) -> dict[str, Any]:
    """One OpenAPI `responses` entry: a problem document with this description."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers = errors, headers


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Flatten pydantic errors to {field, message} pairs naming the JSON path of the field."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", "invalid"))})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(
            422, "Invalid request", detail, instance=request.url.path, errors=errors
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(500, "Internal error", instance=request.url.path)

    async def on_database(request: Request, exc: Exception) -> Response:
        # the pools do not test a connection before use (a round trip per checkout): a request
        # that met one PostgreSQL dropped (a restart) is worth retrying, so 503, not a 500
        if not database_away(exc):
            return await on_crash(request, exc)
        return problem_response(
            503,
            "Service unavailable",
            "the database did not answer; retry",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    app.add_exception_handler(Problem, on_problem)
    # through SQLAlchemy, or straight on the driver (the hot paths' statements)
    for kind in (sa_exc.DBAPIError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(kind, on_database)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


def database_away(exc: BaseException) -> bool:
    """Whether a database error says PostgreSQL is away (a dropped connection, a restart, a
    server shutting down) rather than that the request or the data is wrong."""
    if isinstance(exc, sa_exc.DBAPIError):
        return is_transient(exc)
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
        return True  # the connection is closed or was never made
    # connection, resources, operator intervention (57P01: the server shuts down)
    state = str(getattr(exc, "sqlstate", "") or "")
    return state[:2] in ("08", "53", "57")
