"""Admission of a request, the same for every ingest endpoint: its body signature is claimed
once (replay guard shared by every worker through PostgreSQL), then the per-key rate limit, then
the endpoint's own handling; a refusal after the claim gives the signature back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest import store
from ingest.ratelimit import retry_after_header
from ingest.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, SignatureGuard
from pacta.logs import get_logger
from pacta.problems import Problem

log = get_logger(__name__)

#: Answers after which the request was not processed: its signature may be sent again.
NOT_PROCESSED = frozenset({429, 500, 502, 503, 504})


async def admit(
    request: Request,
    key: str,
    raw: bytes,
    handle: Callable[[], Awaitable[Response]],
    *,
    refused: Callable[[str], None],
    rate_limited: bool = True,
) -> Response:
    """Signature, rate limit, then `handle()`: the first refusal answers the request.

    `refused(reason)` counts a refusal (`signature`, `rate_limited`) in the endpoint's metric.
    """
    state = request.app.state
    guard: SignatureGuard | None = state.signatures
    claimed = None
    if guard is not None:
        try:
            headers = request.headers
            stamp = headers.get(TIMESTAMP_HEADER)
            claimed = guard.verify(key, raw, headers.get(SIGNATURE_HEADER), stamp)
            if claimed is not None and stamp is not None:
                await _claim_signature(state, guard, claimed, int(stamp) + int(guard.window))
        except SignatureError as exc:
            refused("signature")
            raise Problem(401, "Invalid signature", str(exc)) from None
    try:
        if rate_limited:
            wait = state.limiter.acquire(key)
            if wait:
                refused("rate_limited")
                raise Problem(
                    429,
                    "Too many requests",
                    "per-key rate limit reached",
                    headers={"Retry-After": retry_after_header(wait)},
                )
        return await handle()
    except Problem as problem:
        if guard is not None and claimed is not None and problem.status in NOT_PROCESSED:
            # The sender may retry exactly the same signed request, as Retry-After asks.
            guard.release(claimed)
            await _release_signature(state, claimed)
        raise


def unavailable(retry_after: int, detail: str) -> Problem:
    """503 with Retry-After: a dependency did not answer, the sender should retry."""
    return Problem(503, "Service unavailable", detail, headers={"Retry-After": str(retry_after)})


async def _claim_signature(state: Any, guard: SignatureGuard, claimed: bytes, expires: int) -> None:
    """The worker's guard refused replays it saw; PostgreSQL refuses those any worker saw,
    before or after a restart. Without a pool (no database yet) the guard alone decides."""
    pool = getattr(state, "claim_pool", None)
    if pool is None:
        return
    try:
        fresh = await store.claim_signature(pool, signature=claimed, expires_at=expires)
    except Exception as exc:
        guard.release(claimed)
        log.warning("signature not recorded", error=repr(exc))
        raise unavailable(state.settings.ingest_retry_after, "PostgreSQL unreachable") from None
    if not fresh:
        raise SignatureError("this signature was already used (replay refused)")


async def _release_signature(state: Any, claimed: bytes) -> None:
    pool = getattr(state, "claim_pool", None)
    if pool is None:
        return
    try:
        await store.release_signature(pool, signature=claimed)
    except Exception as exc:  # the sender then signs its retry anew
        log.warning("signature not released", error=repr(exc))
