"""Routes of the sla-engine: calendars, policies, maintenance windows, clocks, availability."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from pacta.auth import AdminKey, ReaderKey
from pacta.calendars import BUILTIN_CALENDARS
from pacta.problems import Problem, validation_errors
from sla_engine.api.answers import answers
from sla_engine.api.clocks import NameQuery
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
from sla_engine.domain.policies import CalendarSpec, Policy, PolicySpec
from sla_engine.resources.calendar_feed import publish, publish_policy
from sla_engine.resources.registry import (
    Recorded,
    VersionConflict,
    create_window,
    delete_resource,
    load_registry,
    put_resource,
)
from sla_engine.resources.registry import list_windows as stored_windows

router = APIRouter(prefix="/v1", responses=answers(401, 422))
"""Calendars, policies and maintenance windows (`api.clocks` has the live views)."""


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise Problem(400, "Malformed JSON", "the body is not valid JSON") from None


def _validate(model: type[Any], data: Any) -> Any:
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
async def list_calendars(request: Request, _: ReaderKey) -> CalendarList:
    registry = request.app.state.registry
    items = [_calendar_view(n, c, True) for n, c in BUILTIN_CALENDARS.items()]
    items += [
        _calendar_view(n, c, False, registry.origins.get(("calendar", n), "api"), registry=registry)
        for n, c in sorted(registry.calendars.items())
    ]
    return CalendarList(items=items)


@router.get(
    "/calendars/{name}", tags=["calendars"], response_model=NamedCalendar, responses=answers(404)
)
async def get_calendar(request: Request, name: ResourceName, _: ReaderKey) -> NamedCalendar:
    registry = request.app.state.registry
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
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": with_effective_from(CalendarSpec.model_json_schema())
                }
            },
        }
    },
)
async def put_calendar(
    request: Request,
    response: Response,
    name: ResourceName,
    _: AdminKey,
    effective_from: EffectiveFromQuery = None,
) -> NamedCalendar:
    if name in BUILTIN_CALENDARS:
        raise Problem(409, "Conflict", f"calendar {name!r} is built in and cannot be changed")
    body = await _body(request)
    starts = effective_from_of(body, effective_from)
    expected = expected_version_of(body)
    spec: CalendarSpec = _validate(CalendarSpec, body)
    calendar = spec.to_calendar(name)
    async with request.app.state.engine.begin() as conn:
        recorded = await _record(conn, "calendar", name, spec, starts, expected)
        if recorded.changed:
            await publish(conn, _prefix(request), name, calendar)
        fresh = await load_registry(conn)
    _ring(request)
    request.app.state.registry.replace_with(fresh)
    if recorded.changed and not recorded.created:
        # the policies on it measure their tickets and this month by it from its instant on
        await _replan_outages(request, everything=True, since_ms=recorded.since_ms)
    response.status_code = 201 if recorded.created else 200
    return _calendar_view(name, calendar, False, registry=fresh)


@router.delete(
    "/calendars/{name}", tags=["calendars"], status_code=204, responses=answers(403, 404, 409)
)
async def delete_calendar(
    request: Request, name: ResourceName, _: AdminKey, effective_from: EffectiveFromQuery = None
) -> Response:
    registry = request.app.state.registry
    if name in BUILTIN_CALENDARS:
        raise Problem(409, "Conflict", f"calendar {name!r} is built in and cannot be deleted")
    users = sorted(p.name for p in registry.policies.values() if name in p.calendar_names())
    if users:
        raise Problem(409, "Conflict", f"calendar {name!r} is used by policies {users}")
    async with request.app.state.engine.begin() as conn:
        found = await delete_resource(
            conn, kind="calendar", name=name, effective_from=effective_from_of(None, effective_from)
        )
        if found:
            await publish(conn, _prefix(request), name, None)
        fresh = await load_registry(conn)
    if not found:
        raise Problem(404, "Not found", f"calendar {name!r} does not exist")
    _ring(request)
    registry.replace_with(fresh)
    return Response(status_code=204)


async def _record(
    conn: Any,
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


def _prefix(request: Request) -> str:
    return str(request.app.state.settings.topic_prefix)


def _ring(request: Request) -> None:
    """Wake the outbox relay: what was just committed goes to Kafka now, not at its next poll."""
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()


def _calendar_view(
    name: str, calendar: Any, builtin: bool, origin: str = "api", *, registry: Any = None
) -> NamedCalendar:
    spec = CalendarSpec.from_calendar(calendar)
    origin = "builtin" if builtin else origin
    current = version_view(registry, "calendar", name)
    return NamedCalendar(**spec.model_dump(), name=name, builtin=builtin, origin=origin, **current)


# ---- policies -----------------------------------------------------------------------------


@router.get("/policies", tags=["policies"], response_model=PolicyList)
async def list_policies(request: Request, _: ReaderKey) -> PolicyList:
    registry = request.app.state.registry
    return PolicyList(
        items=[_policy_view(registry, p) for _, p in sorted(registry.policies.items())]
    )


@router.get(
    "/policies/{name}", tags=["policies"], response_model=NamedPolicy, responses=answers(404)
)
async def get_policy(request: Request, name: ResourceName, _: ReaderKey) -> NamedPolicy:
    registry = request.app.state.registry
    policy = registry.policies.get(name)
    if policy is None:
        raise Problem(404, "Not found", f"policy {name!r} does not exist")
    return _policy_view(registry, policy)


def _policy_view(registry: Any, policy: Policy) -> NamedPolicy:
    origin = registry.origins.get(("policy", policy.name), "api")
    current = version_view(registry, "policy", policy.name)
    return NamedPolicy(**policy.model_dump(), origin=origin, **current)


@router.put(
    "/policies/{name}",
    tags=["policies"],
    response_model=NamedPolicy,
    responses={201: {"model": NamedPolicy, "description": "Created"}, **answers(400, 403, 409)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": with_effective_from(PolicySpec.model_json_schema())}
            },
        }
    },
)
async def put_policy(
    request: Request,
    response: Response,
    name: ResourceName,
    _: AdminKey,
    effective_from: EffectiveFromQuery = None,
) -> NamedPolicy:
    registry = request.app.state.registry
    body = await _body(request)
    starts = effective_from_of(body, effective_from)
    expected = expected_version_of(body)
    spec: PolicySpec = _validate(PolicySpec, body)
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
    async with request.app.state.engine.begin() as conn:
        recorded = await _record(conn, "policy", name, spec, starts, expected)
        if recorded.changed:
            await publish_policy(conn, _prefix(request), name)
        fresh = await load_registry(conn)
    _ring(request)
    previous = registry.policies.get(name)
    registry.replace_with(fresh)
    if recorded.changed:
        await _replan_outages(request, previous, policy, since_ms=recorded.since_ms)
    response.status_code = 201 if recorded.created else 200
    return _policy_view(registry, policy)


@router.delete("/policies/{name}", tags=["policies"], status_code=204, responses=answers(403, 404))
async def delete_policy(
    request: Request, name: ResourceName, _: AdminKey, effective_from: EffectiveFromQuery = None
) -> Response:
    starts = effective_from_of(None, effective_from)
    async with request.app.state.engine.begin() as conn:
        found = await delete_resource(conn, kind="policy", name=name, effective_from=starts)
        if found:
            await publish_policy(conn, _prefix(request), name)
        fresh = await load_registry(conn)
    if found is None:
        raise Problem(404, "Not found", f"policy {name!r} does not exist")
    _ring(request)
    previous = request.app.state.registry.policies.get(name)
    request.app.state.registry.replace_with(fresh)
    await _replan_outages(request, previous, since_ms=found.since_ms)
    return Response(status_code=204)


def _calendar_fields(spec: PolicySpec, calendar: str) -> list[str]:
    """Where a policy body names `calendar`."""
    fields = ["calendar"] if spec.calendar == calendar else []
    if spec.availability is not None and spec.availability.calendar == calendar:
        fields.append("availability.calendar")
    return fields


async def _replan_outages(
    request: Request, *policies: Policy | None, everything: bool = False, since_ms: int
) -> None:
    """This month of the services the policy covered or covers is measured against the
    policies as they now are, and so are open tickets from this instant on (the keeper's
    timer task applies it)."""
    names = {p.match.service for p in policies if p is not None}
    # a catch-all (no service named) may cover any service, and so may a calendar change
    services = None if everything or None in names else {n for n in names if n}
    outages = getattr(request.app.state, "outages", None)
    if outages is not None:
        await outages.replan_months(services, since_ms)
    keeper = getattr(request.app.state, "keeper", None)
    if keeper is not None:
        keeper.policy_changed(services, since_ms)


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
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MaintenanceWindowIn.model_json_schema()}},
        }
    },
)
async def post_window(request: Request, response: Response, _: AdminKey) -> MaintenanceWindow:
    window: MaintenanceWindowIn = _validate(MaintenanceWindowIn, await _body(request))
    window_id = window.id or f"mw-{uuid.uuid4().hex[:12]}"
    async with request.app.state.engine.begin() as conn:
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
        outages = getattr(request.app.state, "outages", None)
        dues = None
        if outages is not None:
            dues = await outages.maintenance_changed(conn, window.service, window.starts_at)
    if outages is not None and dues is not None:
        outages.committed(dues)  # its timers, now that the window is committed
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
    request: Request, _: ReaderKey, service: NameQuery = None
) -> MaintenanceList:
    async with request.app.state.engine.connect() as conn:
        rows = await stored_windows(conn, service=service)
    return MaintenanceList(
        items=[MaintenanceWindow(**{k: r[k] for k in MaintenanceWindow.model_fields}) for r in rows]
    )
