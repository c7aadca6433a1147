"""Sign-in for the overview page: a read key checked once, then a session kept on the server.

The cookie holds only a random token (HttpOnly, SameSite=Strict); the database keeps its
sha256, its expiry and a salted digest of the key signed in with. Signing out deletes the row,
so a copied cookie stops working at once; rotating the keys ends every session made with a key
that is gone."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.auth import authenticate
from pacta.clock import now_ms
from pacta.durations import ms_to_datetime
from pacta.settings import Role
from reporting.context import Ctx
from reporting.store import q

COOKIE = "pacta_session"
LIFETIME_S = 12 * 3600


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


async def open_session(engine: AsyncEngine, schema: str, key: str, now_ms: int) -> str:
    """A new session for `key` (already checked); returns the cookie's token."""
    token, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
    s = q(schema)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(f"DELETE FROM {s}.sessions WHERE expires_at < :now"),
            {"now": ms_to_datetime(now_ms)},
        )
        await conn.execute(
            sa.text(
                f"INSERT INTO {s}.sessions (token_hash, key_salt, key_digest, expires_at) "
                "VALUES (:t, :s, :d, :e)"
            ),
            {
                "t": _hash(token),
                "s": salt,
                "d": _digest(salt, key),
                "e": ms_to_datetime(now_ms) + timedelta(seconds=LIFETIME_S),
            },
        )
    return token


async def close_session(engine: AsyncEngine, schema: str, token: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(f"DELETE FROM {q(schema)}.sessions WHERE token_hash = :t"),
            {"t": _hash(token)},
        )


async def session_valid(
    engine: AsyncEngine, schema: str, keys: dict[str, Role], token: str, now_ms: int
) -> bool:
    if not token or len(token) > 200:
        return False
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    f"SELECT key_salt, key_digest FROM {q(schema)}.sessions "
                    "WHERE token_hash = :t AND expires_at > :now"
                ),
                {"t": _hash(token), "now": ms_to_datetime(now_ms)},
            )
        ).first()
    if row is None:
        return False
    salt, digest = row
    return any(hmac.compare_digest(_digest(salt, k), digest) for k in keys)


async def signed_in(request: Request, ctx: Ctx, now_ms: int) -> bool:
    token = request.cookies.get(COOKIE)
    return token is not None and await session_valid(
        ctx.engine, ctx.schema, ctx.api_keys, token, now_ms
    )


async def reader(request: Request, ctx: Ctx) -> str:
    """A valid key in the headers, or a valid session cookie (the pages link to reports)."""
    if await signed_in(request, ctx, now_ms()):
        return "session"
    return authenticate(request, "read")
