"""End to end through ingest, the sla-engine and reporting: a hand-computed November (two
outages, one overlapping checks, one cut by maintenance; tickets met, paused, and one late
met that counts as breached; a failed change), and the report agrees with the engine's own
`/v1/services/{service}/availability` and `/v1/clocks` to the second."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.client import ADMIN_KEY, post
from tests.support.processes import ServiceProcess
from tests.support.reporting import outcomes_only, wait_report

pytestmark = pytest.mark.e2e
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MONTH = "2026-11"


def _send(stack: dict[str, ServiceProcess], path: str, events: list[dict[str, Any]]) -> None:
    r = post(stack["ingest"].url, path, events)
    assert r.status_code == 202, r.text


def _checks(service: str) -> list[dict[str, Any]]:
    def e(check: str, status: str, at: str) -> dict[str, Any]:
        return {"service": service, "check": check, "status": status, "occurred_at": at}

    return [
        # monitored since before November in every zone: the whole month is measured (time
        # before a service's first monitoring event is not)
        e("heartbeat", "firing", "2026-10-30T00:00:00Z"),
        e("http", "firing", "2026-11-10T10:00:00Z"),
        e("db", "firing", "2026-11-10T10:20:00Z"),  # overlaps: the union counts, not the sum
        e("http", "resolved", "2026-11-10T10:30:00Z"),
        e("db", "resolved", "2026-11-10T10:40:00Z"),
        e("http", "firing", "2026-11-20T02:00:00Z"),  # maintenance from 02:30 cuts it
        e("http", "resolved", "2026-11-20T03:00:00Z"),
    ]


def _tickets(service: str, tag: str) -> list[dict[str, Any]]:
    def t(n: str, action: str, at: str, **extra: Any) -> dict[str, Any]:
        return {
            "ticket_id": f"{tag}-{n}",
            "service": service,
            "action": action,
            "occurred_at": at,
            **extra,
        }

    return [
        t("T1", "created", "2026-11-03T09:00:00Z", priority="P1"),
        t("T1", "responded", "2026-11-03T09:10:00Z"),  # 10 min of 15: met
        t("T1", "resolved", "2026-11-03T12:00:00Z"),  # 3 h of 4: met
        t("T2", "created", "2026-11-05T10:00:00Z", priority="P2"),
        t("T2", "responded", "2026-11-05T11:30:00Z"),  # 90 min of 60: a late met is a breach
        t("T2", "resolved", "2026-11-05T15:00:00Z"),  # 5 h of 8: met
        t("T3", "created", "2026-11-07T08:00:00Z", priority="P1"),
        t("T3", "responded", "2026-11-07T08:05:00Z"),
        t("T3", "updated", "2026-11-07T09:00:00Z", status="waiting_for_customer"),
        t("T3", "updated", "2026-11-07T13:00:00Z", status="in_progress"),
        t("T3", "resolved", "2026-11-07T14:00:00Z"),  # 6 h wall, 2 h counted: met
        t("C1", "created", "2026-11-12T08:00:00Z", type="change"),
        t("C1", "resolved", "2026-11-12T09:00:00Z", type="change", outcome="failed"),
        t("C2", "created", "2026-11-13T08:00:00Z", type="change"),
        t("C2", "closed", "2026-11-13T09:00:00Z", type="change", outcome="successful"),
    ]


def _settled(r: dict[str, Any]) -> bool:
    s = r["services"][0]
    return (
        s["availability"]["downtime_seconds"] == 4200.0
        and s["availability"]["agreed_service_seconds"] == 30 * 86400 - 5400
        and s["tickets"]["resolution"]["met"] == 3
        and s["tickets"]["response"]["breached"] == 1
        and s["changes"]["total"] == 2
        and len(s["breaches"]) == 2
    )


async def test_november_through_the_pipeline_agrees_with_the_engine(
    stack: dict[str, ServiceProcess],
) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"rep-{tag}"
    engine, reporting = stack["sla_engine"].url, stack["reporting"].url
    policy = {
        "match": {"service": service, "type": ["incident"]},
        "calendar": "24x7",
        "targets": {
            "P1": {"response": "15m", "resolution": "4h"},
            "P2": {"response": "1h", "resolution": "8h"},
        },
        "pause_statuses": ["waiting_for_customer"],
        "availability": {"target": 99.9, "calendar": "24x7"},
    }
    r = httpx.put(f"{engine}/v1/policies/rep-{tag}", json=policy, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text
    window = {
        "service": service,
        "starts_at": "2026-11-20T02:30:00Z",
        "ends_at": "2026-11-20T04:00:00Z",
        "reason": "database upgrade",
    }
    r = httpx.post(f"{engine}/v1/maintenance-windows", json=window, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text
    _send(stack, "/v1/events/monitoring", _checks(service))
    _send(stack, "/v1/events/tickets", _tickets(service, tag))

    report = wait_report(reporting, _settled, timeout=60, month=MONTH, service=service)
    s = report["services"][0]
    agreed = 30 * 86400 - 5400  # maintenance is not agreed service time
    budget_ms = agreed  # 0.1 % of agreed seconds, in ms
    assert s["policy"] == f"rep-{tag}"
    assert s["availability"] == {
        "target": 99.9,
        "actual": 100.0 * (1.0 - 4_200_000 / (agreed * 1000)),
        "downtime_seconds": 4200.0,  # 40 min (10:00-10:40) + 30 min (02:00-02:30)
        "agreed_service_seconds": float(agreed),
        "budget_consumed": 4_200_000 / budget_ms,
        "met": False,
        "outages": 2,
        "mtbf_seconds": (agreed - 4200) / 2,
        "mtrs_seconds": 2100.0,
        "unmeasured_seconds": 0.0,
        "coverage": 100.0,
    }
    # one policy, one version (whichever number the engine names): all the clocks under it
    by_version = s["tickets"].pop("by_policy_version")
    plain = outcomes_only(s["tickets"])
    assert [(v["policy"], v["response"], v["resolution"]) for v in by_version] == [
        (f"rep-{tag}", plain["response"], plain["resolution"])
    ]
    assert plain == {
        "total": 3,
        "by_priority": {"P1": 2, "P2": 1, "P3": 0, "P4": 0},
        "response": {"met": 2, "breached": 1, "compliance": 200 / 3},
        "resolution": {"met": 3, "breached": 0, "compliance": 100.0},
        "mtta_seconds": (600 + 5400 + 300) / 3,
        "mttr_seconds": (10800 + 18000 + 7200) / 3,
    }
    assert s["changes"] == {"total": 2, "failed": 1, "success_rate": 50.0}
    kinds = sorted((b["kind"], b["metric"], b.get("ticket_id")) for b in s["breaches"])
    assert kinds == [
        ("availability_breach", "availability", None),
        ("breach", "response", f"{tag}-T2"),
    ]
    t2 = next(b for b in s["breaches"] if b["kind"] == "breach")
    assert t2["deadline"].startswith("2026-11-05T11:00:00")

    # the engine's own figures, to the second
    r = httpx.get(
        f"{engine}/v1/services/{service}/availability",
        params={"month": MONTH},
        headers=ADMIN,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    own = r.json()
    for key in ("downtime_seconds", "agreed_service_seconds", "actual", "budget_consumed", "met"):
        assert s["availability"][key] == own[key], key
    r = httpx.get(f"{engine}/v1/clocks", params={"service": service}, headers=ADMIN, timeout=10)
    items = r.json()["items"]
    for metric in ("response", "resolution"):
        mine = [c for c in items if c["metric"] == metric]
        assert s["tickets"][metric]["met"] == sum(c["state"] == "met" for c in mine)
        assert s["tickets"][metric]["breached"] == sum(c["state"] == "breached" for c in mine)
        mean = sum(c["elapsed_seconds"] for c in mine) / len(mine)
        key = "mtta_seconds" if metric == "response" else "mttr_seconds"
        assert s["tickets"][key] == mean


async def test_month_edges_move_with_the_zone_and_a_reopened_ticket_counts_once(
    stack: dict[str, ServiceProcess],
) -> None:
    """Outages across both edges of November; the Berlin month starts and ends an hour
    earlier, so the same outages count differently. A ticket changes priority and is reopened."""
    tag = uuid.uuid4().hex[:8]
    service = f"edge-{tag}"
    engine, reporting = stack["sla_engine"].url, stack["reporting"].url
    policy = {
        "match": {"service": service},
        "targets": {
            "P1": {"response": "15m", "resolution": "4h"},
            "P2": {"response": "1h", "resolution": "8h"},
        },
        "availability": {"target": 99.9},
    }
    r = httpx.put(f"{engine}/v1/policies/edge-{tag}", json=policy, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text

    def check(status: str, at: str) -> dict[str, Any]:
        return {"service": service, "check": "http", "status": status, "occurred_at": at}

    _send(
        stack,
        "/v1/events/monitoring",
        [
            # monitored since before October in every zone (time before a service's first
            # monitoring event is unmeasured, and these figures count the whole months)
            {**check("firing", "2026-09-29T00:00:00Z"), "check": "heartbeat"},
            check("firing", "2026-10-31T23:10:00Z"),  # 50 min in UTC October, 10 in November
            check("resolved", "2026-11-01T00:10:00Z"),
            check("firing", "2026-11-30T22:30:00Z"),  # Berlin's November ends at 23:00 UTC
            check("resolved", "2026-11-30T23:30:00Z"),
        ],
    )

    def t(action: str, at: str, **extra: Any) -> dict[str, Any]:
        return {
            "ticket_id": f"{tag}-T",
            "service": service,
            "action": action,
            "occurred_at": at,
            **extra,
        }

    _send(
        stack,
        "/v1/events/tickets",
        [
            t("created", "2026-11-09T10:00:00Z", priority="P2"),
            t("updated", "2026-11-09T10:05:00Z", priority="P1"),  # 15 min to respond now
            t("responded", "2026-11-09T10:10:00Z"),
            t("resolved", "2026-11-09T11:00:00Z"),
            t("reopened", "2026-11-09T12:00:00Z"),  # the same resolution clock resumes
            t("resolved", "2026-11-09T13:00:00Z"),
        ],
    )

    def settled(r: dict[str, Any]) -> bool:
        s = r["services"][0]
        return (
            s["availability"]["downtime_seconds"] == 4200.0
            and s["tickets"]["mttr_seconds"] == 7200.0
        )

    utc = wait_report(reporting, settled, timeout=60, month=MONTH, service=service)["services"][0]
    assert utc["availability"]["outages"] == 2
    assert utc["availability"]["agreed_service_seconds"] == 30 * 86400
    assert utc["tickets"]["by_priority"]["P1"] == 1
    assert outcomes_only(utc["tickets"])["response"] == {
        "met": 1,
        "breached": 0,
        "compliance": 100.0,
    }
    assert outcomes_only(utc["tickets"])["resolution"] == {
        "met": 1,
        "breached": 0,
        "compliance": 100.0,
    }
    assert utc["tickets"]["mtta_seconds"] == 600.0
    assert utc["previous"]["availability"]["downtime_seconds"] == 3000.0
    for month, report in ((MONTH, utc), ("2026-10", utc["previous"])):
        r = httpx.get(
            f"{engine}/v1/services/{service}/availability",
            params={"month": month},
            headers=ADMIN,
            timeout=10,
        )
        own = r.json()
        for key in ("downtime_seconds", "agreed_service_seconds", "actual", "budget_consumed"):
            assert report["availability"][key] == own[key], (month, key)

    r = httpx.get(
        f"{reporting}/v1/reports/monthly",
        params={"month": MONTH, "service": service, "tz": "Europe/Berlin"},
        headers=ADMIN,
        timeout=10,
    )
    berlin = r.json()
    assert berlin["period"] == {
        "start": "2026-10-31T23:00:00.000Z",
        "end": "2026-11-30T23:00:00.000Z",
    }
    b = berlin["services"][0]["availability"]
    assert b["downtime_seconds"] == 5400.0  # 60 min at the start, 30 at the end
    assert b["agreed_service_seconds"] == 30 * 86400
    assert b["outages"] == 2
    assert b["mtrs_seconds"] == 2700.0
