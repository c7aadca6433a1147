"""Issue 11's "done means" through ingest, the sla-engine and reporting: a service manager
tightens a policy on the 15th of last month, and the month's report shows the first half under
the old targets and the second under the new, every clock counted under the version the engine
measured it by. Hand-computed; a 24x7 calendar, so the month is any month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pacta.durations import format_timestamp_ms
from tests.support.desk import Desk
from tests.support.processes import ServiceProcess
from tests.support.reporting import outcomes_only, wait_report
from tests.support.sla_api import call

pytestmark = pytest.mark.e2e

V1 = {"warn_at": [], "targets": {"P1": {"response": "8h", "resolution": "4h"}}}
V2 = {"warn_at": [], "targets": {"P1": {"response": "8h", "resolution": "2h"}}}


def _month_start() -> datetime:
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=1)


def day(n: int, hour: int, minute: int = 0) -> datetime:
    return _month_start().replace(day=n, hour=hour, minute=minute)


def stamp(at: datetime) -> str:
    return format_timestamp_ms(int(at.timestamp() * 1000))


def put_version(d: Desk, body: dict[str, Any], **query: str) -> None:
    r = call(
        "PUT",
        f"{d.engine}/v1/policies/{d.policy}",
        {"match": {"service": d.service}, **body},
        params=query or None,
    )
    assert r.status_code in (200, 201), r.text


def outcomes(met: int, breached: int) -> dict[str, Any]:
    decided = met + breached
    return {
        "met": met,
        "breached": breached,
        "compliance": 100 * met / decided if decided else None,
    }


def test_a_policy_changed_on_the_15th_splits_the_month(stack: dict[str, ServiceProcess]) -> None:
    d = Desk(stack)
    put_version(d, V1)
    early, late, across = (f"{d.ticket}-{n}" for n in ("early", "late", "across"))
    # 3 h on the 5th, 3 h on the 20th, 2.5 h across the change at 00:00 on the 15th
    for ticket, start, end in (
        (early, day(5, 10), day(5, 13)),
        (late, day(20, 10), day(20, 13)),
        (across, day(14, 23), day(15, 1, 30)),
    ):
        d.post_many(
            [
                {"ticket_id": ticket, "action": "created", "occurred_at": start, "priority": "P1"},
                {"ticket_id": ticket, "action": "resolved", "occurred_at": end},
            ]
        )
    month = _month_start().strftime("%Y-%m")
    base = stack["reporting"].url
    wait_report(
        base,
        lambda r: r["services"][0]["tickets"]["resolution"]["met"] == 3,
        timeout=60,
        month=month,
        service=d.service,
    )

    changed = day(15, 0)
    put_version(d, V2, effective_from=changed.isoformat())

    def settled(r: dict[str, Any]) -> bool:
        s = r["services"][0]
        return len(s["policy_versions"]) == 2 and s["tickets"]["resolution"]["breached"] == 2

    s = wait_report(base, settled, timeout=60, month=month, service=d.service)["services"][0]
    start, mid = stamp(_month_start()), stamp(changed)
    end = stamp((_month_start() + timedelta(days=32)).replace(day=1))
    first, second = s["policy_versions"]
    assert (first["version"], first["effective_from"], first["effective_until"]) == (1, None, mid)
    assert (first["in_month_from"], first["in_month_until"]) == (start, mid)
    assert first["targets"] == {"P1": {"response": 28800, "resolution": 14400}}
    assert (second["version"], second["effective_from"], second["effective_until"]) == (
        2,
        mid,
        None,
    )
    assert (second["in_month_from"], second["in_month_until"]) == (mid, end)
    assert second["targets"] == {"P1": {"response": 28800, "resolution": 7200}}
    assert {v["policy"] for v in s["policy_versions"]} == {d.policy}

    # before the 15th nothing changed: early met under v1; late (3 h against 2 h) and across
    # (1 h before the change, 1 h more reaches the new 2 h) breached under v2
    resolution = {
        (v["policy"], v["version"]): v["resolution"] for v in s["tickets"]["by_policy_version"]
    }
    assert resolution == {(d.policy, 1): outcomes(1, 0), (d.policy, 2): outcomes(0, 2)}
    assert outcomes_only(s["tickets"])["resolution"] == outcomes(1, 2)
    response = [v["response"] for v in s["tickets"]["by_policy_version"]]
    assert sum(r["met"] for r in response) == s["tickets"]["response"]["met"] == 3
    breaches = sorted(
        (b["ticket_id"], b["occurred_at"], b["policy_version"]) for b in s["breaches"]
    )
    assert [(t, v) for t, _, v in breaches] == [(across, 2), (late, 2)]
    assert [datetime.fromisoformat(at) for _, at, _ in breaches] == [day(15, 1), day(20, 12)]
