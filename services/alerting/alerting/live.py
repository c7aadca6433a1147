"""The configuration alerting works with, held in memory: receivers, the routing tree, inhibit
rules, escalation policies, silences, and the calendars copied from the engine's topic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import receivers, store
from alerting.domain.escalation import Policy
from alerting.domain.muting import InhibitRule, Silence
from alerting.domain.routing import RootSpec, Route, build_tree
from alerting.specs import EscalationPolicySpec, InhibitRules, silence_from_row
from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.logs import get_logger

log = get_logger(__name__)


@dataclass
class LiveConfig:
    receivers: dict[str, BaseModel] = field(default_factory=dict)
    tree_spec: dict[str, Any] | None = None
    tree: Route | None = None
    inhibit_spec: list[dict[str, Any]] = field(default_factory=list)
    inhibit: list[InhibitRule] = field(default_factory=list)
    policy_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    silences: list[Silence] = field(default_factory=list)
    calendars: dict[str, Calendar] = field(default_factory=lambda: dict(BUILTIN_CALENDARS))
    origins: dict[tuple[str, str], str] = field(default_factory=dict)

    def set_receiver(self, name: str, body: dict[str, Any]) -> None:
        self.receivers[name] = parse_receiver(body)

    def set_tree(self, body: dict[str, Any] | None) -> None:
        self.tree_spec = body
        self.tree = build_tree(RootSpec.model_validate(body)) if body is not None else None

    def set_inhibit(self, items: list[dict[str, Any]]) -> None:
        rules = InhibitRules.model_validate({"items": items})
        self.inhibit_spec = items
        self.inhibit = [r.rule() for r in rules.items]

    def set_policy(self, name: str, body: dict[str, Any]) -> None:
        self.policy_specs[name] = body
        self.policies[name] = EscalationPolicySpec.model_validate(body).policy(name)

    def drop_policy(self, name: str) -> None:
        self.policy_specs.pop(name, None)
        self.policies.pop(name, None)


def parse_receiver(body: dict[str, Any]) -> BaseModel:
    """Validate a receiver body against its type's `Config` (ValueError for a bad type)."""
    kind = body.get("type") if isinstance(body, dict) else None
    module = receivers.TYPES.get(kind) if isinstance(kind, str) else None
    if module is None:
        raise ValueError(f"type: must be one of {sorted(receivers.TYPES)}")
    config: BaseModel = module.Config.model_validate(body)
    return config


async def load(conn: AsyncConnection, calendars: dict[str, Calendar] | None = None) -> LiveConfig:
    """Everything from the alerting schema; a stored resource that no longer validates (a
    receiver type changed shape) is logged and left out rather than stopping the service."""
    live = LiveConfig()
    if calendars is not None:
        live.calendars = calendars
    for row in await store.config.load_all(conn):
        kind, name, body = row.kind, row.name, row.body
        try:
            if kind == "receiver":
                live.set_receiver(name, body)
            elif kind == "routes":
                live.set_tree(body)
            elif kind == "inhibit_rules":
                live.set_inhibit(body)
            elif kind == "escalation_policy":
                live.set_policy(name, body)
            live.origins[(kind, name)] = row.origin
        except ValueError as exc:
            log.error("stored configuration left out", kind=kind, name=name, error=str(exc))
    live.silences = [silence_from_row(r) for r in await store.silences.in_force(conn)]
    return live


def replace_into(target: LiveConfig, fresh: LiveConfig) -> None:
    """Swap in what another instance may have changed, keeping the calendar copy."""
    for name in (
        "receivers", "tree_spec", "tree", "inhibit_spec", "inhibit",
        "policy_specs", "policies", "silences", "origins",
    ):  # fmt: skip
        setattr(target, name, getattr(fresh, name))
