"""Policy versions with effective dates (docs/design.md, "SLA clocks"; issue 11) through the pipeline: a change now
reaches open tickets at once with their elapsed time kept, a correction in the middle of last
month re-measures only what came after it, and every clock and signal names its version. All
figures are hand-computed; events go in through ingest and signals are read from Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pacta.events import POLICIES_TOPIC, PolicyRecord, topic_name
from pacta.settings import CommonSettings
from tests.support.client import iso, post
from tests.support.desk import Desk
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess
from tests.support.sla_api import call, put, utc, wait_clocks

pytestmark = pytest.mark.e2e

V1 = {"warn_at": [], "targets": {"P1": {"response": "8h", "resolution": "4h"}}}
V2 = {"warn_at": [], "targets": {"P1": {"response": "8h", "resolution": "2h"}}}


def last_month_day(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of the month before this one (UTC)."""
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    return start.replace(day=day, hour=hour, minute=minute)


def fig_days(month: str) -> int:
    """Days in `YYYY-MM`."""
    year, number = int(month[:4]), int(month[5:])
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return (following - timedelta(days=1)).day


def put_version(d: Desk, body: dict[str, Any], **query: str) -> dict[str, Any]:
    r = call(
        "PUT",
        f"{d.engine}/v1/policies/{d.policy}",
        {"match": {"service": d.service}, **body},
        params=query or None,
    )
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def resolution(d: Desk, ticket: str) -> dict[str, Any]:
    items = call("GET", f"{d.engine}/v1/clocks", params={"ticket_id": ticket}).json()["items"]
    return next(c for c in items if c["metric"] == "resolution")


async def test_a_correction_in_the_middle_of_last_month_re_measures_only_what_came_after(
    stack: dict[str, ServiceProcess], signals: TopicReader, settings: CommonSettings
) -> None:
    d = Desk(stack)
    put_version(d, V1)  # the first version: in force since always
    early, late, across = (f"{d.ticket}-{n}" for n in ("early", "late", "across"))
    # 3 h each for the first two, 2.5 h for the one open across the 15th 00:00Z
    for ticket, start, end in (
        (early, last_month_day(5, 10), last_month_day(5, 13)),
        (late, last_month_day(20, 10), last_month_day(20, 13)),
        (across, last_month_day(14, 23), last_month_day(15, 1, 30)),
    ):
        d.post_many(
            [
                {"ticket_id": ticket, "action": "created", "occurred_at": start, "priority": "P1"},
                {"ticket_id": ticket, "action": "resolved", "occurred_at": end},
            ]
        )
    for ticket in (early, late, across):
        met = await d.wait(signals, f"{ticket}/resolution/met/1")
        assert met["policy_version"] == 1
        assert met["target_seconds"] == 4 * 3600
    seen = len(signals.records)

    # the contract changed on the 15th; the manager records it today, back-dated
    changed_at = last_month_day(15, 0)
    got = put_version(d, V2, effective_from=changed_at.isoformat())
    assert got["version"] == 2
    assert utc(got["effective_from"]) == changed_at
    versions = call("GET", f"{d.engine}/v1/policies/{d.policy}/versions").json()["items"]
    assert [(v["version"], v["effective_from"]) for v in versions] == [
        (1, None),
        (2, got["effective_from"]),
    ]
    assert versions[1]["spec"]["targets"]["P1"]["resolution"] == 7200

    # after the 15th, 3 h against 2 h: breached at 12:00, stopped at 13:00
    await d.wait(signals, f"{late}/resolution/met/1/retracted")
    breach = await d.wait(signals, f"{late}/resolution/breach/1")
    assert utc(breach["occurred_at"]) == last_month_day(20, 12)
    assert (breach["policy_version"], breach["target_seconds"], breach["late"]) == (2, 7200, True)
    await d.wait(signals, f"{late}/resolution/stopped/1")
    # across the change: 1 h before it under v1, then 1 h more reaches the new 2 h at 01:00
    await d.wait(signals, f"{across}/resolution/met/1/retracted")
    breach = await d.wait(signals, f"{across}/resolution/breach/1")
    assert utc(breach["occurred_at"]) == last_month_day(15, 1)
    assert (breach["elapsed_seconds"], breach["policy_version"]) == (7200, 2)
    await d.wait(signals, f"{across}/resolution/stopped/1")

    clocks = await wait_clocks(
        d.engine, across, lambda c: c["resolution"]["policy_version"] == 2, timeout=15
    )
    assert clocks["resolution"]["state"] == "breached"
    assert clocks["resolution"]["elapsed_seconds"] == 2.5 * 3600
    assert clocks["resolution"]["target_seconds"] == 7200
    clock = resolution(d, late)
    assert (clock["state"], clock["policy_version"], clock["target_seconds"]) == (
        "breached",
        2,
        7200,
    )
    # before the 15th nothing changed: still met, under the first version and its 4 h
    clock = resolution(d, early)
    assert (clock["state"], clock["policy_version"], clock["target_seconds"]) == ("met", 1, 14400)
    # the policy's whole history is published for the reports (compacted, keyed by name)
    async with TopicReader(
        settings.kafka_bootstrap, topic_name(settings.topic_prefix, POLICIES_TOPIC)
    ) as policies:
        record = await policies.wait_for(
            "the policy's record with both versions",
            lambda r: r["name"] == d.policy and len(r["versions"]) == 2,
        )
    assert PolicyRecord.model_validate(record).versions[1].effective_from == changed_at
    assert record["versions"][0]["spec"]["targets"]["P1"]["resolution"] == 14400

    after = signals.records[seen:]
    assert not [s for s in after if s["ticket_id"] == early]
    # the late ticket is measured by the new version all its life: its resolution breached,
    # and its response met, the same instant as before, now under version 2 (a signal says the
    # version it was computed under, so it is retracted as fired and fired as it stands)
    assert sorted((s["metric"], s["kind"]) for s in after if s["ticket_id"] == late) == [
        ("resolution", "breach"),
        ("resolution", "retracted"),
        ("resolution", "stopped"),
        ("response", "met"),
        ("response", "retracted"),
    ]
    met = next(s for s in after if s["ticket_id"] == late and s["kind"] == "met")
    assert (met["signal_id"], met["policy_version"]) == (f"{late}/response/met/1#2", 2)


