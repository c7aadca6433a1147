"""The engine and reporting benchmarks' results as results.json entries."""

from __future__ import annotations

from bench.engine_results import entries
from bench.reporting import _entries as reporting_entries


def test_the_lag_windows_counts_and_apply_rate_become_entries() -> None:
    result = {
        "windows": [
            {"target_ms": 50.0, "lag_ms": {"n": 1000, "p50": 4, "p99": 12.3, "max": 20}},
            {"target_ms": None, "lag_ms": {"n": 10, "p50": 1, "p99": 2, "max": 3}},
            {"target_ms": 100.0, "lag_ms": {"n": 0}},  # no samples: not a figure
        ],
        "facts": {
            "counts": {
                "missing": 1,
                "doubled_on_topic": 0,
                "doubled_in_db": 1,
                "breaches_expected": 500,
            },
            "b_ready_s": 11.54,
            "apply": {"events_per_s": 12_000.4, "applied": 60_000, "completed": False},
        },
    }
    by = {e.name: e for e in entries(result)}
    assert by["breach lag p99, 100k open clocks"].value == 12.3
    assert by["breach lag p99, 100k open clocks"].met is True
    assert "breach lag p99, 1M open clocks + 1,000 events/s" not in by
    assert by["breaches missed or doubled"].value == 2
    assert by["breaches missed or doubled"].met is False
    assert by["ready after restart, 1M open clocks"].value == 11.5
    assert by["sla-engine apply rate"].met is False  # fast, but it did not complete


def test_the_reports_worst_median_is_the_figure() -> None:
    t = {"all services, UTC": {"median_ms": 40.0}, "one service, UTC": {"median_ms": 120.0}}
    replay = {"extrapolated_s": 540.0, "records_per_s": 37_000.0, "records": 500_000}
    by = {e.name: e for e in reporting_entries(t, t, replay)}
    assert by["monthly report, 1M events"].value == 120.0
    assert by["monthly report, 1M events"].met is False
    assert by["monthly report, 10M events"].met is True
    assert by["rebuild of 10M events by replay"].value == 9.0
    assert by["rebuild of 10M events by replay"].met is True
