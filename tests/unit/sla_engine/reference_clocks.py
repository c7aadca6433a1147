"""A reference for ticket clocks written from the rules alone (docs/design.md, "SLA clocks"),
minute by minute, with none of the engine's code: the oracle the property tests hold the
engine to. Every instant and target is a whole minute, so counting minutes is exact."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sla_engine.domain.clocks import Stamp
from sla_engine.domain.ticket_log import TicketEvent

MINUTE = 60_000
LIFECYCLE = ("created", "updated", "responded", "resolved", "closed", "reopened")
STOPS = {
    "response": frozenset({"responded", "resolved", "closed"}),
    "resolution": frozenset({"resolved", "closed"}),
}


class MinuteCalendar:
    """Which minutes of a stretch of time are working minutes: weekday hours in a time zone,
    holidays off; counted with prefix sums."""

    def __init__(
        self,
        *,
        start: datetime,
        days: int,
        zone: str = "UTC",
        hours: tuple[int, int] | None = None,
        weekdays: int = 7,
        holidays: Iterable[date] = (),
    ) -> None:
        self.start_ms = int(start.timestamp() * 1000)
        tz, off = ZoneInfo(zone), set(holidays)
        self.prefix = [0]
        for n in range(days * 1440):
            local = (start + timedelta(minutes=n)).astimezone(tz)
            works = (
                (hours is None or hours[0] <= local.hour < hours[1])
                and local.weekday() < weekdays
                and local.date() not in off
            )
            self.prefix.append(self.prefix[-1] + works)

    def _index(self, t_ms: int) -> int:
        n, rest = divmod(t_ms - self.start_ms, MINUTE)
        assert rest == 0, "not a whole minute"
        assert 0 <= n < len(self.prefix), "outside the reference's stretch"
        return n

    def counted(self, a_ms: int, b_ms: int) -> int:
        """Working minutes between two instants, in ms."""
        return (self.prefix[self._index(b_ms)] - self.prefix[self._index(a_ms)]) * MINUTE

    def reached(self, a_ms: int, amount_ms: int) -> int:
        """The first instant by which `amount_ms` of working time counted from `a_ms`."""
        assert amount_ms > 0
        assert amount_ms % MINUTE == 0
        want = self.prefix[self._index(a_ms)] + amount_ms // MINUTE
        n = bisect.bisect_left(self.prefix, want)
        assert n < len(self.prefix), "a deadline beyond the reference's stretch"
        return self.start_ms + n * MINUTE


@dataclass
class RefClock:
    metric: str
    priority: str | None
    target: int | None
    started: int
    elapsed: int = 0
    paused: bool = False
    stopped: int | None = None
    breached_at: int | None = None
    episode: int = 1
    breach_episode: int = 0
    met: bool = False
    warned: set[float] = field(default_factory=set)


SignalSet = set[tuple[tuple[str, str, str, float, int], Stamp]]


def reference(
    ticket_id: str,
    events: Iterable[TicketEvent],
    now_ms: int,
    *,
    calendar: MinuteCalendar,
    targets: Mapping[str, Mapping[str, int]],
    pause: frozenset[str],
    warn_at: tuple[float, ...],
    policy: str = "p",
) -> tuple[dict[str, RefClock], SignalSet]:
    """A ticket's clocks at `now_ms` and every signal due by then, by (key, stamp)."""
    # at one instant: lifecycle order, then one action's events by status, then priority
    ordered = sorted(
        events,
        key=lambda e: (e.at_ms, LIFECYCLE.index(e.action), e.status or "", e.priority or ""),
    )
    clocks: dict[str, RefClock] = {}
    out: SignalSet = set()
    t = ordered[0].at_ms if ordered else now_ms

    def deadline(c: RefClock, at: int) -> int | None:
        # where the clock breaches (or breached, at `at`) if it keeps running from `at`
        if c.target is None:
            return None
        return at if c.elapsed >= c.target else calendar.reached(at, c.target - c.elapsed)

    def signal(c: RefClock, kind: str, mark: float, at: int, dl: int | None) -> None:
        key = (ticket_id, c.metric, kind, mark, c.episode)
        out.add((key, (at, dl, c.priority, policy, 0, 0, c.target, c.elapsed)))

    def marks(c: RefClock) -> list[tuple[int, float]]:
        """Thresholds still to fire as (elapsed ms, fraction), in the order they are reached."""
        if c.target is None:
            return []
        due = [(round(w * c.target), w) for w in warn_at if w not in c.warned]
        if c.breach_episode != c.episode:
            due.append((c.target, 1.0))
        return sorted(due)

    def fire_passed(c: RefClock, at: int) -> None:
        # thresholds the elapsed time already passes fire at once (a lower target, a reopen)
        passed = [(v, w) for v, w in marks(c) if v <= c.elapsed]
        for _v, w in passed:
            fire(c, w, at, deadline(c, at))

    def fire(c: RefClock, w: float, at: int, dl: int | None) -> None:
        if w == 1.0:
            c.breached_at, c.breach_episode = at, c.episode
            signal(c, "breach", 1.0, at, dl)
        else:
            c.warned.add(w)
            signal(c, "warning", w, at, dl)

    def run_until(end: int) -> None:
        # minute by minute: each working minute of a running clock counts; a threshold fires
        # at the instant the count reaches it
        nonlocal t
        while t < end:
            running = [c for c in clocks.values() if c.stopped is None and not c.paused]
            if not any(marks(c) for c in running):
                for c in running:  # nothing left to fire: only the count moves on
                    c.elapsed += calendar.counted(t, end)
                t = end
                return
            for c in running:
                if calendar.counted(t, t + MINUTE):
                    c.elapsed += MINUTE
                    for v, w in marks(c):
                        if v == c.elapsed:
                            fire(c, w, t + MINUTE, deadline(c, t + MINUTE))
            t += MINUTE

    status_paused = False
    for event in ordered:
        run_until(event.at_ms)
        at = event.at_ms
        if event.status is not None:
            status_paused = event.status in pause
        if not clocks:
            if event.action in ("resolved", "closed"):
                continue  # first seen already settled: nothing to measure
            for metric in ("response", "resolution"):
                clocks[metric] = RefClock(
                    metric,
                    event.priority,
                    targets.get(event.priority or "", {}).get(metric),
                    at,
                    paused=status_paused,
                )
        for c in clocks.values():
            if event.action == "reopened" and c.metric == "resolution" and c.stopped is not None:
                c.stopped, c.episode = None, c.episode + 1
                fire_passed(c, at)
            if event.priority is not None and event.priority != c.priority:
                c.priority = event.priority
                c.target = targets.get(event.priority, {}).get(c.metric)
                if c.stopped is None:
                    fire_passed(c, at)
            if event.status is not None:
                c.paused = status_paused
            if event.action in STOPS[c.metric] and c.stopped is None:
                c.stopped = at
                if c.target is None:
                    continue
                if c.breach_episode == c.episode:
                    signal(c, "stopped", 1.0, at, c.breached_at)
                elif c.breached_at is None and not c.met:
                    c.met = True
                    signal(c, "met", 1.0, at, deadline(c, at))
    run_until(now_ms)
    return clocks, out


def final_state(c: RefClock) -> tuple[object, ...]:
    """As `DomainEngine.clocks` shows a clock."""
    state = (
        "breached"
        if c.breached_at is not None
        else "met"
        if c.stopped is not None
        else "paused"
        if c.paused
        else "running"
    )
    return (
        state,
        c.priority,
        c.target,
        c.started,
        c.stopped,
        c.breached_at,
        c.elapsed if c.stopped is not None else None,
        c.episode,
        c.paused,
    )


def at_minute(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)
