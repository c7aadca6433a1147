"""deploy/helm/pacta passes `helm lint`, and `helm template` renders the four services as
Deployments with probes, resources and scrape annotations, a Secret for the keys, and every
setting the services read (helm is built by deploy/local/helm.sh, which `make test` runs)."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.settings import AlertingSettings
from ingest.settings import IngestSettings
from pacta.settings import CommonSettings
from reporting.settings import ReportingSettings
from sla_engine.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "pacta"
SETTINGS: dict[str, type[CommonSettings]] = {
    "ingest": IngestSettings,
    "sla-engine": EngineSettings,
    "alerting": AlertingSettings,
    "reporting": ReportingSettings,
}
MODULES = {
    "ingest": "ingest",
    "sla-engine": "sla_engine",
    "alerting": "alerting",
    "reporting": "reporting",
}
REQUIRED = ["--set", "secrets.apiKeys=k8s-admin:admin"]


@cache
def helm() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "deploy/local/helm.sh")], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        pytest.fail(f"deploy/local/helm.sh could not provide helm:\n{out.stderr}")
    return out.stdout.strip()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm(), *args], capture_output=True, text=True, check=False, timeout=120)


def render(*extra: str) -> list[dict[str, Any]]:
    out = run("template", "pacta", str(CHART), *REQUIRED, *extra)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def env_names(container: dict[str, Any]) -> set[str]:
    return {e["name"] for e in container["env"]}


def test_helm_lint_passes() -> None:
    out = run("lint", "--strict", str(CHART), *REQUIRED)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_api_keys_are_required() -> None:
    out = run("template", "pacta", str(CHART))
    assert out.returncode != 0
    assert "secrets.apiKeys is required" in out.stderr


def test_four_deployments_with_probes_resources_and_scrape_annotations() -> None:
    docs = render()
    deployments = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in docs
        if d["kind"] == "Deployment"
    }
    assert set(deployments) == set(SETTINGS)
    for name, d in deployments.items():
        pod = d["spec"]["template"]
        [container] = pod["spec"]["containers"]
        assert container["command"] == ["python", "-m", MODULES[name]]
        port = container["ports"][0]["containerPort"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        assert d["spec"]["replicas"] >= 2
        # the port the service listens on is the one the probes and the Service use
        own_port = f"PACTA_{name.replace('-', '_').upper()}_PORT"
        assert {"name": own_port, "value": str(port)} in container["env"]
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert services == {f"pacta-{n}" for n in SETTINGS}


def test_every_setting_is_named_in_the_rendered_manifests() -> None:
    """Each Deployment sets every variable its service reads (the README's configuration
    table), from the values or the Secret; a setting added to the code and not to the chart
    fails here."""
    docs = render()
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        name = d["metadata"]["labels"]["app.kubernetes.io/component"]
        [container] = d["spec"]["template"]["spec"]["containers"]
        read = {f"PACTA_{field.upper()}" for field in SETTINGS[name].model_fields}
        missing = read - env_names(container)
        assert not missing, f"{name}: the chart does not set {sorted(missing)}"
        foreign = {
            f"PACTA_{field.upper()}"
            for other, cls in SETTINGS.items()
            if other != name
            for field in cls.model_fields
            if field not in CommonSettings.model_fields
        } & env_names(container)
        assert not foreign, f"{name}: the chart sets settings of other services: {foreign}"


def test_secrets_come_from_the_secret() -> None:
    docs = render("--set", "secrets.alertingConfig=receivers: []")
    [secret] = [d for d in docs if d["kind"] == "Secret"]
    assert secret["stringData"]["api-keys"] == "k8s-admin:admin"
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        [container] = d["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        for key in ("PACTA_API_KEYS", "PACTA_DATABASE_URL"):
            assert env[key]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
        if "PACTA_ALERTING_CONFIG_FILE" in env:  # the receivers' secrets, mounted as a file
            path = env["PACTA_ALERTING_CONFIG_FILE"]["value"]
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert str(Path(path).parent) in mounts
