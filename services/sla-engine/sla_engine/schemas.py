"""Response and request bodies of the sla-engine API that are not domain models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sla_engine.policies import CalendarSpec, Policy

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class NamedCalendar(CalendarSpec):
    """A calendar as GET shows it: where it came from (`api`, `file` or `builtin`)."""

    name: str
    builtin: bool = False
    origin: str = "api"


class NamedPolicy(Policy):
    """A policy as GET shows it: where it came from (`api`, or `file` for config as code)."""

    origin: str = "api"


class PolicyList(BaseModel):
    items: list[NamedPolicy]


class CalendarList(BaseModel):
    items: list[NamedCalendar]


class MaintenanceWindowIn(BaseModel):
    """`POST /v1/maintenance-windows`: declared ahead of time, or after the fact."""

    model_config = ConfigDict(extra="forbid")
    service: Name
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindowIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must lie after starts_at")
        return self


class MaintenanceWindow(BaseModel):
    id: str
    service: str
    starts_at: datetime
    ends_at: datetime | None
    reason: str | None
    origin: str


class MaintenanceList(BaseModel):
    items: list[MaintenanceWindow]


class ClockView(BaseModel):
    ticket_id: str
    service: str
    customer: str | None
    metric: Literal["response", "resolution"]
    policy: str
    priority: str | None
    target_seconds: float | None
    state: Literal["running", "paused", "met", "breached"]
    elapsed_seconds: float
    deadline: datetime | None
    remaining_seconds: float | None
    started_at: datetime
    stopped_at: datetime | None


class ClockList(BaseModel):
    items: list[ClockView]


class Availability(BaseModel):
    """Month-to-date availability of one service (SPEC §4.3, §6)."""

    service: str
    month: str
    policy: str | None
    calendar: str
    target: float | None
    actual: float = Field(description="percent: 1 - downtime / agreed service time to date")
    downtime_seconds: float
    agreed_service_seconds: float = Field(description="agreed service time, month to date")
    agreed_month_seconds: float = Field(description="agreed service time of the whole month")
    budget_seconds: float | None = Field(description="the whole month's error budget")
    budget_remaining_seconds: float | None
    budget_consumed: float | None = Field(description="fraction of the error budget used")
    met: bool | None
    down: bool
    as_of: datetime
    down_intervals: list[tuple[datetime, datetime | None]]
