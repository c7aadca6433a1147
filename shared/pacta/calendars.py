"""Business calendars: local working hours minus holidays, as exact epoch-millisecond arithmetic.

Working hours are wall-clock hours in the calendar's time zone, so DST changes move them in UTC.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_library

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAY = "00:00-24:00"
_SPAN = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CACHE_DAYS = 4_096  # per-calendar memo of day intervals; today's days are hit by every clock
_NO_WORK_HORIZON_DAYS = 3_660  # ten years without working time: the calendar is unusable
DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MS, _ZERO = timedelta(milliseconds=1), timedelta(0)

DayHours = tuple[tuple[int, int], ...]
"""One weekday's working spans as (start, end) minutes after local midnight, sorted, disjoint."""


def parse_hours(hours: Mapping[str, Sequence[str]]) -> tuple[DayHours, ...]:
    """Validate `{"mon": ["09:00-17:00"], ...}` into seven merged minute-span tuples (mon..sun)."""
    if not isinstance(hours, Mapping):
        raise ValueError('hours must be an object like {"mon": ["09:00-17:00"]}')
    week: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"hours.{day}: unknown day; use mon, tue, wed, thu, fri, sat, sun")
        if isinstance(spans, str) or not isinstance(spans, Sequence):
            raise ValueError(f'hours.{day} must be a list of spans like ["09:00-17:00"]')
        for i, span in enumerate(spans):
            week[WEEKDAYS.index(day)].append(_parse_span(span, f"hours.{day}[{i}]"))
    return tuple(_merge_spans(spans) for spans in week)


def _parse_span(span: object, where: str) -> tuple[int, int]:
    match = _SPAN.fullmatch(span.strip()) if isinstance(span, str) else None
    if match is None:
        raise ValueError(f"{where}: {span!r} is not a span written HH:MM-HH:MM")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em != 0):
        raise ValueError(f"{where}: {span!r} is not a valid time (24:00 only as an end)")
    start, end = sh * 60 + sm, eh * 60 + em
    if start >= end:
        raise ValueError(f"{where}: {span!r} must start before it ends")
    return start, end


def _merge_spans(spans: list[tuple[int, int]]) -> DayHours:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        # overlapping or touching spans ("09:00-13:00", "13:00-17:00") are one working stretch
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def format_hours(week: tuple[DayHours, ...]) -> dict[str, tuple[str, ...]]:
    """The canonical JSON form of merged weekly hours; days without hours are left out."""
    return {
        day: tuple(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans)
        for day, spans in zip(WEEKDAYS, week, strict=True)
        if spans
    }


def _all_day() -> dict[str, tuple[str, ...]]:
    return {day: (ALL_DAY,) for day in WEEKDAYS}


