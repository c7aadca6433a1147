"""Epoch milliseconds of the RFC 3339 instants records carry: the canonical UTC forms that
Pacta writes (`2026-03-29T07:00:00Z`, `2026-03-29T07:00:00.000Z`) read by slicing, with each
hour's start cached; every other form through `pacta.durations.parse_timestamp_ms`."""

from __future__ import annotations

from functools import lru_cache

from pacta.durations import parse_timestamp_ms


@lru_cache(maxsize=16384)
def hour_start_ms(hour: str) -> int | None:
    """Epoch ms of `YYYY-MM-DDTHH:` as the strict parser reads it, None where it refuses it
    (a stream's instants fall in few distinct hours: the full parser checks each hour once)."""
    try:
        return parse_timestamp_ms(hour + "00:00Z")
    except ValueError:
        return None


def instant_ms(text: str) -> int:
    """`parse_timestamp_ms(text)`: the same value and the same errors, at a fraction of the
    cost for the canonical forms (a replay parses millions)."""
    n = len(text) if type(text) is str else 0
    if (n == 24 and text[23] == "Z" and text[19] == ".") or (n == 20 and text[19] == "Z"):
        rest = text[14:16] + text[17:19] + (text[20:23] if n == 24 else "000")
        if (
            text[13] == ":"
            and text[16] == ":"
            and rest.isascii()
            and rest.isdigit()
            and rest[0] < "6"
            and rest[2] < "6"
            and (start := hour_start_ms(text[:14])) is not None
        ):
            return _in_hour(start, rest)
    return parse_timestamp_ms(text)


def canonical_ms(text: str, start: int) -> int:
    """Epoch ms of `text`, an instant in a canonical form (`YYYY-MM-DDTHH:MM:SS[.sss]Z`, its
    digits checked) whose hour starts at `start` (`hour_start_ms`)."""
    return _in_hour(start, text[14:16] + text[17:19] + (text[20:23] if len(text) == 24 else "000"))


def _in_hour(start: int, rest: str) -> int:
    # minutes, seconds and milliseconds read as one number (mmssSSS): one int()
    m = int(rest)
    return start + m // 100_000 * 60_000 + m % 100_000
