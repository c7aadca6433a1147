"""Alembic environment of the ingest schema."""

from pacta.db import run_migrations_env

run_migrations_env()
