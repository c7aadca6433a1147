"""Fewer indexes on `deliveries`, each row's every state change wrote them all: the GIN on
`alert_ids` served only the receivers an alert was told of, which `alerts.receivers` holds
already; `deliveries_due` is covered by `deliveries_due_by_receiver` (same rows, same
predicate, the claim and the queue depth read that one). Downgrade builds both again.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade(schema: str) -> None:
    op.drop_index("deliveries_alerts", table_name="deliveries", schema=schema)
    op.drop_index("deliveries_due", table_name="deliveries", schema=schema)


def downgrade(schema: str) -> None:
    op.create_index(
        "deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        schema=schema,
        postgresql_where=sa.text("state IN ('pending', 'sending')"),
    )
    op.create_index(
        "deliveries_alerts", "deliveries", ["alert_ids"], schema=schema, postgresql_using="gin"
    )
