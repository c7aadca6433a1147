"""Inbox of applied ids and the journal of everything reporting reads (events and signals).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from pacta.db import create_inbox

revision = "0001"
down_revision = None


def upgrade(schema: str) -> None:
    create_inbox(schema)
    op.create_table(
        "journal",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("journal_service_time", "journal", ["service", "occurred_at"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_table("journal", schema=schema)
    op.drop_table("inbox", schema=schema)
