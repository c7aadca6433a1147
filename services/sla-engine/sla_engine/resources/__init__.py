"""Calendars, policies and maintenance windows: the registry, config as code, the resource topics."""
