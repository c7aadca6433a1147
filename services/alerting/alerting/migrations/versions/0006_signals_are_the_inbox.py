"""The received signals are the inbox: `alerting.signals` (keyed by signal id) says which
signals were applied, so the separate `inbox` table of 0001, which held the same ids written in
the same transaction, is dropped. Downgrade rebuilds it from the signals.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from pacta.db import create_inbox

revision = "0006"
down_revision = "0005"


def upgrade(schema: str) -> None:
    op.drop_table("inbox", schema=schema)


def downgrade(schema: str) -> None:
    create_inbox(schema)
    op.execute(
        sa.text(f"INSERT INTO {schema}.inbox (event_id) SELECT signal_id FROM {schema}.signals")
    )
