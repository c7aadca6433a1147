"""The alerting benchmark's arithmetic and output: which sent event each webhook notified, the
latency percentiles, lost and doubled notifications, the verdict rows against the targets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from bench.alerting_http import Arrival, PacedRun
from bench.report import ms, notes, num, table, target_row
from pacta.durations import parse_timestamp_ms

TARGET_P99_MS = 150.0  # target: event in -> notification delivered, at 1,000 events/s
TARGET_RATE = 1_000.0


def quantiles(values: Iterable[float]) -> dict[str, float | None]:
    """Nearest-rank p50/p95/p99 with min, max and mean, in the values' unit."""
    s = sorted(values)
    if not s:
        return dict.fromkeys(("min", "p50", "p95", "p99", "max", "mean"))

    def rank(q: float) -> float:
        return s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))]

    return {
        "min": s[0],
        "p50": rank(0.5),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": s[-1],
        "mean": sum(s) / len(s),
    }


def pacta_keys(prefix: str) -> Callable[[dict[str, Any]], tuple[int, str] | None]:
    """A Pacta webhook entry -> (event number, alert id): breach alerts of this run's tickets."""
    head = prefix + "-"

    def key(alert: dict[str, Any]) -> tuple[int, str] | None:
        ticket = str(alert.get("ticket_id") or "")
        if alert.get("kind") != "breach" or not ticket.startswith(head):
            return None
        return int(ticket[len(head) :]), str(alert.get("alert_id"))

    return key


def am_keys(prefix: str) -> Callable[[dict[str, Any]], tuple[int, str] | None]:
    """An Alertmanager webhook entry -> (event number, fingerprint), by its `instance` label."""
    head = prefix + "-"

    def key(alert: dict[str, Any]) -> tuple[int, str] | None:
        instance = str((alert.get("labels") or {}).get("instance") or "")
        if not instance.startswith(head):
            return None
        return int(instance[len(head) :]), str(alert.get("fingerprint"))

    return key


def matched(
    arrivals: Iterable[Arrival], key: Callable[[dict[str, Any]], tuple[int, str] | None]
) -> dict[int, list[tuple[float, str, str]]]:
    """Event number -> every (arrival time, alert id, Idempotency-Key) that notified it."""
    out: dict[int, list[tuple[float, str, str]]] = defaultdict(list)
    for a in arrivals:
        for alert in orjson.loads(a.body).get("alerts") or []:
            k = key(alert)
            if k is not None:
                out[k[0]].append((a.at, k[1], a.idempotency_key))
    return out


def _rounded(values: list[float]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 2) for k, v in quantiles(values).items()}


