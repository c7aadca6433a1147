"""Routes of the ingest service: the two generic event endpoints (SPEC §3.1, §3.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from pacta.auth import IngestKey
from pacta.events import MonitoringEvent, TicketEvent
from pacta.logs import get_logger
from pacta.problems import Problem, validation_errors
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.responses import JSONResponse

from ingest import store
from ingest.metrics import EVENTS_DUPLICATED, EVENTS_RECEIVED, EVENTS_REJECTED
from ingest.publisher import Event, publish
from ingest.ratelimit import retry_after_header

log = get_logger(__name__)
router = APIRouter(prefix="/v1/events", tags=["events"])
Kind = Literal["monitoring", "ticket"]


class Accepted(BaseModel):
    """The 202 answer: sent only once Kafka holds every new event of the request."""

    accepted: int
    duplicates: int
    ids: list[str]


_ADAPTERS: dict[Kind, TypeAdapter[Any]] = {
    "monitoring": TypeAdapter(MonitoringEvent),
    "ticket": TypeAdapter(TicketEvent),
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": Accepted},
    400: {"description": "Malformed JSON"},
    401: {"description": "No valid API key"},
    413: {"description": "Body or batch too large"},
    422: {"description": "A field is invalid (problem document names it)"},
    429: {"description": "Per-key rate limit; see Retry-After"},
    503: {"description": "Kafka unreachable; retry after Retry-After"},
}


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    one = model.model_json_schema()
    one["properties"].pop("received_at", None)
    schema = {"oneOf": [one, {"type": "array", "items": one, "minItems": 1}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/monitoring",
    status_code=202,
    responses=_RESPONSES,
    summary="Post monitoring events",
    openapi_extra=_body_schema(MonitoringEvent),
)
async def post_monitoring(request: Request, key: IngestKey) -> JSONResponse:
    """One monitoring event or a JSON array of them (all or nothing)."""
    return await ingest_events(request, key, "monitoring", await request.body())


@router.post(
    "/tickets",
    status_code=202,
    responses=_RESPONSES,
    summary="Post ticket events",
    openapi_extra=_body_schema(TicketEvent),
)
async def post_tickets(request: Request, key: IngestKey) -> JSONResponse:
    """One ticket event or a JSON array of them (all or nothing)."""
    return await ingest_events(request, key, "ticket", await request.body())


def parse_events(raw: bytes, kind: Kind, *, now: datetime, max_batch: int) -> list[Event]:
    """Parse one object or an array; the whole batch is rejected if one element is bad."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "Malformed JSON", str(exc)) from None
    is_batch = isinstance(data, list)
    items = data if is_batch else [data]
    if not items:
        raise Problem(422, "Empty batch", "the array holds no event")
    if len(items) > max_batch:
        raise Problem(413, "Batch too large", f"at most {max_batch} events per request")
    adapter = _ADAPTERS[kind]
    events: list[Event] = []
    for i, item in enumerate(items):
        where = f"{i}." if is_batch else ""
        if not isinstance(item, dict):
            raise Problem(
                422,
                "Invalid event",
                f"{where or 'body'} must be a JSON object",
                errors=[{"field": where.rstrip(".") or "body", "message": "not an object"}],
            )
        try:
            events.append(adapter.validate_python(item, context={"now": now}))
        except ValidationError as exc:
            errors = [{**e, "field": where + e["field"]} for e in validation_errors(exc.errors())]
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
            raise Problem(422, "Invalid event", detail, errors=errors) from None
    return events


async def ingest_events(request: Request, key: str, kind: Kind, raw: bytes) -> JSONResponse:
    state = request.app.state
    source = "api"
    wait = state.limiter.acquire(key)
    if wait:
        EVENTS_REJECTED.labels(source, kind, "rate_limited").inc()
        raise Problem(
            429,
            "Too many requests",
            "per-key rate limit reached",
            headers={"Retry-After": retry_after_header(wait)},
        )
    # Any content type is read as JSON: curl's default form type is a common slip, not an error.
    now = datetime.now(UTC)
    try:
        events = parse_events(raw, kind, now=now, max_batch=state.settings.ingest_max_batch)
    except Problem:
        EVENTS_REJECTED.labels(source, kind, "invalid").inc()
        raise
    return await accept(request, events, kind, now)


async def accept(request: Request, events: list[Event], kind: str, now: datetime) -> JSONResponse:
    """Claim ids and produce new events in one database transaction, then answer 202.

    The claim commits only after Kafka acknowledged; a failed produce rolls it back, so the
    sender's retry is not mistaken for a duplicate.
    """
    state = request.app.state
    settings = state.settings
    identified: list[Event] = [e.with_identity(now) for e in events]  # type: ignore[misc]
    ids = [e.id for e in identified if e.id is not None]
    producer = state.producer
    if producer is None:
        raise _unavailable(settings.ingest_retry_after, "Kafka is not reachable yet")
    try:
        async with state.engine.begin() as conn:
            new_ids = await store.claim_ids(conn, ids=list(dict.fromkeys(ids)))
            fresh, seen = [], set()
            for event in identified:
                if event.id in new_ids and event.id not in seen:
                    seen.add(event.id)
                    fresh.append(event)
            if fresh:
                await publish(
                    producer,
                    fresh,
                    prefix=settings.topic_prefix,
                    timeout=settings.ingest_produce_timeout,
                )
    except Problem:
        raise
    except Exception as exc:
        log.warning("events not acknowledged", error=repr(exc), count=len(ids))
        raise _unavailable(
            settings.ingest_retry_after, "Kafka or PostgreSQL did not acknowledge"
        ) from None
    sources = {e.source for e in identified}
    for src in sources:
        n_new = sum(1 for e in fresh if e.source == src)
        n_all = sum(1 for e in identified if e.source == src)
        EVENTS_RECEIVED.labels(src, kind).inc(n_new)
        EVENTS_DUPLICATED.labels(src, kind).inc(n_all - n_new)
    log.info(
        "events accepted",
        kind=kind,
        ids=ids[:20],
        accepted=len(fresh),
        duplicates=len(ids) - len(fresh),
    )
    body = Accepted(accepted=len(fresh), duplicates=len(ids) - len(fresh), ids=ids)
    return JSONResponse(body.model_dump(), status_code=202)


def _unavailable(retry_after: int, detail: str) -> Problem:
    return Problem(503, "Service unavailable", detail, headers={"Retry-After": str(retry_after)})
