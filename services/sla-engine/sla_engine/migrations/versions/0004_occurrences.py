"""Occurrences: clock episodes (a reopen starts one), the episode of each clock signal, the
labels of the firing that opened each down interval, and the policy changes applied to open
tickets at their instant.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"


def upgrade(schema: str) -> None:
    op.add_column(
        "clocks",
        sa.Column("episode", sa.Integer, nullable=False, server_default="1"),
        schema=schema,
    )
    op.add_column(
        "clocks",
        sa.Column("breach_episode", sa.Integer, nullable=False, server_default="0"),
        schema=schema,
    )
    op.execute(f"UPDATE {schema}.clocks SET breach_episode = 1 WHERE breached_at_ms IS NOT NULL")
    op.add_column(
        "signals",
        sa.Column("episode", sa.Integer, nullable=False, server_default="1"),
        schema=schema,
    )
    op.add_column(
        "down_intervals",
        sa.Column("labels", JSONB, nullable=False, server_default="{}"),
        schema=schema,
    )
    # a null body is a tombstone (a calendar deleted from the compacted calendars topic)
    op.alter_column("outbox", "body", nullable=True, schema=schema)
    op.create_table(
        "ticket_rules",
        sa.Column("ticket_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        # the policy measuring the ticket before (first change only) and from `at_ms` on;
        # null: none. {"policy": name, "spec": body}
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    op.drop_table("ticket_rules", schema=schema)
    op.drop_column("down_intervals", "labels", schema=schema)
    op.drop_column("signals", "episode", schema=schema)
    op.drop_column("clocks", "breach_episode", schema=schema)
    op.drop_column("clocks", "episode", schema=schema)
