"""Which availability signals a service's outages imply, and when the next falls due.

Pure: budget warnings and breach per month, burn-rate alerts and `recovered` per outage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pacta.durations import format_timestamp_ms
from sla_engine.domain.availability import (
    BURN_RULES,
    BurnRule,
    OpenInterval,
    budget_alert_instants,
    burn_alerts,
    clip,
    close_open,
)
from sla_engine.domain.coverage import Monitoring
from sla_engine.domain.downtime import (
    MonthFigures,
    Objective,
    month_figures,
    month_of,
    months_between,
)

_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Intent:
    """A signal the arithmetic calls for; the shell adds detection time and the late flag."""

    signal_id: str
    kind: str
    month: str
    occurred_ms: int
    threshold: float | None
    deadline_ms: int | None = None
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Plan:
    figures: list[MonthFigures]
    intents: list[Intent]
    next_due_ms: int | None

    @property
    def current(self) -> MonthFigures:
        return self.figures[-1]


def plan(
    service: str,
    objective: Objective,
    down: Sequence[OpenInterval],
    maintenance: Sequence[OpenInterval],
    *,
    since_ms: int,
    now_ms: int,
    fired: frozenset[str] = frozenset(),
    monitoring: Monitoring | None = None,
    firing: Sequence[OpenInterval] = (),
) -> Plan:
    """Figures of every month from the one in which the outage containing `since_ms` began to
    the current one, the signals due by `now_ms`, and the next instant to wake at (assuming
    open outages continue). Each signal has a stable id, so planning again is harmless; ids in
    `fired` (signalled before) are still returned, but their instants need not be exact:

    - `availability_warning` when the month's downtime reaches each `warn_at` fraction of the
      month's error budget, `availability_breach` when it exceeds it; once each per month;
    - `burn_rate` per outage and rule (fast: 14.4x over 1 h and 5 m; slow: 6x over 6 h and
      30 m) at the first instant inside the outage at which both windows burn that fast;
    - `recovered` at the end of an outage during which any of those fired.

    `since_ms` is the earliest instant whose data changed (the earliest new event's time): the
    derivation of intervals only changes from there on, so earlier months stay as they were.
    """
    tz = objective.calendar.timezone
    start = min(
        [since_ms, now_ms] + [s for s, e in down if s <= since_ms and (e is None or e >= since_ms)]
    )
    figures: list[MonthFigures] = []
    intents: list[Intent] = []
    dues: list[int] = []
    for month in months_between(start, now_ms, tz):
        fig = month_figures(
            service, month, objective, down, maintenance, now_ms, monitoring, firing
        )
        figures.append(fig)
        found, due = budget_intents(fig, down, maintenance, now_ms)
        intents += found
        dues += [] if due is None else [due]
    found, burn_dues = burn_intents(service, objective, down, maintenance, start, now_ms, fired)
    intents += found
    dues += burn_dues
    intents += recovered_intents(service, objective, down, intents, start, now_ms)
    if figures[-1].down:
        dues.append(figures[-1].end_ms)  # the month turns: close its figures, start the next
    return Plan(figures, intents, min(dues, default=None))


def budget_intents(
    fig: MonthFigures,
    down: Sequence[OpenInterval],
    maintenance: Sequence[OpenInterval],
    now_ms: int,
) -> tuple[list[Intent], int | None]:
    """Budget warnings and the breach of one month: those due by now, and the next instant."""
    objective = fig.objective
    if fig.budget_ms is None or now_ms <= fig.start_ms:
        return [], None
    instants = budget_alert_instants(
        down,
        objective.measured_by,
        # a maintenance window still open is assumed to go on (no downtime counts inside it)
        close_open(maintenance, fig.end_ms),
        start_ms=fig.start_ms,
        end_ms=fig.end_ms,
        budget=fig.budget_ms,
        warn_at=objective.warn_at,
    )
    breach_at = instants[1.0]
    intents, dues = [], []
    for fraction, instant in instants.items():
        if instant is None:
            continue
        if instant > now_ms:
            dues.append(instant)
            continue
        kind = "availability_breach" if fraction >= 1.0 else "availability_warning"
        intents.append(
            Intent(
                signal_id=f"{fig.service}/availability/{fig.month}/{kind}/{fraction:g}",
                kind=kind,
                month=fig.month,
                occurred_ms=instant,
                threshold=fraction,
                deadline_ms=breach_at,
                summary=(
                    f"downtime exceeded the error budget of {fig.budget_ms / 1000:g}s in {fig.month}"
                    if kind == "availability_breach"
                    else f"downtime reached {fraction:.0%} of the error budget in {fig.month}"
                ),
            )
        )
    return intents, min(dues, default=None)


def burn_intents(
    service: str,
    objective: Objective,
    down: Sequence[OpenInterval],
    maintenance: Sequence[OpenInterval],
    since_ms: int,
    now_ms: int,
    fired: frozenset[str] = frozenset(),
    rules: Sequence[BurnRule] = BURN_RULES,
) -> tuple[list[Intent], list[int]]:
    """Burn-rate signals of the outages still going on at or after `since_ms`, and for the open
    outage the instant each rule will fire if it continues (or a re-check an hour or six on).

    Inside one outage the burn rates only grow on a 24x7 calendar, so the first instant a rule
    fires is found exactly by bisection; on other calendars bisection finds a crossing and the
    re-check catches the rest."""
    if objective.target is None:
        return [], []
    windows = close_open(maintenance, now_ms + 2 * _DAY_MS)  # open windows assumed to go on
    intents: list[Intent] = []
    dues: list[int] = []
    for start, end in down:
        if (end is not None and end < since_ms) or start > now_ms:
            continue
        for rule in rules:

            def fires(t: int, rule: BurnRule = rule) -> bool:
                return _fires(rule, objective, down, windows, t)

            last = now_ms if end is None else min(end, now_ms)
            if _burn_id(service, objective, rule, start) in fired:
                # signalled before: its instant is not needed again, only that it lies in
                # this outage (for `recovered`), so the search is skipped
                intents.append(_burn_intent(service, objective, rule, start, start))
            elif fires(last):
                at = _earliest(fires, start, last)
                intents.append(_burn_intent(service, objective, rule, start, at))
            elif end is None:
                horizon = now_ms + rule.long_ms
                dues.append(_earliest(fires, now_ms + 1, horizon) if fires(horizon) else horizon)
    return intents, dues


def _fires(
    rule: BurnRule,
    objective: Objective,
    down: Sequence[OpenInterval],
    windows: Sequence[tuple[int, int]],
    t: int,
) -> bool:
    # only the long window matters: clip first, so long histories cost nothing
    since = t - rule.long_ms
    pieces = clip(close_open(down, t), since, t)
    status = burn_alerts(
        pieces,
        objective.measured_by,
        clip(windows, since, t),
        now_ms=t,
        target_pct=objective.target or 0.0,
        rules=[rule],
    )
    return status[0].firing


def _earliest(predicate: Callable[[int], bool], low: int, high: int) -> int:
    """The first t in [low, high] with predicate(t), given predicate(high) and monotony."""
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return high


def _burn_id(service: str, objective: Objective, rule: BurnRule, outage_start: int) -> str:
    month = month_of(outage_start, objective.calendar.timezone)
    return (
        f"{service}/availability/{month}/burn_rate/{rule.name}/{format_timestamp_ms(outage_start)}"
    )


def _burn_intent(
    service: str, objective: Objective, rule: BurnRule, outage_start: int, at: int
) -> Intent:
    month = month_of(outage_start, objective.calendar.timezone)
    started = format_timestamp_ms(outage_start)
    return Intent(
        signal_id=_burn_id(service, objective, rule, outage_start),
        kind="burn_rate",
        month=month,
        occurred_ms=at,
        threshold=rule.factor,
        summary=(
            f"{rule.name} burn: the error budget burns {rule.factor:g}x faster than sustainable "
            f"over {rule.long_ms // 60_000}m and {rule.short_ms // 60_000}m"
        ),
        labels={"burn_rule": rule.name, "outage_started_at": started},
    )


ALERTING_KINDS = ("availability_warning", "availability_breach", "burn_rate")


def recovered_intents(
    service: str,
    objective: Objective,
    down: Sequence[OpenInterval],
    intents: Sequence[Intent],
    since_ms: int,
    now_ms: int,
) -> list[Intent]:
    """`recovered` at the end of each finished outage during which an alerting availability
    signal fired (its instant lies inside the outage): the all-clear for what it raised."""
    out = []
    for start, end in down:
        if end is None or end < since_ms or end > now_ms:
            continue
        raised = [i for i in intents if i.kind in ALERTING_KINDS and start <= i.occurred_ms <= end]
        if not raised:
            continue
        month = month_of(start, objective.calendar.timezone)
        started = format_timestamp_ms(start)
        out.append(
            Intent(
                signal_id=f"{service}/availability/{month}/recovered/{started}",
                kind="recovered",
                month=month,
                occurred_ms=end,
                threshold=None,
                summary=f"{service} is up again after an outage of {(end - start) / 1000:g}s",
                labels={"outage_started_at": started},
            )
        )
    return out
