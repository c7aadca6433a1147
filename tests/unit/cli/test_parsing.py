"""The CLI's small parsers: the config's precedence, months, instants, label matchers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import pytest

from pacta_cli.commands_alerting import matches
from pacta_cli.commands_reports import month_of
from pacta_cli.common import parse_instant, parse_labels
from pacta_cli.config import ConfigError, load_config


def test_flags_beat_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    file = tmp_path / "pacta" / "config.yaml"
    file.parent.mkdir()
    file.write_text("api_key: from-file\nalerting_url: http://alerts:9003/\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    config = load_config(environ=env)
    assert config.api_key == "from-file"
    assert config.urls["alerting"] == "http://alerts:9003"
    assert config.urls["ingest"] == "http://127.0.0.1:8001"
    env["PACTA_API_KEY"], env["PACTA_ALERTING_URL"] = "from-env", "http://other:1"
    config = load_config(environ=env)
    assert (config.api_key, config.urls["alerting"]) == ("from-env", "http://other:1")
    assert load_config(environ=env, api_key="from-flag").api_key == "from-flag"


def test_a_bad_config_file_is_named(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("api_keys: x\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown keys \['api_keys'\]"):
        load_config(path=str(file), environ={})
    with pytest.raises(ConfigError, match="no such file"):
        load_config(path=str(tmp_path / "none.yaml"), environ={})
    assert load_config(environ={"XDG_CONFIG_HOME": str(tmp_path)}).api_key is None


def test_months() -> None:
    assert month_of("last", date(2026, 1, 15)) == "2025-12"
    assert month_of("this", date(2026, 1, 15)) == "2026-01"
    assert month_of("2026-11") == "2026-11"
    with pytest.raises(click.BadParameter):
        month_of("2026-13")


def test_instants_and_labels() -> None:
    assert parse_instant("2026-11-27T10:00:00+01:00") == "2026-11-27T09:00:00Z"
    assert parse_instant("-15m") < parse_instant("now") < parse_instant("+1h")
    for bad in ("2026-11-27T10:00:00", "yesterday", "-soon"):
        with pytest.raises(click.BadParameter):
            parse_instant(bad)
    assert parse_labels(("kind=breach", "service=a=b")) == {"kind": "breach", "service": "a=b"}
    with pytest.raises(click.BadParameter):
        parse_labels(("kind",))


def test_label_matchers_filter_like_alertmanager() -> None:
    labels = {"kind": "breach", "service": "checkout", "priority": "P1"}
    assert matches(labels, "kind=breach")
    assert not matches(labels, "kind=warning")
    assert matches(labels, 'kind=~"breach|warning"')
    assert not matches(labels, "kind=~brea")
    assert matches(labels, "priority!=P4")
    assert matches(labels, "kind!~warn.*")
    assert matches(labels, "customer=")
    assert not matches(labels, "customer!=")
    with pytest.raises(ValueError, match="name=value"):
        matches(labels, "kind")
