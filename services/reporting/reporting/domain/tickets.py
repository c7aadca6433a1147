"""Ticket figures: how a clock's outcome and a ticket's life count into the daily aggregates,
and compliance, MTTA and MTTR from those counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import NamedTuple

from reporting.domain.periods import utc_day

PRIORITIES = ("P1", "P2", "P3", "P4")
NO_PRIORITY = "none"


class ClockOutcome(NamedTuple):
    """What the read model keeps of one clock: its newest fact, reduced to what counts."""

    ticket_id: str
    metric: str
    service: str
    priority: str | None
    state: str  # running | paused | met | breached
    version: int
    elapsed_ms: int
    stopped_ms: int | None
    breached_ms: int | None
    deadline_ms: int | None
    policy: str | None = None
    policy_version: int | None = None  # the version of `policy` the fact names

    @property
    def outcome_ms(self) -> int | None:
        """When the clock's fate was decided: the breach instant for a breached clock (a
        clock that breached and then stopped stays breached), the stop for a met one; an
        open clock has no outcome yet. A retraction arrives as a newer fact saying met."""
        if self.state == "breached":
            return self.breached_ms or self.deadline_ms or self.stopped_ms
        if self.state == "met":
            return self.stopped_ms
        return None


class ClockDay(NamedTuple):
    """A contribution to (or, negated, a withdrawal from) one daily aggregate row."""

    service: str
    day: date
    metric: str
    priority: str
    met: int = 0
    breached: int = 0
    stopped: int = 0
    elapsed_ms: int = 0

    def negated(self) -> ClockDay:
        return self._replace(
            met=-self.met,
            breached=-self.breached,
            stopped=-self.stopped,
            elapsed_ms=-self.elapsed_ms,
        )


def clock_days(clock: ClockOutcome) -> list[ClockDay]:
    """The outcome counts on the day of the outcome; the elapsed time of a stopped clock (for
    MTTA / MTTR) on the day it stopped."""
    out: list[ClockDay] = []
    priority = clock.priority or NO_PRIORITY
    outcome = clock.outcome_ms
    if outcome is not None:
        met, breached = (1, 0) if clock.state == "met" else (0, 1)
        out.append(ClockDay(clock.service, utc_day(outcome), clock.metric, priority, met, breached))
    if clock.stopped_ms is not None:
        out.append(
            ClockDay(
                clock.service,
                utc_day(clock.stopped_ms),
                clock.metric,
                priority,
                stopped=1,
                elapsed_ms=clock.elapsed_ms,
            )
        )
    return out


def clock_delta(old: ClockOutcome | None, new: ClockOutcome) -> list[ClockDay]:
    """What replacing `old` by `new` changes in the aggregates (the old contribution out,
    the new one in), so the aggregates depend only on the newest fact of each clock."""
    before = [] if old is None else [c.negated() for c in clock_days(old)]
    return before + clock_days(new)


@dataclass(slots=True)
class Tally:
    """Counts of one metric over a period."""

    met: int = 0
    breached: int = 0
    stopped: int = 0
    elapsed_ms: int = 0

    def add(self, met: int, breached: int, stopped: int, elapsed_ms: int) -> None:
        self.met += met
        self.breached += breached
        self.stopped += stopped
        self.elapsed_ms += elapsed_ms

    @property
    def compliance(self) -> float | None:
        """Percent of decided clocks that met their target; None when none was decided."""
        decided = self.met + self.breached
        return None if decided == 0 else 100.0 * self.met / decided

    @property
    def mean_ms(self) -> float | None:
        """Mean working time counted on the clocks that stopped in the period."""
        return None if self.stopped == 0 else self.elapsed_ms / self.stopped


@dataclass(slots=True)
class TicketCounts:
    """A service's ticket and change counts over a period."""

    opened: dict[str, int] = field(default_factory=dict)  # by priority
    response: Tally = field(default_factory=Tally)
    resolution: Tally = field(default_factory=Tally)
    changes: int = 0
    changes_failed: int = 0
    priorities: dict[tuple[str, str], Tally] = field(default_factory=dict)
    """(metric, priority) -> that priority's outcomes of the metric."""

    def tally(self, metric: str) -> Tally:
        return self.response if metric == "response" else self.resolution

    def add(
        self, metric: str, priority: str | None, met: int, breached: int, stopped: int, ms: int
    ) -> None:
        """Outcomes of a metric counted in its total and in its priority's tally."""
        self.tally(metric).add(met, breached, stopped, ms)
        key = (metric, priority or NO_PRIORITY)
        self.priorities.setdefault(key, Tally()).add(met, breached, stopped, ms)


def ticket_figures(
    counts: TicketCounts, compliance_targets: dict[str, float] | None = None
) -> dict[str, object]:
    """The tickets block; `compliance_targets` is the policy's share of clocks per priority
    that must meet their target (percent), each priority judged against its own."""
    by_priority = {p: counts.opened.get(p, 0) for p in PRIORITIES}
    if counts.opened.get(NO_PRIORITY):
        by_priority[NO_PRIORITY] = counts.opened[NO_PRIORITY]
    targets = compliance_targets or {}
    return {
        "total": sum(counts.opened.values()),
        "by_priority": by_priority,
        "response": _metric(counts, "response", targets),
        "resolution": _metric(counts, "resolution", targets),
        "mtta_seconds": _seconds(counts.response.mean_ms),
        "mttr_seconds": _seconds(counts.resolution.mean_ms),
    }


def change_figures(counts: TicketCounts) -> dict[str, object]:
    total, failed = counts.changes, counts.changes_failed
    return {
        "total": total,
        "failed": failed,
        "success_rate": None if total == 0 else 100.0 * (total - failed) / total,
    }


def _outcomes(tally: Tally) -> dict[str, object]:
    return {"met": tally.met, "breached": tally.breached, "compliance": tally.compliance}


def _metric(counts: TicketCounts, metric: str, targets: dict[str, float]) -> dict[str, object]:
    """A metric's outcomes, per priority against the policy's compliance target, and
    `target_met` for the metric: every priority with a target and decided clocks met it
    (None: no priority had both)."""
    names = sorted(
        {p for m, p in counts.priorities if m == metric} | set(targets),
        key=lambda p: (p not in PRIORITIES, p),
    )
    per: dict[str, dict[str, object]] = {}
    judged: list[bool] = []
    for p in names:
        tally = counts.priorities.get((metric, p), Tally())
        target = targets.get(p)
        decided = tally.met + tally.breached
        # compared exactly: 19 of 20 meets 95, and 2 of 3 misses 66.67
        met = (
            None
            if target is None or not decided
            else (Fraction(100 * tally.met, decided) >= Fraction(str(target)))
        )
        if met is not None:
            judged.append(met)
        per[p] = {**_outcomes(tally), "target": target, "target_met": met}
    return {
        **_outcomes(counts.tally(metric)),
        "by_priority": per,
        "target_met": all(judged) if judged else None,
    }


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def sum_days(rows: Iterable[ClockDay]) -> dict[tuple[str, date, str, str], ClockDay]:
    """Contributions to the same aggregate row added up (one upsert per row and batch)."""
    out: dict[tuple[str, date, str, str], ClockDay] = {}
    for r in rows:
        key = (r.service, r.day, r.metric, r.priority)
        have = out.get(key)
        out[key] = (
            r
            if have is None
            else have._replace(
                met=have.met + r.met,
                breached=have.breached + r.breached,
                stopped=have.stopped + r.stopped,
                elapsed_ms=have.elapsed_ms + r.elapsed_ms,
            )
        )
    return out
