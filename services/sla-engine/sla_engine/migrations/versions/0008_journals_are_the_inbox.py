"""The journals are the inbox: `ticket_events` and `monitoring_events` (each keyed by event id)
say which events were applied, so the claim inserts into them directly and the `inbox` of 0001,
which held the same ids written in the same statement, is no longer written. It keeps only the
ids no journal holds (claimed by an older engine without a journal row), read only, so that
they stay applied once. Downgrade writes the journals' ids back into it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade(schema: str) -> None:
    op.execute(
        sa.text(
            f"DELETE FROM {schema}.inbox i WHERE EXISTS (SELECT 1 FROM {schema}.ticket_events t "
            "WHERE t.event_id = i.event_id) OR EXISTS (SELECT 1 FROM "
            f"{schema}.monitoring_events m WHERE m.event_id = i.event_id)"
        )
    )


def downgrade(schema: str) -> None:
    op.execute(
        sa.text(
            f"INSERT INTO {schema}.inbox (event_id, applied_at) "
            f"SELECT event_id, journaled_at FROM {schema}.ticket_events UNION ALL "
            f"SELECT event_id, now() FROM {schema}.monitoring_events ON CONFLICT DO NOTHING"
        )
    )
