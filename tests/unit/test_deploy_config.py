"""deploy/ and docker-compose.yml agree with the code: modules, ports, settings, metric names."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pacta.settings import DEV_API_KEYS, CommonSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
PROMETHEUS = DEPLOY / "prometheus"

#: compose service -> module run by `python -m`; the Prometheus `component` label is the key.
PACTA_SERVICES = {
    "ingest": "ingest",
    "sla-engine": "sla_engine",
    "alerting": "alerting",
    "reporting": "reporting",
}
BUILTIN_METRICS = {"up"}
METRIC_IN_EXPR = re.compile(r"\b(pacta_[a-z0-9_]+|up)\b(?!\s*\()")
DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*[\"'](pacta_[a-z0-9_]+)[\"']")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    services: dict[str, Any] = load_yaml(ROOT / "docker-compose.yml")["services"]
    return services


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def resolve(value: str) -> str:
    """Compose's `${VAR:-default}` as seen with VAR unset: what a fresh checkout runs with."""
    return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", r"\1", value)


def command_module(service: dict[str, Any]) -> str:
    command = service["command"]
    assert isinstance(command, list), "commands are exec form lists"
    assert command[:2] == ["python", "-m"], command
    assert len(command) == 3, command
    return str(command[2])


def settings_class(module: str) -> type[CommonSettings]:
    """The settings class of the package a module belongs to (`pacta.topics` -> CommonSettings)."""
    package = module.split(".")[0]
    found = [
        cls
        for _, cls in inspect.getmembers(importlib.import_module(f"{package}.settings"))
        if inspect.isclass(cls) and issubclass(cls, CommonSettings)
    ]
    most_derived = [c for c in found if not any(o is not c and issubclass(o, c) for o in found)]
    assert len(most_derived) == 1, f"{package}.settings: settings classes {most_derived}"
    return most_derived[0]


def default_port(module: str) -> int:
    fields = settings_class(module).model_fields
    ports = [name for name in fields if name.endswith("_port")]
    assert len(ports) == 1, f"{module}: port fields {ports}"
    default = fields[ports[0]].default
    assert isinstance(default, int)
    return default


def container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).split(":")[-1].split("/")[0]) for p in service.get("ports", [])}


# --- docker-compose.yml --------------------------------------------------------------------


def test_compose_has_the_infrastructure(compose: dict[str, Any]) -> None:
    images = {name: str(s.get("image", "")) for name, s in compose.items()}
    assert images["kafka"].startswith("apache/kafka:")
    assert images["postgres"].startswith("postgres:15")
    assert images["prometheus"].startswith("prom/prometheus:")
    assert images["grafana"].startswith("grafana/grafana:")
    kafka = environment(compose["kafka"])
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft, one combined node"
    assert "PLAINTEXT://kafka:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", "topics come from pacta.topics"
    pg = environment(compose["postgres"])
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == ("pacta",) * 3
    for infra in ("kafka", "postgres"):
        assert "healthcheck" in compose[infra], f"{infra} needs a healthcheck for depends_on"


@pytest.mark.parametrize("name", [*PACTA_SERVICES, "topics"])
def test_compose_service_runs_an_existing_module(compose: dict[str, Any], name: str) -> None:
    service = compose[name]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / service["build"]["dockerfile"]).is_file()
    module = command_module(service)
    if name in PACTA_SERVICES:
        assert module == PACTA_SERVICES[name]
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{name}: no module {module}"
    if spec.submodule_search_locations is not None:  # a package runs its __main__
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module}.__main__"


