"""The HTTP shell every service shares: app factory, health and metrics routes, body and
encoding limits, the API key schemes in OpenAPI."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pacta.problems import PROBLEM_JSON, install_problem_handlers, problem_response
from pacta.settings import CommonSettings

ReadinessCheck = Callable[[], Awaitable[bool]]
_JSON = b"application/json"


class JSONBytes(Response):
    """A response of JSON already encoded: the same head as `Response(body, status,
    media_type="application/json")` (content-length, content-type), built without the
    general constructor's rendering and header handling (a hot path's answer)."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int = 200) -> None:
        self.status_code, self.body, self.background = status_code, body, None
        self.raw_headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON)]


HTTP_SECONDS = Histogram(
    "pacta_http_request_seconds",
    "HTTP request duration by route and status",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def create_base_app(
    *,
    title: str,
    description: str,
    settings: CommonSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    max_body_bytes: int = 1024 * 1024,
    app_class: type[FastAPI] = FastAPI,
) -> FastAPI:
    """A FastAPI app with problem documents, /healthz, /readyz, /metrics and a body limit.

    The service's lifespan fills `app.state.readiness` with named dependency checks.
    `app_class` is FastAPI or a subclass of it (one that answers a hot path ahead of it).
    """
    app = app_class(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        # Pacta exports Prometheus metrics itself; FastAPI's OpenTelemetry hooks would look up
        # providers on every request for nothing
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # /docs and /redoc are served below with assets of our own, not from a CDN
        docs_url=None,
        redoc_url=None,
    )
    app.state.api_keys = settings.keys()
    app.state.readiness = {}
    install_problem_handlers(app)
    app.include_router(health_router())
    install_docs(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(EncodingGuard)
    app.add_middleware(RequestTimer)
    declare_security(app)
    return app


SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key as `Authorization: Bearer <key>` (or `Authorization: Key <key>`)",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
"""The two ways every service takes an API key (pacta.auth), as OpenAPI names them."""


def declare_security(app: FastAPI) -> None:
    """Declare the key schemes in the app's OpenAPI document and require one of them on every
    route whose 401 is the key check's problem document (pacta.auth), so a generated client
    knows it needs a key. Routes that may take the key in their body instead (the sign-in
    form, PagerDuty's `routing_key`) declare a plain 401 and get no scheme."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                refused = operation.get("responses", {}).get("401", {})
                if PROBLEM_JSON in refused.get("content", {}):
                    operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


class EncodingGuard:
    """Refuse a body in a `Content-Encoding` with 415: no service decodes one, and reading
    gzip as JSON would only fail later with a confusing 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = refused_encoding(scope)
            if response is not None:
                await response(scope, _empty_receive, send)
                return
        await self.app(scope, receive, send)


def refused_encoding(scope: Scope) -> Response | None:
    """The 415 for a request with a `Content-Encoding` other than identity, else None."""
    for name, value in scope["headers"]:
        if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return problem_response(
                415,
                "Unsupported content encoding",
                "bodies are read as sent: no Content-Encoding (or identity)",
                instance=scope.get("path"),
                headers={"Accept-Encoding": "identity"},
            )
    return None


DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI 5 and ReDoc, pinned with the fastapi-offline package, so /docs works offline."""


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc, their scripts and styles served from /docs/assets."""
    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    title, openapi = app.title, app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> Response:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{title}: API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return get_redoc_html(
            openapi_url=openapi,
            title=f"{title}: API",
            redoc_js_url="/docs/assets/redoc.standalone.js",
            redoc_favicon_url="/docs/assets/favicon.png",
            with_google_fonts=False,
        )


class RequestTimer:
    """Observe each request's duration by route template and status (a plain ASGI wrapper:
    Starlette's `BaseHTTPMiddleware` costs a task per request on the hot ingest path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            observe_request(scope, status, started)


#: The histogram's child per (method, route, status), so a request pays no label lookup (its
#: validation, string conversion and lock); bounded as the label values are.
_timers: dict[tuple[str, str, int], Any] = {}
MAX_TIMERS = 1000


def observe_request(scope: Scope, status: int, started: float) -> None:
    """Record a request's duration (since `started`, perf_counter) by route template."""
    elapsed = time.perf_counter() - started
    key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
    timer = _timers.get(key)
    if timer is None:
        if len(_timers) >= MAX_TIMERS:
            _timers.clear()
        timer = _timers[key] = HTTP_SECONDS.labels(key[0], key[1], str(status))
    timer.observe(elapsed)


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Every dependency answers (Kafka, PostgreSQL)")
    async def readyz(request: Request) -> Response:
        checks: dict[str, ReadinessCheck] = request.app.state.readiness
        results = {name: await check() for name, check in checks.items()}
        ok = bool(results) and all(results.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": results},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)

    return router


def _registry() -> CollectorRegistry:
    """This process's metrics; with several worker processes on one port (prometheus_client's
    multiprocess mode, PROMETHEUS_MULTIPROC_DIR set), the sum over all of them."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


class BodyLimit:
    """Refuse bodies over the limit with 413, counting while streaming (chunked bodies too).

    Starlette has no limit of its own; the body is buffered here (it is small by construction)
    and replayed to the app, so the app never sees a truncated request.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        body = await read_body(scope, receive, self.max_bytes)
        if body is None:
            return
        if isinstance(body, Response):
            await body({"type": "http"}, _empty_receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def read_body(scope: Scope, receive: Receive, max_bytes: int) -> bytes | Response | None:
    """The request's body; a 413 to send instead when it is (or says it is) over `max_bytes`,
    counted while streaming (chunked bodies too); None when the client went away."""
    declared = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        return _too_large(scope, max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return _too_large(scope, max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(scope: Scope, max_bytes: int) -> Response:
    return problem_response(
        413, "Payload too large", f"the body limit is {max_bytes} bytes", instance=scope.get("path")
    )


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}
