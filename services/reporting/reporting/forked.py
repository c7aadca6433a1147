"""An async function run in a child process forked from this one, with an event loop of its
own, its result sent back: a rebuild replays part of the topics there, on the other core."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from pacta.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")
ORPHAN_CHECK_S = 1.0
"""How often a child looks whether the process that forked it is still there."""


class ForkedError(RuntimeError):
    """The child failed (its error, as text) or died without an answer."""


async def run_forked(fn: Callable[[], Awaitable[T]], name: str) -> T:
    """`fn()`'s result, computed in a forked child (it must pickle). The child starts with
    this process's memory, modules already imported (a child that imported them afresh would
    spend seconds of CPU compiling them) and none of its event loop's work: `fn` opens its own
    connections. Cancelled, or when this process dies, the child is ended; its failure raises
    `ForkedError` here."""
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_child, args=(fn, send, os.getpid()), name=name, daemon=True
    )
    child.start()
    send.close()  # the child's end: EOF here once the child is gone
    try:
        outcome, value = await asyncio.to_thread(_receive, receive)
    finally:
        if child.is_alive():
            child.terminate()  # cancelled, or failed here: the child's writes stop
        await asyncio.to_thread(child.join)  # its CPU time counts as this process's children's
        receive.close()
    if outcome != "ok":
        raise ForkedError(f"{name} failed: {value}")
    return value  # type: ignore[no-any-return]


def _receive(receive: Connection) -> tuple[str, Any]:
    try:
        return receive.recv()  # type: ignore[no-any-return]
    except EOFError:
        return "died", "exited without an answer"


def _child(fn: Callable[[], Awaitable[Any]], send: Connection, parent: int) -> None:
    # forked inside the parent's running event loop, which this thread still sees as running:
    # a thread of its own runs a fresh loop
    answer: list[tuple[str, Any]] = [("died", "no answer")]

    def run() -> None:
        try:
            answer[0] = ("ok", asyncio.run(_unless_orphaned(fn(), parent)))
        except BaseException as e:  # whatever it is, the parent hears of it
            log.exception("forked child failed")
            answer[0] = ("failed", repr(e))

    thread = threading.Thread(target=run, name="forked")
    thread.start()
    thread.join()
    send.send(answer[0])
    send.close()


async def _unless_orphaned(work: Awaitable[T], parent: int) -> T:
    """`work`'s result; stops it when the parent is gone (a killed rebuild writes no more)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.wait((task,), timeout=ORPHAN_CHECK_S)
        if os.getppid() != parent:
            task.cancel()
            raise ForkedError("the parent process is gone")
    return task.result()
