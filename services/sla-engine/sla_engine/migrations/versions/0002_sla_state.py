"""SLA state: resources (calendars, policies, maintenance windows), clocks, signals, outbox,
and the down intervals of monitored checks.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    for kind in ("calendars", "policies"):
        op.create_table(
            kind,
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("body", JSONB, nullable=False),
            sa.Column("origin", sa.Text, nullable=False, server_default="api"),
            sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
            schema=schema,
        )
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=True),  # open while a maintenance check is firing
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("origin", sa.Text, nullable=False, server_default="api"),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_index(
        "maintenance_service", "maintenance_windows", ["service", "starts_at"], schema=schema
    )
    op.create_table(
        "clocks",
        sa.Column("ticket_id", sa.Text, primary_key=True),
        sa.Column("metric", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("customer", sa.Text, nullable=True),
        sa.Column("ticket_type", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("calendar", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=True),
        sa.Column("target_ms", sa.BigInteger, nullable=True),
        sa.Column("warn_at", ARRAY(sa.Float), nullable=False),
        sa.Column("started_at_ms", sa.BigInteger, nullable=False),
        sa.Column("as_of_ms", sa.BigInteger, nullable=False),
        sa.Column("elapsed_ms", sa.BigInteger, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("stopped_at_ms", sa.BigInteger, nullable=True),
        sa.Column("breached_at_ms", sa.BigInteger, nullable=True),
        sa.Column("met_signalled", sa.Boolean, nullable=False),
        sa.Column("fired", ARRAY(sa.Float), nullable=False),
        sa.Column("last_event_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("deadline_at", TS, nullable=True),
        sa.Column("labels", JSONB, nullable=False, server_default="{}"),
        sa.Column("version", sa.BigInteger, nullable=False),
        schema=schema,
    )
    op.create_index("clocks_service_state", "clocks", ["service", "state"], schema=schema)
    op.execute(
        f"CREATE INDEX clocks_open ON {schema}.clocks (ticket_id) WHERE stopped_at_ms IS NULL"
    )
    op.create_table(
        "signals",
        sa.Column("signal_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.Text, nullable=True),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("retracted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("signals_ticket", "signals", ["ticket_id"], schema=schema)
    op.create_index("signals_service_time", "signals", ["service", "occurred_at"], schema=schema)
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("ce_type", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        schema=schema,
    )
    op.create_table(
        "down_intervals",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("check_name", sa.Text, primary_key=True),
        sa.Column("started_at", TS, primary_key=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("severity", sa.Text, nullable=False),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    for table in (
        "down_intervals",
        "outbox",
        "signals",
        "clocks",
        "maintenance_windows",
        "policies",
        "calendars",
    ):
        op.drop_table(table, schema=schema)
