"""A steady sender of events for the fault tests: posts in a thread to whichever ingest
instance answers, retries every event until it is acknowledged (as a sender honouring 503 and
Retry-After does), and keeps every answer for the test to read."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.client import INGEST_KEY


@dataclass
class Attempt:
    at: float
    status: int  # 0: no answer (refused, reset, timed out)
    accepted: int  # events the answer says were new


@dataclass
class Pending:
    path: str
    body: dict[str, Any]
    phase: str


@dataclass
class Stream:
    """Send `make(phase, n)` every `every` seconds to the URLs of `urls()`, round robin."""

    urls: Callable[[], list[str]]
    make: Callable[[str, int], list[tuple[str, dict[str, Any]]]]
    every: float = 0.25
    phase: str = "warm-up"
    attempts: list[Attempt] = field(default_factory=list)
    acked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="stream")
        self.counter = itertools.count()

    def start(self) -> Stream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(30)

    def switch(self, phase: str) -> None:
        """New events belong to `phase` from now on (events of the last one still retry)."""
        with self.lock:
            self.phase = phase

    def unacked(self, phase: str) -> int:
        with self.lock:
            return sum(p.phase == phase for p in self.pending)

    def events(self, phase: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.acked.get(phase, []))

    def since(self, started: float) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.at >= started]

    def _run(self) -> None:
        turn = itertools.count()
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {INGEST_KEY}"}) as client:
            next_at = time.monotonic()
            while not self.stopping.is_set():
                with self.lock:
                    phase = self.phase
                    self.pending += [
                        Pending(path, body, phase)
                        for path, body in self.make(phase, next(self.counter))
                    ]
                    queue = list(self.pending)
                for item in queue:  # oldest first; an event keeps its body (and id) on retry
                    urls = self.urls()
                    if not urls or self.stopping.is_set():
                        break
                    url = urls[next(turn) % len(urls)]
                    status, accepted = 0, 0
                    try:
                        r = client.post(url + item.path, json=item.body)
                        status = r.status_code
                        accepted = r.json().get("accepted", 0) if status == 202 else 0
                    except (httpx.HTTPError, ValueError):
                        pass
                    with self.lock:
                        self.attempts.append(Attempt(time.monotonic(), status, accepted))
                        if status == 202:
                            self.pending.remove(item)
                            self.acked.setdefault(item.phase, []).append(item.body)
                    if status != 202:
                        break  # back off until the next tick, as Retry-After asks
                next_at += self.every
                self.stopping.wait(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at, time.monotonic() - self.every)
