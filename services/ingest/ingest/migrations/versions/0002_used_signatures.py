"""Signatures already used, so a replay is refused by every worker and after a restart.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade(schema: str) -> None:
    op.create_table(
        "used_signatures",
        sa.Column("signature", sa.LargeBinary, primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("used_signatures_expires_at", "used_signatures", ["expires_at"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_table("used_signatures", schema=schema)
