"""Ticket clocks end to end (docs/design.md, SLA clocks): events posted to ingest in event time, figures read back
from `GET /v1/clocks` and signals from Kafka, each compared to the second with a deadline worked
out by hand (in the comments) on business calendars, holidays, DST changes, pauses, priority
changes and reopens. Every instant lies in the past, so each breach is a replay: it fires at once,
carries its deadline as `occurred_at`, and says `late: true`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from tests.support.client import iso, post
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess
from tests.support.sla_api import Clocks, call, local, put, utc, wait_clocks

pytestmark = pytest.mark.e2e
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


class Scenario:
    """One calendar, one policy on a service of its own, and the tickets posted to it."""

    def __init__(self, stack: dict[str, ServiceProcess], calendar: dict[str, Any] | None) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.engine, self.ingest = stack["sla_engine"].url, stack["ingest"].url
        self.service = f"svc-{self.tag}"
        self.calendar = "24x7"
        if calendar is not None:
            self.calendar = f"cal-{self.tag}"
            put(self.engine, "calendars", self.calendar, calendar)

    def policy(self, targets: dict[str, tuple[str, str]], **extra: Any) -> str:
        name = f"pol-{self.tag}"
        put(
            self.engine,
            "policies",
            name,
            {
                "match": {"service": self.service},
                "calendar": self.calendar,
                "targets": {p: {"response": r, "resolution": s} for p, (r, s) in targets.items()},
                "warn_at": [0.5],
                **extra,
            },
        )
        return name

    def post(self, ticket: str, *steps: tuple[str, datetime, dict[str, Any]]) -> str:
        """Post a ticket's events as one batch (ingest keeps their order); the ticket id."""
        ticket_id = f"T-{self.tag}-{ticket}"
        events = [
            {
                "ticket_id": ticket_id,
                "service": self.service,
                "action": action,
                "occurred_at": iso(at),
                **fields,
            }
            for action, at, fields in steps
        ]
        r = post(self.ingest, "/v1/events/tickets", events)
        assert r.status_code == 202, r.text
        return ticket_id


def step(action: str, at: datetime, **fields: Any) -> tuple[str, datetime, dict[str, Any]]:
    return action, at, fields


def z(text: str) -> datetime:
    """An instant in UTC, as the hand computations in the comments end up."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def check(
    clock: dict[str, Any],
    *,
    state: str,
    elapsed: float,
    target: float,
    deadline: datetime | None,
    priority: str | None = None,
) -> None:
    """A clock's figures, exactly: remaining is always target - elapsed."""
    got = {
        "state": clock["state"],
        "elapsed_seconds": clock["elapsed_seconds"],
        "target_seconds": clock["target_seconds"],
        "remaining_seconds": clock["remaining_seconds"],
        "deadline": None if clock["deadline"] is None else utc(clock["deadline"]),
    }
    want = {
        "state": state,
        "elapsed_seconds": elapsed,
        "target_seconds": target,
        "remaining_seconds": target - elapsed,
        "deadline": deadline,
    }
    assert got == want, clock
    if priority is not None:
        assert clock["priority"] == priority, clock


async def signal(
    signals: TopicReader, ticket_id: str, kind: str, metric: str = "resolution"
) -> dict[str, Any]:
    return await signals.wait_for(
        f"{kind} of {ticket_id}/{metric}",
        lambda s: s["ticket_id"] == ticket_id and s["kind"] == kind and s["metric"] == metric,
    )