@pytest.mark.parametrize("name", [*PACTA_SERVICES, "topics"])
def test_compose_environment_is_settings(compose: dict[str, Any], name: str) -> None:
    service = compose[name]
    cls = settings_class(command_module(service))
    env = environment(service)
    values = {
        k[len("PACTA_") :].lower(): resolve(v) for k, v in env.items() if k.startswith("PACTA_")
    }
    unknown = set(values) - set(cls.model_fields)
    assert not unknown, f"{name}: {sorted(unknown)} are not fields of {cls.__name__}"
    cls.model_validate(values)  # and every value is acceptable to it
    assert env["PACTA_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert "@postgres:5432/pacta" in env["PACTA_DATABASE_URL"]
    assert values["api_keys"] == DEV_API_KEYS
    assert "${PACTA_API_KEYS" in env["PACTA_API_KEYS"], "the caller's keys are passed through"
    assert env["PACTA_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", list(PACTA_SERVICES))
def test_compose_ports_and_health_match_settings(compose: dict[str, Any], name: str) -> None:
    service = compose[name]
    module = command_module(service)
    port = default_port(module)
    assert container_ports(service) == {port}
    env = environment(service)
    port_var = f"PACTA_{module.upper()}_PORT"
    assert env.get(port_var, str(port)) == str(port)
    health = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in health
    depends = service["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"


def test_compose_mounts_prometheus_and_grafana_files(compose: dict[str, Any]) -> None:
    def mounts(name: str) -> dict[str, str]:
        pairs = (str(v).split(":") for v in compose[name]["volumes"])
        return {p[1]: p[0] for p in pairs if p[0].startswith("./")}

    prom = mounts("prometheus")
    config = next(a for a in compose["prometheus"]["command"] if a.startswith("--config.file="))
    inside = Path(config.split("=", 1)[1])
    assert (ROOT / prom[str(inside.parent)] / inside.name).is_file()
    grafana = mounts("grafana")
    for folder in grafana.values():
        assert (ROOT / folder).is_dir(), folder
    env = environment(compose["grafana"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    providers = load_yaml(DEPLOY / "grafana/provisioning/dashboards/pacta.yml")["providers"]
    for provider in providers:
        assert grafana[provider["options"]["path"]] == "./deploy/grafana/dashboards"


# --- Prometheus ----------------------------------------------------------------------------


def scrape_targets(path: Path) -> dict[str, str]:
    """`component` label -> target address of the `pacta` job."""
    jobs = {j["job_name"]: j for j in load_yaml(path)["scrape_configs"]}
    return {
        group["labels"]["component"]: target
        for group in jobs["pacta"]["static_configs"]
        for target in group["targets"]
    }


def test_local_prometheus_scrapes_the_default_ports() -> None:
    expected = {name: f"127.0.0.1:{default_port(m)}" for name, m in PACTA_SERVICES.items()}
    assert scrape_targets(PROMETHEUS / "prometheus.yml") == expected


def test_compose_prometheus_scrapes_the_compose_services(compose: dict[str, Any]) -> None:
    expected = {name: f"{name}:{default_port(m)}" for name, m in PACTA_SERVICES.items()}
    assert scrape_targets(PROMETHEUS / "prometheus.compose.yml") == expected
    assert set(expected) <= set(compose)


# --- Grafana -------------------------------------------------------------------------------


def defined_metrics() -> dict[str, str]:
    """Metric name -> type, for every metric constructed in shared/ and services/."""
    found: dict[str, str] = {}
    for folder in ("shared", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            for kind, name in DEFINITION.findall(path.read_text()):
                found[name] = kind
    return found


def exposed_names(defined: dict[str, str]) -> set[str]:
    """The series names Prometheus sees for those metrics (prometheus_client's suffixes)."""
    names: set[str] = set()
    for name, kind in defined.items():
        base = name.removesuffix("_total") if kind == "Counter" else name
        names |= {
            "Counter": {f"{base}_total"},
            "Gauge": {name},
            "Histogram": {f"{name}_bucket", f"{name}_count", f"{name}_sum"},
            "Summary": {name, f"{name}_count", f"{name}_sum"},
        }[kind]
    return names


def dashboard_exprs(name: str) -> list[str]:
    board = json.loads((DASHBOARDS / name).read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return set(METRIC_IN_EXPR.findall(without_strings))


def test_dashboards_parse_and_use_the_provisioned_datasource() -> None:
    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    uids = {d["uid"] for d in datasources["datasources"]}
    boards = sorted(DASHBOARDS.glob("*.json"))
    assert {b.name for b in boards} >= {"pacta-overview.json", "pacta-sla.json"}
    seen_uids = set()
    for path in boards:
        board = json.loads(path.read_text())
        assert board["uid"] not in seen_uids
        seen_uids.add(board["uid"])
        assert 36 <= board["schemaVersion"] <= 41
        panel_ids = [p["id"] for p in board["panels"]]
        assert len(panel_ids) == len(set(panel_ids)), f"{path.name}: duplicate panel ids"
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in uids, f"{path.name}: {panel['title']}"
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"


def test_overview_queries_only_metrics_the_code_defines() -> None:
    known = exposed_names(defined_metrics()) | BUILTIN_METRICS
    for expr in dashboard_exprs("pacta-overview.json"):
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= known, f"{sorted(names - known)} in {expr!r} are not defined in the code"


def test_sla_dashboard_queries_only_metrics_the_code_defines() -> None:
    known = exposed_names(defined_metrics()) | BUILTIN_METRICS
    for expr in dashboard_exprs("pacta-sla.json"):
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= known, f"{sorted(names - known)} in {expr!r} are not defined in the code"
