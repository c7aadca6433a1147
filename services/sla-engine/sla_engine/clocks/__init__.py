"""Ticket clocks: the keeper of open tickets, their rows and facts, their writes, policy changes."""
