"""The hot path: POSTs to the two event endpoints go straight to the ingest handler.

The FastAPI routes stay (they document the API and answer anything this does not take); this
skips FastAPI's and Starlette's layers (the error and telemetry wrappers, the router,
dependency solving) and the shared middlewares, which cost a third of the CPU of a
single-event request. `EventsApp` takes these two paths ahead of everything else and does the
shared middlewares' work for them in one call (the request-timing metric, the 415 for an
encoded body, the 413 body limit, in their order), since each ASGI layer costs a call and a
wrapped `send` or `receive` per request. Authentication, limits and answers are exactly the
routes' own: the key is read from the raw headers, the 202 is built without the general
response constructor.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ingest.api import ingest_events
from ingest.parsing import Kind
from pacta.auth import check_key, presented_in
from pacta.logs import get_logger
from pacta.problems import Problem, problem_response
from pacta.web import observe_request, read_body, refused_encoding

log = get_logger(__name__)
PATHS: dict[str, Kind] = {"/v1/events/monitoring": "monitoring", "/v1/events/tickets": "ticket"}


class EventsApp(FastAPI):
    """The ingest's app: a POST to an event endpoint goes to its `fast` path (once set),
    everything else through FastAPI."""

    fast: EventsFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast
        if fast is not None and scope["type"] == "http" and scope["method"] == "POST":
            kind = PATHS.get(scope["path"])
            if kind is not None:
                await fast(scope, receive, send, kind)
                return
        await super().__call__(scope, receive, send)


class EventsFastPath:
    def __init__(self, api: FastAPI, max_bytes: int) -> None:
        self.api, self.max_bytes = api, max_bytes
        # the request-timing metric labels by the route's path template (all it reads)
        self.routes = {kind: SimpleNamespace(path=path) for path, kind in PATHS.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send, kind: Kind) -> None:
        started = time.perf_counter()
        scope["app"] = self.api
        scope["route"] = self.routes[kind]  # for the request-timing metric
        status = 500  # what the timer records when the client leaves or the answer fails
        try:
            response = refused_encoding(scope)
            if response is None:
                body = await read_body(scope, receive, self.max_bytes)
                if body is None:
                    return  # the client went away before its body was read
                response = (
                    body
                    if isinstance(body, Response)
                    else await self._handle(scope, receive, kind, body)
                )
            status = response.status_code
            await response(scope, receive, send)
        finally:
            observe_request(scope, status, started)

    async def _handle(self, scope: Scope, receive: Receive, kind: Kind, body: bytes) -> Response:
        try:
            key = check_key(self.api.state.api_keys, presented_in(scope), "ingest")
            return await ingest_events(Request(scope, receive), key, kind, body)
        except Problem as exc:
            return problem_response(
                exc.status,
                exc.title,
                exc.detail,
                instance=scope["path"],
                errors=exc.errors,
                headers=exc.headers,
            )
        except Exception:
            log.exception("unhandled error", path=scope["path"])
            return problem_response(500, "Internal error", instance=scope["path"])
