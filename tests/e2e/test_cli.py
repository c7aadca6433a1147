"""The `pacta` command run as a user runs it (a subprocess) against the four services: events in,
config as code applied once, routes tested, silences, alerts acknowledged, a PDF out, and exit
codes a script can rely on."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerting import WebhookCollector
from tests.support.client import ADMIN_KEY
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e


def cli_env(stack: dict[str, ServiceProcess], home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PACTA_INGEST_URL": stack["ingest"].url,
        "PACTA_SLA_ENGINE_URL": stack["sla_engine"].url,
        "PACTA_ALERTING_URL": stack["alerting"].url,
        "PACTA_REPORTING_URL": stack["reporting"].url,
        "PACTA_API_KEY": ADMIN_KEY,
    }


class Pacta:
    """`pacta ARGS...` as a subprocess; the answer's exit code, stdout and stderr."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, code: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "pacta_cli", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == code, (
            f"pacta {' '.join(args)}: exit {done.returncode}, wanted {code}\n"
            f"stdout: {done.stdout}\nstderr: {done.stderr}"
        )
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--output", "json").stdout)


@pytest.fixture
def pacta(stack: dict[str, ServiceProcess], tmp_path: Path) -> Pacta:
    return Pacta(cli_env(stack, tmp_path))


@pytest.fixture
def hook() -> Iterator[WebhookCollector]:
    collector = WebhookCollector()
    yield collector
    collector.close()


def test_events_go_in_and_bad_ones_name_the_field(pacta: Pacta, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    sent = pacta.json(
        "events",
        "send",
        "monitoring",
        "--service",
        f"cli-{tag}",
        "--check",
        "http",
        "--status",
        "firing",
        "--at",
        "-5m",
    )
    assert sent["accepted"] == 1
    again = pacta(
        "events",
        "send",
        "ticket",
        "--ticket-id",
        f"T-{tag}",
        "--service",
        f"cli-{tag}",
        "--priority",
        "P2",
        "--action",
        "created",
        "--status",
        "open",
    )
    assert "ACCEPTED" in again.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"service": "x", "check": "c", "status": "firing", "occurred_at": "2026-11-27T10:00:00"}
        )
    )
    refused = pacta("events", "send", "monitoring", "-f", str(bad), code=2)
    assert "occurred_at: needs an offset" in refused.stderr
    pacta("events", "send", "monitoring", "--service", "x", code=2)  # a flag missing
    pacta(
        "events",
        "send",
        "monitoring",
        "--service",
        "x",
        "--check",
        "c",
        "--status",
        "firing",
        "--at",
        "yesterday",
        code=2,
    )


def test_apply_shows_a_diff_writes_once_and_then_changes_nothing(
    pacta: Pacta, tmp_path: Path, hook: WebhookCollector
) -> None:
    tag = uuid.uuid4().hex[:8]
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "sla.yaml").write_text(f"""
calendars:
  office-{tag}:
    timezone: Europe/Berlin
    hours: {{mon: ["09:00-17:00"], tue: ["09:00-17:00"]}}
policies:
  gold-{tag}:
    match: {{service: cli-{tag}}}
    calendar: office-{tag}
    targets: {{P1: {{response: 15m, resolution: 4h}}}}
    pause_statuses: [waiting_for_customer]
""")
    (folder / "alerting.yaml").write_text(f"""
receivers:
  hook-{tag}: {{type: webhook, url: "{hook.url("/cli")}", secret: s3cret}}
escalation_policies:
  page-{tag}:
    steps:
      - {{after: 0s, receivers: [hook-{tag}]}}
      - {{after: 15m, receivers: [hook-{tag}]}}
route:
  receiver: hook-{tag}
  group_by: [ticket_id]
  routes:
    - matchers: ['service="cli-{tag}"']
      receiver: hook-{tag}
    - matchers: ['service="cli-{tag}"', kind=breach]
      escalation: page-{tag}
inhibit_rules:
  - source_matchers: [kind=availability_breach]
    target_matchers: [kind=warning, metric=response]
    equal: [service]
""")
    dry = pacta("apply", "-f", str(folder), "--dry-run")
    assert "6 of 6 resources would change" in dry.stdout
    assert "+    response: 15m" in dry.stdout
    pacta("clocks", "--service", f"cli-{tag}")  # reading works before anything exists
    first = pacta("apply", "-f", str(folder))
    assert f"applied policies/gold-{tag}" in first.stdout
    second = pacta("apply", "-f", str(folder))
    assert "0 of 6 resources changing" in second.stdout, second.stdout
    # a change shows as a diff of that one field
    (folder / "sla.yaml").write_text(
        (folder / "sla.yaml").read_text().replace("resolution: 4h", "resolution: 2h")
    )
    third = pacta("apply", "-f", str(folder))
    assert "-    resolution: 4h" in third.stdout
    assert "+    resolution: 2h" in third.stdout
    assert "1 of 6 resources changing" in third.stdout
    routed = pacta.json("routes", "test", f"service=cli-{tag}", "kind=breach")
    assert [m["receiver"] for m in routed["matches"]] == [f"hook-{tag}"]
    # invalid config: the server's 422 names the field, exit 2
    (folder / "sla.yaml").write_text(f"policies:\n  bad-{tag}: {{calendar: nowhere-{tag}}}\n")
    refused = pacta("apply", "-f", str(folder), code=2)
    assert "PUT /v1/policies/bad-" in refused.stderr
    assert ": 422" in refused.stderr


