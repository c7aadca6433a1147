"""The monthly report as PDF (reportlab): A4, the same content as the HTML page with its
charts drawn as vector graphics, Unicode fonts embedded (any script legible), tables that
repeat their header on every page, and on every page the period, time zone, generation time
and "page n of m"."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reporting.domain.report import missed
from reporting.domain.wording import NONE, duration, local_time, percent
from reporting.fonts import Fonts, fonts
from reporting.html import _number
from reporting.pdf_charts import charts
from reporting.shaping import visual
from reporting.version_text import COMPLIANCE_HEAD, VERSION_HEAD, compliance_rows, version_rows

RED, GREEN, GREY, BLUE = (
    colors.HexColor("#c62828"),
    colors.HexColor("#2e7d32"),
    colors.HexColor("#f4f4f4"),
    colors.HexColor("#1565c0"),
)


class _NumberedCanvas(Canvas):
    """Holds every page back until the end, so each footer can say how many pages there are."""

    def __init__(self, *args: Any, footer: str = "", font: str = "Helvetica", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []
        self._footer, self._font = footer, font

    def showPage(self) -> None:  # reportlab names it so
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab's own reset

    def save(self) -> None:
        total = len(self._pages)
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self.setFont(self._font, 7.5)
            self.setFillColor(colors.HexColor("#555555"))
            first, _, second = self._footer.partition("\n")
            self.drawString(15 * mm, 11 * mm, first)
            self.drawString(15 * mm, 7.5 * mm, second)
            self.drawRightString(A4[0] - 15 * mm, 10 * mm, f"Page {number} of {total}")
            super().showPage()
        super().save()


CHUNK_ROWS = 30
"""Rows per table part: a part fits on a page or splits once."""


def _local(pairs: list[tuple[int, int]] | None, start: int, end: int) -> list[tuple[int, int]]:
    """(row, column) pairs of a whole table -> of its part holding body rows start+1..end (row
    0, the header, is in every part)."""
    return [(0 if r == 0 else r - start, c) for r, c in pairs or [] if r == 0 or start < r <= end]


class _Writer:
    """The story's pieces in the embedded fonts."""

    def __init__(self, f: Fonts) -> None:
        self.f = f
        base = getSampleStyleSheet()
        self.styles = {
            name: ParagraphStyle(
                name, parent=base[name], fontName=f.bold if name != "Normal" else f.regular
            )
            for name in ("Title", "Heading2", "Heading3", "Normal")
        }
        self.cell = ParagraphStyle("cell", parent=base["BodyText"], fontName=f.regular)
        self.cell.fontSize, self.cell.leading = 7.5, 9
        self.head = ParagraphStyle("head", parent=self.cell, fontName=f.bold)

    def para(self, text: str, style: str = "Normal") -> Paragraph:
        return Paragraph(self.f.rich(text), self.styles[style])

    def _cell(self, value: Any, head: bool) -> Any:
        if isinstance(value, Paragraph):
            return value  # wrapped by the caller already
        text = "" if value is None else visual(str(value))
        # plain strings stay plain (right-aligned numbers); text the regular font cannot draw,
        # or long text, becomes a paragraph so it wraps and draws in the fallback font
        lacking = any(ord(c) > 0xFF and ord(c) not in self.f.covered for c in text)
        if len(text) > 40 or lacking:
            return Paragraph(self.f.rich(text), self.head if head else self.cell)
        return text

    def table(
        self,
        rows: list[list[Any]],
        red: list[tuple[int, int]] | None = None,
        widths: list[float] | None = None,
        green: list[tuple[int, int]] | None = None,
    ) -> list[Table]:
        """The rows as tables of at most CHUNK_ROWS rows each, every one with the header: a
        reportlab table split across pages is re-measured whole at each page (quadratic), so
        a long list (every breach of a busy month) would hold the service for minutes."""
        head, body = rows[0], rows[1:]
        parts: list[Table] = []
        for start in range(0, max(len(body), 1), CHUNK_ROWS):
            end = start + CHUNK_ROWS

            part = [head, *body[start:end]]
            parts.append(
                self._table(part, _local(red, start, end), widths, _local(green, start, end))
            )
        return parts

    def _table(
        self,
        rows: list[list[Any]],
        red: list[tuple[int, int]],
        widths: list[float] | None,
        green: list[tuple[int, int]],
    ) -> Table:
        cells = [[self._cell(v, r == 0) for v in row] for r, row in enumerate(rows)]
        # the header row repeats at the top of every page the table runs onto
        table = Table(cells, hAlign="LEFT", colWidths=widths, repeatRows=1)
        style: list[Any] = [
            ("FONT", (0, 0), (-1, -1), self.f.regular, 7.5),
            ("FONT", (0, 0), (-1, 0), self.f.bold, 7.5),
            ("BACKGROUND", (0, 0), (-1, 0), GREY),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dddddd")),
        ]
        style += [("TEXTCOLOR", (c, r), (c, r), RED) for r, c in red]
        style += [("TEXTCOLOR", (c, r), (c, r), GREEN) for r, c in green]
        table.setStyle(TableStyle(style))
        return table


