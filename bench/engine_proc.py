"""One sla-engine process under benchmark: started on the run's database and topics, stopped
with SIGTERM as a planned restart, and read through its /metrics and /proc status."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.engine_seed import POLICY, POLICY_BODY
from bench.env import ADMIN_KEY, BenchEnv
from bench.procs import Proc, free_port


class Engine:
    def __init__(self, env: BenchEnv, log_dir: Any, label: str) -> None:
        self.env, self.log_dir, self.label = env, log_dir, label
        self.proc: Proc | None = None
        self.url = ""
        self.starts = 0

    def start(self) -> float:
        """Spawn the engine; returns the wall time (s) just before the spawn."""
        self.starts += 1
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **self.env.service_env(),
            "PACTA_API_KEYS": f"{ADMIN_KEY}:admin",
            "PACTA_SLA_ENGINE_PORT": str(port),
        }
        self.proc = Proc(
            "sla-engine",
            [
                sys.executable,
                "-m",
                os.environ.get("PACTA_BENCH_ENGINE_MODULE", "sla_engine"),
            ],
            self.log_dir / f"engine-{self.label}-{self.starts}.log",
            env,
        )
        t = time.time()
        self.proc.start()
        return t

    async def wait_ready(self, timeout: float) -> float:
        assert self.proc is not None
        await asyncio.to_thread(self.proc.wait_http, self.url + "/readyz", timeout)
        return time.time()

    def stop(self) -> float:
        """SIGTERM (a planned restart), then wait; returns the wall time it was gone."""
        if self.proc is not None:
            self.proc.stop(grace=30)
        return time.time()

    def memory_mib(self) -> dict[str, float]:
        assert self.proc is not None
        out: dict[str, float] = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        out[line.split(":")[0]] = int(line.split()[1]) / 1024
        except OSError:
            pass
        return out

    async def scrape(self) -> dict[str, float]:
        """The engine's own counts: open clocks, ticket events applied, detection-lag sum."""
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(self.url + "/metrics")).text
        out = {"clocks_open": 0.0, "events_applied": 0.0}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                if s.name == "pacta_clocks_open":
                    out["clocks_open"] += s.value
                elif s.name == "pacta_engine_events_applied_total" and s.labels.get("kind") == (
                    "ticket"
                ):
                    out["events_applied"] += s.value
                elif s.name == "pacta_signals_total":
                    key = f"signals_{s.labels.get('kind')}"
                    out[key] = out.get(key, 0.0) + s.value
        return out

    async def put_policy(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.put(
                f"{self.url}/v1/policies/{POLICY}",
                json=POLICY_BODY,
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
        if r.status_code not in (200, 201):
            raise RuntimeError(f"PUT policy: HTTP {r.status_code} {r.text[:300]}")
