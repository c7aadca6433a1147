"""Config as code: calendars and policies read from YAML files at start-up and written over
the database's (a file wins for what it names; an unchanged file records no new version)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.calendars import BUILTIN_CALENDARS
from pacta.events import EventTime
from pacta.logs import get_logger
from sla_engine.domain.policies import CalendarSpec, PolicySpec
from sla_engine.resources.registry import put_resource

log = get_logger(__name__)


@dataclass
class ConfigFiles:
    """What a config-as-code folder defines, and which file defined each resource."""

    calendars: dict[str, CalendarSpec] = field(default_factory=dict)
    policies: dict[str, PolicySpec] = field(default_factory=dict)
    sources: dict[tuple[str, str], Path] = field(default_factory=dict)
    effective: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """The `effective_from` a body gives (from then on the version counts); the same again at the next start is no
    new version, so an unchanged file never adds one."""


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
            if isinstance(body, dict) and "effective_from" in body:
                body = dict(body)
                into.effective[(section, name)] = _instant(body.pop("effective_from"))
            try:
                target[name] = model.model_validate(body)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ValueError(f"{section}.{name}: {problems}") from None
            into.sources[(section, name)] = path


def _instant(value: Any) -> datetime:
    """An `effective_from` as YAML gives it: a timestamp (YAML may have parsed it) with an
    offset, no later than now."""
    if isinstance(value, datetime):
        value = value.isoformat()
    try:
        instant = _INSTANT.validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"effective_from: {exc.errors()[0]['msg']}") from None
    if instant > datetime.now(UTC):
        raise ValueError("effective_from: lies in the future")
    return instant


_INSTANT: TypeAdapter[datetime] = TypeAdapter(EventTime)


async def apply_config_dir(conn: AsyncConnection, folder: str) -> int | None:
    """Write the files' resources over the database's (origin `file`), after checking that
    every calendar a file's policy names exists (in the files, the database or built in).
    Returns from when tickets must be measured again (None: no file changed anything)."""
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
    since: list[int] = []
    resources: list[tuple[str, str, str, BaseModel]] = [
        *(("calendar", "calendars", n, c) for n, c in files.calendars.items()),
        *(("policy", "policies", n, p) for n, p in files.policies.items()),
    ]
    for kind, section, name, spec in resources:
        recorded = await put_resource(
            conn,
            kind=kind,
            name=name,
            body=spec.model_dump(mode="json"),
            origin="file",
            effective_from=files.effective.get((section, name)),
        )
        since += [recorded.since_ms] if recorded.changed else []
    if files.calendars or files.policies:
        log.info(
            "config as code loaded",
            folder=folder,
            calendars=sorted(files.calendars),
            policies=sorted(files.policies),
        )
    return min(since, default=None)


_CALENDAR_NAMES = "SELECT name FROM sla_engine.calendars"
