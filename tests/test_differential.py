"""Differential test: what a spec-conformant parser (html5lib) would fetch from consentgate's
output never reaches a held-back tracker.

Hypothesis builds documents from the constructs the byte scanner must read exactly as the
browser does (comments closed by ``--!>``, ``<!-->``; markup inside attribute values, titles,
textareas, styles; script data with its escaped states; foreign content; what a select
ignores) with tracker URLs
in every form and spelling. Each document goes through the injector whole and cut into
chunks; html5lib then parses the output, once with scripting on (``<noscript>`` is text) and
once with scripting off, and every URL its DOM would fetch is resolved with the WHATWG URL
parser (ada-url) and looked up in the catalogue.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import ada_url
import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate.catalogue import Catalogue
from consentgate.failclosed import InertHosts
from consentgate.scanner import StreamInjector

pytestmark = pytest.mark.usefixtures("scan_path")  # the C skip and the regexes

CATALOGUE = Catalogue.builtin()
HTML_NS = "{http://www.w3.org/1999/xhtml}"
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
BASE = "https://site.example/page"
JS_TYPES = {"", "text/javascript", "module", "application/javascript"}
URL_ATTRS = {"src", "poster", "background", "data"}

TRACKER_URLS = [
    "https://www.googletagmanager.com/gtag/js?id=G-1",
    "//www.googletagmanager.com/gtm.js?id=GTM-1",
    "https://www.google-analytics.com/collect?v=1",
    "https://connect.facebook.net/en_US/fbevents.js",
    "https://www.facebook.com/tr?id=1&amp;ev=PageView&amp;noscript=1",
    "https://www.clarity.ms/tag/abc",
    "https://static.hotjar.com/c/hotjar-1.js?sv=6",
    "https://www.youtube.com/embed/xyz",
    "https://player.vimeo.com/video/1",
    "https://www.google.com/maps/embed?pb=1",
    "https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js",
    "HTTPS://WWW.GOOGLETAGMANAGER.COM/gtag/js",
    "https://www.goo\u00adgletagmanager.com/gtag/js",
    "https://www.google\u200b-analytics.com/g/collect",
    "https:\\\\www.googletagmanager.com\\gtag/js",
    "https://www.googletagmanager.com./gtag/js",
    "ht\ttps://www.google\n-analytics.com/collect",
    "https://%77ww.googletagmanager.com/gtm.js",
    "https&colon;//www.googletagmanager.com/gtm.js",
    "&#x68;ttps://snap.licdn.com/li.lms-analytics/insight.min.js",
    " \x01https://bat.bing.com/bat.js",
    "https://user:pw@analytics.tiktok.com:443/i18n/pixel/events.js",
]
LOCAL_URLS = ["/static/app.js", "img/a.png", "https://cdn.example/x.js", "data:,x", ""]


def quoted(value: str) -> st.SearchStrategy[str]:
    options = [f'"{value}"', f"'{value}'"]
    if value and not any(c in value for c in " \t\n\f\r>\"'`=<"):
        options.append(value)
    return st.sampled_from(options)


@st.composite
def url_forms(draw: st.DrawFn) -> str:
    """One element that would fetch a URL, tracker or not."""
    url = draw(st.sampled_from(TRACKER_URLS + LOCAL_URLS))
    q = draw(quoted(url))
    plain = url.replace("&amp;", "&").replace("\\", "\\\\").replace("'", "")
    form = draw(
        st.sampled_from(
            [
                f"<script src={q}></script>",
                f"<script async src={q} type=text/javascript></script>",
                f"<script>var s=document.createElement('script');s.src='{plain}';</script>",
                f"<img src={q} alt=x>",
                f"<img srcset={q}>",
                f"<link rel=preload as=script href={q}>",
                f"<link rel=dns-prefetch href={q}>",
                f"<iframe src={q} width=560 height=315></iframe>",
                f"<svg><script href={q}></script></svg>",
                f"<svg><image xlink:href={q}/></svg>",
                f"<noscript><img src={q}></noscript>",
                f"<a href=/x ping={q}>x</a>",
                f"<video poster={q}></video>",
                f"<object data={q}></object>",
                f"<iframe srcdoc='<script src={url}></script>'></iframe>",
            ]
        )
    )
    return form


TRICKY = [
    "<!-- a --!>",
    "<!-->",
    "<!--->",
    "<!--",
    "-->",
    "--!>",
    '<div title="<!--">',
    "<div title='<script>'>",
    '<p data-x="</title>">',
    "<title>",
    "</title>",
    "<textarea>",
    "</textarea>",
    "<style>",
    "</style>",
    "<xmp>",
    "</xmp>",
    "<noembed>",
    "</noembed>",
    "<noframes>",
    "</noframes>",
    "<noscript>",
    "</noscript>",
    "<script>",
    "</script>",
    "<script><!--",
    "<script><!--<script>",
    "</script >",
    "<svg>",
    "</svg>",
    "<math><mi>",
    "</math>",
    "<svg><foreignObject>",
    "<svg><desc>",
    "<svg><style>",
    "<![CDATA[",
    "]]>",
    "<div>",
    "</div>",
    "<p>",
    "<br>",
    "<img src=/a.png>",
    "text",
    "<",
    ">",
    '"',
    "'",
    "=",
    "<!doctype html>",
    "<head>",
    "<body>",
    "</body>",
    "<select>",
    "</select>",
    "<option>",
    "<input>",
    "<keygen>",
    "<template>",
    "</template>",
    "<plaintext>",
    "<select><style>",
    "<select><title>",
    "<select><xmp><!--",
    "<select><noscript>",
    "<select><svg>",
    "<table><tr><td><select>",
    "</td>",
    "<svg><foreignObject><select>",
]


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.one_of(st.sampled_from(TRICKY), url_forms()), min_size=1, max_size=14))
    return "".join(parts).encode("utf-8")


GRANTS = [
    frozenset({"necessary"}),
    frozenset({"necessary", "analytics"}),
    frozenset({"necessary", "functional"}),
]
GATES = {g: InertHosts.from_catalogue(CATALOGUE, g) for g in GRANTS}


def held_back(url: str, granted: frozenset[str]) -> bool:
    try:
        parsed = ada_url.URL(url, base=BASE)
    except ValueError:
        return False
    host = parsed.hostname.rstrip(".")
    tracker = CATALOGUE.lookup_url(host, parsed.pathname)
    return tracker is not None and tracker.category not in granted


def names_tracker(text: str, granted: frozenset[str]) -> bool:
    for m in re.finditer(r"(?<![a-z0-9-])[a-z0-9-]+(?:\.[a-z0-9-]+)+", text.lower()):
        if held_back("https://" + m.group(0) + text.lower()[m.end() :][:40], granted):
            return True
    return False


def elements(node: ET.Element) -> Iterator[ET.Element]:
    """Every element the browser would act on (template contents are inert)."""
    for child in node:
        if not isinstance(child.tag, str) or child.tag == HTML_NS + "template":
            continue  # comments, and template contents (inert)
        yield child
        yield from elements(child)


def fetches(markup: str, granted: frozenset[str], *, scripting: bool) -> list[str]:
    """What the parsed document would fetch from (or run against) held-back trackers."""
    root = html5lib.HTMLParser(namespaceHTMLElements=True).parse(markup, scripting=scripting)
    found = []
    for el in elements(root):
        attrs = {k: v for k, v in el.attrib.items() if not k.startswith("data-consentgate")}
        tag = el.tag
        urls: list[str] = []
        if tag.startswith(HTML_NS):
            name = tag[len(HTML_NS) :]
            urls += [v for k, v in attrs.items() if k in URL_ATTRS]
            if name in ("link", "base"):
                urls += [attrs.get("href", "")]
            if name in ("a", "area"):
                urls += attrs.get("ping", "").split()
            for key in ("srcset", "imagesrcset"):
                urls += [w for w in re.split(r"[\s,]+", attrs.get(key, "")) if w]
            if name == "iframe" and "srcdoc" in attrs and "src" not in attrs:
                found += fetches(attrs["srcdoc"], granted, scripting=scripting)
            if name == "script" and not scripting:
                continue  # scripting off: scripts are neither fetched nor run
            if name == "script" and attrs.get("type", "").strip().lower() in JS_TYPES:
                text = "".join(el.itertext())
                if "src" not in attrs and names_tracker(text, granted):
                    found.append("inline script: " + text[:80])
        elif tag.startswith(SVG_NS) and tag[len(SVG_NS) :] != "a":
            urls += [attrs.get("href", ""), attrs.get(XLINK_HREF, "")]
        found += [u for u in urls if u and held_back(u, granted)]
    return found


def run(page: bytes, cuts: list[int], gate: InertHosts) -> bytes:
    injector = StreamInjector(b"<!--H-->", b"<!--B-->", inert_hosts=gate)
    bounds = [0, *sorted(cuts), len(page)]
    return b"".join(injector.feed(page[a:b]) for a, b in itertools.pairwise(bounds)) + (
        injector.finish()
    )


@settings(max_examples=2500, deadline=None)
@given(page=documents(), grant=st.sampled_from(GRANTS), data=st.data())
def test_nothing_the_parsed_output_fetches_reaches_a_held_back_tracker(
    page: bytes, grant: frozenset[str], data: st.DataObject
) -> None:
    gate = GATES[grant]
    whole = run(page, [], gate)
    cuts = data.draw(st.lists(st.integers(0, len(page)), max_size=6))
    assert run(page, cuts, gate) == whole
    markup = whole.decode("utf-8", "replace")
    assert fetches(markup, grant, scripting=True) == []
    assert fetches(markup, grant, scripting=False) == []


def test_the_oracle_sees_what_the_input_would_fetch() -> None:
    # The check itself is not vacuous: the raw constructs are caught by the oracle.
    grant = GRANTS[0]
    for form in (
        '<!-- a --!><script src="https://www.googletagmanager.com/gtag/js"></script>',
        '<div title="<!--"><img src="https://www.google-analytics.com/collect">',
        "<title><script>x</title><link rel=preconnect href=//www.googletagmanager.com>",
        '<svg><script href="https://www.googletagmanager.com/gtag/js"></script></svg>',
        '<script src="https://www.goo\u00adgletagmanager.com/gtag/js"></script>',
        "<script>j.src='https://www.googletagmanager.com/gtm.js?id='+i</script>",
        '<select><style><script src="https://www.googletagmanager.com/gtag/js"></script></style>',
        "<select><xmp></select><script src=//www.googletagmanager.com/gtm.js></script></xmp>",
    ):
        assert fetches(form, grant, scripting=True), form
        out = run(form.encode(), [], GATES[grant]).decode()
        assert fetches(out, grant, scripting=True) == [], out
    noscript = '<noscript><img src="https://www.facebook.com/tr?id=1"></noscript>'
    assert fetches(noscript, grant, scripting=False)
    assert fetches(run(noscript.encode(), [], GATES[grant]).decode(), grant, scripting=False) == []


def test_every_cut_of_a_tricky_document_gives_the_same_output() -> None:
    page = (
        b'<!doctype html><head><meta charset=utf-8></head><body><!-- a --!><div title="<!--">'
        b"<style><!--</style><script><!--<script></script>-->"
        b'</script><svg><desc><style>x</style></desc><script href="//www.clarity.ms/t"></script>'
        b'</svg><iframe src="https://www.youtube.com/embed/a"></iframe></body>'
    )
    gate = GATES[GRANTS[0]]
    whole = run(page, [], gate)
    for cut in range(len(page) + 1):
        assert run(page, [cut], gate) == whole, cut


GTAG = '"https://www.googletagmanager.com/gtag/js?id=G-1"'
#: Foreign content closed (or not) by an end tag: the scanner must read the rest as the
#: parser does, an HTML ``<script>`` (held and judged) where ``</div>`` has closed the ``<svg>``.
FOREIGN_END_TAGS = [
    f'<div title="<!--"><svg></div><script><script src={GTAG}></script>',
    f"<div><math></div><script><script src={GTAG}></script>",
    f"<span><svg><g><path></span><script><script src={GTAG}></script>",
    f"<span><math><mrow><mi></span><script><script src={GTAG}></script>",
    f"<p><svg><g></p><script><script src={GTAG}></script>",
    f"<svg><foreignObject><div><svg><g></div><script><script src={GTAG}></script>",
    f"<svg><foreignObject><p><svg></p><script><script src={GTAG}></script>",
    f"<math><mi><p><math><mrow></p><script><script src={GTAG}></script>",
    f"<svg><g></br><script><script src={GTAG}></script>",
    # An end tag that matches no open element: the <svg> stays open, <style> is foreign.
    f"<svg></div><style><img src={GTAG}></style>",
    f"<svg><g></nothing><style><img src={GTAG}></style>",
    f"<svg></div><style><!--</style><script src={GTAG}></script>-->",
    # Within an HTML integration point end tags are read by the HTML rules.
    f"<svg><desc><b></desc><style><!--</style><script src={GTAG}></script>-->",
    f"<svg><foreignObject><div></foreignObject><style><!--</style><script src={GTAG}></script>",
    f"<svg><foreignObject><p><p></p></foreignObject><style><img src={GTAG}></style>",
    f"<math><annotation-xml encoding=text/html><![CDATA[><img src={GTAG}>]]>",
    # A table part or table end whose table may be outside the foreign content.
    f"<table><svg><foreignObject><td><style><!--</style><script src={GTAG}></script>-->",
    f"<table><svg><foreignObject></table><style><!--</style><script src={GTAG}></script>-->",
    f"<table><svg><foreignObject><table></table></foreignObject><style><!--</style>"
    f"<script src={GTAG}></script>-->",
    # A formatting element popped by another end tag is reopened by the parser.
    f"<svg><foreignObject><p><b></p>x</foreignObject><style><!--</style><script src={GTAG}>",
    f"<svg><foreignObject><div><b></div>x</foreignObject><style><!--</style><script src={GTAG}>",
    f"<svg><foreignObject><b><i></b>x</foreignObject><style><!--</style><script src={GTAG}>",
    f"<svg><foreignObject><b><div></b></foreignObject><style><!--</style><script src={GTAG}>",
    f"<svg><foreignObject><li><b><li>x</foreignObject><style><!--</style><script src={GTAG}>",
    # A stray end tag meets a MathML or SVG integration point, special to the parser but not
    # to html5lib (which goes on down): closed explicitly, both then read the same.
    f"<span><math><mi><b></span></b></mi><style><!--</style><script src={GTAG}></script>-->",
    f"<span><svg><desc><b></span></b></desc><style><!--</style><script src={GTAG}></script>",
    f"<span><math><annotation-xml encoding=text/html><b></span></b></annotation-xml><style>"
    f"<!--</style><script src={GTAG}></script>-->",
    # </body> and </form> leave the <svg> open in the parser; closed explicitly here.
    f"<svg></body><style><img src={GTAG}></style>",
    f"<form><svg></form><style><img src={GTAG}></style>",
]


def assert_read_as_the_parser_reads_it(form: str) -> None:
    """For every grant: nothing the oracle's DOM of the output fetches is held back, with
    scripting on and off, and every single cut of the input gives the same output."""
    page = form.encode()
    for grant in GRANTS:
        gate = GATES[grant]
        whole = run(page, [], gate)
        markup = whole.decode()
        assert fetches(markup, grant, scripting=True) == [], markup
        assert fetches(markup, grant, scripting=False) == [], markup
        for cut in range(len(page) + 1):
            assert run(page, [cut], gate) == whole, cut


@pytest.mark.parametrize("form", FOREIGN_END_TAGS)
def test_end_tags_in_foreign_content_are_read_as_the_parser_reads_them(form: str) -> None:
    assert_read_as_the_parser_reads_it(form)


GA = '"https://www.google-analytics.com/collect?v=1"'
YT = '"https://www.youtube.com/embed/xyz"'
#: The start tags that switch the tokenizer's state elsewhere but that "in select" ignores.
IGNORED_IN_SELECT = [
    "style", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext", "svg",
    "math",
]  # fmt: skip
#: A select open: the parser (html5lib, browsers before the customizable select) reads the
#: content of these tags as markup, a tracker script inside them or after them runs.
SELECT = [
    *(f"<select><{t}><script src={GTAG}></script></{t}></select>" for t in IGNORED_IN_SELECT),
    *(
        f"<select><option>a<{t}></select><script src={GTAG}></script></{t}>"
        for t in IGNORED_IN_SELECT
    ),
    *(
        f"<select><{t.upper()} class=x><!--</{t}><script src={GTAG}></script>--><img src={GA}>"
        f"<iframe src={YT}></iframe></select><script src={GTAG}></script>"
        for t in IGNORED_IN_SELECT
    ),
    # Closed: what follows is read as everywhere else.
    f"<select></select><style><script src={GTAG}></script></style>",
    f"<select></select><style><!--</style><script src={GTAG}></script>-->",
    f"<select><option><optgroup><xmp></select><script src={GTAG}></script>",
    f"<select></select></select><title><script src={GTAG}></script></title>",
    f"<select><title></title></select><title><script src={GTAG}></script></title>",
    # Closed by a textarea or input start tag (read again outside), or by another select.
    f"<select><textarea><style></textarea><script src={GTAG}></script>",
    f"<select><textarea></textarea><style><!--</style><script src={GTAG}></script>-->",
    f"<select><input><style><script src={GTAG}></script></style>",
    f"<select><input><style><!--</style><script src={GTAG}></script>-->",
    f"<select><keygen><style><script src={GTAG}></script></style>",
    f"<select><select><style><script src={GTAG}></script></style>",
    f"<select><select></select><xmp><script src={GTAG}></script></xmp>",
    # A template inside: its end tag, not </select>, is what comes next.
    f"<select><template><style></template><script src={GTAG}></script>",
    f"<select><template></select><style><script src={GTAG}></script></style>",
    f"<select><template></template></select><style><!--</style><script src={GTAG}></script>",
    f"<template><select></template><style><script src={GTAG}></script></style>",
    # In tables: table parts close it (not tracked: it stays open).
    f"<table><tr><td><select><style><script src={GTAG}></script></style>",
    f"<table><tr><td><select></td><style><img src={GA}></style>",
    f"<table><tr><td><select></td><select><style><script src={GTAG}></script></style>",
    f"<table><select><noembed></select><script src={GTAG}></script></noembed></table>",
    f"<table><caption><select><tr><iframe><script src={GTAG}></script></iframe>",
    # In foreign content: an SVG select is no select; at an integration point it is.
    f"<svg><select><style><!--</style><script href={GTAG}></script>--></select></svg>",
    f"<svg><foreignObject><select><style><script src={GTAG}></script></style></select>",
    f"<svg><foreignObject><div><select></div><style><script src={GTAG}></script></style>",
    f"<math><mi><select><style></select></mi></math><style><!--</style><script src={GTAG}>",
    f"<select><svg><style><!--</style><script src={GTAG}></script>-->",
    f"<select><math><mi><style></select><script src={GTAG}></script>",
    # Script and inline loaders inside a select are judged as anywhere.
    f"<select><script src={GTAG}></script></select>",
    "<select><script>var s=document.createElement('script');"
    "s.src='https://www.googletagmanager.com/gtm.js?id=GTM-1'</script>",
    f"<select><noscript><img src={GA}></noscript></select>",
    # Unclosed at the end, and in a whole document.
    f"<select><style><script src={GTAG}></script>",
    f"<select><plaintext><script src={GTAG}></script>",
    f"<!doctype html><body><select><style></body><script src={GTAG}></script></style>",
    f"<!doctype html><head><select><title></head><script src={GTAG}></script></title>",
]


@pytest.mark.parametrize("form", SELECT)
def test_what_a_select_ignores_is_read_as_the_parser_reads_it(form: str) -> None:
    assert_read_as_the_parser_reads_it(form)
