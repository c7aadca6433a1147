"""Versions of policies and calendars over HTTP (docs/design.md, "SLA clocks"): `effective_from` on a PUT (in the
body or the query), what GET shows of the version in force, and the history of each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, TypeAdapter, ValidationError

from pacta.auth import ReaderKey
from pacta.calendars import BUILTIN_CALENDARS
from pacta.events import MAX_PAST, EventTime
from pacta.problems import Problem
from sla_engine.api.answers import answers
from sla_engine.api.deps import Context
from sla_engine.context import EngineContext
from sla_engine.domain.policies import CalendarSpec
from sla_engine.resources.registry import Registry, versions_of

router = APIRouter(prefix="/v1", responses=answers(401, 422))
ResourceName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
EffectiveFromQuery = Annotated[
    str | None,
    Query(
        description="RFC 3339 instant from which this version is in force (default: now; "
        "earlier for a correction, never in the future). May be given in the body instead."
    ),
]

_INSTANT: TypeAdapter[datetime] = TypeAdapter(EventTime)
SKEW_S = 1.0
"""How far ahead of the engine's clock an `effective_from` may lie (the client's clock)."""


class VersionItem(BaseModel):
    version: int
    effective_from: datetime | None
    """None: since always (a first version PUT without one)."""
    recorded_at: datetime | None
    """None for the built-in calendar (it has always been there)."""
    deleted: bool
    origin: str
    spec: dict[str, Any] | None
    """The body as PUT; None for a deletion."""


class VersionList(BaseModel):
    name: str
    kind: str
    items: list[VersionItem]


def effective_from_of(body: Any, query: str | None) -> datetime | None:
    """The `effective_from` of a PUT, from the body (taken out of it) or the query string;
    an instant in the past is a correction, one in the future is refused (422)."""
    given = body.pop("effective_from", None) if isinstance(body, dict) else None
    if given is not None and query is not None and given != query:
        raise _invalid("effective_from is given twice (body and query) with different values")
    raw = given if given is not None else query
    if raw is None:
        return None
    try:
        instant = _INSTANT.validate_python(raw)
    except ValidationError as exc:
        raise _invalid(f"effective_from: {exc.errors()[0]['msg']}") from None
    now = datetime.now(UTC)
    if (instant - now).total_seconds() > SKEW_S:
        raise _invalid(
            "effective_from: lies in the future; a version takes effect when it is PUT or "
            "earlier (a correction)"
        )
    if instant < now - MAX_PAST:
        raise _invalid(f"effective_from: lies more than {MAX_PAST.days} days in the past")
    return instant


def expected_version_of(body: Any) -> int | None:
    """The `version` a PUT body names (as GET shows it): the version it means to change. A
    PUT naming another version than the one in force is refused with 409 (optimistic
    concurrency: two managers editing the same policy do not overwrite each other)."""
    given = body.pop("version", None) if isinstance(body, dict) else None
    if given is None:
        return None
    if isinstance(given, bool) or not isinstance(given, int) or not 0 <= given < 2**31:
        raise Problem(
            422,
            "Invalid body",
            "version: must be the integer version the PUT changes (as GET shows it)",
            errors=[{"field": "version", "message": "must be a non-negative integer"}],
        )
    return given


def conflict(kind: str, name: str, expected: int | None, current: int) -> Problem:
    return Problem(
        409,
        "Conflict",
        f"{kind} {name!r} is at version {current}, not {expected}: GET it again and retry",
        errors=[{"field": "version", "message": f"version {current} is in force"}],
    )


def _invalid(message: str) -> Problem:
    field, _, text = message.partition(": ")
    return Problem(
        422, "Invalid body", message, errors=[{"field": "effective_from", "message": text or field}]
    )


def version_view(registry: Registry | None, kind: str, name: str) -> dict[str, Any]:
    """`version` and `effective_from` of the version in force now."""
    if registry is None or (name in BUILTIN_CALENDARS and kind == "calendar"):
        return {"version": 1, "effective_from": None}
    records = registry.records.get((kind, name)) or [{}]
    latest = records[-1]
    return {"version": latest.get("version", 1), "effective_from": latest.get("effective_from")}


async def _history(context: EngineContext, kind: str, name: str) -> VersionList:
    async with context.db.connect() as conn:
        rows = await versions_of(conn, kind=kind, name=name)
    if kind == "calendar" and name in BUILTIN_CALENDARS:
        spec = CalendarSpec.from_calendar(BUILTIN_CALENDARS[name]).model_dump(mode="json")
        builtin = VersionItem(
            version=1,
            effective_from=None,
            recorded_at=None,
            deleted=False,
            origin="builtin",
            spec=spec,
        )
        return VersionList(name=name, kind=kind, items=[builtin])
    if not rows:
        raise Problem(404, "Not found", f"{kind} {name!r} never existed")
    items = [
        VersionItem(
            version=r["version"],
            effective_from=r["effective_from"],
            recorded_at=r["recorded_at"],
            deleted=r["body"] is None,
            origin=r["origin"],
            spec=r["body"],
        )
        for r in rows
    ]
    return VersionList(name=name, kind=kind, items=items)


@router.get(
    "/policies/{name}/versions",
    tags=["policies"],
    response_model=VersionList,
    responses=answers(404),
)
async def policy_versions(context: Context, name: ResourceName, _: ReaderKey) -> VersionList:
    """Every version of the policy, oldest first, a deletion included."""
    return await _history(context, "policy", name)


@router.get(
    "/calendars/{name}/versions",
    tags=["calendars"],
    response_model=VersionList,
    responses=answers(404),
)
async def calendar_versions(context: Context, name: ResourceName, _: ReaderKey) -> VersionList:
    """Every version of the calendar, oldest first, a deletion included."""
    return await _history(context, "calendar", name)


def with_effective_from(schema: dict[str, Any]) -> dict[str, Any]:
    """A PUT body's JSON schema with the `effective_from` it may carry."""
    properties = {
        **schema.get("properties", {}),
        "effective_from": {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
            "description": "from when this version is in force (default: now)",
        },
        "version": {
            "type": "integer",
            "minimum": 0,
            "description": "the version this PUT changes, as GET shows it (409 if another is)",
        },
    }
    return {**schema, "properties": properties}
