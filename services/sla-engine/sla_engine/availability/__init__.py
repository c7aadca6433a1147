"""Availability: outages of monitored checks, their timers, signals and facts."""
