"""Event ids already acknowledged.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade(schema: str) -> None:
    op.create_table(
        "seen_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column(
            "seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )
    op.create_index("seen_events_seen_at", "seen_events", ["seen_at"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_table("seen_events", schema=schema)
