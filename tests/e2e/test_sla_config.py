"""Config as code (docs/design.md, "Configuration as code"): an sla-engine started with a folder of YAML files serves the
calendars and policies they define (origin `file`), a file wins over what the database had under
the same name, tickets run on them; and a bad file stops the start with a message naming it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.support.client import iso, poll_value, post
from tests.support.processes import ServiceProcess, wait_for
from tests.support.sla_api import call, local, put, stopped_at, utc, wait_clocks

pytestmark = pytest.mark.e2e

GOOD = """
# what a team keeps in git next to its services
calendars:
  office-{tag}:
    effective_from: 2026-11-01T00:00:00Z   # this version counts from then
    timezone: Europe/Berlin
    hours:
      mon: ["09:00-17:00"]
      tue: ["09:00-17:00"]
      wed: ["09:00-17:00"]
      thu: ["09:00-17:00"]
      fri: ["09:00-12:00", "13:00-17:00"]
    holidays: [2026-11-20]      # an unquoted YAML date
policies:
  office-{tag}:
    effective_from: "2026-11-01T00:00:00+00:00"
    match: {{service: svc-{tag}}}
    calendar: office-{tag}
    targets:
      P1: {{response: 15m, resolution: 4h}}
    pause_statuses: [waiting_for_customer]
    warn_at: [0.5]
  always-{tag}:
    match: {{service: always-{tag}}}
    calendar: 24x7
    targets:
      P2: {{response: 8h, resolution: 2d}}
