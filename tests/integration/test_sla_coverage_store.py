"""Coverage from the monitoring journal on the real PostgreSQL: a service's first event and its
silences (any check, heartbeats included), a silence spanning the start of what is read kept
whole, and the month's figures the tracker computes from them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.durations import datetime_to_ms
from pacta.events import MonitoringEvent
from sla_engine.app import MIGRATIONS
from sla_engine.availability.coverage_store import monitoring_of
from sla_engine.store import SCHEMA
from sla_engine.store.journal import journal_monitoring
from tests.conftest import RUN_ID
from tests.support.postgres import migrated_engine

pytestmark = pytest.mark.integration
M = timedelta(minutes=1)
T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(f"pacta_test_{RUN_ID}_coverage", SCHEMA, MIGRATIONS) as eng:
        yield eng


def beat(service: str, check: str, at: datetime) -> MonitoringEvent:
    return MonitoringEvent.model_validate(
        {
            "id": f"{service}-{check}-{at.isoformat()}",
            "service": service,
            "check": check,
            "status": "firing",
            "occurred_at": at.isoformat(),
            "received_at": at.isoformat(),
        }
    )


def ms(at: datetime) -> int:
    return datetime_to_ms(at)


async def test_first_event_and_silences_from_the_journal(engine: AsyncEngine) -> None:
    events = [
        beat("svc", "heartbeat", T0),
        beat("svc", "http", T0 + 5 * M),  # any check counts
        beat("svc", "heartbeat", T0 + 60 * M),  # 55 quiet minutes before it
        beat("svc", "heartbeat", T0 + 65 * M),
        beat("other", "heartbeat", T0 - 600 * M),  # another service's events count not
    ]
    async with engine.begin() as conn:
        await journal_monitoring(conn, events=events)
        ten = 10 * 60_000
        found = await monitoring_of(conn, service="svc", after_ms=ms(T0), max_silence_ms=ten)
        assert found.first_ms == ms(T0)
        assert list(found.silences) == [
            (ms(T0 + 15 * M), ms(T0 + 60 * M)),
            (ms(T0 + 75 * M), None),
        ]
        # read from inside the silence: the event before the start keeps it whole
        later = await monitoring_of(
            conn, service="svc", after_ms=ms(T0 + 30 * M), max_silence_ms=ten
        )
        assert list(later.silences) == list(found.silences)
        # without a max_silence only the first event matters
        plain = await monitoring_of(conn, service="svc", after_ms=ms(T0), max_silence_ms=None)
        assert (plain.first_ms, plain.silences) == (ms(T0), ())
        unseen = await monitoring_of(conn, service="nobody", after_ms=ms(T0), max_silence_ms=ten)
        assert (unseen.first_ms, unseen.silences) == (None, ())
