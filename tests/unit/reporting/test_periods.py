"""Report periods: month edges in a zone (DST months included), the last complete month,
trend buckets and the split into whole UTC days and partial edges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reporting.domain.periods import (
    DAY_MS,
    PeriodError,
    buckets,
    last_complete_month,
    month_bounds,
    previous_month,
    split_days,
)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def test_utc_month_edges_and_a_leap_february() -> None:
    start, end = month_bounds("2028-02", "UTC")
    assert start == ms("2028-02-01T00:00:00+00:00")
    assert end - start == 29 * DAY_MS


@pytest.mark.parametrize(
    ("month", "tz", "start", "hours"),
    [
        # DST ends on 25 Oct 2026 in Berlin: October has 745 hours there
        ("2026-10", "Europe/Berlin", "2026-09-30T22:00:00+00:00", 31 * 24 + 1),
        # DST starts on 29 Mar 2026: March has 743 hours
        ("2026-03", "Europe/Berlin", "2026-02-28T23:00:00+00:00", 31 * 24 - 1),
        ("2026-11", "America/New_York", "2026-11-01T04:00:00+00:00", 30 * 24 + 1),
        ("2026-10", "Asia/Kolkata", "2026-09-30T18:30:00+00:00", 31 * 24),
    ],
)
def test_month_edges_move_with_the_zone(month: str, tz: str, start: str, hours: int) -> None:
    a, b = month_bounds(month, tz)
    assert a == ms(start)
    assert b - a == hours * 3_600_000


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "26-10", "2026-1", "1969-12", "9999-12", "x"]
)
def test_bad_months_name_the_field(month: str) -> None:
    with pytest.raises(PeriodError) as err:
        month_bounds(month, "UTC")
    assert err.value.field == "month"


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "UTC\x00", "../etc/passwd"])
def test_bad_zones_name_the_field(tz: str) -> None:
    with pytest.raises(PeriodError) as err:
        month_bounds("2026-10", tz)
    assert err.value.field == "tz"


def test_last_complete_month_is_taken_in_the_zone() -> None:
    # 23:30 UTC on 30 Nov is already 1 Dec in Berlin: November is complete there, not in UTC
    now = ms("2026-11-30T23:30:00+00:00")
    assert last_complete_month(now, "UTC") == "2026-10"
    assert last_complete_month(now, "Europe/Berlin") == "2026-11"
    assert previous_month("2026-01") == "2025-12"


def test_split_days_whole_days_and_edges() -> None:
    a, b = month_bounds("2026-10", "Europe/Berlin")
    split = split_days(a, b)
    assert split.first_day == date(2026, 10, 1)
    assert split.end_day == date(2026, 10, 31)
    assert split.edges == (
        (a, ms("2026-10-01T00:00:00+00:00")),
        (ms("2026-10-31T00:00:00+00:00"), b),
    )
    utc = split_days(*month_bounds("2026-10", "UTC"))
    assert utc.edges == ()
    inside = split_days(ms("2026-10-03T01:00:00+00:00"), ms("2026-10-03T05:00:00+00:00"))
    assert inside.first_day is None
    assert len(inside.edges) == 1


def test_buckets_by_day_week_and_month_in_a_zone() -> None:
    a, b = month_bounds("2026-10", "Europe/Berlin")
    days = buckets(a, b, "day", "Europe/Berlin")
    assert len(days) == 31
    assert days[24][1] - days[24][0] == 25 * 3_600_000  # 25 Oct: the day DST ends
    weeks = buckets(a, b, "week", "Europe/Berlin")
    assert weeks[0] == (a, ms("2026-10-05T00:00:00+02:00"))  # clipped start, then Monday
    assert weeks[-1][1] == b
    months = buckets(
        ms("2026-01-15T00:00:00+00:00"), ms("2026-03-02T00:00:00+00:00"), "month", "UTC"
    )
    assert [m[0] for m in months] == [
        ms("2026-01-15T00:00:00+00:00"),
        ms("2026-02-01T00:00:00+00:00"),
        ms("2026-03-01T00:00:00+00:00"),
    ]


def test_buckets_refuse_a_reversed_or_huge_range() -> None:
    with pytest.raises(PeriodError) as err:
        buckets(10, 5, "day", "UTC")
    assert err.value.field == "from"
    with pytest.raises(PeriodError) as err:
        buckets(0, 500 * DAY_MS, "day", "UTC")
    assert err.value.field == "bucket"
