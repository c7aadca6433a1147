"""End to end through HTTP and Kafka: availability figures exact to the millisecond, maintenance
after the fact, an availability breach fired by its own timer during the outage, and a crash
of the engine that neither loses nor doubles it."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from fractions import Fraction
from math import floor
from typing import Any

import asyncpg
import httpx
import pytest

from pacta.durations import datetime_to_ms, parse_timestamp_ms
from sla_engine.domain.availability import month_bounds
from tests.support.client import ADMIN_KEY, iso, poll_value, post
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
M = 60_000


def put_policy(engine: str, name: str, body: dict[str, object]) -> None:
    r = httpx.put(f"{engine}/v1/policies/{name}", json=body, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text


def event(service: str, check: str, status: str, at_ms: int, **extra: object) -> dict[str, Any]:
    return {
        "service": service,
        "check": check,
        "status": status,
        "occurred_at": iso(datetime.fromtimestamp(at_ms / 1000, UTC)),
        **extra,
    }


def send(stack: dict[str, ServiceProcess], events: list[dict[str, Any]]) -> None:
    """Post the events, after a heartbeat of each of their services at the start of this
    month (sent once): a service is measured only from its first monitoring event, and these
    tests count the whole month."""
    since = month_start(now_ms())
    first = [
        event(s, "heartbeat", "firing", since, id=f"first-{s}-{since}")
        for s in sorted({e["service"] for e in events})
    ]
    r = post(stack["ingest"].url, "/v1/events/monitoring", [*first, *events])
    assert r.status_code == 202, r.text


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def now_ms() -> int:
    return datetime_to_ms(datetime.now(UTC))


def availability(engine: str, service: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{engine}/v1/services/{service}/availability", params=params, headers=ADMIN, timeout=10
    )


async def poll_availability(
    engine: str, service: str, what: str, check: Any, timeout: float = 30.0
) -> dict[str, Any]:
    """GET the figures until `check(figures)` holds; fail with the last answer."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = availability(engine, service)
        assert r.status_code == 200, r.text
        body = r.json()
        if check(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"availability of {service} never showed {what}: {body}")


def gauge(text: str, name: str, service: str) -> float:
    prefix = f'{name}{{service="{service}"}} '
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line[len(prefix) :])


def month_start(at_ms: int) -> int:
    month = datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m")
    return month_bounds(month, "UTC")[0]


def in_month(start: int, end: int, t: int) -> int:
    """The part of [start, end) inside the month of `t` (a test run just after midnight on the
    first of a month would otherwise see part of its outage in the month before)."""
    return max(0, end - max(start, month_start(t)))


async def test_downtime_is_the_union_of_critical_checks_exact_to_the_ms(
    stack: dict[str, ServiceProcess], facts: TopicReader
) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"avail-{tag}"
    engine = stack["sla_engine"].url
    put_policy(
        engine, f"avail-{tag}", {"match": {"service": service}, "availability": {"target": 99.9}}
    )
    t = now_ms()
    send(
        stack,
        [
            event(service, "http", "firing", t - 10 * M),
            event(service, "http", "resolved", t - 4 * M),
            # overlaps the first: counted once
            event(service, "db", "resolved", t - 6 * M),  # its firing arrives after it
            event(service, "disk", "firing", t - 20 * M, severity="minor"),  # does not count
            event(service, "disk", "resolved", t - M, severity="minor"),
        ],
    )
    send(stack, [event(service, "db", "firing", t - 8 * M)])
    expected = in_month(t - 10 * M, t - 4 * M, t)
    body = await poll_availability(
        engine, service, f"{expected} ms down", lambda b: b["downtime_seconds"] == expected / 1000
    )
    as_of = parse_timestamp_ms(body["as_of"])
    start = month_start(as_of)
    assert body["policy"] == f"avail-{tag}"
    assert body["calendar"] == "24x7"
    assert body["target"] == 99.9
    assert body["agreed_service_seconds"] == (as_of - start) / 1000  # month to date
    month_ms = month_bounds(body["month"], "UTC")[1] - start
    assert body["agreed_month_seconds"] == month_ms / 1000
    assert body["budget_seconds"] == floor(month_ms / 1000) / 1000
    assert body["actual"] == pytest.approx(100 * (1 - expected / (as_of - start)), abs=1e-9)
    assert body["budget_consumed"] == pytest.approx(expected / floor(month_ms / 1000))
    # met is actual >= target to date, on_track the budget view (issue 10, item 8)
    assert body["met"] is (body["actual"] >= 99.9)
    assert body["on_track"] is True
    assert body["down"] is False
    assert [[parse_timestamp_ms(a), parse_timestamp_ms(b)] for a, b in body["down_intervals"]] == [
        [max(t - 10 * M, start), t - 4 * M]
    ]
    # the same figures reach reporting as a fact (the newest version wins)
    fact = await facts.wait_for(
        "availability fact",
        lambda f: (
            f.get("fact") == "availability"
            and f["service"] == service
            and f["downtime_seconds"] == expected / 1000
        ),
    )
    assert fact["month"] == body["month"]
    assert fact["agreed_month_seconds"] == month_ms / 1000
    assert fact["agreed_service_seconds"] <= body["agreed_service_seconds"]  # to date, when emitted
    assert fact["budget_seconds"] == body["budget_seconds"]
    assert fact["met"] is (fact["actual"] >= 99.9)
    assert fact["on_track"] is True
    assert fact["fact_id"] == f"availability:{service}:{body['month']}:{fact['version']}"


