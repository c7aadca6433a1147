"""The monitoring journal by service and instant: coverage reads a service's first event and
its silences (any check) at every evaluation.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade(schema: str) -> None:
    op.create_index(
        "monitoring_events_service",
        "monitoring_events",
        ["service", "occurred_at"],
        schema=schema,
    )


def downgrade(schema: str) -> None:
    op.drop_index("monitoring_events_service", "monitoring_events", schema=schema)
