"""The configuration alerting works with, held in memory: receivers, the routing tree, inhibit
rules, escalation policies, silences, on-call users and schedules, and the calendars copied
from the engine's topic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import receivers, store
from alerting.domain.escalation import Policy
from alerting.domain.muting import InhibitRule, Silence
from alerting.domain.routing import RootSpec, Route, build_tree
from alerting.domain.schedules import Schedule
from alerting.oncall_specs import ScheduleSpec
from alerting.receivers.base import ReceiverConfig
from alerting.specs import EscalationPolicySpec, InhibitRules, silence_from_row
from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.logs import get_logger

log = get_logger(__name__)


@dataclass
class LiveConfig:
    receivers: dict[str, ReceiverConfig] = field(default_factory=dict)
    tree_spec: dict[str, Any] | None = None
    tree: Route | None = None
    inhibit_spec: list[dict[str, Any]] = field(default_factory=list)
    inhibit: list[InhibitRule] = field(default_factory=list)
    policy_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    silences: list[Silence] = field(default_factory=list)
    calendars: dict[str, Calendar] = field(default_factory=lambda: dict(BUILTIN_CALENDARS))
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    users: dict[str, tuple[str, ...]] = field(default_factory=dict)  # on-call user: receivers
    schedule_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    # the generation of the snapshot in force, the newest generation applied in any way, and
    # per resource the generation of the change this instance made to it itself
    generation: int = 0
    applied: int = 0
    patched: dict[tuple[str, str], int] = field(default_factory=dict)

    def patch(self, generation: int, resource: tuple[str, str], change: Callable[[], None]) -> None:
        """Apply a change this instance committed at `generation`, unless what is in force
        already has it or something newer (a snapshot read after it, a later change)."""
        if generation <= self.generation or generation <= self.patched.get(resource, 0):
            return
        change()
        self.patched[resource] = generation
        self.applied = max(self.applied, generation)

    def set_receiver(self, name: str, body: dict[str, Any]) -> None:
        self.receivers[name] = parse_receiver(body)

    def drop_receiver(self, name: str) -> None:
        self.receivers.pop(name, None)

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

    def set_user(self, name: str, receivers: tuple[str, ...]) -> None:
        self.users[name] = receivers

    def drop_user(self, name: str) -> None:
        self.users.pop(name, None)

    def set_schedule(self, name: str, body: dict[str, Any]) -> None:
        self.schedules[name] = ScheduleSpec.model_validate(body).schedule(name)
        self.schedule_specs[name] = body

    def drop_schedule(self, name: str) -> None:
        self.schedules.pop(name, None)
        self.schedule_specs.pop(name, None)


def parse_receiver(body: dict[str, Any]) -> ReceiverConfig:
    """Validate a receiver body against its type's `Config` (ValueError for a bad type)."""
    if isinstance(body, dict) and "integrations" in body:
        body = {"type": "integrations", **body}
    kind = body.get("type") if isinstance(body, dict) else None
    module = receivers.TYPES.get(kind) if isinstance(kind, str) else None
    if module is None:
        raise ValueError(f"type: must be one of {sorted(receivers.TYPES)}")
    config: ReceiverConfig = module.Config.model_validate(body)
    return config


async def load(conn: AsyncConnection, calendars: dict[str, Calendar] | None = None) -> LiveConfig:
    """Everything from the alerting schema; a stored resource that no longer validates (a
    receiver type changed shape) is logged and left out rather than stopping the service.

    The generation is read first: what is read after it is at least that new (a snapshot may
    be newer than its number says, never older)."""
    live = LiveConfig()
    live.generation = live.applied = await store.config.generation(conn)
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
    live.silences = await load_silences(conn)
    users = await store.oncall.load_all(conn, table="oncall_users")
    live.users = {name: tuple(receivers) for name, receivers in users.items()}
    for name, body in (await store.oncall.load_all(conn, table="schedules")).items():
        try:
            live.set_schedule(name, body)
        except ValueError as exc:
            log.error("stored schedule left out", name=name, error=str(exc))
    return live


async def load_silences(conn: AsyncConnection) -> list[Silence]:
    return [silence_from_row(r) for r in await store.silences.in_force(conn)]


def replace_into(target: LiveConfig, fresh: LiveConfig) -> bool:
    """Swap in what another instance may have changed, keeping the calendar copy; a snapshot
    older than a change already in force (read before this instance's own PUT committed) is
    dropped, so no refresh brings an older configuration back."""
    if fresh.generation < target.applied:
        return False
    for name in (
        "receivers", "tree_spec", "tree", "inhibit_spec", "inhibit",
        "policy_specs", "policies", "silences", "origins",
        "users", "schedule_specs", "schedules",
    ):  # fmt: skip
        setattr(target, name, getattr(fresh, name))
    target.generation = target.applied = fresh.generation
    target.patched = {}
    return True
