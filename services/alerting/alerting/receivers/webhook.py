"""The `webhook` receiver (placeholder until its module lands)."""

from __future__ import annotations

from typing import Literal

import httpx

from alerting.receivers.base import ReceiverConfig, Sender


class Config(ReceiverConfig):
    type: Literal["webhook"]


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    raise NotImplementedError("the webhook receiver is not built yet")
