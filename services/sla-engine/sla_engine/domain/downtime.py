"""Down intervals of monitored checks and a service's month figures (docs/design.md, "Availability").

Pure: intervals come from a check's whole journal in event time, whatever the arrival order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from pacta.agreed_time import working_ms_in_force
from pacta.calendars import CALENDAR_24X7, Calendar
from pacta.versions import Version
from sla_engine.domain.availability import (
    Interval,
    OpenInterval,
    agreed_ms,
    availability_pct,
    budget_ms,
    clip,
    close_open,
    downtime_ms,
    month_bounds,
    subtract,
    union,
)
from sla_engine.domain.coverage import Monitoring, unmeasured
from sla_engine.domain.policies import Policy

MAINTENANCE_CHECK = "maintenance"
"""The check whose firing opens a maintenance window instead of an outage (docs/integrations.md)."""

_FOREVER = 2**62  # stands for the unknown end of an open interval while merging


@dataclass(frozen=True, slots=True)
class CheckEvent:
    """One journaled monitoring event of a (service, check), as the derivation needs it."""

    occurred_ms: int
    status: str  # firing | resolved
    severity: str
    event_id: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DownInterval:
    """A check firing from `start_ms` to `end_ms` (None: still firing)."""

    check: str
    start_ms: int
    end_ms: int | None
    severity: str
    opened_by: str = ""  # the firing event's id (names the window of a maintenance check)
    labels: Mapping[str, str] = field(default_factory=dict)  # of the firing that opened it


def check_intervals(
    check: str, events: Iterable[CheckEvent], *, by_severity: bool = True
) -> list[DownInterval]:
    """The intervals in which `check` fired, from its events in any order.

    Events are taken in event time; at the same instant a resolve goes first (a check that
    resolves and fires again at one instant stays down), then firings from the least to the
    most severe (so of simultaneous firings the most severe holds). A firing while already
    firing is a repeat (Alertmanager re-sends), unless its severity differs and `by_severity`:
    then the interval is split there, since each interval carries its firing's severity. A
    resolve with nothing firing is ignored (its firing may still arrive, and then the
    re-derivation pairs them).
    """
    out: list[DownInterval] = []
    current: DownInterval | None = None
    for event in sorted(events, key=_order):
        current = _step(check, current, event, out, by_severity)
    if current is not None:
        out.append(current)
    return [iv for iv in out if iv.end_ms is None or iv.end_ms > iv.start_ms]


_RANK = {"info": 0, "warning": 1, "minor": 2, "major": 3, "critical": 4}


def _order(event: CheckEvent) -> tuple[int, int, int, str]:
    firing = event.status != "resolved"
    return event.occurred_ms, firing, _RANK.get(event.severity, 5) if firing else 0, event.event_id


def _step(
    check: str,
    current: DownInterval | None,
    event: CheckEvent,
    out: list[DownInterval],
    by_severity: bool,
) -> DownInterval | None:
    """One event of the scan: the interval open afterwards; closed ones go to `out`."""
    if event.status == "resolved":
        if current is not None:
            out.append(_closed(current, event.occurred_ms))
        return None
    if current is not None:
        if not by_severity or event.severity == current.severity:
            return current
        out.append(_closed(current, event.occurred_ms))
    return DownInterval(
        check, event.occurred_ms, None, event.severity, event.event_id, dict(event.labels)
    )


def advance(
    check: str, last: DownInterval | None, seen_until_ms: int | None, events: Iterable[CheckEvent]
) -> list[DownInterval] | None:
    """The fast path of `check_intervals` for events that come in order: from the check's last
    interval and the latest instant of its earlier events, the intervals that replace `last`
    (all of them from its start on). None when an event is older than what came before, or
    simultaneous with it and not a plain repeat: then only the whole journal gives the answer.
    """
    current = last if last is not None and last.end_ms is None else None
    out: list[DownInterval] = [] if last is None or current is not None else [last]
    until = seen_until_ms
    for event in sorted(events, key=_order):
        if until is not None and event.occurred_ms <= until:
            repeat = (
                event.occurred_ms == until
                and event.status == "firing"
                and current is not None
                and event.severity == current.severity
            )
            if repeat:
                continue
            return None
        until = event.occurred_ms
        current = _step(check, current, event, out, by_severity=True)
    if current is not None:
        out.append(current)
    return out


def _closed(interval: DownInterval, end_ms: int) -> DownInterval:
    return DownInterval(
        interval.check,
        interval.start_ms,
        end_ms,
        interval.severity,
        interval.opened_by,
        interval.labels,
    )


def down_labels(
    intervals: Iterable[DownInterval], severities: Iterable[str], at_ms: int
) -> dict[str, str]:
    """The labels of the checks down at `at_ms` (an interval ending at it still counts: a
    `recovered` at the end of an outage names what was down), merged in check order; where
    two checks disagree on a label, the first check's value stays."""
    counted = set(severities)
    merged: dict[str, str] = {}
    down = [
        iv
        for iv in intervals
        if iv.severity in counted
        and iv.start_ms <= at_ms
        and (iv.end_ms is None or iv.end_ms >= at_ms)
    ]
    for interval in sorted(down, key=lambda iv: (iv.check, iv.start_ms)):
        for key, value in interval.labels.items():
            merged.setdefault(key, value)
    return merged


