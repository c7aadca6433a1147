"""API keys and roles (docs/api.md, Access): `ingest` may post events, `admin` may also change things.

Reading needs any valid key. Keys come as `Authorization: Bearer`, `Authorization: Key`
(Alerta's style) or `X-API-Key`; they are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import Scope

from pacta.problems import Problem
from pacta.settings import Role

RANK: dict[str, int] = {"read": 0, "ingest": 1, "admin": 2}


def presented_key(request: Request) -> str | None:
    headers = request.headers
    return key_of(headers.get("authorization", ""), headers.get("x-api-key"))


def presented_in(scope: Scope) -> str | None:
    """`presented_key` read from an ASGI scope's raw headers, with no `Request` built (a hot
    path's key check); the first of each header counts, as `Request.headers.get` takes it."""
    authorization = api_key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
    return key_of(authorization or "", api_key)


def key_of(authorization: str, api_key: str | None) -> str | None:
    """The key an `Authorization` value (Bearer or Key) or else an `X-API-Key` value carry."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("bearer", "key") and value.strip():
        return value.strip()
    return api_key or None


def lookup(keys: dict[str, Role], presented: str) -> tuple[str, Role] | None:
    found: tuple[str, Role] | None = None
    for key, role in keys.items():
        # Compare against every key so the timing does not reveal which prefix matched.
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = (key, role)
    return found


def authenticate(request: Request, need: str) -> str:
    """Return the caller's key, or raise 401 (no or unknown key) / 403 (role too low)."""
    return check_key(request.app.state.api_keys, presented_key(request), need)


def check_key(keys: dict[str, Role], presented: str | None, need: str) -> str:
    """`authenticate` for a key already read from the request."""
    match = lookup(keys, presented) if presented else None
    if match is None:
        raise Problem(
            401,
            "Unauthorized",
            "a valid API key is required (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if RANK[match[1]] < RANK[need]:
        raise Problem(403, "Forbidden", f"this action needs the {need} role")
    return match[0]


async def _reader(request: Request) -> str:  # async: sync dependencies hop to a thread
    return authenticate(request, "read")


async def _ingester(request: Request) -> str:
    return authenticate(request, "ingest")


async def _admin(request: Request) -> str:
    return authenticate(request, "admin")


ReaderKey = Annotated[str, Depends(_reader)]
IngestKey = Annotated[str, Depends(_ingester)]
AdminKey = Annotated[str, Depends(_admin)]
