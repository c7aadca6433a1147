"""Routes of on-call: users (the receivers that reach a person), schedules, who is on call at
an instant and the shifts of a range. Changing needs the admin role; reading any valid key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from alerting import store
from alerting.context import Context
from alerting.deps import Ctx
from alerting.domain import schedules
from alerting.live import LiveConfig
from alerting.oncall_specs import EARLIEST, LATEST, NAME_PATTERN, ScheduleSpec, UserSpec
from alerting.web_helpers import READ, WRITE, body_schema, invalid, json_body, responses, validate
from pacta.auth import AdminKey, ReaderKey
from pacta.clock import now_ms
from pacta.durations import datetime_to_ms, format_timestamp_ms, parse_timestamp_ms
from pacta.problems import Problem

router = APIRouter(prefix="/v1")
Name = Annotated[str, Path(pattern=NAME_PATTERN)]
Instant = Annotated[str | None, Query(max_length=64)]
MAX_RANGE_MS = 366 * 86_400_000
DEFAULT_RANGE_MS = 7 * 86_400_000


class Items(BaseModel):
    items: list[dict[str, Any]]


def shift_view(shift: schedules.Shift) -> dict[str, Any]:
    return {
        "rotation": shift.rotation,
        "user": shift.user,
        "starts_at": format_timestamp_ms(shift.starts_at_ms),
        "ends_at": format_timestamp_ms(shift.ends_at_ms),
    }


def _instant(text: str | None, field: str, default: int) -> int:
    if text is None:
        return default
    try:
        at = parse_timestamp_ms(text)
    except ValueError as exc:
        raise invalid([{"field": field, "message": str(exc)}]) from None
    if not datetime_to_ms(EARLIEST) <= at < datetime_to_ms(LATEST):
        raise invalid([{"field": field, "message": "must lie between 1970 and 9000"}])
    return at


def schedules_naming(live: LiveConfig, user: str) -> list[str]:
    """The schedules whose rotations or overrides name `user`."""
    return sorted(
        name
        for name, s in live.schedules.items()
        if any(user in r.users for r in s.rotations) or any(o.user == user for o in s.overrides)
    )


# ---- users --------------------------------------------------------------------------------


@router.get("/users", tags=["on-call"], response_model=Items, responses=READ)
async def list_users(ctx: Ctx, _: ReaderKey) -> Items:
    users = ctx.live.users
    return Items(items=[{"name": n, "receivers": list(r)} for n, r in sorted(users.items())])


@router.get("/users/{name}", tags=["on-call"], responses={**READ, **responses(404)})
async def get_user(ctx: Ctx, name: Name, _: ReaderKey) -> dict[str, Any]:
    receivers = ctx.live.users.get(name)
    if receivers is None:
        raise Problem(404, "Not found", f"user {name!r} does not exist")
    return {"name": name, "receivers": list(receivers)}


@router.put(
    "/users/{name}",
    tags=["on-call"],
    responses={**WRITE, 201: {"description": "Created"}},
    openapi_extra=body_schema(UserSpec),
)
async def put_user(
    request: Request, response: Response, ctx: Ctx, name: Name, _: AdminKey
) -> dict[str, Any]:
    spec: UserSpec = validate(UserSpec, await json_body(request))
    errors = [
        {"field": f"receivers.{i}", "message": f"receiver {r!r} is not defined"}
        for i, r in enumerate(spec.receivers)
        if r not in ctx.live.receivers
    ]
    if errors:
        raise invalid(errors)
    async with ctx.engine.begin() as conn:
        created = await store.oncall.put(conn, table="oncall_users", name=name, body=spec.receivers)
        generation = await store.config.generation(conn)
    receivers = tuple(spec.receivers)
    ctx.live.patch(generation, ("user", name), lambda: ctx.live.set_user(name, receivers))
    response.status_code = 201 if created else 200
    return {"name": name, "receivers": spec.receivers}


@router.delete(
    "/users/{name}", tags=["on-call"], status_code=204, responses={**WRITE, **responses(404, 409)}
)
async def delete_user(ctx: Ctx, name: Name, _: AdminKey) -> Response:
    naming = schedules_naming(ctx.live, name)
    if naming:
        raise Problem(409, "Conflict", f"user {name!r} is named by schedules {naming}")
    async with ctx.engine.begin() as conn:
        found = await store.oncall.delete(conn, table="oncall_users", name=name)
        generation = await store.config.generation(conn)
    if not found and name not in ctx.live.users:
        raise Problem(404, "Not found", f"user {name!r} does not exist")
    ctx.live.patch(generation, ("user", name), lambda: ctx.live.drop_user(name))
    return Response(status_code=204)


# ---- schedules ----------------------------------------------------------------------------


def _schedule(ctx: Context, name: str) -> schedules.Schedule:
    schedule = ctx.live.schedules.get(name)
    if schedule is None:
        raise Problem(404, "Not found", f"schedule {name!r} does not exist")
    return schedule


def _unknown_names(ctx: Context, spec: ScheduleSpec) -> list[dict[str, str]]:
    users, calendars = ctx.live.users, ctx.live.calendars
    # before the calendar topic is read, a calendar may not be known yet: not an error then
    calendars_known = ctx.calendars_known
    errors = []
    for i, r in enumerate(spec.rotations):
        errors += [
            {"field": f"rotations.{i}.users.{j}", "message": f"user {u!r} is not defined"}
            for j, u in enumerate(r.users)
            if u not in users
        ]
        if r.active is not None and calendars_known and r.active not in calendars:
            errors.append(
                {"field": f"rotations.{i}.active", "message": f"calendar {r.active!r} is not known"}
            )
    errors += [
        {"field": f"overrides.{j}.user", "message": f"user {o.user!r} is not defined"}
        for j, o in enumerate(spec.overrides)
        if o.user not in users
    ]
    return errors


@router.get("/schedules", tags=["on-call"], response_model=Items, responses=READ)
async def list_schedules(ctx: Ctx, _: ReaderKey) -> Items:
    specs = ctx.live.schedule_specs
    return Items(items=[{"name": n, **b} for n, b in sorted(specs.items())])


@router.get("/schedules/{name}", tags=["on-call"], responses={**READ, **responses(404)})
async def get_schedule(ctx: Ctx, name: Name, _: ReaderKey) -> dict[str, Any]:
    body = ctx.live.schedule_specs.get(name)
    if body is None:
        raise Problem(404, "Not found", f"schedule {name!r} does not exist")
    return {"name": name, **body}


@router.put(
    "/schedules/{name}",
    tags=["on-call"],
    responses={**WRITE, 201: {"description": "Created"}},
    openapi_extra=body_schema(ScheduleSpec),
)
async def put_schedule(
    request: Request, response: Response, ctx: Ctx, name: Name, _: AdminKey
) -> dict[str, Any]:
    spec: ScheduleSpec = validate(ScheduleSpec, await json_body(request))
    errors = _unknown_names(ctx, spec)
    if errors:
        raise invalid(errors)
    body = spec.model_dump(mode="json", exclude_none=True)
    async with ctx.engine.begin() as conn:
        created = await store.oncall.put(conn, table="schedules", name=name, body=body)
        generation = await store.config.generation(conn)
    ctx.live.patch(generation, ("schedule", name), lambda: ctx.live.set_schedule(name, body))
    response.status_code = 201 if created else 200
    return {"name": name, **body}


@router.delete(
    "/schedules/{name}",
    tags=["on-call"],
    status_code=204,
    responses={**WRITE, **responses(404, 409)},
)
async def delete_schedule(ctx: Ctx, name: Name, _: AdminKey) -> Response:
    used = sorted(
        p.name for p in ctx.live.policies.values() if any(name in s.schedules for s in p.steps)
    )
    if used:
        raise Problem(409, "Conflict", f"schedule {name!r} is used by escalation policies {used}")
    async with ctx.engine.begin() as conn:
        found = await store.oncall.delete(conn, table="schedules", name=name)
        generation = await store.config.generation(conn)
    if not found and name not in ctx.live.schedules:
        raise Problem(404, "Not found", f"schedule {name!r} does not exist")
    ctx.live.patch(generation, ("schedule", name), lambda: ctx.live.drop_schedule(name))
    return Response(status_code=204)


@router.get("/schedules/{name}/on-call", tags=["on-call"], responses={**READ, **responses(404)})
async def who_is_on_call(ctx: Ctx, name: Name, _: ReaderKey, at: Instant = None) -> dict[str, Any]:
    """Who is on call at `at` (default now), and the shifts that say so."""
    schedule = _schedule(ctx, name)
    users, current = schedules.on_call(schedule, ctx.live.calendars, _instant(at, "at", now_ms()))
    return {"users": users, "shifts": [shift_view(s) for s in current]}


@router.get(
    "/schedules/{name}/shifts",
    tags=["on-call"],
    response_model=Items,
    responses={**READ, **responses(404)},
)
async def list_shifts(
    ctx: Ctx,
    name: Name,
    _: ReaderKey,
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    to: Instant = None,
) -> Items:
    """Every shift overlapping [from, to) (default: the next seven days), whole; at most 366
    days at once."""
    schedule = _schedule(ctx, name)
    start = _instant(from_, "from", now_ms())
    end = _instant(to, "to", start + DEFAULT_RANGE_MS)
    if end <= start:
        raise invalid([{"field": "to", "message": "must lie after from"}])
    if end - start > MAX_RANGE_MS:
        raise invalid([{"field": "to", "message": "at most 366 days after from"}])
    found = schedules.shifts(schedule, ctx.live.calendars, start, end)
    return Items(items=[shift_view(s) for s in found])
