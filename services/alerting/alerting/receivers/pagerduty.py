"""The `pagerduty` receiver (placeholder until its module lands)."""

from __future__ import annotations

from typing import Literal

import httpx

from alerting.receivers.base import ReceiverConfig, Sender


class Config(ReceiverConfig):
    type: Literal["pagerduty"]


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    raise NotImplementedError("the pagerduty receiver is not built yet")
