"""End to end: a real Prometheus, configured like deploy/prometheus/prometheus.yml, scrapes the
four services, and every panel query of the shipped Grafana dashboards returns data from it
once the stack has seen traffic (native formats, an outage, tickets that warn, breach, meet)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.alerting import SECRET, WebhookCollector
from tests.support.client import ago, post
from tests.support.daemons import Daemon, require
from tests.support.processes import ServiceProcess, free_port, wait_for
from tests.support.reporting import get_report

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
#: stack fixture key (the module) -> `component` label in the shipped scrape config
COMPONENTS = {
    "ingest": "ingest",
    "sla_engine": "sla-engine",
    "alerting": "alerting",
    "reporting": "reporting",
}
#: Grafana's interval variables, as a dashboard viewed over the last few minutes expands them.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "$service": ".*",  # the SLA dashboard's service variable set to All
}
ADMIN = {"Authorization": "Bearer test-admin-key"}


def scrape_config(stack: dict[str, ServiceProcess], rules: Path) -> dict[str, Any]:
    """The shipped local config with the stack's dynamic ports and a 1 s scrape interval."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    ports = {COMPONENTS[m]: p.port for m, p in stack.items()}
    (job,) = (j for j in config["scrape_configs"] if j["job_name"] == "pacta")
    groups = job["static_configs"]
    assert {g["labels"]["component"] for g in groups} == set(ports)
    for group in groups:
        group["targets"] = [f"127.0.0.1:{ports[group['labels']['component']]}"]
    return config


