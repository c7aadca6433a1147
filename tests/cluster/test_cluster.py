"""The whole stack on a three-broker Kafka cluster, two instances of every service, a steady
stream of events, and faults in turn: a broker killed, then a second one (ingest answers 503
while writes cannot reach two in-sync replicas, 202 again once one is back), one instance of
each service killed, PostgreSQL restarted (PACTA_CLUSTER_RESTART_PG=1, the default under CI),
the webhook receiver down for a while. After each, every acknowledged event is counted once,
every breach is notified once, and the monthly report equals the hand-computed one.

Each fault has a service of its own in the stream, so its figures are fixed once its events
are in, while the stream goes on for the next."""

from __future__ import annotations

import calendar
import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.alerting import ADMIN, SECRET, WebhookCollector
from tests.support.client import SLA_ENGINE_APPLIED, iso
from tests.support.processes import ServiceProcess, wait_for
from tests.support.reporting import wait_report
from tests.support.stream import Stream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "deploy/local/kafka-cluster.sh"
POSTGRES = ROOT / "deploy/local/postgres.sh"
MODULES = ("ingest", "sla_engine", "alerting", "reporting")
RESOLUTION_S = 3  # every ticket of the stream breaches its resolution target 3 s after creation
OUTAGE_S = 300  # each phase's service was down for 5 minutes, just before the phase began
PHASE_S = float(os.environ.get("PACTA_CLUSTER_PHASE_SECONDS", "20"))
RECEIVER_DOWN_S = float(os.environ.get("PACTA_CLUSTER_RECEIVER_DOWN_SECONDS", "45"))


def restart_pg() -> bool:
    flag = os.environ.get("PACTA_CLUSTER_RESTART_PG")
    if flag is None:
        return os.environ.get("CI") == "true"
    return flag == "1"


