"""Due deliveries by receiver: the worker takes each receiver's share on its own, so one
receiver's backlog never hides another's deliveries.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade(schema: str) -> None:
    op.create_index(
        "deliveries_due_by_receiver",
        "deliveries",
        ["receiver", "next_attempt_at", "id"],
        schema=schema,
        postgresql_where=sa.text("state IN ('pending', 'sending')"),
    )


def downgrade(schema: str) -> None:
    op.drop_index("deliveries_due_by_receiver", table_name="deliveries", schema=schema)
