"""Routes of the report subscriptions: `PUT/GET/DELETE /v1/report-subscriptions/{name}` (admin
to change, any key to read); each revision issued goes to the subscription's alerting receiver
(docs/reporting.md, "Scheduled delivery")."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from pacta.auth import AdminKey
from pacta.problems import Problem
from reporting import subscriptions
from reporting.context import Ctx
from reporting.session import reader
from reporting.subscriptions import NAME_PATTERN, Subscription

router = APIRouter(prefix="/v1/report-subscriptions", tags=["report subscriptions"])
Name = Annotated[str, Path(pattern=NAME_PATTERN)]
Reader = Annotated[str, Depends(reader)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _missing(name: str) -> Problem:
    return Problem(
        404,
        "Unknown subscription",
        f"no report subscription is named {name!r}",
        errors=[{"field": "name", "message": "no subscription has this name"}],
    )


@router.get("", summary="Every report subscription")
async def list_subscriptions(ctx: Ctx, _: Reader) -> Response:
    async with ctx.engine.connect() as conn:
        return _json({"items": await subscriptions.listed(conn, ctx.schema)})


@router.put(
    "/{name}",
    summary="Create or replace a subscription (admin)",
    responses={
        201: {"description": "Created"},
        400: {"description": "A body that is not JSON", **PROBLEM},
        401: {"description": "No valid key", **PROBLEM},
        403: {"description": "Not admin", **PROBLEM},
    },
)
async def put_subscription(ctx: Ctx, _: AdminKey, name: Name, body: Subscription) -> Response:
    async with ctx.engine.begin() as conn:
        created = await subscriptions.put(conn, ctx.schema, name, body)
    return _json({"name": name, **body.model_dump()}, 201 if created else 200)


@router.get("/{name}", summary="One subscription", responses={404: {"description": "Unknown"}})
async def get_subscription(ctx: Ctx, _: Reader, name: Name) -> Response:
    async with ctx.engine.connect() as conn:
        found = await subscriptions.get(conn, ctx.schema, name)
    if found is None:
        raise _missing(name)
    return _json(found)


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a subscription (admin); revisions issued later are not sent to it",
    responses={404: {"description": "Unknown"}},
)
async def delete_subscription(ctx: Ctx, _: AdminKey, name: Name) -> Response:
    async with ctx.engine.begin() as conn:
        if not await subscriptions.delete(conn, ctx.schema, name):
            raise _missing(name)
    return Response(status_code=204)
