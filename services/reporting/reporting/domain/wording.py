"""Figures written for people, the same in the HTML and the PDF: percentages never rounded
onto their target, durations in hours and minutes, instants on the report zone's wall clock
without fractions of a second."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

NONE = "\u2013"  # an en dash stands for a figure that is undefined
MAX_DIGITS = 6


def _decimals(value: float) -> int:
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def percent(value: float | None, target: float | None = None, digits: int = 3) -> str:
    """`value` with at least `digits` decimals (as many as the target has), cut rather than
    rounded: a figure under its target never prints as the target (99.89957 against 99.9 is
    99.899) and one at or over it never prints under it."""
    if value is None:
        return NONE
    if target is not None:
        digits = min(MAX_DIGITS, max(digits, _decimals(target)))
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_FLOOR)
    return f"{exact:,.{digits}f}"


def duration(seconds: float | None) -> str:
    """`44 min 50 s` under an hour, `1 h 05 min` from an hour on (hours never roll into days:
    a month of agreed time reads 744 h 00 min)."""
    if seconds is None:
        return NONE
    total = round(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3_600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours:,} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min {secs:02d} s" if secs else f"{sign}{minutes} min"
    return f"{sign}{secs} s"


def local_time(instant: str | None, tz: str) -> str:
    """An RFC 3339 instant as `2026-10-31 23:30:00 CET` in `tz`, without fractions."""
    if not instant:
        return NONE
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or tz)
