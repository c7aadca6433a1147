"""`python -m bench --only alerting`: event in at ingest to webhook received (SPEC §9: p99
<= 150 ms at 1,000 events/s, group_wait 0), beside Debian's Alertmanager from `/api/v2/alerts`
to its webhook with `group_wait: 0s`, measured in the same run, as a ratio.

Each Pacta event is a ticket created two hours ago under a policy whose response target is an
hour: the engine replays it and breaches at once, so the path measured is ingest, Kafka, the
engine, Kafka, alerting and the webhook. Each Alertmanager alert has a label of its own, so with
`group_by: ['...']` each makes its own group and its own notification, like each Pacta breach.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.env import BenchEnv
from bench.procs import Proc, free_port
from bench.report import OUT_DIR, machine, ms, stamp, table, target_row, write_json

ALERTMANAGER = "prometheus-alertmanager"
ADMIN_KEY, INGEST_KEY = "bench-admin-key", "bench-ingest-key"
TARGET_P99_MS = 150.0
POLICY = {
    "match": {"service": "bench-alerting"},
    "warn_at": [],
    "targets": {"P1": {"response": "1h", "resolution": "8h"}},
}
AM_CONFIG = """\
route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{port}/am
        send_resolved: false
"""


@dataclass
class Options:
    rate: float = 1000.0
    duration: float = 10.0
    alertmanager: bool = True
    settle: float = 20.0  # seconds to wait for the last notifications


class Receiver:
    """A minimal HTTP/1.1 server: records when each notification's keys arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                now = time.time()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                for alert in orjson.loads(body).get("alerts", []):
                    key = alert.get("ticket_id") or alert.get("labels", {}).get("id")
                    if key:
                        self.arrived.setdefault(str(key), now)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _paced(
    client: httpx.AsyncClient, rate: float, duration: float, send: Any
) -> dict[str, float]:
    """Call `send(i)` at `rate` per second for `duration`; returns key -> time sent."""
    sent: dict[str, float] = {}
    total = int(rate * duration)
    start = time.time()
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        key, t = await send(client, i)
        sent[key] = t

    for i in range(total):
        delay = start + i / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks, return_exceptions=True)
    return sent


async def _settle(receiver: Receiver, sent: dict[str, float], settle: float) -> None:
    for _ in range(int(settle / 0.2)):
        if set(sent) <= set(receiver.arrived):
            return
        await asyncio.sleep(0.2)


def _latencies(receiver: Receiver, sent: dict[str, float]) -> dict[str, Any]:
    lat = [(receiver.arrived[k] - t) * 1000 for k, t in sent.items() if k in receiver.arrived]
    return {
        "sent": len(sent),
        "received": len(lat),
        "p50_ms": _pct(lat, 0.5),
        "p99_ms": _pct(lat, 0.99),
        "max_ms": max(lat) if lat else None,
    }


def _service(name: str, module: str, env: dict[str, str], log_dir: Path) -> tuple[Proc, str]:
    port = free_port()
    var = {"ingest": "INGEST", "sla_engine": "SLA_ENGINE", "alerting": "ALERTING"}[module]
    proc = Proc(
        name,
        [sys.executable, "-m", module],
        log_dir / f"{name}-{stamp()}.log",
        {**env, f"PACTA_{var}_PORT": str(port)},
    )
    return proc.start(), f"http://127.0.0.1:{port}"


async def _pacta(env: BenchEnv, opts: Options, receiver: Receiver, log_dir: Path) -> dict[str, Any]:
    base = {
        **env.service_env(),
        "PACTA_API_KEYS": f"{ADMIN_KEY}:admin,{INGEST_KEY}:ingest",
        "PACTA_ALERTING_RECEIVER_CONCURRENCY": "64",
    }
    procs: list[Proc] = []
    try:
        urls = {}
        for name, module in (("ingest", "ingest"), ("sla-engine", "sla_engine"),
                             ("alerting", "alerting")):  # fmt: skip
            proc, urls[name] = _service(name, module, base, log_dir)
            procs.append(proc)
        for proc, url in zip(procs, urls.values(), strict=True):
            await asyncio.to_thread(proc.wait_http, url + "/readyz", 90)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(timeout=10, headers=admin) as c:
            for method, url, body in (
                ("PUT", f"{urls['sla-engine']}/v1/policies/bench", POLICY),
                ("PUT", f"{urls['alerting']}/v1/receivers/bench",
                 {"type": "webhook", "url": f"http://127.0.0.1:{receiver.port}/pacta"}),
                ("PUT", f"{urls['alerting']}/v1/routes",
                 {"receiver": "bench", "group_by": ["..."], "group_wait": "0s"}),
            ):  # fmt: skip
                r = await c.request(method, url, json=body)
                if r.status_code >= 300:
                    raise RuntimeError(f"{method} {url}: {r.status_code} {r.text[:300]}")
        tag = uuid.uuid4().hex[:6]
        created = (datetime.now(UTC) - timedelta(hours=2)).isoformat()

        async def send(client: httpx.AsyncClient, i: int) -> tuple[str, float]:
            ticket = f"B{tag}-{i}"
            t = time.time()
            await client.post(
                f"{urls['ingest']}/v1/events/tickets",
                json={"ticket_id": ticket, "service": "bench-alerting", "priority": "P1",
                      "action": "created", "occurred_at": created},
                headers={"Authorization": f"Bearer {INGEST_KEY}"},
            )  # fmt: skip
            return ticket, t

        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=15, limits=limits) as client:
            sent = await _paced(client, opts.rate, opts.duration, send)
        await _settle(receiver, sent, opts.settle)
        return _latencies(receiver, sent)
    finally:
        for proc in procs:
            proc.stop()