"""


@pytest.fixture
def extra() -> Iterator[list[ServiceProcess]]:
    """Engines this test starts (beside the stack's), stopped whatever happens."""
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.stop()


def engine_with(
    folder: Path, service_env: dict[str, str], log_dir: Path, started: list[ServiceProcess]
) -> ServiceProcess:
    tag = uuid.uuid4().hex[:6]
    env = {
        **service_env,
        "PACTA_SLA_ENGINE_CONFIG_DIR": str(folder),
        "PACTA_INSTANCE_ID": f"config-{tag}",  # a member of the group of its own
    }
    process = ServiceProcess("sla_engine", env, log_dir)
    started.append(process)
    return process


async def test_files_define_calendars_and_policies_and_win_over_the_database(
    stack: dict[str, ServiceProcess],
    service_env: dict[str, str],
    log_dir: Path,
    tmp_path: Path,
    extra: list[ServiceProcess],
    db: asyncpg.Connection,
) -> None:
    tag = uuid.uuid4().hex[:8]
    name = f"office-{tag}"
    first = stack["sla_engine"].url
    # the database has other versions under the same names, written through the API
    put(first, "calendars", name, {"timezone": "UTC", "hours": {"sat": ["08:00-12:00"]}})
    put(
        first,
        "policies",
        name,
        {
            "match": {"service": f"svc-{tag}"},
            "calendar": name,
            "targets": {"P1": {"response": "1h", "resolution": "8h"}},
        },
    )
    (tmp_path / "sla.yaml").write_text(GOOD.format(tag=tag))
    (tmp_path / "README.md").write_text("not YAML: ignored")
    engine = engine_with(tmp_path, service_env, log_dir, extra).start()
    # a ticket open for an hour, on a 24x7 policy of the files: one of the two engines holds
    # its clocks, and both must answer with the time counted up to the moment they are asked
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    ticket = {
        "ticket_id": f"A-{tag}",
        "service": f"always-{tag}",
        "priority": "P2",
        "action": "created",
        "occurred_at": iso(opened),
    }
    assert post(stack["ingest"].url, "/v1/events/tickets", ticket).status_code == 202

    calendar = call("GET", f"{engine.url}/v1/calendars/{name}").json()
    assert calendar["origin"] == "file"
    assert calendar["timezone"] == "Europe/Berlin"
    assert calendar["holidays"] == ["2026-11-20"]
    assert calendar["hours"]["fri"] == ["09:00-12:00", "13:00-17:00"]
    assert "sat" not in calendar["hours"]
    policy = call("GET", f"{engine.url}/v1/policies/{name}").json()
    assert policy["origin"] == "file"
    assert policy["targets"] == {"P1": {"response": 900, "resolution": 14_400}}
    assert policy["pause_statuses"] == ["waiting_for_customer"]
    listed = call("GET", f"{engine.url}/v1/calendars").json()["items"]
    assert [c["origin"] for c in listed if c["name"] == name] == ["file"]
    listed = call("GET", f"{engine.url}/v1/policies").json()["items"]
    assert [p["origin"] for p in listed if p["name"] == name] == ["file"]
    # the database now holds the files' versions, so every instance serves them
    await poll_value(
        db, "SELECT origin FROM sla_engine.calendars WHERE name = $1", name, expect="file"
    )
    wait_for(
        "the first engine to serve the file's calendar",
        lambda: call("GET", f"{first}/v1/calendars/{name}").json()["origin"] == "file",
        timeout=15,
    )
    assert call("GET", f"{first}/v1/calendars/{name}").json() == calendar
    # the API's version is kept; the file's is the second, in force from its effective_from
    for kind in ("calendars", "policies"):
        versions = call("GET", f"{engine.url}/v1/{kind}/{name}/versions").json()["items"]
        assert [(v["version"], v["origin"]) for v in versions] == [(1, "api"), (2, "file")]
        assert versions[0]["effective_from"] is None
        assert utc(versions[1]["effective_from"]) == utc("2026-11-01T00:00:00Z")

    # and tickets run on them: Thu 2026-11-19 16:00 Berlin + 4 h of office time, Fri a holiday
    # -> Mon 2026-11-23 12:00 CET = 11:00Z (the database's versions would say otherwise)
    resolved = local("2026-11-23 11:30", "Europe/Berlin")
    events = [
        {
            "ticket_id": f"T-{tag}",
            "service": f"svc-{tag}",
            "priority": "P1",
            "action": "created",
            "occurred_at": iso(local("2026-11-19 16:00", "Europe/Berlin")),
        },
        {
            "ticket_id": f"T-{tag}",
            "service": f"svc-{tag}",
            "action": "resolved",
            "occurred_at": iso(resolved),
        },
    ]
    assert post(stack["ingest"].url, "/v1/events/tickets", events).status_code == 202
    found = await wait_clocks(first, f"T-{tag}", stopped_at("resolution", resolved))
    assert found["resolution"]["policy"] == name
    assert found["resolution"]["state"] == "met"
    assert found["resolution"]["elapsed_seconds"] == 3.5 * 3600
    assert utc(found["resolution"]["deadline"]) == utc("2026-11-23T11:00:00Z")

    for url in (first, engine.url):
        await wait_clocks(url, f"A-{tag}", lambda c: len(c) == 2)
    await asyncio.sleep(1.5)  # not a wait for anything: the wall clock moves past the snapshot
    for url in (first, engine.url):
        asked = time.time()
        found = await wait_clocks(url, f"A-{tag}", lambda c: len(c) == 2)
        answered = time.time()
        resolution = found["resolution"]
        assert resolution["state"] == "running"
        assert utc(resolution["deadline"]) == opened + timedelta(days=2)
        low, high = asked - opened.timestamp(), answered - opened.timestamp()
        assert low - 0.01 <= resolution["elapsed_seconds"] <= high + 0.01, (url, resolution)
        assert resolution["remaining_seconds"] == 172_800 - resolution["elapsed_seconds"]


BAD = {
    # a resource that the API would answer 422
    "bad-hours": (
        "calendars:\n  c-{tag}:\n    timezone: Europe/Berlin\n    hours: {{mon: ['25:00-26:00']}}\n",
        "hours",
    ),
    # a policy on a calendar that neither the files nor the database define
    "undefined-calendar": (
        "policies:\n  p-{tag}:\n    calendar: nowhere-{tag}\n"
        "    targets: {{P1: {{response: 15m, resolution: 4h}}}}\n",
        "nowhere-{tag}",
    ),
}
"""More cases of bad files (not YAML, unknown sections, bad names, twice defined) are unit tests
of `read_config_dir` in tests/unit/sla_engine/test_config_files.py."""


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_file_stops_the_start_naming_the_file(
    case: str,
    service_env: dict[str, str],
    log_dir: Path,
    tmp_path: Path,
    extra: list[ServiceProcess],
    db: asyncpg.Connection,
) -> None:
    tag = uuid.uuid4().hex[:8]
    content, named = BAD[case]
    (tmp_path / "00-good.yaml").write_text(GOOD.format(tag=tag))
    (tmp_path / f"{case}.yml").write_text(content.format(tag=tag))
    engine = engine_with(tmp_path, service_env, log_dir, extra).start(wait=False)
    assert engine.proc is not None
    code = engine.proc.wait(60)
    log = engine.log_path.read_text(errors="replace")
    assert code != 0, log[-2000:]
    assert f"{case}.yml" in log, log[-2000:]
    assert named.format(tag=tag) in log, log[-2000:]
    # nothing of the folder was applied, not even its good file
    written = await db.fetchval(
        "SELECT count(*) FROM sla_engine.calendars WHERE name = $1", f"office-{tag}"
    )
    assert written == 0
