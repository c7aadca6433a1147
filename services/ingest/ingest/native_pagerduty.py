"""`POST /v2/enqueue`: PagerDuty Events API v2 on the native path, answering as PagerDuty does
(its clients parse the answers), with the routing key as credential and the service of each
alert remembered at its trigger for the resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from ingest import pagerduty_store
from ingest.formats import pagerduty
from ingest.formats.base import Event, FormatError
from ingest.native import SourceQuery, body_schema, ingest_native
from pacta.auth import authenticate, lookup
from pacta.logs import get_logger
from pacta.problems import Problem

log = get_logger(__name__)
router = APIRouter(tags=["integrations"])


class PagerDutyAnswer(BaseModel):
    """PagerDuty's own answer shape, which its clients parse (plus Pacta's counts on 202)."""

    status: str
    message: str
    dedup_key: str | None = None
    errors: list[str] | None = None
    accepted: int | None = None
    duplicates: int | None = None
    ids: list[str] | None = None


_PD_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": PagerDutyAnswer, "description": description}
    for code, description in {
        202: "Event processed (Kafka holds it)",
        400: "Invalid event: `errors` names each field",
        401: "No valid key (header or routing_key)",
        403: "The key's role may not post events",
        413: "Body too large (PagerDuty's limit is 512 KB)",
        422: "The `source` query parameter is not a source name",
        429: "Per-key rate limit; see Retry-After",
        503: "Kafka or PostgreSQL unreachable; retry after Retry-After",
    }.items()
}


@router.post(
    "/v2/enqueue",
    status_code=202,
    responses=_PD_RESPONSES,
    summary="PagerDuty Events API v2",
    openapi_extra=body_schema("A PagerDuty Events API v2 event (trigger, acknowledge, resolve)"),
)
async def post_pagerduty_enqueue(request: Request, source: SourceQuery = None) -> Response:
    """PagerDuty Events API v2, answering as PagerDuty does (docs/integrations.md). The key is
    the `Authorization`/`X-API-Key` header or, as PagerDuty clients send it, the routing_key."""
    try:
        raw = await request.body()
        if len(raw) > pagerduty.MAX_BODY:
            error = {"field": "body", "message": "is larger than PagerDuty's 512 KB limit"}
            raise Problem(400, "Invalid event", error["message"], errors=[error])
        key = _pagerduty_key(request, raw)
        ctx: dict[str, Any] = {}

        async def parse(
            body: bytes, headers: dict[str, str], mapping: Any, now: datetime
        ) -> list[Event]:
            routing_key, dedup_key = pagerduty.correlation(body)
            remembered = None
            try:
                if routing_key and dedup_key:
                    async with request.app.state.engine.begin() as conn:
                        remembered = await pagerduty_store.service_of(conn, routing_key, dedup_key)
                result = pagerduty.parse(
                    body, headers, pagerduty.Context(mapping, remembered_service=remembered), now
                )
                ctx["result"] = result
                if result.remember is not None:
                    # before the produce: a resolve must find the service even if the 202 is lost
                    async with request.app.state.engine.begin() as conn:
                        await pagerduty_store.remember(conn, *result.remember)
            except FormatError:
                raise
            except Exception as exc:
                log.warning("pagerduty alert store unreachable", error=repr(exc))
                retry = str(request.app.state.settings.ingest_retry_after)
                raise Problem(
                    503,
                    "Service unavailable",
                    "PostgreSQL unreachable",
                    headers={"Retry-After": retry},
                ) from None
            return list(result.events)

        response = await ingest_native(request, "pagerduty", source, key=key, parse=parse)
    except Problem as problem:
        return _pagerduty_error(problem)
    body = orjson.loads(bytes(response.body))
    body.update(status="success", message="Event processed", dedup_key=ctx["result"].dedup_key)
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")


def _pagerduty_key(request: Request, raw: bytes) -> str:
    if request.headers.get("authorization") or request.headers.get("x-api-key"):
        return authenticate(request, "ingest")
    routing_key, _ = pagerduty.correlation(raw)
    match = lookup(request.app.state.api_keys, routing_key) if routing_key else None
    if match is None:
        raise Problem(401, "Unauthorized", "routing_key is not a Pacta ingest key")
    if match[1] not in ("ingest", "admin"):
        raise Problem(403, "Forbidden", "this action needs the ingest role")
    return match[0]


def _pagerduty_error(problem: Problem) -> Response:
    """PagerDuty's error shape: `{"status": "invalid event", "message", "errors": [...]}`."""
    errors = [f"{e['field']}: {e['message']}" for e in problem.errors or []]
    if problem.status in (400, 422):
        body: dict[str, Any] = {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": errors or [problem.detail or problem.title],
        }
        status = 400
    else:
        body = {"status": problem.title, "message": problem.detail or problem.title}
        if errors:
            body["errors"] = errors
        status = problem.status
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=problem.headers,
    )
