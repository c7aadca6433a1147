"""Calendars and policies with every version (each in force from its `effective_from`), and maintenance windows: stored in
PostgreSQL and cached in memory as the registry every event is matched against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.durations import datetime_to_ms
from pacta.logs import get_logger
from pacta.versions import Version
from sla_engine.domain.policies import (
    CalendarSpec,
    Policy,
    PolicySpec,
    resolve_calendar,
)
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import RulesChange
from sla_engine.domain.timeline import NEVER_SEEN, ticket_timeline

log = get_logger(__name__)


@dataclass
class Registry:
    """The in-memory view every event is matched against; replaced wholesale on each change.
    `calendars` and `policies` are the versions in force now; `*_versions` every version."""

    calendars: dict[str, Calendar] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    policy_versions: dict[str, list[Version[Policy]]] = field(default_factory=dict)
    calendar_versions: dict[str, list[Version[Calendar]]] = field(default_factory=dict)
    records: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    _timelines: dict[tuple[Any, ...], Timeline] = field(default_factory=dict, repr=False)

    def replace_with(self, other: Registry) -> None:
        """Take another registry's content in place (the keeper and the API share this one)."""
        self.calendars, self.policies, self.origins = other.calendars, other.policies, other.origins
        self.policy_versions, self.calendar_versions = (
            other.policy_versions,
            other.calendar_versions,
        )
        self.records, self._timelines = other.records, {}

    def calendar(self, name: str) -> Calendar:
        return resolve_calendar(name, self.calendars)

    def measured_by_calendar(self, calendar: str) -> set[str] | None:
        """The services whose policies, in any version, measure by `calendar` (None: any
        service may, through a policy that names no service): what a calendar version must
        re-measure."""
        services: set[str] = set()
        for versions in self.policy_versions.values():
            for version in versions:
                policy = version.value
                if policy is None or calendar not in policy.calendar_names():
                    continue
                if policy.match.service is None:
                    return None
                services.add(policy.match.service)
        return services

    def version_of(self, kind: str, name: str) -> int:
        """The number of the version in force now (0: none)."""
        versions = self.records.get((kind, name))
        return versions[-1]["version"] if versions else 0

    def timeline(
        self, service: str, customer: str | None, ticket_type: str, known_since_ms: int
    ) -> Timeline:
        """The rules of a ticket over its life (cached: a backfill asks for the same keys)."""
        # only the first versions' recording instants tell two tickets' knowledge apart
        firsts = sum(
            1
            for vs in self.policy_versions.values()
            for v in vs
            if v.effective_from_ms is None and known_since_ms <= v.recorded_at_ms
        )
        key = (service, customer, ticket_type, firsts)
        found = self._timelines.get(key)
        if found is None:
            found = self._timelines[key] = ticket_timeline(
                self.policy_versions,
                self._calendar_versions(),
                service=service,
                customer=customer,
                ticket_type=ticket_type,
                known_since_ms=known_since_ms,
            )
        return found

    def rules_for(self, service: str, customer: str | None, ticket_type: str) -> ClockRules | None:
        """The clock rules in force now of the most specific policy covering a ticket, if any."""
        initial, changes = self.timeline(service, customer, ticket_type, NEVER_SEEN)
        return changes[-1].rules if changes else initial

    def rules_of(self, name: str) -> ClockRules | None:
        """The rules in force now of the policy called `name`."""
        policy = self.policies.get(name)
        if policy is None:
            return None
        try:
            calendar = self.calendar(policy.calendar)
        except KeyError:
            log.error("policy refers to a missing calendar", policy=name, calendar=policy.calendar)
            return None
        return policy.clock_rules(
            calendar,
            policy_version=self.version_of("policy", name),
            calendar_version=self.version_of("calendar", policy.calendar) or 1,
        )

    def _calendar_versions(self) -> dict[str, list[Version[Calendar]]]:
        builtin = {n: [Version(1, None, c)] for n, c in BUILTIN_CALENDARS.items()}
        return {**self.calendar_versions, **builtin}


Timeline = tuple[ClockRules | None, list[RulesChange]]