async def test_bad_month_is_422_and_a_key_is_needed(stack: dict[str, ServiceProcess]) -> None:
    engine = stack["sla_engine"].url
    for month in ("2026-13", "2026-1", "june", "2026-06-01"):
        r = availability(engine, "checkout", month=month)
        assert r.status_code == 422, (month, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = httpx.get(f"{engine}/v1/services/checkout/availability", timeout=10)
    assert r.status_code == 401
    r = availability(engine, f"never-{uuid.uuid4().hex[:6]}", month="2020-02")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["downtime_seconds"] == 0
    # never monitored: nothing of the month was measured, so there is no figure (never 100 %)
    assert body["unmeasured_seconds"] == 29 * 86400  # a leap February, all of it past
    assert body["agreed_service_seconds"] == 0
    assert (body["actual"], body["met"], body["coverage"]) == (None, None, 0.0)


async def test_maintenance_after_the_fact_reduces_downtime_exactly(
    stack: dict[str, ServiceProcess], facts: TopicReader
) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"maint-{tag}"
    engine = stack["sla_engine"].url
    put_policy(
        engine, f"maint-{tag}", {"match": {"service": service}, "availability": {"target": 99.5}}
    )
    t = now_ms()
    send(
        stack,
        [
            event(service, "http", "firing", t - 10 * M),
            event(service, "http", "resolved", t - 4 * M),
        ],
    )
    full = in_month(t - 10 * M, t - 4 * M, t)
    await poll_availability(
        engine, service, "6 min down", lambda b: ms(b["downtime_seconds"]) == full
    )
    window = {
        "service": service,
        "starts_at": iso(datetime.fromtimestamp((t - 7 * M) / 1000, UTC)),
        "ends_at": iso(datetime.fromtimestamp((t - 5 * M) / 1000, UTC)),
        "reason": "database failover, declared afterwards",
    }
    r = httpx.post(f"{engine}/v1/maintenance-windows", json=window, headers=ADMIN, timeout=10)
    assert r.status_code == 201, r.text
    r = availability(engine, service)
    body = r.json()
    covered = in_month(t - 7 * M, t - 5 * M, t)
    assert ms(body["downtime_seconds"]) == full - covered
    as_of = parse_timestamp_ms(body["as_of"])
    assert ms(body["agreed_service_seconds"]) == as_of - month_start(as_of) - covered
    await facts.wait_for(
        "fact after the window",
        lambda f: (
            f.get("fact") == "availability"
            and f["service"] == service
            and ms(f["downtime_seconds"]) == full - covered
        ),
    )
    # a `maintenance` check opens and closes a window too, and replays change nothing
    mstart, mend = t - 9 * M, t - 8 * M
    maint = [
        event(service, "maintenance", "resolved", mend, id=f"m2-{tag}"),
        event(service, "maintenance", "firing", mstart, id=f"m1-{tag}", summary="patching"),
    ]
    send(stack, maint)
    send(stack, maint)
    less = full - covered - in_month(mstart, mend, t)
    await poll_availability(
        engine, service, "the maintenance check", lambda b: ms(b["downtime_seconds"]) == less
    )
    r = httpx.get(f"{engine}/v1/maintenance-windows", params={"service": service}, headers=ADMIN)
    windows = r.json()["items"]
    assert len(windows) == 2
    by_event = next(w for w in windows if w["origin"] == "event")
    assert by_event["id"] == f"event-m1-{tag}"
    assert by_event["reason"] == "patching"
    assert parse_timestamp_ms(by_event["ends_at"]) == mend


def tiny_budget_target(month: str, budget_ms: int) -> tuple[float, int]:
    """A target whose budget this month is about `budget_ms`, and the budget it really gives
    (as the engine computes it: through the decimal text of the target)."""
    start, end = month_bounds(month, "UTC")
    target = round(100 - budget_ms * 100 / (end - start), 12)
    return target, floor((100 - Fraction(str(target))) * (end - start) / 100)


async def test_breach_fires_by_itself_during_the_outage(
    stack: dict[str, ServiceProcess], signals: TopicReader, db: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"live-{tag}"
    engine = stack["sla_engine"].url
    month = datetime.now(UTC).strftime("%Y-%m")
    target, budget = tiny_budget_target(month, 3_000)
    assert 2_900 <= budget <= 3_100
    put_policy(
        engine,
        f"live-{tag}",
        {"match": {"service": service}, "warn_at": [0.5], "availability": {"target": target}},
    )
    t0 = now_ms()
    # no resolve: the timer must do it; the labels of the check that is down ride along
    send(stack, [event(service, "http", "firing", t0, labels={"team": "payments"})])
    breach = await signals.wait_for(
        "availability breach",
        lambda s: s["service"] == service and s["kind"] == "availability_breach",
        timeout=15,
    )
    assert parse_timestamp_ms(breach["occurred_at"]) == t0 + budget + 1
    assert breach["late"] is False
    assert breach["metric"] == "availability"
    assert breach["threshold"] == 1.0
    assert breach["policy"] == f"live-{tag}"
    assert breach["signal_id"] == f"{service}/availability/{month}/availability_breach/1"
    assert breach["labels"] == {"team": "payments"}
    lag = parse_timestamp_ms(breach["detected_at"]) - parse_timestamp_ms(breach["occurred_at"])
    assert 0 <= lag < 1_000
    warning = signals.matching(
        lambda s: s["service"] == service and s["kind"] == "availability_warning"
    )
    assert [parse_timestamp_ms(w["occurred_at"]) for w in warning] == [t0 + (budget + 1) // 2]
    body = availability(engine, service).json()
    assert body["down"] is True
    assert body["met"] is False
    assert body["down_intervals"][-1][1] is None
    # the gauges follow the outage live (computed at the scrape), past the exhausted budget
    scraped = httpx.get(f"{engine}/metrics", timeout=10).text
    assert gauge(scraped, "pacta_error_budget_remaining_ratio", service) < 0
    assert gauge(scraped, "pacta_availability_ratio", service) < 1
    # the outage ends: the all-clear, and still one breach
    send(stack, [event(service, "http", "resolved", now_ms())])
    recovered = await signals.wait_for(
        "recovered", lambda s: s["service"] == service and s["kind"] == "recovered", timeout=15
    )
    assert recovered["labels"]["team"] == "payments"
    await poll_value(
        db,
        "SELECT count(*) FROM sla_engine.signals WHERE service = $1 AND kind = 'availability_breach'",
        service,
        expect=1,
    )
    assert (
        len(
            signals.matching(
                lambda s: s["service"] == service and s["kind"] == "availability_breach"
            )
        )
        == 1
    )


async def test_crash_during_an_outage_neither_loses_nor_doubles_the_breach(
    stack: dict[str, ServiceProcess], signals: TopicReader, db: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"crash-{tag}"
    engine = stack["sla_engine"]
    month = datetime.now(UTC).strftime("%Y-%m")
    target, budget = tiny_budget_target(month, 4_000)
    put_policy(
        engine.url,
        f"crash-{tag}",
        {"match": {"service": service}, "warn_at": [], "availability": {"target": target}},
    )
    t0 = now_ms()
    send(stack, [event(service, "http", "firing", t0)])
    await poll_value(
        db,
        "SELECT count(*) FROM sla_engine.down_intervals WHERE service = $1 AND ended_at IS NULL",
        service,
        expect=1,
    )
    engine.kill()  # the breach falls due while the engine is down
    # not a synchronisation: the scenario needs the instant to pass (by more than the 2 s after
    # which a signal counts as late) while no engine is running
    await asyncio.sleep(max(0.0, (t0 + budget + 2_500 - now_ms()) / 1000))
    engine.start()
    breach = await signals.wait_for(
        "breach after restart",
        lambda s: s["service"] == service and s["kind"] == "availability_breach",
        timeout=30,
    )
    assert parse_timestamp_ms(breach["occurred_at"]) == t0 + budget + 1
    assert breach["late"] is True
    await poll_value(
        db,
        "SELECT count(*) FROM sla_engine.signals WHERE service = $1 AND kind = 'availability_breach'",
        service,
        expect=1,
    )
    engine.kill()  # and once more: a restart after it fired does not fire it again
    engine.start()
    send(stack, [event(service, "http", "resolved", now_ms())])
    await signals.wait_for(
        "recovered", lambda s: s["service"] == service and s["kind"] == "recovered", timeout=15
    )
    assert (
        len(
            signals.matching(
                lambda s: s["service"] == service and s["kind"] == "availability_breach"
            )
        )
        == 1
    )


async def test_a_window_declared_after_a_breach_retracts_it_and_a_new_one_gets_a_new_id(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"retract-{tag}"
    engine = stack["sla_engine"].url
    month = datetime.now(UTC).strftime("%Y-%m")
    target, budget = tiny_budget_target(month, 3_000)
    put_policy(
        engine,
        f"retract-{tag}",
        {"match": {"service": service}, "warn_at": [0.5], "availability": {"target": target}},
    )
    t0 = max(now_ms() - 60_000, month_start(now_ms()))
    send(
        stack,
        [event(service, "http", "firing", t0), event(service, "http", "resolved", t0 + 10_000)],
    )
    breach_id = f"{service}/availability/{month}/availability_breach/1"
    await signals.wait_for("the breach", lambda s: s["signal_id"] == breach_id)
    # the outage was in fact planned maintenance: the breach and the warning did not happen
    r = httpx.post(
        f"{engine}/v1/maintenance-windows",
        json={
            "service": service,
            "starts_at": iso(datetime.fromtimestamp((t0 - 1000) / 1000, UTC)),
            "ends_at": iso(datetime.fromtimestamp((t0 + 11_000) / 1000, UTC)),
            "reason": "planned",
        },
        headers=ADMIN,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    retracted = await signals.wait_for(
        "the retraction", lambda s: s["signal_id"] == f"{breach_id}/retracted"
    )
    assert retracted["kind"] == "retracted"
    assert retracted["retracts"] == breach_id
    await signals.wait_for(
        "the warning's retraction",
        lambda s: (
            s["signal_id"] == f"{service}/availability/{month}/availability_warning/0.5/retracted"
        ),
    )
    # a real outage after it breaches again: a new occurrence, under a new id
    t1 = now_ms()
    send(stack, [event(service, "db", "firing", t1 - 5_000), event(service, "db", "resolved", t1)])
    again = await signals.wait_for(
        "the second breach", lambda s: s["signal_id"] == f"{breach_id}#2"
    )
    assert parse_timestamp_ms(again["occurred_at"]) == t1 - 5_000 + budget + 1


async def test_a_policy_put_after_an_outage_closed_signals_it_at_once_and_a_delete_stops(
    stack: dict[str, ServiceProcess], signals: TopicReader, facts: TopicReader
) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"late-policy-{tag}"
    engine = stack["sla_engine"].url
    month = datetime.now(UTC).strftime("%Y-%m")
    target, budget = tiny_budget_target(month, 3_000)
    t0 = max(now_ms() - 60_000, month_start(now_ms()))
    send(
        stack,
        [event(service, "http", "firing", t0), event(service, "http", "resolved", t0 + 10_000)],
    )
    await poll_availability(engine, service, "10 s down", lambda b: b["downtime_seconds"] == 10)
    # no event comes after the policy: the PUT itself measures the month's closed outage
    put_policy(
        engine,
        f"late-{tag}",
        {"match": {"service": service}, "warn_at": [], "availability": {"target": target}},
    )
    breach = await signals.wait_for(
        "the breach of the closed outage",
        lambda s: s["signal_id"] == f"{service}/availability/{month}/availability_breach/1",
    )
    assert parse_timestamp_ms(breach["occurred_at"]) == t0 + budget + 1
    assert breach["late"] is True
    # deleted: nothing is taken back, and a new outage signals nothing
    r = httpx.delete(f"{engine}/v1/policies/late-{tag}", headers=ADMIN, timeout=10)
    assert r.status_code == 204
    t1 = now_ms()
    send(stack, [event(service, "db", "firing", t1 - 8_000), event(service, "db", "resolved", t1)])
    # signals are relayed with (before) the fact of the same re-plan: once it is here, so are they
    await facts.wait_for(
        "the fact of 18 s down",
        lambda f: f.get("service") == service and f.get("downtime_seconds") == 18,
    )
    mine = signals.matching(lambda s: s["service"] == service)
    # the first outage's own signals (breach, its burn rates, the all-clear) and no more
    assert {s["kind"] for s in mine} <= {"availability_breach", "burn_rate", "recovered"}
    assert all(parse_timestamp_ms(s["occurred_at"]) <= t0 + 10_000 for s in mine)
    assert len([s for s in mine if s["kind"] == "availability_breach"]) == 1


def watchdog(service: str) -> dict[str, Any]:
    """An Alertmanager notification of the always-firing Watchdog alert of `service`."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "pacta",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Watchdog", "severity": "none", "service": service},
                "annotations": {},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"wd-{service}",
            }
        ],
    }


async def test_heartbeats_give_full_coverage_and_a_quiet_monitoring_shows_the_gap(
    stack: dict[str, ServiceProcess], facts: TopicReader
) -> None:
    """Two services beat every few hours since the month began (max_silence 7 h). One's
    last beat is the Watchdog through the Alertmanager webhook, now: 100 % coverage. The other
    went quiet 9 hours ago: from its last beat + 7 h to now is unmeasured, out of agreed time.
    """
    tag = uuid.uuid4().hex[:8]
    alive, quiet = f"alive-{tag}", f"quiet-{tag}"
    engine = stack["sla_engine"].url
    coverage = {"target": 99.9, "coverage": {"max_silence": "7h"}}
    for service in (alive, quiet):
        put_policy(engine, service, {"match": {"service": service}, "availability": coverage})
    t = now_ms()
    send(
        stack,
        [
            event(alive, "heartbeat", "firing", b)
            for b in range(month_start(t), t - 60 * M, 3 * 60 * M)
        ],
    )
    beats = range(month_start(t), t - 9 * 60 * M, 6 * 60 * M)
    send(stack, [event(quiet, "heartbeat", "firing", b) for b in beats])
    last = beats[-1]
    r = post(stack["ingest"].url, "/v1/ingest/alertmanager", watchdog(alive))
    assert r.status_code == 202, r.text

    body = await poll_availability(engine, alive, "full coverage", lambda b: b["coverage"] == 100.0)
    assert body["unmeasured_seconds"] == 0
    assert body["actual"] == 100.0
    assert body["down"] is False  # a heartbeat is never an outage
    body = await poll_availability(
        engine, quiet, "the silence", lambda b: b["unmeasured_seconds"] > 0
    )
    as_of = parse_timestamp_ms(body["as_of"])
    gap = as_of - (last + 7 * 60 * M)
    assert ms(body["unmeasured_seconds"]) == gap
    assert ms(body["agreed_service_seconds"]) == as_of - month_start(as_of) - gap
    assert body["coverage"] == pytest.approx(100 * (1 - gap / (as_of - month_start(as_of))))
    assert body["actual"] == 100.0  # of the measured time
    fact = await facts.wait_for(
        "a fact with coverage",
        lambda f: f.get("fact") == "availability" and f["service"] == quiet and "coverage" in f,
    )
    assert fact["unmeasured_seconds"] >= 0
    r = httpx.get(f"{stack['sla_engine'].url}/metrics", timeout=10)
    assert gauge(r.text, "pacta_availability_coverage_ratio", alive) == 1.0


async def test_no_availability_figure_before_a_service_s_first_monitoring_event(
    stack: dict[str, ServiceProcess],
) -> None:
    """A service first seen now has no figure for last month (not 100 %), even under a
    policy whose version was back-dated into it."""
    tag = uuid.uuid4().hex[:8]
    service = f"new-{tag}"
    engine = stack["sla_engine"].url
    t = now_ms()
    last_month = datetime.fromtimestamp((month_start(t) - 1) / 1000, UTC).strftime("%Y-%m")
    back = iso(datetime.fromtimestamp(month_bounds(last_month, "UTC")[0] / 1000 + 14 * 86400, UTC))
    r = httpx.put(
        f"{engine}/v1/policies/{service}",
        params={"effective_from": back},
        json={"match": {"service": service}, "availability": {"target": 99.9}},
        headers=ADMIN,
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    r = post(stack["ingest"].url, "/v1/events/monitoring", [event(service, "http", "resolved", t)])
    assert r.status_code == 202, r.text
    body = await poll_availability(
        engine,
        service,
        "the first event",
        lambda b: b["coverage"] not in (None, 0.0) or b["agreed_service_seconds"] > 0,
    )
    r = availability(engine, service, month=last_month)
    assert r.status_code == 200, r.text
    before = r.json()
    assert (before["actual"], before["met"], before["coverage"]) == (None, None, 0.0)
    assert before["agreed_service_seconds"] == 0
    assert before["unmeasured_seconds"] > 0
    assert body["actual"] == 100.0
