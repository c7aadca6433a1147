"""The alerting benchmark's own arithmetic (who was notified, lost, doubled, how late) and its
sender and collector against each other over real sockets."""

from __future__ import annotations

import orjson

from bench.alerting_http import Arrival, Collector, PacedRun, Sent, paced_post
from bench.alerting_report import (
    analyse,
    matched,
    pacta_keys,
    pacta_stages,
    quantiles,
    render,
    verdicts,
)


def _hook(at: float, key: str, *tickets: str, kind: str = "breach") -> Arrival:
    alerts = [
        {
            "ticket_id": t,
            "kind": kind,
            "alert_id": f"a-{t}",
            "detected_at": "2026-01-01T00:00:00.020Z",
        }
        for t in tickets
    ]
    return Arrival(at, "/pacta", key, orjson.dumps({"alerts": alerts}))


T0 = 1767225600.0  # 2026-01-01T00:00:00Z


def _run(n: int) -> PacedRun:
    return PacedRun(rate=1000, count=n, sent=[Sent(T0 + k / 1000, 202, 1.0) for k in range(n)])


def test_lost_doubled_and_redelivered_are_told_apart() -> None:
    run = _run(4)
    arrivals = [
        _hook(T0 + 0.050, "k0", "p-0"),
        _hook(T0 + 0.060, "k0", "p-0"),  # the same key again: a retry the receiver dedups
        _hook(T0 + 0.070, "k1", "p-1"),
        _hook(T0 + 0.080, "k1b", "p-1"),  # a second key for one event: a double
        _hook(T0 + 0.090, "k2", "p-2", "other-9"),  # another run's ticket is ignored
        _hook(T0 + 0.100, "k3", "p-3", kind="warning"),  # not a breach: p-3 is lost
    ]
    out = analyse("pacta", run, matched(arrivals, pacta_keys("p")))
    assert (out["acked"], out["notified"], out["lost"]) == (4, 3, 1)
    assert out["doubled"] == 1
    assert out["redelivered_same_key"] == 1
    # first arrival counts: 50 ms, 69 ms, 88 ms
    assert out["latency_ms"]["p50"] == 69.0
    assert out["latency_ms"]["max"] == 88.0


def test_stages_split_the_latency_by_the_pipelines_own_instants() -> None:
    run = _run(1)
    stages = pacta_stages(run, [_hook(T0 + 0.100, "k", "p-0")], "p", {"a-p-0": T0 + 0.050})
    assert stages["post_to_engine_detected"]["p50"] == 20.0
    assert stages["engine_detected_to_alerting_fired"]["p50"] == 30.0
    assert stages["alerting_fired_to_webhook"]["p50"] == 50.0


def test_quantiles_nearest_rank() -> None:
    q = quantiles(float(v) for v in range(1, 101))
    assert (q["p50"], q["p95"], q["p99"], q["max"]) == (50.0, 95.0, 99.0, 100.0)
    assert quantiles([])["p99"] is None


def test_verdicts_pass_only_when_fast_complete_and_no_slower_than_alertmanager() -> None:
    def system(p99: float, lost: int = 0) -> dict[str, object]:
        return {
            "offered_rate": 1000.0,
            "achieved_rate": 1000.0,
            "acked": 10,
            "notified": 10 - lost,
            "lost": lost,
            "doubled": 0,
            "redelivered_same_key": 0,
            "latency_ms": {"p50": p99 / 2, "p95": p99, "p99": p99},
        }

    rows = {r["what"].split(",")[0]: r["result"] for r in verdicts(system(90), system(100))}
    assert rows["event in -> webhook out"] == "PASS"
    assert rows["Pacta p99 / Alertmanager p99"] == "PASS"
    rows = {r["what"].split(",")[0]: r["result"] for r in verdicts(system(90, 1), system(80))}
    assert rows["event in -> webhook out"] == "MISS"
    assert rows["every event notified exactly once"] == "MISS"
    assert rows["Pacta p99 / Alertmanager p99"] == "MISS"


async def test_the_sender_paces_and_the_collector_records_every_post() -> None:
    collector = await Collector().start()
    try:
        run = await paced_post(
            collector.url("/x"),
            lambda k: b'{"k":%d}' % k,
            rate=500,
            count=100,
            headers={"Content-Type": "application/json"},
            connections=4,
        )
    finally:
        await collector.close()
    assert run.ok == 100
    assert run.errors == []
    assert sorted(orjson.loads(a.body)["k"] for a in collector.arrivals) == list(range(100))
    # an absolute schedule: 100 sends at 500/s take about 0.2 s, never much less
    assert run.sent[-1].at - run.sent[0].at >= 0.19
    assert all(a.path == "/x" for a in collector.arrivals)
    result = {
        "targets": verdicts(None, None),
        "systems": [
            {
                **analyse("x", run, {}),
                "load_before": 1.0,
                "cpu_brief": "",
                "stages": {"s": quantiles([1.0])},
            }
        ],
        "warnings": ["w"],
        "problems": [],
    }
    assert "Per system" in render(result)
