"""Policy versions: the policies of the compacted `sla.policies` topic, the version
each clock's fact names, and the daily outcomes per (policy, version), filled from the clocks
already kept so an existing read model needs no rebuild.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"


def upgrade(schema: str) -> None:
    op.create_table(
        "policies",
        sa.Column("name", sa.Text, primary_key=True),
        # the highest version the record holds: an older record never replaces a newer one
        sa.Column("newest_version", sa.BigInteger, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.add_column("clocks", sa.Column("policy_version", sa.BigInteger), schema=schema)
    op.create_table(
        "clock_version_days",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("metric", sa.Text, primary_key=True),
        # '' and -1: the fact named no policy / no version (the key cannot hold nulls)
        sa.Column("policy", sa.Text, primary_key=True),
        sa.Column("policy_version", sa.BigInteger, primary_key=True),
        sa.Column("met", sa.BigInteger, nullable=False),
        sa.Column("breached", sa.BigInteger, nullable=False),
        schema=schema,
    )
    op.execute(
        f"UPDATE {schema}.clocks SET policy_version = (body->>'policy_version')::bigint "
        "WHERE jsonb_typeof(body->'policy_version') = 'number'"
    )
    op.execute(
        f"INSERT INTO {schema}.clock_version_days SELECT service, "
        "(outcome_at AT TIME ZONE 'UTC')::date, metric, coalesce(policy, ''), "
        "coalesce(policy_version, -1), count(*) FILTER (WHERE state = 'met'), "
        f"count(*) FILTER (WHERE state = 'breached') FROM {schema}.clocks "
        "WHERE outcome_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
    )


def downgrade(schema: str) -> None:
    op.drop_table("clock_version_days", schema=schema)
    op.drop_column("clocks", "policy_version", schema=schema)
    op.drop_table("policies", schema=schema)
