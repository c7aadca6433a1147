"""Validated bodies of on-call users and schedules, and their translation into the domain's
`Schedule` (names of users, receivers and calendars are checked against the live config by
the routes)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting.domain.schedules import WHOLE_SCHEDULE, Override, Rotation, Schedule
from pacta.durations import datetime_to_ms, parse_duration

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
Ref = Annotated[str, Field(pattern=NAME_PATTERN)]
MIN_SHIFT_S = 3_600
"""Shorter shifts are a typo (and a year of one-minute shifts is half a million of them)."""
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
"""Instants a schedule works with: far enough from year 9999 that a shift after one still
exists as a date."""


def _bounded(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("must lie between 1970 and 9000")
    return value


class UserSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receivers: list[Ref] = Field(min_length=1, max_length=32)


class RotationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Ref
    users: list[Ref] = Field(min_length=1, max_length=100)
    start: AwareDatetime
    shift: str = Field(max_length=64)
    active: Ref | None = None

    _start = field_validator("start")(_bounded)

    @field_validator("shift")
    @classmethod
    def _shift(cls, value: str) -> str:
        if parse_duration(value) < MIN_SHIFT_S:
            raise ValueError(f"duration {value!r} is shorter than an hour")
        return value


class OverrideSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Ref
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    rotation: Ref | None = None

    _bounds = field_validator("starts_at", "ends_at")(_bounded)

    @model_validator(mode="after")
    def _window(self) -> OverrideSpec:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at: must lie after starts_at")
        return self


class ScheduleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(max_length=64)
    rotations: list[RotationSpec] = Field(min_length=1, max_length=20)
    overrides: list[OverrideSpec] = Field(default_factory=list, max_length=500)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleSpec:
        seen: dict[str, int] = {}
        for i, r in enumerate(self.rotations):
            if r.name == WHOLE_SCHEDULE:
                raise ValueError(f"rotations.{i}.name: {WHOLE_SCHEDULE!r} names overrides")
            if r.name in seen:
                raise ValueError(f"rotations.{i}.name: {r.name!r} is used twice")
            seen[r.name] = i
        spans = sorted((o.starts_at, o.ends_at, j) for j, o in enumerate(self.overrides))
        for j, o in enumerate(self.overrides):
            if o.rotation is not None and o.rotation not in seen:
                raise ValueError(f"overrides.{j}.rotation: {o.rotation!r} is not a rotation here")
        for (_, end, j), (start, _, k) in pairwise(spans):
            if start < end:
                first, second = sorted((j, k))
                raise ValueError(f"overrides.{second}: overlaps overrides.{first}")
        return self

    def schedule(self, name: str) -> Schedule:
        rotations = tuple(
            Rotation(
                r.name, tuple(r.users), datetime_to_ms(r.start), parse_duration(r.shift), r.active
            )
            for r in self.rotations
        )
        overrides = tuple(
            Override(o.user, datetime_to_ms(o.starts_at), datetime_to_ms(o.ends_at), o.rotation)
            for o in self.overrides
        )
        return Schedule(name, self.timezone, rotations, overrides)
