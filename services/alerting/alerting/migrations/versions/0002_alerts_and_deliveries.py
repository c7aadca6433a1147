"""Alerts with their history, configuration (receivers, routes, inhibit rules, escalation
policies), silences, aggregation groups, escalation timers and the durable delivery queue.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade(schema: str) -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("labels", JSONB, nullable=False),
        sa.Column("signal", JSONB, nullable=False),
        sa.Column("signals", ARRAY(sa.Text), nullable=False),
        sa.Column("receivers", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("fired_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("acked_at", TS),
        sa.Column("acked_by", sa.Text),
        sa.Column("updated_at", TS, nullable=False, server_default=_now()),
        schema=schema,
    )
    # at most one open alert per ticket clock or service availability
    op.create_index(
        "alerts_open_key",
        "alerts",
        ["key"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("state <> 'resolved'"),
    )
    op.create_index("alerts_fired", "alerts", ["fired_at"], schema=schema)
    op.create_table(
        "alert_history",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("alert_id", sa.Text, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("alert_history_alert", "alert_history", ["alert_id", "seq"], schema=schema)
    op.create_table(
        "config",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("origin", sa.Text, nullable=False, server_default="api"),
        sa.Column("updated_at", TS, nullable=False, server_default=_now()),
        schema=schema,
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("matchers", JSONB, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("expire_on_resolve", sa.Boolean, nullable=False),
        sa.Column("matched", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("created_at", TS, nullable=False, server_default=_now()),
        schema=schema,
    )
    op.create_table(
        "groups",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("labels", JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_flush_at", TS, nullable=False),
        sa.Column("first_flush_at", TS),
        sa.Column("last_sent_at", TS),
        sa.Column("notified", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("options", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("groups_due", "groups", ["next_flush_at"], schema=schema)
    op.create_table(
        "group_alerts",
        sa.Column("group_key", sa.Text, primary_key=True),
        sa.Column("alert_id", sa.Text, primary_key=True),
        schema=schema,
    )
    op.create_index("group_alerts_alert", "group_alerts", ["alert_id"], schema=schema)
    op.create_table(
        "escalations",
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("route", sa.Text, primary_key=True),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("next_at", TS, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("notified", ARRAY(sa.Text), nullable=False, server_default="{}"),
        schema=schema,
    )
    op.create_index(
        "escalations_due",
        "escalations",
        ["next_at"],
        schema=schema,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("alert_ids", ARRAY(sa.Text), nullable=False),
        sa.Column("alerts", JSONB, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_until", TS),
        sa.Column("detected_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
        sa.Column("last_error", sa.Text),
        schema=schema,
    )
    op.create_index(
        "deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        schema=schema,
        postgresql_where=sa.text("state IN ('pending', 'sending')"),
    )
    op.create_index("deliveries_receiver", "deliveries", ["receiver", "id"], schema=schema)
    op.create_index(
        "deliveries_alerts", "deliveries", ["alert_ids"], schema=schema, postgresql_using="gin"
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_index(
        "delivery_attempts_delivery", "delivery_attempts", ["delivery_id"], schema=schema
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    for table in (
        "secrets",
        "delivery_attempts",
        "deliveries",
        "escalations",
        "group_alerts",
        "groups",
        "silences",
        "config",
        "alert_history",
        "alerts",
    ):
        op.drop_table(table, schema=schema)
