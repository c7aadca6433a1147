"""`POST /v1/import/alertmanager`: an `alertmanager.yml` becomes Pacta's receivers, routing
tree and inhibit rules in one step (`?dry_run=true` shows the result and changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from fastapi import APIRouter, Request
from pydantic import ValidationError

from alerting import importer, store
from alerting.context import Context
from alerting.deps import Ctx
from alerting.domain.routing import RootSpec, build_tree
from alerting.live import LiveConfig, parse_receiver
from alerting.receivers.base import ReceiverConfig
from alerting.specs import InhibitRules
from alerting.web_helpers import WRITE, invalid, validate
from pacta.auth import AdminKey
from pacta.problems import Problem

router = APIRouter(prefix="/v1")
YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": {"type": "string"}}},
    }
}


@router.post("/import/alertmanager", tags=["import"], responses=WRITE, openapi_extra=YAML_BODY)
async def import_alertmanager(
    request: Request, ctx: Ctx, _: AdminKey, dry_run: bool = False
) -> dict[str, Any]:
    try:
        document = yaml.safe_load(await request.body())
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError, ValueError) as exc:
        raise Problem(400, "Malformed YAML", f"the body is not valid YAML: {exc}"[:500]) from None
    try:
        imported = importer.convert(document)
    except importer.ImportError_ as exc:
        raise invalid([{"field": exc.field, "message": exc.message}]) from None
    bodies = {name: _checked(name, body, imported) for name, body in imported.receivers.items()}
    tree: RootSpec = validate(RootSpec, imported.routes, "route")
    try:
        build_tree(tree)
    except ValueError as exc:
        raise invalid([{"field": "route", "message": str(exc)}]) from None
    rules: InhibitRules = validate(InhibitRules, {"items": imported.inhibit_rules}, "inhibit_rules")
    routes = tree.model_dump(mode="json", by_alias=True, exclude_unset=True)
    items = [r.model_dump(mode="json") for r in rules.items]
    # listed: receivers that had integrations and kept none (not those written without any)
    emptied = [
        n
        for n, b in bodies.items()
        if b.get("integrations") == []
        and (n in imported.emptied or imported.receivers[n] != {"integrations": []})
    ]
    warnings = imported.warnings + [
        f"receiver {n!r} notifies nobody: none of its integrations could be carried over"
        for n in emptied
    ]
    if not dry_run:
        await _store(ctx, bodies, routes, items)
    return {
        "receivers": sorted(bodies),
        "routes": routes,
        "inhibit_rules": {"items": items},
        "warnings": warnings,
        "dry_run": dry_run,
    }


def _checked(name: str, body: dict[str, Any], imported: importer.Imported) -> dict[str, Any]:
    """The body as Pacta stores it; an integration Pacta refuses is left out, with a warning."""
    parts = body.get("integrations", [body])
    kept: list[dict[str, Any]] = []
    for part in parts:
        try:
            config = parse_receiver(dict(part))
        except (ValidationError, ValueError) as exc:
            detail = "; ".join(
                f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                for e in getattr(exc, "errors", lambda: [])()
            ) or str(exc)
            imported.warnings.append(
                f"receiver {name!r}: a {part.get('type')} integration is not carried over: "
                + detail
            )
            continue
        kept.append(config.model_dump(mode="json"))
    if len(kept) == 1 and "integrations" not in body:
        return kept[0]
    return {"type": "integrations", "integrations": kept}


def _setter(live: LiveConfig, name: str, config: ReceiverConfig) -> Callable[[], None]:
    return lambda: live.receivers.__setitem__(name, config)


async def _store(
    ctx: Context,
    bodies: dict[str, dict[str, Any]],
    routes: dict[str, Any],
    items: list[dict[str, Any]],
) -> None:
    live = ctx.live
    async with ctx.engine.begin() as conn:
        for name, body in bodies.items():
            await store.config.put(conn, kind="receiver", name=name, body=body)
        await store.config.put(conn, kind="routes", name="root", body=routes)
        await store.config.put(conn, kind="inhibit_rules", name="all", body=items)
        generation = await store.config.generation(conn)
    for name, body in bodies.items():
        config = parse_receiver(body)
        live.patch(generation, ("receiver", name), _setter(live, name, config))
    live.patch(generation, ("routes", "root"), lambda: live.set_tree(routes))
    live.patch(generation, ("inhibit_rules", "all"), lambda: live.set_inhibit(items))
