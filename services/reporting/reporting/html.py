"""The HTML report and pages: Jinja2 templates with autoescaping, charts inlined as SVG."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reporting.charts import bar_chart, local_day
from reporting.domain.report import missed
from reporting.domain.wording import duration, local_time, percent
from reporting.version_text import COMPLIANCE_HEAD, VERSION_HEAD, compliance_rows, version_rows

TEMPLATES = Path(__file__).parent / "templates"
NONE = "\u2013"  # an en dash stands for a figure that is undefined


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _duration(seconds: float | None) -> str:
    return duration(seconds)


def _state(met: bool | None) -> str:
    """The CSS class of a figure judged by itself: red when missed, green when met."""
    return "" if met is None else ("ok" if met else "missed")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    env.filters["dur"] = _duration
    env.filters["when"] = lambda d, tz="UTC": NONE if d is None else local_time(d.isoformat(), tz)
    env.filters["at"] = local_time
    env.filters["pct"] = lambda f: NONE if f is None else f"{f * 100:,.1f} %"
    env.filters["percent"] = percent
    env.filters["state"] = _state
    env.globals["missed"] = missed
    env.globals["version_rows"] = version_rows
    env.globals["compliance_rows"] = compliance_rows
    env.globals["version_head"] = VERSION_HEAD
    env.globals["compliance_head"] = COMPLIANCE_HEAD
    return env


def report_charts(report: dict[str, Any]) -> dict[str, Markup]:
    """The month's daily availability (all services, or the one asked for) and breaches."""
    trends = report.get("_trends") or {}
    out: dict[str, Markup] = {}
    avail = (trends.get("availability") or {}).get("items", [])
    if avail:
        labels = [local_day(i["start"], report["tz"])[5:] for i in avail]
        targets = [s["availability"]["target"] for s in report["services"]]
        target = min([t for t in targets if t is not None], default=None)
        low = min([i["actual"] for i in avail if i["actual"] is not None] + [target or 100.0, 99.0])
        out["availability"] = Markup(
            bar_chart(
                "Availability by day (%)",
                labels,
                [i["actual"] for i in avail],
                floor=max(0.0, low - 0.5),
                ceiling=100.0,
                target=target,
                unit="%",
            )
        )
    year = (trends.get("year_availability") or {}).get("items", [])
    if year:
        labels = [local_day(i["start"], report["tz"])[:7] for i in year]
        values = [i["actual"] for i in year]
        targets = [s["availability"]["target"] for s in report["services"]]
        target = min([t for t in targets if t is not None], default=None)
        low = min([v for v in values if v is not None] + [target or 100.0, 99.0])
        out["year_availability"] = Markup(
            bar_chart(
                "Availability by month, twelve months (%)",
                labels,
                values,
                floor=max(0.0, low - 0.5),
                ceiling=100.0,
                target=target,
                unit="%",
            )
        )
    compliance = (trends.get("year_compliance") or {}).get("items", [])
    for key, metric in (("year_response", "response"), ("year_compliance", "resolution")):
        if not compliance:
            break
        out[key] = Markup(
            bar_chart(
                f"{metric.capitalize()} clocks met by month, twelve months (%)",
                [local_day(i["start"], report["tz"])[:7] for i in compliance],
                [i.get(f"{metric}_compliance") for i in compliance],
                floor=0.0,
                ceiling=100.0,
                unit="%",
                color="#1565c0",
            )
        )
    found = (trends.get("breaches") or {}).get("items", [])
    if found:
        out["breaches"] = Markup(
            bar_chart(
                "Breaches by day",
                [local_day(i["start"], report["tz"])[5:] for i in found],
                [None if i["breaches"] is None else float(i["breaches"]) for i in found],
                floor=0.0,
                ceiling=max([4.0] + [float(i["breaches"] or 0) for i in found]),
                color="#c62828",
            )
        )
    return out


def render_html(report: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("report.html")
        .render(report=report, charts=report_charts(report))
    )
