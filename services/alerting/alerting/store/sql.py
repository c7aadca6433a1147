"""What every store module shares: the schema's name, JSON parameters and a batch of rows passed
as one parameter (the statements of every batch run on `pacta.db.driver_connection`)."""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy.engine import Row

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


def jsonb(value: Any) -> str:
    return orjson.dumps(value).decode()


def recordset(columns: str, param: int = 1) -> str:
    """`FROM` a batch of rows passed as one jsonb parameter, the statement's first (`$1`: run
    on `pacta.db.driver_connection`) or the one numbered `param`, in the order given: one
    statement, one parse and one executor run for a whole batch (an executemany runs the
    statement once per row, on both ends)."""
    names = ", ".join(c.split()[0] for c in columns.split(","))
    return (
        f"ROWS FROM (jsonb_to_recordset(CAST(${param} AS jsonb)) AS ({columns})) "
        f"WITH ORDINALITY AS x({names}, ord)"
    )


def ts(ms: int | None) -> datetime | None:
    """An optional instant as the database takes it."""
    return ms_to_datetime(ms) if ms is not None else None


def ms(moment: datetime | None) -> int | None:
    """An optional instant as the domain takes it."""
    return datetime_to_ms(moment) if moment is not None else None
