"""Reporting's multi-row writer: whether a column travels as one joined string or as an array,
PostgreSQL gets the same rows (NULLs, empty strings, a separator inside a value, one row)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from pacta.db import create_engine
from pacta.settings import CommonSettings
from reporting.store_rows import insert_rows

ROWS: list[list[tuple[Any, ...]]] = [
    [("a", 1, 1767225600000, '{"k": 1}'), ("b c", -2, None, '{"k": "\\u001f"}')],
    [("x\x1fy", None, 1, "[]"), ("", 3, None, "{}")],  # a separator and an empty string
    [("", None, None, "null")],  # one row, NULLs alone
    [(None, 2**62, 0, "1")],  # NULL text
]


async def test_rows_come_out_as_they_went_in(settings: CommonSettings) -> None:
    schema = f"rows_{uuid.uuid4().hex[:8]}"
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
            await conn.execute(
                sa.text(
                    f"CREATE TABLE {schema}.t (n serial, name text, count bigint, "
                    "at timestamptz, body jsonb)"
                )
            )
            for rows in ROWS:
                await insert_rows(
                    conn, f"{schema}.t", "name text, count bigint, at ms, body jsonb", rows, ""
                )
            got = (
                await conn.execute(
                    sa.text(
                        "SELECT name, count, (extract(epoch FROM at) * 1000)::bigint, body::text "
                        f"FROM {schema}.t ORDER BY n"
                    )
                )
            ).all()
        # each body is written as PostgreSQL prints its jsonb
        assert [tuple(r) for r in got] == [row for rows in ROWS for row in rows]
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await engine.dispose()
