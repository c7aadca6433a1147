"""The engine benchmark's figures as bench/results.json entries: breach lag at 100k and 1M open
clocks, breaches missed or doubled, RSS and ready time at 1M, and the apply rate."""

from __future__ import annotations

from typing import Any

from bench.results import Entry, entry

COMMAND = "python -m bench --only engine"
LAG = {
    50.0: "breach lag p99, 100k open clocks",
    100.0: "breach lag p99, 1M open clocks + 1,000 events/s",
}


def entries(result: dict[str, Any]) -> list[Entry]:
    """What the run measured, one entry per figure; figures not measured are left out."""
    out: list[Entry] = []
    for win in result.get("windows", []):
        name = LAG.get(win.get("target_ms") or -1.0)
        lag = win.get("lag_ms") or {}
        if name and lag.get("n"):
            note = f"p50 {lag['p50']:.0f} ms, max {lag['max']:.0f} ms, {lag['n']:,} breaches"
            out.append(entry(name, round(lag["p99"], 1), command=COMMAND, note=note))
    facts = result.get("facts", {})
    counts = facts.get("counts") or {}
    if counts:
        bad = counts["missing"] + counts["doubled_on_topic"] + counts["doubled_in_db"]
        out.append(
            entry(
                "breaches missed or doubled",
                bad,
                command=COMMAND,
                note=f"{counts['missing']} missed, "
                f"{counts['doubled_on_topic'] + counts['doubled_in_db']} doubled of "
                f"{counts['breaches_expected']:,} due",
            )
        )
    if "b_rss_after_window_mib" in facts:
        steady = max(
            facts["b_rss_after_window_mib"], facts.get("b_rss_max_sampled_after_ready_mib", 0)
        )
        out.append(entry("engine RSS, 1M open clocks", round(steady), command=COMMAND))
    if "b_ready_s" in facts:
        out.append(
            entry(
                "ready after restart, 1M open clocks", round(facts["b_ready_s"], 1), command=COMMAND
            )
        )
    apply = facts.get("apply")
    if apply:
        row = entry(
            "sla-engine apply rate",
            round(apply["events_per_s"]),
            command=COMMAND,
            note=f"{apply['applied']:,} lifecycle events",
        )
        row.met = bool(row.met) and bool(apply["completed"])
        out.append(row)
    return out
