"""The sla-engine's functional core: SLA clocks, ticket logs, availability arithmetic, budget
alerts, policies and signal shaping, with no I/O and the time passed in (STYLE.md)."""
