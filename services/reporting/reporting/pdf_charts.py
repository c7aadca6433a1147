"""The PDF report's charts as vector graphics (reportlab): gaps for days and months without
data, a value axis low enough that the lowest bar still shows, the target as a dashed line."""

from __future__ import annotations

from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from reporting.charts import local_day
from reporting.fonts import Fonts

RED, GREEN, BLUE = (
    colors.HexColor("#c62828"),
    colors.HexColor("#2e7d32"),
    colors.HexColor("#1565c0"),
)


def _bars(
    f: Fonts,
    title: str,
    labels: list[str],
    values: list[float | None],
    *,
    target: float | None = None,
    percent_scale: bool = False,
    whole_scale: bool = False,
    color: Any = GREEN,
) -> Drawing:
    """Bars with gaps for no data (days to come, months nobody measured); the value axis
    starts low enough that the lowest bar still shows."""
    d = Drawing(170 * mm, 55 * mm)
    d.add(String(0, 50 * mm, title, fontName=f.bold, fontSize=9))
    chart = VerticalBarChart()
    chart.x, chart.y = round(14 * mm), round(8 * mm)
    chart.width, chart.height = round(153 * mm), round(38 * mm)
    chart.data = [values or [None]]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.fontName = f.regular
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = f.regular
    known = [v for v in values if v is not None]
    if whole_scale:
        chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0.0, 100.0
    elif percent_scale:
        low = min([*known, 100.0 if target is None else target])
        margin = max(0.5, (100.0 - low) * 0.1)
        chart.valueAxis.valueMin, chart.valueAxis.valueMax = max(0.0, low - margin), 100.0
    else:
        chart.valueAxis.valueMin = 0.0
        chart.valueAxis.valueMax = max([4.0, *known])
    chart.bars[0].fillColor = color
    for i, v in enumerate(values):
        if target is not None and v is not None and v < target:
            chart.bars[(0, i)].fillColor = RED
    d.add(chart)
    if target is not None:
        lo, hi = chart.valueAxis.valueMin, chart.valueAxis.valueMax
        y = chart.y + chart.height * (target - lo) / (hi - lo)
        d.add(Line(chart.x, y, chart.x + chart.width, y, strokeDashArray=[3, 2]))
    return d


def charts(f: Fonts, report: dict[str, Any]) -> list[Any]:
    """The month's daily availability and breaches, twelve months of availability and of
    response and resolution compliance."""
    tz = report["tz"]
    trends = report.get("_trends") or {}
    targets = [t for s in report["services"] if (t := s["availability"]["target"]) is not None]
    target = min(targets, default=None)
    out: list[Any] = []
    avail = (trends.get("availability") or {}).get("items", [])
    if avail:
        labels = [local_day(i["start"], tz)[8:10] for i in avail]
        values = [i["actual"] for i in avail]
        out.append(
            _bars(f, "Availability by day (%)", labels, values, target=target, percent_scale=True)
        )
    found = (trends.get("breaches") or {}).get("items", [])
    if found:
        labels = [local_day(i["start"], tz)[8:10] for i in found]
        out.append(_bars(f, "Breaches by day", labels, [i["breaches"] for i in found], color=RED))
    year = (trends.get("year_availability") or {}).get("items", [])
    if year:
        labels = [local_day(i["start"], tz)[:7] for i in year]
        out.append(
            _bars(
                f,
                "Availability by month, twelve months (%)",
                labels,
                [i["actual"] for i in year],
                target=target,
                percent_scale=True,
            )
        )
    comp = (trends.get("year_compliance") or {}).get("items", [])
    if comp:
        labels = [local_day(i["start"], tz)[:7] for i in comp]
        values = [i.get("resolution_compliance") for i in comp]
        out.append(_bars(f, "Resolution clocks met by month (%)", labels, values, color=BLUE))
    return out
