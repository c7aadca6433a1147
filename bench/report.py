"""Plain-text tables, number formatting, and the JSON result file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = Path(os.environ.get("PACTA_VAR_DIR", ROOT / "var")) / "bench"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain table; columns in `right` (by index) are right-aligned (numbers)."""
    right = right if right is not None else set(range(1, len(headers)))
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def fmt(cells: list[str]) -> str:
        out = []
        for i, (c, w) in enumerate(zip(cells, widths, strict=True)):
            out.append(str(c).rjust(w) if i in right else str(c).ljust(w))
        return "  ".join(out).rstrip()

    line = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), line, *(fmt(r) for r in rows)])


def num(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "loadavg_before": os.getloadavg(),
        "python": platform.python_version(),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def write_json(name: str, data: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}-{stamp()}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def notes(result: dict[str, Any]) -> list[str]:
    """The closing lines of a rendered result: its warnings (the numbers are suspect) and its
    problems (the run fails)."""
    parts: list[str] = []
    if result["warnings"]:
        parts += ["", "Warnings:", *(f"  - {p}" for p in result["warnings"])]
    if result["problems"]:
        parts += ["", "PROBLEMS:", *(f"  - {p}" for p in result["problems"])]
    return parts


def publish(name: str, result: dict[str, Any], rendered: str) -> Path:
    """Print a benchmark's rendered result and keep all of it in `var/bench/<name>-<ts>.json`."""
    print()
    print(rendered)
    path = write_json(name, result)
    print(f"\n[bench] written {path}")
    return path


def target_row(
    what: str, measured: str, target: str, ok: bool | None, note: str = ""
) -> dict[str, Any]:
    """One line of a benchmark's verdict table: PASS, MISS, or `-` where no target is set."""
    verdict = "-" if ok is None else ("PASS" if ok else "MISS")
    return {"what": what, "measured": measured, "target": target, "result": verdict, "note": note}