def _state(
    met: bool | None, cell: tuple[int, int], red: list[tuple[int, int]], green: list[Any]
) -> None:
    if met is False:
        red.append(cell)
    elif met is True:
        green.append(cell)


def _versions_story(w: _Writer, s: dict[str, Any], tz: str) -> list[Any]:
    """Which targets were in force over which days, and the compliance under each version."""
    story: list[Any] = [w.para("Policy versions", "Heading3")]
    rows = version_rows(s, tz)
    if not rows:
        story.append(w.para("No version history received for this service's policy."))
        return story
    wrapped = [[Paragraph(w.f.rich(c), w.cell) for c in row] for row in rows]
    widths = [22 * mm, 16 * mm, 50 * mm, 50 * mm, 22 * mm, 20 * mm]
    story += w.table([VERSION_HEAD, *wrapped], [], widths)
    compliance = compliance_rows(s)
    if compliance:
        story += [Spacer(1, 2 * mm), *w.table([COMPLIANCE_HEAD, *compliance])]
    return story


def _figures_rows(s: dict[str, Any], month: str) -> tuple[list[list[Any]], list[Any], list[Any]]:
    a, p = s["availability"], s["previous"]
    pa, t, pt = p["availability"], s["tickets"], p["tickets"]
    rows: list[list[Any]] = [
        ["", month, p["month"]],
        ["availability %", percent(a["actual"], a["target"]), percent(pa["actual"], pa["target"])],
        ["target %", percent(a["target"], a["target"]), percent(pa["target"], pa["target"])],
        ["target met", _number(a["met"]), _number(pa["met"])],
        ["downtime", duration(a["downtime_seconds"]), duration(pa["downtime_seconds"])],
        [
            "agreed service time",
            duration(a["agreed_service_seconds"]),
            duration(pa["agreed_service_seconds"]),
        ],
        ["unmeasured", duration(a["unmeasured_seconds"]), duration(pa["unmeasured_seconds"])],
        ["coverage %", _number(a["coverage"], 1), _number(pa["coverage"], 1)],
        ["budget consumed %", _pct(a["budget_consumed"]), _pct(pa["budget_consumed"])],
        ["outages", _number(a["outages"]), _number(pa["outages"])],
        ["MTBF", duration(a["mtbf_seconds"]), duration(pa["mtbf_seconds"])],
        ["MTRS", duration(a["mtrs_seconds"]), duration(pa["mtrs_seconds"])],
        ["tickets opened", t["total"], pt["total"]],
    ]
    red: list[Any] = []
    green: list[Any] = []
    _state(a["met"], (1, 1), red, green)
    _state(a["met"], (3, 1), red, green)
    _state(pa["met"], (1, 2), red, green)
    rows += [[f"  {k}", v, pt["by_priority"].get(k, 0)] for k, v in t["by_priority"].items()]
    for metric in ("response", "resolution"):
        met = s["headline"][metric]["met"]
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
        _state(met, (len(rows) - 2, 1), red, green)
        _state(met, (len(rows) - 1, 1), red, green)
    rows += [
        ["MTTA", duration(t["mtta_seconds"]), duration(pt["mtta_seconds"])],
        ["MTTR", duration(t["mttr_seconds"]), duration(pt["mttr_seconds"])],
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
    return rows, red, green


def _service_story(w: _Writer, s: dict[str, Any], month: str, tz: str) -> list[Any]:
    rows, red, green = _figures_rows(s, month)
    title = s["service"] + (f"  (policy {s['policy']})" if s["policy"] else "")
    story: list[Any] = [w.para(title, "Heading2"), *w.table(rows, red, green=green)]
    prio = [["priority", "metric", "met / breached", "compliance %", "target %", "target met"]]
    pred: list[Any] = []
    pgreen: list[Any] = []
    for metric in ("response", "resolution"):
        for p, f in s["tickets"][metric].get("by_priority", {}).items():
            prio.append(
                [
                    p,
                    metric,
                    f"{f['met']} / {f['breached']}",
                    _number(f["compliance"], 1),
                    _number(f["target"], 1),
                    _number(f["target_met"]),
                ]
            )
            _state(f["target_met"], (len(prio) - 1, 3), pred, pgreen)
            _state(f["target_met"], (len(prio) - 1, 5), pred, pgreen)
    if len(prio) > 1:
        story += [w.para("Compliance by priority", "Heading3"), *w.table(prio, pred, green=pgreen)]
    work = [["ticket type", "opened", "closed", "backlog at the end"]] + [
        [k.replace("_", " "), v["opened"], v["closed"], v["backlog"]]
        for k, v in s["workload"].items()
    ]
    story += [w.para("Workload", "Heading3"), *w.table(work)]
    story.append(w.para("Nonconformities for the management review", "Heading3"))
    found = s.get("nonconformities") or []
    if found:
        rows = [["kind", "what", "when", "action"]] + [
            [
                n["kind"].replace("_", " "),
                n["what"],
                local_time(n["at"], tz) if n["at"] else NONE,
                n["action"] or "none recorded",
            ]
            for n in found
        ]
        widths = [24 * mm, 70 * mm, 38 * mm, 48 * mm]
        wrapped = [[Paragraph(w.f.rich(str(c)), w.cell) for c in row] for row in rows]
        story += w.table(wrapped, widths=widths)
    else:
        story.append(w.para("None: every target met, no breach, nothing restated."))
    story += _versions_story(w, s, tz)
    story.append(w.para("Breaches", "Heading3"))
    breaches = [["when", "metric", "ticket", "priority", "deadline", "version"]] + [
        [
            local_time(b["occurred_at"], tz),
            b["metric"],
            b.get("ticket_id") or NONE,
            b.get("priority") or NONE,
            local_time(b.get("deadline"), tz),
            NONE if b.get("policy_version") is None else f"v{b['policy_version']}",
        ]
        for b in s["breaches"]
    ]
    if len(breaches) == 1:
        breaches.append(["none", "", "", "", "", ""])
    story += w.table(breaches)
    return story


def _pct(fraction: float | None) -> str:
    return NONE if fraction is None else f"{fraction * 100:,.1f}"


def _headline(w: _Writer, report: dict[str, Any]) -> list[Any]:
    head: list[list[Any]] = [
        ["service", "availability %", "target %", "response met %", "resolution met %"]
    ]
    red: list[Any] = []
    green: list[Any] = []
    for i, s in enumerate(report["services"], start=1):
        h = s["headline"]
        a = h["availability"]
        head.append(
            [
                s["service"],
                percent(a["actual"], a["target"]),
                percent(a["target"], a["target"]),
                _number(h["response"]["compliance"], 1),
                _number(h["resolution"]["compliance"], 1),
            ]
        )
        if missed(s):
            red.append((i, 0))
        _state(a["met"], (i, 1), red, green)
        _state(h["response"]["met"], (i, 3), red, green)
        _state(h["resolution"]["met"], (i, 4), red, green)
    return [w.para("Headline", "Heading2"), *w.table(head, red, green=green)]


def _restatements(w: _Writer, report: dict[str, Any]) -> list[Any]:
    found = report.get("restatements") or []
    if not found:
        return []
    rows = [["service", "figure", "as issued", "now"]] + [
        [r["service"], r["figure"], _number(r["published"], 4), _number(r["now"], 4)] for r in found
    ]
    return [
        w.para(f"Restatements since revision {report.get('revision')}", "Heading2"),
        w.para("Late events changed these figures after the report was issued."),
        *w.table(rows),
    ]


def render_pdf(report: dict[str, Any]) -> bytes:
    w = _Writer(fonts())
    out = io.BytesIO()
    tz = report["tz"]
    period = report["period"]
    footer = (
        f"Pacta SLA report {report['month']} · period {local_time(period['start'], tz)} to "
        f"{local_time(period['end'], tz)}\n"
        f"time zone {tz} · generated {local_time(report['generated_at'], tz)}"
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
        w.para(f"Service level report, {report['month']}", "Title"),
        w.para(
            f"Period {local_time(period['start'], tz)} to {local_time(period['end'], tz)} · "
            f"time zone {tz} · generated {local_time(report['generated_at'], tz)}"
        ),
    ]
    if report.get("partial"):
        story.append(
            w.para(f"The month is not over: figures to {local_time(report['as_of'], tz)}.")
        )
    if report.get("revision"):
        story.append(
            w.para(
                f"Issued as revision {report['revision']} on "
                f"{local_time(report['published_at'], tz)}."
            )
        )
    story += [Spacer(1, 3 * mm), *_headline(w, report), *_restatements(w, report)]
    story += [Spacer(1, 3 * mm), *charts(w.f, report)]
    for s in report["services"]:
        story += _service_story(w, s, report["month"], tz)
    doc.build(
        story,
        canvasmaker=lambda *a, **k: _NumberedCanvas(*a, footer=footer, font=w.f.regular, **k),
    )
    return out.getvalue()
