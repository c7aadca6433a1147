"""Trend charts drawn on the server as inline SVG (no script, nothing fetched from elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    floor: float | None = None,
    ceiling: float | None = None,
    target: float | None = None,
    unit: str = "",
    color: str = "#2e7d32",
    width: int = 640,
    height: int = 180,
) -> str:
    """Bars for `values` (None: no data, drawn as a gap) between `floor` and `ceiling`; a
    dashed line at `target`, bars under it in red."""
    known = [v for v in values if v is not None]
    low = floor if floor is not None else min([0.0, *known])
    high = ceiling if ceiling is not None else max([1.0, *known])
    if high <= low:
        high = low + 1
    left, right, top, bottom = 58, 8, 22, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(values), 1)

    def y(v: float) -> float:
        return top + plot_h * (1 - (min(max(v, low), high) - low) / (high - low))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">'
        f"{_fmt(high)}{escape(unit)}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">'
        f"{_fmt(low)}{escape(unit)}</text>",
    ]
    for i, v in enumerate(values):
        if v is None:
            continue
        x = left + i * step + step * 0.15
        bad = target is not None and v < target
        parts.append(
            f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{step * 0.7:.1f}" '
            f'height="{top + plot_h - y(v):.1f}" fill="{"#c62828" if bad else color}">'
            f"<title>{escape(labels[i])}: {_fmt(v)}{escape(unit)}</title></rect>"
        )
    if target is not None:
        ty = y(target)
        parts.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" '
            'stroke="#555" stroke-dasharray="4 3"/>'
        )
    for i in (0, len(labels) // 2, len(labels) - 1) if labels else ():
        x = left + i * step + step / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if v % 1 else str(int(v))


def local_day(instant: str, tz: str) -> str:
    """`YYYY-MM-DD` of an RFC 3339 instant on the wall clocks of `tz` (a bucket's label)."""
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tz)).date().isoformat()