def script(path: Path, *args: str) -> None:
    out = subprocess.run(["bash", str(path), *args], capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"{path.name} {' '.join(args)}: {out.stdout}{out.stderr}"


def cluster(*args: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} kafka-cluster.sh {' '.join(args)}", flush=True)
    script(CLUSTER, *args)


def heal_cluster() -> None:
    """A failure half-way may have left brokers down: the next run needs all three."""
    subprocess.run(["bash", str(CLUSTER), "start"], capture_output=True, check=False)


class Stack:
    """Two instances of each service; `live(module)` are those not killed."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.instances: dict[str, list[ServiceProcess]] = {m: [] for m in MODULES}
        ports: set[int] = set()
        for m in MODULES:
            for i in range(2):
                # one process per instance (kill -9 hits the server itself); a stable id each
                extra = {"PACTA_INGEST_WORKERS": "1", "PACTA_INSTANCE_ID": f"{m}-{i}"}
                proc = ServiceProcess(m, {**env, **extra}, log_dir)
                while proc.port in ports:  # free_port() may hand out a port twice before binds
                    proc = ServiceProcess(m, {**env, **extra}, log_dir)
                ports.add(proc.port)
                self.instances[m].append(proc)
        for procs in self.instances.values():
            for p in procs:
                p.env["PACTA_ALERTING_PUBLIC_URL"] = p.url

    def start(self) -> None:
        for procs in self.instances.values():
            for p in procs:
                p.start(wait=False)
        for procs in self.instances.values():
            for p in procs:
                p.wait_ready(timeout=300)  # eight processes starting at once on a loaded box

    def live(self, module: str) -> list[str]:
        return [p.url for p in self.instances[module] if p.proc and p.proc.poll() is None]

    def stop(self) -> None:
        for procs in self.instances.values():
            for p in procs:
                p.stop()


@pytest.fixture
def hook() -> Iterator[WebhookCollector]:
    c = WebhookCollector()
    yield c
    c.close()


@pytest.fixture
def stack(service_env: dict[str, str], log_dir: Path) -> Iterator[Stack]:
    s = Stack(service_env, log_dir)
    try:
        s.start()
        yield s
    finally:
        s.stop()


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(now.year, now.month)[1]
    return start, start + timedelta(days=days)


class Phase:
    """One fault and the events sent while it happens: tickets of a service of its own, and an
    outage of that service that ended just before (whose downtime the report must show)."""

    def __init__(self, name: str, tag: str) -> None:
        self.name, self.service = name, f"{name}-{tag}"
        now = datetime.now(UTC)
        start, _ = month_bounds(now)
        self.down_from = max(now - timedelta(seconds=OUTAGE_S + 60), start)
        self.down_to = self.down_from + timedelta(seconds=OUTAGE_S)
        if self.down_to > now - timedelta(seconds=1):  # the first minutes of a month
            self.down_to = now - timedelta(seconds=1)
        self.month = f"{now:%Y-%m}"


def ticket_event(phase: Phase, n: int) -> tuple[str, dict[str, Any]]:
    return (
        "/v1/events/tickets",
        {
            "id": f"{phase.service}-t{n}",
            "ticket_id": f"{phase.service}-T{n}",
            "service": phase.service,
            "priority": "P1",
            "action": "created",
            "occurred_at": iso(datetime.now(UTC)),
        },
    )


def outage_events(phase: Phase) -> list[tuple[str, dict[str, Any]]]:
    def check(status: str, at: datetime) -> tuple[str, dict[str, Any]]:
        return (
            "/v1/events/monitoring",
            {
                "id": f"{phase.service}-{status}",
                "service": phase.service,
                "check": "http",
                "status": status,
                "occurred_at": iso(at),
            },
        )

    return [check("firing", phase.down_from), check("resolved", phase.down_to)]


async def counted_once(db: asyncpg.Connection, table: str, ids: list[str]) -> None:
    """Every id in `table` exactly once (polled: the consumers may still be catching up)."""
    deadline = time.monotonic() + 90
    while True:
        rows = await db.fetch(
            f"SELECT event_id, count(*) AS n FROM {table} WHERE event_id = ANY($1) GROUP BY 1",
            ids,
        )
        seen = {r["event_id"]: r["n"] for r in rows}
        doubled = {k: n for k, n in seen.items() if n > 1}
        assert not doubled, f"{table} holds events twice: {doubled}"
        if len(seen) == len(ids):
            return
        if time.monotonic() > deadline:
            missing = sorted(set(ids) - set(seen))
            raise AssertionError(f"{table} lacks {len(missing)} acknowledged events: {missing[:5]}")
        time.sleep(0.5)


def breaches_by_ticket(hook: WebhookCollector, service: str) -> Counter[str]:
    """Breach notifications per ticket, one per `Idempotency-Key`: delivery is at least once
    (an instance killed between the receiver's answer and its record sends again, with the
    same key; docs/alerting.md), so a receiver honouring the key sees each once."""
    keys = {
        (str(a["ticket_id"]), key(r.headers))
        for r in hook.accepted("/breach")
        for a in r.body["alerts"]
        if a.get("kind") == "breach" and a.get("service") == service
    }
    return Counter(ticket for ticket, _ in keys)


def key(headers: dict[str, str]) -> str:
    return next(v for k, v in headers.items() if k.lower() == "idempotency-key")


def resent(hook: WebhookCollector) -> int:
    """Deliveries accepted more than once under the same key."""
    seen = Counter(key(r.headers) for r in hook.accepted("/breach"))
    return sum(n - 1 for n in seen.values())


def expected_report(phase: Phase, tickets: list[str]) -> dict[str, Any]:
    """The figures by hand. The month is under way and the service's first monitoring event is
    the outage's start (time before it is unmeasured, not up): its agreed service time is the
    24x7 time from there to the engine's latest figure, between the outage's end and now."""
    return {
        "downtime_seconds": (phase.down_to - phase.down_from).total_seconds(),
        "agreed_at_least": (phase.down_to - phase.down_from).total_seconds(),
        "agreed_at_most": (datetime.now(UTC) - phase.down_from).total_seconds() + 1,
        "tickets": len(tickets),
    }


def check_report(reporting: list[str], phase: Phase, tickets: list[str]) -> None:

    def settled(r: dict[str, Any]) -> bool:
        s = r["services"][0]
        # the breach list comes from the signals topic, the counts from the facts topic:
        # reporting consumes them apart, so wait for both
        listed = sorted(b["ticket_id"] for b in s["breaches"] if b["kind"] == "breach")
        return bool(
            s["tickets"]["total"] == len(tickets)
            and s["tickets"]["resolution"]["breached"] == len(tickets)
            and s["availability"]["downtime_seconds"] == want["downtime_seconds"]
            and listed == sorted(tickets)
        )

    want = expected_report(phase, tickets)
    for url in reporting:  # every instance answers the same
        report = wait_report(url, settled, timeout=90, month=phase.month, service=phase.service)
        want = expected_report(phase, tickets)
        s = report["services"][0]
        a = s["availability"]
        assert a["downtime_seconds"] == want["downtime_seconds"]
        agreed = a["agreed_service_seconds"]
        assert want["agreed_at_least"] <= agreed <= want["agreed_at_most"]
        assert a["actual"] == pytest.approx(100.0 * (1.0 - want["downtime_seconds"] / agreed))
        assert a["outages"] == 1
        t = s["tickets"]
        assert t["total"] == len(tickets)
        assert t["by_priority"] == {"P1": len(tickets), "P2": 0, "P3": 0, "P4": 0}
        assert (t["resolution"]["met"], t["resolution"]["breached"]) == (0, len(tickets))
        assert (t["response"]["met"], t["response"]["breached"]) == (0, 0)
        breaches = sorted(b["ticket_id"] for b in s["breaches"] if b["kind"] == "breach")
        assert breaches == sorted(tickets)
        assert all(b["metric"] == "resolution" for b in s["breaches"] if b["kind"] == "breach")


async def check_phase(
    db: asyncpg.Connection, stack: Stack, hook: WebhookCollector, stream: Stream, phase: Phase
) -> None:
    started = time.monotonic()
    wait_for(
        f"every event of {phase.name} acknowledged",
        lambda: not stream.unacked(phase.name),
        timeout=120,
        every=0.5,
    )
    events = stream.events(phase.name)
    ids = [e["id"] for e in events]
    tickets = [e["ticket_id"] for e in events if "ticket_id" in e]
    assert len(tickets) >= 3, f"{phase.name}: only {len(tickets)} tickets acknowledged"
    await counted_once(db, SLA_ENGINE_APPLIED, ids)
    # reporting keeps the ids of ticket events only (a monitoring event just names a service)
    await counted_once(db, "reporting.inbox", [e["id"] for e in events if "ticket_id" in e])
    rows = await db.fetchval(
        "SELECT count(*) FROM reporting.tickets WHERE service = $1", phase.service
    )
    assert rows == len(tickets)
    # every breach notified: at least once by the deadline, and never twice (checked again at
    # the end, when the later phases' notifications have come after any stray repeat)
    wait_for(
        f"a breach notification for every ticket of {phase.name}",
        lambda: set(breaches_by_ticket(hook, phase.service)) >= set(tickets),
        timeout=120,
        every=0.5,
    )
    twice = {k: n for k, n in breaches_by_ticket(hook, phase.service).items() if n > 1}
    assert not twice, f"{phase.name}: breaches notified more than once: {twice}"
    assert set(breaches_by_ticket(hook, phase.service)) == set(tickets)
    try:
        check_report(stack.live("reporting"), phase, tickets)
    except AssertionError as exc:
        raise AssertionError(f"{await diagnose(db, phase)}\n{str(exc)[:2000]}") from None
    print(
        f"{time.strftime('%H:%M:%S')} {phase.name}: {len(tickets)} tickets, {len(ids)} events "
        f"counted once, breaches notified once, report exact ({time.monotonic() - started:.0f} s)",
        flush=True,
    )


async def diagnose(db: asyncpg.Connection, phase: Phase) -> str:
    """Where the report parts from the engine: the resolution clocks reporting does not hold
    as breached, with the engine's own row, the facts reporting took in, the outbox."""
    rows = await db.fetch(
        "SELECT e.ticket_id, e.state AS engine_state, e.version AS engine_version, "
        "r.state AS reporting_state, r.version AS reporting_version "
        "FROM sla_engine.clocks e LEFT JOIN reporting.clocks r "
        "ON r.ticket_id = e.ticket_id AND r.metric = e.metric "
        "WHERE e.service = $1 AND e.metric = 'resolution' "
        "AND (r.state IS DISTINCT FROM 'breached' OR r.version IS DISTINCT FROM e.version)",
        phase.service,
    )
    out = [f"{len(rows)} resolution clocks differ between the engine and reporting:"]
    for r in rows[:10]:
        facts = await db.fetch(
            "SELECT event_id FROM reporting.inbox WHERE event_id LIKE $1 ORDER BY 1",
            f"clock:{r['ticket_id']}:resolution:%",
        )
        pending = await db.fetchval(
            "SELECT count(*) FROM sla_engine.outbox WHERE record_id LIKE $1",
            f"%{r['ticket_id']}%",
        )
        out.append(
            f"  {dict(r)} facts in reporting: {[f['event_id'] for f in facts]} "
            f"outbox rows: {pending}"
        )
    return "\n".join(out)


def put(url: str, path: str, body: Any) -> None:
    r = httpx.put(url + path, json=body, headers=ADMIN, timeout=30)
    assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"


def configure(stack: Stack, hook: WebhookCollector, phases: dict[str, Phase]) -> None:
    engine, alerting = stack.live("sla_engine")[0], stack.live("alerting")[0]
    for phase in phases.values():
        put(
            engine,
            f"/v1/policies/{phase.service}",
            {
                "match": {"service": phase.service},
                "targets": {"P1": {"response": "1h", "resolution": f"{RESOLUTION_S}s"}},
                "availability": {"target": 99.0},
            },
        )
    for name in ("breaches", "others"):
        path = "/breach" if name == "breaches" else "/other"
        put(
            alerting,
            f"/v1/receivers/{name}",
            {"type": "webhook", "url": hook.url(path), "secret": SECRET},
        )
    routes = {
        "receiver": "others",
        "group_by": ["ticket_id", "kind"],
        "group_wait": "0s",
        "routes": [
            {
                "matchers": ['kind="breach"'],
                "receiver": "breaches",
                "group_by": ["ticket_id", "kind", "metric"],
                "group_wait": "0s",
            }
        ],
    }
    put(alerting, "/v1/routes", routes)

    # the other instance picks the configuration up from the database
    def shared() -> bool:
        return all(
            httpx.get(url + "/v1/receivers/breaches", headers=ADMIN, timeout=5).status_code == 200
            for url in stack.live("alerting")
        )

    wait_for("alerting instances to share the receivers", shared, timeout=30, every=0.5)
    time.sleep(6)  # alerting refreshes its routes every 5 s; there is nothing to poll for them


def kill_in_turn(procs: list[ServiceProcess], apart_s: float = 3.0) -> None:
    """kill -9 each, one after the other, and start it again at once; the other instance of
    its service carries the load alone until the restarted one is ready."""
    for proc in procs:
        print(f"{time.strftime('%H:%M:%S')} kill -9 {proc.module} on {proc.port}", flush=True)
        proc.kill()
        proc.start(wait=False)
        time.sleep(apart_s)
    for proc in procs:
        proc.wait_ready(timeout=300)


async def test_the_stack_survives_brokers_instances_postgres_and_a_receiver_going_down(
    stack: Stack, hook: WebhookCollector, db: asyncpg.Connection, database_url: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    names = ["steady", "broker1", "broker2", "instances", "receiver"]
    if restart_pg():
        names.append("postgres")
    phases = {n: Phase(n, tag) for n in names}
    configure(stack, hook, phases)
    begun: set[str] = set()
    reconnected: asyncpg.Connection | None = None  # the check's connection after the restart

    def make(name: str, n: int) -> list[tuple[str, dict[str, Any]]]:
        """The events of one tick: a ticket, and the phase's outage with its first ticket."""
        phase = phases[name]
        first = name not in begun
        begun.add(name)
        return (outage_events(phase) if first else []) + [ticket_event(phase, n)]

    stream = Stream(urls=lambda: stack.live("ingest"), make=make, phase="steady").start()
    done: list[Phase] = []
    try:
        time.sleep(PHASE_S)

        # one broker killed: the leaders move, writes go on with two in-sync replicas
        stream.switch("broker1")
        await check_phase(db, stack, hook, stream, phases["steady"])
        done.append(phases["steady"])
        cluster("kill", "1")
        killed = time.monotonic()
        wait_for(
            "events acknowledged with one broker down",
            lambda: any(a.accepted for a in stream.since(killed + 12)),
            timeout=60,
            every=0.5,
        )
        time.sleep(PHASE_S / 2)

        # a second broker killed: no write can reach two in-sync replicas, ingest says 503
        stream.switch("broker2")
        await check_phase(db, stack, hook, stream, phases["broker1"])
        done.append(phases["broker1"])
        cluster("kill", "2")
        killed = time.monotonic()
        time.sleep(15)
        during = stream.since(killed + 5)
        assert during, "the stream stopped sending"
        assert not [a for a in during if a.accepted], "events acknowledged with one broker left"
        assert {a.status for a in during} <= {503, 0}, Counter(a.status for a in during)
        assert sum(a.status == 503 for a in during) >= 2
        cluster("start", "2")
        back = time.monotonic()
        wait_for(
            "202 again once a second broker is back",
            lambda: any(a.accepted for a in stream.since(back)),
            timeout=90,
            every=0.5,
        )
        cluster("start", "1")
        time.sleep(PHASE_S / 2)

        # one instance of each service killed in turn, the other carries on
        stream.switch("instances")
        await check_phase(db, stack, hook, stream, phases["broker2"])
        done.append(phases["broker2"])
        kill_in_turn([stack.instances[m][0] for m in MODULES])
        time.sleep(PHASE_S / 2)

        # the webhook receiver down for a while: the deliveries wait and then arrive, once
        stream.switch("receiver")
        await check_phase(db, stack, hook, stream, phases["instances"])
        done.append(phases["instances"])
        hook.status = 503
        time.sleep(RECEIVER_DOWN_S)
        hook.status = 200

        if restart_pg():
            stream.switch("postgres")
            await check_phase(db, stack, hook, stream, phases["receiver"])
            done.append(phases["receiver"])
            await db.close()
            script(POSTGRES, "stop")
            script(POSTGRES, "start")
            db = reconnected = await asyncpg.connect(database_url)
            time.sleep(PHASE_S / 2)

        last = phases[names[-1]]
        phases["tail"] = Phase("tail", tag)  # events after the last phase (not checked)
        stream.switch("tail")
        await check_phase(db, stack, hook, stream, last)
        done.append(last)
    finally:
        stream.stop()
        heal_cluster()
        if reconnected is not None:
            await reconnected.close()

    # nothing changed since each check: no late duplicate, no figure moved by a later fault
    for phase in done:
        twice = {k: n for k, n in breaches_by_ticket(hook, phase.service).items() if n > 1}
        assert not twice, f"{phase.name}: breaches notified more than once: {twice}"
        tickets = [e["ticket_id"] for e in stream.events(phase.name) if "ticket_id" in e]
        check_report(stack.live("reporting"), phase, tickets)
    assert hook.bad_signatures == []
    print(f"breach deliveries sent again under the same Idempotency-Key: {resent(hook)}")
