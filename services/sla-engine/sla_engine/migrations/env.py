"""Alembic environment of the sla_engine schema."""

from pacta.db import run_migrations_env

run_migrations_env()
