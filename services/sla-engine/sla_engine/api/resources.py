"""Routes of the sla-engine: calendars, policies, maintenance windows, clocks, availability."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.auth import AdminKey, ReaderKey
from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.problems import Problem, validation_errors
from sla_engine.api.answers import answers
from sla_engine.api.clocks import NameQuery
from sla_engine.api.deps import Context
from sla_engine.api.schemas import (
    CalendarList,
    MaintenanceList,
    MaintenanceWindow,
    MaintenanceWindowIn,
    NamedCalendar,
    NamedPolicy,
    PolicyList,
)
from sla_engine.api.versions import (
    EffectiveFromQuery,
    ResourceName,
    conflict,
    effective_from_of,
    expected_version_of,
    version_view,
    with_effective_from,
)
from sla_engine.context import EngineContext
from sla_engine.domain.policies import CalendarSpec, Policy, PolicySpec
from sla_engine.resources.calendar_feed import publish, publish_policy
from sla_engine.resources.registry import (
    Recorded,
    Registry,
    VersionConflict,
    create_window,
    delete_resource,
    load_registry,
    put_resource,
)
from sla_engine.resources.registry import list_windows as stored_windows

Spec = TypeVar("Spec", CalendarSpec, PolicySpec)
Model = TypeVar("Model", bound=BaseModel)

router = APIRouter(prefix="/v1", responses=answers(401, 422))
"""Calendars, policies and maintenance windows (`api.clocks` has the live views)."""


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its JSON itself (to answer 400 / 422
    with the problem documents it declares rather than FastAPI's own)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise Problem(400, "Malformed JSON", "the body is not valid JSON") from None


async def _read_put(
    request: Request, model: type[Spec], effective_from: str | None
) -> tuple[Spec, datetime | None, int | None]:
    """A PUT's body as `model`, the instant it takes effect (body or query), the version it
    names (if any)."""
    body = await _body(request)
    starts = effective_from_of(body, effective_from)
    expected = expected_version_of(body)
    return _validate(model, body), starts, expected


def _validate(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data, context={"now": datetime.now(UTC)})
    except ValidationError as exc:
        # a bad mapping key is reported at `[key]` below it; the key itself is the field
        found = [{**e, "loc": [p for p in e["loc"] if p != "[key]"]} for e in exc.errors()]
        errors = validation_errors(found)
        raise Problem(
            422,
            "Invalid body",
            "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
            errors=errors,
        ) from None


# ---- calendars ----------------------------------------------------------------------------


@router.get("/calendars", tags=["calendars"], response_model=CalendarList)
async def list_calendars(context: Context, _: ReaderKey) -> CalendarList:
    registry = context.registry
    items = [_calendar_view(n, c, True) for n, c in BUILTIN_CALENDARS.items()]
    items += [
        _calendar_view(n, c, False, registry.origins.get(("calendar", n), "api"), registry=registry)
        for n, c in sorted(registry.calendars.items())
    ]
    return CalendarList(items=items)


@router.get(
    "/calendars/{name}", tags=["calendars"], response_model=NamedCalendar, responses=answers(404)
)
async def get_calendar(context: Context, name: ResourceName, _: ReaderKey) -> NamedCalendar:
    registry = context.registry
    if name in BUILTIN_CALENDARS:
        return _calendar_view(name, BUILTIN_CALENDARS[name], True)
    if name not in registry.calendars:
        raise Problem(404, "Not found", f"calendar {name!r} does not exist")
    origin = registry.origins.get(("calendar", name), "api")
    return _calendar_view(name, registry.calendars[name], False, origin, registry=registry)


@router.put(
    "/calendars/{name}",
    tags=["calendars"],
    response_model=NamedCalendar,
    responses={201: {"model": NamedCalendar, "description": "Created"}, **answers(400, 403, 409)},
    openapi_extra=_json_body(with_effective_from(CalendarSpec.model_json_schema())),
)
async def put_calendar(
    request: Request,
    context: Context,
    response: Response,
    name: ResourceName,
    _: AdminKey,
    effective_from: EffectiveFromQuery = None,
) -> NamedCalendar:
    if name in BUILTIN_CALENDARS:
        raise Problem(409, "Conflict", f"calendar {name!r} is built in and cannot be changed")
    spec, starts, expected = await _read_put(request, CalendarSpec, effective_from)
    calendar = spec.to_calendar(name)
    async with context.db.begin() as conn:
        recorded = await _record(conn, "calendar", name, spec, starts, expected)
        if recorded.changed:
            await publish(conn, context.settings.topic_prefix, name, calendar)
        fresh = await load_registry(conn)
    context.relay.notify()
    context.registry.replace_with(fresh)
    if recorded.changed and not recorded.created:
        # the policies on it measure their tickets and this month by it from its instant on
        services = fresh.measured_by_calendar(name)
        await context.outages.replan_months(services, recorded.since_ms)
        context.keeper.policy_changed(services, recorded.since_ms)
    response.status_code = 201 if recorded.created else 200
    return _calendar_view(name, calendar, False, registry=fresh)


@router.delete(
    "/calendars/{name}", tags=["calendars"], status_code=204, responses=answers(403, 404, 409)
)
async def delete_calendar(
    context: Context, name: ResourceName, _: AdminKey, effective_from: EffectiveFromQuery = None
) -> Response:
    registry = context.registry
    if name in BUILTIN_CALENDARS:
        raise Problem(409, "Conflict", f"calendar {name!r} is built in and cannot be deleted")
    users = sorted(p.name for p in registry.policies.values() if name in p.calendar_names())
    if users:
        raise Problem(409, "Conflict", f"calendar {name!r} is used by policies {users}")
    async with context.db.begin() as conn:
        found = await delete_resource(
            conn, kind="calendar", name=name, effective_from=effective_from_of(None, effective_from)
        )
        if found:
            await publish(conn, context.settings.topic_prefix, name, None)
        fresh = await load_registry(conn)
    if not found:
        raise Problem(404, "Not found", f"calendar {name!r} does not exist")
    context.relay.notify()
    registry.replace_with(fresh)
    return Response(status_code=204)


async def _record(
    conn: AsyncConnection,
    kind: str,
    name: str,
    spec: CalendarSpec | PolicySpec,
    starts: datetime | None,
    expected: int | None,
) -> Recorded:
    """Record the PUT's version in `conn`; 409 if it names another version than the one in
    force."""
    try:
        return await put_resource(
            conn,
            kind=kind,
            name=name,
            body=spec.model_dump(mode="json"),
            effective_from=starts,
            expected_version=expected,
        )
    except VersionConflict as exc:
        raise conflict(kind, name, expected, exc.current) from None


def _calendar_view(
    name: str,
    calendar: Calendar,
    builtin: bool,
    origin: str = "api",
    *,
    registry: Registry | None = None,
) -> NamedCalendar:
    spec = CalendarSpec.from_calendar(calendar)
    origin = "builtin" if builtin else origin
    current = version_view(registry, "calendar", name)
    return NamedCalendar(**spec.model_dump(), name=name, builtin=builtin, origin=origin, **current)


# ---- policies -----------------------------------------------------------------------------


@router.get("/policies", tags=["policies"], response_model=PolicyList)
async def list_policies(context: Context, _: ReaderKey) -> PolicyList:
    registry = context.registry
    return PolicyList(
        items=[_policy_view(registry, p) for _, p in sorted(registry.policies.items())]
    )


@router.get(
    "/policies/{name}", tags=["policies"], response_model=NamedPolicy, responses=answers(404)
)
async def get_policy(context: Context, name: ResourceName, _: ReaderKey) -> NamedPolicy:
    registry = context.registry
    policy = registry.policies.get(name)
    if policy is None:
        raise Problem(404, "Not found", f"policy {name!r} does not exist")
    return _policy_view(registry, policy)


def _policy_view(registry: Registry, policy: Policy) -> NamedPolicy:
    origin = registry.origins.get(("policy", policy.name), "api")
    current = version_view(registry, "policy", policy.name)
    return NamedPolicy(**policy.model_dump(), origin=origin, **current)


@router.put(
    "/policies/{name}",
    tags=["policies"],
    response_model=NamedPolicy,
    responses={201: {"model": NamedPolicy, "description": "Created"}, **answers(400, 403, 409)},
    openapi_extra=_json_body(with_effective_from(PolicySpec.model_json_schema())),
)
async def put_policy(
    request: Request,
    context: Context,
    response: Response,
    name: ResourceName,
    _: AdminKey,
    effective_from: EffectiveFromQuery = None,
) -> NamedPolicy:
    registry = context.registry
    spec, starts, expected = await _read_put(request, PolicySpec, effective_from)
    policy = spec.named(name)
    missing = sorted(
        c
        for c in policy.calendar_names()
        if c not in registry.calendars and c not in BUILTIN_CALENDARS
    )
    if missing:
        errors = [
            {"field": field, "message": f"calendar {c!r} is not defined"}
            for c in missing
            for field in _calendar_fields(spec, c)
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise Problem(422, "Invalid body", detail, errors=errors)
    async with context.db.begin() as conn:
        recorded = await _record(conn, "policy", name, spec, starts, expected)
        if recorded.changed:
            await publish_policy(conn, context.settings.topic_prefix, name)
        fresh = await load_registry(conn)
    context.relay.notify()
    previous = registry.policies.get(name)
    registry.replace_with(fresh)
    if recorded.changed:
        await _replan_outages(context, previous, policy, since_ms=recorded.since_ms)
    response.status_code = 201 if recorded.created else 200
    return _policy_view(registry, policy)


@router.delete("/policies/{name}", tags=["policies"], status_code=204, responses=answers(403, 404))
async def delete_policy(
    context: Context, name: ResourceName, _: AdminKey, effective_from: EffectiveFromQuery = None
) -> Response:
    starts = effective_from_of(None, effective_from)
    async with context.db.begin() as conn:
        found = await delete_resource(conn, kind="policy", name=name, effective_from=starts)
        if found:
            await publish_policy(conn, context.settings.topic_prefix, name)
        fresh = await load_registry(conn)
    if found is None:
        raise Problem(404, "Not found", f"policy {name!r} does not exist")
    context.relay.notify()
    previous = context.registry.policies.get(name)
    context.registry.replace_with(fresh)
    await _replan_outages(context, previous, since_ms=found.since_ms)
    return Response(status_code=204)


def _calendar_fields(spec: PolicySpec, calendar: str) -> list[str]:
    """Where a policy body names `calendar`."""
    fields = ["calendar"] if spec.calendar == calendar else []
    if spec.availability is not None and spec.availability.calendar == calendar:
        fields.append("availability.calendar")
    return fields


async def _replan_outages(context: EngineContext, *policies: Policy | None, since_ms: int) -> None:
    """This month of the services the policy covered or covers is measured against the
    policies as they now are, and so are open tickets from this instant on (the keeper's
    timer task applies it)."""
    names = {p.match.service for p in policies if p is not None}
    # a catch-all (no service named) may cover any service
    services = None if None in names else {n for n in names if n}
    await context.outages.replan_months(services, since_ms)
    context.keeper.policy_changed(services, since_ms)


# ---- maintenance windows ------------------------------------------------------------------


@router.post(
    "/maintenance-windows",
    tags=["maintenance"],
    status_code=201,
    response_model=MaintenanceWindow,
    responses={
        200: {"model": MaintenanceWindow, "description": "The same window was posted before"},
        **answers(400, 403, 409),
    },
    openapi_extra=_json_body(MaintenanceWindowIn.model_json_schema()),
)
async def post_window(
    request: Request, context: Context, response: Response, _: AdminKey
) -> MaintenanceWindow:
    window = _validate(MaintenanceWindowIn, await _body(request))
    window_id = window.id or f"mw-{uuid.uuid4().hex[:12]}"
    async with context.db.begin() as conn:
        stored = await create_window(
            conn,
            window_id=window_id,
            service=window.service,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            reason=window.reason,
        )
        if stored is not None:
            # an id is one window: the same again is a retry, anything else a conflict
            if not window.same_as(stored):
                raise Problem(
                    409,
                    "Conflict",
                    f"maintenance window {window_id!r} exists with other content",
                    errors=[{"field": "id", "message": "is taken by another window"}],
                )
            response.status_code = 200
            return MaintenanceWindow(**{k: stored[k] for k in MaintenanceWindow.model_fields})
        dues = await context.outages.maintenance_changed(conn, window.service, window.starts_at)
    context.outages.committed(dues)  # its timers, now that the window is committed
    return MaintenanceWindow(
        id=window_id,
        service=window.service,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        reason=window.reason,
        origin="api",
    )


@router.get("/maintenance-windows", tags=["maintenance"], response_model=MaintenanceList)
async def list_windows(
    context: Context, _: ReaderKey, service: NameQuery = None
) -> MaintenanceList:
    async with context.db.connect() as conn:
        rows = await stored_windows(conn, service=service)
    return MaintenanceList(
        items=[MaintenanceWindow(**{k: r[k] for k in MaintenanceWindow.model_fields}) for r in rows]
    )
