"""What several receivers share: checked config fields (one-line text, http(s) URLs, write-only
secrets) and one JSON POST whose failures are classified for the delivery queue."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, Field, StringConstraints

from alerting.receivers.base import DeliveryError, http_error


def no_controls(value: str) -> str:
    # NUL and line breaks have no place in a URL, a key or a header; refusing them here is
    # what turns them into a 422 naming the field instead of a failure at delivery time
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain NUL or other control characters")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain white space")
    try:
        parts.port  # noqa: B018  (raises on a port that is out of range or not a number)
    except ValueError as exc:
        raise ValueError(f"has a bad port: {exc}") from None
    return value


Line = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_controls)]
"""A short single-line text: a channel, a user name, a key."""

HttpUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    AfterValidator(no_controls),
    AfterValidator(_http_url),
]
"""An http(s) URL kept exactly as written (pydantic's own type rewrites it)."""


def secret(default: Any = ...) -> Any:
    """A write-only field: left out of `repr`, marked `writeOnly` in the JSON schema (the API
    shows it as `"<set>"`); list it in the config's `SECRET_FIELDS` too."""
    return Field(default, repr=False, json_schema_extra={"writeOnly": True})


async def post_json(
    http: httpx.AsyncClient, url: str, body: Any, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST `body` as JSON; a 2xx answer is returned, anything else raises `DeliveryError`.

    Transport failures (refused, reset, timed out) are retryable. The URL is never put in a
    message: for Slack and Teams it is the credential."""
    try:
        response = await http.post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timed out: {type(exc).__name__}", retryable=True) from None
    except httpx.TransportError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
    if not response.is_success:
        error = http_error(response)
        if error.retry_after is None:
            error.retry_after = _retry_date(response.headers.get("retry-after"))
        raise error
    return response


def _retry_date(header: str | None) -> float | None:
    # Retry-After may also be an HTTP date (RFC 9110 §10.2.3); base.http_error reads seconds
    if not header:
        return None
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
