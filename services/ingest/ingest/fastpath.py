"""The hot path: POSTs to the two event endpoints go straight to the ingest handler.

The FastAPI routes stay (they document the API and answer anything this does not take); this
skips the router, dependency solving and exception wrappers that cost a third of the CPU of a
single-event request. Authentication, limits and answers are exactly the routes' own.
"""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.api import ingest_events
from ingest.parsing import Kind
from pacta.auth import authenticate
from pacta.logs import get_logger
from pacta.problems import Problem, problem_response

log = get_logger(__name__)
PATHS: dict[str, Kind] = {"/v1/events/monitoring": "monitoring", "/v1/events/tickets": "ticket"}


class EventsFastPath:
    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app, self.api = app, api
        # the request-timing metric labels by the route's path template (all it reads)
        self.routes = {path: SimpleNamespace(path=path) for path in PATHS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["app"] = self.api
        scope["route"] = self.routes.get(scope["path"])  # for the request-timing metric
        request = Request(scope, receive)
        try:
            key = authenticate(request, "ingest")
            response = await ingest_events(request, key, kind, await request.body())
        except Problem as exc:
            response = problem_response(
                exc.status,
                exc.title,
                exc.detail,
                instance=scope["path"],
                errors=exc.errors,
                headers=exc.headers,
            )
        except Exception:
            log.exception("unhandled error", path=scope["path"])
            response = problem_response(500, "Internal error", instance=scope["path"])
        await response(scope, receive, send)
