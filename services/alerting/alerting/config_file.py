"""Configuration as code: a YAML file read at start-up (`PACTA_ALERTING_CONFIG_FILE`) with
`receivers`, `route` (Alertmanager's key for the tree), `inhibit_rules` and
`escalation_policies`; it is validated whole and written over what the API had set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import store
from alerting.domain.routing import RootSpec, build_tree, references
from alerting.live import parse_receiver
from alerting.specs import EscalationPolicySpec, InhibitRuleSpec
from pacta.logs import get_logger

log = get_logger(__name__)


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receivers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    route: RootSpec | None = None
    inhibit_rules: list[InhibitRuleSpec] | None = None
    escalation_policies: dict[str, EscalationPolicySpec] = Field(default_factory=dict)


def read(path: str) -> ConfigFile:
    """Parse and check the file; ValueError names what is wrong (start-up fails loudly)."""
    document = yaml.safe_load(Path(path).read_text()) or {}
    config = ConfigFile.model_validate(document)
    for name, body in config.receivers.items():
        try:
            parse_receiver(body)
        except ValueError as exc:
            raise ValueError(f"{path}: receivers.{name}: {exc}") from None
    return config


async def apply(conn: AsyncConnection, path: str, known_receivers: set[str]) -> None:
    if not path:
        return
    config = read(path)
    receivers = known_receivers | set(config.receivers)
    policies = set(config.escalation_policies)
    for name, pspec in config.escalation_policies.items():
        for step in pspec.steps:
            missing = [r for r in step.receivers if r not in receivers]
            if missing:
                raise ValueError(f"{path}: escalation_policies.{name}: unknown receivers {missing}")
            if step.schedules:
                # schedules are set through the API only; the file may name stored ones
                known = await store.oncall.load_all(conn, table="schedules")
                missing = [s for s in step.schedules if s not in known]
                if missing:
                    raise ValueError(
                        f"{path}: escalation_policies.{name}: unknown schedules {missing}"
                    )
    if config.route is not None:
        build_tree(config.route)
        for field, kind, name in references(config.route):
            if kind == "receiver" and name not in receivers:
                raise ValueError(f"{path}: route.{field}: receiver {name!r} is not defined")
            if kind == "escalation" and name not in policies:
                raise ValueError(f"{path}: route.{field}: escalation {name!r} is not defined")
    for name, body in config.receivers.items():
        stored = parse_receiver(body).model_dump(mode="json")
        await store.config.put(conn, kind="receiver", name=name, body=stored, origin="file")
    for name, pspec in config.escalation_policies.items():
        await store.config.put(
            conn,
            kind="escalation_policy",
            name=name,
            body=pspec.model_dump(mode="json"),
            origin="file",
        )
    if config.route is not None:
        body = config.route.model_dump(mode="json", by_alias=True, exclude_unset=True)
        await store.config.put(conn, kind="routes", name="root", body=body, origin="file")
    if config.inhibit_rules is not None:
        items = [r.model_dump(mode="json") for r in config.inhibit_rules]
        await store.config.put(conn, kind="inhibit_rules", name="all", body=items, origin="file")
    log.info(
        "alerting config file loaded",
        path=path,
        receivers=sorted(config.receivers),
        escalation_policies=sorted(config.escalation_policies),
        route=config.route is not None,
    )
