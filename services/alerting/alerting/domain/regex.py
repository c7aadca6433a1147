"""Regular expressions as Alertmanager's Go `regexp` reads them: RE2's syntax and semantics,
fully anchored, matched in time linear in the input whatever the pattern and the value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re2


class RegexError(ValueError):
    """A pattern RE2 refuses (lookarounds, backreferences, bad syntax) or that is not UTF-8."""


def _options() -> Any:
    options = re2.Options()
    # user input: a refused pattern is a 422, not a line on the service's stderr
    options.log_errors = False
    return options


_OPTIONS = _options()


@dataclass(frozen=True)
class Regex:
    """A compiled pattern that matches the whole value (Alertmanager anchors as `^(?:v)$`)."""

    source: str
    compiled: Any = field(compare=False, repr=False)

    def fullmatch(self, value: str) -> bool:
        # label values are UTF-8 on the wire; a lone surrogate (never valid input) is matched
        # as its raw bytes rather than crashing the match
        data = value.encode("utf-8", "surrogatepass")
        return self.compiled.fullmatch(data) is not None


def compile_anchored(source: str) -> Regex:
    try:
        data = source.encode("utf-8")
    except UnicodeEncodeError:
        raise RegexError("the regular expression is not valid UTF-8") from None
    try:
        compiled = re2.compile(b"(?:" + data + b")", _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        raise RegexError(
            f"the regular expression does not compile (RE2 syntax): {detail}"
        ) from None
    return Regex(source, compiled)
