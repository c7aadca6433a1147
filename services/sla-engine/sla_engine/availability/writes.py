"""What a re-plan writes: the availability signals not fired before, a new version of each
month's availability fact, and both on the outbox."""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.events import Signal
from pacta.logs import get_logger
from sla_engine.availability.fact_store import (
    VERSION_MARK,
    enqueue_with_fact_versions,
    marked_twice,
    next_fact_versions,
)
from sla_engine.availability.views import availability_fact
from sla_engine.domain.downtime import MonthFigures
from sla_engine.kafka.outbox import BUNDLE_FROM, enqueue_raw, outbox_record
from sla_engine.kafka.records import OutboxRecord
from sla_engine.metrics import SIGNALS
from sla_engine.store.signals import insert_signals, signal_record

log = get_logger(__name__)


async def write(
    conn: AsyncConnection,
    signals: list[Signal],
    figures: list[MonthFigures],
    *,
    signals_topic: str,
    facts_topic: str,
) -> set[str]:
    """Record the signals (those not fired before) and a new version of each month's
    availability fact, and put both on the outbox, each service's signals before its facts
    (fewer than a bundle's worth: the facts' versions and the outbox in one statement);
    returns the ids of the signals that are new."""
    records = [signal_record(s.model_dump(mode="json")) for s in signals]
    new_ids = await insert_signals(conn, signals=records)
    outgoing: list[OutboxRecord] = []
    for signal, record in zip(signals, records, strict=True):
        if signal.signal_id not in new_ids:
            continue  # fired before (by this path, the other one, or before a restart)
        outgoing.append(
            outbox_record(
                signals_topic,
                signal.service,
                signal.signal_id,
                record.raw,
                str(record.body["occurred_at"]),
            )
        )
        SIGNALS.labels(signal.kind, signal.service, signal.metric, "").inc()
        log.info("signal", signal_id=signal.signal_id, kind=signal.kind, late=signal.late)
    stored = [(f.service, f.month, availability_fact(f, version=0)) for f in figures]
    if figures and len(outgoing) + len(figures) < BUNDLE_FROM:
        # the facts' versions and the outbox in one statement: PostgreSQL writes each
        # fact's new version where its body holds the mark
        marked = [availability_fact(f, version=VERSION_MARK) for f in figures]
        raws = [orjson.dumps(fact) for fact in marked]
        if all(marked_twice(raw) for raw in raws):
            rows = outgoing + [
                outbox_record(
                    facts_topic,
                    fig.service,
                    str(fact["fact_id"]),
                    raw,
                    str(fact["occurred_at"]),
                )
                for fig, fact, raw in zip(figures, marked, raws, strict=True)
            ]
            fact_of: list[tuple[str, str] | None] = [None] * len(outgoing)
            await enqueue_with_fact_versions(
                conn,
                facts=stored,
                records=rows,
                fact_of=fact_of + [(f.service, f.month) for f in figures],
            )
            return new_ids
    versions = await next_fact_versions(conn, stored)
    for fig in figures:
        fact = availability_fact(fig, version=versions[(fig.service, fig.month)])
        outgoing.append(
            outbox_record(
                facts_topic,
                fig.service,
                str(fact["fact_id"]),
                orjson.dumps(fact),
                str(fact["occurred_at"]),
            )
        )
    await enqueue_raw(conn, outgoing)
    return new_ids
