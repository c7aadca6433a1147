"""What the outage tracker hands out: signals from intents, availability facts for
reporting, and the API's view of a month's figures (all from the same `MonthFigures`)."""

from __future__ import annotations

from typing import Any

from pacta.durations import format_timestamp_ms, ms_to_datetime
from pacta.events import Signal
from sla_engine.api.schemas import Availability
from sla_engine.domain.budget_alerts import Intent
from sla_engine.domain.downtime import MonthFigures, Objective
from sla_engine.domain.signals import LATE_AFTER_MS


def intent_signal(
    service: str,
    objective: Objective,
    intent: Intent,
    detected_ms: int,
    labels: dict[str, str] | None = None,
) -> Signal:
    """The signal of an intent; `labels` are those of the checks down at its instant (the
    intent's own, such as `burn_rule`, win over theirs)."""
    return Signal.model_validate(
        {
            "signal_id": intent.signal_id,
            "kind": intent.kind,
            "service": service,
            "policy": objective.policy,
            "policy_version": objective.policy_version,
            "calendar_version": objective.calendar_version,
            "metric": "availability",
            "threshold": intent.threshold,
            "deadline": _ts(intent.deadline_ms),
            "occurred_at": _ts(intent.occurred_ms),
            "detected_at": _ts(detected_ms),
            "labels": {**(labels or {}), **intent.labels},
            "late": detected_ms - intent.occurred_ms > LATE_AFTER_MS,
            "summary": intent.summary,
        }
    )


def retraction_signal(standing: dict[str, Any], detected_ms: int) -> Signal:
    """The `retracted` signal for an availability warning or breach the data no longer
    supports (a late resolve, a maintenance window declared after it, a changed policy)."""
    return Signal.model_validate(
        {
            **standing,
            "signal_id": f"{standing['signal_id']}/retracted",
            "kind": "retracted",
            "detected_at": _ts(detected_ms),
            "late": True,
            "retracts": standing["signal_id"],
            "summary": f"{standing['kind']} {standing['signal_id']} did not happen",
        }
    )


def availability_fact(fig: MonthFigures, *, version: int) -> dict[str, Any]:
    """What reporting needs to show a service's month exactly as the engine counts it."""
    objective = fig.objective
    return {
        "fact_id": f"availability:{fig.service}:{fig.month}:{version}",
        "fact": "availability",
        "service": fig.service,
        "month": fig.month,
        "policy": objective.policy,
        "policy_version": objective.policy_version,
        "target": objective.target,
        "calendar": objective.calendar.name,
        "calendar_version": objective.calendar_version,
        "down_severities": sorted(objective.down_severities),
        "downtime_seconds": fig.downtime_ms / 1000,
        "agreed_service_seconds": fig.agreed_to_date_ms / 1000,
        "agreed_month_seconds": fig.agreed_month_ms / 1000,
        "actual": fig.actual_pct,
        "budget_seconds": None if fig.budget_ms is None else fig.budget_ms / 1000,
        "budget_consumed": fig.budget_consumed,
        "met": fig.met,
        "on_track": fig.on_track,
        "down": fig.down,
        "down_intervals": [[_ts(s), _ts(e)] for s, e in fig.intervals],
        # additive keys for reporting: the month's edges in the calendar's zone and the
        # maintenance windows, so agreed time can be recounted for a report in another zone
        "calendar_timezone": objective.calendar.timezone,
        "month_start": _ts(fig.start_ms),
        "month_end": _ts(fig.end_ms),
        "maintenance_intervals": [[_ts(s), _ts(e)] for s, e in fig.maintenance],
        # coverage (additive): agreed time to date nothing measured, the measured share in
        # percent, and the stretches (already left out of agreed_service_seconds; `actual` is
        # null when nothing of the month was measured)
        "unmeasured_seconds": fig.unmeasured_ms / 1000,
        "coverage": fig.coverage_pct,
        "unmeasured_intervals": [[_ts(s), _ts(e)] for s, e in fig.unmeasured],
        "version": version,
        "as_of": _ts(fig.as_of_ms),
        "occurred_at": _ts(fig.as_of_ms),
    }


def _ts(ms: int | None) -> str | None:
    return None if ms is None else format_timestamp_ms(ms)


def availability_view(fig: MonthFigures) -> Availability:
    """The API's answer, from the same figures the facts carry."""
    return Availability(
        service=fig.service,
        month=fig.month,
        policy=fig.objective.policy,
        policy_version=fig.objective.policy_version,
        calendar=fig.objective.calendar.name,
        calendar_version=fig.objective.calendar_version,
        target=fig.objective.target,
        actual=fig.actual_pct,
        downtime_seconds=fig.downtime_ms / 1000,
        agreed_service_seconds=fig.agreed_to_date_ms / 1000,
        agreed_month_seconds=fig.agreed_month_ms / 1000,
        budget_seconds=None if fig.budget_ms is None else fig.budget_ms / 1000,
        budget_remaining_seconds=(
            None if fig.budget_remaining_ms is None else fig.budget_remaining_ms / 1000
        ),
        budget_consumed=fig.budget_consumed,
        met=fig.met,
        on_track=fig.on_track,
        down=fig.down,
        unmeasured_seconds=fig.unmeasured_ms / 1000,
        coverage=fig.coverage_pct,
        as_of=ms_to_datetime(fig.as_of_ms),
        down_intervals=[
            (ms_to_datetime(s), None if e is None else ms_to_datetime(e)) for s, e in fig.intervals
        ],
    )
