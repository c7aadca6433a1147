"""The policy-versions migration on a read model that already holds clocks: the version each
fact names and the daily outcomes per version are filled from the rows kept, and equal what a
fresh schema gets by applying the same facts (no rebuild needed after the upgrade)."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import sqlalchemy as sa
from alembic import command

from pacta.db import create_engine, migrate
from pacta.settings import CommonSettings
from reporting import publication, store
from reporting.app import MIGRATIONS
from tests.support.postgres import alembic_config
from tests.support.reporting import clock_fact


def _facts(service: str) -> list[dict[str, object]]:
    common = {"priority": "P1", "started_at": "2026-10-05T09:00:00Z", "policy": "gold"}
    return [
        clock_fact("A", "resolution", service, version=1, state="met", elapsed_seconds=60,
                   stopped_at="2026-10-05T09:01:00Z", policy_version=1, **common),
        clock_fact("B", "resolution", service, version=2, state="breached", elapsed_seconds=60,
                   breached_at="2026-10-06T09:00:00Z", policy_version=2, **common),
        clock_fact("C", "response", service, version=1, state="met", elapsed_seconds=60,
                   stopped_at="2026-10-06T09:01:00Z", **common),  # from before versions
        clock_fact("D", "response", service, version=1, state="running", elapsed_seconds=0,
                   policy_version=2, **common),
    ]  # fmt: skip


async def _upgrade(url: str, schema: str, revision: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(MIGRATIONS, url, schema), revision)


async def test_the_upgrade_fills_versions_from_the_clocks_kept(settings: CommonSettings) -> None:
    url, tag = settings.database_url, uuid.uuid4().hex[:6]
    old, fresh = f"rpt_old_{tag}", f"rpt_new_{tag}"
    service = f"mig-{tag}"
    engine = create_engine(url)
    try:
        # the read model as revision 0002 kept it: clock rows with their facts as bodies
        await _upgrade(url, old, "0002")
        async with engine.begin() as conn:
            for fact in _facts(service):
                outcome = store.clock_outcome(fact)
                await conn.execute(
                    sa.text(
                        f"INSERT INTO {old}.clocks (ticket_id, metric, service, policy, state, "
                        "version, elapsed_ms, outcome_at, body) VALUES (:t, :m, :s, :p, :st, :v, "
                        "0, :o, CAST(:b AS jsonb))"
                    ),
                    {
                        "t": outcome.ticket_id,
                        "m": outcome.metric,
                        "s": service,
                        "p": "gold",
                        "st": outcome.state,
                        "v": outcome.version,
                        "o": store._ts(outcome.outcome_ms),
                        "b": orjson.dumps(fact).decode(),
                    },
                )
        await _upgrade(url, old, "head")
        await migrate(url, fresh, MIGRATIONS)
        async with engine.begin() as conn:
            await store.apply_clock_facts(conn, fresh, _facts(service))

        async def read(schema: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
            async with engine.connect() as conn:
                days = await conn.execute(
                    sa.text(f"SELECT * FROM {schema}.clock_version_days ORDER BY 1, 2, 3, 4, 5")
                )
                clocks = await conn.execute(
                    sa.text(f"SELECT ticket_id, policy_version FROM {schema}.clocks ORDER BY 1")
                )
                return [tuple(r) for r in days], [tuple(r) for r in clocks]

        upgraded, applied = await read(old), await read(fresh)
        assert upgraded == applied
        days, clocks = upgraded
        assert [(d[2], d[3], d[4], d[5], d[6]) for d in days] == [
            ("resolution", "gold", 1, 1, 0),  # 5 Oct
            ("resolution", "gold", 2, 0, 1),  # 6 Oct
            ("response", "gold", -1, 1, 0),
        ]
        assert clocks == [("A", 1), ("B", 2), ("C", None), ("D", 2)]
    finally:
        async with engine.begin() as conn:
            for schema in (old, fresh):
                await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await engine.dispose()


async def test_reports_as_issued_move_to_a_row_per_service_and_back(
    settings: CommonSettings,
) -> None:
    """Revisions kept whole (as revision 0005 did) read back exactly after the upgrade, in the
    report's order, whole or for one service; the downgrade puts them back together."""
    url, schema = settings.database_url, f"rpt_pub_{uuid.uuid4().hex[:6]}"
    names = ["zahlung", "支付", "a-first"]  # the report's order is not the names' order
    body = {
        "month": "2026-10",
        "tz": "UTC",
        "revision": 1,
        "published_at": "2026-11-04T00:00:00.000Z",
        "services": [{"service": n, "availability": {"actual": 99.5}} for n in names],
    }
    engine = create_engine(url)
    try:
        await _upgrade(url, schema, "0005")
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    f"INSERT INTO {schema}.publications VALUES ('2026-10', 'UTC', 1, "
                    "'2026-11-04T00:00:00Z', false, CAST(:b AS jsonb))"
                ),
                {"b": orjson.dumps(body).decode()},
            )
        await _upgrade(url, schema, "0006")
        async with engine.connect() as conn:
            whole = await publication.revision_of(conn, schema, "2026-10", "UTC", None)
            one = await publication.revision_of(conn, schema, "2026-10", "UTC", 1, ["支付"])
            head = await conn.scalar(sa.text(f"SELECT body FROM {schema}.publications"))
        assert whole == body
        assert one == {**body, "services": [body["services"][1]]}
        assert "services" not in head

        cfg = alembic_config(MIGRATIONS, url, schema)
        await asyncio.to_thread(command.downgrade, cfg, "0005")
        async with engine.connect() as conn:
            restored = await conn.scalar(sa.text(f"SELECT body FROM {schema}.publications"))
        assert restored == body
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await engine.dispose()
