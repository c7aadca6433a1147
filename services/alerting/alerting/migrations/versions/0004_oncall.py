"""On-call: the people who can be paged (and through which receivers) and their schedules.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"

TS = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    op.create_table(
        "oncall_users",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("receivers", JSONB, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()")),
        schema=schema,
    )
    op.create_table(
        "schedules",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()")),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    op.drop_table("schedules", schema=schema)
    op.drop_table("oncall_users", schema=schema)
