"""A batch of typed rows into one table in one statement: its columns travel as arrays through
`unnest`, which PostgreSQL reads in binary (the store modules' one way of writing many rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_ARRAY = {"ms": "bigint", "jsonb": "text"}
"""How a column travels when its values are not of its own type: instants as epoch ms,
JSON as its text."""


async def insert_rows(
    conn: AsyncConnection,
    table: str,
    columns: str,
    rows: Sequence[Sequence[Any]],
    tail: str,
) -> None:
    """One multi-row statement for the batch, the rows sent column by column as typed arrays
    (`columns` is "name type, ..." in the rows' order; type `ms` is a timestamptz given as
    epoch ms, `jsonb` is given as JSON text): PostgreSQL reads binary arrays and parses only
    the JSON, and the driver binds one value per column instead of one per row and column."""
    if not rows:
        return
    names, selects, arrays = [], [], []
    for i, column in enumerate(columns.split(", ")):
        name, kind = column.split()
        names.append(name)
        arrays.append(f"CAST(:c{i} AS {_ARRAY.get(kind, kind)}[])")
        if kind == "ms":
            selects.append(f"timestamptz 'epoch' + r.{name} * interval '1 millisecond'")
        elif kind == "jsonb":
            selects.append(f"CAST(r.{name} AS jsonb)")
        else:
            selects.append(f"r.{name}")
    await conn.execute(
        sa.text(
            f"INSERT INTO {table} AS t ({', '.join(names)}) SELECT {', '.join(selects)} FROM "
            f"unnest({', '.join(arrays)}) AS r({', '.join(names)}) {tail}"
        ),
        {f"c{i}": list(values) for i, values in enumerate(zip(*rows, strict=True))},
    )
