"""Matcher parsing against the cases of Alertmanager's pkg/labels/parse_test.go and
matcher/parse/parse_test.go, and matching semantics (anchored regexes, missing label = "")."""

from __future__ import annotations

import time

import pytest

from alerting.domain.matchers import MatcherError, parse_matchers


def triples(text: str) -> list[tuple[str, str, str]]:
    return [(m.name, m.op, m.value) for m in parse_matchers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", []),
        ("", []),
        ("{foo='}", [("foo", "=", "'")]),
        ("{foo=`}", [("foo", "=", "`")]),
        ('{foo=\\"}', [("foo", "=", '"')]),
        ("{foo=bar}", [("foo", "=", "bar")]),
        ('{foo="bar"}', [("foo", "=", "bar")]),
        ("{foo=~bar.*}", [("foo", "=~", "bar.*")]),
        ('{foo=~"bar.*"}', [("foo", "=~", "bar.*")]),
        ("{foo!=bar}", [("foo", "!=", "bar")]),
        ('{foo!~"bar.*"}', [("foo", "!~", "bar.*")]),
        ('{foo="bar", baz!="quux"}', [("foo", "=", "bar"), ("baz", "!=", "quux")]),
        (
            '{foo="bar",baz!~".*quux", derp="wat"}',
            [("foo", "=", "bar"), ("baz", "!~", ".*quux"), ("derp", "=", "wat")],
        ),
        ('{foo=""}', [("foo", "=", "")]),
        ('{foo="bar,quux", job="job1"}', [("foo", "=", "bar,quux"), ("job", "=", "job1")]),
        ('{foo = "bar", dings != "bums", }', [("foo", "=", "bar"), ("dings", "!=", "bums")]),
        ("foo=bar,dings!=bums", [("foo", "=", "bar"), ("dings", "!=", "bums")]),
        (
            '{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
            [("quote", "=", 'She said: "Hi, ladies! That\'s gender-neutral…"')],
        ),
        ('statuscode=~"5.."', [("statuscode", "=~", "5..")]),
        ("tricky=~~~", [("tricky", "=~", "~~")]),
        ('trickier==\\\\=\\=\\"', [("trickier", "=", '=\\=\\="')]),
        (
            'contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
            [("contains_quote", "!=", '"'), ("contains_comma", "!~", "foo,bar")],
        ),
        ("{foo=bar}}", [("foo", "=", "bar}")]),
        ("{foo=bar}},}", [("foo", "=", "bar}}")]),
        ("{foo=,bar=}}", [("foo", "=", ""), ("bar", "=", "}")]),
        ("{foo=bar\\t}", [("foo", "=", "bar\\t")]),
        ("{foo=bar\\n}", [("foo", "=", "bar\n")]),
        ("{foo=bar\\}", [("foo", "=", "bar\\")]),
        ("{foo=bar\\\\}", [("foo", "=", "bar\\")]),
        ('{foo=bar\\"}', [("foo", "=", 'bar"')]),
        ("job=", [("job", "=", "")]),
        ("{foo=", [("foo", "=", "")]),
        ("{foo=}b", [("foo", "=", "}b")]),
        # the UTF-8 grammar takes what the classic one refuses: quoted and dotted names
        ('{"service.name"="checkout"}', [("service.name", "=", "checkout")]),
        ('"foo bar"=~"a|b"', [("foo bar", "=~", "a|b")]),
        ("foo.bar=baz", [("foo.bar", "=", "baz")]),
        # refused by the classic parser, taken by the UTF-8 one (Alertmanager's fallback mode)
        ('{invalid-name = "valid label"}', [("invalid-name", "=", "valid label")]),
    ],
)
def test_parses_like_alertmanager(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert triples(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        ",",
        "{,}",
        'job="value',
        'job=value"',
        'trickier==\\\\=\\=\\""',
        'contains_unescaped_quote = foo"bar',
        '{foo=~"invalid[regexp"}',
        '"{foo=\\"bar"}',
        '"foo="bar""',
        "{{foo=",
        "foo",
        "foo=~(",
        "a=b\x00",
    ],
)
def test_refuses_what_alertmanager_refuses(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


def test_regexes_are_fully_anchored() -> None:
    [m] = parse_matchers("service=~check")
    assert not m.matches({"service": "checkout"})
    assert not m.matches({"service": "precheck"})
    assert m.matches({"service": "check"})
    [alt] = parse_matchers('env=~"prod|staging"')
    assert alt.matches({"env": "prod"})
    assert alt.matches({"env": "staging"})
    assert not alt.matches({"env": "prod-eu"})


def test_a_missing_label_reads_as_the_empty_string() -> None:
    [eq_empty] = parse_matchers('team=""')
    [ne_empty] = parse_matchers('team!=""')
    [re_any] = parse_matchers("team=~.*")
    [nre] = parse_matchers("team!~payments")
    assert eq_empty.matches({})
    assert not ne_empty.matches({})
    assert re_any.matches({})
    assert nre.matches({})
    assert not nre.matches({"team": "payments"})


def test_not_equal_and_not_regex() -> None:
    [ne] = parse_matchers("priority!=P1")
    assert ne.matches({"priority": "P2"})
    assert not ne.matches({"priority": "P1"})
    [nre] = parse_matchers('kind!~"warning|availability_warning"')
    assert nre.matches({"kind": "breach"})
    assert not nre.matches({"kind": "warning"})


# ---- the regex dialect is RE2's (Go's `regexp`, which Alertmanager uses) ---------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('severity=~"(?i)critical"', "CRITICAL"),
        ('severity=~"(?i)critical"', "Critical"),
        ('name=~"[[:alpha:]]+"', "checkout"),
        ('name=~"\\\\pL+"', "Zürich"),
        ('name=~"\\\\p{Greek}+"', "αβγ"),
        ('name=~"abc\\\\z"', "abc"),
        ('name=~"\\\\Aabc"', "abc"),
        ('name=~"\\\\d+"', "123"),
    ],
)
def test_re2_syntax_works(text: str, value: str) -> None:
    [m] = parse_matchers(text)
    assert m.matches({m.name: value})


