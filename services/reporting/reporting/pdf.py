"""The monthly report as PDF (reportlab): A4, the same content as the HTML page with its
charts drawn as vector graphics, and on every page the period, time zone, generation time
and "page n of m"."""

from __future__ import annotations

import io
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reporting.charts import local_day
from reporting.domain.report import headline_compliance, missed
from reporting.html import NONE, _duration, _number
from reporting.version_text import COMPLIANCE_HEAD, VERSION_HEAD, compliance_rows, version_rows

RED, GREEN, GREY = (
    colors.HexColor("#c62828"),
    colors.HexColor("#2e7d32"),
    colors.HexColor("#f4f4f4"),
)


class _NumberedCanvas(Canvas):
    """Holds every page back until the end, so each footer can say how many pages there are."""

    def __init__(self, *args: Any, footer: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []
        self._footer = footer

    def showPage(self) -> None:  # reportlab names it so
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab's own reset

    def save(self) -> None:
        total = len(self._pages)
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self.setFont("Helvetica", 8)
            self.setFillColor(colors.HexColor("#555555"))
            first, _, second = self._footer.partition("\n")
            self.drawString(15 * mm, 11 * mm, first)
            self.drawString(15 * mm, 7.5 * mm, second)
            self.drawRightString(A4[0] - 15 * mm, 10 * mm, f"Page {number} of {total}")
            super().showPage()
        super().save()


def _bars(
    title: str, items: list[dict[str, Any]], key: str, target: float | None, tz: str
) -> Drawing:
    values = [float(i[key]) if i.get(key) is not None else 0.0 for i in items]
    d = Drawing(170 * mm, 55 * mm)
    d.add(String(0, 50 * mm, title, fontName="Helvetica-Bold", fontSize=9))
    chart = VerticalBarChart()
    chart.x, chart.y = round(12 * mm), round(8 * mm)
    chart.width, chart.height = round(155 * mm), round(38 * mm)
    chart.data = [values or [0.0]]
    chart.categoryAxis.categoryNames = [local_day(i["start"], tz)[8:10] for i in items] or [""]
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.labels.fontSize = 7
    if key == "actual":
        low = min([v for v in values if v] + [target or 100.0, 99.0])
        chart.valueAxis.valueMin, chart.valueAxis.valueMax = max(0.0, low - 0.5), 100.0
    else:
        chart.valueAxis.valueMin = 0.0
        chart.valueAxis.valueMax = max([4.0, *values])
    chart.bars[0].fillColor = GREEN if key == "actual" else RED
    for i, v in enumerate(values):
        if target is not None and v < target:
            chart.bars[(0, i)].fillColor = RED
    d.add(chart)
    if target is not None and key == "actual":
        lo, hi = chart.valueAxis.valueMin, chart.valueAxis.valueMax
        y = chart.y + chart.height * (target - lo) / (hi - lo)
        d.add(Line(chart.x, y, chart.x + chart.width, y, strokeDashArray=[3, 2]))
    return d


def _table(
    rows: list[list[Any]], red_cells: list[tuple[int, int]], widths: list[float] | None = None
) -> Table:
    table = Table(rows, hAlign="LEFT", colWidths=widths)
    style: list[Any] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("BACKGROUND", (0, 0), (-1, 0), GREY),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dddddd")),
    ]
    style += [("TEXTCOLOR", (c, r), (c, r), RED) for r, c in red_cells]
    table.setStyle(TableStyle(style))
    return table


def _versions_story(s: dict[str, Any], tz: str) -> list[Any]:
    """Which targets were in force over which days, and the compliance under each version."""
    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph("Policy versions", styles["Heading3"])]
    rows = version_rows(s, tz)
    if not rows:
        story.append(
            Paragraph("No version history received for this service's policy.", styles["Normal"])
        )
        return story
    cell = styles["BodyText"].clone("cell", fontSize=7, leading=8.5)
    wrapped = [[Paragraph(_esc(c), cell) for c in row] for row in rows]
    widths = [22 * mm, 16 * mm, 50 * mm, 50 * mm, 22 * mm, 20 * mm]
    story.append(_table([VERSION_HEAD, *wrapped], [], widths))
    compliance = compliance_rows(s)
    if compliance:
        story += [Spacer(1, 2 * mm), _table([COMPLIANCE_HEAD, *compliance], [])]
    return story


