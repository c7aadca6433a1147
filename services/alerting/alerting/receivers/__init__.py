"""Receiver types, one module each behind `base.Sender`: the registry the API validates
receiver bodies against and the delivery queue builds senders from."""

from __future__ import annotations

from types import ModuleType

from alerting.receivers import email, integrations, msteams, pagerduty, slack, webhook

TYPES: dict[str, ModuleType] = {
    "webhook": webhook,
    "slack": slack,
    "msteams": msteams,
    "email": email,
    "pagerduty": pagerduty,
    "integrations": integrations,
}
"""Each module defines `Config` (a `base.ReceiverConfig` with `type: Literal[name]`) and
`build(config: Config, http: httpx.AsyncClient) -> base.Sender` (its `CLIENT` says which
client: "aiohttp"; "http1" for a tuple of `http1.Pool` and the aiohttp session; "both" for a
tuple of all three)."""
