"""Policy and calendar versions as reporting reads them: the records of the compacted
topics turned into `pacta.versions` lists, and the versions of a policy in force over a month
with their targets, as the report shows them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pacta.calendars import Calendar
from pacta.durations import format_timestamp_ms, parse_duration, parse_timestamp_ms
from pacta.versions import Version, segments

_END_OF_TIME = 2**62
METRICS = ("response", "resolution")


def _ms(text: str | None) -> int | None:
    return None if text is None else parse_timestamp_ms(text)


def _stamp(ms: int | None) -> str | None:
    return None if ms is None else format_timestamp_ms(ms)


def calendar_of(name: str, spec: Mapping[str, Any]) -> Calendar:
    """A calendar body (as PUT, docs/api.md; or a `CalendarRecord`'s own fields); raises ValueError or
    KeyError for one the calendar code refuses."""
    return Calendar(
        name=name,
        timezone=spec["timezone"],
        hours=spec["hours"],
        holidays=spec.get("holidays") or (),
        holiday_country=spec.get("holiday_country"),
        holiday_subdivision=spec.get("holiday_subdivision"),
    )


def _versions(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(record.get("versions") or [])


def calendar_versions(name: str, record: Mapping[str, Any]) -> list[Version[Calendar]]:
    """Every version of a `CalendarRecord`; a record without `versions` (published before
    versions existed) is its own fields since always, which counts exactly as before."""
    found = _versions(record)
    if not found:
        return [Version(int(record.get("version") or 0), None, calendar_of(name, record))]
    return [
        Version(
            int(v["version"]),
            _ms(v.get("effective_from")),
            None if v.get("spec") is None else calendar_of(name, v["spec"]),
            _ms(v.get("recorded_at")) or 0,
        )
        for v in found
    ]


def policy_versions(record: Mapping[str, Any]) -> list[Version[Mapping[str, Any]]]:
    """A `PolicyRecord`'s versions, each valued by its body as PUT (None: deleted)."""
    return [
        Version(
            int(v["version"]),
            _ms(v.get("effective_from")),
            v.get("spec"),
            _ms(v.get("recorded_at")) or 0,
        )
        for v in _versions(record)
    ]


def newest_version(record: Mapping[str, Any]) -> int:
    """The highest version number a record holds: a later record of a policy holds every
    version of an earlier one and more, so the higher one is the newer record."""
    return max((int(v["version"]) for v in _versions(record)), default=0)


def _seconds(value: Any) -> int | None:
    # the body as PUT says "4h"; a body the engine normalised says 14400
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    try:
        return parse_duration(value) if isinstance(value, str) else None
    except ValueError:
        return None


def targets_seconds(spec: Mapping[str, Any]) -> dict[str, dict[str, int | None]]:
    """`targets` of a policy body in seconds per priority and metric."""
    targets = spec.get("targets") or {}
    if not isinstance(targets, Mapping):
        return {}
    return {
        str(priority): {m: _seconds(t.get(m)) for m in METRICS}
        for priority, t in sorted(targets.items())
        if isinstance(t, Mapping)
    }


def _until(versions: Sequence[Version[Any]], start_ms: int) -> int | None:
    """When the version in force at `start_ms` stops being so (None: it still is). Once a higher
    version takes effect a lower one never returns, so each version's stretch is one piece."""
    until = segments(versions, start_ms, _END_OF_TIME)[0][1]
    return None if until >= _END_OF_TIME else until


def month_entries(
    policy: str, record: Mapping[str, Any], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """The versions of `policy` in force at some instant of [start_ms, end_ms), in order: when
    each took and lost effect, the part of the period it governed, and what it said. Stretches
    before the policy's first version have none in force and are left out."""
    versions = policy_versions(record)
    out: list[dict[str, Any]] = []
    for lo, hi, current in segments(versions, start_ms, end_ms):
        if current is None:
            continue
        spec = current.value
        warn_at = None if spec is None else spec.get("warn_at")
        out.append(
            {
                "policy": policy,
                "version": current.version,
                "effective_from": _stamp(current.effective_from_ms),
                "effective_until": _stamp(_until(versions, lo)),
                "in_month_from": format_timestamp_ms(lo),
                "in_month_until": format_timestamp_ms(hi),
                "targets": {} if spec is None else targets_seconds(spec),
                "warn_at": list(warn_at) if isinstance(warn_at, list) else None,
                "calendar": None if spec is None else spec.get("calendar", "24x7"),
                "deleted": spec is None,
            }
        )
    return out


def compliance_targets(record: Mapping[str, Any], at_ms: int) -> dict[str, float]:
    """The share of clocks per priority that must meet their target (percent), as the policy
    version in force just before `at_ms` (the period's end) says; priorities without one are
    left out."""
    current = None
    for lo, _hi, found in segments(policy_versions(record), at_ms - 1, at_ms):
        current = found if lo < at_ms else current
    spec = None if current is None else current.value
    targets = (spec or {}).get("targets") or {}
    out: dict[str, float] = {}
    if not isinstance(targets, Mapping):
        return out
    for priority, t in targets.items():
        value = t.get("compliance") if isinstance(t, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
            out[str(priority)] = float(value)
    return out
