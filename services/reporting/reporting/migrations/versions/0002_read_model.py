"""The read model: clocks and their daily aggregates, ticket lives and theirs, availability
facts per service-month, calendars, signals and retractions (the journal goes: a rebuild
replays Kafka, it never needed a second copy of the events).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"

TZ = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    op.drop_table("journal", schema=schema)
    op.create_table(
        "services",
        sa.Column("service", sa.Text, primary_key=True),
        # the (first by name) policy of its clocks: the report's policy without availability
        sa.Column("ticket_policy", sa.Text),
        schema=schema,
    )
    op.create_table(
        "clocks",
        sa.Column("ticket_id", sa.Text, primary_key=True),
        sa.Column("metric", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("policy", sa.Text),
        sa.Column("priority", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("elapsed_ms", sa.BigInteger, nullable=False),
        sa.Column("target_ms", sa.BigInteger),
        sa.Column("started_at", TZ),
        sa.Column("stopped_at", TZ),
        sa.Column("breached_at", TZ),
        sa.Column("deadline", TZ),
        sa.Column("outcome_at", TZ),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("clocks_outcome", "clocks", ["service", "outcome_at"], schema=schema)
    op.create_index("clocks_stopped", "clocks", ["service", "stopped_at"], schema=schema)
    op.create_index(
        "clocks_open",
        "clocks",
        ["deadline"],
        schema=schema,
        postgresql_where=sa.text("state = 'running'"),
    )
    op.create_table(
        "clock_days",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("metric", sa.Text, primary_key=True),
        sa.Column("priority", sa.Text, primary_key=True),
        sa.Column("met", sa.BigInteger, nullable=False),
        sa.Column("breached", sa.BigInteger, nullable=False),
        sa.Column("stopped", sa.BigInteger, nullable=False),
        sa.Column("elapsed_ms", sa.BigInteger, nullable=False),
        schema=schema,
    )
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("priority", sa.Text),
        sa.Column("outcome", sa.Text),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("completed_at", TZ),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("tickets_opened", "tickets", ["service", "opened_at"], schema=schema)
    op.create_index("tickets_completed", "tickets", ["service", "completed_at"], schema=schema)
    op.create_table(
        "ticket_days",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("priority", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        schema=schema,
    )
    op.create_table(
        "availability",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("month_start", TZ, nullable=False),
        sa.Column("month_end", TZ, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        # the fact as the reports read it: instants as epoch ms, parsed once on arrival
        sa.Column("view", JSONB, nullable=False),
        schema=schema,
    )
    op.create_table(
        "calendars",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_table(
        "signals",
        sa.Column("signal_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.Text),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("signals_time", "signals", ["service", "occurred_at"], schema=schema)
    op.create_index("signals_ticket", "signals", ["ticket_id", "metric"], schema=schema)
    op.create_table(
        "retractions",
        sa.Column("signal_id", sa.Text, primary_key=True),
        sa.Column("retracted_by", sa.Text, nullable=False),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    for table in (
        "retractions",
        "signals",
        "calendars",
        "availability",
        "ticket_days",
        "tickets",
        "clock_days",
        "clocks",
        "services",
    ):
        op.drop_table(table, schema=schema)
