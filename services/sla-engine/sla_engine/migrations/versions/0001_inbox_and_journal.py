"""Inbox of applied event ids and the journal of events the engine keeps for replay.

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
        "ticket_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index(
        "ticket_events_ticket", "ticket_events", ["ticket_id", "occurred_at"], schema=schema
    )
    op.create_table(
        "monitoring_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("check_name", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index(
        "monitoring_events_check",
        "monitoring_events",
        ["service", "check_name", "occurred_at"],
        schema=schema,
    )


def downgrade(schema: str) -> None:
    for table in ("monitoring_events", "ticket_events", "inbox"):
        op.drop_table(table, schema=schema)
