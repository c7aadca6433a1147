"""Routes of alerting's configuration: receivers, the routing tree (and its test), inhibit
rules and escalation policies. Changing needs the admin role; reading any valid key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from alerting import receivers, store
from alerting.context import Context
from alerting.deps import Ctx
from alerting.domain.routing import RootSpec, build_tree, describe, match, references
from alerting.live import LiveConfig
from alerting.receivers import secrets
from alerting.receivers.base import ReceiverConfig
from alerting.specs import EscalationPolicySpec, InhibitRules
from alerting.web_helpers import READ, WRITE, body_schema, invalid, json_body, responses, validate
from pacta.auth import AdminKey, ReaderKey
from pacta.problems import Problem

router = APIRouter(prefix="/v1")
Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


class Items(BaseModel):
    items: list[dict[str, Any]]


class RouteTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=1024)]] = (
        Field(default_factory=dict, max_length=128)
    )
    routes: dict[str, Any] | None = None


_shown = secrets.shown


# ---- receivers ----------------------------------------------------------------------------


@router.get("/receivers", tags=["receivers"], response_model=Items, responses=READ)
async def list_receivers(ctx: Ctx, _: ReaderKey) -> Items:
    live = ctx.live
    return Items(items=[_shown(n, c) for n, c in sorted(live.receivers.items())])


@router.get("/receivers/{name}", tags=["receivers"], responses={**READ, **responses(404)})
async def get_receiver(ctx: Ctx, name: Name, _: ReaderKey) -> dict[str, Any]:
    config = ctx.live.receivers.get(name)
    if config is None:
        raise Problem(404, "Not found", f"receiver {name!r} does not exist")
    return _shown(name, config)


_RECEIVER_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [m.Config.model_json_schema() for m in receivers.TYPES.values()]
                }
            }
        },
    }
}


@router.put(
    "/receivers/{name}",
    tags=["receivers"],
    responses={**WRITE, 201: {"description": "Created"}},
    openapi_extra=_RECEIVER_SCHEMA,
)
async def put_receiver(
    request: Request, ctx: Ctx, response: Response, name: Name, _: AdminKey
) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise invalid([{"field": "body", "message": "must be a JSON object"}])
    live = ctx.live
    # a body read back from GET shows secrets as "<set>": the stored ones are kept while the
    # receiver still sends to the same place
    errors = secrets.restore(live.receivers.get(name), body)
    if errors:
        raise invalid(errors)
    config = parse_receiver_checked(body)
    stored = config.model_dump(mode="json")
    async with ctx.engine.begin() as conn:
        created = await store.config.put(conn, kind="receiver", name=name, body=stored)
        generation = await store.config.generation(conn)
    live.patch(generation, ("receiver", name), lambda: live.receivers.__setitem__(name, config))
    response.status_code = 201 if created else 200
    return _shown(name, config)


def parse_receiver_checked(body: dict[str, Any]) -> ReceiverConfig:
    if "integrations" in body:
        body.setdefault("type", "integrations")
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in receivers.TYPES:
        raise invalid([{"field": "type", "message": f"must be one of {sorted(receivers.TYPES)}"}])
    module = receivers.TYPES[kind]
    config: ReceiverConfig = validate(module.Config, body)
    return config


@router.delete(
    "/receivers/{name}",
    tags=["receivers"],
    status_code=204,
    responses={**WRITE, **responses(404, 409)},
)
async def delete_receiver(ctx: Ctx, name: Name, _: AdminKey) -> Response:
    live = ctx.live
    users = _receiver_users(live, name)
    if users:
        raise Problem(409, "Conflict", f"receiver {name!r} is used by {users}")
    async with ctx.engine.begin() as conn:
        found = await store.config.delete(conn, kind="receiver", name=name)
        generation = await store.config.generation(conn)
    if not found and name not in live.receivers:
        raise Problem(404, "Not found", f"receiver {name!r} does not exist")
    live.patch(generation, ("receiver", name), lambda: live.drop_receiver(name))
    return Response(status_code=204)


def _receiver_users(live: LiveConfig, name: str) -> list[str]:
    users = []
    if live.tree_spec is not None:
        spec = RootSpec.model_validate(live.tree_spec)
        users += [
            f"routes ({f})" for f, kind, n in references(spec) if kind == "receiver" and n == name
        ]
    for pname, policy in live.policies.items():
        if any(name in s.receivers for s in policy.steps):
            users.append(f"escalation policy {pname!r}")
    users += [f"on-call user {u!r}" for u, rs in sorted(live.users.items()) if name in rs]
    return users


# ---- routes -------------------------------------------------------------------------------


def check_tree(ctx: Context, data: Any, prefix: str = "") -> RootSpec:
    """Validate a tree as PUT /v1/routes does: grammar, durations, and every name it uses."""
    if not isinstance(data, dict):
        raise invalid([{"field": prefix or "body", "message": "must be a JSON object"}])
    spec: RootSpec = validate(RootSpec, data, prefix)
    try:
        build_tree(spec)
    except ValueError as exc:
        raise invalid([{"field": prefix or "routes", "message": str(exc)}]) from None
    live = ctx.live
    calendars_known = ctx.calendars_known
    errors = []
    for field, kind, name in references(spec):
        where = f"{prefix}.{field}" if prefix else field
        if kind == "receiver" and name not in live.receivers:
            errors.append({"field": where, "message": f"receiver {name!r} is not defined"})
        elif kind == "escalation" and name not in live.policies:
            errors.append({"field": where, "message": f"escalation policy {name!r} is not defined"})
        elif kind == "calendar" and calendars_known and name not in live.calendars:
            errors.append({"field": where, "message": f"calendar {name!r} is not known"})
    if errors:
        raise invalid(errors)
    return spec


@router.get("/routes", tags=["routes"], responses={**READ, **responses(404)})
async def get_routes(ctx: Ctx, _: ReaderKey) -> dict[str, Any]:
    live = ctx.live
    if live.tree_spec is None:
        raise Problem(404, "Not found", "no routing tree is set (PUT /v1/routes)")
    return live.tree_spec


@router.put("/routes", tags=["routes"], responses=WRITE, openapi_extra=body_schema(RootSpec))
async def put_routes(request: Request, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    spec = check_tree(ctx, await json_body(request))
    body = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    async with ctx.engine.begin() as conn:
        await store.config.put(conn, kind="routes", name="root", body=body)
        generation = await store.config.generation(conn)
    # in force for every signal consumed after this answer
    live = ctx.live
    live.patch(generation, ("routes", "root"), lambda: live.set_tree(body))
    return body


@router.post("/routes/test", tags=["routes"], responses=WRITE, openapi_extra=body_schema(RouteTest))
async def try_routes(request: Request, ctx: Ctx, _: ReaderKey) -> dict[str, Any]:
    """Where an alert with these labels would go: `amtool config routes test` over HTTP."""
    test: RouteTest = validate(RouteTest, await json_body(request))
    live = ctx.live
    if test.routes is not None:
        tree = build_tree(check_tree(ctx, test.routes, "routes"))
    elif live.tree is not None:
        tree = live.tree
    else:
        raise invalid([{"field": "routes", "message": "no routing tree is set; pass one"}])
    return {"matches": [describe(r) for r in match(tree, test.labels)]}


# ---- inhibit rules ------------------------------------------------------------------------


@router.get("/inhibit-rules", tags=["inhibit-rules"], response_model=Items, responses=READ)
async def get_inhibit_rules(ctx: Ctx, _: ReaderKey) -> Items:
    return Items(items=ctx.live.inhibit_spec)


@router.put(
    "/inhibit-rules",
    tags=["inhibit-rules"],
    response_model=Items,
    responses=WRITE,
    openapi_extra=body_schema(InhibitRules),
)
async def put_inhibit_rules(request: Request, ctx: Ctx, _: AdminKey) -> Items:
    rules: InhibitRules = validate(InhibitRules, await json_body(request))
    items = [r.model_dump(mode="json") for r in rules.items]
    async with ctx.engine.begin() as conn:
        await store.config.put(conn, kind="inhibit_rules", name="all", body=items)
        generation = await store.config.generation(conn)
    live = ctx.live
    live.patch(generation, ("inhibit_rules", "all"), lambda: live.set_inhibit(items))
    return Items(items=items)


# ---- escalation policies ------------------------------------------------------------------


@router.get(
    "/escalation-policies", tags=["escalation-policies"], response_model=Items, responses=READ
)
async def list_policies(ctx: Ctx, _: ReaderKey) -> Items:
    specs = ctx.live.policy_specs
    return Items(items=[{"name": n, **b} for n, b in sorted(specs.items())])


@router.get(
    "/escalation-policies/{name}",
    tags=["escalation-policies"],
    responses={**READ, **responses(404)},
)
async def get_policy(ctx: Ctx, name: Name, _: ReaderKey) -> dict[str, Any]:
    body = ctx.live.policy_specs.get(name)
    if body is None:
        raise Problem(404, "Not found", f"escalation policy {name!r} does not exist")
    return {"name": name, **body}


@router.put(
    "/escalation-policies/{name}",
    tags=["escalation-policies"],
    responses={**WRITE, 201: {"description": "Created"}},
    openapi_extra=body_schema(EscalationPolicySpec),
)
async def put_policy(
    request: Request, ctx: Ctx, response: Response, name: Name, _: AdminKey
) -> dict[str, Any]:
    spec: EscalationPolicySpec = validate(EscalationPolicySpec, await json_body(request))
    live = ctx.live
    errors = [
        {"field": f"steps.{i}.receivers.{j}", "message": f"receiver {r!r} is not defined"}
        for i, step in enumerate(spec.steps)
        for j, r in enumerate(step.receivers)
        if r not in live.receivers
    ]
    errors += [
        {"field": f"steps.{i}.schedules.{j}", "message": f"schedule {s!r} is not defined"}
        for i, step in enumerate(spec.steps)
        for j, s in enumerate(step.schedules)
        if s not in live.schedules
    ]
    if errors:
        raise invalid(errors)
    body = spec.model_dump(mode="json")
    for step in body["steps"]:
        if not step["schedules"]:
            del step["schedules"]  # a step without schedules reads back as it was written
    async with ctx.engine.begin() as conn:
        created = await store.config.put(conn, kind="escalation_policy", name=name, body=body)
        generation = await store.config.generation(conn)
    live.patch(generation, ("escalation_policy", name), lambda: live.set_policy(name, body))
    response.status_code = 201 if created else 200
    return {"name": name, **body}


@router.delete(
    "/escalation-policies/{name}",
    tags=["escalation-policies"],
    status_code=204,
    responses={**WRITE, **responses(404, 409)},
)
async def delete_policy(ctx: Ctx, name: Name, _: AdminKey) -> Response:
    live = ctx.live
    if live.tree_spec is not None:
        spec = RootSpec.model_validate(live.tree_spec)
        used = [f for f, kind, n in references(spec) if kind == "escalation" and n == name]
        if used:
            raise Problem(409, "Conflict", f"escalation policy {name!r} is used by routes {used}")
    async with ctx.engine.begin() as conn:
        found = await store.config.delete(conn, kind="escalation_policy", name=name)
        generation = await store.config.generation(conn)
    if not found and name not in live.policies:
        raise Problem(404, "Not found", f"escalation policy {name!r} does not exist")
    live.patch(generation, ("escalation_policy", name), lambda: live.drop_policy(name))
    return Response(status_code=204)
