"""deploy/config/ (mounted by docker-compose.yml for config as code) starts the services as it
is, and the examples commented out in it are valid once uncommented."""

from __future__ import annotations

from pathlib import Path

from alerting import config_file
from sla_engine.resources.config_files import read_config_dir

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "config"


def uncommented(path: Path, into: Path) -> Path:
    """The file with its example lines (`# ` followed by YAML, after the prose) uncommented."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip() == "#")
    body = [line[2:] for line in lines[start + 1 :] if line.startswith("# ")]
    into.write_text("\n".join(body) + "\n")
    return into


def test_the_files_as_shipped_define_nothing() -> None:
    found = read_config_dir(str(CONFIG / "sla-engine"))
    assert (found.calendars, found.policies) == ({}, {})
    shipped = config_file.read(str(CONFIG / "alerting.yaml"))
    assert (shipped.receivers, shipped.route) == ({}, None)


def test_the_commented_examples_are_valid(tmp_path: Path) -> None:
    folder = tmp_path / "sla-engine"
    folder.mkdir()
    uncommented(CONFIG / "sla-engine" / "example.yaml", folder / "example.yaml")
    found = read_config_dir(str(folder))
    assert set(found.calendars) == {"berlin-office"}
    assert set(found.policies) == {"checkout-gold"}
    alerting = config_file.read(str(uncommented(CONFIG / "alerting.yaml", tmp_path / "a.yaml")))
    assert set(alerting.receivers) == {"oncall"}
    assert alerting.route is not None
