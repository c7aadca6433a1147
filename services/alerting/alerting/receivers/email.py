"""The `email` receiver (placeholder until its module lands)."""

from __future__ import annotations

from typing import Literal

import httpx

from alerting.receivers.base import ReceiverConfig, Sender


class Config(ReceiverConfig):
    type: Literal["email"]


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    raise NotImplementedError("the email receiver is not built yet")
