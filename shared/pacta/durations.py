"""Durations (`30s`, `4h30m`, `PT4H`) and strict RFC 3339 timestamps, as plain integers.

Durations are whole seconds; instants are integer epoch milliseconds (UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

MAX_DURATION_S = 400 * 86_400
"""Longest duration accepted anywhere: a target beyond 400 days is a typo, not an SLA."""

_UNIT_S = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_COMPACT = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_ISO_CALENDAR_UNITS = re.compile(r"P(?:[^T]*[YM])")
_MAX_DIGITS = 12  # longer numbers are absurd here and int() of huge strings is slow
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def parse_duration(text: str, *, allow_zero: bool = False) -> int:
    """Return the number of seconds `text` stands for.

    Accepts compact forms (`30s`, `15m`, `4h`, `2d`, `1w`, compounds in descending order such as
    `4h30m` or `1d2h`) and ISO 8601 durations built from weeks, days, hours, minutes and whole
    seconds (`PT4H`, `P1D`, `P1DT12H`). Years and months are rejected (their length varies), as
    are fractions, negative values and anything above 400 days. Zero is rejected unless
    `allow_zero` is true.
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string like '4h', got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise ValueError("duration is empty; write it like '30s', '15m', '4h', '2d' or 'PT4H'")
    if raw.startswith("-"):
        raise ValueError(f"duration {text!r} is negative")
    if "." in raw or "," in raw:
        raise ValueError(f"duration {text!r} has a fraction; use a smaller unit (e.g. '90m')")
    seconds = _parse_iso(raw, text) if raw[0] in "pP" else _parse_compact(raw.lower(), text)
    if seconds == 0 and not allow_zero:
        raise ValueError(f"duration {text!r} is zero; it must be positive")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration {text!r} is longer than 400 days")
    return seconds


def _sum_groups(groups: tuple[str | None, ...], units: tuple[int, ...], text: str) -> int:
    if all(g is None for g in groups):
        raise ValueError(f"duration {text!r} has no amount; write it like '4h' or 'PT4H'")
    total = 0
    for group, unit in zip(groups, units, strict=True):
        if group is not None:
            if len(group) > _MAX_DIGITS:
                raise ValueError(f"duration {text!r} is longer than 400 days")
            total += int(group) * unit
    return total


def _parse_compact(raw: str, text: str) -> int:
    match = _COMPACT.fullmatch(raw)
    if match is None:
        raise ValueError(
            f"duration {text!r} is not understood; write it like '30s', '15m', '4h', '2d', "
            "'4h30m' (largest unit first) or ISO 8601 'PT4H'"
        )
    return _sum_groups(match.groups(), tuple(_UNIT_S.values()), text)


def _parse_iso(raw: str, text: str) -> int:
    upper = raw.upper()
    if _ISO_CALENDAR_UNITS.match(upper):
        raise ValueError(
            f"duration {text!r} uses years or months, whose length varies; use days or weeks"
        )
    match = _ISO.fullmatch(upper)
    if match is None or upper.endswith("T"):
        raise ValueError(f"duration {text!r} is not a valid ISO 8601 duration such as 'PT4H'")
    return _sum_groups(match.groups(), tuple(_UNIT_S.values()), text)


def format_duration(seconds: int) -> str:
    """Write `seconds` in the compact form, largest unit first: 5400 -> `1h30m`, 0 -> `0s`."""
    if seconds < 0:
        raise ValueError(f"duration {seconds} is negative")
    if seconds == 0:
        return "0s"
    parts: list[str] = []
    rest = seconds
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def parse_timestamp_ms(text: str) -> int:
    """Parse a strict RFC 3339 timestamp into epoch milliseconds.

    The offset (`Z` or `+hh:mm`) is required; fractions of any length are accepted and
    truncated to the millisecond (nanosecond timestamps from exporters are common).
    """
    if not isinstance(text, str):
        raise ValueError(f"timestamp must be a string, got {type(text).__name__}")
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?", text.strip()):
            raise ValueError(f"timestamp {text!r} has no UTC offset; add 'Z' or '+hh:mm'")
        raise ValueError(f"timestamp {text!r} is not RFC 3339 (e.g. '2026-03-29T09:00:00+02:00')")
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        offset = timedelta(0)
    else:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError(f"timestamp {text!r} has an invalid UTC offset")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if sign == "-":
            offset = -offset
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(offset),
        )
    except ValueError as exc:
        raise ValueError(f"timestamp {text!r} is not a valid date and time: {exc}") from None
    millis = int((frac or "0")[:3].ljust(3, "0"))
    return (moment - _EPOCH) // _MS + millis


def datetime_to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (sub-millisecond part truncated)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment.isoformat()} has no time zone")
    return (moment - _EPOCH) // _MS


def ms_to_datetime(epoch_ms: int) -> datetime:
    """The aware UTC datetime of an epoch-milliseconds instant."""
    # integer arithmetic on a timedelta: a quarter of the cost of timedelta(milliseconds=...)
    return _EPOCH + _MS * epoch_ms


def format_timestamp_ms(epoch_ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. `2026-03-29T07:00:00.000Z`."""
    return ms_to_datetime(epoch_ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _coerce_duration(value: Any) -> int:
    # bool is an int subclass; `true` as a duration is always a mistake
    if isinstance(value, bool):
        raise ValueError("duration must be a string like '4h' or a number of seconds")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"duration {value} must be a positive number of seconds")
        if value > MAX_DURATION_S:
            raise ValueError(f"duration {value}s is longer than 400 days")
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("duration must be a string like '4h' or a number of seconds")


Duration = Annotated[
    int,
    BeforeValidator(_coerce_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "examples": ["15m", "4h30m", "PT4H"]},
                {"type": "integer", "minimum": 1},
            ],
            "description": "a positive duration: '30s', '15m', '4h', '2d', ISO 8601 'PT4H', "
            "or whole seconds",
        },
        mode="validation",
    ),
]
"""A positive duration in whole seconds; pydantic models accept the string forms and ints."""
