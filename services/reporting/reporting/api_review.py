"""Routes of the management review: the month's nonconformities per service, and the action a
manager records against each (kept with the month; an issued report keeps them as at issue)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from pacta.auth import AdminKey
from pacta.clock import now_ms
from pacta.problems import Problem
from reporting import review
from reporting.api import ServiceQ, TzQ, _checked_tz, checked_month, monthly_json
from reporting.context import Ctx
from reporting.session import reader

router = APIRouter(prefix="/v1/reports/monthly", tags=["management review"])
Reader = Annotated[str, Depends(reader)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


class Annotation(BaseModel):
    """An action decided for one nonconformity; `action` null withdraws it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    item: str = Field(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]+$")
    action: str | None = Field(None, max_length=2000, pattern=_TEXT)


@router.get("/{month}/review", summary="The month's nonconformities per service, with actions")
async def get_review(
    ctx: Ctx,
    _: Reader,
    month: str,
    service: ServiceQ = None,
    tz: TzQ = "UTC",
) -> Response:
    tz = _checked_tz(tz)
    now = now_ms()
    month = checked_month(month, now, tz)
    report = await monthly_json(ctx, month, tz, service, now)
    body: dict[str, Any] = {
        "month": month,
        "tz": tz,
        "revision": report["revision"],
        "services": [
            {"service": s["service"], "nonconformities": s["nonconformities"]}
            for s in report["services"]
        ],
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.put(
    "/{month}/review",
    summary="Record the action decided for one nonconformity (admin)",
    responses={
        400: {"description": "A body that is not JSON", **PROBLEM},
        401: {"description": "No valid key", **PROBLEM},
        403: {"description": "Not admin", **PROBLEM},
        404: {"description": "No such nonconformity this month", **PROBLEM},
    },
)
async def put_action(
    ctx: Ctx,
    _: AdminKey,
    month: str,
    body: Annotation,
    tz: Annotated[str, Query(min_length=1, max_length=64)] = "UTC",
) -> Response:
    tz = _checked_tz(tz)
    now = now_ms()
    month = checked_month(month, now, tz)
    report = await monthly_json(ctx, month, tz, body.service, now)
    items = {i["item"] for s in report["services"] for i in s["nonconformities"]}
    if body.item not in items and body.action is not None:
        raise Problem(
            404,
            "Unknown nonconformity",
            f"item: {body.service} has no nonconformity {body.item!r} in {month} ({tz})",
            errors=[{"field": "item", "message": "not a nonconformity of this month"}],
        )
    async with ctx.engine.begin() as conn:
        await review.annotate(
            conn,
            ctx.schema,
            month=month,
            service=body.service,
            item=body.item,
            action=body.action,
            now_ms=now,
        )
    return Response(orjson.dumps(body.model_dump()), media_type="application/json")
