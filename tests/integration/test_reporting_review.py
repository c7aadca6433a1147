"""What a service manager's monthly review found wrong, over HTTP against a real read model:
download names for any service name, months not started, time nobody measured (null, never
100 %), figures never rounded onto their target, per-priority compliance targets, workload,
sign-out that ends the session on the server, a throttled and Origin-checked `/login`, PDF
tables that repeat their header and text in any script."""

from __future__ import annotations

import asyncio
import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from pacta.settings import CommonSettings
from tests.conftest import OwnDatabase
from tests.support.processes import ServiceProcess
from tests.support.reporting import (
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

RUN = uuid.uuid4().hex[:6]
NAMES = [
    f"Kasse\u2013Web-{RUN}",
    f"\u652f\u4ed8-{RUN}",
    f"\u041a\u0430\u0441\u0441\u0430-{RUN}",
    f"\u062e\u062f\u0645\u0629-{RUN}",
]
SVC = f"review-{RUN}"
POL = f"gold-{RUN}"  # its own policy: other modules of the run read "gold" without targets
OCT = ("2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture(scope="module")
def settings(own_database: OwnDatabase) -> CommonSettings:
    return own_database.settings


@pytest.fixture(scope="module")
def reporting(own_database: OwnDatabase, log_dir: Path) -> Iterator[ServiceProcess]:
    # a database of its own: these tests ask for reports over every service and issue months
    # (whole), which must not depend on what the rest of the suite put in the shared one.
    # Checks for a month due to be issued twice a second (November is due: it ended over
    # PACTA_REPORT_PUBLISH_AFTER ago)
    env = {**own_database.env, "PACTA_REPORT_PUBLISH_CHECK_S": "0.5"}
    proc = ServiceProcess("reporting", env, log_dir).start()
    try:
        yield proc
    finally:
        proc.stop()


def _records() -> list[tuple[str, str, dict[str, Any] | None]]:
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    for name in NAMES:
        fact = availability_fact(
            name,
            "2026-10",
            version=1,
            month_start=OCT[0],
            month_end=OCT[1],
            down=[],
            maintenance=[],
        )
        out.append((FACTS, name, fact))
    # 2,690 s down in October: 99.89957 %, under a 99.9 target
    down = [["2026-10-10T10:00:00.000Z", "2026-10-10T10:44:50.000Z"]]
    fact = availability_fact(
        SVC, "2026-10", version=1, month_start=OCT[0], month_end=OCT[1], down=down, maintenance=[]
    )
    out.append((FACTS, SVC, {**fact, "policy": POL}))
    spec = {
        "match": {"service": SVC},
        "targets": {
            "P1": {"response": "15m", "resolution": "4h", "compliance": 95},
            "P2": {"response": "1h", "resolution": "8h", "compliance": 50},
        },
    }
    out.append(
        (POLICIES, POL, policy_record(POL, [version(1, None, spec, "2026-09-01T00:00:00Z")]))
    )
    # P1: 1 met, 1 breached (50 % against 95: missed); P2: 1 met (100 % against 50: met)
    for i, (prio, state) in enumerate([("P1", "met"), ("P1", "breached"), ("P2", "met")]):
        tid = f"{SVC}-T{i}"
        out.append(
            (
                TICKETS,
                tid,
                ticket_event(
                    f"{tid}-c", tid, SVC, "created", "2026-10-03T09:00:00Z", priority=prio
                ),
            )
        )
        out.append(
            (
                FACTS,
                tid,
                clock_fact(
                    tid,
                    "response",
                    SVC,
                    version=1,
                    state=state,
                    priority=prio,
                    started_at="2026-10-03T09:00:00Z",
                    elapsed_seconds=600,
                    stopped_at="2026-10-03T09:10:00Z",
                    breached_at="2026-10-03T09:05:00Z" if state == "breached" else None,
                    policy=POL,
                ),
            )
        )
    out.append(
        (
            TICKETS,
            f"{SVC}-T0",
            ticket_event(f"{SVC}-T0-r", f"{SVC}-T0", SVC, "resolved", "2026-10-04T09:00:00Z"),
        )
    )
    out.append(
        (
            TICKETS,
            f"{SVC}-C",
            ticket_event(
                f"{SVC}-C-c", f"{SVC}-C", SVC, "created", "2026-10-05T09:00:00Z", type="change"
            ),
        )
    )
    # enough breaches that their table runs over a page break
    for i in range(90):
        at = f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00.000Z"
        out.append(
            (
                SIGNALS,
                SVC,
                signal(
                    f"{SVC}-b{i}",
                    "breach",
                    SVC,
                    "resolution",
                    at,
                    ticket_id=f"{SVC}-X{i}",
                    priority="P3",
                ),
            )
        )
    return out


@pytest.fixture(scope="module")
async def seeded(reporting: ServiceProcess, settings: CommonSettings) -> str:
    await produce(settings.kafka_bootstrap, settings.topic_prefix, _records())
    wait_report(
        reporting.url,
        lambda r: (
            len(r["services"][0]["breaches"]) == 90
            and r["services"][0]["tickets"]["response"]["met"] == 2
            and r["services"][0]["workload"]["change"]["opened"] == 1
        ),
        month="2026-10",
        service=SVC,
    )
    for name in NAMES:
        wait_report(reporting.url, lambda r: r["services"], month="2026-10", service=name)
    return reporting.url


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
async def test_any_service_name_downloads_with_an_rfc_6266_name(seeded: str, fmt: str) -> None:
    if fmt == "pdf":  # every script on one page, for a look
        whole = get_report(seeded, month="2026-10", format="pdf", tz="Asia/Tokyo").content
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "scripts.pdf").write_bytes(whole)
    for name in NAMES:
        r = get_report(seeded, month="2026-10", service=name, format=fmt)
        assert r.status_code == 200, r.text
        disposition = r.headers["content-disposition"]
        assert "filename*=UTF-8''" in disposition
        assert disposition.count("filename*=") == 1
        if fmt == "pdf" and "\u062e" not in name:  # Arabic is drawn shaped, right to left
            text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
            assert name in text  # drawn in an embedded font, extractable as the same text


async def test_month_not_started_and_months_before_1970(seeded: str) -> None:
    r = get_report(seeded, month="2099-01", service=SVC)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "month"
    assert "2099-01" in r.json()["errors"][0]["message"]
    r = get_report(seeded, month="1970-01", service=SVC)
    assert r.status_code == 200, r.text
    s = r.json()["services"][0]
    assert s["previous"]["month"] == "1969-12"
    assert s["previous"]["availability"]["actual"] is None
    assert s["availability"]["actual"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "localtime"}, "tz"),
        ({"tz": "Factory"}, "tz"),
        ({"tz": "right/UTC"}, "tz"),
        ({"tz": "posix/Europe/Berlin"}, "tz"),
        ({"month": "2026-13"}, "month"),
        ({"month": "26-10"}, "month"),
        ({"format": "xls"}, "format"),
    ],
)
async def test_bad_input_names_the_field_one_way(
    reporting: ServiceProcess, params: dict[str, str], field: str
) -> None:
    r = httpx.get(f"{reporting.url}/v1/reports/monthly", params=params, headers=READ, timeout=10)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_time_nobody_measured_is_null_whatever_the_range(seeded: str) -> None:
    for bucket, start, end in (
        ("month", "2026-07-01", "2026-11-01"),
        ("week", "2026-09-07", "2026-11-02"),
    ):
        r = httpx.get(
            f"{seeded}/v1/trends/availability",
            params={"service": SVC, "from": start, "to": end, "bucket": bucket},
            headers=READ,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        for item in items:
            if item["end"] <= "2026-10-01T00:00:00.000Z":
                assert item["actual"] is None, item
                assert item["agreed_service_seconds"] is None, item
        assert items[-1]["actual"] is not None
    july = get_report(seeded, month="2026-11", service=SVC).json()["services"][0]
    assert july["availability"]["actual"] is None  # November: no fact, no figure
    assert july["previous"]["availability"]["actual"] is not None
    # buckets still to come are null, never 100 %
    r = httpx.get(
        f"{seeded}/v1/trends/availability",
        params={"service": SVC, "bucket": "day", "to": "2099-01-01"},
        headers=READ,
        timeout=10,
    )
    assert r.status_code == 422  # more than 400 days ahead
    r = httpx.get(
        f"{seeded}/v1/trends/breaches",
        params={"service": SVC, "bucket": "day", "from": "2026-10-30", "to": "2027-01-01"},
        headers=READ,
        timeout=10,
    )
    future = [i for i in r.json()["items"] if i["start"] > "2026-12-31"]
    assert all(i["breaches"] is None for i in future)


async def test_figures_never_rounded_onto_the_target(seeded: str) -> None:
    s = get_report(seeded, month="2026-10", service=SVC).json()["services"][0]
    assert s["availability"]["downtime_seconds"] == 2690.0
    assert s["availability"]["met"] is False
    assert s["headline"]["availability"]["met"] is False
    html = get_report(seeded, month="2026-10", service=SVC, format="html").text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "review.html").write_text(html)  # for a look in a browser
    assert "99.899" in html
    assert "99.900 %" not in html.replace("target 99.900", "")
    assert '<td class="missed">99.899</td>' in html
    assert "44 min 50 s" in html
    r = get_report(seeded, month="2026-10", service=SVC, format="pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "99.899" in text


async def test_compliance_by_priority_headline_and_workload(seeded: str) -> None:
    r = get_report(seeded, month="2026-10", service=SVC)
    s = r.json()["services"][0]
    response = s["tickets"]["response"]
    assert response["by_priority"]["P1"] == {
        "met": 1,
        "breached": 1,
        "compliance": 50.0,
        "target": 95.0,
        "target_met": False,
    }
    assert response["by_priority"]["P2"]["target_met"] is True
    assert response["target_met"] is False
    assert s["headline"]["response"] == {"compliance": 200 / 3, "target_met": False, "met": False}
    assert s["workload"]["incident"] == {"opened": 3, "closed": 1, "backlog": 2}
    assert s["workload"]["change"] == {"opened": 1, "closed": 0, "backlog": 1}
    rows = get_report(seeded, month="2026-10", service=SVC, format="csv").content.decode(
        "utf-8-sig"
    )
    assert ",headline,response.met,false" in rows
    assert ",tickets,response.by_priority.P1.target,95.0" in rows
    assert ",workload,incident.backlog,2" in rows
    report = r.json()
    assert report["partial"] is False
    assert report["as_of"] == OCT[1]


async def test_pdf_tables_repeat_their_header_across_pages(seeded: str) -> None:
    r = get_report(seeded, month="2026-10", service=SVC, format="pdf", tz="Europe/Berlin")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "review.pdf").write_bytes(r.content)
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(r.content)).pages]
    assert not any("Paragraph(" in t for t in pages)  # wrapped cells drawn, not their repr
    # pages with rows of the breach table (the review's list names the tickets too)
    with_breaches = [t for t in pages if re.search(f"resolution {SVC}-X\\d+ P3", t)]
    assert len(with_breaches) >= 2
    for text in with_breaches:
        assert "when metric ticket priority deadline version" in text