def pacta_stages(
    run: PacedRun,
    arrivals: Iterable[Arrival],
    prefix: str,
    fired_at: dict[str, float],
    since: dict[int, float] | None = None,
    relayed_at: dict[str, float] | None = None,
    picked_at: dict[str, float] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Where the time of each event's first notification went, by the instants the pipeline
    itself records: the breach's `detected_at` (sla-engine), its record's timestamp on the
    signals topic (`relayed_at`, by signal id: when the engine's relay produced it), the
    alert's `fired_at` (alerting, when it applied the signal) and the first attempt's
    `started_at` (`picked_at`, by alert id: when a sender took the delivery). The first stage
    starts at the POST, or at `since[k]` (the breach's deadline, in the storm). One clock:
    every process is on this machine."""
    head = prefix + "-"
    stages: dict[str, list[float]] = defaultdict(list)
    seen: set[int] = set()
    first = ("post" if since is None else "deadline") + "_to_engine_detected"
    for a in sorted(arrivals, key=lambda a: a.at):
        for alert in orjson.loads(a.body).get("alerts") or []:
            ticket = str(alert.get("ticket_id") or "")
            if alert.get("kind") != "breach" or not ticket.startswith(head):
                continue
            k = int(ticket[len(head) :])
            if k in seen or not run.sent[k].at:
                continue
            seen.add(k)
            detected = parse_timestamp_ms(str(alert["detected_at"])) / 1000
            start = run.sent[k].at if since is None else since.get(k, run.sent[k].at)
            stages[first].append(1000 * (detected - start))
            alert_id = str(alert.get("alert_id"))
            fired = fired_at.get(alert_id)
            if fired is None:
                continue
            stages["engine_detected_to_alerting_fired"].append(1000 * (fired - detected))
            relayed = (relayed_at or {}).get(str(alert.get("signal_id")))
            if relayed is not None:
                stages["  detected_to_relayed (engine commit, relay)"].append(
                    1000 * (relayed - detected)
                )
                stages["  relayed_to_fired (Kafka, alerting consumer)"].append(
                    1000 * (fired - relayed)
                )
            stages["alerting_fired_to_webhook"].append(1000 * (a.at - fired))
            picked = (picked_at or {}).get(alert_id)
            if picked is not None:
                stages["  fired_to_picked (commit, sender queue)"].append(1000 * (picked - fired))
                stages["  picked_to_webhook (HTTP)"].append(1000 * (a.at - picked))
    order = [
        first,
        "engine_detected_to_alerting_fired",
        "  detected_to_relayed (engine commit, relay)",
        "  relayed_to_fired (Kafka, alerting consumer)",
        "alerting_fired_to_webhook",
        "  fired_to_picked (commit, sender queue)",
        "  picked_to_webhook (HTTP)",
    ]
    return {name: _rounded(stages[name]) for name in order if name in stages}


def deadlines(arrivals: Iterable[Arrival], prefix: str) -> dict[int, float]:
    """Event number -> the deadline (epoch seconds) its breach webhook names."""
    head = prefix + "-"
    out: dict[int, float] = {}
    for a in arrivals:
        for alert in orjson.loads(a.body).get("alerts") or []:
            ticket = str(alert.get("ticket_id") or "")
            if alert.get("kind") == "breach" and ticket.startswith(head) and alert.get("deadline"):
                out[int(ticket[len(head) :])] = parse_timestamp_ms(str(alert["deadline"])) / 1000
    return out


def analyse(
    system: str,
    run: PacedRun,
    hits: dict[int, list[tuple[float, str, str]]],
    since: dict[int, float] | None = None,
) -> dict[str, Any]:
    """Who was notified, lost and doubled, and the latency of each event's first notification:
    from `since[k]` (the breach's deadline) when given, else from the POST."""
    acked = [k for k, s in enumerate(run.sent) if 200 <= s.status < 300]
    sent_at = [s.at for s in run.sent if s.at]
    start = since if since is not None else {k: run.sent[k].at for k in acked}
    latency = [
        1000 * (min(h[0] for h in hits[k]) - start[k]) for k in acked if k in hits and k in start
    ]
    # the same key twice is a redelivery a receiver dedups; two keys for one event is a double
    got = {k: hits.get(k, []) for k in acked}
    redelivered = sum(1 for h in got.values() if len(h) > len({x[2] for x in h}))
    doubled = sum(1 for h in got.values() if len({(x[1], x[2]) for x in h}) > 1)
    span = (max(sent_at) - min(sent_at)) if len(sent_at) > 1 else 0.0
    answered = [s.answered_ms for s in run.sent if s.status]
    return {
        "system": system,
        "offered_rate": run.rate,
        "achieved_rate": round((len(sent_at) - 1) / span, 1) if span else 0.0,
        "sent": len(sent_at),
        "acked": len(acked),
        "non_2xx": sum(1 for s in run.sent if s.status and not 200 <= s.status < 300),
        "unanswered": sum(1 for s in run.sent if s.at and not s.status),
        "notified": sum(1 for k in acked if k in hits),
        "lost": sum(1 for k in acked if k not in hits),
        "doubled": doubled,
        "redelivered_same_key": redelivered,
        "sends_late_1ms": run.late_1ms,
        "send_lag_max_ms": round(run.lag_max_ms, 1),
        "latency_from": "deadline" if since is not None else "post",
        "latency_ms": {
            k: None if v is None else round(v, 2) for k, v in quantiles(latency).items()
        },
        "post_answer_ms": {
            k: None if v is None else round(v, 2) for k, v in quantiles(answered).items()
        },
        "sender_errors": run.errors,
    }


def verdicts(
    pacta: dict[str, Any] | None, am: dict[str, Any] | None, *, storm: bool = False
) -> list[dict[str, Any]]:
    rows = []
    if pacta is not None:
        p99 = pacta["latency_ms"]["p99"]
        sustained = pacta["achieved_rate"] >= 0.97 * pacta["offered_rate"]
        what = "alert storm: breach deadline" if storm else "event in"
        rows.append(
            target_row(
                f"{what} -> webhook out, p99 at {pacta['offered_rate']:,.0f}/s",
                f"{ms(p99)} ms",
                f"<= {TARGET_P99_MS:g} ms",
                p99 is not None and sustained and pacta["lost"] == 0 and p99 <= TARGET_P99_MS,
                f"ingest -> Kafka -> sla-engine (late breach) -> Kafka -> alerting (route, group, "
                f"queue) -> webhook; p50 {ms(pacta['latency_ms']['p50'])} ms, p95 "
                f"{ms(pacta['latency_ms']['p95'])} ms; achieved {num(pacta['achieved_rate'])}/s"
                + ("" if sustained else "; RATE NOT SUSTAINED"),
            )
        )
        rows.append(
            target_row(
                "every event notified exactly once",
                f"{pacta['notified']:,} / {pacta['acked']:,}",
                "none lost, none doubled",
                pacta["lost"] == 0 and pacta["doubled"] == 0,
                f"lost {pacta['lost']}, doubled {pacta['doubled']}, redelivered under the same "
                f"Idempotency-Key {pacta['redelivered_same_key']}",
            )
        )
    if am is not None:
        rows.append(
            target_row(
                "Alertmanager alert in -> webhook out, p99",
                f"{ms(am['latency_ms']['p99'])} ms",
                "(reference)",
                None,
                f"p50 {ms(am['latency_ms']['p50'])} ms; notified {am['notified']:,}/"
                f"{am['acked']:,}; group_wait 0s flushes a new group at once, its notify "
                "pipeline then sends; group_interval only paces later changes of a group",
            )
        )
    if pacta is not None and am is not None:
        p, a = pacta["latency_ms"]["p99"], am["latency_ms"]["p99"]
        ratio = p / a if p is not None and a else None
        rows.append(
            target_row(
                "Pacta p99 / Alertmanager p99",
                "-" if ratio is None else f"{ratio:.2f}x",
                "<= 1.0x (no slower)",
                ratio is not None and ratio <= 1.0,
                "same rate, same receiver, one after the other in this run",
            )
        )
    return rows


def render(result: dict[str, Any]) -> str:
    t = [[r["what"], r["measured"], r["target"], r["result"], r["note"]] for r in result["targets"]]
    systems = []
    for s in result["systems"]:
        lat = s["latency_ms"]
        systems.append(
            [
                s["system"],
                num(s["achieved_rate"]),
                f"{s['acked']:,}",
                f"{s['notified']:,}",
                str(s["lost"]),
                str(s["doubled"]),
                ms(lat["p50"]),
                ms(lat["p95"]),
                ms(lat["p99"]),
                ms(lat["max"]),
                ms(s["post_answer_ms"]["p99"]),
                str(s["load_before"]),
                s["cpu_brief"],
            ]
        )
    parts = [
        "Alerting against its target: event in -> notification delivered (group_wait 0), "
        "one 2-core box",
        "",
        table(["what", "measured", "target", "result", "note"], t, right={1}),
        "",
        f"Per system (latency in ms: {result.get('measured', 'POST -> webhook')}; post = "
        "the POST's own answer time; load = 1-min load average)",
        "",
        table(
            [
                "system",
                "sent/s",
                "acked",
                "notified",
                "lost",
                "doubled",
                "p50",
                "p95",
                "p99",
                "max",
                "post p99",
                "load",
                "cpu (% of one core)",
            ],
            systems,
            right=set(range(1, 12)),
        ),
    ]
    for s in result["systems"]:
        if s.get("stages"):
            parts += [
                "",
                f"Where {s['system']}'s time went (ms; by the breach's detected_at in the engine "
                "and the alert's fired_at in alerting)",
                "",
                table(
                    ["stage", "p50", "p95", "p99", "max"],
                    [
                        [name, ms(q["p50"]), ms(q["p95"]), ms(q["p99"]), ms(q["max"])]
                        for name, q in s["stages"].items()
                    ],
                ),
            ]
    parts += notes(result)
    return "\n".join(parts)
