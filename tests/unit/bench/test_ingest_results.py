"""The ingest benchmark's runs as results.json entries."""

from __future__ import annotations

from bench.ingest_results import entries
from bench.wrk import WrkRun


def _run(label: str, target: str, per_s: float, batch: int = 1, rate: float = 0) -> WrkRun:
    return WrkRun(
        label=label,
        target=target,
        url="http://x",
        connections=16,
        threads=1,
        batch=batch,
        rate=rate,
        duration_s=10.0,
        ok=int(per_s * 10 / batch),
        latency_ms={"p99": 20.0},
    )


def test_the_best_runs_and_the_stack_ratios_become_entries() -> None:
    runs = [
        _run("single-c16", "pacta", 3_000),
        _run("single-c32", "pacta", 4_000),
        _run("single-c32-warmup", "pacta", 9_000),  # a warm-up never counts
        _run("am-single-c32", "alertmanager", 20_000),
        _run("paced-5000", "pacta", 4_000, rate=5_000),
        _run("stack-single-c16", "pacta", 1_500),
        _run("am-stack-single-c16", "alertmanager", 25_000),
    ]
    by = {e.name: e for e in entries(runs)}
    assert by["ingest, single events"].value == 4_000
    assert by["ingest, single events"].peer == {
        "name": "Debian's Alertmanager",
        "value": 20_000,
        "unit": "alerts/s",
    }
    assert by["ingest, single, make-up stack / peer"].value == 0.06
    # p99 within target, but 4,000/s of 5,000/s is not the rate asked for
    assert by["ingest, single p99 at 5,000/s"].value == 20.0
    assert by["ingest, single p99 at 5,000/s"].met is False
    assert "ingest, batches of 100" not in by  # not measured: left as it was
