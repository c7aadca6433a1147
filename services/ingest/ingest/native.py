"""Routes of the native formats (docs/integrations.md): each tool's payload goes through its
adapter in `ingest.formats` and then down the generic endpoints' own path (key, signature, rate
limit, all-or-nothing produce and claim, 202 only once Kafka holds the events)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from prometheus_client import Counter
from starlette.responses import Response

from ingest.admission import admit
from ingest.api import accept
from ingest.formats import alertmanager, cloudevents, grafana, jira, servicenow
from ingest.formats.base import Event, FormatError
from ingest.formats.mapping import Mappings
from pacta.auth import authenticate
from pacta.events import MonitoringEvent
from pacta.logs import get_logger
from pacta.problems import Problem, problem_answer

log = get_logger(__name__)
router = APIRouter(tags=["integrations"])

NATIVE_REQUESTS = Counter(
    "pacta_ingest_native_requests_total",
    "Requests to the native-format endpoints, by format and outcome",
    ["format", "outcome"],
)
#: Senders that never retry a 4xx (Alertmanager, Grafana) or anything (ServiceNow's outbound
#: REST): a 429 would lose their alerts and records, so they skip the per-key bucket. Their
#: volume is bounded by their own grouping (one request per group and flush) or by the
#: ticket system's update rate, and the body limit still holds.
RATE_EXEMPT = frozenset({"alertmanager", "grafana", "servicenow"})
Adapter = Callable[[bytes, dict[str, str], Any, datetime], list[Event]]
#: An adapter that needs I/O (PagerDuty looks up the service its trigger remembered).
Parse = Callable[[bytes, dict[str, str], Any, datetime], Awaitable[list[Event]]]
ADAPTERS: dict[str, Adapter] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "cloudevents": cloudevents.parse,
    "jira": jira.parse,
    "servicenow": servicenow.parse,
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: problem_answer(description)
    for code, description in {
        400: "Malformed JSON",
        401: "No valid API key, or a missing or invalid signature",
        403: "The key's role may not post events",
        413: "Body or batch too large",
        415: "A content type the format does not define",
        422: "A field is invalid or missing; `errors` names it in the tool's terms",
        429: "Per-key rate limit; see Retry-After",
        503: "Kafka or PostgreSQL unreachable; retry after Retry-After",
    }.items()
}
_RESPONSES[202] = {"description": "Kafka holds every new event of the request"}
SourceQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="a named source of the mappings file (default: the format's own name)",
    ),
]


def body_schema(description: str, fmt: str = "") -> dict[str, Any]:
    schema = {"type": "object", "description": description}
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if fmt == "cloudevents":
        # structured and batch modes; binary mode is application/json with ce-* headers
        content[cloudevents.STRUCTURED] = {"schema": schema}
        content[cloudevents.BATCH] = {"schema": {"type": "array", "items": schema}}
    return {"requestBody": {"required": True, "content": content}}


def _route(path: str, fmt: str, summary: str) -> None:
    async def endpoint(request: Request, source: SourceQuery = None) -> Response:
        return await ingest_native(request, fmt, source)

    endpoint.__name__ = f"post_{fmt}"
    endpoint.__doc__ = f"{summary} (docs/integrations.md)."
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        status_code=202,
        responses=_RESPONSES,
        summary=summary,
        openapi_extra=body_schema(summary, fmt),
    )


_route("/v1/ingest/alertmanager", "alertmanager", "Prometheus Alertmanager webhook (version 4)")
_route("/v1/ingest/grafana", "grafana", "Grafana unified alerting webhook contact point")
_route("/v1/ingest/cloudevents", "cloudevents", "CloudEvents 1.0: structured, binary or batch")
_route("/v1/ingest/jira", "jira", "Jira (Service Management) issue webhook")
_route("/v1/ingest/servicenow", "servicenow", "ServiceNow incident record (outbound REST)")


async def ingest_native(
    request: Request,
    fmt: str,
    source: str | None,
    *,
    key: str | None = None,
    parse: Parse | None = None,
) -> Response:
    """Key, signature, rate limit (admission.py), adapter, then the generic accept (Kafka,
    claim, 202)."""
    raw = await request.body()
    key = key or _webhook_key(request, fmt, source, raw) or authenticate(request, "ingest")

    def refused(reason: str) -> None:
        _count(fmt, "rejected", reason)

    async def handle() -> Response:
        return await _parse_and_accept(request, fmt, source, raw, parse)

    return await admit(
        request, key, raw, handle, refused=refused, rate_limited=fmt not in RATE_EXEMPT
    )


async def _parse_and_accept(
    request: Request,
    fmt: str,
    source: str | None,
    raw: bytes,
    parse: Parse | None,
) -> Response:
    state = request.app.state
    mappings: Mappings = state.mappings
    mapping = mappings.get(fmt, source or fmt)
    if mapping is None:
        _count(fmt, "rejected", "invalid")
        detail = f"source: no {fmt} mapping named {source!r} in the mappings file"
        raise Problem(
            422, "Unknown source", detail, errors=[{"field": "source", "message": detail[8:]}]
        )
    now = datetime.now(UTC)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        if parse is not None:
            events = await parse(raw, headers, mapping, now)
        else:
            events = ADAPTERS[fmt](raw, headers, mapping, now)
    except FormatError as exc:
        _count(fmt, "rejected", "invalid")
        # most of these senders never retry a 4xx: the log is where an operator finds out why
        log.info(
            "native payload refused", format=fmt, source=source or fmt, field=exc.field,
            reason=exc.message[:200], status=exc.status,
        )  # fmt: skip
        title = "Malformed JSON" if exc.status == 400 else "Invalid payload"
        error = {"field": exc.field, "message": exc.message}
        raise Problem(exc.status, title, f"{exc.field}: {exc.message}", errors=[error]) from None
    if len(events) > state.settings.ingest_max_batch:
        _count(fmt, "rejected", "too_large")
        raise Problem(413, "Batch too large", f"at most {state.settings.ingest_max_batch} events")
    if source and source != fmt:
        # a named source is its own id space: two Jira sites both have an issue 10001
        events = [e.model_copy(update={"source": source, "id": f"{source}-{e.id}"}) for e in events]
    if not events:
        _count(fmt, "accepted")
        return _accepted({"accepted": 0, "duplicates": 0, "ids": []})
    kinds = {"monitoring" if isinstance(e, MonitoringEvent) else "ticket" for e in events}
    try:
        response = await accept(request, events, kinds.pop() if len(kinds) == 1 else "mixed", now)
    except Problem:
        _count(fmt, "unavailable")
        raise
    _count(fmt, "accepted")
    return response


def _webhook_key(request: Request, fmt: str, source: str | None, raw: bytes) -> str | None:
    """A Jira admin webhook cannot send an API key but signs its body with the webhook's
    secret (`X-Hub-Signature: sha256=<hex>`): a valid one authenticates the source itself."""
    headers = request.headers
    signature = headers.get("x-hub-signature")
    if fmt != "jira" or signature is None:
        return None
    if headers.get("authorization") or headers.get("x-api-key"):
        return None  # an API key was sent: it decides
    mapping = request.app.state.mappings.get(fmt, source or fmt)
    secret = getattr(mapping, "webhook_secret", None)
    if secret is None:
        return None
    expected = hmac.new(secret.get_secret_value().encode(), raw, hashlib.sha256).hexdigest()
    scheme, _, given = signature.strip().partition("=")
    if scheme.lower() != "sha256" or not hmac.compare_digest(expected, given.strip().lower()):
        _count(fmt, "rejected", "signature")
        raise Problem(401, "Invalid signature", "X-Hub-Signature does not match the body")
    # a replayed delivery is harmless: its ids are the same, answered as duplicates
    return f"webhook:{source or fmt}"


def _count(fmt: str, outcome: str, reason: str | None = None) -> None:
    NATIVE_REQUESTS.labels(fmt, outcome if reason is None else f"{outcome}_{reason}").inc()


def _accepted(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")