async def _alertmanager(opts: Options, receiver: Receiver, log_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-am-") as tmp:
        work = Path(tmp)
        (work / "alertmanager.yml").write_text(AM_CONFIG.format(port=receiver.port))
        port = free_port()
        am = Proc(
            "alertmanager",
            [ALERTMANAGER, f"--config.file={work / 'alertmanager.yml'}",
             f"--storage.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address=", "--log.level=warn"],
            log_dir / f"alertmanager-alerting-{stamp()}.log",
        )  # fmt: skip
        try:
            am.start()
        except FileNotFoundError:
            raise RuntimeError(f"{ALERTMANAGER} is missing: run deploy/local/tools.sh") from None
        try:
            url = f"http://127.0.0.1:{port}"
            await asyncio.to_thread(am.wait_http, url + "/-/ready", 60)
            tag = uuid.uuid4().hex[:6]

            async def send(client: httpx.AsyncClient, i: int) -> tuple[str, float]:
                key = f"A{tag}-{i}"
                now = datetime.now(UTC).isoformat()
                t = time.time()
                await client.post(
                    url + "/api/v2/alerts",
                    json=[{"labels": {"alertname": "breach", "id": key}, "startsAt": now}],
                )
                return key, t

            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(timeout=15, limits=limits) as client:
                sent = await _paced(client, opts.rate, opts.duration, send)
            await _settle(receiver, sent, opts.settle)
            return _latencies(receiver, sent)
        finally:
            am.stop()


async def run(opts: Options) -> dict[str, Any]:
    log_dir = OUT_DIR / "logs"
    receiver = Receiver()
    await receiver.start()
    problems: list[str] = []
    try:
        async with BenchEnv() as env:
            pacta = await _pacta(env, opts, receiver, log_dir)
        am = await _alertmanager(opts, receiver, log_dir) if opts.alertmanager else None
    finally:
        await receiver.stop()
    p99, am_p99 = pacta["p99_ms"], (am or {}).get("p99_ms")
    ratio = (p99 / am_p99) if p99 and am_p99 else None
    if pacta["received"] < pacta["sent"]:
        problems.append(f"{pacta['sent'] - pacta['received']} Pacta notifications missing")
    rows = [
        target_row(
            f"event in -> webhook, {opts.rate:g}/s, group_wait 0 (p99)",
            ms(p99),
            f"<= {TARGET_P99_MS:g} ms",
            None if p99 is None else p99 <= TARGET_P99_MS,
            f"p50 {ms(pacta['p50_ms'])}, {pacta['received']}/{pacta['sent']} delivered",
        ),
        target_row(
            "Pacta p99 / Alertmanager p99 (alert in -> webhook out)",
            "-" if ratio is None else f"{ratio:.2f}x",
            "<= 1.0x",
            None if ratio is None else ratio <= 1.0,
            f"Alertmanager p50 {ms((am or {}).get('p50_ms'))}, p99 {ms(am_p99)}",
        ),
    ]
    print(table(["what", "measured", "target", "result", "note"],
                [[r["what"], r["measured"], r["target"], r["result"], r["note"]] for r in rows]))  # fmt: skip
    result = {"pacta": pacta, "alertmanager": am, "ratio_p99": ratio, "rows": rows,
              "problems": problems, "machine": machine(), "options": opts.__dict__}  # fmt: skip
    print(f"[bench] details: {write_json('alerting', result)}")
    return result


def from_args(args: Any) -> Any:
    """The hook `python -m bench --only alerting` calls."""
    return run(Options(duration=min(getattr(args, "duration", 10.0), 30.0),
                       alertmanager=not getattr(args, "no_alertmanager", False)))  # fmt: skip
