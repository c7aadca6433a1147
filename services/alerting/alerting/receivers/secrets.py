"""Write-only receiver fields: how a GET shows a receiver, and what a PUT's `"<set>"` may keep.
A stored secret stays with its destination: re-pointing a receiver means giving it again."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from alerting.receivers import TYPES, integrations

SHOWN = "<set>"
DESTINATION = ("url", "host", "port")
_AGAIN = (
    "a stored secret is kept only while the receiver's destination (type, url, host and port) "
    "stays the same: give it again"
)


def redacted_url(url: str) -> str:
    """Scheme, host and port only: a webhook's path, query and user info often carry a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{host}:{port}"


def shown(name: str, config: BaseModel) -> dict[str, Any]:
    """A receiver as any key may read it."""
    return {"name": name, **_shown(config)}


def _shown(config: BaseModel) -> dict[str, Any]:
    if isinstance(config, integrations.Config):
        return {"integrations": [_shown(c) for c in config.integrations]}
    body = config.model_dump(mode="json")
    for field in getattr(config, "SECRET_FIELDS", frozenset()):
        if body.get(field) is not None:
            body[field] = SHOWN
    if body.get("type") == "webhook" and isinstance(body.get("url"), str):
        body["url"] = redacted_url(body["url"])
    return body


def restore(
    previous: BaseModel | None, body: dict[str, Any], where: str = ""
) -> list[dict[str, str]]:
    """Put the stored values back where `body` shows them as a GET did (`"<set>"`, a webhook
    URL cut to scheme, host and port), as long as the destination stays the same. Changes
    `body` in place; returns the errors (a secret to give again), naming their fields."""
    if body.get("type", "integrations") == "integrations" and "integrations" in body:
        before = previous.integrations if isinstance(previous, integrations.Config) else []
        errors: list[dict[str, str]] = []
        items = body["integrations"]
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                prior = before[i] if i < len(before) else None
                errors += restore(prior, item, f"{where}integrations.{i}.")
        return errors
    kind = body.get("type")
    module = TYPES.get(kind) if isinstance(kind, str) else None
    if module is None:
        return []  # the validation names the type
    secret_fields = module.Config.SECRET_FIELDS
    stored = None
    if previous is not None and getattr(previous, "type", None) == kind:
        stored = previous.model_dump(mode="json")
    url = body.get("url")
    if stored is not None and isinstance(url, str) and isinstance(stored.get("url"), str):
        as_shown = url == SHOWN and "url" in secret_fields
        if as_shown or (kind == "webhook" and url == redacted_url(stored["url"])):
            body["url"] = stored["url"]
    kept = [f for f in sorted(secret_fields) if body.get(f) == SHOWN]
    if not kept:
        return []
    if stored is None or previous is None:
        return [{"field": f"{where}{f}", "message": _AGAIN} for f in kept]
    missing = [f for f in kept if stored.get(f) is None]
    trial = {**body, **{f: stored[f] for f in kept if f not in missing}}
    try:
        config = module.Config.model_validate(trial)
    except ValidationError:
        return []  # the body is wrong anyway: the validation names what
    if any(getattr(config, k, None) != getattr(previous, k, None) for k in DESTINATION):
        return [{"field": f"{where}{f}", "message": _AGAIN} for f in kept]
    body.update({f: stored[f] for f in kept if f not in missing})
    return [{"field": f"{where}{f}", "message": "no stored secret to keep"} for f in missing]
