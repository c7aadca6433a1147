"""Alertmanager's UTF-8 matchers grammar (matcher/parse): quoted or bare names and values,
optional braces, a trailing comma; yields (name, op, value) triples or raises ValueError."""

from __future__ import annotations

_RESERVED = set("{}!=~,\\\"'`")
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}


def _reserved(ch: str) -> bool:
    return ch.isspace() or ch in _RESERVED


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: `{`, `}`, `,`, `op`, `quoted`, `bare`."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "{},":
            out.append((ch, ch))
            i += 1
        elif ch in "=!":
            for op in ("=~", "!=", "!~", "="):
                if text.startswith(op, i):
                    out.append(("op", op))
                    i += len(op)
                    break
            else:
                raise ValueError(f"{i}: expected an operator such as '=', '!=', '=~' or '!~'")
        elif ch == '"':
            j, escaped = i + 1, False
            while j < n:
                if escaped:
                    escaped = False
                elif text[j] == "\\":
                    escaped = True
                elif text[j] == '"':
                    break
                j += 1
            if j >= n:
                raise ValueError(f'{i}: missing end "')
            out.append(("quoted", text[i : j + 1]))
            i = j + 1
        elif ch.isspace():
            i += 1
        elif not _reserved(ch):
            j = i
            while j < n and not _reserved(text[j]):
                j += 1
            out.append(("bare", text[i:j]))
            i = j
        else:
            raise ValueError(f"{i}: {ch}: invalid input")
    return out


def unquote(token: str) -> str:
    """Go's strconv.Unquote for a double-quoted string: `\\x` and octal escapes give bytes, and
    the result must be valid UTF-8 (Go's regexp refuses anything else)."""
    body, out, i = token[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch == "\n":
            raise ValueError("a quoted string cannot hold a raw newline")
        if ch != "\\":
            out += _utf8(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("a quoted string ends in a backslash")
        code = body[i + 1]
        if code in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[code].encode()
            i += 2
        elif code in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(f"bad \\{code} escape")
            value = int(digits, 16)
            if code == "x":
                out.append(value)
            elif value > 0x10FFFF:
                raise ValueError(f"\\{code}{digits} is not a code point")
            else:
                out += _utf8(chr(value))
            i += 2 + width
        elif code in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError("bad octal escape")
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{code}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the escapes do not make valid UTF-8") from None


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate: no code point
        raise ValueError("not valid UTF-8") from None


def _text(token: tuple[str, str]) -> str:
    return unquote(token[1]) if token[0] == "quoted" else token[1]


def parse(text: str) -> list[tuple[str, str, str]]:
    tokens = _tokens(text)
    pos = 0
    opened = bool(tokens) and tokens[0][0] == "{"
    if opened:
        pos = 1
    out: list[tuple[str, str, str]] = []
    while pos < len(tokens) and tokens[pos][0] != "}":
        name, op, value = (tokens[pos : pos + 3] + [("eof", "")] * 3)[:3]
        if name[0] not in ("quoted", "bare"):
            raise ValueError(f"unexpected {name[1]!r}: expected label name")
        if op[0] != "op":
            raise ValueError(f"unexpected {op[1]!r}: expected an operator")
        if value[0] not in ("quoted", "bare"):
            raise ValueError(f"unexpected {value[1]!r}: expected label value")
        out.append((_text(name), op[1], _text(value)))
        pos += 3
        if pos < len(tokens) and tokens[pos][0] == ",":
            pos += 1
        elif pos < len(tokens) and tokens[pos][0] != "}":
            raise ValueError(f"unexpected {tokens[pos][1]!r}: expected a comma or close brace")
    if pos < len(tokens):  # at a close brace
        if not opened:
            raise ValueError("}: expected opening brace")
        pos += 1
    elif opened:
        raise ValueError("expected close brace")
    if pos < len(tokens):
        raise ValueError(f"unexpected {tokens[pos][1]!r}: expected end of input")
    return out
