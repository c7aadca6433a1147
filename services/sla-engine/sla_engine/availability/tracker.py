"""The outage tracker: down intervals of checks, each service's availability against its
policy, availability signals in real time (timers), and availability facts for reporting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.clock import now_ms
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.events import FACTS_TOPIC, SIGNALS_TOPIC, MonitoringEvent, Signal, topic_name
from pacta.logs import get_logger
from sla_engine.availability.coverage_store import monitoring_from, monitoring_of
from sla_engine.availability.gauges import LiveGauges, Measured
from sla_engine.availability.store import (
    Check,
    Replacement,
    Tail,
    check_journal,
    check_tails,
    event_summaries,
    intervals_of,
    open_outage_starts,
    plan_inputs,
    recorded_signals_of,
    replace_intervals,
    service_intervals,
    service_windows,
    services_down_after,
    signal_bodies,
    sync_event_windows,
    windows_of,
)
from sla_engine.availability.views import intent_signal, retraction_signal
from sla_engine.availability.writes import write
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
from sla_engine.kafka.outbox import enqueued_in, ring_bells
from sla_engine.kafka.ownership import Ownership
from sla_engine.metrics import DETECTION_LAG
from sla_engine.resources.registry import Registry
from sla_engine.store.signals import mark_retracted
from sla_engine.timers import TimerHeap, run_rounds

log = get_logger(__name__)
LOOKBACK_MS = max(rule.long_ms for rule in BURN_RULES)
"""History a plan needs before the first instant it evaluates (the longest burn window)."""

Dues = dict[str, int | None]
REFRESH_MS = 1_000
"""A batch whose events change nothing of a service but the time (a check still firing says so
again) re-plans it at most this often: the timer re-plans it this long after its last plan,
so its facts come at most one a second, and they stay as fresh."""
REFRESH_GRID_MS = 200
"""Those refreshes fall on multiples of this, so a round re-plans many services at once."""
MONTH_MS = 32 * 86_400_000  # back far enough to reach the start of any calendar's month


def outage_checks(events: list[MonitoringEvent]) -> list[Check]:
    """The (service, check) pairs of the events that have down intervals (heartbeats say only
    that monitoring is alive, a `maintenance` check opens windows): whose tails `apply` reads."""
    pairs = {(e.service, e.check) for e in events}
    return sorted(k for k in pairs if k[1] not in (HEARTBEAT_CHECK, MAINTENANCE_CHECK))


class Loaded(NamedTuple):
    """What re-planning a service starts from (`OutageTracker._load`)."""

    down: list[OpenInterval]  # its outages (by the policy's down severities)
    windows: list[OpenInterval]  # its maintenance windows
    after: int  # from when these were read: no signal of the plan lies before it
    intervals: list[DownInterval]  # its checks' intervals
    recorded: list[Recorded]  # its availability signals recorded since `after`
    first_ms: int | None  # its first monitoring event, ever


class OutageTracker:
    def __init__(self, engine: AsyncEngine, registry: Registry, prefix: str) -> None:
        # for each service it owns (by the partitions of the monitoring topic) that is down,
        # the next instant a threshold falls due
        self.timers = TimerHeap()
        self.ownership = Ownership()
        self.engine, self.registry = engine, registry
        self.signals_topic = topic_name(prefix, SIGNALS_TOPIC)
        self.facts_topic = topic_name(prefix, FACTS_TOPIC)
        # run after a commit (the relay's bell), with the seqs of the rows it put on the outbox
        self.on_commit: list[Callable[[Sequence[int]], None]] = []
        self._applied: Dues = {}  # timers the consumer's open transaction asks for
        self._planned: dict[str, int] = {}  # when each service was last re-planned
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

    async def apply(
        self,
        conn: AsyncConnection,
        events: list[MonitoringEvent],
        tails: dict[Check, Tail] | None = None,
    ) -> None:
        """Bring the intervals of every (service, check) the events touch up to date (extended
        in place when the events come in order, else re-derived from the journal, which already
        holds them), then re-plan each service from its earliest new event. Each step takes one
        statement per table for the whole batch, whatever number of services it touches.
        `tails`: those of at least the events' `outage_checks`, read before the events were
        journaled (the consumer's claim statement reads them); None: read here."""
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
        for (service, _check), group in by_check.items():
            at = min(e.occurred_ms for e in group)
            since[service] = min(since.get(service, at), at)
        # heartbeats say only that monitoring is alive (coverage): never down
        checks = [k for k in by_check if k[1] not in (HEARTBEAT_CHECK, MAINTENANCE_CHECK)]
        if tails is None:
            tails = await check_tails(
                conn, checks=checks, besides=[e.event_id for k in checks for e in by_check[k]]
            )
        replacements: list[Replacement] = []
        # services whose intervals, windows or coverage the batch may have moved
        changed = {s for s, c in by_check if c in (HEARTBEAT_CHECK, MAINTENANCE_CHECK)}
        for key in checks:
            service, check = key
            last, seen = tails[key]
            # earlier events that left no interval: let the journal say why
            tail = (
                None
                if last is None and seen is not None
                else advance(check, last, seen, by_check[key])
            )
            if tail is None:
                journal = await check_journal(conn, service=service, check=check)
                replacements.append((service, check, None, check_intervals(check, journal)))
                changed.add(service)
            elif tail != ([] if last is None else [last]):
                replacements.append((service, check, None if last is None else last.start_ms, tail))
                changed.add(service)
            elif seen is None:
                changed.add(service)  # the check's first events: coverage may begin with them
        await replace_intervals(conn, replacements)
        for service, check in by_check:
            if check == MAINTENANCE_CHECK:
                # not an outage: firing opens a maintenance window, resolved closes it
                journal = await check_journal(conn, service=service, check=check)
                windows = check_intervals(check, journal, by_severity=False)
                reasons = await event_summaries(conn, event_ids=[w.opened_by for w in windows])
                await sync_event_windows(conn, service=service, intervals=windows, reasons=reasons)
        now = now_ms()
        replan: dict[str, int] = {}
        dues: Dues = {}
        for service, at in since.items():
            planned = self._planned.get(service)
            if (
                service in changed
                or planned is None
                or now - planned >= REFRESH_MS
                or self.objective(service).max_silence_ms is not None  # a silence may end
            ):
                replan[service] = at
            else:  # only repeats: the timer re-plans it (signals due meanwhile fire by it)
                # on a grid, so the refreshes of many services share a timer round
                refresh = -(-(planned + REFRESH_MS) // REFRESH_GRID_MS) * REFRESH_GRID_MS
                due = self.timers.due(service)
                dues[service] = min(refresh, due if due is not None else 1 << 62)
        self._applied = dues | await self.evaluate_many(conn, replan, now=now)

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

    def committed(self, dues: Dues | None = None, ring: bool | Sequence[int] = True) -> None:
        """Arm the timers a committed transaction asked for (default: the consumer's); `ring`
        as `ClockKeeper.committed` has it."""
        if dues is None:
            dues, self._applied = self._applied, {}
        for service, due in dues.items():
            self.timers.schedule(service, due if self.ownership.owns(service) else None)
        ring_bells(self.on_commit, ring)

    # ---- planning ------------------------------------------------------------------------

    async def evaluate(
        self, conn: AsyncConnection, service: str, *, since_ms: int, now: int, timer: bool = False
    ) -> int | None:
        """Re-plan one service in `conn` (`evaluate_many`); returns the next instant to wake at
        for it."""
        return (await self.evaluate_many(conn, {service: since_ms}, now=now, timer=timer))[service]

    async def evaluate_many(
        self, conn: AsyncConnection, since: dict[str, int], *, now: int, timer: bool = False
    ) -> Dues:
        """Re-plan services ({service: the earliest instant whose data changed}) in `conn`:
        write the signals now due and a fact per service and month touched, set the gauges;
        returns the next instant to wake at for each. Every read and write is one statement for
        all the services."""
        if not since:
            return {}
        objectives = {service: self.objective(service) for service in since}
        self._planned.update(dict.fromkeys(since, now))
        loaded = await self._load(conn, objectives, {s: min(at, now) for s, at in since.items()})
        monitoring = await monitoring_from(
            conn,
            wanted={s: (loaded[s].after, objectives[s].max_silence_ms) for s in since},
            firsts={s: loaded[s].first_ms for s in since},
        )
        dues: Dues = {}
        emitted: dict[str, list[Signal]] = {}
        wrong: list[Recorded] = []
        figures: list[MonthFigures] = []
        for service, since_ms in since.items():
            objective = objectives[service]
            down, windows, _after, checks, records, _first = loaded[service]
            firing = union_open((iv.start_ms, iv.end_ms) for iv in checks)
            result = plan(
                service,
                objective,
                down,
                windows,
                since_ms=since_ms,
                now_ms=now,
                fired=standing_ids(records),
                monitoring=monitoring[service],
                firing=firing,
            )
            # without a target nothing is judged: a deleted policy stops signalling, it does
            # not take back what was true while it stood
            months = [f.month for f in result.figures] if objective.target is not None else []
            verdict = judge(records, result.intents, months)
            emitted[service] = [
                intent_signal(
                    service,
                    objective,
                    i,
                    now,
                    down_labels(checks, objective.down_severities, i.occurred_ms),
                )
                for i in verdict.emit
            ]
            wrong += verdict.retract
            figures += result.figures
            self.gauges.watch(
                service, Measured(objective, down, windows, monitoring[service], firing)
            )
            dues[service] = result.next_due_ms
        for signal in await self._retractions(conn, wrong, now):
            emitted.setdefault(signal.service, []).append(signal)
        signals = [signal for service in since for signal in emitted.get(service, [])]
        new = await write(
            conn, signals, figures, signals_topic=self.signals_topic, facts_topic=self.facts_topic
        )
        if timer:
            for signal in signals:
                if signal.signal_id in new:
                    DETECTION_LAG.labels(signal.kind).observe(
                        max(0.0, (signal.detected_at - signal.occurred_at).total_seconds())
                    )
        return dues

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
        self, conn: AsyncConnection, objectives: dict[str, Objective], since_ms: dict[str, int]
    ) -> dict[str, Loaded]:
        """Each service's outages, maintenance windows and recorded signals from the start of
        the month in which the outage going on at its `since_ms` began, less the longest burn
        window (returned too: no signal of the plan can lie before it). One statement reads
        everything from the month of `since_ms` on; a service whose outage began earlier is
        read again from further back."""

        def start_of(service: str, at: int) -> int:
            tz = objectives[service].calendar.timezone
            return month_bounds(month_of(at, tz), tz)[0] - LOOKBACK_MS

        def needed(service: str, down: list[OpenInterval]) -> int:
            at = since_ms[service]
            first = min([at] + [s for s, e in down if s <= at and (e is None or e >= at)])
            return start_of(service, first)

        pending = {service: start_of(service, at) for service, at in since_ms.items()}
        inputs = await plan_inputs(conn, after_ms=pending)
        found: dict[str, Loaded] = {}
        again: dict[str, int] = {}
        for service, got in inputs.items():
            down = outages(got.intervals, objectives[service].down_severities)
            back = needed(service, down)
            if back >= pending[service]:
                found[service] = Loaded(
                    down, got.windows, pending[service], got.intervals, got.recorded, got.first_ms
                )
            else:
                again[service] = back  # an outage began before what was loaded
        if not again:
            return found
        further: dict[str, tuple[list[OpenInterval], int, list[DownInterval]]] = {}
        pending = again
        while pending:
            again = {}
            for service, intervals in (await intervals_of(conn, after_ms=pending)).items():
                down = outages(intervals, objectives[service].down_severities)
                back = needed(service, down)
                if back >= pending[service]:
                    further[service] = (down, pending[service], intervals)
                else:
                    again[service] = back
            pending = again
        afters = {s: after for s, (_d, after, _i) in further.items()}
        windows = await windows_of(conn, after_ms=afters)
        recorded = await recorded_signals_of(conn, after_ms=afters)
        for service, (down, after, intervals) in further.items():
            first = inputs[service].first_ms
            found[service] = Loaded(
                down, windows[service], after, intervals, recorded[service], first
            )
        return found

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
        try:
            async with self.engine.begin() as conn:
                dues = await self.evaluate_many(conn, dict.fromkeys(due, now), now=now, timer=True)
                enqueued = enqueued_in(conn)
        except Exception:
            for service in due:  # try again shortly; nothing was written
                self.timers.schedule(service, now + 1_000)
            raise
        self.committed(dues, enqueued)

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
        now = now_ms()
        async with self.engine.begin() as conn:
            # another instance owns the partitions (and timers) of the services it leaves out
            owned = [s for s in sorted(await open_outage_starts(conn)) if self.ownership.owns(s)]
            dues = await self.evaluate_many(conn, dict.fromkeys(owned, now), now=now)
        self.committed(dues)
        return len(dues)