async def load_registry(conn: AsyncConnection) -> Registry:
    registry = Registry()
    for kind in ("calendar", "policy"):
        result = await conn.execute(
            sa.text(
                "SELECT name, version, effective_from, recorded_at, body, origin "
                f"FROM sla_engine.{kind}_versions ORDER BY name, version"
            )
        )
        for name, number, effective_from, recorded_at, body, origin in result:
            record = {
                "version": number,
                "effective_from": effective_from,
                "recorded_at": recorded_at,
                "spec": body,
                "origin": origin,
            }
            registry.records.setdefault((kind, name), []).append(record)
            starts = None if effective_from is None else datetime_to_ms(effective_from)
            recorded = datetime_to_ms(recorded_at)
            if kind == "calendar":
                calendar = (
                    None if body is None else CalendarSpec.model_validate(body).to_calendar(name)
                )
                registry.calendar_versions.setdefault(name, []).append(
                    Version(number, starts, calendar, recorded)
                )
            else:
                policy = None if body is None else PolicySpec.model_validate(body).named(name)
                registry.policy_versions.setdefault(name, []).append(
                    Version(number, starts, policy, recorded)
                )
    for name, cversions in registry.calendar_versions.items():
        if cversions[-1].value is not None:
            registry.calendars[name] = cversions[-1].value
            registry.origins[("calendar", name)] = registry.records[("calendar", name)][-1][
                "origin"
            ]
    for name, pversions in registry.policy_versions.items():
        if pversions[-1].value is not None:
            registry.policies[name] = pversions[-1].value
            registry.origins[("policy", name)] = registry.records[("policy", name)][-1]["origin"]
    return registry


def older_than(fresh: Registry, current: Registry) -> bool:
    """Whether `fresh` was read before a version `current` already holds was committed (a
    refresh racing this instance's own PUT must not put the old versions back)."""
    return any(
        len(versions) > len(fresh.records.get(key, ())) for key, versions in current.records.items()
    )


def new_versions_since(old: Registry, fresh: Registry) -> int | None:
    """The earliest instant a version in `fresh` and not in `old` takes effect from (None: no
    new version; a first one without an effective date counts from its recording)."""
    starts = [
        v.recorded_at_ms if v.effective_from_ms is None else v.effective_from_ms
        for table, known in (
            (fresh.policy_versions, old.policy_versions),
            (fresh.calendar_versions, old.calendar_versions),
        )
        for name, versions in table.items()
        for v in versions
        if v.version > max((k.version for k in known.get(name, ())), default=0)
    ]
    return min(starts, default=None)


def _to_ms(instant: datetime) -> datetime:
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


class VersionConflict(Exception):
    """A PUT named the version it changes, and another one is in force (0: none)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"version {current} is in force")
        self.current = current


@dataclass(frozen=True)
class Recorded:
    """What a PUT or DELETE recorded: the version now in force, and whether it is new."""

    version: int
    created: bool  # the resource did not exist before (201)
    changed: bool  # a new version was recorded (an identical PUT records none)
    since_ms: int  # from when open and recent tickets must be measured again


async def put_resource(
    conn: AsyncConnection,
    *,
    kind: str,
    name: str,
    body: dict[str, Any] | None,
    origin: str = "api",
    effective_from: datetime | None = None,
    expected_version: int | None = None,
) -> Recorded:
    """Record a version (None as body: a deletion) unless it would change nothing: the same
    body as the version in force, with no effective date of its own, is no new version.

    A first version without `effective_from` counts since always; any later one takes effect
    at `effective_from`, by default now (the transaction's instant)."""
    table = _table(kind)
    await conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"{kind}:{name}"}
    )
    latest = (
        await conn.execute(
            sa.text(
                f"SELECT version, body, effective_from FROM sla_engine.{kind}_versions "
                "WHERE name = :name ORDER BY version DESC LIMIT 1"
            ),
            {"name": name},
        )
    ).first()
    # instants are kept to the millisecond, as every clock counts them
    now = _to_ms((await conn.execute(sa.text("SELECT now()"))).scalar_one())
    effective_from = None if effective_from is None else _to_ms(effective_from)
    exists = latest is not None and latest.body is not None
    current = latest.version if exists and latest is not None else 0
    if expected_version is not None and expected_version != current:
        raise VersionConflict(current)
    if (
        latest is not None
        and latest.body == body
        and effective_from in (None, latest.effective_from)
    ):
        return Recorded(latest.version, False, False, datetime_to_ms(now))
    number = 1 if latest is None else latest.version + 1
    starts = effective_from if (effective_from is not None or latest is not None) else None
    if latest is not None and starts is None:
        starts = now
    await conn.execute(
        sa.text(
            f"INSERT INTO sla_engine.{kind}_versions "
            "(name, version, effective_from, recorded_at, body, origin) "
            "VALUES (:name, :version, :starts, now(), CAST(:body AS jsonb), :origin)"
        ),
        {
            "name": name,
            "version": number,
            "starts": starts,
            "body": None if body is None else orjson.dumps(body).decode(),
            "origin": origin,
        },
    )
    if body is None:
        await conn.execute(
            sa.text(f"DELETE FROM sla_engine.{table} WHERE name = :name"), {"name": name}
        )
    else:
        await conn.execute(
            sa.text(
                f"INSERT INTO sla_engine.{table} (name, body, origin) "
                "VALUES (:name, CAST(:body AS jsonb), :origin) "
                "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, origin = EXCLUDED.origin, "
                "updated_at = now()"
            ),
            {"name": name, "body": orjson.dumps(body).decode(), "origin": origin},
        )
    since = datetime_to_ms(starts if starts is not None else now)
    return Recorded(number, not exists, True, since)


