"""Availability: the version counter (and last body) of each service-month's availability
fact, and an index on the checks still firing (what a restart re-arms timers for).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    op.create_table(
        "availability_facts",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.execute(
        f"CREATE INDEX down_intervals_open ON {schema}.down_intervals (service) "
        "WHERE ended_at IS NULL"
    )


def downgrade(schema: str) -> None:
    op.execute(f"DROP INDEX IF EXISTS {schema}.down_intervals_open")
    op.drop_table("availability_facts", schema=schema)
