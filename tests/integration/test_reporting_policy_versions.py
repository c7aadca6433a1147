"""Policy and calendar versions in the monthly report, against the real Kafka and PostgreSQL: a
policy tightened on the 15th shows October's first half under v1 and the second under v2, every
clock counted under the version its fact names, the same month in Europe/Berlin with its edges
moved, a calendar widened mid-month changing agreed service time, and a rebuild by replay
giving the same bytes."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from pacta.db import create_engine
from pacta.settings import CommonSettings
from reporting.store_resources import put_policy
from tests.support.processes import ServiceProcess
from tests.support.reporting import (
    CALENDARS,
    FACTS,
    POLICIES,
    READ,
    SIGNALS,
    TICKETS,
    availability_fact,
    clock_fact,
    get_report,
    policy_record,
    produce,
    signal,
    ticket_event,
    version,
    wait_report,
)

TAG = uuid.uuid4().hex[:6]
POL = f"gold-{TAG}"
OCT = ("2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z")
SEP = ("2026-09-01T00:00:00.000Z", OCT[0])
MID = "2026-10-15T00:00:00Z"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
Records = list[tuple[str, str, dict[str, Any] | None]]


def policy_body(p1_resolution: str) -> dict[str, Any]:
    return {
        "match": {"service": None},
        "calendar": "24x7",
        "targets": {
            "P1": {"response": "15m", "resolution": p1_resolution},
            "P2": {"response": "1h", "resolution": "8h"},
        },
        "pause_statuses": [],
        "warn_at": [0.5, 0.75, 0.9],
        "availability": {"target": 99.9, "calendar": "24x7"},
    }


V1 = version(1, None, policy_body("4h"), "2026-09-01T00:00:00Z")
V2 = version(2, MID, policy_body("2h"), "2026-10-14T12:00:00Z")


@pytest.fixture(scope="module")
def reporting(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("reporting", service_env, log_dir).start()
    try:
        yield proc
    finally:
        proc.stop()


def _clock(
    svc: str, versioned: bool, ticket: str, metric: str, v: int, **kw: Any
) -> dict[str, Any]:
    names = {"policy_version": v, "calendar_version": 1} if versioned and v else {}
    return clock_fact(f"{svc}-{ticket}", metric, svc, version=1, policy=POL, **names, **kw)


def month_of(svc: str, versioned: bool) -> Records:
    """A (P1, 3 h, met under v1), B (P1, 3 h: breached at 2 h under v2), C (P1, 1.5 h, v2), D
    (P2, responded 23:30 UTC on the 31st: November in Berlin, v2), F (a fact from before
    versions), E (September, v1). `versioned=False`: the same facts naming no version."""
    c = _clock
    facts = [
        c(svc, versioned, "A", "response", 1, state="met", priority="P1",
          started_at="2026-10-05T09:00:00Z", elapsed_seconds=600,
          stopped_at="2026-10-05T09:10:00Z", target_seconds=900),
        c(svc, versioned, "A", "resolution", 1, state="met", priority="P1",
          started_at="2026-10-05T09:00:00Z", elapsed_seconds=10800,
          stopped_at="2026-10-05T12:00:00Z", target_seconds=14400),
        c(svc, versioned, "B", "response", 2, state="met", priority="P1",
          started_at="2026-10-20T09:00:00Z", elapsed_seconds=300,
          stopped_at="2026-10-20T09:05:00Z", target_seconds=900),
        c(svc, versioned, "B", "resolution", 2, state="breached", priority="P1",
          started_at="2026-10-20T09:00:00Z", elapsed_seconds=10800,
          stopped_at="2026-10-20T12:00:00Z", breached_at="2026-10-20T11:00:00Z",
          deadline="2026-10-20T11:00:00Z", target_seconds=7200),
        c(svc, versioned, "C", "response", 2, state="met", priority="P1",
          started_at="2026-10-22T09:00:00Z", elapsed_seconds=720,
          stopped_at="2026-10-22T09:12:00Z", target_seconds=900),
        c(svc, versioned, "C", "resolution", 2, state="met", priority="P1",
          started_at="2026-10-22T09:00:00Z", elapsed_seconds=5400,
          stopped_at="2026-10-22T10:30:00Z", target_seconds=7200),
        c(svc, versioned, "D", "response", 2, state="met", priority="P2",
          started_at="2026-10-31T23:00:00Z", elapsed_seconds=1800,
          stopped_at="2026-10-31T23:30:00Z"),
        c(svc, versioned, "D", "resolution", 2, state="running", priority="P2",
          started_at="2026-10-31T23:00:00Z", elapsed_seconds=1800,
          deadline="2026-11-01T07:00:00Z", target_seconds=28800),
        c(svc, versioned, "F", "response", 0, state="met", priority="P2",
          started_at="2026-10-08T09:00:00Z", elapsed_seconds=1800,
          stopped_at="2026-10-08T09:30:00Z"),
        c(svc, versioned, "E", "response", 1, state="met", priority="P1",
          started_at="2026-09-20T09:00:00Z", elapsed_seconds=300,
          stopped_at="2026-09-20T09:05:00Z", target_seconds=900),
        c(svc, versioned, "E", "resolution", 1, state="met", priority="P1",
          started_at="2026-09-20T09:00:00Z", elapsed_seconds=3600,
          stopped_at="2026-09-20T10:00:00Z", target_seconds=14400),
    ]  # fmt: skip
    created = {
        "A": ("2026-10-05T09:00:00Z", "P1"),
        "B": ("2026-10-20T09:00:00Z", "P1"),
        "C": ("2026-10-22T09:00:00Z", "P1"),
        "D": ("2026-10-31T23:00:00Z", "P2"),
        "F": ("2026-10-08T09:00:00Z", "P2"),
        "E": ("2026-09-20T09:00:00Z", "P1"),
    }
    events = [
        ticket_event(f"{svc}-{t}-e1", f"{svc}-{t}", svc, "created", at, priority=p)
        for t, (at, p) in created.items()
    ]
    versions = {"policy_version": 2, "calendar_version": 1} if versioned else {}
    breach = signal(
        f"{svc}-b-B", "breach", svc, "resolution", "2026-10-20T11:00:00Z",
        ticket_id=f"{svc}-B", priority="P1", policy=POL, **versions,
    )  # fmt: skip
    months = [
        availability_fact(svc, m, version=1, month_start=a, month_end=b, down=[], maintenance=[])
        for m, (a, b) in (("2026-09", SEP), ("2026-10", OCT))
    ]
    for m in months:
        m["policy"] = POL
    out: Records = [(FACTS, svc, f) for f in months + facts]
    out += [(TICKETS, e["ticket_id"], e) for e in events]
    return [*out, (SIGNALS, svc, breach)]


def entry(
    v: int, since: str | None, until: str | None, frm: str, to: str, p1_res: int
) -> dict[str, Any]:
    return {
        "policy": POL,
        "version": v,
        "effective_from": since,
        "effective_until": until,
        "in_month_from": frm,
        "in_month_until": to,
        "targets": {
            "P1": {"response": 900, "resolution": p1_res},
            "P2": {"response": 3600, "resolution": 28800},
        },
        "warn_at": [0.5, 0.75, 0.9],
        "calendar": "24x7",
        "deleted": False,
    }


def outcomes(met: int, breached: int) -> dict[str, Any]:
    decided = met + breached
    return {
        "met": met,
        "breached": breached,
        "compliance": 100 * met / decided if decided else None,
    }


def counted(
    v: int | None, response: tuple[int, int], resolution: tuple[int, int]
) -> dict[str, Any]:
    return {
        "policy": POL,
        "version": v,
        "response": outcomes(*response),
        "resolution": outcomes(*resolution),
    }


MID_MS = "2026-10-15T00:00:00.000Z"
OLD_KEYS = {"service", "policy", "availability", "tickets", "changes", "breaches", "previous"}
TICKET_KEYS = {"total", "by_priority", "response", "resolution", "mtta_seconds", "mttr_seconds"}


def plain(tickets: dict[str, Any]) -> dict[str, Any]:
    """The ticket figures as they were before versions and per-priority targets."""
    out = {k: v for k, v in tickets.items() if k != "by_policy_version"}
    for metric in ("response", "resolution"):
        out[metric] = {
            k: v for k, v in out[metric].items() if k in ("met", "breached", "compliance")
        }
    return out


async def test_a_policy_tightened_on_the_15th(
    reporting: ServiceProcess, settings: CommonSettings
) -> None:
    svc, twin = f"pv-{TAG}", f"pv-twin-{TAG}"
    history = [
        (POLICIES, POL, policy_record(POL, [V1])),  # published when the policy was created
        (POLICIES, POL, policy_record(POL, [V1, V2])),  # and again on the PUT of v2
    ]
    records = history + month_of(svc, True) + month_of(twin, False)
    await produce(settings.kafka_bootstrap, settings.topic_prefix, records + records)

    def complete(r: dict[str, Any]) -> bool:
        # the tickets' own events and the engine's facts are separate topics, consumed apart:
        # wait for both (a CI run read the report with the facts in and two tickets not yet)
        s = r["services"][0]
        previous = (s.get("previous") or {}).get("tickets") or {}
        return (
            s["tickets"]["total"] == 5
            and s["tickets"]["resolution"]["breached"] == 1
            and (previous.get("resolution") or {}).get("met") == 1
            and s["availability"]["target"] is not None  # the policy's target, read apart too
        )

    def settled(r: dict[str, Any]) -> bool:
        return complete(r) and len(r["services"][0]["policy_versions"]) == 2

    report = wait_report(reporting.url, settled, month="2026-10", service=svc)
    s = report["services"][0]
    # the review's keys came later: the headline, workload and nonconformities
    assert set(s) == OLD_KEYS | {"policy_versions", "headline", "workload", "nonconformities"}
    assert s["policy"] == POL
    assert s["policy_versions"] == [
        entry(1, None, MID_MS, OCT[0], MID_MS, 14400),
        entry(2, MID_MS, None, MID_MS, OCT[1], 7200),
    ]
    assert s["tickets"]["by_policy_version"] == [
        counted(None, (1, 0), (0, 0)),  # F: its fact names no version
        counted(1, (1, 0), (1, 0)),  # A
        counted(2, (3, 0), (1, 1)),  # B, C, D; B breached 2 h under v2 (3 h was met under v1)
    ]
    # the existing figures, hand-computed, and exactly what the unversioned twin shows
    tickets = plain(s["tickets"])
    assert tickets == {
        "total": 5,
        "by_priority": {"P1": 3, "P2": 2, "P3": 0, "P4": 0},
        "response": outcomes(5, 0),
        "resolution": outcomes(2, 1),
        "mtta_seconds": (600 + 300 + 720 + 1800 + 1800) / 5,
        "mttr_seconds": (10800 + 10800 + 5400) / 3,
    }
    [breach] = s["breaches"]
    assert (breach["ticket_id"], breach["policy_version"], breach["calendar_version"]) == (
        f"{svc}-B",
        2,
        1,
    )
    assert set(s["previous"]) == {"month", "availability", "tickets", "changes", "breach_count"}
    assert set(s["previous"]["tickets"]) == TICKET_KEYS
    assert plain(s["previous"]["tickets"])["resolution"] == outcomes(1, 0)  # E, September
    t = wait_report(reporting.url, complete, month="2026-10", service=twin)["services"][0]
    assert plain(t["tickets"]) == tickets
    assert t["tickets"]["by_policy_version"] == [counted(None, (5, 0), (2, 1))]
    for key in ("availability", "changes", "previous", "policy_versions"):
        assert t[key] == s[key], key
    assert (t["breaches"][0]["policy_version"], t["breaches"][0]["calendar_version"]) == (None,) * 2

    # Berlin: October from 22:00 UTC on 30 Sep to 23:00 UTC on 31 Oct; D is November there
    berlin = get_report(reporting.url, month="2026-10", service=svc, tz="Europe/Berlin").json()
    b = berlin["services"][0]
    start, end = "2026-09-30T22:00:00.000Z", "2026-10-31T23:00:00.000Z"
    assert b["policy_versions"] == [
        entry(1, None, MID_MS, start, MID_MS, 14400),
        entry(2, MID_MS, None, MID_MS, end, 7200),
    ]
    assert b["tickets"]["by_policy_version"] == [
        counted(None, (1, 0), (0, 0)),
        counted(1, (1, 0), (1, 0)),
        counted(2, (2, 0), (1, 1)),
    ]
    assert plain(b["tickets"])["response"] == outcomes(4, 0)
    assert b["tickets"]["total"] == 4
    nov = get_report(reporting.url, month="2026-11", service=svc, tz="Europe/Berlin").json()
    n = nov["services"][0]
    assert n["policy_versions"] == [entry(2, MID_MS, None, end, "2026-11-30T23:00:00.000Z", 7200)]
    assert n["tickets"]["by_policy_version"] == [counted(2, (1, 0), (0, 0))]
    sep = get_report(reporting.url, month="2026-09", service=svc).json()["services"][0]
    assert sep["policy_versions"] == [entry(1, None, MID_MS, SEP[0], SEP[1], 14400)]
    assert sep["tickets"]["by_policy_version"] == [counted(1, (1, 0), (1, 0))]

    _formats_show_the_versions(reporting, svc)
    await _rebuild_gives_the_same_bytes(reporting, svc)


def _formats_show_the_versions(reporting: ServiceProcess, svc: str) -> None:
    r = get_report(reporting.url, month="2026-10", service=svc, format="csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    cells = {(row[3], row[4]): row[5] for row in rows[1:]}
    v1, v2 = f"policy_versions.{POL} v1", f"policy_versions.{POL} v2"
    assert cells[(v1, "in_month_until")] == MID_MS
    assert cells[(v1, "targets.P1.resolution_seconds")] == "14400"
    assert cells[(v2, "targets.P1.resolution_seconds")] == "7200"
    assert cells[(v2, "effective_until")] == ""
    assert cells[(f"tickets.by_policy_version.{POL} v2", "resolution.breached")] == "1"
    assert cells[(f"tickets.by_policy_version.{POL} v2", "resolution.compliance")] == "50.0"
    assert cells[(f"tickets.by_policy_version.{POL} v-", "response.met")] == "1"
    assert cells[("tickets", "resolution.breached")] == "1"  # the existing rows stay

    html = get_report(reporting.url, month="2026-10", service=svc, format="html").text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report-versions.html").write_text(html)
    assert "<h3>Policy versions</h3>" in html
    assert "2026-10-01 00:00 \u2013 2026-10-15 00:00 (days 1\u201314)" in html
    assert "2026-10-15 00:00 \u2013 2026-11-01 00:00 (days 15\u201331)" in html
    assert "P1 15m / 4h; P2 1h / 8h" in html
    assert "P1 15m / 2h; P2 1h / 8h" in html
    assert "<td>v2</td><td>3 / 0</td><td>100.0</td><td>1 / 1</td><td>50.0</td>" in html
    berlin = get_report(
        reporting.url, month="2026-10", service=svc, format="html", tz="Europe/Berlin"
    )
    # in Berlin the month starts at 00:00 local, v2 at 02:00 local on the 15th
    assert "2026-10-01 00:00 \u2013 2026-10-15 02:00 (days 1\u201315)" in berlin.text

    # the overview's at-risk clocks name the version too (D's resolution clock is open)
    with httpx.Client(base_url=reporting.url, timeout=10) as client:
        client.post("/login", data={"key": READ["Authorization"].split()[1]})
        overview = client.get("/").text
    assert f"{svc}-D" in overview
    assert f"{POL} v2" in overview

    pdf = get_report(reporting.url, month="2026-10", service=svc, format="pdf").content
    (ARTIFACTS / "report-versions.pdf").write_bytes(pdf)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Policy versions" in text
    assert "P1 15m / 2h" in text
    assert "50.0" in text


async def _rebuild_gives_the_same_bytes(reporting: ServiceProcess, svc: str) -> None:
    def snapshot() -> list[bytes]:
        return [
            re.sub(
                rb'"generated_at":"[^"]*"',
                b"",
                get_report(reporting.url, month="2026-10", service=svc, tz=tz).content,
            )
            for tz in ("UTC", "Europe/Berlin")
        ]

    before = snapshot()
    rebuilt = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reporting",
        "rebuild",
        env=reporting.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(rebuilt.communicate(), 300)
    assert rebuilt.returncode == 0, output.decode()[-3000:]
    assert snapshot() == before


async def test_an_older_policy_record_never_replaces_a_newer_one(
    reporting: ServiceProcess,
) -> None:
    """A live consumer lagging behind a rebuild's replay may apply a policy's older record
    after its newer one: the history with the higher version stays."""
    name = f"lagging-{TAG}"
    engine = create_engine(reporting.env["PACTA_DATABASE_URL"])
    try:
        async with engine.begin() as conn:
            await put_policy(conn, "reporting", name, policy_record(name, [V1, V2]))
            await put_policy(conn, "reporting", name, policy_record(name, [V1]))
            body = await conn.scalar(
                sa.text("SELECT body FROM reporting.policies WHERE name = :n"),
                {"n": name},
            )
            assert [v["version"] for v in body["versions"]] == [1, 2]
            await put_policy(conn, "reporting", name, None)  # a tombstone removes it
            assert (
                await conn.scalar(
                    sa.text("SELECT count(*) FROM reporting.policies WHERE name = :n"),
                    {"n": name},
                )
                == 0
            )
    finally:
        await engine.dispose()


async def test_a_calendar_widened_mid_month_changes_agreed_time(
    reporting: ServiceProcess, settings: CommonSettings
) -> None:
    """Office hours 09-17 (v1, since always) widened to 08-18 from the 15th (v2), UTC:
    1-14 Oct has 10 weekdays of 8 h, 15-31 Oct 12 weekdays of 10 h: 200 h. Maintenance from
    Wed 14th 16:00 to Thu 15th 09:00 takes one hour of each version (16-17 and 08-09): 198 h
    agreed. Down 17-18 on the 5th (v1: after hours) and on the 20th (v2: working): 1 h, one
    outage. Under v1 alone it would be 175 h agreed and no downtime."""
    svc, cal = f"cal-{TAG}", f"office-{TAG}"
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    v1 = {"timezone": "UTC", "hours": {d: ["09:00-17:00"] for d in weekdays}, "holidays": []}
    v2 = {**v1, "hours": {d: ["08:00-18:00"] for d in weekdays}}
    record = {
        "name": cal,
        **v2,  # the record's own fields: the version in effect when it was written
        "version": 2,
        "versions": [
            version(1, None, v1, "2026-09-01T00:00:00Z"),
            version(2, MID, v2, "2026-10-14T12:00:00Z"),
        ],
    }
    fact = availability_fact(
        svc,
        "2026-10",
        version=1,
        month_start=OCT[0],
        month_end=OCT[1],
        down=[
            ["2026-10-05T17:00:00.000Z", "2026-10-05T18:00:00.000Z"],
            ["2026-10-20T17:00:00.000Z", "2026-10-20T18:00:00.000Z"],
        ],
        maintenance=[["2026-10-14T16:00:00.000Z", "2026-10-15T09:00:00.000Z"]],
        calendar=cal,
    )
    await produce(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        [(CALENDARS, cal, record), (FACTS, svc, fact)],
    )
    agreed = 198 * 3600
    report = wait_report(
        reporting.url,
        lambda r: r["services"][0]["availability"]["agreed_service_seconds"] == agreed,
        month="2026-10",
        service=svc,
    )
    assert report["services"][0]["availability"] == {
        "target": 99.9,
        "actual": 100.0 * (1.0 - 3_600_000 / (agreed * 1000)),
        "downtime_seconds": 3600.0,
        "agreed_service_seconds": float(agreed),
        "budget_consumed": 3_600_000 / 712_800,
        "met": False,
        "outages": 1,
        "mtbf_seconds": float(agreed - 3600),
        "mtrs_seconds": 3600.0,
        "unmeasured_seconds": 0.0,
        "coverage": 100.0,
    }
