"""A service's availability over any period, recounted from the engine's monthly facts on the
availability calendar (docs/reporting.md, "Availability"): only time a fact's month covers
and does not mark unmeasured can count as up; a period without any has no figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor
from typing import Any

from pacta.agreed_time import CalendarVersions, agreed_ms, working_ms_each
from pacta.calendars import Calendar
from pacta.durations import parse_timestamp_ms
from pacta.intervals import Interval, clip, subtract, union
from reporting.domain.periods import month_bounds


@dataclass(frozen=True, slots=True)
class MonthFact:
    """The newest `availability` fact of one service and one month of its calendar."""

    service: str
    month: str
    version: int
    policy: str | None
    target: float | None
    calendar: str
    month_start_ms: int
    month_end_ms: int
    down: tuple[tuple[int, int | None], ...]
    maintenance: tuple[Interval, ...]
    unmeasured: tuple[tuple[int, int | None], ...] = ()
    """Stretches with no monitoring data (coverage); an open one runs to now."""


def parse_fact(body: dict[str, Any]) -> MonthFact:
    """A fact body as the engine publishes it; facts from before the month edges were
    published lie in UTC months (the only calendar zone they could have had then)."""
    month = body["month"]
    start = body.get("month_start")
    end = body.get("month_end")
    if start is None or end is None:
        start_ms, end_ms = month_bounds(month, body.get("calendar_timezone") or "UTC")
    else:
        start_ms, end_ms = parse_timestamp_ms(start), parse_timestamp_ms(end)
    return MonthFact(
        service=body["service"],
        month=month,
        version=int(body["version"]),
        policy=body.get("policy"),
        target=body.get("target"),
        calendar=body.get("calendar") or "24x7",
        month_start_ms=start_ms,
        month_end_ms=end_ms,
        down=tuple(
            (parse_timestamp_ms(s), None if e is None else parse_timestamp_ms(e))
            for s, e in body.get("down_intervals", [])
        ),
        maintenance=tuple(
            (parse_timestamp_ms(s), parse_timestamp_ms(e))
            for s, e in body.get("maintenance_intervals", [])
        ),
        unmeasured=tuple(
            (parse_timestamp_ms(s), None if e is None else parse_timestamp_ms(e))
            for s, e in body.get("unmeasured_intervals") or []
        ),
    )


def fact_view(fact: MonthFact) -> dict[str, Any]:
    """The fact with its instants as epoch ms (stored, so a report parses no timestamps)."""
    return {k: getattr(fact, k) for k in MonthFact.__dataclass_fields__}


def from_view(view: dict[str, Any]) -> MonthFact:
    return MonthFact(
        **{
            **view,
            "down": tuple((s, e) for s, e in view["down"]),
            "maintenance": tuple((s, e) for s, e in view["maintenance"]),
            "unmeasured": tuple((s, e) for s, e in view.get("unmeasured", ())),
        }
    )


@dataclass(frozen=True, slots=True)
class AvailabilityFigures:
    """A period's availability figures, in milliseconds (seconds only at the JSON edge)."""

    policy: str | None
    target: float | None
    downtime_ms: int
    agreed_ms: int
    agreed_period_ms: int
    budget_ms: int | None
    outages: int
    unmeasured_ms: int = 0

    @property
    def actual(self) -> float | None:
        # the engine's formula, so the same milliseconds give the same float; no measured
        # agreed time: no figure (never a fulfilled 100 %)
        if self.agreed_ms <= 0:
            return None
        return max(0.0, 100.0 * (1.0 - self.downtime_ms / self.agreed_ms))

    @property
    def coverage(self) -> float | None:
        """Percent of the agreed time to date that was measured."""
        whole = self.agreed_ms + self.unmeasured_ms
        return None if whole <= 0 else 100.0 * self.agreed_ms / whole

    @property
    def budget_consumed(self) -> float | None:
        return None if self.budget_ms is None else self.downtime_ms / max(self.budget_ms, 1)

    @property
    def met(self) -> bool | None:
        """The figure shown meets its target (actual >= target, compared exactly: 2,690 s down
        in October is 99.89957 %, under 99.9 however it is rounded)."""
        if self.target is None or self.agreed_ms <= 0:
            return None
        allowed = (100 - Fraction(str(self.target))) * self.agreed_ms
        return self.downtime_ms * 100 <= allowed

    @property
    def mtbf_ms(self) -> float | None:
        """Mean time between failures: agreed service time up, per outage."""
        return None if not self.outages else (self.agreed_ms - self.downtime_ms) / self.outages

    @property
    def mtrs_ms(self) -> float | None:
        """Mean time to restore service: counted downtime per outage."""
        return None if not self.outages else self.downtime_ms / self.outages


