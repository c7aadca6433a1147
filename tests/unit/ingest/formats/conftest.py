"""The fixtures' era as `now`, and a reader of tests/fixtures/formats."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "formats"
NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return orjson.loads(raw(name))


def dump(value: Any) -> bytes:
    return orjson.dumps(value)
