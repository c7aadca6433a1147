"""Availability arithmetic (docs/design.md, "Availability"): downtime, agreed service time, error budget, burn rates.

Pure: intervals are half-open (start_ms, end_ms) pairs of epoch milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import ceil, floor
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pacta.agreed_time import CalendarVersions, as_versions, working_ms_in_force
from pacta.calendars import CALENDAR_24X7, Calendar, add_working_ms, wall_time_ms, working_ms
from pacta.intervals import Interval as Interval  # re-exported for the engine's modules
from pacta.intervals import clip as clip
from pacta.intervals import subtract as subtract
from pacta.intervals import union as union
from pacta.versions import segments

Measured = Calendar | CalendarVersions
"""A calendar, or every version of one (each stretch counts in the version in force in it)."""

OpenInterval = tuple[int, int | None]
"""A down interval whose end is None while its check is still firing."""

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def close_open(down: Iterable[OpenInterval], end_ms: int) -> list[Interval]:
    """Down intervals with the still-open ones (end None) running to `end_ms`."""
    return [(s, end_ms if e is None else e) for s, e in down]


def _counted(
    down: Iterable[Interval], maintenance: Iterable[Interval], start_ms: int, end_ms: int
) -> list[Interval]:
    # the service is down while any check is down (a union, never a sum), and time inside a
    # maintenance window is never downtime
    return subtract(clip(down, start_ms, end_ms), maintenance)


def downtime_ms(
    down: Iterable[Interval],
    calendar: Measured,
    maintenance: Iterable[Interval],
    start_ms: int,
    end_ms: int,
) -> int:
    """Working time of (union(down) - maintenance) inside [start_ms, end_ms)."""
    pieces = _counted(down, maintenance, start_ms, end_ms)
    return sum(working_ms_in_force(calendar, s, e) for s, e in pieces)


def agreed_ms(
    calendar: Measured, maintenance: Iterable[Interval], start_ms: int, end_ms: int
) -> int:
    """Agreed service time: the calendar's working time in the range minus maintenance."""
    windows = clip(maintenance, start_ms, end_ms)
    return working_ms_in_force(calendar, start_ms, end_ms) - sum(
        working_ms_in_force(calendar, s, e) for s, e in windows
    )


def availability_pct(downtime: int, agreed: int) -> float:
    """1 - downtime / agreed as a percentage; 100.0 when no service time was agreed."""
    if agreed <= 0:
        return 100.0
    return max(0.0, 100.0 * (1.0 - downtime / agreed))


def _exact(value: float) -> Fraction:
    # through the decimal text, so that 99.9 means 999/10 and not the nearest binary float
    return Fraction(str(value))


def budget_ms(target_pct: float, agreed: int) -> int:
    """The error budget: (1 - target) x agreed service time, rounded down to the ms."""
    if not 0.0 < target_pct < 100.0:
        raise ValueError(f"target {target_pct} must lie strictly between 0 and 100")
    return floor((100 - _exact(target_pct)) * agreed / 100)


def threshold_ms(budget: int, fraction: float) -> int:
    """Downtime at which the budget `fraction` is crossed.

    Warnings (fraction < 1) fire when downtime reaches fraction x budget; the breach
    (fraction 1) fires when downtime exceeds the budget, i.e. reaches budget + 1 ms.
    """
    if fraction >= 1.0:
        return budget + 1
    return max(1, ceil(_exact(fraction) * budget))


def crossing_instant(
    down: Iterable[OpenInterval],
    calendar: Measured,
    maintenance: Iterable[Interval],
    *,
    start_ms: int,
    end_ms: int,
    amount_ms: int,
) -> int | None:
    """Earliest instant in [start_ms, end_ms] at which downtime since start_ms reaches amount_ms.

    Open intervals are assumed to stay down until end_ms (the outage continues), so for a
    running outage this is the future instant for a timer; for past data it is the exact
    event-time instant of the crossing. None if the downtime never gets there in the range.
    """
    cumulative = 0
    versions = as_versions(calendar)
    for piece_start, piece_end in _counted(close_open(down, end_ms), maintenance, start_ms, end_ms):
        # each stretch in the calendar version in force in it (docs/design.md, "SLA clocks": policy and calendar versions)
        for lo, hi, current in segments(versions, piece_start, piece_end):
            in_force = CALENDAR_24X7 if current is None or current.value is None else current.value
            piece = working_ms(in_force, lo, hi)
            if cumulative + piece >= amount_ms:
                return add_working_ms(in_force, lo, amount_ms - cumulative)
            cumulative += piece
    return None


