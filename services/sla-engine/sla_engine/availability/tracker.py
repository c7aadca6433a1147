"""The outage tracker: down intervals of checks, each service's availability against its
policy, availability signals in real time (timers), and availability facts for reporting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.clock import now_ms
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.events import FACTS_TOPIC, SIGNALS_TOPIC, MonitoringEvent, Signal, topic_name
from pacta.logs import get_logger
from sla_engine.availability.gauges import LiveGauges, Measured
from sla_engine.availability.store import (
    check_journal,
    event_summaries,
    last_interval,
    monitoring_of,
    next_fact_version,
    open_outage_starts,
    recorded_signals,
    replace_check_intervals,
    seen_until,
    service_intervals,
    service_windows,
    services_down_after,
    signal_bodies,
    sync_event_windows,
)
from sla_engine.availability.views import availability_fact, intent_signal, retraction_signal
from sla_engine.domain.availability import BURN_RULES, OpenInterval, month_bounds
from sla_engine.domain.availability_record import Recorded, judge, standing_ids
from sla_engine.domain.budget_alerts import plan
from sla_engine.domain.coverage import HEARTBEAT_CHECK
from sla_engine.domain.downtime import (
    MAINTENANCE_CHECK,
    CheckEvent,
    DownInterval,
    MonthFigures,
    Objective,
    advance,
    check_intervals,
    down_labels,
    month_figures,
    month_of,
    objective_of,
    outages,
    union_open,
)
from sla_engine.domain.policies import select_availability_policy
from sla_engine.kafka.outbox import enqueue
from sla_engine.kafka.ownership import Ownership
from sla_engine.metrics import DETECTION_LAG, SIGNALS
from sla_engine.resources.registry import Registry
from sla_engine.store.signals import insert_signals, mark_retracted, signal_record
from sla_engine.timers import TimerHeap, run_rounds

log = get_logger(__name__)
LOOKBACK_MS = max(rule.long_ms for rule in BURN_RULES)
"""History a plan needs before the first instant it evaluates (the longest burn window)."""

Dues = dict[str, int | None]
MONTH_MS = 32 * 86_400_000  # back far enough to reach the start of any calendar's month


class OutageTracker:
    def __init__(self, engine: AsyncEngine, registry: Registry, prefix: str) -> None:
        # for each service it owns (by the partitions of the monitoring topic) that is down,
        # the next instant a threshold falls due
        self.timers = TimerHeap()
        self.ownership = Ownership()
        self.engine, self.registry = engine, registry
        self.signals_topic = topic_name(prefix, SIGNALS_TOPIC)
        self.facts_topic = topic_name(prefix, FACTS_TOPIC)
        self.on_commit: list[Callable[[], None]] = []  # run after a commit (the relay's bell)
        self._applied: Dues = {}  # timers the consumer's open transaction asks for
        self.gauges = LiveGauges()

    def objective(self, service: str) -> Objective:
        policy = select_availability_policy(self.registry.policies.values(), service)
        calendar = None
        versions: tuple[int | None, int | None] = (None, None)
        name = ""
        if policy is not None and policy.availability is not None:
            name = policy.availability.calendar
            versions = (
                self.registry.version_of("policy", policy.name),
                self.registry.version_of("calendar", name) or 1,
            )
            try:
                calendar = self.registry.calendar(policy.availability.calendar)
            except KeyError:
                # the API refuses such a policy; a calendar deleted under it falls back to 24x7
                log.error("availability calendar missing", policy=policy.name, service=service)
        calendars = self.registry.calendar_versions.get(name, []) if versions[0] else []
        return objective_of(policy, calendar, versions, calendars)

    # ---- the event path ------------------------------------------------------------------

    async def apply(self, conn: AsyncConnection, events: list[MonitoringEvent]) -> None:
        """Bring the intervals of every (service, check) the events touch up to date (extended
        in place when the events come in order, else re-derived from the journal, which already
        holds them), then re-plan each service from its earliest new event."""
        self._applied = {}
        by_check: dict[tuple[str, str], list[CheckEvent]] = {}
        for event in events:
            by_check.setdefault((event.service, event.check), []).append(
                CheckEvent(
                    datetime_to_ms(event.occurred_at),
                    event.status,
                    event.severity,
                    event.id or "",
                    event.labels,
                )
            )
        since: dict[str, int] = {}
        for (service, check), group in by_check.items():
            at = min(e.occurred_ms for e in group)
            since[service] = min(since.get(service, at), at)
            if check == HEARTBEAT_CHECK:
                continue  # says only that monitoring is alive (coverage): never down
            if check != MAINTENANCE_CHECK and await self._advance(conn, service, check, group):
                continue
            journal = await check_journal(conn, service=service, check=check)
            if check == MAINTENANCE_CHECK:
                # not an outage: firing opens a maintenance window, resolved closes it
                windows = check_intervals(check, journal, by_severity=False)
                reasons = await event_summaries(conn, event_ids=[w.opened_by for w in windows])
                await sync_event_windows(conn, service=service, intervals=windows, reasons=reasons)
            else:
                await replace_check_intervals(
                    conn, service=service, check=check, intervals=check_intervals(check, journal)
                )
        now = now_ms()
        dues: Dues = {}
        for service, at in sorted(since.items()):
            dues[service] = await self.evaluate(conn, service, since_ms=at, now=now)
        self._applied = dues

    async def _advance(
        self, conn: AsyncConnection, service: str, check: str, events: list[CheckEvent]
    ) -> bool:
        """Events later than all before them (the usual case) extend the check's intervals
        without reading its journal; False when only the whole journal can tell."""
        last = await last_interval(conn, service=service, check=check)
        seen = await seen_until(
            conn, service=service, check=check, besides=[e.event_id for e in events]
        )
        if last is None and seen is not None:
            return False  # earlier events left no interval: let the journal say why
        tail = advance(check, last, seen, events)
        if tail is None:
            return False
        await replace_check_intervals(
            conn,
            service=service,
            check=check,
            intervals=tail,
            from_ms=None if last is None else last.start_ms,
        )
        return True

    async def maintenance_changed(
        self, conn: AsyncConnection, service: str, since: datetime | None = None
    ) -> Dues:
        """A window was declared (maybe after the fact): re-plan the service from its start.
        Pass the result to `committed` once the transaction has committed."""
        now = now_ms()
        if since is None:
            tz = self.objective(service).calendar.timezone
            at = month_bounds(month_of(now, tz), tz)[0]
        else:
            at = datetime_to_ms(since)
        return {service: await self.evaluate(conn, service, since_ms=at, now=now)}

    def committed(self, dues: Dues | None = None) -> None:
        """Arm the timers a committed transaction asked for (default: the consumer's)."""
        if dues is None:
            dues, self._applied = self._applied, {}
        for service, due in dues.items():
            self.timers.schedule(service, due if self.ownership.owns(service) else None)
        for bell in self.on_commit:
            bell()

    # ---- planning ------------------------------------------------------------------------

    async def evaluate(
        self, conn: AsyncConnection, service: str, *, since_ms: int, now: int, timer: bool = False
    ) -> int | None:
        """Re-plan one service in `conn`: write the signals now due and a fact per month
        touched, set the gauges; returns the next instant to wake at for it."""
        objective = self.objective(service)
        down, windows, after, checks = await self._load(
            conn, service, objective, min(since_ms, now)
        )
        monitoring = await monitoring_of(
            conn, service=service, after_ms=after, max_silence_ms=objective.max_silence_ms
        )
        firing = union_open((iv.start_ms, iv.end_ms) for iv in checks)
        records = await recorded_signals(conn, service=service, after_ms=after)
        fired = standing_ids(records)
        result = plan(
            service,
            objective,
            down,
            windows,
            since_ms=since_ms,
            now_ms=now,
            fired=fired,
            monitoring=monitoring,
            firing=firing,
        )
        # without a target nothing is judged: a deleted policy stops signalling, it does not
        # take back what was true while it stood
        months = [f.month for f in result.figures] if objective.target is not None else []
        verdict = judge(records, result.intents, months)
        signals = [
            intent_signal(
                service,
                objective,
                i,
                now,
                down_labels(checks, objective.down_severities, i.occurred_ms),
            )
            for i in verdict.emit
        ]
        signals += await self._retractions(conn, verdict.retract, now)
        new = await self._write_signals(conn, signals)
        if timer:
            for signal in signals:
                if signal.signal_id in new:
                    DETECTION_LAG.labels(signal.kind).observe(
                        max(0.0, (signal.detected_at - signal.occurred_at).total_seconds())
                    )
        for fig in result.figures:
            await self._write_fact(conn, fig)
        self.gauges.watch(service, Measured(objective, down, windows, monitoring, firing))
        return result.next_due_ms

    async def _retractions(
        self, conn: AsyncConnection, wrong: list[Recorded], now: int
    ) -> list[Signal]:
        """`retracted` signals for standing ones the data no longer supports (marked now)."""
        if not wrong:
            return []
        bodies = await signal_bodies(conn, signal_ids=[r.signal_id for r in wrong])
        await mark_retracted(conn, signal_ids=[r.signal_id for r in wrong])
        return [retraction_signal(bodies[r.signal_id], now) for r in wrong if r.signal_id in bodies]

    async def _load(
        self, conn: AsyncConnection, service: str, objective: Objective, since_ms: int
    ) -> tuple[list[OpenInterval], list[OpenInterval], int, list[DownInterval]]:
        """The service's outages and maintenance windows from the start of the month in which
        the outage going on at `since_ms` began, less the longest burn window (returned too:
        no signal of the plan can lie before it)."""
        tz = objective.calendar.timezone
        after = month_bounds(month_of(since_ms, tz), tz)[0] - LOOKBACK_MS
        while True:
            intervals = await service_intervals(conn, service=service, after_ms=after)
            down = outages(intervals, objective.down_severities)
            first = min(
                [since_ms] + [s for s, e in down if s <= since_ms and (e is None or e >= since_ms)]
            )
            needed = month_bounds(month_of(first, tz), tz)[0] - LOOKBACK_MS
            if needed >= after:
                break
            after = needed  # an outage began before what was loaded: load from there
        windows = await service_windows(conn, service=service, after_ms=after)
        return down, windows, after, intervals

    async def figures(self, service: str, month: str, now: int) -> MonthFigures:
        """Live month-to-date figures (the API); ValueError for a month not written YYYY-MM."""
        objective = self.objective(service)
        start, _end = month_bounds(month, objective.calendar.timezone)
        async with self.engine.connect() as conn:
            intervals = await service_intervals(conn, service=service, after_ms=start)
            windows = await service_windows(conn, service=service, after_ms=start)
            monitoring = await monitoring_of(
                conn, service=service, after_ms=start, max_silence_ms=objective.max_silence_ms
            )
        down = outages(intervals, objective.down_severities)
        firing = union_open((iv.start_ms, iv.end_ms) for iv in intervals)
        return month_figures(service, month, objective, down, windows, now, monitoring, firing)

    async def _write_signals(self, conn: AsyncConnection, signals: list[Signal]) -> set[str]:
        bodies = [s.model_dump(mode="json") for s in signals]
        new_ids = await insert_signals(conn, signals=[signal_record(b) for b in bodies])
        for signal, body in zip(signals, bodies, strict=True):
            if signal.signal_id not in new_ids:
                continue  # fired before (by this path, the other one, or before a restart)
            await enqueue(
                conn,
                topic=self.signals_topic,
                key=signal.service,
                record_id=signal.signal_id,
                body=body,
            )
            SIGNALS.labels(signal.kind, signal.service, signal.metric, "").inc()
            log.info("signal", signal_id=signal.signal_id, kind=signal.kind, late=signal.late)
        return new_ids

    async def _write_fact(self, conn: AsyncConnection, fig: MonthFigures) -> None:
        body = availability_fact(fig, version=0)
        version = await next_fact_version(conn, service=fig.service, month=fig.month, body=body)
        fact = availability_fact(fig, version=version)
        await enqueue(
            conn, topic=self.facts_topic, key=fig.service, record_id=fact["fact_id"], body=fact
        )

    async def assigned(self, partitions: set[int], total: int) -> None:
        """Monitoring partitions came to this instance: re-plan their running outages."""
        self.ownership.assign(partitions, total)
        self.timers.retain(self.ownership.owns)
        await self.replan_open()

    def revoked(self, partitions: set[int], total: int) -> None:
        """Monitoring partitions went to another instance: stop timing their services."""
        self.ownership.revoke(partitions, total)
        self.timers.retain(self.ownership.owns)

    async def run_timers(self, stop: asyncio.Event) -> None:
        await run_rounds(self.timers, self.fire, stop, "availability")

    async def fire(self, now: int) -> None:
        """Re-plan every service whose instant has come, in one transaction."""
        due = [service for _at, service in self.timers.pop_due(now)]
        if not due:
            return
        dues: Dues = {}
        try:
            async with self.engine.begin() as conn:
                for service in due:
                    dues[service] = await self.evaluate(
                        conn, service, since_ms=now, now=now, timer=True
                    )
        except Exception:
            for service in due:  # try again shortly; nothing was written
                self.timers.schedule(service, now + 1_000)
            raise
        self.committed(dues)

    async def restore(self) -> int:
        """Start-up: re-plan every service with a check still firing, so crossings that came
        due while the engine was down fire now (late) and the rest get their timers."""
        count = await self.replan_open()
        log.info("open outages restored", services=count)
        return count

    async def replan_months(self, services: set[str] | None, since_ms: int | None = None) -> int:
        """A policy or calendar version was recorded: re-plan, from the start of the month of
        `since_ms` (None, or later: of this month), every service it may cover (`None`: any)
        that was down since, so a closed outage's warnings and breach fire at once under a new
        policy, a deleted policy's stop (its timers go) and a correction re-counts its months."""
        dues: Dues = {}
        now = now_ms()
        after = now - MONTH_MS if since_ms is None else min(now - MONTH_MS, since_ms - MONTH_MS)
        async with self.engine.begin() as conn:
            recent = await services_down_after(conn, after_ms=after)
            for service in sorted(recent if services is None else recent & services):
                if self.ownership.owns(service):
                    tz = self.objective(service).calendar.timezone
                    this_month = month_bounds(month_of(now, tz), tz)[0]
                    back = None if since_ms is None or since_ms >= this_month else since_ms
                    at = None if back is None else ms_to_datetime(back)
                    dues |= await self.maintenance_changed(conn, service, at)
        self.committed(dues)
        return len(dues)

    async def replan_open(self) -> int:
        """Re-plan every service with a check still firing (start-up; a policy changed, so
        targets, calendars and warn fractions of running outages may have moved)."""
        dues: Dues = {}
        now = now_ms()
        async with self.engine.begin() as conn:
            for service in sorted(await open_outage_starts(conn)):
                if not self.ownership.owns(service):
                    continue  # another instance owns its partition and its timers
                dues[service] = await self.evaluate(conn, service, since_ms=now, now=now)
        self.committed(dues)
        return len(dues)
