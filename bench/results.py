"""`bench/results.json`: the latest figure of every service level, one entry per measured figure.

Each benchmark phase records the entries it measured (`record`); entries it did not measure keep
their last figure and date, so the file always holds every service level of docs/benchmarks.md's
"Targets". `python -m bench.render` turns it into the summary table of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
PEER = "Debian's Alertmanager"
Op = Literal[">=", "<=", "=="]


@dataclass(frozen=True)
class Level:
    """One figure a service level asks for: what is measured, in which unit, against what."""

    name: str
    row: str  # the row of docs/benchmarks.md's "Targets" it belongs to
    unit: str
    op: Op
    target: float

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.op == ">=":
            return value >= self.target
        if self.op == "<=":
            return value <= self.target
        return value == self.target


LEVELS: tuple[Level, ...] = (
    Level("ingest, single events", "ingest, single events", "events/s", ">=", 8_000),
    Level("ingest, single p99 at 5,000/s", "ingest, single events", "ms", "<=", 25),
    Level("ingest, single, make-up stack / peer", "ingest, single events", "x", ">=", 0.5),
    Level("ingest, batches of 100", "ingest, batches of 100", "events/s", ">=", 100_000),
    Level("ingest, batches, make-up stack / peer", "ingest, batches of 100", "x", ">=", 1.0),
    Level("breach lag p99, 100k open clocks", "breach detection lag", "ms", "<=", 50),
    Level(
        "breach lag p99, 1M open clocks + 1,000 events/s", "breach detection lag", "ms", "<=", 100
    ),
    Level("breaches missed or doubled", "breach detection lag", "breaches", "==", 0),
    Level(
        "event in -> notification p99, 1,000/s",
        "event in -> notification delivered",
        "ms",
        "<=",
        150,
    ),
    Level(
        "alert storm: deadline -> webhook p99, 1,000/s for 10 s",
        "event in -> notification delivered",
        "ms",
        "<=",
        150,
    ),
    Level("monthly report, 1M events", "monthly report", "ms", "<=", 100),
    Level("monthly report, 10M events", "monthly report", "ms", "<=", 300),
    Level("rebuild of 10M events by replay", "monthly report", "min", "<=", 10),
    Level("engine RSS, 1M open clocks", "open clocks", "MiB", "<=", 1024),
    Level("ready after restart, 1M open clocks", "open clocks", "s", "<=", 20),
    Level("sla-engine apply rate", "sla-engine apply rate", "events/s", ">=", 10_000),
    Level("cost of an event, single", "cost of an event", "us/event", "<=", 400),
    Level("cost of an event, batches of 100", "cost of an event", "us/event", "<=", 40),
    Level("alerting drain", "alerting drain", "signals/s", ">=", 5_000),
)
BY_NAME = {level.name: level for level in LEVELS}


@dataclass
class Entry:
    """One figure as results.json keeps it."""

    name: str
    row: str
    value: float | None
    unit: str
    target: str  # e.g. ">= 5000"
    met: bool | None  # None: not measured yet
    peer: dict[str, Any] | None  # {"name", "value", "unit"}: the peer in the same run
    cores: int | None
    measured_at: str | None  # ISO 8601, UTC
    command: str
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)  # per process figures and the like


def entry(
    name: str,
    value: float | None,
    *,
    command: str,
    note: str = "",
    peer: float | None = None,
    peer_unit: str | None = None,
    detail: dict[str, Any] | None = None,
    measured_at: str | None = None,
) -> Entry:
    """The entry of the level `name` for a figure measured now on this machine."""
    level = BY_NAME[name]
    return Entry(
        name=name,
        row=level.row,
        value=value,
        unit=level.unit,
        target=f"{level.op} {level.target:g}",
        met=level.met(value),
        peer=None
        if peer is None
        else {"name": PEER, "value": peer, "unit": peer_unit or level.unit},
        cores=os.cpu_count(),
        measured_at=measured_at or datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        note=note,
        detail=detail or {},
    )


def _placeholder(level: Level) -> Entry:
    return Entry(
        name=level.name,
        row=level.row,
        value=None,
        unit=level.unit,
        target=f"{level.op} {level.target:g}",
        met=None,
        peer=None,
        cores=None,
        measured_at=None,
        command="",
    )


def load(path: Path = RESULTS) -> list[Entry]:
    """Every level's entry, in the order of `LEVELS`; unmeasured ones as placeholders. Entries
    of levels no longer listed are dropped."""
    stored: dict[str, dict[str, Any]] = {}
    if path.exists():
        stored = {e["name"]: e for e in json.loads(path.read_text())["entries"]}
    out = []
    for level in LEVELS:
        raw = stored.get(level.name)
        out.append(Entry(**raw) if raw is not None else _placeholder(level))
    return out


def record(new: Iterable[Entry], path: Path = RESULTS) -> list[Entry]:
    """Replace the entries of `new` in results.json, keep the others; returns them all."""
    fresh = {e.name: e for e in new}
    unknown = set(fresh) - set(BY_NAME)
    if unknown:
        raise ValueError(f"not a service level of bench/results.py: {sorted(unknown)}")
    entries = [fresh.get(e.name, e) for e in load(path)]
    path.write_text(
        json.dumps({"entries": [asdict(e) for e in entries]}, indent=2, ensure_ascii=False) + "\n"
    )
    return entries
