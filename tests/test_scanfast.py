"""The C skip over boring bytes (consentgate._scanfast) ends exactly where the regexes do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate import scanner
from consentgate._scanfast import boring_end, inline_script

KINDS = range(4)

#: Tag names the regexes single out: state-switching tags, a/area, body, what opens, closes
#: or nests a select; and ordinary ones.
TAG_NAMES = [
    b"script", b"style", b"svg", b"title", b"textarea", b"xmp", b"iframe", b"noembed",
    b"noframes", b"noscript", b"plaintext", b"math", b"a", b"area", b"body", b"p", b"img",
    b"div", b"abbr", b"scripts", b"x-y", b"select", b"input", b"keygen", b"template",
    b"option", b"selects", b"inputs",
]  # fmt: skip
#: Attribute names: every URL attribute of the regexes, and look-alikes.
ATTRIBUTE_NAMES = [
    b"src", b"srcset", b"srcdoc", b"href", b"poster", b"ping", b"data", b"background",
    b"imagesrcset", b"xlink:href", b"class", b"srcx", b"data-src", b"=x", b"'",
]  # fmt: skip
PUNCTUATION = [
    b"<", b">", b"/", b"=", b'"', b"'", b" ", b"\t", b"\n", b"\f", b"\r", b"\x0b", b"-", b"!",
    b"?", b"#", b"%", b"~", b"_", b".", b":", b"\x00", b"\xff", b"\xc3\xa9", b"<!--", b"-->",
    b"--!>", b"<!-->", b"<!--->", b"[CDATA[", b"<![CDATA[", b"<!doctype html>", b"<?x?>", b"</",
    b"//", b"http://", b"1", b"</title>", b"</script>", b"</style >", b"</textarea>",
    b"<script src=/a.js>", b"<title>",
]  # fmt: skip
VALUES = [
    b"", b"abc", b"a.png", b"/x", b"//host/x", b"/", b"/%41", b"?q=1", b"#top", b"x/y z",
    b"https://t.example/p", b"a:b", b"a=b", b"a'b", b'a"b', b">", b"\x00", b"~._-",
]  # fmt: skip


def _any_case(name: bytes) -> st.SearchStrategy[bytes]:
    flips = st.lists(st.booleans(), min_size=len(name), max_size=len(name))
    return flips.map(
        lambda fl: bytes(
            c ^ 0x20 if f and chr(c).isalpha() else c for c, f in zip(name, fl, strict=True)
        )
    )


tag_names = st.sampled_from(TAG_NAMES).flatmap(_any_case)
attribute_names = st.sampled_from(ATTRIBUTE_NAMES).flatmap(_any_case)
url_attribute_names = st.sampled_from(ATTRIBUTE_NAMES[:10]).flatmap(_any_case)
space = st.sampled_from([b"", b" ", b"\t", b"\n", b"\f", b"\r", b"  ", b"/", b" / "])
value = st.tuples(st.sampled_from([b'"', b"'", b""]), st.sampled_from(VALUES), st.booleans()).map(
    lambda t: t[0] + t[1] + (t[0] if t[2] else b"")
)
attribute = st.tuples(
    space,
    st.one_of(url_attribute_names, attribute_names),
    st.sampled_from([b"", b"", b" "]),
    st.one_of(value.map(b"=".__add__), st.just(b""), value.map(b" = ".__add__)),
)
# Mostly ordinary start tags that end: those the regexes may skip whole.
tag = st.tuples(
    st.sampled_from([b"<", b"<", b"<", b"</"]),
    st.one_of(st.sampled_from([b"p", b"img", b"a", b"Area", b"div"]), tag_names),
    st.lists(attribute.map(b"".join), max_size=4),
    st.sampled_from([b"", b"", b" ", b"/", b"\n"]),
    st.sampled_from([b">", b">", b"/>", b""]),
).map(lambda t: t[0] + t[1] + b"".join(b" " + a for a in t[2]) + t[3] + t[4])
comment = st.tuples(
    st.sampled_from([b"<!--", b"<!-", b"<!"]),
    st.lists(st.sampled_from([b"-", b"!", b">", b" x ", b"--", b"<"]), max_size=5),
    st.sampled_from([b"-->", b"--!>", b"--", b"- ->", b"--!", b""]),
).map(lambda t: t[0] + b"".join(t[1]) + t[2])
piece = st.one_of(
    tag,
    tag,
    tag,
    comment,
    tag_names,
    attribute_names,
    st.sampled_from(PUNCTUATION),
    st.binary(max_size=3),
)
documents = st.lists(piece, min_size=1, max_size=40).map(b"".join)


def _regex_ends(data: bytes, pos: int) -> list[int]:
    return [scanner._RX[kind].match(data, pos).end() for kind in KINDS]  # type: ignore[union-attr]


def _fast_ends(data: bytes, pos: int) -> list[int]:
    return [boring_end(data, pos, kind) for kind in KINDS]


@settings(max_examples=1000)
@given(documents)
def test_boring_end_is_the_regex_end_at_every_position(data: bytes) -> None:
    for pos in range(len(data) + 1):
        assert _fast_ends(data, pos) == _regex_ends(data, pos), (data, pos)


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_boring_end_is_the_regex_end_on_any_bytes(data: bytes) -> None:
    for pos in range(len(data) + 1):
        assert _fast_ends(data, pos) == _regex_ends(data, pos), (data, pos)


@pytest.mark.parametrize(
    ("data", "ends"),
    [
        (b"", [0, 0, 0, 0]),
        (b"text only", [9, 9, 9, 9]),
        (b'<p class="x">t</p><img src="/a.png">', [0, 36, 36, 36]),
        (b'<img src="https://t.example/p.gif">', [0, 0, 0, 0]),
        (b"<img src=//t.example/p.gif>", [0, 0, 0, 0]),
        (b'<a href="https://t.example/">x</a>', [0, 34, 34, 34]),
        (b"<a ping=/p>x</a>", [0, 0, 0, 0]),
        (b"<p>x</body>y", [0, 4, 12, 4]),
        (b"<P>x</BODY >y", [0, 4, 13, 4]),
        (b"<!-- a --!> <!doctype html><?x?></ x>< 3", [40, 40, 40, 40]),
        (b"<!-- never closed", [0, 0, 0, 0]),
        (b"<![CDATA[x]]>", [0, 0, 0, 0]),
        (b"<SCRIPT>", [0, 0, 0, 0]),
        (b"<scripts>", [0, 9, 9, 9]),
        (b"<p", [0, 0, 0, 0]),
        (b"x<", [1, 1, 1, 1]),
        (b"<img src=abc>", [0, 13, 13, 13]),
        (b"<img src=abc:x>", [0, 0, 0, 0]),
        (b"<img src=/%41>", [0, 14, 14, 14]),
        (b"<img src=//h>", [0, 0, 0, 0]),
        (b'<img src="abc/x:y">', [0, 19, 19, 19]),
        (b'<img src="abc:x">', [0, 0, 0, 0]),
        (b"<img src='#f'>", [0, 14, 14, 14]),
        (b"<img src=?q>", [0, 12, 12, 12]),
        (b'<img src="">', [0, 12, 12, 12]),
        (b"<img src=>", [0, 0, 0, 0]),
        (b"<a href=>", [0, 9, 9, 9]),
        (b"<img src=abc", [0, 0, 0, 0]),
        (b"<img imagesrcset=x.png>", [0, 0, 0, 0]),
        (b"<iframe srcdoc=x>", [0, 0, 0, 0]),
        (b"<img srcdoc=x>", [0, 0, 0, 0]),
        (b"<x xlink:href=a>", [0, 0, 0, 0]),
        (b'<x XLINK:HREF="/a">', [0, 0, 0, 0]),
        (b"<area href=//h ping>", [0, 0, 0, 0]),
        (b"<p a==b>", [0, 8, 8, 8]),
        (b"<p =x>", [0, 6, 6, 6]),
        (b"<p data-src=//h>", [0, 16, 16, 16]),
        (b"</body", [0, 0, 0, 0]),
        (b"</body>", [0, 0, 7, 0]),
        (b"<svg/>", [0, 0, 0, 0]),
        (b"<title>", [0, 0, 0, 0]),
        (b"<p/>", [0, 4, 4, 4]),
        (b"<select>", [0, 0, 0, 0]),
        (b"<SELECT name=s>", [0, 0, 0, 0]),
        (b"<selects>", [0, 9, 9, 9]),
        (b"<input>", [0, 7, 7, 0]),
        (b"<input type=text>", [0, 17, 17, 0]),
        (b"<keygen>", [0, 8, 8, 8]),
        (b"<template>", [0, 10, 10, 0]),
        (b"<option value=1>x</option>", [0, 26, 26, 26]),
        (b"</select>", [0, 9, 9, 0]),
        (b"</template >", [0, 12, 12, 0]),
        (b"</style>", [0, 8, 8, 0]),
        (b"</SVG>", [0, 6, 6, 0]),
        (b"</option>", [0, 9, 9, 9]),
        (b"</styles>", [0, 9, 9, 9]),
    ],
)
def test_boring_end_stops_where_the_regex_stops(data: bytes, ends: list[int]) -> None:
    assert _regex_ends(data, 0) == ends
    assert _fast_ends(data, 0) == ends


@pytest.mark.parametrize(
    ("data", "skipped"),
    [
        (b"<title>x</title>", True),
        (b"<TITLE lang=en>a<b</Title >", True),
        (b"<title></body><script src=//t.example/a.js></title>", True),
        (b"<title>a</titlex></title>", True),
        (b"<title>x</title", False),
        (b"<title>x</title x='>", False),
        (b"<title>x", False),
        (b'<title data-x="//t.example/">x</title>', True),
        (b'<title src="//t.example/">x</title>', False),
        (b"<style>p { color: red }</style>", True),
        (b"<style media=print>a<!--b</style>", True),
        (b"<textarea><p>x</textarea>", True),
        (b"<xmp>x</xmp>", False),
        (b"<noscript>x</noscript>", False),
        (b"<iframe>x</iframe>", False),
        (b'<script src="/a.js"></script>', True),
        (b"<script src=a.js async>x</script >", True),
        (b"<script type=module src=/m.js></SCRIPT>", True),
        (b'<script defer src="/a.js" data-x=1></script>', True),
        (b"<script></script>", False),
        (b"<script async>x</script>", False),
        (b"<script src></script>", False),
        (b'<script src="https://t.example/a.js"></script>', False),
        (b'<script src="/a.js" src="//t.example/a.js"></script>', False),
        (b'<script href="/x" src="/a.js"></script>', True),
        (b'<script src="/a.js"><!--</script>', False),
        (b'<script src="/a.js"><!-</script>', True),
        (b'<script src="/a.js">a</scripts></script>', True),
        (b'<script src="/a.js"></script', False),
    ],
)
def test_elements_the_scanner_sends_unchanged_are_skipped_whole(data: bytes, skipped: bool) -> None:
    ends = [0, len(data), len(data), 0] if skipped else [0, 0, 0, 0]
    assert _regex_ends(data, 0) == ends
    assert _fast_ends(data, 0) == ends
    # And inside a document, as a whole or not at all.
    page = b"<p>" + data + b"<p>"
    assert _fast_ends(page, 0) == _regex_ends(page, 0)


@settings(max_examples=1000)
@given(documents)
def test_inline_script_is_the_regex_match_at_every_position(data: bytes) -> None:
    for pos in range(len(data) + 1):
        assert inline_script(data, pos) == scanner._regex_inline(data, pos), (data, pos)


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"<script>a()</script>", (8, 11, 20)),
        (b"<SCRIPT async nonce=x>a</Script >", (22, 23, 33)),
        (b"<script>a</script", None),
        (b"<script>a", None),
        (b"<script></script>", (8, 8, 17)),
        (b"<script>'<!--'</script>", None),
        (b"<script>a</scripts></script>", (8, 19, 28)),
        (b"<script src=/a.js>a</script>", None),
        (b"<script type=module>a</script>", None),
        (b"<script TYPE=x>a</script>", None),
        (b'<script data-x="//t.example/">a</script>', (30, 31, 40)),
        (b'<script href="//t.example/">a</script>', None),
        (b'<script href="/a">a</script>', (18, 19, 28)),
        (b"<scripts>a</script>", None),
        (b"<p>", None),
        (b"", None),
    ],
)
def test_inline_script_finds_the_whole_element_or_nothing(
    data: bytes, found: tuple[int, int, int] | None
) -> None:
    assert scanner._regex_inline(data, 0) == found
    assert inline_script(data, 0) == found


def test_inline_script_outside_the_data_is_none() -> None:
    data = b"<script>a</script>"
    for pos in (-1, len(data), sys.maxsize, -sys.maxsize - 1):
        assert inline_script(data, pos) is None


def test_inline_script_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        inline_script(bytearray(b"<script>"), 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exactly 2 arguments"):
        inline_script(b"<script>")  # type: ignore[call-arg]


@pytest.mark.parametrize("pos", [-5, -1, 0, 3, 7, 8, 100, sys.maxsize, -sys.maxsize - 1])
def test_a_position_outside_the_data_is_clamped_as_re_does(pos: int) -> None:
    data = b"<p>x</p>"
    clamped = min(max(pos, 0), len(data))
    assert _fast_ends(data, pos) == _regex_ends(data, clamped)


def test_a_position_beyond_the_end_returns_the_length() -> None:
    assert _fast_ends(b"ab<", 10) == [3, 3, 3, 3]


@pytest.mark.parametrize("data", ["<p>", bytearray(b"<p>"), memoryview(b"<p>"), None])
def test_data_other_than_bytes_is_a_type_error(data: object) -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        boring_end(data, 0, 0)  # type: ignore[arg-type]


def test_a_position_that_is_not_an_integer_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        boring_end(b"<p>", 1.5, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [-1, 4])
def test_an_unknown_kind_is_a_value_error(kind: int) -> None:
    with pytest.raises(ValueError, match="kind must be 0, 1, 2 or 3"):
        boring_end(b"<p>", 0, kind)


def test_three_arguments_are_required() -> None:
    with pytest.raises(TypeError, match="exactly 3 arguments"):
        boring_end(b"<p>", 0)  # type: ignore[call-arg]


def test_the_test_environment_uses_the_c_module() -> None:
    assert scanner.ACCELERATED
    assert scanner._boring_end is boring_end
    assert scanner._inline_script is inline_script


def _scanner_path(environ: dict[str, str]) -> str:
    code = (
        "from consentgate import scanner\n"
        "print(scanner.ACCELERATED, scanner._boring_end is scanner._regex_end)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_consentgate_pure_python_selects_the_regexes() -> None:
    environ = {**os.environ, "CONSENTGATE_PURE_PYTHON": "1"}
    assert _scanner_path(environ) == "False True"


def test_without_consentgate_pure_python_the_c_module_is_used() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "CONSENTGATE_PURE_PYTHON"}
    assert _scanner_path(environ) == "True False"


# --- the fast paths change no output ----------------------------------------------------------
#
# Reference: every tag handled one by one (only text, comments and doctypes skipped, no
# document prologue taken in one match). The skip of boring tags and whole elements and the
# prologue match must give the same bytes, however the stream is cut.

_GTM = b"https://www.googletagmanager.com/gtag/js?id=G-1"
_PROLOGUE_PARTS = [
    b'<html data="' + _GTM + b'">', b"<!doctype html>", b"\n", b"<!-- c -->",
    b'<html lang="en">', b"<HTML data=//t.example/>",
    b"<html background=/a.png>", b"<head>", b"<head profile=x>", b"<HEAD >", b" ",
    b"<meta charset=utf-8>", b'<meta charset="utf-8" />', b"<meta charset>",
    b'<meta name="viewport" content="x">', b"<meta http-equiv=content-type content=x>",
    b"<title>T</title>", b"</head>", b"<body>", b"<p>", b"</p>", b"</body>", b"</html>",
]  # fmt: skip
_ELEMENTS = [
    b"<title>a</body>b</title>", b"<style>p{}</style>", b"<textarea><p></textarea >",
    b'<script src="/a.js"></script>', b"<script src=a.js><!--</script>-->x</script>",
    b"<script>gtag('js')</script>", b'<script src="' + _GTM + b'"></script>',
    b'<script>var s="' + _GTM + b'"</script>', b"<script type=module src=/m.js></script>",
    b'<img src="' + _GTM + b'">', b'<a href="/x">x</a>', b"<svg><title>", b"</svg>",
    b"<noscript><img src=//t.example/p></noscript>", b"<title>", b"</title>", b"<script>",
    b"</script>", b"<!--", b"-->", b"<", b"x", b"<select>", b"</select>", b"<option>a",
]  # fmt: skip
_fast_documents = st.tuples(
    st.lists(st.sampled_from(_PROLOGUE_PARTS), max_size=8),
    st.lists(st.sampled_from(_ELEMENTS + _PROLOGUE_PARTS), max_size=12),
).map(lambda t: b"".join(t[0]) + b"".join(t[1]))


def _output(page: bytes, cuts: list[int]) -> bytes:
    from consentgate.failclosed import InertHosts

    injector = scanner.StreamInjector(
        b"<!--H-->", b"<!--B-->", inert_hosts=InertHosts({"googletagmanager.com": "analytics"})
    )
    out, last = [], 0
    for cut in sorted({c % (len(page) + 1) for c in cuts}):
        out.append(injector.feed(page[last:cut]))
        last = cut
    out.append(injector.feed(page[last:]))
    out.append(injector.finish())
    return b"".join(out)


@settings(max_examples=600)
@given(_fast_documents, st.lists(st.integers(0, 10_000), max_size=4))
def test_the_fast_paths_give_the_bytes_of_the_tag_by_tag_path(page: bytes, cuts: list[int]) -> None:
    fast = _output(page, cuts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            scanner, "_boring_end", lambda data, pos, kind: scanner._regex_end(data, pos, 0)
        )
        patch.setattr(scanner, "_inline_script", lambda data, pos: None)
        patch.setattr(scanner, "_PROLOGUE", scanner.re.compile(b"(?!)"))
        slow = _output(page, cuts)
    assert fast == slow
