"""The monthly report's JSON shape (docs/reporting.md) from a service's figures: seconds at the
edge, every key present (null where a figure is undefined, e.g. MTBF without outages)."""

from __future__ import annotations

from typing import Any

from reporting.domain.availability import AvailabilityFigures
from reporting.domain.tickets import TicketCounts, change_figures, ticket_figures

AVAILABILITY_KEYS = (
    "target",
    "actual",
    "downtime_seconds",
    "agreed_service_seconds",
    "budget_consumed",
    "met",
    "outages",
    "mtbf_seconds",
    "mtrs_seconds",
    "unmeasured_seconds",
    "coverage",
)


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def availability_block(fig: AvailabilityFigures | None) -> dict[str, Any]:
    """A service the engine never measured (no monitoring events) has every key null: a
    report must not claim 100 % for time nobody watched."""
    if fig is None:
        return dict.fromkeys(AVAILABILITY_KEYS)
    return {
        "target": fig.target,
        "actual": fig.actual,
        "downtime_seconds": fig.downtime_ms / 1000,
        "agreed_service_seconds": fig.agreed_ms / 1000,
        "budget_consumed": fig.budget_consumed,
        "met": fig.met,
        "outages": fig.outages,
        "mtbf_seconds": _s(fig.mtbf_ms),
        "mtrs_seconds": _s(fig.mtrs_ms),
        "unmeasured_seconds": fig.unmeasured_ms / 1000,
        "coverage": fig.coverage,
    }


def figures_block(fig: AvailabilityFigures | None, counts: TicketCounts | None) -> dict[str, Any]:
    counts = counts or TicketCounts()
    return {
        "availability": availability_block(fig),
        "tickets": ticket_figures(counts),
        "changes": change_figures(counts),
    }


def service_report(
    service: str,
    policy: str | None,
    current: dict[str, Any],
    breaches: list[dict[str, Any]],
    previous: dict[str, Any],
    policy_versions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "service": service,
        "policy": policy,
        **current,
        "headline": headline(current),
        "breaches": breaches,
        "previous": previous,
        "policy_versions": policy_versions or [],
    }


def with_versions(signal: dict[str, Any]) -> dict[str, Any]:
    """A breach as stored, naming the policy and calendar versions it was computed under
    (null for a signal from before versions)."""
    return {"policy_version": None, "calendar_version": None, **signal}


def headline(block: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a manager reads first, each figure judged by itself: availability against its
    target; response and resolution compliance against the policy's compliance targets per
    priority (without any, a metric is met while none of its clocks breached)."""
    out: dict[str, dict[str, Any]] = {}
    a = block["availability"]
    out["availability"] = {"actual": a["actual"], "target": a["target"], "met": a["met"]}
    for metric in ("response", "resolution"):
        t = block["tickets"][metric]
        decided = t["met"] + t["breached"]
        judged = t.get("target_met")
        if judged is None and decided:
            judged = t["breached"] == 0
        out[metric] = {
            "compliance": t["compliance"],
            "target_met": t.get("target_met"),
            "met": judged,
        }
    return out


def missed(block: dict[str, Any]) -> bool:
    """A headline figure missed: availability under its target, or a ticket metric under
    its compliance target (or breached, where the policy sets none)."""
    return any(h["met"] is False for h in headline(block).values())


def csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per service and metric: month, tz, service, section, metric, value."""
    rows: list[list[Any]] = [["month", "tz", "service", "section", "metric", "value"]]
    for svc in report["services"]:
        base = [report["month"], report["tz"], svc["service"]]
        for period, block in (("", svc), ("previous.", svc["previous"])):
            for key in AVAILABILITY_KEYS:
                rows.append([*base, period + "availability", key, block["availability"][key]])
            t = block["tickets"]
            rows.append([*base, period + "tickets", "total", t["total"]])
            for p, n in t["by_priority"].items():
                rows.append([*base, period + "tickets", f"by_priority.{p}", n])
            for metric in ("response", "resolution"):
                m = t[metric]
                for key in ("met", "breached", "compliance"):
                    rows.append([*base, period + "tickets", f"{metric}.{key}", m[key]])
                if "target_met" in m:
                    rows.append(
                        [*base, period + "tickets", f"{metric}.target_met", m["target_met"]]
                    )
                for p, figures in m.get("by_priority", {}).items():
                    for key in ("met", "breached", "compliance", "target", "target_met"):
                        rows.append(
                            [
                                *base,
                                period + "tickets",
                                f"{metric}.by_priority.{p}.{key}",
                                figures[key],
                            ]
                        )
            rows.append([*base, period + "tickets", "mtta_seconds", t["mtta_seconds"]])
            rows.append([*base, period + "tickets", "mttr_seconds", t["mttr_seconds"]])
            for key in ("total", "failed", "success_rate"):
                rows.append([*base, period + "changes", key, block["changes"][key]])
        for name, figures in svc["headline"].items():
            for key, value in figures.items():
                rows.append([*base, "headline", f"{name}.{key}", value])
        for kind, figures in svc["workload"].items():
            for key, value in figures.items():
                rows.append([*base, "workload", f"{kind}.{key}", value])
        rows.append([*base, "breaches", "count", len(svc["breaches"])])
        rows.append([*base, "previous.breaches", "count", svc["previous"]["breach_count"]])
        rows += [[*base, *row] for row in version_rows(svc)]
    return rows


def _label(policy: str | None, version: int | None) -> str:
    return f"{policy or '-'} v{'-' if version is None else version}"


def version_rows(svc: dict[str, Any]) -> list[list[Any]]:
    """(section, metric, value) rows of the policy versions in force in the month and of the
    clocks decided under each: `policy_versions.<policy> v<n>` / `by_policy_version.<...>`."""
    rows: list[list[Any]] = []
    for v in svc["policy_versions"]:
        section = f"policy_versions.{_label(v['policy'], v['version'])}"
        for key in ("effective_from", "effective_until", "in_month_from", "in_month_until"):
            rows.append([section, key, v[key]])
        rows.append([section, "calendar", v["calendar"]])
        rows.append([section, "deleted", v["deleted"]])
        warn = v["warn_at"]
        rows.append([section, "warn_at", None if warn is None else " ".join(map(str, warn))])
        for priority, targets in v["targets"].items():
            for metric, seconds in targets.items():
                rows.append([section, f"targets.{priority}.{metric}_seconds", seconds])
    for c in svc["tickets"].get("by_policy_version", []):
        section = f"tickets.by_policy_version.{_label(c['policy'], c['version'])}"
        for metric in ("response", "resolution"):
            for key in ("met", "breached", "compliance"):
                rows.append([section, f"{metric}.{key}", c[metric][key]])
    return rows
