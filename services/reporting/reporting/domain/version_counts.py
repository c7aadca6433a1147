"""Clock outcomes per policy version: the daily aggregate keyed by the (policy,
version) a clock's fact names, moved by differences like the other aggregates, and the
report's `tickets.by_policy_version` from it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, NamedTuple

from reporting.domain.periods import utc_day
from reporting.domain.tickets import ClockOutcome, Tally

NO_POLICY = ""
NO_VERSION = -1
"""How a fact that names no policy or no version (one from before versions) is stored: the
aggregate's primary key cannot hold nulls."""

VersionKey = tuple[str | None, int | None]


class VersionDay(NamedTuple):
    """A contribution to (or, negated, a withdrawal from) one row of `clock_version_days`."""

    service: str
    day: date
    metric: str
    policy: str
    policy_version: int
    met: int = 0
    breached: int = 0

    @property
    def key(self) -> tuple[str, date, str, str, int]:
        return (self.service, self.day, self.metric, self.policy, self.policy_version)


def version_days(clock: ClockOutcome) -> list[VersionDay]:
    """The outcome on its UTC day, under the version the fact names: the same day and the
    same met / breached decision as `tickets.clock_days`, so the two always agree."""
    outcome = clock.outcome_ms
    if outcome is None:
        return []
    met = 1 if clock.state == "met" else 0
    return [
        VersionDay(
            clock.service,
            utc_day(outcome),
            clock.metric,
            NO_POLICY if clock.policy is None else clock.policy,
            NO_VERSION if clock.policy_version is None else clock.policy_version,
            met,
            1 - met,
        )
    ]


def version_delta(old: ClockOutcome | None, new: ClockOutcome) -> list[VersionDay]:
    """Replacing `old` by `new`: the old contribution out (under its version), the new one in."""
    before = [] if old is None else version_days(old)
    return [d._replace(met=-d.met, breached=-d.breached) for d in before] + version_days(new)


def sum_version_days(rows: Iterable[VersionDay]) -> list[VersionDay]:
    """Contributions to the same row added up; rows that cancel out are dropped."""
    out: dict[tuple[str, date, str, str, int], VersionDay] = {}
    for r in rows:
        have = out.get(r.key)
        if have is not None:
            r = have._replace(met=have.met + r.met, breached=have.breached + r.breached)
        out[r.key] = r
    return [d for d in out.values() if d.met or d.breached]


def stored_key(policy: str, version: int) -> VersionKey:
    """A row's (policy, version) as the report names it (None where the fact named none)."""
    return (None if policy == NO_POLICY else policy, None if version == NO_VERSION else version)


def _order(key: VersionKey) -> tuple[str, int]:
    return (key[0] or "", NO_VERSION if key[1] is None else key[1])


def by_policy_version(counts: Mapping[VersionKey, Mapping[str, Tally]]) -> list[dict[str, Any]]:
    """One entry per (policy, version) with a decided clock in the period, response and
    resolution counted and compliance computed as the service's own figures are."""
    out = []
    for policy, version in sorted(counts, key=_order):
        tallies = counts[(policy, version)]
        if not any(t.met or t.breached for t in tallies.values()):
            continue  # every clock moved on to another version or period
        entry: dict[str, Any] = {"policy": policy, "version": version}
        for metric in ("response", "resolution"):
            t = tallies.get(metric) or Tally()
            entry[metric] = {"met": t.met, "breached": t.breached, "compliance": t.compliance}
        out.append(entry)
    return out
