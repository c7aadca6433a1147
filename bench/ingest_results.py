"""The ingest benchmark's figures as bench/results.json entries: its best single and batched
rates and the paced p99 (each beside Alertmanager's in the same run), and the make-up stack's
ratios to Alertmanager."""

from __future__ import annotations

from collections.abc import Iterable

from bench.results import Entry, entry
from bench.stack import BATCH, CONNECTIONS
from bench.wrk import WrkRun

COMMAND = "python -m bench --only ingest"


def _best(runs: list[WrkRun], target: str, prefix: str) -> WrkRun | None:
    chosen = [
        r
        for r in runs
        if r.target == target and r.label.startswith(prefix) and not r.label.endswith("warmup")
    ]
    return max(chosen, key=lambda r: r.events_per_s, default=None)


def _named(runs: Iterable[WrkRun], label: str) -> WrkRun | None:
    return next((r for r in runs if r.label == label), None)


def entries(runs: list[WrkRun]) -> list[Entry]:
    """What the runs measured, one entry per figure; figures not measured are left out."""
    out: list[Entry] = []
    single, am_single = _best(runs, "pacta", "single-"), _best(runs, "alertmanager", "am-single-")
    batch, am_batch = _best(runs, "pacta", "batch"), _best(runs, "alertmanager", "am-batch")
    paced = next((r for r in runs if r.label.startswith("paced-")), None)
    if single:
        out.append(
            entry(
                "ingest, single events",
                round(single.events_per_s),
                command=COMMAND,
                note=f"{single.label}, p99 {single.latency_ms.get('p99')} ms at saturation",
                peer=round(am_single.events_per_s) if am_single else None,
                peer_unit="alerts/s",
            )
        )
    if paced:
        sustained = paced.requests_per_s >= 0.97 * paced.rate
        row = entry(
            "ingest, single p99 at 5,000/s",
            paced.latency_ms.get("p99"),
            command=COMMAND,
            note=f"{paced.requests_per_s:,.0f}/s sustained of {paced.rate:,.0f}/s",
        )
        row.met = bool(row.met) and sustained
        out.append(row)
    if batch:
        out.append(
            entry(
                "ingest, batches of 100",
                round(batch.events_per_s),
                command=COMMAND,
                note=f"{batch.label}, p99 {batch.latency_ms.get('p99')} ms",
                peer=round(am_batch.events_per_s) if am_batch else None,
                peer_unit="alerts/s",
            )
        )
    for name, shape in (
        ("ingest, single, make-up stack / peer", f"single-c{CONNECTIONS}"),
        ("ingest, batches, make-up stack / peer", f"batch{BATCH}-c{CONNECTIONS}"),
    ):
        pacta, am = _named(runs, f"stack-{shape}"), _named(runs, f"am-stack-{shape}")
        if pacta is None or am is None or not am.events_per_s:
            continue
        out.append(
            entry(
                name,
                round(pacta.events_per_s / am.events_per_s, 2),
                command=COMMAND + " --shapes stack",
                note=f"{pacta.events_per_s:,.0f} events/s, p99 {pacta.latency_ms.get('p99')} ms",
                peer=round(am.events_per_s),
                peer_unit="alerts/s",
            )
        )
    return out
