"""`make demo`'s loader against the running services, at a small scale: it loads last month and
the month's report then has tickets, availability, maintenance and the late correction."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pacta_cli.demo_data import build
from tests.e2e.test_cli import cli_env
from tests.support.client import ADMIN_KEY
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(own_stack: dict[str, ServiceProcess]) -> dict[str, ServiceProcess]:
    """A stack of this module's own: what it loads (routes, catch-all policies, services a
    user would name) must not reach the other end-to-end tests."""
    return own_stack


def test_the_demo_loads_a_month_worth_reading(
    stack: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    prefix = f"d{uuid.uuid4().hex[:6]}-"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pacta_cli.demo",
            "--tickets",
            "40",
            "--prefix",
            prefix,
            "--wait",
            "120",
        ],
        env=cli_env(stack, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    month = build(datetime.now(UTC), tickets=40, prefix=prefix)
    assert f"month={month.name}" in done.stdout
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    reporting = stack["reporting"].url

    def report() -> list[dict[str, Any]]:
        r = httpx.get(
            f"{reporting}/v1/reports/monthly",
            params={"month": month.name},
            headers=headers,
            timeout=30,
        )
        r.raise_for_status()
        return [s for s in r.json()["services"] if str(s["service"]).startswith(prefix)]

    rows = report()
    tickets = sum(int(s["tickets"]["total"]) for s in rows)
    assert tickets >= 30  # tickets created in the month (a few may start the next one)
    assert any(s["availability"]["downtime_seconds"] for s in rows)
    # the late correction reached the engine: the ERP upgrade lies inside a window
    windows = httpx.get(
        f"{stack['sla_engine'].url}/v1/maintenance-windows",
        params={"service": f"{prefix}erp"},
        headers=headers,
        timeout=10,
    ).json()
    assert month.correction["id"] in [w["id"] for w in windows["items"]]

    def erp_restated() -> bool:
        erp = next(s for s in report() if s["service"] == f"{prefix}erp")
        return bool(erp["availability"]["downtime_seconds"] == 0)

    wait_for("the ERP upgrade taken out of downtime", erp_restated, timeout=60, every=1)
    # loading again adds nothing: the same ids are duplicates
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "pacta_cli.demo",
            "--tickets",
            "40",
            "--prefix",
            prefix,
            "--wait",
            "0",
        ],
        env=cli_env(stack, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "\n0 monitoring and 0 ticket events" in again.stdout
