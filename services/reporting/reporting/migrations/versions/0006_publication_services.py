"""Reports as issued kept one row per service beside the revision's head: a report of one
service, or the check that a month has been issued, reads only what it needs instead of the
whole revision (thousands of services with their breach lists).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"


def upgrade(schema: str) -> None:
    op.create_table(
        "publication_services",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("tz", sa.Text, primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),  # the order of the report
        sa.Column("body", JSONB, nullable=False),
        schema=schema,
    )
    op.execute(
        f'INSERT INTO "{schema}".publication_services '
        "(month, tz, revision, service, position, body) "
        "SELECT p.month, p.tz, p.revision, x.value->>'service', x.ordinality, x.value "
        f'FROM "{schema}".publications p, '
        "jsonb_array_elements(p.body->'services') WITH ORDINALITY AS x"
    )
    op.execute(f"UPDATE \"{schema}\".publications SET body = body - 'services'")


def downgrade(schema: str) -> None:
    op.execute(
        f'UPDATE "{schema}".publications p SET body = p.body || jsonb_build_object('
        "'services', coalesce((SELECT jsonb_agg(s.body ORDER BY s.position) "
        f'FROM "{schema}".publication_services s WHERE s.month = p.month AND s.tz = p.tz '
        "AND s.revision = p.revision), '[]'::jsonb))"
    )
    op.drop_table("publication_services", schema=schema)
