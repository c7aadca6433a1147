"""Several destinations under one receiver name, as an Alertmanager receiver with several
`*_configs`: every integration is notified, and a retry goes only to those that failed."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import aiohttp
import httpx
from pydantic import ConfigDict, Field

from alerting.receivers import email, http1, msteams, pagerduty, slack, webhook
from alerting.receivers.base import DeliveryError, Notification, ReceiverConfig, Sender

# the delivery worker hands this type every client (its integrations may use any)
CLIENT = "both"
REMEMBERED = 10_000

Integration = Annotated[
    webhook.Config | slack.Config | msteams.Config | email.Config | pagerduty.Config,
    Field(discriminator="type"),
]
MODULES = {"webhook": webhook, "slack": slack, "msteams": msteams, "email": email}
MODULES["pagerduty"] = pagerduty


class Config(ReceiverConfig):
    """`{"integrations": [<receiver body>, ...]}`; each entry's secrets stay write-only."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["integrations"] = "integrations"
    # none: a receiver that notifies nobody (Alertmanager's receiver without configs)
    integrations: list[Integration] = Field(max_length=16)


class IntegrationsSender:
    def __init__(self, senders: Sequence[Sender]) -> None:
        self.senders = list(senders)
        # per delivery (its idempotency key): the integrations that already have it, so a
        # retry does not notify them again (kept in memory: after a restart it is at least once)
        self.done: OrderedDict[str, set[int]] = OrderedDict()

    async def send(self, notification: Notification) -> str:
        key = notification.idempotency_key
        done = self.done.setdefault(key, set())
        self.done.move_to_end(key)
        while len(self.done) > REMEMBERED:
            self.done.popitem(last=False)
        outcomes: list[str] = []
        failed: list[tuple[int, DeliveryError]] = []
        for i, sender in enumerate(self.senders):
            if i in done:
                continue
            try:
                outcomes.append(f"{i}: {await sender.send(notification)}")
                done.add(i)
            except DeliveryError as exc:
                failed.append((i, exc))
            except Exception as exc:  # as for a single receiver: anything else is retryable
                failed.append((i, DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)))
        if failed:
            hints = [e.retry_after for _, e in failed if e.retry_after is not None]
            raise DeliveryError(
                "; ".join(f"integration {i}: {e}" for i, e in failed),
                retryable=any(e.retryable for _, e in failed),
                retry_after=max(hints) if hints else None,
            )
        self.done.pop(key, None)
        return "; ".join(outcomes)


def build(
    config: Config, clients: tuple[httpx.AsyncClient, aiohttp.ClientSession, http1.Pool]
) -> Sender:
    http, web, pool = clients
    by_kind: dict[str, Any] = {"aiohttp": web, "http1": (pool, web)}
    senders: list[Sender] = []
    for item in config.integrations:
        module: Any = MODULES[item.type]
        senders.append(module.build(item, by_kind.get(getattr(module, "CLIENT", ""), http)))
    return IntegrationsSender(senders)
