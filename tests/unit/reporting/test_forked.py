"""A forked child's result comes back; its failure, or its death, raises here."""

from __future__ import annotations

import os

import pytest

from reporting.forked import ForkedError, run_forked


async def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


async def _fail() -> None:
    raise ValueError("no such partition")


async def _die() -> None:
    os._exit(3)


async def test_the_result_comes_back_from_another_process() -> None:
    pid, doubled = await run_forked(lambda: _pid_and(21), "double")
    assert (pid != os.getpid(), doubled) == (True, 42)


async def test_a_failure_in_the_child_raises_here() -> None:
    with pytest.raises(ForkedError, match="no such partition"):
        await run_forked(_fail, "fail")


async def test_a_child_that_dies_without_an_answer_raises_here() -> None:
    with pytest.raises(ForkedError, match="without an answer"):
        await run_forked(_die, "die")
