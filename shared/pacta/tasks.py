"""A lifespan's background tasks: asked to stop, then cancelled and awaited together, so a
service's shutdown is one call and no task outlives its app."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


async def stop_tasks(stop: asyncio.Event, tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Set `stop` (the tasks' own signal), cancel what still runs, and wait for every task;
    their exceptions are dropped: at shutdown there is nobody left to answer."""
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
