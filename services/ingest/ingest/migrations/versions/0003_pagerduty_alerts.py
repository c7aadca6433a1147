"""The service of each PagerDuty alert, for its resolve (which names only the dedup_key).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade(schema: str) -> None:
    op.create_table(
        "pagerduty_alerts",
        sa.Column("routing_key", sa.Text, primary_key=True),
        sa.Column("dedup_key", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    op.drop_table("pagerduty_alerts", schema=schema)
