"""The monthly report as PDF (reportlab; filled in below)."""

from __future__ import annotations

from typing import Any


def render_pdf(report: dict[str, Any]) -> bytes:
    raise NotImplementedError