def office(**extra: Any) -> dict[str, Any]:
    """Mon-fri 09:00-17:00 in Berlin: 8 working hours a day."""
    return {"timezone": BERLIN, "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}, **extra}


@dataclass(frozen=True)
class Clock:
    """A clock as `GET /v1/clocks` must show it, worked out by hand; None: not checked (a
    running clock's elapsed time grows with the wall clock)."""

    state: str
    deadline: datetime | None
    elapsed: float | None = None
    target: float | None = None
    priority: str | None = None
    stopped_at: datetime | None = None


@dataclass(frozen=True)
class Fired:
    """A signal that fires exactly once for the ticket; `at` its `occurred_at` (None: any)."""

    at: datetime | None = None
    priority: str | None = None


@dataclass(frozen=True)
class Case:
    """One ticket's events on one calendar and policy, and what its clocks and signals must say.

    `signals` maps (metric, kind) to the one signal of that kind; with `exhaustive` they are all
    the ticket's signals. `absent` names kinds that must not fire."""

    name: str
    calendar: dict[str, Any] | None
    targets: dict[str, tuple[str, str]]
    steps: tuple[tuple[str, datetime, dict[str, Any]], ...]
    clocks: dict[str, Clock]
    signals: dict[tuple[str, str], Fired] = field(default_factory=dict)
    absent: tuple[tuple[str, str], ...] = ()
    exhaustive: bool = False
    policy: dict[str, Any] = field(default_factory=dict)


def all_day(zone: str) -> dict[str, Any]:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return {"timezone": zone, "hours": {d: ["00:00-24:00"] for d in days}}


SUNDAYS = {"timezone": BERLIN, "hours": {"sun": ["00:00-24:00"]}}
NEW_YORK_OFFICE = {"timezone": NEW_YORK, "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}}
EVERY_PRIORITY = {"P1": ("15m", "2h"), "P2": ("30m", "4h"), "P3": ("1h", "8h"), "P4": ("4h", "16h")}
BREACH, WARNING, MET, STOPPED = "breach", "warning", "met", "stopped"
RES, RESP = "resolution", "response"

CASES = [
    # ---- calendars: holidays and weekends ---------------------------------------------------
    Case(
        # the README's example moved into the past: Fri 2026-11-20 is declared a holiday
        "holiday-and-weekend",
        office(holidays=["2026-11-20"]),
        {"P1": ("1h", "4h")},
        (
            step("created", local("2026-11-19 16:00", BERLIN), priority="P1"),  # a Thursday
            step("resolved", local("2026-11-24 10:00", BERLIN)),  # the Tuesday after
        ),
        {
            # 4 h: Thu 16-17 (1 h), Fri holiday, Sat and Sun off, Mon 09-12 (3 h)
            #   -> deadline Mon 2026-11-23 12:00 CET = 11:00Z
            # elapsed when resolved: Thu 1 h + Mon 8 h + Tue 09-10 1 h = 10 h
            RES: Clock("breached", z("2026-11-23 11:00"), 36_000, 14_400, "P1"),
            # 1 h: Thu 16-17 -> deadline Thu 17:00 CET = 16:00Z; stopped by the resolve
            RESP: Clock("breached", z("2026-11-19 16:00"), 36_000, 3_600),
        },
        {
            (RES, BREACH): Fired(z("2026-11-23 11:00"), "P1"),
            (RES, WARNING): Fired(z("2026-11-23 09:00")),  # 50 %: 2 h in, Mon 10:00 CET
            (RESP, BREACH): Fired(z("2026-11-19 16:00")),
            # nothing was met, and each breach got its all-clear at the resolve
            (RES, STOPPED): Fired(),
            (RESP, STOPPED): Fired(),
            (RESP, WARNING): Fired(),
        },
        exhaustive=True,
    ),
    Case(
        # Wed 2025-12-24 is a working day; Thu 25 and Fri 26 are German public holidays
        "german-christmas",
        office(holiday_country="DE"),
        {"P1": ("1h", "4h")},
        (
            step("created", local("2025-12-24 16:00", BERLIN), priority="P1"),
            step("resolved", local("2025-12-29 11:30", BERLIN)),
        ),
        # 4 h: Wed 16-17 (1 h), Thu and Fri holidays, weekend, Mon 29 09-12 (3 h)
        #   -> deadline Mon 2025-12-29 12:00 CET = 11:00Z; resolved at 11:30 CET: met
        # elapsed: 1 h + Mon 09:00-11:30 (2.5 h) = 3.5 h
        {RES: Clock("met", z("2025-12-29 11:00"), 12_600, 14_400)},
        {(RES, MET): Fired(z("2025-12-29 10:30"))},
        absent=((RES, BREACH),),
    ),
    Case(
        # Wed 2025-12-31, then Thu 2026-01-01 (New Year's Day), never resolved
        "german-new-year",
        office(holiday_country="DE"),
        {"P1": ("1h", "4h")},
        (step("created", local("2025-12-31 16:00", BERLIN), priority="P1"),),
        # 4 h: Wed 31 16-17 (1 h), Thu 1 Jan holiday, Fri 2 Jan 09-12 (3 h) -> 12:00 CET = 11:00Z
        {RES: Clock("breached", z("2026-01-02 11:00"))},
        {(RES, BREACH): Fired(z("2026-01-02 11:00"))},
    ),
    # ---- calendars across DST changes -------------------------------------------------------
    Case(
        # every day 00:00-24:00 in Berlin: Sun 2026-10-25 has 25 hours (CEST -> CET at 03:00)
        "berlin-autumn-all-day",
        all_day(BERLIN),
        {"P2": ("1d", "2d")},
        (
            step("created", local("2026-10-24 12:00", BERLIN), priority="P2"),  # Sat, 10:00Z
            step("responded", local("2026-10-25 12:00", BERLIN)),  # Sun, CET = 11:00Z
            step("resolved", local("2026-10-26 12:00", BERLIN)),  # Mon, CET = 11:00Z
        ),
        {
            # 1 d = 24 h of real time: 10:00Z + 24 h = Sun 10:00Z (11:00 CET, not 12:00);
            #   responded 25 h in
            RESP: Clock("breached", z("2026-10-25 10:00"), 90_000, 86_400),
            # 2 d = 48 h: Mon 10:00Z (11:00 CET); resolved 49 h in
            RES: Clock("breached", z("2026-10-26 10:00"), 176_400, 172_800),
        },
        {(RES, BREACH): Fired(z("2026-10-26 10:00"))},
    ),
    Case(
        # Sun 2026-10-25 runs from 00:00 CEST (Sat 22:00Z) to 24:00 CET (Sun 23:00Z): 25 h
        "sunday-only-autumn",
        SUNDAYS,
        {"P3": ("2d", "1d")},
        (
            step("created", local("2026-10-24 12:00", BERLIN), priority="P3"),
            step("responded", local("2026-10-26 09:00", BERLIN)),
            step("resolved", local("2026-10-26 09:00", BERLIN)),
        ),
        {
            # 1 d = 24 h from Sat 22:00Z -> Sun 22:00Z (23:00 CET, an hour before midnight)
            RES: Clock("breached", z("2026-10-25 22:00"), 90_000, 86_400),
            # 2 d: 25 h counted, met; the 23 h left would have run from the next Sunday,
            #   Sun 2026-11-01 00:00 CET = Sat 23:00Z, to Sun 22:00Z
            RESP: Clock("met", z("2026-11-01 22:00"), 90_000, 172_800),
        },
        {(RES, BREACH): Fired(z("2026-10-25 22:00"))},
    ),
    Case(
        # Sun 2026-03-29 runs from 00:00 CET (Sat 23:00Z) to 24:00 CEST (Sun 22:00Z): 23 h
        "sunday-only-spring",
        SUNDAYS,
        {"P3": ("2d", "1d")},
        (
            step("created", local("2026-03-28 12:00", BERLIN), priority="P3"),
            step("resolved", local("2026-04-06 09:00", BERLIN)),
        ),
        # 1 d: 23 h on Sun 29 March, the last hour on Sun 5 April from 00:00 CEST (Sat 22:00Z)
        #   -> deadline 2026-04-04 23:00Z; elapsed 23 h + 24 h = 47 h
        {RES: Clock("breached", z("2026-04-04 23:00"), 169_200, 86_400)},
        {(RES, BREACH): Fired(z("2026-04-04 23:00"))},
    ),
    Case(
        # mon-fri 09:00-17:00 New York time; on Sun 2026-11-01 EDT (-4) becomes EST (-5)
        "new-york-met",
        NEW_YORK_OFFICE,
        {"P1": ("30m", "2h")},
        (
            step("created", local("2026-10-30 16:00", NEW_YORK), priority="P1"),  # Fri, 20:00Z
            step("responded", local("2026-10-30 16:20", NEW_YORK)),
            step("responded", local("2026-10-30 16:50", NEW_YORK)),  # only the first counts
            step("resolved", local("2026-11-02 09:30", NEW_YORK)),  # Mon, EST = 14:30Z
        ),
        {
            # 30 m: 20 minutes counted; it would have been due at 16:30 EDT = 20:30Z
            RESP: Clock(
                "met",
                z("2026-10-30 20:30"),
                1_200,
                1_800,
                stopped_at=local("2026-10-30 16:20", NEW_YORK),
            ),
            # 2 h: Fri 16-17 EDT (1 h), Mon 09:00-09:30 EST (30 m) counted, met; the 30 m left
            #   would have run out at 10:00 EST = 15:00Z (at 14:00Z on a fixed EDT offset)
            RES: Clock("met", z("2026-11-02 15:00"), 5_400, 7_200),
        },
    ),
    Case(
        "new-york-late",
        NEW_YORK_OFFICE,
        {"P1": ("30m", "2h")},
        (step("created", local("2026-10-30 16:00", NEW_YORK), priority="P1"),),
        {RES: Clock("breached", z("2026-11-02 15:00"))},
        {
            (RES, BREACH): Fired(z("2026-11-02 15:00")),
            (RES, WARNING): Fired(z("2026-10-30 21:00")),  # 1 h in: Fri 17:00 EDT
        },
    ),
    # ---- pauses, priority changes, reopens --------------------------------------------------
    Case(
        "paused-once",
        office(),
        {"P2": ("1h", "8h")},
        (
            step("created", local("2026-11-16 10:00", BERLIN), priority="P2", status="open"),
            step("responded", local("2026-11-16 10:30", BERLIN), status="in_progress"),
            step("updated", local("2026-11-16 11:00", BERLIN), status="waiting_for_customer"),
            step("updated", local("2026-11-17 10:00", BERLIN), status="in_progress"),
            step("resolved", local("2026-11-17 16:00", BERLIN)),
        ),
        {
            # Mon 10-11 counts (1 h); paused Mon 11:00 -> Tue 10:00 (7 working hours not
            # counted); Tue 10-16 counts (6 h): 7 h of 8, met; the last hour would have run to
            # 17:00 CET = 16:00Z
            RES: Clock("met", z("2026-11-17 16:00"), 25_200, 28_800),
            RESP: Clock("met", z("2026-11-16 10:00"), 1_800, 3_600),
        },
        policy={"pause_statuses": ["waiting_for_customer"]},
    ),
    Case(
        # 24x7: hours are plain hours
        "raised",
        None,
        EVERY_PRIORITY,
        (
            step("created", z("2026-11-26 08:00"), priority="P3"),
            step("responded", z("2026-11-26 08:30")),
            step("updated", z("2026-11-26 10:00"), priority="P2"),
            step("resolved", z("2026-11-26 11:00")),
        ),
        {
            # 3 h counted against P2's 4 h: met; the hour left would have ended at 12:00Z
            RES: Clock("met", z("2026-11-26 12:00"), 10_800, 14_400, "P2"),
            RESP: Clock("met", None, 1_800),
        },
    ),
    Case(
        # raised to P1 (2 h) when 3 h have passed: the breach fires at the instant of the change
        "too-late",
        None,
        EVERY_PRIORITY,
        (
            step("created", z("2026-11-26 08:00"), priority="P3"),
            step("updated", z("2026-11-26 11:00"), priority="P1"),
            step("resolved", z("2026-11-26 11:30")),
        ),
        {RES: Clock("breached", z("2026-11-26 11:00"), 12_600, 7_200, "P1")},
        {
            (RES, BREACH): Fired(z("2026-11-26 11:00"), "P1"),
            # P1's 50 % warning (1 h) had passed too: it fires at the change as well
            (RES, WARNING): Fired(z("2026-11-26 11:00")),
            # the response clock (P3, 1 h) had breached at 09:00Z, before the change
            (RESP, BREACH): Fired(z("2026-11-26 09:00")),
        },
    ),
    Case(
        # lowered to P4 (16 h) after P3's 50 % warning (4 h, at 12:00Z): that warning is not
        # given again when 8 h, P4's 50 %, pass at 16:00Z
        "lowered",
        None,
        EVERY_PRIORITY,
        (
            step("created", z("2026-11-26 08:00"), priority="P3"),
            step("responded", z("2026-11-26 08:10")),
            step("updated", z("2026-11-26 12:30"), priority="P4"),
            step("resolved", z("2026-11-26 17:00")),
        ),
        # 9 h of 16 h: met; the 7 h left would have ended at 2026-11-27 00:00Z
        {RES: Clock("met", z("2026-11-27 00:00"), 32_400, 57_600, "P4")},
        {
            (RES, MET): Fired(z("2026-11-26 17:00")),
            (RES, WARNING): Fired(z("2026-11-26 12:00"), "P3"),
        },
    ),
    Case(
        "reopened",
        office(),
        {"P2": ("4h", "8h")},
        (
            step("created", local("2026-11-16 09:00", BERLIN), priority="P2"),
            step("resolved", local("2026-11-16 12:00", BERLIN)),
            step("reopened", local("2026-11-18 09:00", BERLIN)),
            step("responded", local("2026-11-18 10:00", BERLIN)),
            step("resolved", local("2026-11-18 15:00", BERLIN)),
        ),
        {
            # Mon 09-12 (3 h), stopped until Wed 09:00, then 5 h more -> breach Wed 14:00 CET
            # = 13:00Z; resolved Wed 15:00 CET: 3 h + 6 h = 9 h counted
            RES: Clock("breached", z("2026-11-18 13:00"), 32_400, 28_800),
            # the response clock stopped at the first resolve (nobody had responded) and stays
            RESP: Clock(
                "met",
                z("2026-11-16 12:00"),
                10_800,
                14_400,
                stopped_at=local("2026-11-16 12:00", BERLIN),
            ),
        },
        {
            # the first resolve was in time; it stands
            (RES, MET): Fired(local("2026-11-16 12:00", BERLIN)),
            (RES, BREACH): Fired(z("2026-11-18 13:00")),
        },
    ),
]


def check_clock(clock: dict[str, Any], want: Clock) -> None:
    """A clock's figures, exactly (remaining is always target - elapsed)."""
    if want.elapsed is not None and want.target is not None:
        check(
            clock,
            state=want.state,
            elapsed=want.elapsed,
            target=want.target,
            deadline=want.deadline,
            priority=want.priority,
        )
    else:
        assert clock["state"] == want.state, clock
        if want.elapsed is not None:
            assert clock["elapsed_seconds"] == want.elapsed, clock
        if want.deadline is not None:
            assert utc(clock["deadline"]) == want.deadline, clock
        if want.priority is not None:
            assert clock["priority"] == want.priority, clock
    if want.stopped_at is not None:
        assert utc(clock["stopped_at"]) == want.stopped_at, clock


def shows(case: Case) -> Callable[[Clocks], bool]:
    """A `done` for `wait_clocks`: every clock of the case shows what it must."""

    def done(found: Clocks) -> bool:
        try:
            for metric, want in case.clocks.items():
                check_clock(found[metric], want)
        except AssertionError:
            return False
        return True

    return done


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_a_ticket_clock_on_a_calendar(
    case: Case, stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    s = Scenario(stack, case.calendar)
    policy = s.policy(case.targets, **case.policy)
    ticket = s.post(case.name, *case.steps)
    found = await wait_clocks(s.engine, ticket, shows(case))
    for metric, want in case.clocks.items():
        check_clock(found[metric], want)
        assert found[metric]["policy"] == policy
        assert utc(found[metric]["started_at"]) == case.steps[0][1]

    for (metric, kind), fired in case.signals.items():
        got = await signal(signals, ticket, kind, metric)
        if fired.at is not None:
            assert utc(got["occurred_at"]) == fired.at, got
        if fired.priority is not None:
            assert got["priority"] == fired.priority, got
        if kind == BREACH:
            # every instant lies in the past: a breach is a replay, at its deadline
            assert got["late"] is True, got
            assert got["threshold"] == 1.0, got
            assert utc(got["deadline"]) == utc(got["occurred_at"]), got
        if kind == WARNING:
            assert got["threshold"] == 0.5, got
    mine = signals.matching(lambda x: x["ticket_id"] == ticket)
    for metric, kind in case.signals:
        # each fires once per clock, whatever pauses and priority changes came between
        assert len([x for x in mine if (x["metric"], x["kind"]) == (metric, kind)]) == 1, mine
    for metric, kind in case.absent:
        assert not [x for x in mine if (x["metric"], x["kind"]) == (metric, kind)], mine
    if case.exhaustive:
        assert sorted((x["metric"], x["kind"]) for x in mine) == sorted(case.signals), mine


async def test_a_paused_clock_cannot_breach_until_it_runs_again(
    stack: dict[str, ServiceProcess], signals: TopicReader, db: asyncpg.Connection
) -> None:
    s = Scenario(stack, office())
    s.policy({"P2": ("1h", "8h")}, pause_statuses=["waiting_for_customer"])
    still_paused = s.post(
        "still",
        step("created", local("2026-11-16 10:00", BERLIN), priority="P2", status="open"),
        step("updated", local("2026-11-16 12:00", BERLIN), status="waiting_for_customer"),
    )

    found = await wait_clocks(
        s.engine, still_paused, lambda c: c["resolution"]["state"] == "paused"
    )
    # 2 h counted before the pause; paused for days since, it cannot breach, has no deadline
    check(found["resolution"], state="paused", elapsed=7_200, target=28_800, deadline=None)
    # the response clock (1 h) had breached at Mon 11:00 CET, before the pause
    check(
        found["response"],
        state="breached",
        elapsed=7_200,
        target=3_600,
        deadline=z("2026-11-16 10:00"),
    )
    await signal(signals, still_paused, "breach", "response")
    # signals of one replay commit together: none for the resolution clock, not even its 50 %
    # warning (4 h), since only 2 h were counted
    kinds = await db.fetch(
        "SELECT kind FROM sla_engine.signals WHERE ticket_id = $1 AND metric = 'resolution'",
        still_paused,
    )
    assert [r["kind"] for r in kinds] == []

    # the customer answers on Wed 25 November at 09:00: 6 h left -> Wed 15:00 CET = 14:00Z,
    # the warning 2 h after the answer, at 11:00 CET = 10:00Z
    s.post("still", step("updated", local("2026-11-25 09:00", BERLIN), status="in_progress"))
    warning = await signal(signals, still_paused, "warning")
    assert utc(warning["occurred_at"]) == z("2026-11-25 10:00")
    breach = await signal(signals, still_paused, "breach")
    assert utc(breach["occurred_at"]) == z("2026-11-25 14:00")
    assert utc(breach["deadline"]) == z("2026-11-25 14:00")
    assert breach["late"] is True
    found = await wait_clocks(
        s.engine, still_paused, lambda c: c["resolution"]["state"] == "breached"
    )
    assert utc(found["resolution"]["deadline"]) == z("2026-11-25 14:00")


async def test_the_clock_list_filters_by_service_state_and_ticket(
    stack: dict[str, ServiceProcess],
) -> None:
    s = Scenario(stack, None)
    s.policy(EVERY_PRIORITY)
    by_case = {c.name: c for c in CASES}
    posted: dict[str, str] = {}
    for name in ("raised", "too-late", "lowered"):
        posted[name] = s.post(name, *by_case[name].steps)
        await wait_clocks(s.engine, posted[name], shows(by_case[name]))
    raised, too_late, lowered = posted["raised"], posted["too-late"], posted["lowered"]

    def listed(**query: str) -> list[tuple[str, str]]:
        r = call("GET", f"{s.engine}/v1/clocks", params={"service": s.service, **query})
        assert r.status_code == 200, r.text
        return sorted((c["ticket_id"], c["metric"]) for c in r.json()["items"])

    assert listed(state="breached") == [(too_late, "resolution"), (too_late, "response")]
    assert listed(state="met") == sorted(
        [
            (raised, "resolution"),
            (raised, "response"),
            (lowered, "resolution"),
            (lowered, "response"),
        ]
    )
    assert listed(state="running") == listed(state="paused") == []
    assert len(listed()) == 6
    assert listed(ticket_id=raised) == [(raised, "resolution"), (raised, "response")]
    assert len(listed(limit="1")) == 1
    assert listed(service="no-such-service") == []
    for bad in ({"state": "late"}, {"limit": "0"}, {"limit": "many"}):
        r = call("GET", f"{s.engine}/v1/clocks", params=bad)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
