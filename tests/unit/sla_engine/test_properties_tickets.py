"""Model-based: random ticket histories applied as the engine applies them (one event at a time
in order, as one batch, shuffled, in random batches, live with the timers and late events, with
a restart in the middle) end with the same clocks and the same signals in force, and those are
what a reference written from the rules alone computes (`reference_clocks`).

Fast and seeded by default (part of every test run); `make test-properties` runs thousands of
examples (HYPOTHESIS_PROFILE=properties)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacta.calendars import CALENDAR_24X7, WEEKDAYS, Calendar
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import TicketEvent
from tests.unit.sla_engine.domain_engine import DomainEngine
from tests.unit.sla_engine.reference_clocks import (
    MINUTE,
    MinuteCalendar,
    final_state,
    reference,
)

H = 60 * MINUTE
BASE = int(datetime(2026, 10, 26, tzinfo=UTC).timestamp() * 1000)  # a Monday
END = int(datetime(2026, 11, 10, tzinfo=UTC).timestamp() * 1000)
HOLIDAY = date(2026, 10, 29)
TARGETS = {
    "P1": {"response": 16 * MINUTE, "resolution": 4 * H},
    "P2": {"response": H, "resolution": 8 * H},
    "P3": {"response": 4 * H, "resolution": 40 * H},
    "P4": {"resolution": 48 * H},  # no response target: that clock counts silently
}
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")  # P5: no targets at all
PAUSE = frozenset({"waiting_for_customer"})
WARN_AT = (0.5, 0.75)
OFFICE = Calendar(
    "office",
    "Europe/Berlin",
    {d: ["09:00-17:00"] for d in WEEKDAYS[:5]},
    holidays=[HOLIDAY.isoformat()],
)
START = datetime(2026, 10, 24, tzinfo=UTC)
MINUTES = {
    "24x7": MinuteCalendar(start=START, days=30),
    "office": MinuteCalendar(
        start=START, days=30, zone="Europe/Berlin", hours=(9, 17), weekdays=5, holidays=[HOLIDAY]
    ),
}


def rules_for(calendar: str) -> ClockRules:
    return ClockRules(
        policy="p",
        calendar=OFFICE if calendar == "office" else CALENDAR_24X7,
        targets=TARGETS,
        pause_statuses=PAUSE,
        warn_at=WARN_AT,
    )


def profile() -> settings:
    """Seeded and bounded unless a profile is named (`make test-properties`)."""
    if os.environ.get("HYPOTHESIS_PROFILE"):
        return settings.get_profile(os.environ["HYPOTHESIS_PROFILE"])
    return settings(
        max_examples=int(os.environ.get("PACTA_PROPERTY_EXAMPLES", "60")),
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@st.composite
def history(draw: st.DrawFn) -> list[TicketEvent]:
    """One ticket: created, then up to 8 steps, each at the same minute as the one before or later."""
    t = BASE + draw(st.integers(0, 5 * 24 * 60)) * MINUTE
    events = [TicketEvent(t, "created", "open", draw(st.sampled_from(PRIORITIES)))]
    for _ in range(draw(st.integers(0, 8))):
        t += draw(st.one_of(st.just(0), st.integers(1, 16 * 60))) * MINUTE  # 0: a tie
        step = draw(
            st.sampled_from(
                ["pause", "resume", "priority", "responded", "resolved", "closed", "reopened"]
            )
        )
        if step == "pause":
            events.append(TicketEvent(t, "updated", "waiting_for_customer"))
        elif step == "resume":
            events.append(TicketEvent(t, "updated", "open"))
        elif step == "priority":
            events.append(TicketEvent(t, "updated", priority=draw(st.sampled_from(PRIORITIES))))
        elif step == "reopened":
            events.append(TicketEvent(t, "reopened", "open"))
        else:
            events.append(TicketEvent(t, step, step if step != "responded" else None))
    return events


Delivery = list[tuple[str, TicketEvent]]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[str, list[list[TicketEvent]], list[int], int]:
    """(calendar, histories, a delay in minutes per event, a seed for shuffles and batches)."""
    calendar = draw(st.sampled_from(["office", "24x7"]))
    tickets = draw(st.lists(history(), min_size=1, max_size=3))
    count = sum(len(h) for h in tickets)
    # mostly prompt; some late by hours (a ticket system catching up)
    delays = draw(
        st.lists(
            st.one_of(st.integers(0, 3), st.integers(60, 3 * 24 * 60)),
            min_size=count,
            max_size=count,
        )
    )
    return calendar, tickets, delays, draw(st.integers(0, 2**32))


def flatten(tickets: list[list[TicketEvent]]) -> Delivery:
    return [(f"T-{n}", e) for n, h in enumerate(tickets) for e in h]


def one_at_a_time(engine: DomainEngine, events: Delivery, restart_at: int | None = None) -> None:
    for n, item in enumerate(events):
        if n == restart_at:
            engine.restart()
        engine.deliver([item], END)


def in_batches(engine: DomainEngine, events: Delivery, rng: random.Random) -> None:
    rest = list(events)
    while rest:
        size = rng.randint(1, len(rest))
        engine.deliver(rest[:size], END)
        rest = rest[size:]


def live(engine: DomainEngine, events: Delivery, delays: list[int], restart_at: int) -> None:
    """Each event arrives `delay` minutes after its instant; the timers fire what falls due
    meanwhile, at its instant, as the wall clock passes it; a restart on the way."""
    arrivals = sorted(
        (
            (e.at_ms + d * MINUTE, n, item)
            for n, (item, d) in enumerate(zip(events, delays, strict=True))
            for e in [item[1]]
        ),
    )
    for n, (arrives, _order, item) in enumerate(arrivals):
        tick_until(engine, arrives)
        if n == restart_at:
            engine.restart()
        engine.deliver([item], arrives)
    tick_until(engine, END)


def tick_until(engine: DomainEngine, now_ms: int) -> None:
    while True:
        dues = [d for t in engine.book.values() if (d := t.next_due_ms()) is not None]
        if not dues or min(dues) > now_ms:
            return
        engine.tick(min(dues))


def check(calendar: str, tickets: list[list[TicketEvent]], delays: list[int], seed: int) -> None:
    rng = random.Random(seed)
    rules = rules_for(calendar)
    events = flatten(tickets)
    in_order = sorted(events, key=lambda item: item[1].at_ms)
    shuffled = rng.sample(events, len(events))
    runs: dict[str, DomainEngine] = {}

    def run(name: str, deliver: Callable[[DomainEngine], None]) -> None:
        engine = DomainEngine(lambda _t: rules)
        deliver(engine)
        engine.tick(END)
        runs[name] = engine

    run("in order, one at a time", lambda e: one_at_a_time(e, in_order))
    run("one batch", lambda e: e.deliver(events, END))
    run("shuffled, one at a time", lambda e: one_at_a_time(e, shuffled))
    run("shuffled, in batches", lambda e: in_batches(e, shuffled, rng))
    run("restart in the middle", lambda e: one_at_a_time(e, shuffled, len(events) // 2))
    run("live, late events", lambda e: live(e, events, delays, rng.randrange(len(events))))

    expected_clocks: dict[tuple[str, str], tuple[object, ...]] = {}
    expected_signals = set()
    for n, h in enumerate(tickets):
        clocks, signals = reference(
            f"T-{n}",
            h,
            END,
            calendar=MINUTES[calendar],
            targets=TARGETS,
            pause=PAUSE,
            warn_at=WARN_AT,
        )
        expected_clocks |= {(f"T-{n}", m): final_state(c) for m, c in clocks.items()}
        expected_signals |= signals
    for name, engine in runs.items():
        assert engine.clocks() == expected_clocks, name
        assert engine.in_force() == expected_signals, name


@pytest.mark.properties
@settings(profile())
@given(scenario())
def test_every_order_and_batching_gives_the_reference_clocks_and_signals(
    case: tuple[str, list[list[TicketEvent]], list[int], int],
) -> None:
    check(*case)
