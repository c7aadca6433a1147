"""The ingest schema: event ids already acknowledged, so a retry is answered as a duplicate.

The claim of a cycle's ids is one autocommit statement on a plain asyncpg pool's connection
(one round trip, no transaction to open and close): it runs once Kafka holds the records,
before the 202. The cycles keep their connections checked out (`ClaimConnections`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "ingest"
_CLAIM = (
    "INSERT INTO ingest.seen_events (event_id) SELECT unnest($1::text[]) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def create_claim_pool(url: str, size: int, *, fsync: bool) -> Any:
    """An asyncpg pool for the claims, from the service's SQLAlchemy database URL.

    `fsync` False commits without waiting for the WAL flush (`synchronous_commit = off`): the
    claim is visible to every session at once and survives any restart of the ingest, and only
    a crash of PostgreSQL itself may forget the last few `wal_writer_delay`s of claims.
    """
    parsed = sa.make_url(url).set(drivername="postgresql")
    ssl: object = None
    if parsed.host in ("127.0.0.1", "localhost", "::1") and not (
        {"ssl", "sslmode"} & set(parsed.query)
    ):
        ssl = False  # as pacta.db.create_engine: no TLS on loopback
    return await asyncpg.create_pool(
        parsed.render_as_string(hide_password=False),
        min_size=1,
        max_size=size,
        ssl=ssl,
        timeout=10,
        server_settings={} if fsync else {"synchronous_commit": "off"},
        reset=_keep_session,
    )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """What a claim connection needs on its way back to the pool: nothing.

    asyncpg's default reset runs `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()`
    on every release: a second round trip after each claim, before the claim's caller resumes
    (half of this pool's statements). These connections only ever run single autocommit
    statements and change no session state; a transaction left open is still rolled back by
    the pool before this is called.
    """


class ClaimConnections:
    """Connections the produce-and-claim cycles keep checked out of `pool`, one per cycle
    running at once: asyncpg's acquire and release (a proxy, an inactivity timer, the reset
    callback, the free queue) cost as much CPU as the claim statement itself.

    A kept connection found closed (PostgreSQL restarted) is handed back for one the pool
    connects anew, as its own acquire would; one whose claim failed (a timeout mid-statement)
    is terminated and handed back. `close()` hands the rest back before the pool closes.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._idle: list[Any] = []
        self._closed = False

    async def claim_ids(self, ids: list[str]) -> set[str]:
        """Insert the ids; return those not seen before. Concurrent claims of one id serialise
        on the primary key, so exactly one request (of any process) wins it. On a kept
        connection, or a new one while all are busy."""
        conn = None
        while self._idle and conn is None:
            conn = self._idle.pop()
            if _lost(conn):  # PostgreSQL restarted: the pool connects anew, as it did
                await self.pool.release(conn)
                conn = None
        if conn is None:
            conn = await self.pool.acquire()
        try:
            rows = await conn.fetch(_CLAIM, ids)
        except BaseException:
            with contextlib.suppress(asyncpg.InterfaceError):  # already handed back
                conn.terminate()
            await self.pool.release(conn)
            raise
        if self._closed:  # a cycle that ended after close(): the pool is waiting for it
            await self.pool.release(conn)
        else:
            self._idle.append(conn)
        return {r[0] for r in rows}

    async def close(self) -> None:
        idle, self._idle, self._closed = self._idle, [], True
        for conn in idle:
            await self.pool.release(conn)


def _lost(conn: Any) -> bool:
    """Whether a kept connection is closed, or was handed back by asyncpg itself (it does so
    with a connection whose socket closed; `release` of it is then a no-op)."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


async def claim_signature(pool: Any, *, signature: bytes, expires_at: int) -> bool:
    """Record a signature's one use; False if some process already used it (a replay)."""
    row = await pool.fetchval(
        "INSERT INTO ingest.used_signatures (signature, expires_at) VALUES ($1, to_timestamp($2)) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        signature,
        expires_at,
    )
    return row is not None


async def release_signature(pool: Any, *, signature: bytes) -> None:
    await pool.execute("DELETE FROM ingest.used_signatures WHERE signature = $1", signature)


async def prune(conn: AsyncConnection, *, older_than_days: int) -> int:
    """Forget ids older than the dedup window and signatures past their replay window."""
    result = await conn.execute(
        sa.text("DELETE FROM ingest.seen_events WHERE seen_at < now() - make_interval(days => :d)"),
        {"d": older_than_days},
    )
    await conn.execute(sa.text("DELETE FROM ingest.used_signatures WHERE expires_at < now()"))
    return int(result.rowcount or 0)
