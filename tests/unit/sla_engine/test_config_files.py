"""Config as code: what a folder of YAML files may hold, and how a bad one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_engine.resources.config_files import read_config_dir

GOOD = """
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-17:00"]}
    holidays: [2026-12-24]
policies:
  gold:
    calendar: office
    targets: {P1: {response: 15m, resolution: PT4H}}
"""


def test_a_folder_of_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(
        "policies:\n  silver: {targets: {P2: {response: 1h, resolution: 8h}}}\n"
    )
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    (tmp_path / "notes.txt").write_text("calendars: [")
    found = read_config_dir(str(tmp_path))
    assert sorted(found.calendars) == ["office"]
    assert sorted(found.policies) == ["gold", "silver"]
    assert found.policies["gold"].targets["P1"].resolution == 14_400
    assert [str(d) for d in found.calendars["office"].holidays] == ["2026-12-24"]
    assert found.sources[("policies", "silver")].name == "b.yml"


def test_no_folder_configured_is_nothing() -> None:
    found = read_config_dir("")
    assert (found.calendars, found.policies) == ({}, {})


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no-such-folder"):
        read_config_dir(str(tmp_path / "no-such-folder"))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("- calendars\n", "top level must be a mapping"),
        ("polices:\n  p: {}\n", "unknown sections ['polices']"),
        ("calendars: [office]\n", "calendars: must be a mapping"),
        ("calendars:\n  '../x': {timezone: UTC}\n", "calendars.../x: a name is"),
        ("calendars:\n  has space: {timezone: UTC}\n", "calendars.has space"),
        ("calendars:\n  24x7: {timezone: Europe/Berlin}\n", "calendars.24x7: is built in"),
        ("calendars:\n  c: {timezone: Nowhere/City}\n", "calendars.c: timezone:"),
        ("calendars:\n  c: {hours: {mon: ['25:00-26:00']}}\n", "calendars.c: hours:"),
        (
            "policies:\n  p: {targets: {P1: {response: -5m, resolution: 4h}}}\n",
            "targets.P1.response",
        ),
        ("policies:\n  p: {match: [unclosed\n", "while parsing"),
        (
            "policies:\n  gold: {targets: {P1: {response: 1m, resolution: 1h}}}\n",
            "already defined in a.yaml",
        ),
    ],
)
def test_a_bad_file_is_named(tmp_path: Path, content: str, says: str) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "z.yaml").write_text(content)
    with pytest.raises(ValueError, match=r"^config file ") as caught:
        read_config_dir(str(tmp_path))
    message = str(caught.value)
    assert message.startswith(f"config file {tmp_path / 'z.yaml'}: "), message
    assert says in message, message
