"""Agreed service time under calendar versions (docs/design.md, Availability): each stretch of a period counts
in the calendar version in force in it, maintenance windows cut out. Pure, epoch ms; the
engine's month figures and reporting's recount call these same functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pacta.calendars import CALENDAR_24X7, Calendar, working_ms
from pacta.intervals import Interval, clip
from pacta.versions import Version, segments

CalendarVersions = Sequence[Version[Calendar]]
"""A calendar's versions (`pacta.versions`); a value of None is a deletion."""


def since_always(calendar: Calendar, version: int = 0) -> list[Version[Calendar]]:
    """One calendar without versions as the single version in force at every instant, so an
    unversioned calendar counts exactly as a plain `working_ms` over it."""
    return [Version(version, None, calendar)]


def as_versions(calendar: Calendar | CalendarVersions) -> CalendarVersions:
    return since_always(calendar) if isinstance(calendar, Calendar) else calendar


def working_ms_in_force(
    calendars: Calendar | CalendarVersions,
    start_ms: int,
    end_ms: int,
    *,
    fallback: Calendar = CALENDAR_24X7,
) -> int:
    """Working time of [start_ms, end_ms), each stretch in the version in force in it; a
    stretch where none is (before the first version, after a deletion) counts in `fallback`."""
    total = 0
    for lo, hi, current in segments(as_versions(calendars), start_ms, end_ms):
        calendar = fallback if current is None or current.value is None else current.value
        total += working_ms(calendar, lo, hi)
    return total


def working_ms_each(
    calendars: Calendar | CalendarVersions,
    intervals: Iterable[Interval],
    *,
    fallback: Calendar = CALENDAR_24X7,
) -> list[int]:
    """The working time of each interval, in order (downtime pieces: one outage each)."""
    versions = as_versions(calendars)
    return [working_ms_in_force(versions, s, e, fallback=fallback) for s, e in intervals]


def agreed_ms(
    calendars: Calendar | CalendarVersions,
    windows: Iterable[Interval],
    start_ms: int,
    end_ms: int,
    *,
    fallback: Calendar = CALENDAR_24X7,
) -> int:
    """Agreed service time of [start_ms, end_ms): the calendar's working time minus the working
    time inside the maintenance windows (overlapping windows count once), every instant in
    the calendar version in force at it."""
    if end_ms <= start_ms:
        return 0
    versions = as_versions(calendars)
    inside = clip(windows, start_ms, end_ms)
    return working_ms_in_force(versions, start_ms, end_ms, fallback=fallback) - sum(
        working_ms_each(versions, inside, fallback=fallback)
    )
