"""One index fewer on every row a signal writes to the record tables, each of which cost an
index entry per row and none served a read: `alert_history` and `delivery_attempts` are keyed
by their owner and sequence (the primary key replaces the owner's index, which every read
uses; the sequence alone was looked up by nobody), and `signals`, the inbox, loses its index
by service and time (nothing reads the inbox but its key). Downgrade puts back all three.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade(schema: str) -> None:
    op.drop_index("signals_service_time", table_name="signals", schema=schema)
    for table, owner, index in _KEYED:
        op.drop_constraint(f"{table}_pkey", table, type_="primary", schema=schema)
        op.create_primary_key(f"{table}_pkey", table, [owner, "seq"], schema=schema)
        op.drop_index(index, table_name=table, schema=schema)


def downgrade(schema: str) -> None:
    for table, _, index in _KEYED:
        op.create_index(index, table, _OLD_INDEX[index], schema=schema)
        op.drop_constraint(f"{table}_pkey", table, type_="primary", schema=schema)
        op.create_primary_key(f"{table}_pkey", table, ["seq"], schema=schema)
    op.create_index("signals_service_time", "signals", ["service", "occurred_at"], schema=schema)


_KEYED = [
    ("alert_history", "alert_id", "alert_history_alert"),
    ("delivery_attempts", "delivery_id", "delivery_attempts_delivery"),
]
_OLD_INDEX = {
    "alert_history_alert": ["alert_id", "seq"],
    "delivery_attempts_delivery": ["delivery_id"],
}
