"""The alert storm's arithmetic (latency from each breach's deadline) and the webhook receiver
that runs in a process of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from bench.alerting_http import Arrival, PacedRun, Sent, paced_post
from bench.alerting_report import analyse, deadlines, matched, pacta_keys, pacta_stages, verdicts
from bench.receiver import Receiver

T0 = 1767225600.0  # 2026-01-01T00:00:00Z


def _breach(at: float, ticket: str, deadline: str) -> Arrival:
    alert = {"ticket_id": ticket, "kind": "breach", "alert_id": f"a-{ticket}", "deadline": deadline}
    return Arrival(at, "/pacta", f"key-{ticket}", orjson.dumps({"alerts": [alert]}))


def test_the_storm_counts_from_each_breachs_deadline_not_from_the_post() -> None:
    run = PacedRun(rate=1000, count=2, sent=[Sent(T0, 202, 1.0), Sent(T0 + 0.001, 202, 1.0)])
    arrivals = [
        _breach(T0 + 1.050, "p-0", "2026-01-01T00:00:01.000Z"),  # 50 ms after its deadline
        _breach(T0 + 1.121, "p-1", "2026-01-01T00:00:01.001Z"),  # 120 ms after
        _breach(T0 + 1.5, "other-0", "2026-01-01T00:00:01.000Z"),  # another run's
    ]
    since = deadlines(arrivals, "p")
    assert since == {0: T0 + 1.0, 1: T0 + 1.001}
    out = analyse("pacta", run, matched(arrivals, pacta_keys("p")), since)
    assert out["latency_from"] == "deadline"
    assert out["latency_ms"]["min"] == 50.0
    assert out["latency_ms"]["max"] == 120.0
    assert out["lost"] == 0
    from_post = analyse("pacta", run, matched(arrivals, pacta_keys("p")))
    assert from_post["latency_from"] == "post"
    assert from_post["latency_ms"]["min"] == 1050.0


def test_the_storm_verdict_names_the_deadline() -> None:
    run = PacedRun(rate=1000, count=1, sent=[Sent(T0, 202, 1.0)])
    arrivals = [_breach(T0 + 1.2, "p-0", "2026-01-01T00:00:01.000Z")]
    pacta = analyse("pacta", run, matched(arrivals, pacta_keys("p")), deadlines(arrivals, "p"))
    pacta["achieved_rate"] = 1000.0
    rows = verdicts(pacta, None, storm=True)
    assert rows[0]["what"].startswith("alert storm: breach deadline -> webhook out")
    assert rows[0]["result"] == "MISS"  # 200 ms > 150 ms


async def test_the_receiver_process_keeps_every_post_in_order(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path / "receiver.log")
    await asyncio.to_thread(receiver.start)
    try:
        run = await paced_post(
            receiver.url("/hook"),
            lambda k: b'{"k":%d}' % k,
            rate=2000,
            count=200,
            headers={"Content-Type": "application/json", "Idempotency-Key": "same"},
            connections=4,
        )
        assert run.ok == 200
        assert await receiver.count() == 200
        got = await receiver.arrivals()
        tail = await receiver.arrivals(150)
    finally:
        receiver.stop()
    assert sorted(orjson.loads(a.body)["k"] for a in got) == list(range(200))
    assert all(a.path == "/hook" and a.idempotency_key == "same" for a in got)
    assert [a.at for a in got] == sorted(a.at for a in got)
    assert tail == got[150:]
    assert got[0].at >= run.sent[0].at


def test_the_storm_splits_from_the_deadline_to_the_engines_detection() -> None:
    run = PacedRun(rate=1000, count=1, sent=[Sent(T0, 202, 1.0)])
    alert = {
        "ticket_id": "p-0",
        "kind": "breach",
        "alert_id": "a-0",
        "deadline": "2026-01-01T00:00:01.000Z",
        "detected_at": "2026-01-01T00:00:01.030Z",
    }
    arrivals = [Arrival(T0 + 1.1, "/pacta", "k", orjson.dumps({"alerts": [alert]}))]
    stages = pacta_stages(run, arrivals, "p", {"a-0": T0 + 1.06}, deadlines(arrivals, "p"))
    assert stages["deadline_to_engine_detected"]["p50"] == 30.0
    assert stages["engine_detected_to_alerting_fired"]["p50"] == 30.0
    assert pacta_stages(run, arrivals, "p", {})["post_to_engine_detected"]["p50"] == 1030.0
