"""Issues the last complete month automatically once `PACTA_REPORT_PUBLISH_AFTER` has passed
since it ended (in `PACTA_REPORT_TZ`) and nobody issued it; every instance runs this, and the
advisory lock in `publication.issue` lets only the first one issue it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pacta.clock import now_ms
from pacta.logs import get_logger
from reporting import publication
from reporting.context import Reporting
from reporting.domain.periods import last_complete_month, month_bounds

log = get_logger(__name__)


Issue = Callable[[str, str, int], Awaitable[publication.Issued | None]]
"""Issues (month, tz) as of now, automatically: None when a revision exists already."""


async def check_once(ctx: Reporting, issue: Issue, now_ms: int) -> publication.Issued | None:
    tz = ctx.settings.report_tz
    month = last_complete_month(now_ms, tz)
    if now_ms < month_bounds(month, tz)[1] + ctx.settings.publish_after_ms:
        return None
    async with ctx.engine.connect() as conn:
        if await publication.latest_revision(conn, ctx.schema, month, tz) is not None:
            return None
    issued = await issue(month, tz, now_ms)
    if issued is not None:
        log.info("month issued automatically", month=month, tz=tz, revision=issued.revision)
    return issued


async def run(ctx: Reporting, issue: Issue, ready: Callable[[], Awaitable[bool]]) -> None:
    """Check every `report_publish_check_s`; the first check waits one interval, so a fresh
    instance has consumed what Kafka holds before it issues anything."""
    while True:
        await asyncio.sleep(ctx.settings.report_publish_check_s)
        try:
            if await ready():
                await check_once(ctx, issue, now_ms())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed check is retried at the next one
            log.exception("automatic issue failed", error=repr(exc))
