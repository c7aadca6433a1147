"""Ticket clocks end to end (docs/design.md, "SLA clocks"): events posted to ingest in event time, figures read back
from `GET /v1/clocks` and signals from Kafka, each compared to the second with a deadline worked
out by hand (in the comments) on business calendars, holidays, DST changes, pauses, priority
changes and reopens. Every instant lies in the past, so each breach is a replay: it fires at once,
carries its deadline as `occurred_at`, and says `late: true`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from tests.support.client import iso, post
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess
from tests.support.sla_api import call, local, put, stopped_at, utc, wait_clocks

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


# ---- calendars: holidays and weekends -----------------------------------------------------


async def test_a_holiday_and_a_weekend_push_the_deadline(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    # the documented example moved into the past: Fri 2026-11-20 is declared a holiday
    s = Scenario(stack, office(holidays=["2026-11-20"]))
    s.policy({"P1": ("1h", "4h")})
    created = local("2026-11-19 16:00", BERLIN)  # a Thursday
    resolved = local("2026-11-24 10:00", BERLIN)  # the Tuesday after
    ticket = s.post("xmas", step("created", created, priority="P1"), step("resolved", resolved))
    found = await wait_clocks(s.engine, ticket, stopped_at("resolution", resolved))
    # resolution, 4 h: Thu 16-17 (1 h), Fri holiday, Sat and Sun off, Mon 09-12 (3 h)
    #   -> deadline Mon 2026-11-23 12:00 CET = 11:00Z
    # elapsed when resolved: Thu 1 h + Mon 8 h + Tue 09-10 1 h = 10 h
    check(
        found["resolution"],
        state="breached",
        elapsed=36_000,
        target=14_400,
        deadline=z("2026-11-23 11:00"),
        priority="P1",
    )
    # response, 1 h: Thu 16-17 -> deadline Thu 17:00 CET = 16:00Z; stopped by the resolve
    check(
        found["response"],
        state="breached",
        elapsed=36_000,
        target=3_600,
        deadline=z("2026-11-19 16:00"),
    )
    assert found["resolution"]["policy"] == f"pol-{s.tag}"
    assert utc(found["resolution"]["started_at"]) == created

    breach = await signal(signals, ticket, "breach")
    assert utc(breach["occurred_at"]) == z("2026-11-23 11:00")
    assert utc(breach["deadline"]) == z("2026-11-23 11:00")
    assert breach["late"] is True
    assert breach["priority"] == "P1"
    assert breach["threshold"] == 1.0
    # the warning at 50 %: 2 h in, Mon 10:00 CET
    warning = await signal(signals, ticket, "warning")
    assert utc(warning["occurred_at"]) == z("2026-11-23 09:00")
    assert warning["threshold"] == 0.5
    response = await signal(signals, ticket, "breach", "response")
    assert utc(response["occurred_at"]) == z("2026-11-19 16:00")
    # nothing was met, nothing fired twice, and each breach got its all-clear at the resolve
    mine = signals.matching(lambda x: x["ticket_id"] == ticket)
    assert sorted((x["metric"], x["kind"]) for x in mine) == [
        ("resolution", "breach"),
        ("resolution", "stopped"),
        ("resolution", "warning"),
        ("response", "breach"),
        ("response", "stopped"),
        ("response", "warning"),
    ]


async def test_german_public_holidays_from_the_country_code(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    s = Scenario(stack, office(holiday_country="DE"))
    s.policy({"P1": ("1h", "4h")})
    # Wed 2025-12-24 is a working day; Thu 25 and Fri 26 are German public holidays
    created = local("2025-12-24 16:00", BERLIN)
    resolved = local("2025-12-29 11:30", BERLIN)
    christmas = s.post(
        "christmas", step("created", created, priority="P1"), step("resolved", resolved)
    )
    # Wed 2025-12-31, then Thu 2026-01-01 (New Year's Day), never resolved
    new_year = s.post("new-year", step("created", local("2025-12-31 16:00", BERLIN), priority="P1"))

    found = await wait_clocks(s.engine, christmas, stopped_at("resolution", resolved))
    # 4 h: Wed 16-17 (1 h), Thu and Fri holidays, weekend, Mon 29 09-12 (3 h)
    #   -> deadline Mon 2025-12-29 12:00 CET = 11:00Z; resolved at 11:30 CET: met
    # elapsed: 1 h + Mon 09:00-11:30 (2.5 h) = 3.5 h
    check(
        found["resolution"],
        state="met",
        elapsed=12_600,
        target=14_400,
        deadline=z("2025-12-29 11:00"),
    )
    met = await signal(signals, christmas, "met")
    assert utc(met["occurred_at"]) == z("2025-12-29 10:30")
    assert not signals.matching(
        lambda x: (
            x["ticket_id"] == christmas and x["kind"] == "breach" and x["metric"] == "resolution"
        )
    )

    found = await wait_clocks(s.engine, new_year, lambda c: c["resolution"]["state"] == "breached")
    # 4 h: Wed 31 16-17 (1 h), Thu 1 Jan holiday, Fri 2 Jan 09-12 (3 h) -> 12:00 CET = 11:00Z
    assert utc(found["resolution"]["deadline"]) == z("2026-01-02 11:00")
    breach = await signal(signals, new_year, "breach")
    assert utc(breach["occurred_at"]) == z("2026-01-02 11:00")
    assert breach["late"] is True


# ---- calendars across DST changes ---------------------------------------------------------


async def test_all_day_calendar_across_the_berlin_autumn_change(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    # every day 00:00-24:00 in Berlin: Sun 2026-10-25 has 25 hours (CEST -> CET at 03:00)
    s = Scenario(
        stack,
        {
            "timezone": BERLIN,
            "hours": {
                d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
        },
    )
    s.policy({"P2": ("1d", "2d")})
    created = local("2026-10-24 12:00", BERLIN)  # Sat, CEST = 10:00Z
    responded = local("2026-10-25 12:00", BERLIN)  # Sun, CET = 11:00Z
    resolved = local("2026-10-26 12:00", BERLIN)  # Mon, CET = 11:00Z
    ticket = s.post(
        "autumn",
        step("created", created, priority="P2"),
        step("responded", responded),
        step("resolved", resolved),
    )
    found = await wait_clocks(s.engine, ticket, stopped_at("resolution", resolved))
    # response, 1 d = 24 h of real time: 10:00Z + 24 h = Sun 10:00Z (11:00 CET, not 12:00);
    #   responded 25 h in
    check(
        found["response"],
        state="breached",
        elapsed=90_000,
        target=86_400,
        deadline=z("2026-10-25 10:00"),
    )
    # resolution, 2 d = 48 h: Mon 10:00Z (11:00 CET); resolved 49 h in
    check(
        found["resolution"],
        state="breached",
        elapsed=176_400,
        target=172_800,
        deadline=z("2026-10-26 10:00"),
    )
    breach = await signal(signals, ticket, "breach")
    assert utc(breach["occurred_at"]) == z("2026-10-26 10:00")


async def test_sunday_only_calendar_counts_the_long_and_the_short_sunday(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    s = Scenario(stack, {"timezone": BERLIN, "hours": {"sun": ["00:00-24:00"]}})
    s.policy({"P3": ("2d", "1d")})
    # autumn: Sun 2026-10-25 runs from 00:00 CEST (Sat 22:00Z) to 24:00 CET (Sun 23:00Z): 25 h
    resolved = local("2026-10-26 09:00", BERLIN)
    autumn = s.post(
        "autumn",
        step("created", local("2026-10-24 12:00", BERLIN), priority="P3"),
        step("responded", resolved),
        step("resolved", resolved),
    )
    # spring: Sun 2026-03-29 runs from 00:00 CET (Sat 23:00Z) to 24:00 CEST (Sun 22:00Z): 23 h
    spring_resolved = local("2026-04-06 09:00", BERLIN)
    spring = s.post(
        "spring",
        step("created", local("2026-03-28 12:00", BERLIN), priority="P3"),
        step("resolved", spring_resolved),
    )

    found = await wait_clocks(s.engine, autumn, stopped_at("resolution", resolved))
    # resolution, 1 d = 24 h from Sat 22:00Z -> Sun 22:00Z (23:00 CET, an hour before midnight)
    check(
        found["resolution"],
        state="breached",
        elapsed=90_000,
        target=86_400,
        deadline=z("2026-10-25 22:00"),
    )
    # response, 2 d: 25 h counted, met; the 23 h left would have run from the next Sunday,
    #   Sun 2026-11-01 00:00 CET = Sat 23:00Z, to Sun 22:00Z
    check(
        found["response"],
        state="met",
        elapsed=90_000,
        target=172_800,
        deadline=z("2026-11-01 22:00"),
    )
    breach = await signal(signals, autumn, "breach")
    assert utc(breach["occurred_at"]) == z("2026-10-25 22:00")

    found = await wait_clocks(s.engine, spring, stopped_at("resolution", spring_resolved))
    # 1 d: 23 h on Sun 29 March, the last hour on Sun 5 April from 00:00 CEST (Sat 22:00Z)
    #   -> deadline 2026-04-04 23:00Z; elapsed 23 h + 24 h = 47 h
    check(
        found["resolution"],
        state="breached",
        elapsed=169_200,
        target=86_400,
        deadline=z("2026-04-04 23:00"),
    )
    breach = await signal(signals, spring, "breach")
    assert utc(breach["occurred_at"]) == z("2026-04-04 23:00")


async def test_business_hours_across_the_new_york_change(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    # mon-fri 09:00-17:00 New York time; on Sun 2026-11-01 EDT (-4) becomes EST (-5)
    s = Scenario(stack, {"timezone": NEW_YORK, "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}})
    s.policy({"P1": ("30m", "2h")})
    created = local("2026-10-30 16:00", NEW_YORK)  # Fri, EDT = 20:00Z
    resolved = local("2026-11-02 09:30", NEW_YORK)  # Mon, EST = 14:30Z
    met = s.post(
        "met",
        step("created", created, priority="P1"),
        step("responded", local("2026-10-30 16:20", NEW_YORK)),
        step("responded", local("2026-10-30 16:50", NEW_YORK)),  # only the first one counts
        step("resolved", resolved),
    )
    late = s.post("late", step("created", created, priority="P1"))

    found = await wait_clocks(s.engine, met, stopped_at("resolution", resolved))
    # response, 30 m: 20 minutes counted; it would have been due at 16:30 EDT = 20:30Z
    check(
        found["response"], state="met", elapsed=1_200, target=1_800, deadline=z("2026-10-30 20:30")
    )
    assert utc(found["response"]["stopped_at"]) == local("2026-10-30 16:20", NEW_YORK)
    # resolution, 2 h: Fri 16-17 EDT (1 h), Mon 09:00-09:30 EST (30 m) counted, met; the
    #   30 m left would have run out at 10:00 EST = 15:00Z (at 14:00Z on a fixed EDT offset)
    check(
        found["resolution"],
        state="met",
        elapsed=5_400,
        target=7_200,
        deadline=z("2026-11-02 15:00"),
    )

    found = await wait_clocks(s.engine, late, lambda c: c["resolution"]["state"] == "breached")
    assert utc(found["resolution"]["deadline"]) == z("2026-11-02 15:00")
    breach = await signal(signals, late, "breach")
    assert utc(breach["occurred_at"]) == z("2026-11-02 15:00")
    assert breach["late"] is True
    warning = await signal(signals, late, "warning")
    assert utc(warning["occurred_at"]) == z("2026-10-30 21:00")  # 1 h in: Fri 17:00 EDT


# ---- pauses, priority changes, reopens ----------------------------------------------------


async def test_pause_statuses_stop_the_clock(
    stack: dict[str, ServiceProcess], signals: TopicReader, db: asyncpg.Connection
) -> None:
    s = Scenario(stack, office())
    s.policy({"P2": ("1h", "8h")}, pause_statuses=["waiting_for_customer"])
    resolved = local("2026-11-17 16:00", BERLIN)
    paused_once = s.post(
        "once",
        step("created", local("2026-11-16 10:00", BERLIN), priority="P2", status="open"),
        step("responded", local("2026-11-16 10:30", BERLIN), status="in_progress"),
        step("updated", local("2026-11-16 11:00", BERLIN), status="waiting_for_customer"),
        step("updated", local("2026-11-17 10:00", BERLIN), status="in_progress"),
        step("resolved", resolved),
    )
    still_paused = s.post(
        "still",
        step("created", local("2026-11-16 10:00", BERLIN), priority="P2", status="open"),
        step("updated", local("2026-11-16 12:00", BERLIN), status="waiting_for_customer"),
    )

    found = await wait_clocks(s.engine, paused_once, stopped_at("resolution", resolved))
    # Mon 10-11 counts (1 h); paused Mon 11:00 -> Tue 10:00 (7 working hours not counted);
    # Tue 10-16 counts (6 h): 7 h of 8, met; the last hour would have run to 17:00 CET = 16:00Z
    check(
        found["resolution"],
        state="met",
        elapsed=25_200,
        target=28_800,
        deadline=z("2026-11-17 16:00"),
    )
    check(
        found["response"], state="met", elapsed=1_800, target=3_600, deadline=z("2026-11-16 10:00")
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


async def test_priority_changes_keep_the_elapsed_time(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    s = Scenario(stack, None)  # 24x7: hours are plain hours
    s.policy(
        {
            "P1": ("15m", "2h"),
            "P2": ("30m", "4h"),
            "P3": ("1h", "8h"),
            "P4": ("4h", "16h"),
        }
    )
    raised = s.post(
        "raised",
        step("created", z("2026-11-26 08:00"), priority="P3"),
        step("responded", z("2026-11-26 08:30")),
        step("updated", z("2026-11-26 10:00"), priority="P2"),
        step("resolved", z("2026-11-26 11:00")),
    )
    found = await wait_clocks(s.engine, raised, stopped_at("resolution", z("2026-11-26 11:00")))
    # 3 h counted against P2's 4 h: met; the hour left would have ended at 12:00Z
    check(
        found["resolution"],
        state="met",
        elapsed=10_800,
        target=14_400,
        deadline=z("2026-11-26 12:00"),
        priority="P2",
    )
    assert found["response"]["state"] == "met"
    assert found["response"]["elapsed_seconds"] == 1_800

    # raised to P1 (2 h) when 3 h have passed: the breach fires at the instant of the change
    too_late = s.post(
        "too-late",
        step("created", z("2026-11-26 08:00"), priority="P3"),
        step("updated", z("2026-11-26 11:00"), priority="P1"),
        step("resolved", z("2026-11-26 11:30")),
    )
    found = await wait_clocks(s.engine, too_late, stopped_at("resolution", z("2026-11-26 11:30")))
    check(
        found["resolution"],
        state="breached",
        elapsed=12_600,
        target=7_200,
        deadline=z("2026-11-26 11:00"),
        priority="P1",
    )
    breach = await signal(signals, too_late, "breach")
    assert utc(breach["occurred_at"]) == z("2026-11-26 11:00")
    assert breach["priority"] == "P1"
    assert breach["late"] is True
    # P1's 50 % warning (1 h) had passed too: it fires at the change as well
    warning = await signal(signals, too_late, "warning")
    assert utc(warning["occurred_at"]) == z("2026-11-26 11:00")
    # the response clock (P3, 1 h) had breached at 09:00Z, before the change
    response = await signal(signals, too_late, "breach", "response")
    assert utc(response["occurred_at"]) == z("2026-11-26 09:00")

    # lowered to P4 (16 h) after P3's 50 % warning (4 h, at 12:00Z): that warning is not given
    # again when 8 h, P4's 50 %, pass at 16:00Z
    lowered = s.post(
        "lowered",
        step("created", z("2026-11-26 08:00"), priority="P3"),
        step("responded", z("2026-11-26 08:10")),
        step("updated", z("2026-11-26 12:30"), priority="P4"),
        step("resolved", z("2026-11-26 17:00")),
    )
    found = await wait_clocks(s.engine, lowered, stopped_at("resolution", z("2026-11-26 17:00")))
    # 9 h of 16 h: met; the 7 h left would have ended at 2026-11-27 00:00Z
    check(
        found["resolution"],
        state="met",
        elapsed=32_400,
        target=57_600,
        deadline=z("2026-11-27 00:00"),
        priority="P4",
    )
    met = await signal(signals, lowered, "met")
    assert utc(met["occurred_at"]) == z("2026-11-26 17:00")
    warnings = signals.matching(
        lambda x: (
            x["ticket_id"] == lowered and x["kind"] == "warning" and x["metric"] == "resolution"
        )
    )
    assert [(utc(w["occurred_at"]), w["priority"]) for w in warnings] == [
        (z("2026-11-26 12:00"), "P3")
    ]

    # the list filters by service and state
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


async def test_a_reopen_carries_the_elapsed_time_on(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    s = Scenario(stack, office())
    s.policy({"P2": ("4h", "8h")})
    first_resolve = local("2026-11-16 12:00", BERLIN)
    final_resolve = local("2026-11-18 15:00", BERLIN)
    ticket = s.post(
        "reopened",
        step("created", local("2026-11-16 09:00", BERLIN), priority="P2"),
        step("resolved", first_resolve),
        step("reopened", local("2026-11-18 09:00", BERLIN)),
        step("responded", local("2026-11-18 10:00", BERLIN)),
        step("resolved", final_resolve),
    )
    found = await wait_clocks(s.engine, ticket, stopped_at("resolution", final_resolve))
    # Mon 09-12 (3 h), stopped until Wed 09:00, then 5 h more -> breach Wed 14:00 CET = 13:00Z;
    # resolved Wed 15:00 CET: 3 h + 6 h = 9 h counted
    check(
        found["resolution"],
        state="breached",
        elapsed=32_400,
        target=28_800,
        deadline=z("2026-11-18 13:00"),
    )
    # the response clock stopped at the first resolve (nobody had responded) and stays stopped
    check(
        found["response"],
        state="met",
        elapsed=10_800,
        target=14_400,
        deadline=z("2026-11-16 12:00"),
    )
    assert utc(found["response"]["stopped_at"]) == first_resolve
    met = await signal(signals, ticket, "met")
    assert utc(met["occurred_at"]) == first_resolve  # the first resolve was in time; it stands
    breach = await signal(signals, ticket, "breach")
    assert utc(breach["occurred_at"]) == z("2026-11-18 13:00")
    assert breach["late"] is True
