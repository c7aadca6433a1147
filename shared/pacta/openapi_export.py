"""`python -m pacta.openapi_export`: write each service's OpenAPI document to docs/api/."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

APPS = {
    "ingest": "ingest.app",
    "sla-engine": "sla_engine.app",
    "alerting": "alerting.app",
    "reporting": "reporting.app",
}


def documents() -> dict[str, dict[str, Any]]:
    """The OpenAPI document of every service (built without starting it)."""
    return {
        name: importlib.import_module(module).create_app().openapi()
        for name, module in APPS.items()
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(folder: str = "docs/api") -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (out / f"{name}.openapi.json").write_text(render(document))


if __name__ == "__main__":
    main(*sys.argv[1:])
