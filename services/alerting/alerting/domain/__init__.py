"""Alerting's functional core: matchers, routing, grouping, silences, inhibition, escalation
and the alert state machine, as plain functions of values and a time passed in."""
