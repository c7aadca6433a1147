"""What the keeper's tickets produce, written in the caller's transaction: clock snapshots,
signals under their stable ids (ON CONFLICT DO NOTHING) and, through the outbox, the signals
and clock facts for Kafka. The event path, the timers and the replays all end here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.logs import get_logger
from sla_engine.clocks.rows import ClockFact, ClockRow, clock_fact, ticket_facts_and_rows
from sla_engine.clocks.store import delete_clocks, save_clocks
from sla_engine.domain.signals import retraction_body, signal_body
from sla_engine.domain.tickets import Outcome, Ticket
from sla_engine.kafka.outbox import enqueue_raw, outbox_record
from sla_engine.kafka.records import OutboxRecord, json_value
from sla_engine.metrics import SIGNALS
from sla_engine.store import in_flight
from sla_engine.store.signals import (
    SignalKey,
    SignalRecord,
    insert_signals,
    mark_retracted,
    retracted_counts,
    signal_record,
    standing_signals,
)

log = get_logger(__name__)


def _log_signals(signals: list[dict[str, Any]]) -> None:
    """Breaches, stops and retractions one line each (what an operator looks for); warnings
    and mets one line per batch with their ids (a backfill yields thousands a second)."""
    routine = []
    for signal in signals:
        if signal["kind"] in ("warning", "met"):
            routine.append(signal["signal_id"])
        else:
            log.info(
                "signal", signal_id=signal["signal_id"], kind=signal["kind"], late=signal["late"]
            )
    if routine:
        log.info("signals", kinds="warning/met", count=len(routine), signal_ids=routine[:100])


class ClockWriter:
    """The keeper's writes, to the signals and facts topics through the outbox."""

    def __init__(self, *, signals_topic: str, facts_topic: str) -> None:
        self.signals_topic, self.facts_topic = signals_topic, facts_topic

    async def persist(
        self,
        conn: AsyncConnection,
        outcomes: Iterable[tuple[Ticket, Outcome]],
        now: int,
        standing: dict[str, dict[SignalKey, dict[str, Any]]] | None = None,
    ) -> None:
        outcomes = list(outcomes)
        signals: list[SignalRecord] = []
        retracted_ids: list[str] = []
        tickets: list[Ticket] = []
        skip: dict[str, frozenset[str]] = {}
        standing = standing or {}
        # the timers' and in-order paths retract rarely (a signal a replay up to a backfill's
        # watermark left standing, which the clock reached otherwise): read what they retract
        unread = [t.ticket_id for t, o in outcomes if o.retracted and t.ticket_id not in standing]
        if unread:
            standing = {**standing, **await standing_signals(conn, ticket_ids=unread)}
        # a condition signalled and retracted n times takes the id of occurrence n + 1
        with_new = [t.ticket_id for t, o in outcomes if o.intents and not t.never_retracted]
        retracted = await retracted_counts(conn, ticket_ids=with_new)
        for ticket, outcome in outcomes:
            tickets.append(ticket)
            if outcome.retracted:
                ticket.never_retracted = False  # from now on its counts are read
            if outcome.unchanged:
                skip[ticket.ticket_id] = frozenset(outcome.unchanged)
            # a moved signal is retracted and fired again in one go: the new one is the next
            # occurrence, never the id of the one it replaces
            now_retracted: set[Any] = set()
            for key in outcome.retracted:
                standing_body = standing.get(ticket.ticket_id, {}).get(key)
                if standing_body is None:
                    continue  # emitted by another instance a moment ago: its replay sees it
                body = retraction_body(ticket, now, standing_body)
                signals.append(signal_record(body, episode=key[4]))
                retracted_ids.append(standing_body["signal_id"])
                now_retracted.add(key)
            for intent in outcome.intents:
                generation = retracted.get(intent.key, 0) + 1 + (intent.key in now_retracted)
                body = signal_body(intent, ticket, now, generation)
                signals.append(
                    signal_record(body, threshold=intent.threshold, episode=intent.episode)
                )
        await self.write(conn, tickets, signals, retracted_ids, skip)

    async def write(
        self,
        conn: AsyncConnection,
        tickets: list[Ticket],
        signals: list[SignalRecord],
        retracted_ids: list[str],
        skip: dict[str, frozenset[str]] | None = None,
    ) -> None:
        """Clock snapshots, new signals and their outbox records, and clock facts, in `conn`;
        a clock in `skip` (by ticket) did not change, so neither its row nor its fact is
        written again (a ticket event usually moves one of its two clocks), but a ticket
        always writes one row. Raises `ClockFenceError` (the caller's transaction must roll
        back) when another writer wrote these tickets meanwhile."""
        skip = skip or {}
        # retractions first: a retracted occurrence and its successor may land together
        await mark_retracted(conn, signal_ids=retracted_ids)
        async with in_flight(insert_signals(conn, signals=signals), rows=len(tickets)) as inserting:
            # meanwhile, in the engine: the clocks' rows, facts and the facts' outbox records
            # (none of them depends on which signals are new)
            rows: list[ClockRow] = []
            facts: list[ClockFact] = []
            for ticket in tickets:
                unchanged = skip.get(ticket.ticket_id, frozenset())
                if ticket.clocks and unchanged.issuperset(ticket.clocks):
                    # one row carries every version: the fence (`save_clocks`) reads a
                    # ticket's newest stored version as the one its holder last wrote
                    unchanged = unchanged - {next(iter(ticket.clocks))}
                ticket_facts, ticket_rows = ticket_facts_and_rows(ticket, unchanged)
                facts += ticket_facts
                rows += ticket_rows
            fact_records = [self._fact_record(fact) for fact in facts]
        new_ids = inserting.result()
        async with in_flight(save_clocks(conn, rows=rows), rows=len(rows)) as saving:
            # meanwhile: the new signals' outbox records, ahead of the facts' (should the
            # fence fail, the transaction rolls back and they are dropped)
            records = self._signal_records(signals, new_ids)
        saving.result()
        records += fact_records
        # a ticket has both clocks unless a deleted policy took away what it never ended
        partial = {t.ticket_id: (list(t.clocks), t.version) for t in tickets if len(t.clocks) < 2}
        if partial:
            gone = await delete_clocks(conn, keep={k: list(v[0]) for k, v in partial.items()})
            for row in gone:
                row = replace(row, version=partial[row.ticket_id][1])
                records.append(self._fact_record(clock_fact(row, removed=True)))
        await enqueue_raw(conn, records)

    def _fact_record(self, fact: ClockFact) -> OutboxRecord:
        return outbox_record(
            self.facts_topic, fact.service, fact.fact_id, json_value(fact), fact.occurred_at
        )

    def _signal_records(self, signals: list[SignalRecord], new_ids: set[str]) -> list[OutboxRecord]:
        """The outbox records of the signals that are new (counted and logged as emitted)."""
        records: list[OutboxRecord] = []
        emitted: list[dict[str, Any]] = []
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for body, raw, _threshold, _episode in signals:
            if body["signal_id"] in new_ids:
                records.append(
                    outbox_record(
                        self.signals_topic,
                        body["service"],
                        body["signal_id"],
                        raw,
                        body["occurred_at"],
                    )
                )
                counts[(body["kind"], body["service"], body["metric"], body["priority"] or "")] += 1
                emitted.append(body)
        for labels, count in counts.items():
            SIGNALS.labels(*labels).inc(count)
        _log_signals(emitted)
        return records