async def test_sign_out_ends_the_session_on_the_server(seeded: str) -> None:
    async with httpx.AsyncClient(base_url=seeded, timeout=10) as client:
        ok = await client.post("/login", data={"key": "test-admin-key"}, follow_redirects=False)
        assert ok.status_code == 303
        token = ok.cookies["pacta_session"]
        page = await client.get("/", params={"tz": "Europe/Berlin"})
        assert "to date (Europe/Berlin)" in page.text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "overview.html").write_text(page.text)
        assert "test-admin-key" not in token
        copied = {"pacta_session": token}
    async with httpx.AsyncClient(base_url=seeded, timeout=10, cookies=copied) as copy:
        r = await copy.get("/v1/reports/monthly", params={"month": "2026-10"})
        assert r.status_code == 200
    async with httpx.AsyncClient(base_url=seeded, timeout=10, cookies=copied) as client:
        assert (await client.post("/logout")).status_code == 303
    async with httpx.AsyncClient(base_url=seeded, timeout=10, cookies=copied) as thief:
        r = await thief.get("/v1/reports/monthly", params={"month": "2026-10"})
        assert r.status_code == 401


async def test_login_is_origin_checked_and_throttled(seeded: str) -> None:
    async with httpx.AsyncClient(base_url=seeded, timeout=10) as client:
        r = await client.post(
            "/login", data={"key": "test-admin-key"}, headers={"Origin": "https://evil.example"}
        )
        assert r.status_code == 403
        assert "pacta_session" not in r.headers.get("set-cookie", "")
        r = await client.post(
            "/login", data={"key": "test-admin-key"}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert r.status_code == 403
        statuses = [
            (await client.post("/login", data={"key": f"guess-{i}"})).status_code for i in range(7)
        ]
        assert statuses[:5] == [401] * 5
        assert statuses[5:] == [429, 429]
        r = await client.post("/login", data={"key": "test-admin-key"})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0


def _published(base: str, month: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{base}/v1/reports/monthly/{month}/published", params=params, headers=READ, timeout=30
    )


async def test_issue_restate_and_keep_every_revision(seeded: str, settings: CommonSettings) -> None:
    assert httpx.post(f"{seeded}/v1/reports/monthly/2026-10/publish", timeout=30).status_code == 401
    r = httpx.post(f"{seeded}/v1/reports/monthly/2099-01/publish", headers=READ, timeout=30)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "month"
    assert _published(seeded, "2026-10").status_code == 404
    async with httpx.AsyncClient(base_url=seeded, headers=READ, timeout=60) as client:
        # issued at once from several callers: each gets a revision of its own
        answers = await asyncio.gather(
            *(client.post("/v1/reports/monthly/2026-10/publish") for _ in range(3))
        )
    assert sorted(a.json()["revision"] for a in answers) == [1, 2, 3]
    issued = _published(seeded, "2026-10", service=SVC).json()
    assert issued["revision"] == 3
    assert issued["services"][0]["availability"]["downtime_seconds"] == 2690.0
    assert _published(seeded, "2026-10", revision="1").json()["revision"] == 1
    assert get_report(seeded, month="2026-10", service=SVC).json()["restatements"] == []

    # a late event: the engine restates October's downtime
    late = availability_fact(
        SVC,
        "2026-10",
        version=2,
        month_start=OCT[0],
        month_end=OCT[1],
        down=[["2026-10-10T10:00:00.000Z", "2026-10-10T11:00:00.000Z"]],
        maintenance=[],
    )
    late = {**late, "policy": POL}
    await produce(settings.kafka_bootstrap, settings.topic_prefix, [(FACTS, SVC, late)])
    report = wait_report(
        seeded,
        lambda r: r["services"][0]["availability"]["downtime_seconds"] == 3600.0,
        month="2026-10",
        service=SVC,
    )
    assert report["revision"] == 3
    assert report["published_at"] == issued["published_at"]
    restated = {r["figure"]: r for r in report["restatements"]}
    assert restated["availability.downtime_seconds"] == {
        "service": SVC,
        "figure": "availability.downtime_seconds",
        "published": 2690.0,
        "now": 3600.0,
    }
    assert "tickets.total" not in restated
    html = get_report(seeded, month="2026-10", service=SVC, format="html").text
    assert "Restatements since revision 3" in html
    pdf = get_report(seeded, month="2026-10", service=SVC, format="pdf").content
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Restatements since revision 3" in text
    # the revision as issued does not move
    again = _published(seeded, "2026-10", service=SVC).json()
    assert again["services"][0]["availability"]["downtime_seconds"] == 2690.0
    assert _published(seeded, "2026-10", service=SVC, format="pdf").status_code == 200


async def test_a_month_due_is_issued_automatically_once(seeded: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = _published(seeded, "2026-11")
        if r.status_code == 200:
            break
        await asyncio.sleep(0.2)
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 1
    await asyncio.sleep(1.5)  # three more checks: none issues a second revision
    assert _published(seeded, "2026-11").json()["revision"] == 1
    assert _published(seeded, "2026-11", revision="2").status_code == 404


async def test_management_review_list_with_actions_kept_with_the_issue(seeded: str) -> None:
    base = f"{seeded}/v1/reports/monthly/2026-10/review"
    listed = httpx.get(base, params={"service": SVC}, headers=READ, timeout=30).json()
    items = {n["item"]: n for n in listed["services"][0]["nonconformities"]}
    assert items["target.availability"]["kind"] == "missed_target"
    # 99.899 %, or less once a late fact restated October (the tests share the read model)
    assert "% under its target 99.900 %" in items["target.availability"]["what"]
    assert items["target.response.P1"]["kind"] == "missed_target"
    assert f"breach.{SVC}-b0" in items
    assert all(n["action"] is None for n in items.values())
    action = {"service": SVC, "item": "target.response.P1", "action": "Add a second P1 responder"}
    r = httpx.put(base, json=action, headers=READ, timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.put(base, json={**action, "item": "target.nothing"}, headers=READ, timeout=30)
    assert r.status_code == 404
    assert httpx.put(base, json=action, timeout=30).status_code == 401
    report = get_report(seeded, month="2026-10", service=SVC).json()
    found = {n["item"]: n for n in report["services"][0]["nonconformities"]}
    assert found["target.response.P1"]["action"] == "Add a second P1 responder"
    html = get_report(seeded, month="2026-10", service=SVC, format="html").text
    assert "Nonconformities for the management review" in html
    assert "Add a second P1 responder" in html
    # issued: the revision keeps the action as it stood; a later change does not move it
    r = httpx.post(f"{seeded}/v1/reports/monthly/2026-10/publish", headers=READ, timeout=60)
    assert r.status_code == 201
    revision = str(r.json()["revision"])
    httpx.put(base, json={**action, "action": "Hire"}, headers=READ, timeout=30)
    kept = _published(seeded, "2026-10", revision=revision, service=SVC).json()
    kept_items = {n["item"]: n for n in kept["services"][0]["nonconformities"]}
    assert kept_items["target.response.P1"]["action"] == "Add a second P1 responder"
    pdf = _published(seeded, "2026-10", revision=revision, service=SVC, format="pdf").content
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Add a second P1 responder" in text