def _service_story(s: dict[str, Any], month: str, tz: str) -> list[Any]:
    styles = getSampleStyleSheet()
    a, p = s["availability"], s["previous"]
    pa, t, pt = p["availability"], s["tickets"], p["tickets"]
    rows: list[list[Any]] = [
        ["", month, p["month"]],
        ["availability %", _number(a["actual"], 4), _number(pa["actual"], 4)],
        ["target %", _number(a["target"], 3), _number(pa["target"], 3)],
        ["target met", _number(a["met"]), _number(pa["met"])],
        ["downtime", _duration(a["downtime_seconds"]), _duration(pa["downtime_seconds"])],
        [
            "agreed service time",
            _duration(a["agreed_service_seconds"]),
            _duration(pa["agreed_service_seconds"]),
        ],
        ["budget consumed %", _pct(a["budget_consumed"]), _pct(pa["budget_consumed"])],
        ["outages", _number(a["outages"]), _number(pa["outages"])],
        ["MTBF", _duration(a["mtbf_seconds"]), _duration(pa["mtbf_seconds"])],
        ["MTRS", _duration(a["mtrs_seconds"]), _duration(pa["mtrs_seconds"])],
        ["tickets opened", t["total"], pt["total"]],
    ]
    rows += [[f"  {k}", v, pt["by_priority"].get(k, 0)] for k, v in t["by_priority"].items()]
    red = [(1, 1), (3, 1)] if a["met"] is False else []
    for metric in ("response", "resolution"):
        rows.append(
            [
                f"{metric} met / breached",
                f"{t[metric]['met']} / {t[metric]['breached']}",
                f"{pt[metric]['met']} / {pt[metric]['breached']}",
            ]
        )
        rows.append(
            [
                f"{metric} compliance %",
                _number(t[metric]["compliance"], 1),
                _number(pt[metric]["compliance"], 1),
            ]
        )
        if t[metric]["breached"]:
            red += [(len(rows) - 2, 1), (len(rows) - 1, 1)]
    rows += [
        ["MTTA", _duration(t["mtta_seconds"]), _duration(pt["mtta_seconds"])],
        ["MTTR", _duration(t["mttr_seconds"]), _duration(pt["mttr_seconds"])],
        [
            "changes (failed)",
            f"{s['changes']['total']} ({s['changes']['failed']})",
            f"{p['changes']['total']} ({p['changes']['failed']})",
        ],
        [
            "change success rate %",
            _number(s["changes"]["success_rate"], 1),
            _number(p["changes"]["success_rate"], 1),
        ],
    ]
    title = s["service"] + (f"  (policy {s['policy']})" if s["policy"] else "")
    story: list[Any] = [Paragraph(_esc(title), styles["Heading2"]), _table(rows, red)]
    story += _versions_story(s, tz)
    story.append(Paragraph("Breaches", styles["Heading3"]))
    breaches = [["when", "metric", "ticket", "priority", "deadline", "version"]] + [
        [
            b["occurred_at"],
            b["metric"],
            b.get("ticket_id") or NONE,
            b.get("priority") or NONE,
            b.get("deadline") or NONE,
            NONE if b.get("policy_version") is None else f"v{b['policy_version']}",
        ]
        for b in s["breaches"]
    ]
    if len(breaches) == 1:
        breaches.append(["none", "", "", "", "", ""])
    story.append(_table(breaches, []))
    return story


def _pct(fraction: float | None) -> str:
    return NONE if fraction is None else f"{fraction * 100:,.1f}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_pdf(report: dict[str, Any]) -> bytes:
    styles = getSampleStyleSheet()
    out = io.BytesIO()
    period = report["period"]
    footer = (
        f"Pacta SLA report {report['month']} · period {period['start']} to {period['end']}\n"
        f"time zone {report['tz']} · generated {report['generated_at']}"
    )
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=f"SLA report {report['month']}",
        author="Pacta",
    )
    story: list[Any] = [
        Paragraph(f"Service level report, {report['month']}", styles["Title"]),
        Paragraph(
            _esc(f"Time zone {report['tz']} · generated {report['generated_at']}"), styles["Normal"]
        ),
        Spacer(1, 4 * mm),
        Paragraph("Headline compliance", styles["Heading2"]),
    ]
    head: list[list[Any]] = [["service", "ticket clocks met %", "availability %", "target %"]]
    red: list[tuple[int, int]] = []
    for i, s in enumerate(report["services"], start=1):
        a = s["availability"]
        head.append(
            [
                s["service"],
                _number(headline_compliance(s), 1),
                _number(a["actual"], 3),
                _number(a["target"], 3),
            ]
        )
        if missed(s):
            red += [(i, 0), (i, 1)] + ([(i, 2)] if a["met"] is False else [])
    story.append(_table(head, red))
    trends = report.get("_trends") or {}
    avail = (trends.get("availability") or {}).get("items", [])
    if avail:
        targets = [
            s["availability"]["target"] for s in report["services"] if s["availability"]["target"]
        ]
        story += [
            Spacer(1, 4 * mm),
            _bars(
                "Availability by day (%)", avail, "actual", min(targets, default=None), report["tz"]
            ),
        ]
    found = (trends.get("breaches") or {}).get("items", [])
    if found:
        story.append(_bars("Breaches by day", found, "breaches", None, report["tz"]))
    for s in report["services"]:
        story += _service_story(s, report["month"], report["tz"])
    doc.build(story, canvasmaker=lambda *a, **k: _NumberedCanvas(*a, footer=footer, **k))
    return out.getvalue()
