"""The engine's fast builders write exactly what the models they replace write: signal bodies
(`signal_body`, `retraction_body`) as `Signal.model_dump(mode="json")` gives them, and clock
facts built from a ticket as `clock_fact` builds them from its clock rows."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from pacta.calendars import CALENDAR_24X7
from pacta.durations import ms_to_datetime, parse_timestamp_ms
from sla_engine.clocks.events import event_ms
from sla_engine.clocks.rows import clock_fact, clock_rows, ticket_facts_and_rows
from sla_engine.domain.clocks import SignalIntent
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.signals import (
    from_intent,
    iso_time,
    json_time,
    retraction,
    retraction_body,
    signal_body,
)
from sla_engine.domain.ticket_log import TicketEvent
from sla_engine.domain.tickets import Ticket, replay_all

M = 60_000
T0 = 1_780_000_000_000
RULES = ClockRules(
    policy="p",
    calendar=CALENDAR_24X7,
    targets={"P1": {"response": 5 * M, "resolution": 30 * M}},
    warn_at=(0.5,),
)
INSTANTS = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 to 2100


def ticket(customer: str | None = "c", labels: dict[str, str] | None = None) -> Ticket:
    return Ticket(
        ticket_id="T-1",
        service="s",
        customer=customer,
        ticket_type="incident",
        rules=RULES,
        labels=labels or {},
    )


@given(INSTANTS)
def test_json_time_is_how_pydantic_writes_the_instant(ms: int) -> None:
    intent = SignalIntent("breach", "T", "s", "p", "response", None, 1.0, ms, None)
    assert (
        json_time(ms) == from_intent(intent, ticket(), ms, 1).model_dump(mode="json")["detected_at"]
    )


@given(
    kind=st.sampled_from(["warning", "breach", "met", "stopped"]),
    threshold=st.sampled_from([0.5, 1.0, 0.75, -600.0, -1.0]),
    occurred=INSTANTS,
    detected_after=st.integers(min_value=0, max_value=10_000),
    deadline=st.none() | INSTANTS,
    target=st.none() | st.integers(min_value=1, max_value=10**9),
    elapsed=st.integers(min_value=0, max_value=10**9),
    episode=st.integers(min_value=1, max_value=3),
    generation=st.integers(min_value=1, max_value=3),
    customer=st.none() | st.just("acme"),
    labels=st.sampled_from([{}, {"team": "a", "region": "eu"}]),
    priority=st.none() | st.just("P1"),
)
def test_signal_body_is_the_model_dump(
    kind: str,
    threshold: float,
    occurred: int,
    detected_after: int,
    deadline: int | None,
    target: int | None,
    elapsed: int,
    episode: int,
    generation: int,
    customer: str | None,
    labels: dict[str, str],
    priority: str | None,
) -> None:
    intent = SignalIntent(
        kind,  # type: ignore[arg-type]
        "T-1",
        "s",
        "p",
        "resolution",
        priority,
        threshold,
        occurred,
        deadline,
        episode,
        elapsed,
        target,
    )
    t = ticket(customer, labels)
    detected = occurred + detected_after
    expected = from_intent(intent, t, detected, generation).model_dump(mode="json")
    body = signal_body(intent, t, detected, generation)
    assert body == expected
    assert orjson.dumps(body) == orjson.dumps(expected)  # same types: 1.0 stays 1.0


def test_retraction_body_is_the_model_dump() -> None:
    t = ticket("acme", {"team": "a"})
    created = TicketEvent(T0, "created", "open", "P1")
    outcome = replay_all(t, [created], T0 + 40 * M)
    for intent in outcome.intents:
        standing = from_intent(intent, t, T0 + 40 * M, 1).model_dump(mode="json")
        expected = retraction(t, T0 + 41 * M, standing).model_dump(mode="json")
        assert retraction_body(t, T0 + 41 * M, standing) == expected
        assert orjson.dumps(retraction_body(t, T0 + 41 * M, standing)) == orjson.dumps(expected)


def test_ticket_facts_are_the_facts_of_its_rows() -> None:
    for events, now in [
        ([TicketEvent(T0, "created", "open", "P1")], T0 + M),
        ([TicketEvent(T0, "created", "open", "P1")], T0 + 40 * M),
        (
            [
                TicketEvent(T0, "created", "open", "P1"),
                TicketEvent(T0 + M, "responded"),
                TicketEvent(T0 + 2 * M + 7, "resolved", "resolved"),
            ],
            T0 + 40 * M,
        ),
    ]:
        for labels in ({}, {"team": "a"}):
            t = ticket(None, labels)
            replay_all(t, events, now)
            for skip in ((), ("response",)):
                rows = clock_rows(t, skip)
                facts, fast_rows = ticket_facts_and_rows(t, skip)
                assert fast_rows == rows
                assert facts == [clock_fact(r) for r in rows]


@given(INSTANTS)
def test_iso_time_is_the_datetimes_isoformat(ms: int) -> None:
    assert iso_time(ms) == ms_to_datetime(ms).isoformat()


@given(INSTANTS)
def test_journaled_instants_parse_as_the_strict_parser_parses_them(ms: int) -> None:
    text = json_time(ms)  # what pydantic writes into the journal
    assert event_ms(text) == parse_timestamp_ms(text) == ms
    for other in (text.replace("Z", "+00:00"), text.replace("T", " "), text[:-1] + "+01:00"):
        assert event_ms(other) == parse_timestamp_ms(other)


def test_a_clock_fact_is_the_json_object_reporting_reads() -> None:
    """The fact's JSON keeps the keys, their order and the types reporting parses (a
    dataclass serialised by orjson, as the dict it replaced was)."""
    t = ticket("acme", {"team": "a"})
    replay_all(
        t,
        [TicketEvent(T0, "created", "open", "P1"), TicketEvent(T0 + 7 * M, "responded")],
        T0 + 40 * M,
    )
    facts, _rows = ticket_facts_and_rows(t)
    wire = {f["metric"]: f for f in (orjson.loads(orjson.dumps(f)) for f in facts)}
    assert list(wire["response"]) == [
        "fact_id", "fact", "ticket_id", "metric", "service", "customer", "ticket_type", "policy",
        "priority", "state", "version", "elapsed_seconds", "target_seconds", "started_at",
        "stopped_at", "deadline", "occurred_at", "outcome", "breached", "breached_at", "episode",
        "breach_episode", "labels", "removed", "calendar", "policy_version", "calendar_version",
    ]  # fmt: skip
    response = wire["response"]
    assert response["fact_id"] == f"clock:T-1:response:{t.version}"
    assert (response["outcome"], response["breached"], response["state"]) == (
        "stopped", True, "breached",
    )  # fmt: skip
    assert response["elapsed_seconds"] == 420.0
    assert response["target_seconds"] == 300.0
    assert response["started_at"] == ms_to_datetime(T0).isoformat()
    assert response["stopped_at"] == ms_to_datetime(T0 + 7 * M).isoformat()
    assert response["labels"] == {"team": "a"}
    assert wire["resolution"]["outcome"] == "breached"  # open, past its 30 minutes
    assert wire["resolution"]["stopped_at"] is None