async def delete_resource(
    conn: AsyncConnection, *, kind: str, name: str, effective_from: datetime | None = None
) -> Recorded | None:
    """Record the deletion as a version, from `effective_from` (default now) on; None if
    there is nothing to delete."""
    found = await conn.execute(
        sa.text(f"SELECT 1 FROM sla_engine.{_table(kind)} WHERE name = :name"), {"name": name}
    )
    if found.first() is None:
        return None
    return await put_resource(conn, kind=kind, name=name, body=None, effective_from=effective_from)


async def versions_of(conn: AsyncConnection, *, kind: str, name: str) -> list[dict[str, Any]]:
    """Every version of a resource, oldest first."""
    result = await conn.execute(
        sa.text(
            "SELECT version, effective_from, recorded_at, body, origin "
            f"FROM sla_engine.{kind}_versions WHERE name = :name ORDER BY version"
        ),
        {"name": name},
    )
    return [dict(r._mapping) for r in result]


def _table(kind: str) -> str:
    return {"calendar": "calendars", "policy": "policies"}[kind]


# ---- maintenance windows ------------------------------------------------------------------


async def add_window(
    conn: AsyncConnection,
    *,
    window_id: str,
    service: str,
    starts_at: datetime,
    ends_at: datetime | None,
    reason: str | None,
    origin: str,
) -> None:
    await conn.execute(
        sa.text(
            "INSERT INTO sla_engine.maintenance_windows (id, service, starts_at, ends_at, reason, origin) "
            "VALUES (:id, :service, :starts_at, :ends_at, :reason, :origin) "
            "ON CONFLICT (id) DO UPDATE SET ends_at = EXCLUDED.ends_at"
        ),
        {
            "id": window_id,
            "service": service,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "reason": reason,
            "origin": origin,
        },
    )


async def create_window(
    conn: AsyncConnection,
    *,
    window_id: str,
    service: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None,
) -> dict[str, Any] | None:
    """Insert a window declared through the API; None if created, else the window stored under
    that id (never changed: an id names one window)."""
    result = await conn.execute(
        sa.text(
            "INSERT INTO sla_engine.maintenance_windows (id, service, starts_at, ends_at, reason, origin) "
            "VALUES (:id, :service, :starts_at, :ends_at, :reason, 'api') "
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        ),
        {
            "id": window_id,
            "service": service,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "reason": reason,
        },
    )
    if result.first() is not None:
        return None
    found = await conn.execute(
        sa.text("SELECT * FROM sla_engine.maintenance_windows WHERE id = :id"), {"id": window_id}
    )
    return dict(found.one()._mapping)


async def list_windows(conn: AsyncConnection, *, service: str | None) -> list[dict[str, Any]]:
    where = "WHERE service = :service" if service else ""
    result = await conn.execute(
        sa.text(f"SELECT * FROM sla_engine.maintenance_windows {where} ORDER BY starts_at"),
        {"service": service} if service else {},
    )
    return [dict(r._mapping) for r in result]
