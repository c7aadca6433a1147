"""Calendars, policies and maintenance windows: stored in PostgreSQL, cached in memory, and
loaded from YAML files at start-up (config as code: a file wins over the database for what it
names)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.logs import get_logger
from sla_engine.domain.clocks import ClockRules
from sla_engine.domain.policies import (
    CalendarSpec,
    Policy,
    PolicySpec,
    resolve_calendar,
    select_policy,
)

log = get_logger(__name__)


@dataclass
class Registry:
    """The in-memory view every event is matched against; replaced wholesale on each change."""

    calendars: dict[str, Calendar] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)

    def replace_with(self, other: Registry) -> None:
        """Take another registry's content in place (the keeper and the API share this one)."""
        self.calendars, self.policies, self.origins = other.calendars, other.policies, other.origins

    def calendar(self, name: str) -> Calendar:
        return resolve_calendar(name, self.calendars)

    def rules_for(self, service: str, customer: str | None, ticket_type: str) -> ClockRules | None:
        """The clock rules of the most specific policy covering a ticket, if any."""
        policy = select_policy(
            (p for p in self.policies.values() if p.targets), service, customer, ticket_type
        )
        if policy is None:
            return None
        return self.rules_of(policy.name)

    def rules_of(self, name: str) -> ClockRules | None:
        policy = self.policies.get(name)
        if policy is None:
            return None
        try:
            return policy.clock_rules(self.calendar(policy.calendar))
        except KeyError:
            log.error("policy refers to a missing calendar", policy=name, calendar=policy.calendar)
            return None


async def load_registry(conn: AsyncConnection) -> Registry:
    registry = Registry()
    for name, body, origin in await conn.execute(
        sa.text("SELECT name, body, origin FROM sla_engine.calendars")
    ):
        registry.calendars[name] = CalendarSpec.model_validate(body).to_calendar(name)
        registry.origins[("calendar", name)] = origin
    for name, body, origin in await conn.execute(
        sa.text("SELECT name, body, origin FROM sla_engine.policies")
    ):
        registry.policies[name] = PolicySpec.model_validate(body).named(name)
        registry.origins[("policy", name)] = origin
    return registry


async def put_resource(
    conn: AsyncConnection, *, kind: str, name: str, body: dict[str, Any], origin: str = "api"
) -> bool:
    """Create or replace; True if it was created."""
    table = _table(kind)
    result = await conn.execute(
        sa.text(
            f"INSERT INTO sla_engine.{table} (name, body, origin) "
            "VALUES (:name, CAST(:body AS jsonb), :origin) "
            "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, origin = EXCLUDED.origin, "
            "updated_at = now() RETURNING (xmax = 0) AS created"
        ),
        {"name": name, "body": orjson.dumps(body).decode(), "origin": origin},
    )
    return bool(result.scalar_one())


async def delete_resource(conn: AsyncConnection, *, kind: str, name: str) -> bool:
    result = await conn.execute(
        sa.text(f"DELETE FROM sla_engine.{_table(kind)} WHERE name = :name"), {"name": name}
    )
    return bool(result.rowcount)


def _table(kind: str) -> str:
    return {"calendar": "calendars", "policy": "policies"}[kind]


@dataclass
class ConfigFiles:
    """What a config-as-code folder defines, and which file defined each resource."""

    calendars: dict[str, CalendarSpec] = field(default_factory=dict)
    policies: dict[str, PolicySpec] = field(default_factory=dict)
    sources: dict[tuple[str, str], Path] = field(default_factory=dict)


_SECTIONS: dict[str, type[BaseModel]] = {"calendars": CalendarSpec, "policies": PolicySpec}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def read_config_dir(folder: str) -> ConfigFiles:
    """Every `*.yaml` / `*.yml` file in `folder`, each a mapping with optional `calendars:` and
    `policies:` mappings of name -> body. A bad file stops the start-up with its name: a typo
    silently ignored would leave a service without the SLA its team believes it has."""
    found = ConfigFiles()
    if not folder:
        return found
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"config folder {folder}: does not exist or is not a folder")
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        try:
            _read_config_file(path, found)
        except Exception as exc:
            raise ValueError(f"config file {path}: {exc}") from exc
    return found


def _read_config_file(path: Path, into: ConfigFiles) -> None:
    document = yaml.safe_load(path.read_text()) or {}
    if not isinstance(document, dict):
        raise ValueError("the top level must be a mapping with `calendars:` and/or `policies:`")
    unknown = sorted(str(key) for key in document if key not in _SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {unknown}; only `calendars:` and `policies:` exist")
    for section, model in _SECTIONS.items():
        entries = document.get(section) or {}
        if not isinstance(entries, dict):
            raise ValueError(f"{section}: must be a mapping of name -> body")
        target: dict[str, Any] = into.calendars if section == "calendars" else into.policies
        for key, body in entries.items():
            name = str(key)
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"{section}.{name}: a name is 1-128 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit"
                )
            if section == "calendars" and name in BUILTIN_CALENDARS:
                raise ValueError(f"{section}.{name}: is built in and cannot be changed")
            if (section, name) in into.sources:
                other = into.sources[(section, name)].name
                raise ValueError(f"{section}.{name}: already defined in {other}")
            try:
                target[name] = model.model_validate(body)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ValueError(f"{section}.{name}: {problems}") from None
            into.sources[(section, name)] = path


async def apply_config_dir(conn: AsyncConnection, folder: str) -> None:
    """Write the files' resources over the database's (origin `file`), after checking that
    every calendar a file's policy names exists (in the files, the database or built in)."""
    try:
        files = read_config_dir(folder)
        stored = {name for (name,) in await conn.execute(sa.text(_CALENDAR_NAMES))}
        known = stored | set(files.calendars) | set(BUILTIN_CALENDARS)
        for name, policy in files.policies.items():
            for calendar in sorted(policy.named(name).calendar_names() - known):
                path = files.sources[("policies", name)]
                raise ValueError(
                    f"config file {path}: policies.{name}: calendar {calendar!r} is not defined"
                )
    except ValueError as exc:
        log.error("config as code rejected; not starting", error=str(exc))
        raise
    for name, spec in files.calendars.items():
        await put_resource(
            conn, kind="calendar", name=name, body=spec.model_dump(mode="json"), origin="file"
        )
    for name, pspec in files.policies.items():
        await put_resource(
            conn, kind="policy", name=name, body=pspec.model_dump(mode="json"), origin="file"
        )
    if files.calendars or files.policies:
        log.info(
            "config as code loaded",
            folder=folder,
            calendars=sorted(files.calendars),
            policies=sorted(files.policies),
        )


_CALENDAR_NAMES = "SELECT name FROM sla_engine.calendars"


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