@pytest.fixture(scope="module")
def prometheus(
    stack: dict[str, ServiceProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A Prometheus of this test's own on a free port, scraping the stack; its base URL."""
    workdir = tmp_path_factory.mktemp("prometheus")
    config_path = workdir / "prometheus.yml"
    rules = PROMETHEUS_DIR / "pacta.rules.yml"
    config_path.write_text(yaml.safe_dump(scrape_config(stack, rules)))
    port = free_port()
    daemon = Daemon(
        "prometheus",
        [
            require("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        f"http://127.0.0.1:{port}",
        workdir,
    )
    try:
        yield daemon.url
    finally:
        daemon.stop()


def query(base: str, expr: str) -> list[dict[str, Any]]:
    """Run an instant query; a PromQL error fails the test, an empty result is returned."""
    r = httpx.get(base + "/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert r.status_code == 200, f"{expr!r}: {body}"
    assert body["status"] == "success", f"{expr!r}: {body}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def expand(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def dashboard_exprs(name: str) -> list[str]:
    board = json.loads((DASHBOARDS / name).read_text())
    return [expand(t["expr"]) for p in board["panels"] for t in p.get("targets", [])]


def post_traffic(ingest: str) -> None:
    """One new, one duplicate and one invalid monitoring event, one ticket event, and one
    Alertmanager webhook (a native format)."""
    tag = uuid.uuid4().hex[:8]
    event = {
        "id": f"prom-{tag}",
        "service": f"prom-{tag}",
        "check": "http_5xx",
        "status": "firing",
        "severity": "critical",
        "occurred_at": ago(seconds=30),
    }
    ticket = {
        "ticket_id": f"PROM-{tag}",
        "service": f"prom-{tag}",
        "priority": "P3",
        "action": "created",
        "status": "open",
        "occurred_at": ago(seconds=20),
    }
    assert post(ingest, "/v1/events/monitoring", event).json()["accepted"] == 1
    assert post(ingest, "/v1/events/monitoring", event).json()["duplicates"] == 1
    assert post(ingest, "/v1/events/tickets", ticket).status_code == 202
    invalid = post(ingest, "/v1/events/monitoring", {"service": f"prom-{tag}"})
    assert invalid.status_code == 422, invalid.text
    webhook = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Latency", "service": f"prom-{tag}"},
                "startsAt": ago(seconds=10),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": tag,
            }
        ],
    }
    assert post(ingest, "/v1/ingest/alertmanager", webhook).status_code == 202


def sla_traffic(ingest: str, engine: str) -> str:
    """What the SLA dashboard shows: a service with an availability target that is down, and
    tickets that breach late, breach in real time (by the engine's timer) and meet."""
    tag = uuid.uuid4().hex[:8]
    service = f"dash-{tag}"
    policy = {
        "match": {"service": service},
        "targets": {"P1": {"response": "1m", "resolution": "1h"}},
        "availability": {"target": 99.9},
    }
    r = httpx.put(f"{engine}/v1/policies/{service}", json=policy, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text
    outage = {"service": service, "check": "probe", "status": "firing", "occurred_at": ago(hours=2)}
    assert post(ingest, "/v1/events/monitoring", outage).status_code == 202

    def ticket(name: str, action: str, **at: float) -> dict[str, Any]:
        return {
            "ticket_id": f"DASH-{tag}-{name}",
            "service": service,
            "priority": "P1",
            "action": action,
            "occurred_at": ago(**at),
        }

    tickets = [
        ticket("late", "created", minutes=3),  # breached long ago: warnings and breach at once
        ticket("timer", "created", seconds=50),  # breaches in ~10 s, by the timer
        ticket("met", "created", seconds=20),
        ticket("met", "responded", seconds=10),
    ]
    assert post(ingest, "/v1/events/tickets", tickets).status_code == 202
    return service


def test_prometheus_scrapes_every_service(
    prometheus: str, stack: dict[str, ServiceProcess]
) -> None:
    def all_up() -> bool:
        result = query(prometheus, 'up{job="pacta"}')
        up = {s["metric"]["component"] for s in result if s["value"][1] == "1"}
        return up == set(COMPONENTS.values()) and len(result) == len(COMPONENTS)

    wait_for('up{job="pacta"} == 1 for the four services', all_up, timeout=30, every=0.25)

    post_traffic(stack["ingest"].url)
    wait_for(
        "a pacta_kafka_produce_seconds_count series from ingest",
        lambda: query(prometheus, 'pacta_kafka_produce_seconds_count{component="ingest"}'),
        timeout=30,
        every=0.25,
    )

    def rules_evaluated() -> bool:
        body = httpx.get(prometheus + "/api/v1/rules", timeout=5).json()
        rules = [r for g in body["data"]["groups"] for r in g["rules"]]
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        assert not [b for b in bad if b[1]], f"rules failing: {bad}"
        return bool(rules) and not bad

    wait_for("the shipped alert rules to evaluate", rules_evaluated, timeout=30, every=0.25)


def wait_every_query(prometheus: str, exprs: list[str], timeout: float = 60.0) -> None:
    pending = set(exprs)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = {expr for expr in pending if not query(prometheus, expr)}
        time.sleep(0.5)
    assert not pending, f"no data within {timeout}s for:\n" + "\n".join(sorted(pending))


def alerting_traffic(stack: dict[str, ServiceProcess], hooks: Hooks) -> None:
    """What the alerting dashboard shows: tickets whose resolution target of 2 s breaches, routed
    (group_wait 0s) to a receiver that accepts and to one that refuses (HTTP 400: failed)."""
    tag = uuid.uuid4().hex[:8]
    alerting, engine = stack["alerting"].url, stack["sla_engine"].url
    ok, bad = f"dash-ok-{tag}", f"dash-bad-{tag}"
    for name, hook in ((ok, hooks.ok), (bad, hooks.bad)):
        body = {"type": "webhook", "url": hook.url(f"/{name}"), "secret": SECRET}
        put(alerting, f"/v1/receivers/{name}", body)
    put(
        alerting,
        "/v1/routes",
        {
            "receiver": ok,
            "group_by": ["ticket_id"],
            "group_wait": "0s",
            "routes": [{"matchers": [f'service="{bad}"'], "receiver": bad, "group_wait": "0s"}],
        },
    )
    for service in (ok, bad):
        policy = {
            "match": {"service": service},
            "targets": {"P1": {"response": "1h", "resolution": "2s"}},
        }
        put(engine, f"/v1/policies/{service}", policy)
        ticket = {
            "ticket_id": f"AL-{service}",
            "service": service,
            "priority": "P1",
            "action": "created",
            "occurred_at": ago(seconds=0),
        }
        assert post(stack["ingest"].url, "/v1/events/tickets", ticket).status_code == 202
    wait_for("the breach delivered", lambda: hooks.ok.accepted(f"/{ok}"), timeout=30)
    wait_for(
        "the breach refused",
        lambda: [r for r in hooks.bad.received if r.path == f"/{bad}"],
        timeout=30,
    )


def reporting_traffic(stack: dict[str, ServiceProcess]) -> None:
    """What the reporting dashboard shows: records for the read model (the SLA traffic's facts
    and tickets), a monthly report in every format and each trend."""
    service = sla_traffic(stack["ingest"].url, stack["sla_engine"].url)
    base = stack["reporting"].url
    month = datetime.now(UTC).strftime("%Y-%m")
    # the read model learns of the service once reporting has consumed its first record
    wait_for(
        f"reporting to know {service}",
        lambda: get_report(base, format="json", month=month, service=service).status_code == 200,
        timeout=30,
        every=0.25,
    )
    for format in ("json", "csv", "html", "pdf"):
        # one service: the shared stack holds every e2e test's services by now (a PDF of
        # them all is hundreds of pages), and the panel needs a report, not a big one
        r = get_report(base, format=format, month=month, service=service)
        assert r.status_code == 200, f"{format}: {r.status_code} {r.text[:300]}"
    for kind in ("availability", "breaches", "mttr"):
        r = httpx.get(f"{base}/v1/trends/{kind}", headers=ADMIN, timeout=30)
        assert r.status_code == 200, f"{kind}: {r.status_code} {r.text[:300]}"


@dataclass
class Hooks:
    ok: WebhookCollector
    bad: WebhookCollector


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    ok, bad = WebhookCollector(), WebhookCollector(status=400)
    try:
        yield Hooks(ok, bad)
    finally:
        ok.close()
        bad.close()


def put(base: str, path: str, body: object) -> None:
    r = httpx.put(base + path, json=body, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"


def overview_traffic(stack: dict[str, ServiceProcess]) -> None:
    post_traffic(stack["ingest"].url)  # rejected, duplicated and consumed series need traffic
    sla_traffic(stack["ingest"].url, stack["sla_engine"].url)  # detection lag needs a timer


#: Every shipped dashboard -> the traffic through the real services that gives each of its
#: panels data. A new dashboard without an entry fails the test below.
TRAFFIC: dict[str, Callable[[dict[str, ServiceProcess], Hooks], None]] = {
    "pacta-overview.json": lambda stack, _: overview_traffic(stack),
    "pacta-sla.json": lambda stack, _: sla_traffic(stack["ingest"].url, stack["sla_engine"].url),
    "pacta-alerting.json": alerting_traffic,
    "pacta-reporting.json": lambda stack, _: reporting_traffic(stack),
}
BOARDS = sorted(p.name for p in DASHBOARDS.glob("*.json"))
#: Beyond "some data": the label values the traffic above must have produced (query, label).
SERIES: dict[str, list[tuple[str, str, set[str]]]] = {
    "pacta-alerting.json": [
        ("sum by (outcome) (pacta_notifications_total)", "outcome", {"delivered", "failed"}),
        ("sum by (kind) (pacta_alerting_signals_total)", "kind", {"breach"}),
    ],
    "pacta-reporting.json": [
        (
            "sum by (format) (pacta_report_generation_seconds_count)",
            "format",
            {"json", "csv", "html", "pdf", "trend_availability", "trend_breaches", "trend_mttr"},
        ),
    ],
}


@pytest.mark.parametrize("board", BOARDS)
def test_every_panel_of_the_dashboard_returns_data(
    prometheus: str, stack: dict[str, ServiceProcess], hooks: Hooks, board: str
) -> None:
    assert board in TRAFFIC, f"{board}: say in TRAFFIC which traffic gives its panels data"
    TRAFFIC[board](stack, hooks)
    wait_every_query(prometheus, dashboard_exprs(board))
    for expr, label, wanted in SERIES.get(board, []):
        what = f"{expr} to have {label} {sorted(wanted)}"
        wait_for(what, has_values(prometheus, expr, label, wanted), timeout=10, every=0.25)


def has_values(prometheus: str, expr: str, label: str, wanted: set[str]) -> Callable[[], bool]:
    return lambda: wanted <= {s["metric"].get(label) for s in query(prometheus, expr)}


@pytest.mark.parametrize("board", BOARDS)
def test_every_shipped_dashboard_query_is_valid_promql(prometheus: str, board: str) -> None:
    # Prometheus itself parses each query, data or not
    for expr in dashboard_exprs(board):
        query(prometheus, expr)


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_shipped_prometheus_config_passes_promtool(config: str) -> None:
    promtool = require("promtool")
    out = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS_DIR / config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
