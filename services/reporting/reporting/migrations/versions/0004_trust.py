"""What a management review needs: server-side sessions, the reports as issued (revisions per
month and zone), the report subscriptions, the review's actions, and an index for the workload
by ticket type.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"

TZ = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    op.create_table(
        "sessions",
        # sha256 of the random token in the cookie: a database dump opens no session
        sa.Column("token_hash", sa.Text, primary_key=True),
        # salted digest of the key signed in with: rotating the keys ends the session
        sa.Column("key_salt", sa.Text, nullable=False),
        sa.Column("key_digest", sa.Text, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        schema=schema,
    )
    op.create_table(
        "publications",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("tz", sa.Text, primary_key=True),
        # unique with the month and zone: two instances never issue the same revision twice
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("automatic", sa.Boolean, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_table(
        "subscriptions",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.create_table(
        "annotations",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("item", sa.Text, primary_key=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        schema=schema,
    )
    op.create_index("tickets_by_type", "tickets", ["service", "type", "opened_at"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_index("tickets_by_type", "tickets", schema=schema)
    op.drop_table("annotations", schema=schema)
    op.drop_table("subscriptions", schema=schema)
    op.drop_table("publications", schema=schema)
    op.drop_table("sessions", schema=schema)
