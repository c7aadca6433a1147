"""Alertmanager's own tools as oracles: `amtool config routes test` for routing, and a real
Alertmanager process for inhibition and silences (Debian's prometheus-alertmanager)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

SIMPLE_EXAMPLE = Path("/usr/share/doc/prometheus-alertmanager/examples/simple.yml")
INSTALL = "install Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager)"


def amtool() -> str:
    found = shutil.which("amtool")
    assert found, f"amtool is needed: {INSTALL}"
    return found


def routes_test(config: Path, labels: Mapping[str, str]) -> list[str]:
    """The receivers `amtool config routes test` names for `labels`, in tree order."""
    args = [f"{k}={v}" for k, v in sorted(labels.items())]
    done = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(",")