def test_posix_classes_and_perl_classes_are_ascii_as_in_go() -> None:
    [alpha] = parse_matchers('name=~"[[:alpha:]]+"')
    assert not alpha.matches({"name": "abc1"})
    [digits] = parse_matchers('n=~"\\\\d+"')
    assert not digits.matches({"n": "١٢٣"})  # Arabic-Indic digits are not \d in Go


def test_dollar_is_the_end_of_the_text_not_before_a_final_newline() -> None:
    [m] = parse_matchers('name=~"abc$"')
    assert not m.matches({"name": "abc\n"})


@pytest.mark.parametrize(
    "text",
    [
        'name=~"a(?=b)b"',  # lookahead
        'name=~"(?<=a)b"',  # lookbehind
        'name=~"a(?!b)"',
        'name=~"(a)\\\\1"',  # backreference
        'name=~"(?P<x>a)(?P=x)"',
        'name=~"a{1001}"',  # over RE2's repeat limit, as Go's
        'name=~"\\\\Z"',  # Python's, not RE2's
    ],
)
def test_what_re2_refuses_is_refused(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"name"="\\xf0\\x9f"}',  # the UTF-8 grammar unquotes to bytes: not UTF-8
        '{"name"=~"\\xff"}',
        '{"name"="\\377"}',
        '{"name"="\\ud800"}',  # a surrogate is no code point
        "name=\ud800",  # a lone surrogate from JSON
    ],
)
def test_escapes_that_give_invalid_utf8_are_refused(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


def test_escapes_that_give_valid_utf8_decode_as_go_does() -> None:
    [m] = parse_matchers('{"name"="\\xf0\\x9f\\x98\\x80"}')
    assert m.value == "\U0001f600"


def test_no_label_value_stalls_a_regex() -> None:
    # catastrophic backtracking for a backtracking engine; RE2 runs in linear time
    [m] = parse_matchers('service=~"(a+)+b"')
    started = time.perf_counter()
    for n in (24, 32, 10_000, 100_000):
        assert not m.matches({"service": "a" * n})
    assert time.perf_counter() - started < 0.5


def test_a_label_with_a_lone_surrogate_does_not_crash_a_match() -> None:
    [m] = parse_matchers('service=~".*"')
    assert m.matches({"service": "a\ud800b"})
