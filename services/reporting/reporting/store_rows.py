"""A batch of typed rows into one table in one statement: its columns travel as arrays through
`unnest`, text and bigint ones joined into one string that PostgreSQL splits (the store
modules' one way of writing many rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_ARRAY = {"ms": "bigint", "jsonb": "text"}
"""How a column travels when its values are not of its own type: instants as epoch ms,
JSON as its text."""
_SEP = "\x1f"
"""Joins a text column's values into one string (the ASCII unit separator: no id, name or JSON
text that Pacta writes holds it raw, and a column whose values do travels as an array)."""
_INTEGERS = {int, type(None)}


async def insert_rows(
    conn: AsyncConnection,
    table: str,
    columns: str,
    rows: Sequence[Sequence[Any]],
    tail: str,
) -> None:
    """One multi-row statement for the batch, the rows sent column by column (`columns` is
    "name type, ..." in the rows' order; type `ms` is a timestamptz given as epoch ms, `jsonb`
    is given as JSON text): the driver binds one value per column instead of one per row and
    column, each as `_column` chooses."""
    if not rows:
        return
    names, selects, arrays, params = [], [], [], {}
    for i, (column, values) in enumerate(
        zip(columns.split(", "), zip(*rows, strict=True), strict=True)
    ):
        name, kind = column.split()
        names.append(name)
        array, params[f"c{i}"] = _column(f":c{i}", _ARRAY.get(kind, kind), values)
        arrays.append(array)
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
        params,
    )


def _column(param: str, kind: str, values: tuple[Any, ...]) -> tuple[str, Any]:
    """The array expression of one column and its parameter. A text or bigint column travels
    as one string that PostgreSQL splits: the driver encodes an array element by element, with
    a Python-level type check each, which cost the replay more than the rest of its encoding.
    Anything else (other types, NULL text, a separator inside a value) goes as an array."""
    if kind == "text":
        try:
            joined = _SEP.join(values)
        except TypeError:  # a NULL (or something not text) among them
            joined = ""
        # an empty string would split into no element at all
        if joined and joined.count(_SEP) == len(values) - 1:
            return f"string_to_array(CAST({param} AS text), E'\\x1f')", joined
    elif kind == "bigint":
        types = set(map(type, values))
        if types <= _INTEGERS:
            joined = (
                ",".join(["" if v is None else str(v) for v in values])
                if type(None) in types
                else ",".join(map(str, values))
            )
            if joined:
                return f"CAST(string_to_array(CAST({param} AS text), ',', '') AS bigint[])", joined
    return f"CAST({param} AS {kind}[])", list(values)
