"""Routes of the ingest service: the two generic event endpoints (docs/api.md, Ingest)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from ingest.admission import admit, unavailable
from ingest.metrics import EVENTS_DUPLICATED, EVENTS_RECEIVED, EVENTS_REJECTED, source_label
from ingest.parsing import Event, Kind, parse_events
from pacta.auth import IngestKey
from pacta.events import MonitoringEvent, TicketEvent
from pacta.logs import get_logger
from pacta.problems import Problem, problem_answer
from pacta.web import JSONBytes

log = get_logger(__name__)
_stdlib_log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/events", tags=["events"])


class Accepted(BaseModel):
    """The 202 answer: sent only once Kafka holds every new event of the request."""

    accepted: int
    duplicates: int
    ids: list[str]


_problem = problem_answer


_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": Accepted, "description": "Kafka holds every new event of the request"},
    400: _problem("Malformed JSON (or not UTF-8)"),
    401: _problem("No valid API key, or a missing or invalid signature"),
    403: _problem("The key's role may not post events"),
    413: _problem("Body or batch too large"),
    422: _problem("A field is invalid; `errors` names each one as <index>.<field>"),
    429: _problem("Per-key rate limit; see Retry-After"),
    503: _problem("Kafka or PostgreSQL unreachable; retry after Retry-After"),
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
async def post_monitoring(request: Request, key: IngestKey) -> Response:
    """One monitoring event or a JSON array of them (all or nothing)."""
    return await ingest_events(request, key, "monitoring", await request.body())


@router.post(
    "/tickets",
    status_code=202,
    responses=_RESPONSES,
    summary="Post ticket events",
    openapi_extra=_body_schema(TicketEvent),
)
async def post_tickets(request: Request, key: IngestKey) -> Response:
    """One ticket event or a JSON array of them (all or nothing)."""
    return await ingest_events(request, key, "ticket", await request.body())


async def ingest_events(request: Request, key: str, kind: Kind, raw: bytes) -> Response:
    """Signature, rate limit, validation, then Kafka: the first refusal answers the request."""

    def refused(reason: str) -> None:
        EVENTS_REJECTED.labels("api", kind, reason).inc()

    async def handle() -> Response:
        # Any content type is read as JSON: curl's default form type is a common slip.
        now = datetime.now(UTC)
        try:
            events = parse_events(
                raw, kind, now=now, max_batch=request.app.state.settings.ingest_max_batch
            )
        except Problem:
            refused("invalid")
            raise
        return await accept(request, events, kind, now)

    return await admit(request, key, raw, handle, refused=refused)


async def accept(request: Request, events: list[Event], kind: str, now: datetime) -> Response:
    """Produce the new events, claim their ids, then answer 202; or raise a Problem (503).

    The path every ingest endpoint ends in (generic and native formats): `events` are validated
    and belong to this request. The claim is written only after Kafka acknowledged, and the
    202 only after the claim committed, so a retry is answered as a duplicate in any process
    and after any restart. Concurrent requests share one cycle (see committer.py).
    """
    state = request.app.state
    identify(events, now)
    ids = [e.id for e in events if e.id is not None]
    try:
        fresh = await state.committer.submit(events)
    except Problem:
        raise
    except Exception as exc:
        log.warning("events not acknowledged", error=repr(exc), count=len(ids))
        raise unavailable(
            state.settings.ingest_retry_after, "Kafka or PostgreSQL did not acknowledge"
        ) from None
    _count(events, fresh, kind)
    duplicates = len(ids) - len(fresh)
    # per request at DEBUG: at thousands of requests a second INFO would cost a core; the
    # consumers log the ids they apply, per batch, at INFO
    if _debug():
        log.debug(
            "events accepted", kind=kind, ids=ids[:20], accepted=len(fresh), duplicates=duplicates
        )
    body = {"accepted": len(fresh), "duplicates": duplicates, "ids": ids}
    return JSONBytes(orjson.dumps(body), 202)


def identify(events: list[Event], now: datetime) -> None:
    """Give each event its id (a content hash when the sender gave none) and receipt time.

    Set in place rather than by `model_copy` (a third of a batched event's validation cost):
    the events were built for this request and nothing else holds them yet.
    """
    for event in events:
        fields = event.__dict__
        if fields["id"] is None:
            fields["id"] = event.content_id()
        fields["received_at"] = now


def _count(events: list[Event], fresh: list[Event], kind: str) -> None:
    """Count per sender-declared source, bounded so free text cannot multiply time series."""
    if len(events) == 1:  # a single event: one counter, no tally
        received, duplicated = _counters(events[0].source, kind)
        (received if fresh else duplicated).inc()
        return
    totals: dict[str, list[int]] = {}
    for event in events:
        totals.setdefault(event.source, [0, 0])[0] += 1
    for event in fresh:
        totals[event.source][1] += 1
    for src, (n_all, n_new) in totals.items():
        received, duplicated = _counters(src, kind)
        if n_new:
            received.inc(n_new)
        if n_all > n_new:
            duplicated.inc(n_all - n_new)


MAX_CACHED_SOURCES = 4096
"""Sources whose counters are remembered (their labels are capped by `source_label`; the
sources themselves are free text, so the cache is cleared when full)."""
#: The two counters' children per (source, kind): a request pays no label lookup.
_children: dict[tuple[str, str], tuple[Any, Any]] = {}


def _counters(source: str, kind: str) -> tuple[Any, Any]:
    pair = _children.get((source, kind))
    if pair is None:
        if len(_children) >= MAX_CACHED_SOURCES:
            _children.clear()
        label = source_label(source)
        pair = _children[source, kind] = (
            EVENTS_RECEIVED.labels(label, kind),
            EVENTS_DUPLICATED.labels(label, kind),
        )
    return pair


def _debug() -> bool:
    return _stdlib_log.isEnabledFor(logging.DEBUG)