async def test_a_change_now_reaches_open_tickets_at_once_keeping_their_elapsed_time(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(stack)
    put_version(d, {**V1, "warn_at": [0.5]})
    now = datetime.now(UTC)
    closed, open_ = f"{d.ticket}-closed", f"{d.ticket}-open"
    d.post("created", now - timedelta(hours=5), ticket=closed, priority="P1", status="open")
    d.post("resolved", now - timedelta(hours=4), ticket=closed, status="resolved")
    d.post("created", now - timedelta(minutes=150), ticket=open_, priority="P1", status="open")
    warning = await d.wait(signals, f"{open_}/resolution/warning/0.5")
    assert (warning["policy_version"], warning["elapsed_seconds"]) == (1, 7200)
    await d.wait(signals, f"{closed}/resolution/met/1")

    # v2 from now: 2.5 h already counted against 2 h, so the breach fires at the change
    put_at = datetime.now(UTC)
    got = put_version(d, V2)
    assert got["version"] == 2
    assert put_at - timedelta(seconds=1) <= utc(got["effective_from"]) <= datetime.now(UTC)
    breach = await d.wait(signals, f"{open_}/resolution/breach/1")
    assert utc(breach["occurred_at"]) == utc(got["effective_from"])
    assert breach["policy_version"] == 2
    assert breach["target_seconds"] == 7200
    # 24x7: the time from its creation to the change, however long the waits above took
    created_at = now - timedelta(minutes=150)
    counted = (utc(got["effective_from"]) - created_at).total_seconds()
    assert breach["elapsed_seconds"] >= 9000
    assert abs(breach["elapsed_seconds"] - counted) < 1
    clock = resolution(d, open_)
    assert (clock["state"], clock["policy_version"]) == ("breached", 2)
    # the ticket closed before keeps the version it ended under
    clock = resolution(d, closed)
    assert (clock["state"], clock["policy_version"], clock["target_seconds"]) == ("met", 1, 14400)

    # the same body again is no new version; naming a stale version is a conflict
    assert put_version(d, V2)["version"] == 2
    r = call(
        "PUT",
        f"{d.engine}/v1/policies/{d.policy}",
        {"match": {"service": d.service}, **V1, "version": 1},
    )
    assert r.status_code == 409, r.text
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = call(
        "PUT",
        f"{d.engine}/v1/policies/{d.policy}",
        {"match": {"service": d.service}, **V1, "effective_from": future},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "effective_from"
    listed = call("GET", f"{d.engine}/v1/policies/{d.policy}/versions").json()["items"]
    assert [v["version"] for v in listed] == [1, 2]
    assert call("GET", f"{d.engine}/v1/policies/nope-{d.tag}/versions").status_code == 404
    # a deletion is a version too; it cannot lie in the future either
    url = f"{d.engine}/v1/policies/{d.policy}"
    assert call("DELETE", url, params={"effective_from": future}).status_code == 422
    assert call("DELETE", url).status_code == 204
    listed = call("GET", f"{url}/versions").json()["items"]
    assert [(v["version"], v["deleted"]) for v in listed] == [(1, False), (2, False), (3, True)]
    assert call("GET", url).status_code == 404


async def test_a_calendar_version_re_measures_the_clocks_on_it_from_its_instant(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(stack)
    calendar = f"cal-{d.tag}"
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    office = {"timezone": "UTC", "hours": {day: ["09:00-17:00"] for day in days}}
    put(d.engine, "calendars", calendar, office)
    put_version(d, {**V1, "calendar": calendar})
    created, resolved = last_month_day(10, 15), last_month_day(12, 10)
    d.post_many(
        [
            {"ticket_id": d.ticket, "action": "created", "occurred_at": created, "priority": "P1"},
            {"ticket_id": d.ticket, "action": "resolved", "occurred_at": resolved},
        ]
    )
    # office hours: 15:00-17:00, then 09:00-11:00 the next day reaches the 4 h
    first = await d.wait(signals, f"{d.ticket}/resolution/breach/1")
    assert utc(first["occurred_at"]) == last_month_day(11, 11)
    assert first["calendar_version"] == 1
    await d.wait(signals, f"{d.ticket}/resolution/stopped/1")

    # from 20:00 on the 10th the service desk works around the clock: 2 h more by 22:00
    r = call(
        "PUT",
        f"{d.engine}/v1/calendars/{calendar}",
        {"timezone": "UTC", "hours": {day: ["00:00-24:00"] for day in days}},
        params={"effective_from": last_month_day(10, 20).isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    clocks = await wait_clocks(
        d.engine, d.ticket, lambda c: c["resolution"]["calendar_version"] == 2
    )
    # 2 h under the office hours, then all day from the 10th 20:00 to the 12th 10:00 (38 h);
    # the breach moved to 22:00 on the 10th: retracted as it fired and fired as it now stands,
    # with an id of its own, and so its `stopped` (the signals say what the clocks say)
    assert clocks["resolution"]["elapsed_seconds"] == (2 + 38) * 3600
    assert utc(clocks["resolution"]["deadline"]) == last_month_day(10, 22)
    assert clocks["resolution"]["state"] == "breached"
    moved = await d.wait(signals, f"{d.ticket}/resolution/breach/1#2")
    assert utc(moved["occurred_at"]) == last_month_day(10, 22)
    assert moved["calendar_version"] == 2
    await d.wait(signals, f"{d.ticket}/resolution/stopped/1#2")
    assert sorted(s["signal_id"] for s in d.mine(signals) if s["kind"] == "retracted") == [
        f"{d.ticket}/resolution/breach/1/retracted",
        f"{d.ticket}/resolution/stopped/1/retracted",
    ]
    versions = call("GET", f"{d.engine}/v1/calendars/{calendar}/versions").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    # the built-in calendar is one version, there since always
    builtin = call("GET", f"{d.engine}/v1/calendars/24x7/versions").json()["items"]
    assert [(v["version"], v["effective_from"], v["origin"]) for v in builtin] == [
        (1, None, "builtin")
    ]


async def test_a_calendar_correction_re_counts_last_month_s_availability(
    stack: dict[str, ServiceProcess], facts: TopicReader
) -> None:
    d = Desk(stack)
    calendar = f"avail-{d.tag}"
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    put(d.engine, "calendars", calendar, {"hours": {day: ["09:00-17:00"] for day in days}})
    body = {"availability": {"target": 99.0, "calendar": calendar}, "warn_at": [0.5]}
    put_version(d, body)
    # down from the 10th 16:00 to the 11th 10:00: 1 h + 1 h of office time
    start, end = last_month_day(10, 16), last_month_day(11, 10)
    events = [
        {"service": d.service, "check": "http", "status": s, "occurred_at": iso(t)}
        for s, t in (("firing", start), ("resolved", end))
    ]
    # monitored from the month's first day: the whole month is measured
    beat = {"service": d.service, "check": "heartbeat", "status": "firing"}
    events.insert(0, {**beat, "occurred_at": iso(last_month_day(1, 0))})
    assert post(d.ingest, "/v1/events/monitoring", events).status_code == 202
    month = f"{start.year:04d}-{start.month:02d}"

    def figures() -> dict[str, Any]:
        r = call("GET", f"{d.engine}/v1/services/{d.service}/availability", params={"month": month})
        assert r.status_code == 200, r.text
        return dict(r.json())

    await d.wait_until("two hours down", lambda: figures()["downtime_seconds"] == 2 * 3600)
    # corrected: the desk was staffed around the clock from the 10th on
    r = call(
        "PUT",
        f"{d.engine}/v1/calendars/{calendar}",
        {
            "effective_from": iso(last_month_day(10, 0)),
            "hours": {day: ["00:00-24:00"] for day in days},
        },
    )
    assert r.status_code == 200, r.text
    fig = figures()
    assert (fig["downtime_seconds"], fig["calendar_version"]) == (18 * 3600, 2)
    assert fig["agreed_month_seconds"] == (9 * 8 + (fig_days(month) - 9) * 24) * 3600
    fact = await facts.wait_for(
        "last month's availability fact under the corrected calendar",
        lambda f: (
            f.get("fact") == "availability"
            and f["service"] == d.service
            and f["month"] == month
            and f.get("calendar_version") == 2
        ),
    )
    assert fact["downtime_seconds"] == 18 * 3600
