"""On-call: the people who can be paged (and through which receivers) and their schedules;
a change to either bumps the configuration's generation, as any configuration change does.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"

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
    for table in ("oncall_users", "schedules"):
        op.execute(
            f"CREATE TRIGGER config_generation AFTER INSERT OR UPDATE OR DELETE "
            f"ON {schema}.{table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {schema}.bump_config_generation()"
        )


def downgrade(schema: str) -> None:
    for table in ("oncall_users", "schedules"):
        op.execute(f"DROP TRIGGER config_generation ON {schema}.{table}")
    op.drop_table("schedules", schema=schema)
    op.drop_table("oncall_users", schema=schema)
