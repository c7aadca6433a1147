"""Response and request bodies of the sla-engine API that are not domain models."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pacta.events import EventTime, Name, Text
from sla_engine.domain.policies import CalendarSpec, Policy

WINDOW_REACH = timedelta(days=400)
"""How far from now a maintenance window may lie: after the fact as far back as events may
be (400 days), ahead of time a year and a month."""


class Versioned(BaseModel):
    """Which version a resource is (docs/design.md, "SLA clocks"): in force since `effective_from` (None: since
    always); `GET .../versions` lists them all. A PUT may name `version` (409 if another one
    is in force by then)."""

    version: int = 1
    effective_from: datetime | None = None


class NamedCalendar(CalendarSpec, Versioned):
    """A calendar as GET shows it: where it came from (`api`, `file` or `builtin`)."""

    name: str
    builtin: bool = False
    origin: str = "api"


class NamedPolicy(Policy, Versioned):
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
    starts_at: EventTime
    ends_at: EventTime
    reason: Annotated[Text, StringConstraints(max_length=1000)] | None = None
    id: Name | None = None

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _within_reach(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = (info.context or {}).get("now")
        if isinstance(now, datetime) and not now - WINDOW_REACH <= value <= now + WINDOW_REACH:
            raise ValueError("must lie within 400 days of now")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindowIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must lie after starts_at")
        return self

    def same_as(self, stored: dict[str, object]) -> bool:
        """Whether a stored window (a row) has this content: a repost is then idempotent."""
        return (
            stored["service"] == self.service
            and stored["starts_at"] == self.starts_at
            and stored["ends_at"] == self.ends_at
            and stored["reason"] == self.reason
        )


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
    policy_version: int = Field(description="the version of `policy` measuring it")
    calendar: str
    calendar_version: int = Field(description="the version of `calendar` measuring it")
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
    """Month-to-date availability of one service (docs/design.md, "Availability")."""

    service: str
    month: str
    policy: str | None
    policy_version: int | None = Field(description="the version in force now")
    calendar: str
    calendar_version: int | None
    target: float | None
    actual: float | None = Field(
        description="percent: 1 - downtime / agreed service time to date; null when nothing "
        "of the month to date was measured (before the service's first monitoring event)"
    )
    downtime_seconds: float
    agreed_service_seconds: float = Field(description="agreed service time, month to date")
    agreed_month_seconds: float = Field(description="agreed service time of the whole month")
    budget_seconds: float | None = Field(description="the whole month's error budget")
    budget_remaining_seconds: float | None
    budget_consumed: float | None = Field(description="fraction of the error budget used")
    met: bool | None = Field(description="actual >= target, month to date")
    on_track: bool | None = Field(
        description="downtime within the whole month's error budget (false once "
        "`availability_breach` fired)"
    )
    down: bool
    unmeasured_seconds: float = Field(
        description="agreed time to date that no monitoring measured (before the first "
        "monitoring event, or silent for longer than `coverage.max_silence`): left out of "
        "agreed_service_seconds"
    )
    coverage: float | None = Field(
        description="percent of the agreed time to date that was measured; null when none "
        "was agreed yet"
    )
    as_of: datetime
    down_intervals: list[tuple[datetime, datetime | None]]