def parse_holiday(value: date | str) -> date:
    """A holiday given as a date or strictly as YYYY-MM-DD."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"holidays: {value!r} is not a date written YYYY-MM-DD")


@lru_cache(maxsize=1_024)
def _country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # neighbouring years are asked too: observed days may be filed under the adjacent year
    found = holiday_library.country_holidays(
        country, subdiv=subdivision, years=(year - 1, year, year + 1)
    )
    return frozenset(day for day in found if day.year == year)


def wall_time_ms(zone: ZoneInfo, ordinal: int, minute: int = 0) -> int:
    """The instant of local wall time `minute` (0..1440) on local date `ordinal`.

    Repeated wall times take their first occurrence (spans stay contiguous); skipped ones the
    transition instant, the first real time showing a wall time at or after them."""
    ordinal, minute = ordinal + minute // 1_440, minute % 1_440
    base = (ordinal - _EPOCH_ORDINAL) * DAY_MS + minute * 60_000
    before, after = _offset_ms(zone, ordinal, minute, 0), _offset_ms(zone, ordinal, minute, 1)
    if before >= after:
        return base - before
    # skipped: the transition T satisfies T + before <= wall < T + after; search it to the second
    low, high = (base - after) // 1_000, -((before - base) // 1_000)
    while high - low > 1:
        mid = (low + high) // 2
        if _instant_offset_ms(zone, mid) == after:
            high = mid
        else:
            low = mid
    return high * 1_000


def _offset_ms(zone: ZoneInfo, ordinal: int, minute: int, fold: int) -> int:
    day = date.fromordinal(ordinal)
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone, fold=fold)
    return (wall.utcoffset() or _ZERO) // _MS


def _instant_offset_ms(zone: ZoneInfo, epoch_s: int) -> int:
    return (datetime.fromtimestamp(epoch_s, tz=zone).utcoffset() or _ZERO) // _MS


def _local_spans_to_ms(
    zone: ZoneInfo, ordinal: int, spans: DayHours
) -> tuple[tuple[int, int], ...]:
    base = (ordinal - _EPOCH_ORDINAL) * DAY_MS
    offset = _offset_ms(zone, ordinal, 0, 0)
    if offset == _offset_ms(zone, ordinal + 1, 0, 0):
        # no UTC offset change today: every wall time maps with the same offset
        return tuple((base + s * 60_000 - offset, base + e * 60_000 - offset) for s, e in spans)
    pairs = [(wall_time_ms(zone, ordinal, s), wall_time_ms(zone, ordinal, e)) for s, e in spans]
    # a span lying wholly inside a skipped hour has no real time at all
    return tuple((s, e) for s, e in pairs if e > s)


@lru_cache(maxsize=1_024)
def _transition_days(zone_key: str, first: int, last: int) -> tuple[int, ...]:
    """Ordinals in [first, last) whose local day is not 24 h long (the UTC offset changes)."""
    zone = ZoneInfo(zone_key)
    offsets = [_offset_ms(zone, day, 0, 0) for day in range(first, last + 1)]
    return tuple(first + i for i in range(last - first) if offsets[i] != offsets[i + 1])


# attributes computed in __post_init__, in the order it sets them
_DERIVED = ["zone", "week", "hours", "holidays", "holiday_dates", "holiday_country", "day_ms"]
_DERIVED += ["week_ms", "always", "_days", "_irregular"]
_IDENTITY = ("name", "timezone", "week", "holiday_dates", "holiday_country", "holiday_subdivision")


@dataclass(frozen=True, eq=False)
class Calendar:
    """Weekly wall-clock hours in `timezone` (default: all day, every day) minus holidays.

    `holidays` are local dates off; `holiday_country` (ISO 3166, optional subdivision) adds
    public holidays, resolved lazily per year through the `holidays` library."""

    name: str
    timezone: str = "UTC"
    hours: Mapping[str, Sequence[str]] = field(default_factory=_all_day)
    holidays: Collection[date | str] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    week: tuple[DayHours, ...] = field(init=False, repr=False)
    zone: ZoneInfo = field(init=False, repr=False)
    holiday_dates: frozenset[date] = field(init=False, repr=False)
    day_ms: tuple[int, ...] = field(init=False, repr=False)
    week_ms: int = field(init=False, repr=False)
    always: bool = field(init=False, repr=False)
    _days: dict[int, tuple[tuple[int, int], ...]] = field(init=False, repr=False)
    _irregular: dict[int, tuple[int, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("name: a calendar needs a non-empty name")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"timezone: {self.timezone!r} is not an IANA time zone") from None
        week = parse_hours(self.hours)
        day_ms = tuple(sum(e - s for s, e in spans) * 60_000 for spans in week)
        if not any(day_ms):
            raise ValueError("hours: a calendar must have some working time in the week")
        dates = frozenset(parse_holiday(day) for day in self.holidays)
        country = self.holiday_country
        if self.holiday_subdivision is not None and country is None:
            raise ValueError("holiday_subdivision: needs a holiday_country")
        if country is not None:
            country = country.strip().upper()
            # unlisted codes reach the library's internals (`MON` is a weekday there): a 500
            if country not in holiday_library.list_supported_countries():
                raise ValueError(f"holiday_country: {country!r} is not a supported country code")
            try:
                holiday_library.country_holidays(country, subdiv=self.holiday_subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"holiday_country: {exc}") from None
        # when every instant is working time the arithmetic short-cuts to plain subtraction
        always = all(spans == ((0, 1_440),) for spans in week) and not dates and country is None
        derived = (zone, week, format_hours(week), dates, dates, country, day_ms, sum(day_ms))
        for attr, value in zip(_DERIVED, (*derived, always, {}, {}), strict=True):
            object.__setattr__(self, attr, value)

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, attr) for attr in _IDENTITY)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Calendar) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def is_holiday(self, day: date) -> bool:
        """Whether the local date `day` is a day off (listed, or a public holiday)."""
        if day in self.holiday_dates:
            return True
        country = self.holiday_country
        return country is not None and day in _country_holidays(
            country, self.holiday_subdivision, day.year
        )

    def day_intervals(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """Working intervals (epoch ms) of the local date with proleptic ordinal `ordinal`."""
        cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        day = date.fromordinal(ordinal)
        spans = self.week[day.weekday()]
        result: tuple[tuple[int, int], ...] = ()
        if spans and not self.is_holiday(day):
            result = _local_spans_to_ms(self.zone, ordinal, spans)
        if len(self._days) >= _CACHE_DAYS:
            self._days.clear()
        self._days[ordinal] = result
        return result

    def irregular_days(self, year: int) -> tuple[int, ...]:
        """Sorted ordinals in `year` off their weekday's nominal hours (holidays, DST days)."""
        cached = self._irregular.get(year)
        if cached is None:
            start, end = date(year, 1, 1), date(year + 1, 1, 1)
            days = {d.toordinal() for d in self.holiday_dates if d.year == year}
            if self.holiday_country is not None:
                found = _country_holidays(self.holiday_country, self.holiday_subdivision, year)
                days.update(d.toordinal() for d in found)
            days.update(_transition_days(self.timezone, start.toordinal(), end.toordinal()))
            cached = tuple(sorted(days))
            self._irregular[year] = cached
        return cached


