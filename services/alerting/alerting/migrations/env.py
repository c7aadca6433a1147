"""Alembic environment of the alerting schema."""

from pacta.db import run_migrations_env

run_migrations_env()
