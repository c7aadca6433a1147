"""Report periods in a time zone: month edges, the last complete month, trend buckets, and
the UTC days a range splits into (whole days come from the daily aggregates, edges from rows)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pacta.calendars import wall_time_ms

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)
MAX_BUCKETS = 400
"""A year and a month of daily buckets; more is a range to ask for by week or month."""
Bucket = Literal["day", "week", "month"]
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


class PeriodError(ValueError):
    """A bad period input; `field` names the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # the IANA names only: not the host's `localtime`, the `Factory` placeholder, nor the
    # leap-second `right/` and `posix/` copies (their clocks disagree with everyone's)
    return frozenset(
        z
        for z in available_timezones()
        if z not in ("localtime", "Factory", "posixrules")
        and not z.startswith(("right/", "posix/"))
    )


def zone(tz: str, field: str = "tz") -> ZoneInfo:
    if "\x00" in tz or not tz.strip():
        raise PeriodError(field, "must be an IANA time zone such as Europe/Berlin")
    if tz not in _known_zones():
        raise PeriodError(field, f"{tz!r} is not an IANA time zone such as Europe/Berlin")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise PeriodError(field, f"{tz!r} is not an IANA time zone") from None


def local_midnight_ms(z: ZoneInfo, day: date) -> int:
    """The first instant of local date `day`, by the same rule as the engine's calendars (a
    midnight skipped by a DST jump is the transition instant)."""
    return wall_time_ms(z, day.toordinal())


def parse_month(month: str) -> tuple[int, int]:
    match = _MONTH.fullmatch(month)
    if (
        match is None
        or not 1 <= int(match.group(2)) <= 12
        or not 1970 <= int(match.group(1)) < 9999
    ):
        raise PeriodError("month", f"{month!r} is not a month written YYYY-MM (1970 to 9998)")
    return int(match.group(1)), int(match.group(2))


def shift_month(year: int, number: int, by: int) -> tuple[int, int]:
    index = year * 12 + (number - 1) + by
    return index // 12, index % 12 + 1


def month_name(year: int, number: int) -> str:
    return f"{year:04d}-{number:02d}"


def month_bounds(month: str, tz: str) -> tuple[int, int]:
    """[start, end) of `YYYY-MM` in zone `tz`, as epoch ms: local midnights of the 1st."""
    year, number = parse_month(month)
    z = zone(tz)
    following = shift_month(year, number, 1)
    return (
        local_midnight_ms(z, date(year, number, 1)),
        local_midnight_ms(z, date(following[0], following[1], 1)),
    )


def previous_month(month: str) -> str:
    return month_name(*shift_month(*parse_month(month), -1))


def month_of(instant_ms: int, tz: str) -> str:
    local = datetime.fromtimestamp(instant_ms / 1000, UTC).astimezone(zone(tz))
    return month_name(local.year, local.month)


def last_complete_month(now_ms: int, tz: str) -> str:
    return previous_month(month_of(now_ms, tz))


@dataclass(frozen=True, slots=True)
class DaySplit:
    """A range as whole UTC days [first_day, end_day) plus the partial edges before and after."""

    first_day: date | None
    end_day: date | None
    edges: tuple[tuple[int, int], ...]


def split_days(start_ms: int, end_ms: int) -> DaySplit:
    """Whole UTC days inside [start_ms, end_ms) and the pieces left over at either end."""
    first = -(-start_ms // DAY_MS) * DAY_MS  # ceil to a UTC midnight
    last = end_ms // DAY_MS * DAY_MS
    if first >= last:
        return DaySplit(None, None, ((start_ms, end_ms),) if end_ms > start_ms else ())
    edges = tuple(e for e in ((start_ms, first), (last, end_ms)) if e[1] > e[0])
    return DaySplit(_utc_date(first), _utc_date(last), edges)


def _utc_date(ms: int) -> date:
    return _nth_day(ms // DAY_MS)


@lru_cache(maxsize=8192)
def _nth_day(n: int) -> date:
    # every record asks for a day; there are few distinct ones, so each is computed once
    return _EPOCH + timedelta(days=n)


def utc_day(ms: int) -> date:
    """The UTC date an instant falls on (the key of the daily aggregates)."""
    return _utc_date(ms)


def buckets(start_ms: int, end_ms: int, bucket: Bucket, tz: str) -> list[tuple[int, int]]:
    """Buckets aligned to local days, ISO weeks (Monday) or months in `tz`, clipped to
    [start_ms, end_ms)."""
    if end_ms <= start_ms:
        raise PeriodError("from", "must lie before to")
    z = zone(tz)
    local = datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(z).date()
    if bucket == "week":
        cursor = local - timedelta(days=local.weekday())
    elif bucket == "month":
        cursor = local.replace(day=1)
    else:
        cursor = local
    out: list[tuple[int, int]] = []
    edge = local_midnight_ms(z, cursor)
    while edge < end_ms:
        cursor = _next(cursor, bucket)
        following = local_midnight_ms(z, cursor)
        out.append((max(edge, start_ms), min(following, end_ms)))
        edge = following
        if len(out) > MAX_BUCKETS:
            raise PeriodError("bucket", f"the range holds more than {MAX_BUCKETS} buckets")
    return out


def _next(day: date, bucket: Bucket) -> date:
    if bucket == "day":
        return day + timedelta(days=1)
    if bucket == "week":
        return day + timedelta(days=7)
    year, number = shift_month(day.year, day.month, 1)
    return date(year, number, 1)
