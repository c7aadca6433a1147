"""An index on the PagerDuty alerts' age, which each trigger prunes by (400 days unused).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade(schema: str) -> None:
    op.create_index(
        "pagerduty_alerts_updated_at", "pagerduty_alerts", ["updated_at"], schema=schema
    )


def downgrade(schema: str) -> None:
    op.drop_index("pagerduty_alerts_updated_at", table_name="pagerduty_alerts", schema=schema)