def test_silences_alerts_and_reports(pacta: Pacta, tmp_path: Path, hook: WebhookCollector) -> None:
    tag = uuid.uuid4().hex[:8]
    service = f"cli-{tag}"
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "all.yaml").write_text(f"""
policies:
  fast-{tag}:
    match: {{service: {service}}}
    warn_at: [0.5]
    targets: {{P1: {{response: 1h, resolution: 2s}}}}
receivers:
  hook-{tag}: {{type: webhook, url: "{hook.url("/alerts")}", secret: s3cret}}
route:
  receiver: hook-{tag}
  group_by: [ticket_id]
  group_wait: 0s
""")
    pacta("apply", "-f", str(folder), "-q")
    silence = pacta(
        "silence", "add", f"service={service}", "ticket_id=nothing", "-d", "2h", "-c", "cli test"
    ).stdout.strip()
    assert silence.startswith("si-")
    assert silence in pacta("silence", "list").stdout
    pacta(
        "events",
        "send",
        "ticket",
        "--ticket-id",
        f"T-{tag}",
        "--service",
        service,
        "--priority",
        "P1",
        "--action",
        "created",
        "--status",
        "open",
    )

    def breached() -> list[dict[str, Any]]:
        return [
            a
            for a in pacta.json(
                "alerts", "list", "--state", "firing", f"service={service}", "kind=breach"
            )["items"]
        ]

    alerts = wait_for("the breach alert", breached, timeout=60, every=0.5)
    assert all(a["service"] == service for a in alerts)
    assert pacta.json("alerts", "list", f"service={service}", "kind=nothing")["items"] == []
    quiet = pacta("alerts", "list", "-q", "--state", "firing", f"service={service}")
    assert set(quiet.stdout.split()) >= {a["id"] for a in alerts}
    acked = pacta.json("alerts", "ack", alerts[0]["id"])
    assert acked["state"] == "acknowledged"
    pacta("silence", "expire", silence)
    assert silence not in pacta("silence", "list").stdout
    assert silence in pacta("silence", "list", "--all").stdout
    pdf = tmp_path / "month.pdf"
    pacta("report", "this", "--format", "pdf", "-o", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    month = json.loads(pacta("report", "this").stdout)
    assert "services" in month or "tickets" in month
    pacta("report", "2026-13", code=2)
    # the server refuses (404): exit 1; nobody listening: exit 1
    missing = pacta("alerts", "ack", "no-such-alert", code=1)
    assert "404" in missing.stderr
    down = pacta("clocks", code=1, PACTA_SLA_ENGINE_URL="http://127.0.0.1:9")
    assert "does not answer" in down.stderr
    pacta("clocks", code=2, PACTA_API_KEY="")


def test_completion_and_config_file(pacta: Pacta, tmp_path: Path) -> None:
    assert "_PACTA_COMPLETE" in pacta("completion", "bash").stdout
    config = tmp_path / "config" / "pacta" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"api_key: {ADMIN_KEY}\n")
    pacta("clocks", "--ticket-id", "none", PACTA_API_KEY="")  # the key from the file
    config.write_text("api_keys: typo\n")
    assert "unknown keys" in pacta("clocks", code=2, PACTA_API_KEY="").stderr


def test_import_alertmanager_dry_run_and_a_bad_file(pacta: Pacta, tmp_path: Path) -> None:
    config = Path(__file__).parents[1] / "fixtures" / "alertmanager" / "migration.yml"
    dry = pacta("import", "alertmanager", str(config), "--dry-run")
    assert dry.stdout.startswith("would import "), dry.stdout
    answer = pacta.json("import", "alertmanager", str(config), "--dry-run")
    assert answer["receivers"], answer
    assert "routes" in answer
    broken = tmp_path / "broken.yml"
    broken.write_text("route: [not, a, tree\n")
    refused = pacta("import", "alertmanager", str(broken), code=2)
    assert refused.stderr.strip(), "a refused import names what is wrong"
