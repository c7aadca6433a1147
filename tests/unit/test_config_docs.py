"""The README's configuration table lists every setting the services read, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from alerting.settings import AlertingSettings
from ingest.settings import IngestSettings
from reporting.settings import ReportingSettings
from sla_engine.settings import EngineSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"^\| `(PACTA_[A-Z0-9_]+)`", README.read_text(), re.M))
    read = {
        f"PACTA_{name.upper()}"
        for cls in (IngestSettings, EngineSettings, AlertingSettings, ReportingSettings)
        for name in cls.model_fields
    }
    assert read - documented == set(), "settings missing from the README table"
    assert documented - read == set(), "README documents settings nobody reads"
