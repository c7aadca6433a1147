"""sla_engine package."""
