"""The reporting service's wiring: one typed object built in the lifespan and handed to every
route as the `Ctx` dependency (no attributes read off `app.state` in the routes)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.settings import Role
from reporting.settings import ReportingSettings
from reporting.throttle import Throttle


@dataclass(slots=True)
class Reporting:
    """What the routes need: settings, the database, the schema and the keys."""

    settings: ReportingSettings
    engine: AsyncEngine
    schema: str
    api_keys: dict[str, Role]
    logins: Throttle = field(default_factory=Throttle)
    outbox_wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a revision wrote outbox rows: the relay produces them without waiting."""


def context(request: Request) -> Reporting:
    found: Reporting = request.app.state.reporting
    return found


Ctx = Annotated[Reporting, Depends(context)]
