"""Alembic environment of the reporting schema."""

from pacta.db import run_migrations_env

run_migrations_env()
