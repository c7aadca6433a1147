"""Alerting's inbox claim, which locks the open alerts of the signals' keys in its statement:
each signal id claimed once, the open alerts (and no resolved one) returned by key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from alerting import store
from alerting.app import MIGRATIONS
from alerting.domain.alerts import alert_key, apply_signal
from pacta.db import create_engine, migrate
from pacta.events import Signal
from pacta.settings import CommonSettings

pytestmark = pytest.mark.integration


def _signal(ticket: str, kind: str = "breach") -> Signal:
    now = datetime.now(UTC).isoformat()
    return Signal.model_validate(
        {
            "signal_id": uuid.uuid4().hex,
            "kind": kind,
            "service": "inbox",
            "policy": "gold",
            "metric": "response",
            "priority": "P1",
            "ticket_id": ticket,
            "occurred_at": now,
            "detected_at": now,
            "deadline": now,
        }
    )


async def test_claim_locking_claims_once_and_returns_the_open_alerts(
    settings: CommonSettings,
) -> None:
    await migrate(settings.database_url, store.SCHEMA, MIGRATIONS)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        tag = uuid.uuid4().hex[:8]
        first, other = _signal(f"IN-{tag}-1"), _signal(f"IN-{tag}-2")
        keys = sorted({alert_key(first), alert_key(other)})
        async with engine.begin() as conn:
            # nothing open yet: the ids claimed, no alert
            claimed, locked = await store.inbox.claim_locking(
                conn, signals=[first, first], keys=keys
            )
            assert (claimed, locked) == ({first.signal_id}, {})
            alert, _ = apply_signal(None, first, 1)
            assert alert is not None
            await store.alerts.save(conn, alerts=[(alert, [first.signal_id])])
        async with engine.begin() as conn:
            # a batch replayed with a new signal: only the new one claimed; the open alert
            claimed, locked = await store.inbox.claim_locking(
                conn, signals=[first, other], keys=keys
            )
            assert claimed == {other.signal_id}
            assert set(locked) == {alert_key(first)}
            assert locked[alert_key(first)].id == alert.id
        async with engine.begin() as conn:
            # all applied before: nothing claimed
            claimed, _ = await store.inbox.claim_locking(conn, signals=[first, other], keys=keys)
            assert claimed == set()
    finally:
        await engine.dispose()
