"""Every SQL statement of the alerting schema, behind typed keyword-only functions: one module
per family of tables. Pipeline stages and routes call these and never write SQL."""

from __future__ import annotations

from alerting.store import (
    alerts,
    config,
    deliveries,
    escalations,
    flushes,
    groups,
    inbox,
    oncall,
    silences,
)
from alerting.store.sql import SCHEMA

__all__ = [
    "SCHEMA",
    "alerts",
    "config",
    "deliveries",
    "escalations",
    "flushes",
    "groups",
    "inbox",
    "oncall",
    "silences",
]