def local_ordinal(cal: Calendar, t_ms: int) -> int:
    """Proleptic ordinal of the local date containing instant `t_ms`."""
    return datetime.fromtimestamp(t_ms // 1_000, tz=cal.zone).toordinal()


def _regular_run(cal: Calendar, ordinal: int, limit: int) -> int:
    """How many days from `ordinal` on (at most `limit`) have exactly their nominal hours."""
    end, day = ordinal + limit, ordinal
    while day < end:
        year = date.fromordinal(day).year
        irregular = cal.irregular_days(year)
        i = bisect_left(irregular, day)
        if i < len(irregular):
            return min(irregular[i], end) - ordinal
        day = date(year + 1, 1, 1).toordinal()
    return limit


def _nominal_ms(cal: Calendar, ordinal: int, days: int) -> int:
    weekday = (ordinal - 1) % 7  # ordinal 1 (0001-01-01) was a Monday
    rest = sum(cal.day_ms[(weekday + i) % 7] for i in range(days % 7))
    return days // 7 * cal.week_ms + rest


def working_ms(cal: Calendar, start_ms: int, end_ms: int) -> int:
    """Working time inside [start_ms, end_ms), exact to the millisecond (0 if empty)."""
    if end_ms <= start_ms:
        return 0
    if cal.always:
        return end_ms - start_ms
    first, last = local_ordinal(cal, start_ms), local_ordinal(cal, end_ms)
    total, day, next_try = 0, first - 1, first + 1  # the day before: a repeated hour may straddle
    while day <= last:
        # whole days strictly inside the range that are ordinary are summed, not walked
        if day >= next_try and last - day >= 7:
            run = _regular_run(cal, day, last - day)
            if run >= 7:
                total += _nominal_ms(cal, day, run)
                day += run
                continue
            next_try = day + run + 1
        for a, b in cal.day_intervals(day):
            low, high = max(a, start_ms), min(b, end_ms)
            if high > low:
                total += high - low
        day += 1
    return total


def add_working_ms(cal: Calendar, start_ms: int, amount_ms: int) -> int:
    """The earliest instant t >= start_ms with working_ms(cal, start_ms, t) == amount_ms."""
    if amount_ms < 0:
        raise ValueError(f"amount_ms must not be negative, got {amount_ms}")
    if amount_ms == 0:
        return start_ms
    if cal.always:
        return start_ms + amount_ms
    remaining, first = amount_ms, local_ordinal(cal, start_ms)
    day, next_try, progress_day = first - 1, first + 1, first
    while day - progress_day <= _NO_WORK_HORIZON_DAYS:
        if day >= next_try and remaining > cal.week_ms:
            # skip whole ordinary weeks, keeping at least 1 ms for the per-day walk to place
            run = _regular_run(cal, day, (remaining - 1) // cal.week_ms * 7)
            if run >= 7:
                remaining -= run // 7 * cal.week_ms
                day += run // 7 * 7
                progress_day = day
                continue
            next_try = day + run + 1
        for a, b in cal.day_intervals(day):
            low = max(a, start_ms)
            if b > low:
                if b - low >= remaining:
                    return low + remaining
                remaining -= b - low
                progress_day = day
        day += 1
    raise ValueError(f"calendar {cal.name!r} has no working time for ten years after {start_ms}")


def working_intervals(cal: Calendar, start_ms: int, end_ms: int) -> Iterator[tuple[int, int]]:
    """The working intervals clipped to [start_ms, end_ms), merged where they touch."""
    if end_ms <= start_ms:
        return
    if cal.always:
        yield start_ms, end_ms
        return
    pending: tuple[int, int] | None = None
    last = local_ordinal(cal, end_ms)
    for day in range(local_ordinal(cal, start_ms) - 1, last + 1):
        for a, b in cal.day_intervals(day):
            low, high = max(a, start_ms), min(b, end_ms)
            if high <= low:
                continue
            if pending is not None and low <= pending[1]:
                pending = (pending[0], max(pending[1], high))
            else:
                if pending is not None:
                    yield pending
                pending = (low, high)
    if pending is not None:
        yield pending


def is_working(cal: Calendar, t_ms: int) -> bool:
    """Whether instant `t_ms` is working time."""
    if cal.always:
        return True
    today = local_ordinal(cal, t_ms)
    return any(a <= t_ms < b for day in (today - 1, today) for a, b in cal.day_intervals(day))


def next_transition(cal: Calendar, t_ms: int) -> int | None:
    """The next instant after `t_ms` where working-ness changes (None: never, as for 24x7)."""
    if cal.always:
        return None
    first = local_ordinal(cal, t_ms)
    stretch_end: int | None = None  # end of the working stretch containing t_ms, once found
    for day in range(first - 1, first + _NO_WORK_HORIZON_DAYS):
        for a, b in cal.day_intervals(day):
            if stretch_end is not None:
                if a > stretch_end:
                    return stretch_end
                stretch_end = max(stretch_end, b)
            elif b > t_ms:
                if a > t_ms:
                    return a  # outside working time: it next changes when work starts
                stretch_end = b
    return None


CALENDAR_24X7 = Calendar(name="24x7")
"""The built-in calendar that always exists: all time is working time."""

BUILTIN_CALENDARS: Mapping[str, Calendar] = {CALENDAR_24X7.name: CALENDAR_24X7}
