"""What every store module shares: the schema's name, JSON parameters, a batch of rows passed as
one parameter, and the driver connection the statements of every batch run on."""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.durations import datetime_to_ms, ms_to_datetime

SCHEMA = "alerting"
T = TypeVar("T")


def build(cls: type[T], row: Row[Any], **given: Any) -> T:
    """A row dataclass from a result row: each field from the column of its name, unless
    `given` (a conversion), or its default if the row has no such column."""
    columns = row._mapping
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in given:
            values[f.name] = given[f.name]
        elif f.name in columns or f.default is MISSING:
            values[f.name] = columns[f.name]
    return cls(**values)


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, for the statements a batch of signals or sends runs
    (SQLAlchemy's statement and result machinery cost more than their execution there); inside
    `conn`'s transaction when it has begun one: SQLAlchemy's asyncpg dialect sends BEGIN only
    before the first statement it runs itself, so a first statement run on the driver would
    otherwise commit on its own. Nothing may run on `conn` while a statement runs on it."""
    raw = await conn.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if conn.in_transaction() and getattr(adapted, "_transaction", None) is None:
        await adapted._start_transaction()
    return raw.driver_connection


def jsonb(value: Any) -> str:
    return orjson.dumps(value).decode()


def recordset(columns: str) -> str:
    """`FROM` a batch of rows passed as one jsonb parameter, the statement's first (`$1`: run
    on the `driver` connection), in the order given: one statement, one parse and one executor
    run for a whole batch (an executemany runs the statement once per row, on both ends)."""
    names = ", ".join(c.split()[0] for c in columns.split(","))
    return (
        f"ROWS FROM (jsonb_to_recordset(CAST($1 AS jsonb)) AS ({columns})) "
        f"WITH ORDINALITY AS x({names}, ord)"
    )


def ts(ms: int | None) -> datetime | None:
    """An optional instant as the database takes it."""
    return ms_to_datetime(ms) if ms is not None else None


def ms(moment: datetime | None) -> int | None:
    """An optional instant as the domain takes it."""
    return datetime_to_ms(moment) if moment is not None else None
