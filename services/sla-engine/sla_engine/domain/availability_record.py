"""Availability signals on record against a new plan: the occurrence id a new signal takes, and
the budget warnings and breaches a late resolve, a window declared after the fact or a changed
policy proved wrong (retracted, as ticket breaches are). Pure: the shell does the I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sla_engine.domain.budget_alerts import Intent

RETRACTABLE = ("availability_warning", "availability_breach")
"""Kinds a plan derives completely for every month it covers (burn-rate and recovered signals
are derived per outage, from the changed instant on, so their absence proves nothing)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """An availability signal already emitted for the service."""

    signal_id: str
    kind: str
    month: str
    retracted: bool


def base_id(signal_id: str) -> str:
    """The condition a signal id names, without its occurrence suffix (`#2` ...)."""
    return signal_id.split("#", 1)[0]


@dataclass(frozen=True, slots=True)
class Verdict:
    emit: list[Intent]  # with the id of their occurrence
    retract: list[Recorded]
    standing: frozenset[str]  # condition ids signalled and not retracted (the plan's `fired`)


def standing_ids(records: Iterable[Recorded]) -> frozenset[str]:
    return frozenset(base_id(r.signal_id) for r in records if not r.retracted)


def judge(records: Sequence[Recorded], intents: Sequence[Intent], months: Iterable[str]) -> Verdict:
    """New occurrences to emit (a condition signalled and retracted n times takes `#<n + 1>`),
    and the standing warnings and breaches of the planned months the plan no longer produces."""
    standing = standing_ids(records)
    retracted: dict[str, int] = {}
    for record in records:
        if record.retracted:
            retracted[base_id(record.signal_id)] = retracted.get(base_id(record.signal_id), 0) + 1
    emit = []
    for intent in intents:
        if intent.signal_id in standing:
            continue
        n = retracted.get(intent.signal_id, 0)
        emit.append(intent if n == 0 else replace(intent, signal_id=f"{intent.signal_id}#{n + 1}"))
    produced = {i.signal_id for i in intents}
    planned = set(months)
    retract = [
        r
        for r in records
        if not r.retracted
        and r.kind in RETRACTABLE
        and r.month in planned
        and base_id(r.signal_id) not in produced
    ]
    return Verdict(emit, retract, standing)
