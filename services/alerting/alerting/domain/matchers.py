"""Label matchers parsed exactly as Alertmanager parses one entry of a `matchers:` list: the
classic parser (pkg/labels) first, the UTF-8 parser (matcher/parse) for what it refuses."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from alerting.domain import utf8_matchers
from alerting.domain.regex import Regex, compile_anchored

Op = Literal["=", "!=", "=~", "!~"]
OPS: tuple[Op, ...] = ("=", "!=", "=~", "!~")

# '=~' before '=' so the '~' is not read as part of the value (as in Alertmanager); the value
# is the rest with Go's ASCII white space trimmed (no lazy group: linear in the input)
_CLASSIC = re.compile(r"[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)")
_GO_SPACE = "\t\n\f\r "


class MatcherError(ValueError):
    """A matcher string that does not parse, or a regular expression that does not compile."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    pattern: Regex | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        # a label the alert does not carry reads as the empty string
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        assert self.pattern is not None
        hit = self.pattern.fullmatch(got)
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        """As Alertmanager prints one (`name op "value"`, the value quoted as Go's %q)."""
        return f"{self.name}{self.op}{go_quote(self.value)}"


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(value: str) -> str:
    """Go's strconv.Quote: a double-quoted string, non-printable characters escaped."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        # nothing to escape (the common case: every group key of every signal comes here)
        return f'"{value}"'
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def new_matcher(name: str, op: Op, value: str) -> Matcher:
    """A matcher with its regex compiled (RE2) and fully anchored, as Alertmanager's NewMatcher."""
    for text in (name, value):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise MatcherError(f"{name!r}: a matcher must be valid UTF-8") from None
    if op in ("=~", "!~"):
        try:
            pattern = compile_anchored(value)
        except ValueError as exc:
            raise MatcherError(f"{name}{op}{value!r}: {exc}") from None
        return Matcher(name, op, value, pattern)
    return Matcher(name, op, value)


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def parse_matchers(text: str) -> list[Matcher]:
    """Parse one `matchers:` entry (one or several comma-separated matchers, braces optional).

    Alertmanager's default (fallback) mode: where both parsers succeed and disagree it takes
    the classic result, so the classic parser goes first and the UTF-8 one covers the rest."""
    if "\x00" in text:
        raise MatcherError("a matcher must not contain NUL characters")
    try:
        return parse_classic(text)
    except MatcherError as classic_error:
        try:
            parsed = utf8_matchers.parse(text)
        except ValueError:
            raise classic_error from None
        return [new_matcher(n, op, v) for n, op, v in parsed]  # type: ignore[arg-type]


def parse_classic(text: str) -> list[Matcher]:
    """pkg/labels.ParseMatchers: strip one brace each side, split on commas outside quotes."""
    s = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for ch in s:
        if ch == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return [parse_classic_one(t) for t in tokens]


def parse_classic_one(text: str) -> Matcher:
    """pkg/labels.ParseMatcher: name, operator, value (quoted or not, escapes expanded)."""
    found = _CLASSIC.match(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = found.group(1), found.group(2), text[found.end() :].strip(_GO_SPACE)
    expect_trailing_quote = raw.startswith('"')
    if expect_trailing_quote:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            if ch == "n":
                out.append("\n")
            elif ch in '"\\':
                out.append(ch)
            else:  # a spurious escape: the backslash is literal
                out.append("\\" + ch)
            continue
        if ch == "\\":
            if i < len(raw) - 1:
                escaped = True
                continue
            out.append("\\")  # a backslash as the last character is literal
        elif ch == '"':
            if not expect_trailing_quote or i < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
            expect_trailing_quote = False
        else:
            out.append(ch)
    if expect_trailing_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
    return new_matcher(name, op, "".join(out))  # type: ignore[arg-type]


def parse_matcher_list(entries: Sequence[str]) -> list[Matcher]:
    """A `matchers:` list: every entry parsed and the results joined (all must match)."""
    out: list[Matcher] = []
    for entry in entries:
        out.extend(parse_matchers(entry))
    return out
