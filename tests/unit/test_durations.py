"""Durations and RFC 3339 timestamps: the accepted forms, the rejected ones, and round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from pacta.durations import (
    MAX_DURATION_S,
    Duration,
    datetime_to_ms,
    format_duration,
    format_timestamp_ms,
    ms_to_datetime,
    parse_duration,
    parse_timestamp_ms,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("4h", 14_400),
        ("2d", 172_800),
        ("1w", 604_800),
        ("4h30m", 16_200),
        ("1d2h", 93_600),
        ("1d2h3m4s", 93_784),
        (" 4H ", 14_400),
        ("PT4H", 14_400),
        ("P1D", 86_400),
        ("P1DT12H", 129_600),
        ("PT90M", 5_400),
        ("PT30S", 30),
        ("P2W", 1_209_600),
        ("pt15m", 900),
        ("400d", MAX_DURATION_S),
    ],
)
def test_accepted_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5m", "negative"),
        ("0s", "zero"),
        ("PT0S", "zero"),
        ("1.5h", "fraction"),
        ("PT0.5S", "fraction"),
        ("P1Y", "years or months"),
        ("P1M", "years or months"),
        ("P1Y2DT3H", "years or months"),
        ("401d", "400 days"),
        ("99999999999999999999d", "400 days"),
        ("4x", "not understood"),
        ("30m4h", "not understood"),
        ("h", "not understood"),
        ("P", "no amount"),
        ("PT", "not a valid ISO 8601"),
        ("P1DT", "not a valid ISO 8601"),
        ("PT4H5D", "not a valid ISO 8601"),
    ],
)
def test_rejected_forms_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_zero_only_when_allowed() -> None:
    assert parse_duration("0s", allow_zero=True) == 0
    assert parse_duration("PT0S", allow_zero=True) == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (30, "30s"), (5_400, "1h30m"), (86_400, "1d"), (93_784, "1d2h3m4s")],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(-1)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_DURATION_S))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-29T01:00:00Z", datetime(2026, 3, 29, 1, tzinfo=UTC)),
        ("2026-03-29T03:00:00+02:00", datetime(2026, 3, 29, 1, tzinfo=UTC)),
        ("2026-03-28T20:00:00-05:00", datetime(2026, 3, 29, 1, tzinfo=UTC)),
        ("2026-03-29t01:00:00z", datetime(2026, 3, 29, 1, tzinfo=UTC)),
        ("2026-03-29 01:00:00Z", datetime(2026, 3, 29, 1, tzinfo=UTC)),
        ("1969-12-31T23:59:59.5Z", datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    assert parse_timestamp_ms(text) == datetime_to_ms(expected)


def test_nanosecond_fractions_are_truncated_to_the_millisecond() -> None:
    base = parse_timestamp_ms("2026-01-01T00:00:00Z")
    assert parse_timestamp_ms("2026-01-01T00:00:00.123456789Z") == base + 123
    assert parse_timestamp_ms("2026-01-01T00:00:00.9999Z") == base + 999
    assert parse_timestamp_ms("2026-01-01T00:00:00.1Z") == base + 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-03-29T01:00:00", "no UTC offset"),
        ("2026-03-29T01:00:00.123", "no UTC offset"),
        ("2026-03-29", "not RFC 3339"),
        ("2026-03-29T01:00Z", "not RFC 3339"),
        ("2026-03-29T01:00:00+0200", "not RFC 3339"),
        ("2026-02-30T01:00:00Z", "not a valid date"),
        ("2026-03-29T24:00:00Z", "not a valid date"),
        ("2026-03-29T01:00:00+24:00", "invalid UTC offset"),
        ("yesterday", "not RFC 3339"),
    ],
)
def test_rejected_timestamps(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_timestamp_ms(text)


def test_datetime_helpers() -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the point is that it is naive
    with pytest.raises(ValueError, match="no time zone"):
        datetime_to_ms(naive)
    berlin = timezone(timedelta(hours=1))
    instant = datetime_to_ms(datetime(2026, 1, 1, 1, tzinfo=berlin))
    assert ms_to_datetime(instant) == datetime(2026, 1, 1, tzinfo=UTC)
    assert format_timestamp_ms(instant + 5) == "2026-01-01T00:00:00.005Z"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(10**12), max_value=10**13))
def test_timestamp_round_trip(epoch_ms: int) -> None:
    assert parse_timestamp_ms(format_timestamp_ms(epoch_ms)) == epoch_ms


class _Target(BaseModel):
    after: Duration


def test_pydantic_duration_type() -> None:
    assert _Target.model_validate({"after": "4h30m"}).after == 16_200
    assert _Target.model_validate({"after": 90}).after == 90
    assert _Target.model_validate_json('{"after": "PT15M"}').after == 900
    for bad in ("0s", 0, -5, True, 1.5, "soon", MAX_DURATION_S + 1):
        with pytest.raises(ValidationError):
            _Target.model_validate({"after": bad})
    schema = _Target.model_json_schema()["properties"]["after"]
    assert {"type": "string"}.items() <= schema["anyOf"][0].items()
