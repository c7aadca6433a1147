"""`python -m pacta.settings_table`: print the Markdown table of every PACTA_* variable."""

from __future__ import annotations

import importlib

from pacta.settings import CommonSettings

SERVICES = {
    "ingest": "ingest.settings:IngestSettings",
    "sla-engine": "sla_engine.settings:EngineSettings",
    "alerting": "alerting.settings:AlertingSettings",
    "reporting": "reporting.settings:ReportingSettings",
}


def rows() -> list[str]:
    out = ["| variable | service | default | meaning |", "|---|---|---|---|"]
    seen: set[str] = set()
    classes: list[tuple[str, type[CommonSettings]]] = [("all", CommonSettings)]
    for service, path in SERVICES.items():
        module, name = path.split(":")
        classes.append((service, getattr(importlib.import_module(module), name)))
    for service, cls in classes:
        for name, field in cls.model_fields.items():
            if name not in seen:
                seen.add(name)
                default = "" if field.default is None else str(field.default)
                out.append(
                    f"| `PACTA_{name.upper()}` | {service} | `{default}` | {field.description} |"
                )
    return out


if __name__ == "__main__":
    print("\n".join(rows()))
