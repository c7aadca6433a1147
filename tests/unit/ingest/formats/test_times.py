"""What the tools really send as time, and what is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.formats.base import FormatError
from ingest.formats.times import is_zero_time, parse_epoch_ms, parse_time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-23T19:43:17.171875693Z", datetime(2026, 11, 23, 19, 43, 17, 171875, UTC)),
        ("2026-11-23T19:43:59.51Z", datetime(2026, 11, 23, 19, 43, 59, 510000, UTC)),
        ("2015-07-17T08:42:58.315+0000", datetime(2015, 7, 17, 8, 42, 58, 315000, UTC)),
        ("2019-02-15T19:01:52.971-0800", datetime(2019, 2, 16, 3, 1, 52, 971000, UTC)),
        ("2021-10-12T09:51:03.157076+02:00", datetime(2021, 10, 12, 7, 51, 3, 157076, UTC)),
        ("2026-03-02 08:54:58Z", datetime(2026, 3, 2, 8, 54, 58, tzinfo=UTC)),
    ],
)
def test_tool_timestamps_parse_to_utc(raw: str, expected: datetime) -> None:
    assert parse_time(raw, "f") == expected


def test_servicenow_offsetless_time_is_utc_only_where_allowed() -> None:
    assert parse_time("2019-09-05 00:41:01", "f", naive_is_utc=True) == datetime(
        2019, 9, 5, 0, 41, 1, tzinfo=UTC
    )
    with pytest.raises(FormatError, match="needs an offset") as info:
        parse_time("2019-09-05 00:41:01", "alerts.0.startsAt")
    assert info.value.field == "alerts.0.startsAt"


@pytest.mark.parametrize(
    "raw", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00+25:00", 1700000000, None, ""]
)
def test_anything_else_is_refused_naming_the_field(raw: object) -> None:
    with pytest.raises(FormatError) as info:
        parse_time(raw, "payload.timestamp")
    assert info.value.field == "payload.timestamp"
    assert info.value.status == 422


def test_go_zero_time_means_no_end() -> None:
    assert is_zero_time("0001-01-01T00:00:00Z")
    assert is_zero_time(None)
    assert not is_zero_time("2026-03-02T08:41:00Z")


def test_epoch_milliseconds() -> None:
    assert parse_epoch_ms(1772439611402, "timestamp") == datetime(
        2026, 3, 2, 8, 20, 11, 402000, UTC
    )
    assert parse_epoch_ms("1591216985000", "date").year == 2020
    for bad in (-1, 10**16, "12a", True, 1.5):
        with pytest.raises(FormatError):
            parse_epoch_ms(bad, "timestamp")
