"""Unicode fonts for the PDF: DejaVu Sans (Latin, Greek, Cyrillic, Arabic, Hebrew) with Droid
Sans Fallback for CJK, TrueType files from Debian packages (deploy/local/tools.sh installs
them); Arabic is shaped first. Missing files fall back to Helvetica (boxes the only loss)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from pacta.logs import get_logger
from reporting.shaping import visual

log = get_logger(__name__)
SEARCH = (
    Path("/usr/share/fonts/truetype"),
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
)
FILES = {
    "PactaSans": "DejaVuSans.ttf",
    "PactaSans-Bold": "DejaVuSans-Bold.ttf",
    "PactaCJK": "DroidSansFallbackFull.ttf",
}


@dataclass(frozen=True, slots=True)
class Fonts:
    regular: str
    bold: str
    fallback: str | None
    """A font for what the regular one cannot draw (CJK); None: none installed."""
    covered: frozenset[int]
    """Code points the regular font draws (empty: Helvetica, Latin-1 only)."""

    def rich(self, text: str) -> str:
        """`text` escaped for a Paragraph, runs the regular font lacks in the fallback."""
        out: list[str] = []
        run: list[str] = []
        in_fallback = False
        for ch in visual(text):
            needs = self.fallback is not None and ord(ch) not in self.covered and ord(ch) > 0xFF
            if needs != in_fallback and run:
                out.append(self._run("".join(run), in_fallback))
                run = []
            in_fallback = needs
            run.append(ch)
        if run:
            out.append(self._run("".join(run), in_fallback))
        return "".join(out)

    def _run(self, text: str, fallback: bool) -> str:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<font name="{self.fallback}">{text}</font>' if fallback else text


def _find(name: str) -> Path | None:
    for root in SEARCH:
        if root.is_dir():
            for found in root.rglob(name):
                return found
    return None


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    registered: dict[str, TTFont] = {}
    for alias, file in FILES.items():
        path = _find(file)
        if path is None:
            log.warning("font not installed; the PDF draws boxes for what it lacks", font=file)
            continue
        try:
            font = TTFont(alias, str(path))
            pdfmetrics.registerFont(font)
            registered[alias] = font
        except Exception as exc:  # a broken or unsupported font file: draw without it
            log.warning("font not usable", font=str(path), error=repr(exc))
    if "PactaSans" not in registered:
        return Fonts("Helvetica", "Helvetica-Bold", None, frozenset())
    regular = registered["PactaSans"]
    bold = "PactaSans-Bold" if "PactaSans-Bold" in registered else "PactaSans"
    pdfmetrics.registerFontFamily("PactaSans", normal="PactaSans", bold=bold)
    covered = frozenset(regular.face.charToGlyph)
    return Fonts("PactaSans", bold, "PactaCJK" if "PactaCJK" in registered else None, covered)