def budget_alert_instants(
    down: Iterable[OpenInterval],
    calendar: Measured,
    maintenance: Iterable[Interval],
    *,
    start_ms: int,
    end_ms: int,
    budget: int,
    warn_at: Sequence[float],
) -> dict[float, int | None]:
    """For each warn fraction and for 1.0 (the breach), the instant the month's downtime crosses
    it, assuming open outages continue; None where it is not crossed by `end_ms`."""
    down = list(down)
    maintenance = list(maintenance)
    return {
        fraction: crossing_instant(
            down,
            calendar,
            maintenance,
            start_ms=start_ms,
            end_ms=end_ms,
            amount_ms=threshold_ms(budget, fraction),
        )
        for fraction in (*sorted(set(warn_at)), 1.0)
    }


def budget_exhaustion_instant(
    down: Iterable[OpenInterval],
    calendar: Measured,
    maintenance: Iterable[Interval],
    *,
    start_ms: int,
    end_ms: int,
    budget: int,
) -> int | None:
    """The instant downtime exceeds the budget if open outages continue (availability_breach)."""
    return crossing_instant(
        down,
        calendar,
        maintenance,
        start_ms=start_ms,
        end_ms=end_ms,
        amount_ms=threshold_ms(budget, 1.0),
    )


def burn_rate(down_ms_in_window: int, window_ms: int, target_pct: float) -> float:
    """How many times faster than sustainable the budget burns: error ratio / (1 - target)."""
    if window_ms <= 0:
        return 0.0
    allowed = float((100 - _exact(target_pct)) / 100)
    return (down_ms_in_window / window_ms) / allowed


@dataclass(frozen=True, slots=True)
class BurnRule:
    """A multi-window burn-rate rule: both windows must burn at `factor` or faster."""

    name: str
    factor: float
    long_ms: int
    short_ms: int


@dataclass(frozen=True, slots=True)
class BurnStatus:
    """The evaluation of one rule at one instant."""

    rule: BurnRule
    long_rate: float
    short_rate: float
    firing: bool


FAST_BURN = BurnRule("fast", 14.4, 3_600_000, 300_000)
SLOW_BURN = BurnRule("slow", 6.0, 21_600_000, 1_800_000)
BURN_RULES = (FAST_BURN, SLOW_BURN)


def burn_alerts(
    down: Iterable[OpenInterval],
    calendar: Measured,
    maintenance: Iterable[Interval],
    *,
    now_ms: int,
    target_pct: float,
    rules: Sequence[BurnRule] = BURN_RULES,
) -> list[BurnStatus]:
    """Evaluate the SRE-workbook multi-window rules at `now_ms` (fast 14.4x over 1 h and 5 m,
    slow 6x over 6 h and 30 m). Rates are measured against agreed service time in each window,
    so time outside the calendar or inside maintenance neither burns nor dilutes the budget."""
    closed = close_open(down, now_ms)
    maintenance = list(maintenance)

    def rate(window: int) -> float:
        start = now_ms - window
        agreed = agreed_ms(calendar, maintenance, start, now_ms)
        return burn_rate(
            downtime_ms(closed, calendar, maintenance, start, now_ms), agreed, target_pct
        )

    statuses = []
    for rule in rules:
        long_rate, short_rate = rate(rule.long_ms), rate(rule.short_ms)
        # the long window proves the burn is significant, the short one that it is still going
        firing = long_rate >= rule.factor and short_rate >= rule.factor
        statuses.append(BurnStatus(rule, long_rate, short_rate, firing))
    return statuses


def month_bounds(month: str, tz: str) -> tuple[int, int]:
    """[start, end) of calendar month `YYYY-MM` in time zone `tz`, as epoch ms."""
    match = _MONTH.fullmatch(month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"month {month!r} is not written YYYY-MM")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"tz {tz!r} is not an IANA time zone") from None
    year, number = int(match.group(1)), int(match.group(2))
    if year < 1:
        raise ValueError(f"month {month!r} is out of range")
    following = date(year + number // 12, number % 12 + 1, 1)
    first = date(year, number, 1)
    return wall_time_ms(zone, first.toordinal()), wall_time_ms(zone, following.toordinal())
