"""The availability gauges of each service the tracker has evaluated (availability, coverage,
error budget left), computed at each scrape from what its latest evaluation loaded, so a
dashboard sees the figures move during an outage or a silence, not only at its events."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pacta.clock import now_ms
from sla_engine.domain.availability import OpenInterval
from sla_engine.domain.coverage import Monitoring
from sla_engine.domain.downtime import Objective, month_figures, month_of
from sla_engine.metrics import AVAILABILITY, BUDGET_REMAINING, COVERAGE


@dataclass(frozen=True, slots=True)
class Measured:
    """What a service's gauges are computed from."""

    objective: Objective
    down: list[OpenInterval]
    windows: list[OpenInterval]
    monitoring: Monitoring
    firing: list[OpenInterval]


class LiveGauges:
    def __init__(self) -> None:
        self.live: dict[str, Measured] = {}
        self.gauged: set[str] = set()  # services whose gauges are registered

    def watch(self, service: str, measured: Measured) -> None:
        """Keep what the service's gauges are computed from. Only a service with an
        availability target has gauges (docs/metrics.md), and it gets them when the target
        comes, also after its first monitoring events; they go when the target goes."""
        self.live[service] = measured
        has_target = measured.objective.target is not None
        if has_target and service not in self.gauged:
            AVAILABILITY.labels(service).set_function(lambda: self.value(service, "actual"))
            COVERAGE.labels(service).set_function(lambda: self.value(service, "coverage"))
            BUDGET_REMAINING.labels(service).set_function(lambda: self.value(service, "budget"))
            self.gauged.add(service)
        elif not has_target and service in self.gauged:
            for gauge in (AVAILABILITY, COVERAGE, BUDGET_REMAINING):
                gauge.remove(service)
            self.gauged.discard(service)

    def value(self, service: str, which: str) -> float:
        m = self.live[service]
        now = now_ms()
        month = month_of(now, m.objective.calendar.timezone)
        fig = month_figures(
            service, month, m.objective, m.down, m.windows, now, m.monitoring, m.firing
        )
        if which == "actual":
            # no figure (nothing measured this month) is no value, never 100 %
            return math.nan if fig.actual_pct is None else fig.actual_pct / 100
        if which == "coverage":
            return math.nan if fig.coverage_pct is None else fig.coverage_pct / 100
        return 1.0 if fig.budget_consumed is None else 1 - fig.budget_consumed
