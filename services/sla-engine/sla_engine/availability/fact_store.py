"""The version counter of availability facts, and the statement that writes a re-plan's facts
onto the outbox with their new versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sla_engine.kafka.outbox import OUTBOX_INSERT, outbox_columns, remember
from sla_engine.kafka.records import OutboxRecord
from sla_engine.store import driver_connection


async def next_fact_version(
    conn: AsyncConnection, *, service: str, month: str, body: dict[str, Any]
) -> int:
    """Bump and return the version of a service-month's availability fact (row-locked, so
    concurrent writers get distinct versions)."""
    return (await next_fact_versions(conn, [(service, month, body)]))[(service, month)]


async def next_fact_versions(
    conn: AsyncConnection, facts: list[tuple[str, str, dict[str, Any]]]
) -> dict[tuple[str, str], int]:
    """`next_fact_version` of several (service, month, body), each pair at most once, in one
    statement."""
    if not facts:
        return {}
    result = await conn.execute(sa.text(_UPSERT_FACTS), _fact_params(facts))
    return {(service, month): int(version) for service, month, version in result}


_UPSERT_FACTS = (
    "INSERT INTO sla_engine.availability_facts (service, month, version, body) "
    "SELECT s, m, 1, CAST(b AS jsonb) FROM unnest(CAST(:services AS text[]), "
    "CAST(:months AS text[]), CAST(:bodies AS text[])) AS f(s, m, b) "
    "ON CONFLICT (service, month) DO UPDATE SET "
    "version = sla_engine.availability_facts.version + 1, body = EXCLUDED.body, "
    "updated_at = now() RETURNING service, month, version"
)


_UPSERT_FACTS_RAW = (
    _UPSERT_FACTS.replace(":services", "$1").replace(":months", "$2").replace(":bodies", "$3")
)


def _fact_params(facts: list[tuple[str, str, dict[str, Any]]]) -> dict[str, list[str]]:
    return {
        "services": [f[0] for f in facts],
        "months": [f[1] for f in facts],
        "bodies": [orjson.dumps(f[2]).decode() for f in facts],
    }


VERSION_MARK = 7_919_001_230_477_000_001
"""The version a fact body is written with when PostgreSQL puts the real one in its place
(`enqueue_with_fact_versions`): no fact ever gets this far."""
_MARK = str(VERSION_MARK)
_MARK_BYTES = _MARK.encode()


def marked_twice(body: bytes) -> bool:
    """Whether the JSON of a fact written with `VERSION_MARK` holds it exactly twice (its
    `fact_id` and its `version`), so replacing it replaces nothing else."""
    return body.count(_MARK_BYTES) == 2


async def enqueue_with_fact_versions(
    conn: AsyncConnection,
    *,
    facts: list[tuple[str, str, dict[str, Any]]],
    records: Sequence[OutboxRecord],
    fact_of: Sequence[tuple[str, str] | None],
) -> dict[tuple[str, str], int]:
    """`next_fact_versions` of the facts and `outbox._insert` of the records (one row each) in
    one statement: a record whose `fact_of` names a (service, month) among the facts has
    `VERSION_MARK` (`marked_twice`) in its id and value, which become that fact's new version
    on the outbox and in what the relay sends from memory; returns the versions."""
    raw = await driver_connection(conn)
    result = await raw.fetch(
        (
            "WITH f AS (" + _UPSERT_FACTS_RAW + "), "
            "r AS (SELECT * FROM unnest(CAST($4 AS text[]), CAST($5 AS text[]), "
            "CAST($6 AS text[]), CAST($7 AS text[]), CAST($8 AS text[]), "
            "CAST($9 AS bytea[]), CAST($10 AS text[]), CAST($11 AS text[])) "
            "WITH ORDINALITY AS r(topic, key, rid, ce_type, ce_time, body, service, month, n)), "
            "o AS (" + OUTBOX_INSERT + "SELECT r.topic, r.key, "
            "coalesce(replace(r.rid, $12, f.version::text), r.rid), r.ce_type, r.ce_time, "
            "coalesce(convert_to(replace(convert_from(r.body, 'UTF8'), $12, f.version::text), "
            "'UTF8'), r.body) FROM r LEFT JOIN f ON f.service = r.service AND f.month = r.month "
            "ORDER BY r.n RETURNING seq) "
            "SELECT service, month, version, NULL::bigint FROM f UNION ALL "
            "SELECT NULL, NULL, NULL, seq FROM o"
        ),
        *_fact_params(facts).values(),
        *outbox_columns(records),
        [None if k is None else k[0] for k in fact_of],
        [None if k is None else k[1] for k in fact_of],
        _MARK,
    )
    versions: dict[tuple[str, str], int] = {}
    seqs: list[int] = []
    for service, month, version, seq in result:
        if seq is None:
            versions[(service, month)] = int(version)
        else:
            seqs.append(seq)
    rows = [
        record
        if key is None
        else record._replace(
            record_id=record.record_id.replace(_MARK, str(versions[key])),
            value=None
            if record.value is None
            else record.value.replace(_MARK_BYTES, str(versions[key]).encode()),
        )
        for record, key in zip(records, fact_of, strict=True)
    ]
    remember(conn, seqs, rows)
    return versions
