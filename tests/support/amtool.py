"""Alertmanager's own tools as oracles: `amtool config routes test` for routing, and a real
Alertmanager process for inhibition and silences (Debian's prometheus-alertmanager)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.processes import free_port, wait_for

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


class RealAlertmanager:
    """Debian's Alertmanager on a free port (never 9093, Kafka's controller port here), its
    configuration reloadable, read through its API v2."""

    def __init__(self, work: Path) -> None:
        binary = shutil.which("prometheus-alertmanager")
        assert binary, f"prometheus-alertmanager is needed: {INSTALL}"
        self.config = work / "alertmanager.yml"
        self.config.write_text(yaml.safe_dump(EMPTY))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (work / "alertmanager.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self.config}",
                f"--storage.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--web.external-url={self.url}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for("alertmanager ready", self._ready, 60)

    def _ready(self) -> bool:
        assert self.proc.poll() is None, "alertmanager exited"
        try:
            return httpx.get(self.url + "/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def reload(self, document: Mapping[str, Any]) -> None:
        self.config.write_text(yaml.safe_dump({**EMPTY, **document}))
        r = httpx.post(self.url + "/-/reload", timeout=10)
        assert r.status_code == 200, r.text

    def post_alerts(self, label_sets: list[dict[str, str]]) -> None:
        r = httpx.post(
            self.url + "/api/v2/alerts", json=[{"labels": ls} for ls in label_sets], timeout=10
        )
        assert r.status_code == 200, r.text

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        r = httpx.get(self.url + "/api/v2/alerts", params=params, timeout=10)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    def add_silence(self, matchers: list[dict[str, Any]]) -> httpx.Response:
        now = datetime.now(UTC)
        body = {
            "matchers": matchers,
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "pacta-tests",
            "comment": "oracle",
        }
        return httpx.post(self.url + "/api/v2/silences", json=body, timeout=10)

    def expire_silence(self, silence_id: str) -> None:
        httpx.delete(f"{self.url}/api/v2/silence/{silence_id}", timeout=10)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


EMPTY: dict[str, Any] = {"route": {"receiver": "nobody"}, "receivers": [{"name": "nobody"}]}
