"""What a command prints: the API's JSON as is (`--output json`), or a plain table of the
columns that matter (`--output table`, the default)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(cell(v) for v in value)
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Left-aligned columns under an upper-case header, like kubectl's and amtool's."""
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    header = [c.upper() for c in columns]
    widths = [max(len(x) for x in col) for col in zip(header, *cells, strict=True)]
    lines = [
        "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *cells)
    ]
    return "\n".join(lines)


def show(data: Any, fmt: str, columns: Sequence[str] | None = None) -> None:
    """Print `data` (an API answer) as JSON, or as a table of `columns` of its `items` (or of
    itself when it is one object)."""
    if fmt == "json" or columns is None:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    rows = data.get("items", [data]) if isinstance(data, dict) else list(data)
    if not rows:
        click.echo("(none)")
        return
    click.echo(table(rows, columns))
