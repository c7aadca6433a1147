"""What one version of a policy says about a ticket's clocks (`ClockRules`), and the warn
thresholds it sets. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pacta.calendars import Calendar

if TYPE_CHECKING:
    from sla_engine.domain.clocks import Metric


def warn_before_mark(seconds: int) -> float:
    """How a `warn_before` duration rides among the warn thresholds: as minus its seconds (a
    fraction is always positive, so the two never meet)."""
    return -float(seconds)


def check_warn_at(warn_at: Iterable[float]) -> tuple[float, ...]:
    """Sorted, unique warn fractions; each must lie strictly between 0 and 1."""
    fractions = tuple(sorted(set(warn_at)))
    for fraction in fractions:
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"warn_at: {fraction} must be a fraction strictly between 0 and 1")
    return fractions


@dataclass(frozen=True, slots=True)
class ClockRules:
    """What a policy says about a ticket's clocks; `targets` is priority -> metric -> ms."""

    policy: str
    calendar: Calendar
    targets: Mapping[str, Mapping[str, int]]
    pause_statuses: frozenset[str] = frozenset()
    warn_at: tuple[float, ...] = ()
    policy_version: int = 0
    calendar_version: int = 0

    @property
    def versions(self) -> tuple[str, int, int]:
        """Which policy and which versions of it and its calendar these rules are."""
        return self.policy, self.policy_version, self.calendar_version

    def target_ms(self, priority: str | None, metric: Metric) -> int | None:
        by_metric = self.targets.get(priority) if priority is not None else None
        return None if by_metric is None else by_metric.get(metric)
