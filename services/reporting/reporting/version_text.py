"""The "Policy versions" section as a manager reads it, the same text in the HTML and the PDF:
which targets were in force over which days of the month (on the report zone's wall clocks),
and the compliance of the clocks decided under each version."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

NONE = "\u2013"  # an en dash: an undefined figure, and the dash of a range
VERSION_HEAD = ["policy", "version", "in force this month", "targets (response / resolution)"]
VERSION_HEAD += ["warn at", "calendar"]
COMPLIANCE_HEAD = ["policy", "version", "response met / breached", "response %"]
COMPLIANCE_HEAD += ["resolution met / breached", "resolution %"]


def _local(instant: str, tz: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(ZoneInfo(tz))


def span(seconds: int | None) -> str:
    """A target as its owner wrote it: 15m, 4h, 1h30m, 2d."""
    if seconds is None:
        return NONE
    parts, rest = [], seconds
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def in_force(v: dict[str, Any], tz: str) -> str:
    """`2026-10-01 00:00 to 2026-10-15 00:00 (days 1 to 14)`, dashed; the end is exclusive,
    so the days are those the version governed at least in part."""
    start, end = _local(v["in_month_from"], tz), _local(v["in_month_until"], tz)
    last = end - timedelta(milliseconds=1)
    days = (
        f"day {start.day}" if start.date() == last.date() else f"days {start.day}{NONE}{last.day}"
    )
    return f"{start:%Y-%m-%d %H:%M} {NONE} {end:%Y-%m-%d %H:%M} ({days})"


def label(version: int | None, deleted: bool = False) -> str:
    if version is None:
        return "none (facts from before versions)"
    return f"v{version}" + (" (deleted)" if deleted else "")


def targets(v: dict[str, Any]) -> str:
    if v["deleted"]:
        return "none: the policy was deleted"
    return "; ".join(
        f"{priority} {span(t.get('response'))} / {span(t.get('resolution'))}"
        for priority, t in v["targets"].items()
    )


def version_rows(s: dict[str, Any], tz: str) -> list[list[str]]:
    """One row per version in force in the month, in order."""
    return [
        [
            v["policy"],
            label(v["version"], v["deleted"]),
            in_force(v, tz),
            targets(v) or NONE,
            NONE if not v["warn_at"] else ", ".join(f"{w:g}" for w in v["warn_at"]),
            v["calendar"] or NONE,
        ]
        for v in s["policy_versions"]
    ]


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{value:,.1f}"


def compliance_rows(s: dict[str, Any]) -> list[list[str]]:
    """One row per (policy, version) with clocks decided in the month."""
    return [
        [
            c["policy"] or NONE,
            label(c["version"]),
            f"{c['response']['met']} / {c['response']['breached']}",
            _pct(c["response"]["compliance"]),
            f"{c['resolution']['met']} / {c['resolution']['breached']}",
            _pct(c["resolution"]["compliance"]),
        ]
        for c in s["tickets"].get("by_policy_version", [])
    ]
