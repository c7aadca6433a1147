"""Arabic for a PDF library that draws code points one by one: each letter replaced by its
presentation form (isolated, initial, medial, final: how it joins its neighbours) and each
right-to-left run reversed, so a name in Arabic reads right in a left-to-right line."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

RIGHT_JOINING = frozenset(
    "\u0622\u0623\u0624\u0625\u0627\u0629\u062f\u0630\u0631\u0632\u0648\u0649"
)
"""Letters that join only the letter before them (alef, dal, reh, waw, ...)."""
_RTL_RUN = re.compile(
    r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]+(?:[ \u200c][\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]+)*"
)


@lru_cache(maxsize=512)
def _form(letter: str, form: str) -> str:
    """The presentation form of `letter` (the letter itself when Unicode has none)."""
    try:
        return unicodedata.lookup(f"{unicodedata.name(letter)} {form} FORM")
    except (KeyError, ValueError):
        return letter


def _joins(letter: str) -> bool:
    return _form(letter, "ISOLATED") != letter or _form(letter, "FINAL") != letter


def _shape(run: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(run):
        if not _joins(ch):
            out.append(ch)
            continue
        before = run[i - 1] if i > 0 else ""
        after = run[i + 1] if i + 1 < len(run) else ""
        joins_before = bool(before) and _joins(before) and before not in RIGHT_JOINING
        joins_after = bool(after) and _joins(after) and ch not in RIGHT_JOINING
        form = {
            (False, False): "ISOLATED",
            (False, True): "INITIAL",
            (True, True): "MEDIAL",
            (True, False): "FINAL",
        }[(joins_before, joins_after)]
        shaped = _form(ch, form)
        if shaped == ch and form in ("INITIAL", "MEDIAL"):  # no such form: it ends the word
            shaped = _form(ch, "FINAL" if joins_before else "ISOLATED")
        out.append(shaped)
    return "".join(reversed(out))


def visual(text: str) -> str:
    """`text` in drawing order: Arabic and Hebrew runs shaped and reversed, the rest as is."""
    if not any("\u0590" <= c <= "\u08ff" for c in text):
        return text
    return _RTL_RUN.sub(lambda m: _shape(m.group(0)), text)
