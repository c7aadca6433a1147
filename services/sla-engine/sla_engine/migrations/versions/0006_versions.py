"""Policy and calendar versions with effective dates (docs/design.md, "SLA clocks"): every version kept, the clocks
naming the versions they are measured by, and when each ticket event was journaled (a first
policy version counts since always only for tickets the engine learns of after it).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"

TS = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    for kind in ("policy", "calendar"):
        op.create_table(
            f"{kind}_versions",
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("version", sa.Integer, primary_key=True),
            # null: since always (a first version PUT without one)
            sa.Column("effective_from", TS, nullable=True),
            sa.Column("recorded_at", TS, nullable=False, server_default=sa.func.now()),
            # null: deleted from `effective_from` on
            sa.Column("body", JSONB, nullable=True),
            sa.Column("origin", sa.Text, nullable=False, server_default="api"),
            schema=schema,
        )
        # what exists today is each one's first version, in force since always
        op.execute(
            f"INSERT INTO {schema}.{kind}_versions (name, version, recorded_at, body, origin) "
            f"SELECT name, 1, updated_at, body, origin FROM {schema}.{kind.replace('y', 'ie')}s"
        )
    for column in ("policy_version", "calendar_version"):
        op.add_column(
            "clocks",
            sa.Column(column, sa.Integer, nullable=False, server_default="1"),
            schema=schema,
        )
    # the rows journaled before count as learnt now: after every version recorded so far
    op.add_column(
        "ticket_events",
        sa.Column("journaled_at", TS, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    # replaced by the versions: a ticket's rules over its life follow from them
    op.drop_table("ticket_rules", schema=schema)


def downgrade(schema: str) -> None:
    op.create_table(
        "ticket_rules",
        sa.Column("ticket_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
        schema=schema,
    )
    op.drop_column("ticket_events", "journaled_at", schema=schema)
    for column in ("policy_version", "calendar_version"):
        op.drop_column("clocks", column, schema=schema)
    for kind in ("policy", "calendar"):
        op.drop_table(f"{kind}_versions", schema=schema)
