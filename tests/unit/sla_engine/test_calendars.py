"""Business calendars: hand-computed vectors, DST days in Berlin and New York, validation."""

from __future__ import annotations

import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from pacta.calendars import (
    BUILTIN_CALENDARS,
    CALENDAR_24X7,
    WEEKDAYS,
    Calendar,
    add_working_ms,
    is_working,
    next_transition,
    working_intervals,
    working_ms,
)
from pacta.durations import datetime_to_ms

H = 3_600_000
WEEKDAYS_9_TO_5 = {day: ["09:00-17:00"] for day in WEEKDAYS[:5]}
ALL_WEEK_ALL_DAY = {day: ["00:00-24:00"] for day in WEEKDAYS}


def at(tz: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> int:
    return datetime_to_ms(datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz), fold=fold))


def berlin(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return at("Europe/Berlin", y, mo, d, h, mi)


def new_york(y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> int:
    return at("America/New_York", y, mo, d, h, mi, fold)


@pytest.fixture
def office() -> Calendar:
    return Calendar("office", "Europe/Berlin", WEEKDAYS_9_TO_5, holidays=["2026-12-25"])


def test_christmas_deadline(office: Calendar) -> None:
    # Thu 24 Dec 16:00: 1 h left that day, Fri 25 a holiday, then the weekend; Mon 9:00 + 3 h
    created = berlin(2026, 12, 24, 16)
    assert add_working_ms(office, created, 4 * H) == berlin(2026, 12, 28, 12)
    assert working_ms(office, created, berlin(2026, 12, 28, 12)) == 4 * H


def test_a_deadline_at_the_end_of_the_day_is_not_pushed_to_the_next_morning(
    office: Calendar,
) -> None:
    assert add_working_ms(office, berlin(2026, 12, 21, 9), 8 * H) == berlin(2026, 12, 21, 17)
    # starting outside working hours, the time begins when work begins
    assert add_working_ms(office, berlin(2026, 12, 19, 3), 1) == berlin(2026, 12, 21, 9) + 1


def test_zero_and_negative_amounts(office: Calendar) -> None:
    start = berlin(2026, 12, 26, 3)  # a Saturday night
    assert add_working_ms(office, start, 0) == start
    with pytest.raises(ValueError, match="negative"):
        add_working_ms(office, start, -1)
    assert working_ms(office, start, start) == 0
    assert working_ms(office, start + 5, start) == 0


def test_a_day_of_nine_to_five_is_eight_hours_even_on_dst_days() -> None:
    cal = Calendar("every-day", "Europe/Berlin", {d: ["09:00-17:00"] for d in WEEKDAYS})
    for day in (29, 28, 30):
        assert working_ms(cal, berlin(2026, 3, day), berlin(2026, 3, day + 1)) == 8 * H
    assert working_ms(cal, berlin(2026, 10, 25), berlin(2026, 10, 26)) == 8 * H


@pytest.mark.parametrize("holidays", [[], ["2001-01-01"]])  # fast path and day-by-day path
def test_a_whole_local_day_is_23_or_25_real_hours_on_dst_days(holidays: list[str]) -> None:
    cal = Calendar("all-day", "Europe/Berlin", ALL_WEEK_ALL_DAY, holidays=holidays)
    assert working_ms(cal, berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * H
    assert working_ms(cal, berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * H
    assert working_ms(cal, berlin(2026, 3, 28), berlin(2026, 3, 29)) == 24 * H
    # 24 working hours from Saturday noon end at Sunday 13:00 local, the night being short
    assert add_working_ms(cal, berlin(2026, 3, 28, 12), 24 * H) == berlin(2026, 3, 29, 13)
    assert add_working_ms(cal, berlin(2026, 10, 24, 12), 24 * H) == berlin(2026, 10, 25, 11)


def test_new_york_spring_forward() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT
    night = Calendar("ny", "America/New_York", {"sun": ["01:00-04:00"]})
    assert working_ms(night, new_york(2026, 3, 8), new_york(2026, 3, 9)) == 2 * H
    inside_gap = Calendar("gap", "America/New_York", {"sun": ["02:00-03:00", "12:00-13:00"]})
    assert working_ms(inside_gap, new_york(2026, 3, 8), new_york(2026, 3, 9)) == H
    # a span starting in the skipped hour starts when the clocks jump
    half = Calendar("half", "America/New_York", {"sun": ["02:30-04:00"]})
    spans = list(working_intervals(half, new_york(2026, 3, 8), new_york(2026, 3, 9)))
    assert spans == [(new_york(2026, 3, 8, 3), new_york(2026, 3, 8, 4))]


def test_new_york_fall_back() -> None:
    # 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:00-02:00 happens twice
    night = Calendar("ny", "America/New_York", {"sun": ["01:00-04:00"]})
    assert working_ms(night, new_york(2026, 11, 1), new_york(2026, 11, 2)) == 4 * H
    hour = Calendar("ny1", "America/New_York", {"sun": ["01:00-02:00"]})
    spans = list(working_intervals(hour, new_york(2026, 11, 1), new_york(2026, 11, 2)))
    assert spans == [(new_york(2026, 11, 1, 1), new_york(2026, 11, 1, 2))]
    assert spans[0][1] - spans[0][0] == 2 * H
    assert is_working(hour, new_york(2026, 11, 1, 1, 30, fold=1))


def test_spans_touching_at_midnight_merge(office: Calendar) -> None:
    cal = Calendar("night", "UTC", {"mon": ["22:00-24:00"], "tue": ["00:00-06:00"]})
    monday = datetime_to_ms(datetime(2026, 12, 21, tzinfo=ZoneInfo("UTC")))
    spans = list(working_intervals(cal, monday, monday + 7 * 24 * H))
    assert spans == [(monday + 22 * H, monday + 30 * H)]
    assert next_transition(cal, monday + 23 * H) == monday + 30 * H
    assert next_transition(cal, monday) == monday + 22 * H


def test_working_intervals_are_clipped(office: Calendar) -> None:
    spans = list(working_intervals(office, berlin(2026, 12, 23, 12), berlin(2026, 12, 28, 10)))
    assert spans == [
        (berlin(2026, 12, 23, 12), berlin(2026, 12, 23, 17)),
        (berlin(2026, 12, 24, 9), berlin(2026, 12, 24, 17)),
        (berlin(2026, 12, 28, 9), berlin(2026, 12, 28, 10)),
    ]
    assert list(working_intervals(office, 10, 5)) == []


def test_is_working_and_next_transition(office: Calendar) -> None:
    assert is_working(office, berlin(2026, 12, 24, 16))
    assert not is_working(office, berlin(2026, 12, 24, 17))
    assert is_working(office, berlin(2026, 12, 24, 9))
    assert next_transition(office, berlin(2026, 12, 24, 16)) == berlin(2026, 12, 24, 17)
    assert next_transition(office, berlin(2026, 12, 24, 17)) == berlin(2026, 12, 28, 9)
    assert next_transition(office, berlin(2026, 12, 24, 9)) == berlin(2026, 12, 24, 17)
    assert is_working(CALENDAR_24X7, 0)
    assert next_transition(CALENDAR_24X7, 0) is None


def test_all_day_calendar_with_holidays_changes_only_at_holidays() -> None:
    cal = Calendar("hol", "Europe/Berlin", holidays=["2026-12-25"])
    assert not cal.always
    assert next_transition(cal, berlin(2026, 12, 1)) == berlin(2026, 12, 25)
    assert next_transition(cal, berlin(2026, 12, 25, 3)) == berlin(2026, 12, 26)


def test_country_holidays() -> None:
    cal = Calendar("de", "Europe/Berlin", WEEKDAYS_9_TO_5, holiday_country="de")
    assert cal.holiday_country == "DE"
    assert cal.is_holiday(date(2026, 5, 1))  # Labour Day, a Friday
    assert working_ms(cal, berlin(2026, 5, 1), berlin(2026, 5, 2)) == 0
    assert working_ms(cal, berlin(2026, 1, 6), berlin(2026, 1, 7)) == 8 * H  # not national
    bavaria = Calendar(
        "by", "Europe/Berlin", WEEKDAYS_9_TO_5, holiday_country="DE", holiday_subdivision="BY"
    )
    assert working_ms(bavaria, berlin(2026, 1, 6), berlin(2026, 1, 7)) == 0  # Epiphany


def test_large_spans_are_fast_and_exact(office: Calendar) -> None:
    country = Calendar("de", "Europe/Berlin", WEEKDAYS_9_TO_5, holiday_country="DE")
    for cal in (office, country):
        start = berlin(2026, 1, 7, 11, 17)
        began = time.perf_counter()
        end = add_working_ms(cal, start, 400 * 24 * H)
        assert working_ms(cal, start, end) == 400 * 24 * H
        assert working_ms(cal, start, end - 1) == 400 * 24 * H - 1
        assert time.perf_counter() - began < 0.5
    # about 1200 working days of 8 h: roughly four and a half years later
    assert 2030 <= datetime.fromtimestamp(end / 1000, ZoneInfo("Europe/Berlin")).year <= 2031


def test_equal_calendars_compare_and_hash_alike() -> None:
    one = Calendar("c", "UTC", {"mon": ["09:00-13:00", "12:00-17:00"]}, holidays=["2026-01-01"])
    two = Calendar("c", "UTC", {"mon": ["09:00-17:00"]}, holidays=[date(2026, 1, 1)])
    assert one == two
    assert hash(one) == hash(two)
    assert one.hours == {"mon": ("09:00-17:00",)}
    assert one != Calendar("c", "UTC", {"mon": ["09:00-16:00"]}, holidays=["2026-01-01"])


def test_builtin_24x7() -> None:
    assert BUILTIN_CALENDARS["24x7"] is CALENDAR_24X7
    assert CALENDAR_24X7.always
    assert working_ms(CALENDAR_24X7, 0, 5 * H) == 5 * H
    assert add_working_ms(CALENDAR_24X7, 7, 5) == 12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": {"mon": ["9:00-17:00"]}}, r"hours\.mon\[0\]: '9:00-17:00'"),
        ({"hours": {"mon": ["09:00-17:00", "17:00-16:00"]}}, r"hours\.mon\[1\].*start before"),
        ({"hours": {"mon": ["09:00-09:00"]}}, "start before"),
        ({"hours": {"tue": ["24:00-24:00"]}}, r"hours\.tue\[0\].*24:00 only as an end"),
        ({"hours": {"mon": ["09:00-24:30"]}}, "24:00 only as an end"),
        ({"hours": {"mon": ["09:60-10:00"]}}, "not a valid time"),
        ({"hours": {"monday": ["09:00-17:00"]}}, r"hours\.monday: unknown day"),
        ({"hours": {"mon": "09:00-17:00"}}, r"hours\.mon must be a list"),
        ({"hours": {"mon": [9]}}, "HH:MM-HH:MM"),
        ({"hours": {}}, "some working time"),
        ({"hours": {"mon": []}}, "some working time"),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus'"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"holidays": ["2026-13-01"]}, "holidays: '2026-13-01'"),
        ({"holidays": ["20261225"]}, "holidays"),
        ({"holiday_subdivision": "BY"}, "holiday_subdivision: needs a holiday_country"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"holiday_country": "DE", "holiday_subdivision": "ZZ"}, "holiday_country"),
    ],
)
def test_validation_names_the_bad_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Calendar("bad", **kwargs)  # type: ignore[arg-type]


def test_calendar_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        Calendar(" ")
