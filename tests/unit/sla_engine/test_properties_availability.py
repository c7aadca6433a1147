"""Model-based: random monitoring histories of a service (checks firing and resolving at
several severities, a maintenance check, heartbeats, events at the same instant, late ones)
applied as the engine applies them (each check's intervals extended in order when it can,
re-derived from its journal when not), one at a time in order, as one batch, shuffled and in
random batches, end with the same month figures, and those are what a minute-by-minute
reference written from the rules alone counts (docs/design.md, "Availability", "Coverage")."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacta.calendars import CALENDAR_24X7
from sla_engine.domain.coverage import HEARTBEAT_CHECK, Monitoring, silences
from sla_engine.domain.downtime import (
    MAINTENANCE_CHECK,
    CheckEvent,
    DownInterval,
    MonthFigures,
    Objective,
    advance,
    check_intervals,
    month_figures,
    outages,
    union_open,
)
from tests.unit.sla_engine.reference_clocks import MINUTE, MinuteCalendar
from tests.unit.sla_engine.test_properties_tickets import MINUTES, OFFICE, profile

BASE = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
NOW = int(datetime(2026, 11, 8, tzinfo=UTC).timestamp() * 1000)
DOWN = frozenset({"critical", "major"})
RANK = {"info": 0, "warning": 1, "minor": 2, "major": 3, "critical": 4}
CHECKS = ("http", "db", MAINTENANCE_CHECK, HEARTBEAT_CHECK)
Event = tuple[str, CheckEvent]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[str, int | None, list[Event], int]:
    calendar = draw(st.sampled_from(["24x7", "office"]))
    silence = draw(st.sampled_from([None, 30, 6 * 60]))
    events: list[Event] = []
    for n in range(draw(st.integers(1, 14))):
        check = draw(st.sampled_from(CHECKS))
        at = BASE + draw(st.integers(0, 4 * 24 * 60 // 15)) * 15 * MINUTE
        status = draw(st.sampled_from(["firing", "firing", "resolved"]))
        severity = draw(st.sampled_from(sorted(RANK)))
        events.append((check, CheckEvent(at, status, severity, f"e{n}")))
    return calendar, silence, events, draw(st.integers(0, 2**32))


@dataclass
class Engine:
    """The tracker's interval bookkeeping on plain values: per check its intervals, extended in
    place by events in order, re-derived from the check's journal otherwise."""

    journal: dict[str, list[CheckEvent]] = field(default_factory=dict)
    intervals: dict[str, list[DownInterval]] = field(default_factory=dict)

    def deliver(self, events: list[Event]) -> None:
        by_check: dict[str, list[CheckEvent]] = {}
        for check, e in events:
            by_check.setdefault(check, []).append(e)
        for check, group in by_check.items():
            earlier = self.journal.get(check, [])
            self.journal[check] = [*earlier, *group]
            if check == HEARTBEAT_CHECK:
                continue
            held = self.intervals.get(check, [])
            last = held[-1] if held else None
            seen = max((e.occurred_ms for e in earlier), default=None)
            tail = None
            if check != MAINTENANCE_CHECK and not (last is None and seen is not None):
                tail = advance(check, last, seen, group)
            if tail is None:
                by_severity = check != MAINTENANCE_CHECK
                self.intervals[check] = check_intervals(
                    check, self.journal[check], by_severity=by_severity
                )
            else:
                self.intervals[check] = [*held[: -1 if last else None], *tail]

    def figures(self, calendar: str, silence: int | None) -> MonthFigures:
        checks = [iv for c, ivs in self.intervals.items() if c != MAINTENANCE_CHECK for iv in ivs]
        windows = [(iv.start_ms, iv.end_ms) for iv in self.intervals.get(MAINTENANCE_CHECK, [])]
        instants = [e.occurred_ms for es in self.journal.values() for e in es]
        monitoring = Monitoring(
            min(instants), () if silence is None else tuple(silences(instants, silence * MINUTE))
        )
        objective = Objective(
            "p",
            99.0,
            OFFICE if calendar == "office" else CALENDAR_24X7,
            DOWN,
            (),
            max_silence_ms=None if silence is None else silence * MINUTE,
        )
        down = outages(checks, DOWN)
        firing = union_open((iv.start_ms, iv.end_ms) for iv in checks)
        return month_figures("s", "2026-11", objective, down, windows, NOW, monitoring, firing)


def reference(
    calendar: MinuteCalendar, silence: int | None, events: list[Event]
) -> tuple[int, int, int]:
    """(downtime, agreed to date, unmeasured) in ms, minute by minute from the rules."""
    start = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
    firing: dict[str, str | None] = {}  # check -> severity while it fires
    ordered = sorted(
        events,
        # at one instant a resolve goes first, then firings from the least to the most severe
        key=lambda ce: (
            ce[1].occurred_ms,
            ce[1].status != "resolved",
            RANK[ce[1].severity] if ce[1].status != "resolved" else 0,
        ),
    )
    downtime = agreed = unmeasured = 0
    n, last_event = 0, None
    for t in range(start, NOW, MINUTE):
        while n < len(ordered) and ordered[n][1].occurred_ms <= t:
            check, e = ordered[n]
            last_event = e.occurred_ms
            if check != HEARTBEAT_CHECK:
                firing[check] = e.severity if e.status == "firing" else None
            n += 1
        if not calendar.counted(t, t + MINUTE) or firing.get(MAINTENANCE_CHECK):
            continue  # outside working time or inside maintenance: not agreed at all
        fired = [s for c, s in firing.items() if c != MAINTENANCE_CHECK and s is not None]
        quiet = last_event is None or (silence is not None and t >= last_event + silence * MINUTE)
        if quiet and not fired:
            unmeasured += MINUTE
            continue
        agreed += MINUTE
        if any(s in DOWN for s in fired):
            downtime += MINUTE
    return downtime, agreed, unmeasured


def check(calendar: str, silence: int | None, events: list[Event], seed: int) -> None:
    rng = random.Random(seed)
    in_order = sorted(events, key=lambda ce: ce[1].occurred_ms)
    deliveries = {
        "in order, one at a time": [[e] for e in in_order],
        "one batch": [events],
        "shuffled, one at a time": [[e] for e in rng.sample(events, len(events))],
    }
    rest, batches = rng.sample(events, len(events)), []
    while rest:
        size = rng.randint(1, len(rest))
        batches.append(rest[:size])
        rest = rest[size:]
    deliveries["shuffled, in batches"] = batches
    want = reference(MINUTES[calendar], silence, events)
    for name, batches in deliveries.items():
        engine = Engine()
        for batch in batches:
            engine.deliver(batch)
        fig = engine.figures(calendar, silence)
        got = (fig.downtime_ms, fig.agreed_to_date_ms, fig.unmeasured_ms)
        assert got == want, name
        if fig.agreed_to_date_ms == 0 and fig.unmeasured_ms > 0:
            assert fig.actual_pct is None, name


@pytest.mark.properties
@settings(profile())
@given(scenario())
def test_every_order_and_batching_gives_the_reference_figures(
    case: tuple[str, int | None, list[Event], int],
) -> None:
    check(*case)
