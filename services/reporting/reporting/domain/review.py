"""The management review's list per service: the month's nonconformities (missed targets,
breaches, restated figures) in one list, each with a stable id a manager's action is kept
under (ISO/IEC 20000-1 10.1; docs/reporting.md, "Management review")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reporting.domain.wording import percent


def _targets(svc: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    a = svc["availability"]
    if a["met"] is False:
        out.append(
            {
                "item": "target.availability",
                "kind": "missed_target",
                "what": f"availability {percent(a['actual'], a['target'])} % under its target "
                f"{percent(a['target'], a['target'])} %",
                "at": None,
            }
        )
    for metric in ("response", "resolution"):
        for priority, f in svc["tickets"][metric].get("by_priority", {}).items():
            if f["target_met"] is False:
                out.append(
                    {
                        "item": f"target.{metric}.{priority}",
                        "kind": "missed_target",
                        "what": f"{priority} {metric} clocks met {f['compliance']:.1f} % under "
                        f"the agreed {f['target']:.1f} % ({f['breached']} breached)",
                        "at": None,
                    }
                )
    return out


def nonconformities(
    svc: Mapping[str, Any],
    restatements: list[Mapping[str, Any]],
    actions: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Missed targets first, then breaches in time order, then restated figures; each with the
    action recorded for it (None: none yet)."""
    items = _targets(svc)
    for b in svc["breaches"]:
        ticket = f", ticket {b['ticket_id']}" if b.get("ticket_id") else ""
        priority = f" ({b['priority']})" if b.get("priority") else ""
        items.append(
            {
                "item": f"breach.{b['signal_id']}",
                "kind": "breach",
                "what": f"{b['metric']} breach{ticket}{priority}",
                "at": b["occurred_at"],
            }
        )
    for r in restatements:
        if r["service"] == svc["service"]:
            items.append(
                {
                    "item": f"restated.{r['figure']}",
                    "kind": "restatement",
                    "what": f"{r['figure']} restated from {r['published']} to {r['now']}",
                    "at": None,
                }
            )
    return [{**i, "action": actions.get(i["item"])} for i in items]
