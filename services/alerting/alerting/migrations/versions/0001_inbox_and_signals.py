"""Inbox of applied signal ids and the signals alerting has received.

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
        "signals",
        sa.Column("signal_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("signals_service_time", "signals", ["service", "occurred_at"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_table("signals", schema=schema)
    op.drop_table("inbox", schema=schema)
