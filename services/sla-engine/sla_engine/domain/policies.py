"""SLA policies and calendars as configured (docs/resources.md): validated models, and policy selection.

Pure: pydantic models for the JSON / YAML forms; the arithmetic lives in calendars and clocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pacta.calendars import (
    ALL_DAY,
    BUILTIN_CALENDARS,
    WEEKDAYS,
    Calendar,
    format_hours,
    parse_holiday,
    parse_hours,
)
from pacta.durations import Duration
from pacta.events import Name, Priority, Severity, TicketType
from sla_engine.domain.rules import ClockRules, check_warn_at, warn_before_mark

_STRICT = ConfigDict(extra="forbid", frozen=True)

ResourceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
"""Names of policies and calendars: they appear in URLs, so letters, digits, `.`, `_`, `-`."""
MatchValue = Name
"""A service, customer or status to match: no control characters (PostgreSQL refuses NUL)."""
HolidayDate = Annotated[date, BeforeValidator(parse_holiday)]
DEFAULT_WARN_AT = (0.5, 0.75, 0.9)


class PolicyMatch(BaseModel):
    """Which tickets and services a policy covers; a field left out (null) matches anything."""

    model_config = _STRICT
    service: MatchValue | None = None
    customer: MatchValue | None = None
    type: list[TicketType] | None = Field(default=None, min_length=1)


class PriorityTargets(BaseModel):
    """The response and resolution targets of one priority, and optionally the share of its
    clocks of a metric that must be met over a month (`compliance`, percent: "95 % of P1
    incidents answered within 15 minutes"); reports judge each priority against it."""

    model_config = _STRICT
    response: Duration
    resolution: Duration
    # left out of the body where unset: one stored before it existed reads back the same (an
    # unchanged config file records no new version)
    compliance: float | None = Field(
        default=None, ge=0, le=100, description="percent", exclude_if=lambda v: v is None
    )


def _critical() -> list[Severity]:
    return ["critical"]


class Coverage(BaseModel):
    """How long a service may go without any monitoring event (a heartbeat included) before
    the time after is unmeasured: neither up nor down, and left out of agreed service time."""

    model_config = _STRICT
    max_silence: Duration


class AvailabilityTarget(BaseModel):
    """The availability objective of the services a policy covers."""

    model_config = _STRICT
    target: float = Field(gt=0, lt=100, description="percent, e.g. 99.9")
    calendar: ResourceName = "24x7"
    down_severities: list[Severity] = Field(default_factory=_critical, min_length=1)
    coverage: Coverage | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("down_severities")
    @classmethod
    def _unique_severities(cls, value: list[Severity]) -> list[Severity]:
        return sorted(set(value), key=value.index)


class PolicySpec(BaseModel):
    """The body of `PUT /v1/policies/{name}` (the name comes from the path)."""

    model_config = _STRICT
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    calendar: ResourceName = "24x7"
    targets: dict[Priority, PriorityTargets] = Field(default_factory=dict)
    pause_statuses: list[MatchValue] = Field(default_factory=list)
    warn_at: list[float] = Field(default_factory=lambda: list(DEFAULT_WARN_AT))
    availability: AvailabilityTarget | None = None
    warn_before: list[Duration] = Field(default_factory=list)

    @field_validator("warn_at")
    @classmethod
    def _check_warn_at(cls, value: list[float]) -> list[float]:
        return list(check_warn_at(value))

    @field_validator("warn_before")
    @classmethod
    def _sort_warn_before(cls, value: list[int]) -> list[int]:
        if any(seconds <= 0 for seconds in value):
            raise ValueError("each warn_before must be a positive duration")
        return sorted(set(value))

    @field_validator("pause_statuses")
    @classmethod
    def _unique_statuses(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @model_validator(mode="after")
    def _measures_something(self) -> PolicySpec:
        if not self.targets and self.availability is None:
            raise ValueError("a policy needs ticket targets, an availability target, or both")
        return self

    def named(self, name: str) -> Policy:
        """This body as the policy called `name`."""
        return Policy.model_validate({**self.model_dump(), "name": name})


class Policy(PolicySpec):
    """A named policy, as stored and listed."""

    name: ResourceName

    def calendar_names(self) -> set[str]:
        """Calendars this policy refers to (the API checks that they exist)."""
        names = {self.calendar}
        if self.availability is not None:
            names.add(self.availability.calendar)
        return names

    def clock_rules(
        self, calendar: Calendar, *, policy_version: int = 0, calendar_version: int = 0
    ) -> ClockRules:
        """What the ticket clocks need from this version of the policy, with its calendar (in
        the version given) resolved."""
        targets: dict[str, dict[str, int]] = {
            priority: {"response": t.response * 1_000, "resolution": t.resolution * 1_000}
            for priority, t in self.targets.items()
        }
        return ClockRules(
            policy=self.name,
            calendar=calendar,
            targets=targets,
            pause_statuses=frozenset(self.pause_statuses),
            # warn_before rides with the fractions (as minus its seconds): each fires once
            warn_at=(*self.warn_at, *(warn_before_mark(s) for s in self.warn_before)),
            policy_version=policy_version,
            calendar_version=calendar_version,
        )


def _all_day() -> dict[str, list[str]]:
    return {day: [ALL_DAY] for day in WEEKDAYS}


class CalendarSpec(BaseModel):
    """The body of `PUT /v1/calendars/{name}`; `hours` default to all day, every day."""

    model_config = _STRICT
    timezone: str = "UTC"
    hours: dict[str, list[str]] = Field(default_factory=_all_day)
    holidays: list[HolidayDate] = Field(default_factory=list)
    holiday_country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}$")] | None = None
    holiday_subdivision: str | None = None

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        week = parse_hours(value)
        if not any(week):
            raise ValueError("a calendar must have some working time in the week")
        return {day: list(spans) for day, spans in format_hours(week).items()}

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        # checked per field (not only by the model check below) so a 422 names the field
        Calendar(name="check", timezone=value)
        return value

    @field_validator("holiday_country")
    @classmethod
    def _upper_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        Calendar(name="check", holiday_country=value)
        return value.upper()

    @field_validator("holiday_subdivision")
    @classmethod
    def _check_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("holiday_country") is None:
            raise ValueError("needs a (valid) holiday_country")
        country = info.data["holiday_country"]
        try:
            Calendar(name="check", holiday_country=country, holiday_subdivision=value)
        except ValueError:
            raise ValueError(f"{value!r} is not a subdivision of {country}") from None
        return value

    @model_validator(mode="after")
    def _check_calendar(self) -> CalendarSpec:
        # time zone and holiday country are checked by building the calendar once
        self.to_calendar("check")
        return self

    def to_calendar(self, name: str) -> Calendar:
        """The calendar this body defines, under `name`."""
        return Calendar(
            name=name,
            timezone=self.timezone,
            hours=self.hours,
            holidays=self.holidays,
            holiday_country=self.holiday_country,
            holiday_subdivision=self.holiday_subdivision,
        )

    @classmethod
    def from_calendar(cls, calendar: Calendar) -> CalendarSpec:
        """The JSON form of a calendar (for GET)."""
        return cls(
            timezone=calendar.timezone,
            hours={day: list(spans) for day, spans in calendar.hours.items()},
            holidays=sorted(calendar.holiday_dates),
            holiday_country=calendar.holiday_country,
            holiday_subdivision=calendar.holiday_subdivision,
        )


def resolve_calendar(name: str, calendars: Mapping[str, Calendar]) -> Calendar:
    """The calendar called `name`: a configured one, or the built-in `24x7`."""
    found = calendars.get(name) or BUILTIN_CALENDARS.get(name)
    if found is None:
        raise KeyError(f"calendar {name!r} is not defined")
    return found


def specificity(match: PolicyMatch) -> tuple[int, int]:
    """How specific a match is: (service+customer 3 > service 2 > customer 1 > catch-all 0,
    then 1 if it restricts the ticket type)."""
    rank = 2 * (match.service is not None) + (match.customer is not None)
    return rank, int(bool(match.type))


def matches(policy: PolicySpec, service: str, customer: str | None, type: str | None) -> bool:
    """Whether `policy` covers this service / customer / ticket type.

    A policy naming a customer never covers a ticket without one; a `type` of None (not a
    ticket, e.g. monitoring) ignores the policy's type list.
    """
    match = policy.match
    if match.service is not None and match.service != service:
        return False
    if match.customer is not None and match.customer != customer:
        return False
    return type is None or not match.type or type in match.type


def select_policy(
    policies: Iterable[Policy],
    service: str,
    customer: str | None = None,
    type: str | None = None,
) -> Policy | None:
    """The most specific policy covering the ticket, or None.

    Ranking: service + customer beats service alone, which beats customer alone, which beats a
    catch-all (no service, no customer); within a rank a policy listing ticket types beats one
    that does not; remaining ties go to the alphabetically first name, so the choice never
    depends on the order policies were loaded in.
    """
    candidates = [p for p in policies if matches(p, service, customer, type)]

    def order(policy: Policy) -> tuple[int, int, str]:
        rank, typed = specificity(policy.match)
        return -rank, -typed, policy.name

    return min(candidates, key=order, default=None)


def select_availability_policy(policies: Iterable[Policy], service: str) -> Policy | None:
    """The policy whose availability target applies to `service`.

    Only policies with an availability block and no customer count (an outage hits every
    customer alike); a policy naming the service beats a catch-all, then names break ties.
    """
    candidates = [
        p
        for p in policies
        if p.availability is not None
        and p.match.customer is None
        and p.match.service in (None, service)
    ]
    return min(candidates, key=lambda p: (p.match.service is None, p.name), default=None)


def load_policies(documents: Mapping[str, Any]) -> list[Policy]:
    """Policies from a config-as-code mapping of name -> body (as parsed from YAML)."""
    return [PolicySpec.model_validate(body).named(name) for name, body in documents.items()]
