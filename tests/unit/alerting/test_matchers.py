"""Matcher parsing against the cases of Alertmanager's pkg/labels/parse_test.go and
matcher/parse/parse_test.go, and matching semantics (anchored regexes, missing label = "")."""

from __future__ import annotations

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
