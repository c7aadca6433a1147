"""A service's availability over any period, recounted from the engine's monthly facts
(effective down intervals and maintenance windows) on the availability calendar (SPEC §4.3)."""

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
        }
    )


@dataclass(frozen=True, slots=True)
class AvailabilityFigures:
    """SPEC §6 availability figures, in milliseconds (seconds only at the JSON edge)."""

    policy: str | None
    target: float | None
    downtime_ms: int
    agreed_ms: int
    agreed_period_ms: int
    budget_ms: int | None
    outages: int

    @property
    def actual(self) -> float:
        # the engine's formula, so the same milliseconds give the same float
        if self.agreed_ms <= 0:
            return 100.0
        return max(0.0, 100.0 * (1.0 - self.downtime_ms / self.agreed_ms))

    @property
    def budget_consumed(self) -> float | None:
        return None if self.budget_ms is None else self.downtime_ms / max(self.budget_ms, 1)

    @property
    def met(self) -> bool | None:
        return None if self.budget_ms is None else self.downtime_ms <= self.budget_ms

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


def period_figures(
    facts: Sequence[MonthFact],
    calendar: Calendar | CalendarVersions,
    start_ms: int,
    end_ms: int,
    now_ms: int,
) -> AvailabilityFigures:
    """Figures for [start_ms, end_ms) to date, from the facts of every calendar month the
    period touches (and the newest one before it, which sets the objective when none does).

    Agreed time runs to now within the period; the budget is the whole period's. An outage is
    one maximal stretch of counted downtime (after maintenance is cut out) holding some
    working time; one that spans the period's edge counts in both periods. Every instant
    counts in the calendar version in force at it (a record without versions: its one).
    """
    objective = max(facts, key=lambda f: f.month_start_ms)
    as_of = min(max(now_ms, start_ms), end_ms)
    windows = union(w for f in facts for w in f.maintenance)
    down = union((s, as_of if e is None else e) for f in facts for s, e in f.down)
    pieces = subtract(clip(down, start_ms, as_of), windows)
    counted = working_ms_each(calendar, pieces)
    agreed_period = agreed_ms(calendar, windows, start_ms, end_ms)
    target = objective.target
    return AvailabilityFigures(
        policy=objective.policy,
        target=target,
        downtime_ms=sum(counted),
        agreed_ms=agreed_ms(calendar, windows, start_ms, as_of),
        agreed_period_ms=agreed_period,
        budget_ms=None if target is None else budget_ms(target, agreed_period),
        outages=sum(1 for c in counted if c > 0),
    )


def combine(figures: Sequence[AvailabilityFigures]) -> AvailabilityFigures | None:
    """Several services as one (trends over all services): times and outages add up."""
    if not figures:
        return None
    return AvailabilityFigures(
        policy=None,
        target=None,
        downtime_ms=sum(f.downtime_ms for f in figures),
        agreed_ms=sum(f.agreed_ms for f in figures),
        agreed_period_ms=sum(f.agreed_period_ms for f in figures),
        budget_ms=None,
        outages=sum(f.outages for f in figures),
    )