def union_open(intervals: Iterable[OpenInterval]) -> list[OpenInterval]:
    """Sorted, disjoint intervals covering the same instants; an open one (end None) absorbs
    everything after its start."""
    merged = union((s, _FOREVER if e is None else e) for s, e in intervals)
    return [(s, None if e == _FOREVER else e) for s, e in merged]


def outages(intervals: Iterable[DownInterval], severities: Iterable[str]) -> list[OpenInterval]:
    """When the service is down: the union (never the sum) of the intervals of checks whose
    severity counts as down. Each element is one outage; the last may still be open."""
    counted = set(severities)
    return union_open((iv.start_ms, iv.end_ms) for iv in intervals if iv.severity in counted)


@dataclass(frozen=True, slots=True)
class Objective:
    """What a service's availability is measured against (from its availability policy)."""

    policy: str | None
    target: float | None  # percent
    calendar: Calendar
    down_severities: frozenset[str]
    warn_at: tuple[float, ...]
    policy_version: int | None = (
        None  # the versions in force now (docs/design.md, "SLA clocks": policy and calendar versions)
    )
    calendar_version: int | None = None
    calendars: tuple[Version[Calendar], ...] = ()  # every version of `calendar`, if any
    max_silence_ms: int | None = None  # coverage: silence longer than this is unmeasured

    @property
    def measured_by(self) -> Calendar | tuple[Version[Calendar], ...]:
        """What the arithmetic counts in: each stretch in the calendar version in force in it
        (month bounds stay in the time zone of the version in force now)."""
        return self.calendars or self.calendar


def objective_of(
    policy: Policy | None,
    calendar: Calendar | None = None,
    versions: tuple[int | None, int | None] = (None, None),
    calendars: Sequence[Version[Calendar]] = (),
) -> Objective:
    """The objective `policy` sets; without a policy the service is measured on 24x7 with
    critical checks counting as down, and has no target (no budget, no signals)."""
    if policy is None or policy.availability is None:
        return Objective(None, None, CALENDAR_24X7, frozenset({"critical"}), ())
    block = policy.availability
    return Objective(
        policy=policy.name,
        target=block.target,
        calendar=calendar or CALENDAR_24X7,
        down_severities=frozenset(block.down_severities),
        warn_at=tuple(policy.warn_at),
        policy_version=versions[0],
        calendar_version=versions[1],
        calendars=tuple(calendars),
        max_silence_ms=None if block.coverage is None else block.coverage.max_silence * 1000,
    )


def month_of(instant_ms: int, tz: str) -> str:
    """The `YYYY-MM` month containing the instant in time zone `tz`."""
    local = datetime.fromtimestamp(instant_ms / 1000, UTC).astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"  # %Y drops the leading zeros of year 151


def months_between(start_ms: int, end_ms: int, tz: str) -> list[str]:
    """Every month from the one containing `start_ms` to the one containing `end_ms`."""
    first, last = month_of(min(start_ms, end_ms), tz), month_of(end_ms, tz)
    year, number = int(first[:4]), int(first[5:])
    months = []
    while True:
        month = f"{year:04d}-{number:02d}"
        months.append(month)
        if month >= last:
            return months
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """A service's availability in one month as of `as_of_ms` (the month's end once over)."""

    service: str
    month: str
    objective: Objective
    start_ms: int
    end_ms: int
    as_of_ms: int
    downtime_ms: int
    agreed_month_ms: int
    agreed_to_date_ms: int
    budget_ms: int | None
    actual_pct: float | None  # None: nothing of the month to date was measured
    budget_consumed: float | None
    met: bool | None  # actual >= target (as the monthly report judges it), to date
    down: bool
    intervals: list[OpenInterval]  # effective: after maintenance, inside the month to as_of
    on_track: bool | None = None  # downtime within the whole month's budget
    maintenance: tuple[Interval, ...] = ()  # windows inside the month (open ones to as_of)
    unmeasured_ms: int = 0  # agreed time to date that no monitoring measured (not in agreed)
    coverage_pct: float | None = None  # measured share of the agreed time to date
    unmeasured: tuple[Interval, ...] = ()  # the unmeasured stretches to date, maintenance aside

    @property
    def budget_remaining_ms(self) -> int | None:
        return None if self.budget_ms is None else self.budget_ms - self.downtime_ms


