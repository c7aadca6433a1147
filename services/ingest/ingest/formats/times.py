"""Timestamps as the tools really send them (docs/integrations.md): nanosecond
fractions, offsets without a colon, epoch milliseconds, ServiceNow's offset-less UTC, and Go's
zero time for "no end yet". Anything else is refused naming the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ingest.formats.base import FormatError

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)
#: Go's zero `time.Time` as Alertmanager and Grafana write the end of a firing alert.
ZERO_TIME_PREFIX = "0001-01-01T00:00:00"
#: Epoch milliseconds this large are past year 9999: not a time anybody sends.
_MAX_EPOCH_MS = 253_402_300_799_999


def is_zero_time(raw: Any) -> bool:
    return raw is None or raw == "" or (isinstance(raw, str) and raw.startswith(ZERO_TIME_PREFIX))


def parse_time(raw: Any, field: str, *, naive_is_utc: bool = False) -> datetime:
    """An RFC 3339-like string (fraction of any length, `Z`, `+hh:mm` or `+hhmm`) as UTC.

    Without an offset the value is refused, unless `naive_is_utc` (ServiceNow's Table API
    writes UTC without one)."""
    if not isinstance(raw, str):
        raise FormatError(field, "must be a timestamp string such as 2026-03-02T08:14:30Z")
    match = _TIME.fullmatch(raw.strip())
    if match is None:
        raise FormatError(field, f"is not a timestamp such as 2026-03-02T08:14:30Z: {raw[:40]!r}")
    year, month, day, hour, minute, second, fraction, z, sign, oh, om = match.groups()
    if z:
        tz: timezone = UTC
    elif sign:
        if int(oh) > 23 or int(om) > 59:
            raise FormatError(field, "has an offset out of range")
        delta = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-delta if sign == "-" else delta)
    elif naive_is_utc:
        tz = UTC
    else:
        raise FormatError(field, "needs an offset (Z or +hh:mm)")
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise FormatError(field, f"is not a valid time: {exc}") from None


def parse_epoch_ms(raw: Any, field: str) -> datetime:
    """Epoch milliseconds, as an integer or a string of digits (Jira, Datadog)."""
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= _MAX_EPOCH_MS:
        raise FormatError(field, "must be epoch milliseconds (an integer)")
    return datetime.fromtimestamp(raw / 1000, UTC).replace(microsecond=(raw % 1000) * 1000)
