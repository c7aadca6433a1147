"""A generation number for alerting's configuration: every change to a configuration resource
or to a silence's window bumps it in the writing transaction (writers queue on its row, so
generations follow commit order), and a snapshot read with an older number never replaces a
newer configuration in memory.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade(schema: str) -> None:
    op.execute(
        f"CREATE TABLE {schema}.config_generation "
        "(id int PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)"
    )
    op.execute(f"INSERT INTO {schema}.config_generation VALUES (1, 0)")
    op.execute(
        f"CREATE FUNCTION {schema}.bump_config_generation() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN UPDATE {schema}.config_generation SET n = n + 1; "
        "RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER config_generation AFTER INSERT OR UPDATE OR DELETE "
        f"ON {schema}.config FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {schema}.bump_config_generation()"
    )
    # `matched` (which alerts a silence held back) changes on every silenced alert: not config
    op.execute(
        f"CREATE TRIGGER config_generation AFTER INSERT OR DELETE "
        f"OR UPDATE OF matchers, starts_at, ends_at ON {schema}.silences FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {schema}.bump_config_generation()"
    )


def downgrade(schema: str) -> None:
    op.execute(f"DROP TRIGGER config_generation ON {schema}.silences")
    op.execute(f"DROP TRIGGER config_generation ON {schema}.config")
    op.execute(f"DROP FUNCTION {schema}.bump_config_generation()")
    op.execute(f"DROP TABLE {schema}.config_generation")