def _meets(downtime: int, agreed: int, target_pct: float) -> bool:
    """1 - downtime / agreed >= target, exactly (99.9 as 999/10, not the nearest float)."""
    if agreed <= 0:
        return True  # no service time agreed yet: nothing was missed
    return downtime * 100 <= (100 - Fraction(str(target_pct))) * agreed


def month_figures(
    service: str,
    month: str,
    objective: Objective,
    down: Sequence[OpenInterval],
    maintenance: Sequence[OpenInterval],
    now_ms: int,
    monitoring: Monitoring | None = None,
    firing: Sequence[OpenInterval] = (),
) -> MonthFigures:
    """Month-to-date figures; raises ValueError for a month not written YYYY-MM.

    Agreed time to date runs from the month's start to now (or the month's end); the budget is
    the whole month's: (1 - target) x the month's agreed time, with a still-open maintenance
    window counted up to now. `met` is actual >= target to date (as the monthly report judges it); `on_track` is the
    budget view: downtime has not exceeded the whole month's budget, so it turns false exactly
    when `availability_breach` fires. Once the month is over the two agree (to the rounding of
    the budget down to the millisecond).

    `monitoring` (with `firing`, when any check of the service fired) says when the service was
    measured at all: the time before its first monitoring event and its silences are
    unmeasured, left out of agreed time (and of the budget, all but a silence still going on)
    and told as `unmeasured_ms` and `coverage_pct`; a month to date with nothing measured has
    no availability figure (`actual_pct` None), never 100 %.
    """
    calendar = objective.measured_by
    start, end = month_bounds(month, objective.calendar.timezone)
    as_of = min(max(now_ms, start), end)
    windows = close_open(maintenance, as_of)
    gaps = subtract(unmeasured(monitoring, firing, start, as_of), windows)
    unmeasured_to_date = _working(calendar, gaps)
    # the budget's month leaves out what is known to be unmeasured, not a silence going on
    # (the budget, and so each crossing instant, must not depend on when it is computed)
    known = subtract(unmeasured(monitoring, firing, start, end, open_silence=False), windows)
    agreed_month = agreed_ms(calendar, windows, start, end) - _working(calendar, known)
    agreed_to_date = agreed_ms(calendar, windows, start, as_of) - unmeasured_to_date
    closed = close_open(down, as_of)
    downtime = downtime_ms(closed, calendar, windows, start, as_of)
    budget = None if objective.target is None else budget_ms(objective.target, agreed_month)
    is_down = as_of == now_ms and any(e is None and s <= now_ms for s, e in down)
    effective: list[Interval] = subtract(clip(closed, start, as_of), windows)
    nothing_measured = agreed_to_date <= 0 and unmeasured_to_date > 0
    considered = agreed_to_date + unmeasured_to_date
    return MonthFigures(
        service=service,
        month=month,
        objective=objective,
        start_ms=start,
        end_ms=end,
        as_of_ms=as_of,
        downtime_ms=downtime,
        agreed_month_ms=agreed_month,
        agreed_to_date_ms=agreed_to_date,
        budget_ms=budget,
        actual_pct=None if nothing_measured else availability_pct(downtime, agreed_to_date),
        # a budget that rounds to 0 ms is taken as 1 ms, so the fraction stays finite
        budget_consumed=None if budget is None else downtime / max(budget, 1),
        met=None
        if objective.target is None or nothing_measured
        else _meets(downtime, agreed_to_date, objective.target),
        on_track=None if budget is None else downtime <= budget,
        down=is_down,
        intervals=[(s, None if is_down and e == as_of else e) for s, e in effective],
        maintenance=tuple(clip(windows, start, end)),
        unmeasured_ms=unmeasured_to_date,
        coverage_pct=None if considered <= 0 else 100.0 * agreed_to_date / considered,
        unmeasured=tuple(gaps),
    )


def _working(calendar: Calendar | tuple[Version[Calendar], ...], pieces: list[Interval]) -> int:
    return sum(working_ms_in_force(calendar, s, e) for s, e in pieces)