def budget_ms(target_pct: float, agreed: int) -> int | None:
    """(1 - target) x agreed, rounded down to the ms; through the decimal text so 99.9 is
    999/10 exactly (the engine rounds the same way)."""
    if not 0.0 < target_pct < 100.0:
        return None
    return floor((100 - Fraction(str(target_pct))) * agreed / 100)


def _agreed(
    calendar: Calendar | CalendarVersions, windows: list[Interval], spans: list[Interval]
) -> int:
    return sum(agreed_ms(calendar, windows, a, b) for a, b in spans)


def period_figures(
    facts: Sequence[MonthFact],
    calendar: Calendar | CalendarVersions,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    first_ms: int | None = None,
) -> AvailabilityFigures | None:
    """Figures for [start_ms, end_ms) to date, from the facts of every calendar month the
    period touches (and the newest one before it, which sets the objective when none does);
    None when no instant of the period was measured.

    Measured time is what the facts' months cover, from `first_ms` (None: the earliest fact's
    month start; the engine marks time before a service's first event in its facts) up to
    now, less the stretches a fact marks unmeasured; the rest of the period's agreed time to
    date is `unmeasured_ms`. Agreed time runs to now within the period; the budget is the whole
    covered period's. An outage is one maximal stretch of counted downtime (after maintenance
    is cut out) holding some working time; one that spans the period's edge counts in both
    periods. Every instant counts in the calendar version in force at it.
    """
    objective = max(facts, key=lambda f: f.month_start_ms)
    as_of = min(max(now_ms, start_ms), end_ms)
    first = min(f.month_start_ms for f in facts) if first_ms is None else first_ms
    covered = clip(union((f.month_start_ms, f.month_end_ms) for f in facts), start_ms, end_ms)
    if not covered:
        return None
    windows = union(w for f in facts for w in f.maintenance)
    holes = union((s, as_of if e is None else e) for f in facts for s, e in f.unmeasured)
    to_date = clip(covered, start_ms, as_of)
    measured = subtract(clip(to_date, first, as_of), holes)
    down = union((s, as_of if e is None else e) for f in facts for s, e in f.down)
    if not measured:
        return None  # nothing watched (or all of it still to come): no figure at all
    pieces = subtract([p for a, b in measured for p in clip(down, a, b)], windows)
    counted = working_ms_each(calendar, pieces)
    agreed = _agreed(calendar, windows, measured)
    unmeasured = agreed_ms(calendar, windows, start_ms, as_of) - agreed
    agreed_period = _agreed(calendar, windows, clip(covered, max(first, start_ms), end_ms))
    target = objective.target
    return AvailabilityFigures(
        policy=objective.policy,
        target=target,
        downtime_ms=sum(counted),
        agreed_ms=agreed,
        agreed_period_ms=agreed_period,
        budget_ms=None if target is None else budget_ms(target, agreed_period),
        outages=sum(1 for c in counted if c > 0),
        unmeasured_ms=unmeasured,
    )


def combine(figures: Sequence[AvailabilityFigures | None]) -> AvailabilityFigures | None:
    """Several services as one (trends over all services): times and outages add up; services
    without a figure are left out, and none at all has none."""
    found = [f for f in figures if f is not None]
    if not found:
        return None
    return AvailabilityFigures(
        policy=None,
        target=None,
        downtime_ms=sum(f.downtime_ms for f in found),
        agreed_ms=sum(f.agreed_ms for f in found),
        agreed_period_ms=sum(f.agreed_period_ms for f in found),
        budget_ms=None,
        outages=sum(f.outages for f in found),
        unmeasured_ms=sum(f.unmeasured_ms for f in found),
    )
