"""The tables both halves of the engine share: the event journal and the signals; the schema's
name (`SCHEMA`), the raw driver connection bulk reads use, and a statement left in flight while
the engine computes (`in_flight`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from pacta.db import driver_connection as driver_connection

T = TypeVar("T")

SCHEMA = "sla_engine"


OVERLAP_FROM = 64
"""A batch of fewer rows than this runs its statements one after the other (`in_flight`): what
the engine would compute meanwhile takes less than the task costs."""


@contextlib.asynccontextmanager
async def in_flight(
    statement: Coroutine[Any, Any, T], *, rows: int = OVERLAP_FROM
) -> AsyncIterator[asyncio.Future[T]]:
    """Run `statement` (a store call on a connection) while the block computes what does not
    depend on it: PostgreSQL executes it on its own core meanwhile, instead of the engine
    waiting idle for the answer and PostgreSQL for the next statement. The block must not use
    the connection; after it, the future's `result()` is the call's (or raises its error).
    Should the block raise, the statement is still awaited (a connection with a statement in
    flight can neither roll back nor be returned) and its outcome dropped. `rows`: how many
    the statement writes; below `OVERLAP_FROM` it is simply awaited before the block."""
    if rows < OVERLAP_FROM:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        done.set_result(await statement)
        yield done
        return
    task = asyncio.ensure_future(statement)
    await asyncio.sleep(0)  # the task runs up to its first wait: the statement is sent
    try:
        yield task
    finally:
        # cancelled meanwhile: the statement is cancelled too (as it would be if awaited)
        await asyncio.gather(task, return_exceptions=True)
