"""Streaming HTML injection, tracker neutralisation, CSP and charset helpers."""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import pickle
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate.injection import (
    InertHosts,
    InjectionMemo,
    StreamInjector,
    ascii_compatible,
    charset_of,
    csp_nonce,
    csp_with_script_hashes,
    script_hash,
)

pytestmark = pytest.mark.usefixtures("scan_path")  # the C skip and the regexes

HEAD = b"<!--H-->"
BODY = b"<!--B-->"
HOSTS = {"googletagmanager.com": "analytics", "googlesyndication.com": "ads"}
PAGE = (
    b"<!doctype html><html><head><title>t</title></head>"
    b"<body><h1>Hello</h1><p>text</p></body></html>\n"
)
INERT = b'<script type="text/plain" data-consentgate-category="analytics"'


def inject(
    page: bytes,
    cuts: list[int] | None = None,
    *,
    hosts: dict[str, str] | None = None,
    max_tag: int = 8192,
    head: bytes = HEAD,
    body: bytes = BODY,
) -> bytes:
    """Feed ``page`` cut at ``cuts`` (whole when ``None``) and return the full output."""
    injector = StreamInjector(head, body, inert_hosts=hosts, max_tag=max_tag)
    bounds = [0, *sorted(cuts or []), len(page)]
    out = [injector.feed(page[a:b]) for a, b in itertools.pairwise(bounds)]
    return b"".join(out) + injector.finish()


def neutralise(tag: bytes) -> bytes:
    """The output for a lone script start tag with the tracker hosts configured."""
    return inject(tag, hosts=HOSTS, head=b"", body=b"")


# --- head snippet ------------------------------------------------------------------------


def test_head_snippet_follows_head_tag_with_attributes_and_upper_case() -> None:
    page = b'<html><HEAD lang="en">x</HEAD><body></body>'
    assert inject(page) == b'<html><HEAD lang="en">' + HEAD + b"x</HEAD><body>" + BODY + b"</body>"


def test_head_tag_with_quoted_gt_in_attribute_ends_at_real_gt() -> None:
    page = b"<head\n data-x='>' data-y=\"a>b\">t</head><body></body>"
    assert inject(page).startswith(b"<head\n data-x='>' data-y=\"a>b\">" + HEAD + b"t</head>")


def test_self_closing_head_tag_is_head() -> None:
    assert inject(b"<head/><body></body>").startswith(b"<head/>" + HEAD + b"<body>")


@pytest.mark.parametrize("tag", [b"<header>", b"<headx>", b"<head-x>"])
def test_header_and_lookalike_tags_are_not_head(tag: bytes) -> None:
    page = b"<html>" + tag + b"x<body>y</body>"
    assert inject(page) == b"<html>" + HEAD + tag + b"x<body>y" + BODY + b"</body>"


def test_without_head_tag_head_snippet_goes_before_the_first_other_tag() -> None:
    page = b"<html><body>x</body></html>"
    assert inject(page) == b"<html>" + HEAD + b"<body>x" + BODY + b"</body></html>"


def test_head_tag_after_body_tag_does_not_count() -> None:
    page = b"<body><head>x</body>"
    assert inject(page) == HEAD + b"<body><head>x" + BODY + b"</body>"


def test_head_snippet_follows_a_meta_charset_after_head() -> None:
    for meta in (b"<meta charset=utf-8>", b'<META http-equiv="Content-Type" content="x">'):
        page = b"<!doctype html><head>\n " + meta + b"<title>t</title></head>"
        assert inject(page).startswith(b"<!doctype html><head>\n " + meta + HEAD + b"<title>")
        for cut in range(len(page)):
            assert inject(page, [cut]) == inject(page)
    page = b"<!doctype html><head><meta name=x><title>"
    assert inject(page).startswith(b"<!doctype html><head>" + HEAD + b"<meta name=x>")


def test_without_head_a_meta_charset_first_still_comes_first() -> None:
    page = b"<!doctype html><meta charset=utf-8><script src=/a.js></script>"
    assert inject(page).startswith(b"<!doctype html><meta charset=utf-8>" + HEAD + b"<script")


@pytest.mark.parametrize(
    "page",
    [
        b"<p>fragment</p></body>",
        b"text <head></head><body></body>",
        b"<div hx-swap-oob=true><head></div>",
        b"<!-- c -->\n<tr><td>x</td></tr>",
        b"",
    ],
)
def test_fragments_get_no_snippets(page: bytes) -> None:
    assert inject(page) == page
    assert inject(page, list(range(len(page)))) == page


@pytest.mark.parametrize(
    "start", [b"<!DOCTYPE html>", b"\xef\xbb\xbf<html>", b" <!-- c --> <HEAD>", b"\n<body>"]
)
def test_documents_are_told_by_what_comes_first(start: bytes) -> None:
    out = inject(start + b"<p>x</p></body>")
    assert out.count(HEAD) == out.count(BODY) == 1


def test_rewrite_only_mode_inserts_nothing_but_holds_trackers_back() -> None:
    page = PAGE.replace(b"<title>", b'<script src="//googletagmanager.com/a"></script><title>')
    out = StreamInjector(HEAD, BODY, inert_hosts=HOSTS, rewrite_only=True).feed_last(page)
    assert HEAD not in out
    assert BODY not in out
    assert INERT in out


def test_only_first_head_tag_gets_head_snippet() -> None:
    page = b"<head>a<head>b</head><body></body>"
    assert inject(page) == b"<head>" + HEAD + b"a<head>b</head><body>" + BODY + b"</body>"


def test_head_tag_inside_comment_is_ignored() -> None:
    page = b"<!-- <head> --><head>x</head>"
    assert inject(page) == b"<!-- <head> --><head>" + HEAD + b"x</head>" + BODY


# --- body snippet ------------------------------------------------------------------------


@pytest.mark.parametrize("end", [b"</body>", b"</BODY>", b"</body >", b"</Body\n>"])
def test_body_snippet_goes_before_body_end_tag_in_any_case(end: bytes) -> None:
    out = inject(b"<body>x" + end + b"</html>")
    assert out == HEAD + b"<body>x" + BODY + end + b"</html>"


def test_bodyx_end_tag_is_not_body_end() -> None:
    assert inject(b"<head>x</bodyx>") == b"<head>" + HEAD + b"x</bodyx>" + BODY


def test_without_body_end_tag_snippets_are_appended_by_finish() -> None:
    injector = StreamInjector(HEAD, BODY)
    assert injector.feed(b"<html>no body end") == b"<html>no body end"
    assert injector.finish() == HEAD + BODY


def test_last_body_end_tag_wins() -> None:
    page = b"<head></head><body>a</body>b</body>c"
    assert inject(page) == b"<head>" + HEAD + b"</head><body>a</body>b" + BODY + b"</body>c"


def test_body_end_tag_is_held_back_until_finish() -> None:
    injector = StreamInjector(HEAD, BODY)
    assert injector.feed(b"<head>x</body></html>") == b"<head>" + HEAD + b"x"
    assert injector.finish() == BODY + b"</body></html>"


def test_tail_longer_than_max_tag_commits_before_held_body_end_tag() -> None:
    # A second "</body" more than max_tag bytes after the first is ordinary text.
    page = b"<head>a</body>" + b"x" * 100 + b"</body>z"
    expected = b"<head>" + HEAD + b"a" + BODY + b"</body>" + b"x" * 100 + b"</body>z"
    assert inject(page, max_tag=64) == expected
    assert inject(page, [30, 60, 90, 120], max_tag=64) == expected


def test_held_tail_is_released_once_longer_than_max_tag() -> None:
    injector = StreamInjector(HEAD, BODY, max_tag=64)
    assert injector.feed(b"<head>a</body>") == b"<head>" + HEAD + b"a"
    assert injector.feed(b"y" * 100) == BODY + b"</body>" + b"y" * 100
    assert injector.feed(b"</body>") == b"</body>"
    assert injector.finish() == b""


def test_body_end_tag_inside_script_text_is_ignored() -> None:
    page = b"<head>x</body><script>var s = '</body>';</script>"
    assert (
        inject(page)
        == b"<head>" + HEAD + b"x" + BODY + b"</body><script>var s = '</body>';</script>"
    )


def test_body_end_tag_inside_comment_is_ignored() -> None:
    page = b"<head>x</body><!-- </body> -->"
    assert inject(page) == b"<head>" + HEAD + b"x" + BODY + b"</body><!-- </body> -->"


def test_short_comment_forms_close_immediately() -> None:
    page = b"<!--><head>a<!--->b</body>"
    assert inject(page) == b"<!--><head>" + HEAD + b"a<!--->b" + BODY + b"</body>"


def test_snippets_are_inserted_verbatim_and_never_scanned() -> None:
    head = b'<script src="https://www.googletagmanager.com/gtm.js"></script></body><head>'
    page = b"<head></head><body></body>"
    out = inject(page, hosts=HOSTS, head=head, body=b"<script>x</script>")
    assert out == b"<head>" + head + b"</head><body><script>x</script></body>"


# --- chunking ----------------------------------------------------------------------------


def test_every_two_chunk_split_of_a_small_page_gives_the_same_output() -> None:
    page = (
        b"<!doctype html><html><HEAD lang=\"x\"><script src='//www.googletagmanager.com/a'>"
        b"</script><!-- c --></head><body><p>x</p></BODY >\n</html>\n"
    )
    whole = inject(page, hosts=HOSTS)
    assert INERT in whole
    assert whole.count(HEAD) == whole.count(BODY) == 1
    for cut in range(len(page) + 1):
        assert inject(page, [cut], hosts=HOSTS) == whole, cut


def test_one_byte_chunks_give_the_same_output_as_whole() -> None:
    page = PAGE.replace(
        b"<title>", b'<SCRIPT SRC="https://googletagmanager.com/g"></SCRIPT><title>'
    )
    assert inject(page, list(range(len(page))), hosts=HOSTS) == inject(page, hosts=HOSTS)


def test_plain_text_is_returned_by_the_same_feed() -> None:
    injector = StreamInjector(HEAD, BODY)
    assert injector.feed(b"<head><p class=a>text</p> a < b") == (
        b"<head>" + HEAD + b"<p class=a>text</p> a < b"
    )


def test_possible_tag_start_is_held_only_until_the_next_feed() -> None:
    injector = StreamInjector(HEAD, BODY)
    assert injector.feed(b"<html><he") == b"<html>"
    assert injector.feed(b"ad>x</bo") == b"<head>" + HEAD + b"x"
    assert injector.feed(b"dy>") == b""
    assert injector.feed(b"<p") == b""  # Part of the held tail after "</body>".
    assert injector.finish() == BODY + b"</body>&lt;p"  # cut by the end: inert


FRAGMENTS = [
    b"<head>",
    b'<head lang="en">',
    b"<head\n data-x='>'>",
    b"<header>",
    b"</head>",
    b"<body>",
    b'<body class="a b">',
    b"</body>",
    b"</body >",
    b"</html>\n",
    b"<p>text</p>",
    b"text with < and > and = and ' and \"",
    b"<!-- comment </body> <head> -->",
    b"<!-->",
    b"-->",
    b"<!--",
    b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-1" async></script>',
    b"<script src='//pagead2.googlesyndication.com/pagead/js/a.js' type=module></script>",
    b'<script src=https://googletagmanager.com/x data-a="\'">',
    b'<script src="https://evilgoogletagmanager.com/x"></script>',
    b'<script type="text/plain" src="//googletagmanager.com/y"></script>',
    b"<script>document.write('<script src=//googletagmanager.com/z><\\/script></body>')</script>",
    b'<script data-x=">" src="/local/googletagmanager.com.js">',
    b"<script data-x='>' src=//googletagmanager.com/q data-y=\"'\">",
    b"</script>",
    b"<script",
    b"<",
    b'"',
    b"'",
    b"=",
]


@st.composite
def pages(draw: st.DrawFn) -> bytes:
    """A page built from HTML-ish fragments and noise, in random letter case."""
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(FRAGMENTS),
                st.binary(max_size=12),
                st.text(alphabet="<>/=\"' -!abdehopstyr", max_size=12).map(str.encode),
            ),
            max_size=30,
        )
    )
    cases = draw(st.lists(st.booleans(), min_size=len(parts), max_size=len(parts)))
    return b"".join(p.upper() if up else p for p, up in zip(parts, cases, strict=True))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), page=pages(), max_tag=st.sampled_from([4096, 8192]))
def test_output_does_not_depend_on_chunking(data: st.DataObject, page: bytes, max_tag: int) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(page)), max_size=12))
    whole = inject(page, hosts=HOSTS, max_tag=max_tag)
    assert inject(page, cuts, hosts=HOSTS, max_tag=max_tag) == whole


@settings(max_examples=200, deadline=None)
@given(page=pages(), max_tag=st.sampled_from([4096, 8192]))
def test_one_byte_chunks_match_whole_for_random_pages(page: bytes, max_tag: int) -> None:
    cuts = list(range(1, len(page)))
    whole = inject(page, hosts=HOSTS, max_tag=max_tag)
    assert inject(page, cuts, hosts=HOSTS, max_tag=max_tag) == whole


@settings(max_examples=200, deadline=None)
@given(page=pages())
def test_without_inert_hosts_output_is_input_plus_each_snippet_once(page: bytes) -> None:
    head, body = b"\x00H\x00", b"\x00B\x00"
    page = b"<!doctype html>" + page.replace(b"\x00", b"")
    out = inject(page, head=head, body=body)
    assert out.count(head) == 1
    assert out.count(body) == 1
    rest = out.replace(head, b"").replace(body, b"")
    # Only a construct cut by the end of the stream changes: its "<" is sent as "&lt;".
    assert rest == page or (rest.count(b"&lt;") == 1 and rest.replace(b"&lt;", b"<") == page)


def test_ten_megabyte_body_in_64k_chunks_flows_with_bounded_output() -> None:
    unit = b'<div class="row"><p>Lorem ipsum <b>dolor</b> sit amet &amp; more</p></div>\n' * 12
    unit += b'<script src="https://www.googletagmanager.com/gtm.js"></script><!-- c -->\n'
    start = b"<!doctype html><html><head><title>t</title></head><body>\n"
    end = b"</body></html>\n"
    page = start + unit * ((10 * 1024 * 1024) // len(unit)) + end
    max_tag = 8192
    for hosts in (None, HOSTS):
        injector = StreamInjector(HEAD, BODY, inert_hosts=hosts, max_tag=max_tag)
        digest, total = hashlib.sha256(), 0
        for i in range(0, len(page), 65536):
            chunk = page[i : i + 65536]
            out = injector.feed(chunk)
            # Every script tag gains the same fixed number of bytes when rewritten.
            growth = out.count(b"data-consentgate-category") * (len(INERT) - len(b"<script") + 17)
            assert len(out) <= len(chunk) + len(HEAD) + len(BODY) + max_tag + growth
            digest.update(out)
            total += len(out)
        out = injector.finish()
        assert len(out) <= len(HEAD) + len(BODY) + max_tag
        digest.update(out)
        total += len(out)
        expected = page.replace(b"<head>", b"<head>" + HEAD).replace(b"</body>", BODY + b"</body>")
        if hosts:
            expected = expected.replace(
                b'<script src="https://www.googletagmanager.com/gtm.js">',
                INERT + b' data-consentgate-src="https://www.googletagmanager.com/gtm.js">',
            )
        assert total == len(expected)
        assert digest.digest() == hashlib.sha256(expected).digest()


def test_feed_after_finish_raises_and_finish_is_idempotent() -> None:
    injector = StreamInjector(HEAD, BODY)
    assert injector.feed(b"<html>") == b"<html>"
    assert injector.finish() == HEAD + BODY
    assert injector.finish() == b""
    with pytest.raises(RuntimeError):
        injector.feed(b"x")


# --- tracker neutralisation --------------------------------------------------------------


def test_double_quoted_tracker_src_is_made_inert() -> None:
    tag = b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1">'
    expected = (
        INERT + b' async data-consentgate-src="https://www.googletagmanager.com/gtag/js?id=G-1">'
    )
    assert neutralise(tag) == expected


def test_single_quoted_tracker_src_is_made_inert() -> None:
    tag = b"<script src='https://googletagmanager.com/gtm.js'>"
    assert (
        neutralise(tag) == INERT + b" data-consentgate-src='https://googletagmanager.com/gtm.js'>"
    )


def test_unquoted_tracker_src_is_made_inert() -> None:
    tag = b"<script src=https://googletagmanager.com/gtm.js>"
    assert neutralise(tag) == INERT + b" data-consentgate-src=https://googletagmanager.com/gtm.js>"


def test_protocol_relative_subdomain_src_gets_its_hosts_category() -> None:
    tag = b'<script src="//pagead2.googlesyndication.com/pagead/js/adsbygoogle.js">'
    assert neutralise(tag) == (
        b'<script type="text/plain" data-consentgate-category="ads"'
        b' data-consentgate-src="//pagead2.googlesyndication.com/pagead/js/adsbygoogle.js">'
    )


@pytest.mark.parametrize(
    "src",
    [
        b"HTTPS://WWW.GoogleTagManager.COM/gtm.js",
        b"http://googletagmanager.com:8080/gtm.js",
        b"https://user@googletagmanager.com./gtm.js",
        b"https:\\\\googletagmanager.com\\gtm.js",
        b"  //googletagmanager.com/gtm.js  ",
        b"https://googletagmanager&#46;com/gtm.js",
        b"wss://googletagmanager.com",
    ],
)
def test_tracker_host_is_recognised_in_any_url_form(src: bytes) -> None:
    assert neutralise(b'<script src="' + src + b'">').startswith(INERT)


@pytest.mark.parametrize(
    "src",
    [
        b"https://evilgoogletagmanager.com/gtm.js",
        b"https://googletagmanager.com.evil.example/gtm.js",
        b"/static/googletagmanager.com/gtm.js",
        b"https://cdn.example/js?u=https://googletagmanager.com/gtm.js",
        b"https://cdn.example/#//googletagmanager.com",
        b"googletagmanager.js",
    ],
)
def test_lookalike_host_path_and_query_are_not_matched(src: bytes) -> None:
    tag = b'<script src="' + src + b'">'
    assert neutralise(tag) == tag


def test_existing_type_attribute_is_kept_as_data_type() -> None:
    tag = b'<script type="module" src="https://googletagmanager.com/m.js" defer>'
    expected = (
        INERT + b' data-consentgate-type="module"'
        b' data-consentgate-src="https://googletagmanager.com/m.js" defer>'
    )
    assert neutralise(tag) == expected


@pytest.mark.parametrize("type_", [b'"text/plain"', b"'TEXT/PLAIN'", b"text/plain"])
def test_script_already_text_plain_is_untouched(type_: bytes) -> None:
    tag = b"<script type=" + type_ + b' src="https://googletagmanager.com/gtm.js">'
    assert neutralise(tag) == tag


def test_upper_case_tag_and_attribute_names_are_rewritten() -> None:
    tag = b'<SCRIPT SRC="https://googletagmanager.com/gtm.js" TYPE="text/javascript">'
    expected = (
        b'<SCRIPT type="text/plain" data-consentgate-category="analytics"'
        b' data-consentgate-src="https://googletagmanager.com/gtm.js"'
        b' data-consentgate-type="text/javascript">'
    )
    assert neutralise(tag) == expected


def test_gt_inside_quoted_attribute_stays_inside_the_rewritten_tag() -> None:
    tag = b"<script data-x='a>b' src=\"//googletagmanager.com/x\">"
    expected = INERT + b" data-x='a>b' data-consentgate-src=\"//googletagmanager.com/x\">"
    assert neutralise(tag) == expected


def test_every_duplicate_src_is_renamed() -> None:
    tag = b'<script src="//googletagmanager.com/a" src="//googletagmanager.com/b">'
    out = neutralise(tag)
    assert out.count(b"data-consentgate-src=") == 2
    assert b" src=" not in out


def test_script_text_naming_a_tracker_makes_the_whole_script_inert() -> None:
    text = b"document.write('<script src=\"https://googletagmanager.com/gtm.js\"><\\/script>');"
    out = neutralise(b"<script>" + text + b"</script>")
    assert out == INERT + b">" + text + b"</script>"


def test_script_tag_in_comment_is_not_rewritten() -> None:
    page = b'<!-- <script src="https://googletagmanager.com/gtm.js"></script> -->'
    assert neutralise(page) == page


def test_script_tag_after_inline_script_is_rewritten() -> None:
    page = b'<script>var a = "<script>";</script><script src="//googletagmanager.com/g">'
    out = neutralise(page)
    assert (
        out
        == b'<script>var a = "<script>";</script>'
        + INERT
        + b' data-consentgate-src="//googletagmanager.com/g">'
    )


def test_relative_and_inline_scripts_are_untouched() -> None:
    page = b'<script src="/app.js"></script><script>gtag("config")</script><script src=app.js>'
    assert neutralise(page) == page


def test_tag_cut_into_chunks_beyond_max_tag_is_made_inert() -> None:
    tag = b'<script src="https://googletagmanager.com/gtm.js" data-pad="' + b"p" * 100 + b'">'
    assert inject(tag, hosts=HOSTS, head=b"", body=b"", max_tag=64).startswith(INERT)
    assert inject(tag, [10, 70, 90], hosts=HOSTS, head=b"", body=b"", max_tag=64) == (
        b"&lt;" + tag[1:]
    )


def test_tag_cut_by_the_end_of_the_stream_is_made_inert() -> None:
    tag = b'<img src="https://googletagmanager.com/p.gif'
    assert inject(tag, hosts=HOSTS) == b"&lt;" + tag[1:]


def test_script_tag_split_across_chunks_is_rewritten() -> None:
    tag = b'<script src="https://www.googletagmanager.com/gtm.js">'
    assert inject(tag, [3, 20, 40], hosts=HOSTS, head=b"", body=b"").startswith(INERT)


def test_script_tag_split_inside_quoted_gt_is_rewritten_whole() -> None:
    tag = b"<script data-x='>' src=//googletagmanager.com/q>"
    expected = INERT + b" data-x='>' data-consentgate-src=//googletagmanager.com/q>"
    for cut in range(1, len(tag)):
        assert inject(tag, [cut], hosts=HOSTS, head=b"", body=b"") == expected, cut


def test_most_specific_inert_host_wins() -> None:
    hosts = {"google.com": "ads", "www.google.com": "analytics"}
    out = inject(b'<script src="//www.google.com/a.js">', hosts=hosts, head=b"", body=b"")
    assert out.startswith(INERT)


def test_category_is_escaped_in_the_added_attribute() -> None:
    out = inject(b"<script src=//t.example/a>", hosts={"t.example": 'a"b'}, head=b"", body=b"")
    assert b'data-consentgate-category="a&quot;b"' in out


GTM_SCRIPT = b'<script src="https://www.googletagmanager.com/gtm.js"></script>'
GTM_INERT = INERT + b' data-consentgate-src="https://www.googletagmanager.com/gtm.js"></script>'


@pytest.mark.parametrize(
    "name",
    [b"style", b"title", b"xmp", b"iframe", b"noembed", b"noframes", b"noscript", b"plaintext",
     b"svg", b"math"],
)  # fmt: skip
def test_in_a_select_the_tags_its_parser_ignores_are_renamed_and_their_content_scanned(
    name: bytes,
) -> None:
    page = b"<select><" + name + b" class=a>" + GTM_SCRIPT + b"</" + name + b"></select>"
    expected = (
        b"<select><consentgate-inert-" + name + b" class=a>" + GTM_INERT
        + b"</consentgate-inert-" + name + b"></select>"
    )  # fmt: skip
    for cut in range(len(page) + 1):
        assert inject(page, [cut], hosts=HOSTS, head=b"", body=b"") == expected, cut


def test_after_a_select_closes_the_tags_are_read_as_everywhere() -> None:
    for close in (b"</select>", b"<textarea></textarea>", b"<input>"):
        page = b"<select>" + close + b"<style>a{}</style><title>" + GTM_SCRIPT + b"</title>"
        assert inject(page, hosts=HOSTS, head=b"", body=b"") == page, close


def test_a_select_left_open_keeps_renaming_where_the_parser_may_still_have_it_open() -> None:
    for opening in (b"<select><template></select>", b"<select><keygen>", b"<select><select>"):
        page = opening + b"<style>" + GTM_SCRIPT + b"</style>"
        out = inject(page, hosts=HOSTS, head=b"", body=b"")
        assert out == opening + b"<consentgate-inert-style>" + GTM_INERT + (
            b"</consentgate-inert-style>"
        ), opening


def test_an_embed_in_a_select_is_renamed_not_made_a_placeholder() -> None:
    page = b'<select><iframe src="https://www.googletagmanager.com/ns.html"></iframe></select>'
    assert inject(page, hosts=HOSTS, head=b"", body=b"") == (
        b'<select><consentgate-inert-iframe data-consentgate-category="analytics" '
        b'data-consentgate-src="https://www.googletagmanager.com/ns.html">'
        b"</consentgate-inert-iframe></select>"
    )


def test_a_select_at_an_integration_point_closes_the_foreign_content_first() -> None:
    page = b"<svg><foreignObject><div><select><style>x</style></select>"
    assert inject(page, hosts=HOSTS, head=b"", body=b"") == (
        b"<svg><foreignObject><div></div></foreignobject></svg>"
        b"<select><consentgate-inert-style>x</consentgate-inert-style></select>"
    )
    svg_select = b"<svg><select><style>x</style></select></svg>"
    assert inject(svg_select, hosts=HOSTS, head=b"", body=b"") == svg_select


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            b"<!doctype html><body><select><option>a</body></html>",
            b"<!doctype html>" + HEAD + b"<body><select><option>a</select>" + BODY
            + b"</body></html>",
        ),
        (
            b"<!doctype html><body><select><option>a",
            b"<!doctype html>" + HEAD + b"<body><select><option>a</select>" + BODY,
        ),
        (
            b"<!doctype html><body><select></body><p></body>",
            b"<!doctype html>" + HEAD + b"<body><select></select></body><p>" + BODY + b"</body>",
        ),
        (
            b"<!doctype html><body><select></select></body>",
            b"<!doctype html>" + HEAD + b"<body><select></select>" + BODY + b"</body>",
        ),
        (
            b"<!doctype html><body><select><template></body>",
            b"<!doctype html>" + HEAD + b"<body><select><template>" + BODY + b"</body>",
        ),
    ],
)  # fmt: skip
def test_the_body_snippet_never_lands_in_a_select_left_open(page: bytes, expected: bytes) -> None:
    for cut in range(len(page) + 1):
        assert inject(page, [cut], hosts=HOSTS) == expected, cut


def test_the_body_snippet_after_an_unclosed_select_is_in_the_body_for_the_parser() -> None:
    import html5lib

    page = b"<!doctype html><html><head></head><body><select><option>a</body></html>"
    out = inject(page, hosts=HOSTS, body=b'<div id="snippet"><button>b</button></div>')
    tree = html5lib.parse(out, namespaceHTMLElements=False)
    assert tree.find(".//select//button") is None
    assert tree.find("./body/div[@id='snippet']/button") is not None


def test_without_trackers_to_hold_back_a_select_is_left_alone() -> None:
    page = b"<!doctype html><body><select><style>a{}</style></select></body>"
    assert inject(page, hosts={}) == (
        b"<!doctype html>" + HEAD + b"<body><select><style>a{}</style></select>" + BODY
        + b"</body>"
    )  # fmt: skip


# --- InertHosts and the whole-page path ---------------------------------------------------

#: Shared by the tests below, as the middleware shares one: its memo of judged tags is used.
SHARED_HOSTS = InertHosts(HOSTS)


def run(
    page: bytes,
    cuts: list[int] | None = None,
    *,
    hosts: Mapping[str, str] | None,
    max_tag: int = 8192,
) -> bytes:
    """Like :func:`inject`, for any kind of ``hosts``."""
    injector = StreamInjector(HEAD, BODY, inert_hosts=hosts, max_tag=max_tag)
    bounds = [0, *sorted(cuts or []), len(page)]
    out = [injector.feed(page[a:b]) for a, b in itertools.pairwise(bounds)]
    return b"".join(out) + injector.finish()


def test_inert_hosts_normalises_hosts_as_a_read_only_mapping() -> None:
    hosts = InertHosts({" WWW.GoogleTagManager.COM. ": "analytics", "": "x", " . ": "y"})
    assert dict(hosts) == {"www.googletagmanager.com": "analytics"}
    assert hosts == {"www.googletagmanager.com": "analytics"}
    assert len(hosts) == 1
    assert "www.googletagmanager.com" in hosts
    assert hosts["www.googletagmanager.com"] == "analytics"
    assert "InertHosts(" in repr(hosts)
    assert len(InertHosts()) == 0


def test_inert_hosts_is_an_immutable_snapshot() -> None:
    source = dict(HOSTS)
    hosts = InertHosts(source)
    source["t.example"] = "ads"
    assert "t.example" not in hosts
    with pytest.raises(AttributeError):
        hosts._escaped = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del hosts._memo
    with pytest.raises(TypeError):
        hosts["t.example"] = "ads"  # type: ignore[index]
    for clone in (copy.copy(hosts), copy.deepcopy(hosts), pickle.loads(pickle.dumps(hosts))):
        assert isinstance(clone, InertHosts)
        assert clone == hosts


def test_injector_takes_inert_hosts_as_it_takes_a_mapping() -> None:
    page = (
        b'<head><script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
        b'<script src="/app.js"></script></head><body><script src=//t.example/a></script></body>'
    )
    hosts = {**HOSTS, "t.example": 'a"b'}
    out = run(page, hosts=InertHosts(hosts))
    assert out == inject(page, hosts=hosts)
    assert out.count(b"data-consentgate-src=") == 2
    assert b'data-consentgate-category="a&quot;b"' in out


def test_empty_inert_hosts_are_no_hosts() -> None:
    injector = StreamInjector(HEAD, BODY, inert_hosts=InertHosts({"": "x"}))
    assert injector.feed(b"<head>x") == b"<head>" + HEAD + b"x"
    injector.feed(b"</body>" + b"x" * 9000)
    # Both snippets in and nothing to rewrite: chunks now pass through untouched.
    tag = b'<script src="https://www.googletagmanager.com/gtm.js">'
    assert injector.feed(tag) == tag


def test_shared_inert_hosts_give_the_same_output_every_time() -> None:
    hosts = InertHosts(HOSTS)
    page = b"".join(
        b'<script src="https://googletagmanager.com/gtm.js?v=%d"></script>'
        b'<script src="/static/app.js?v=%d" defer></script>' % (i, i)
        for i in range(700)  # More distinct tags than the memo keeps.
    )
    first = run(page, [len(page) // 3], hosts=hosts)
    assert first == inject(page, [len(page) // 3], hosts=HOSTS)
    assert first.count(b"data-consentgate-src=") == 700
    assert run(page, hosts=hosts) == first
    assert run(page, list(range(0, len(page), 97)), hosts=hosts) == first


def test_script_ends_only_at_a_script_end_tag_name() -> None:
    tracker = b"<script src=//googletagmanager.com/a>"
    inert = INERT + b" data-consentgate-src=//googletagmanager.com/a>"
    page = b"<script>a</scripts>" + tracker + b"</SCRIPT\t>" + tracker
    text = b"a</scripts>" + tracker
    assert neutralise(page) == INERT + b">" + text + b"</SCRIPT\t>" + inert


def test_src_only_in_a_value_or_a_quoted_gt_does_not_stop_the_next_rewrite() -> None:
    tracker = b"<script src=//googletagmanager.com/a>"
    inert = INERT + b" data-consentgate-src=//googletagmanager.com/a>"
    for tag in (b'<script data-note="src">', b'<script data-x=">">', b"<script data-x='>' x>"):
        page = tag + b"x</script>" + tracker
        assert neutralise(page) == tag + b"x</script>" + inert, tag


SCRIPT_TEXTS = [
    b"",
    b"var a = 1 < 2;",
    b"document.write('<script src=//googletagmanager.com/x><\\/script>')",
    b"x = '</scriptx>'; y = '</body>'; z = '<!--';",
    b"if (a</b) {}",
]


@st.composite
def realistic_pages(draw: st.DrawFn) -> bytes:
    """Whole pages as templates render them: a head with assets, a body with markup."""
    srcs = st.sampled_from(
        [
            b'"https://www.googletagmanager.com/gtag/js?id=G-X"',
            b"'//pagead2.googlesyndication.com/pagead/js/adsbygoogle.js'",
            b"https://googletagmanager&#46;com/gtm.js",
            b'"/static/site.js"',
            b'"https://cdn.example/lib.js"',
        ]
    )
    attrs = st.sampled_from([b"", b" async", b" defer", b' type="module"', b" data-x='>'"])
    script = st.builds(
        lambda src, attr, text, closing: b"<script" + attr + b" src=" + src + b">" + text + closing,
        srcs,
        attrs,
        st.sampled_from(SCRIPT_TEXTS),
        st.sampled_from([b"</script>", b"</SCRIPT >", b"</script\n>"]),
    )
    inline = st.builds(
        lambda attr, text: b"<script" + attr + b">" + text + b"</script>",
        attrs,
        st.sampled_from(SCRIPT_TEXTS),
    )
    markup = st.one_of(
        script,
        inline,
        st.sampled_from(
            [
                b'<meta charset="utf-8">\n',
                b'<link rel="stylesheet" href="/site.css">\n',
                b"<title>t &amp; t</title>",
                b"<!-- a </body> <head> <script src=//googletagmanager.com/c> comment -->",
                b"<!---->",
                b'<p class="x">Some <b>bold</b> text, a < b and c > d.</p>\n',
                b'<a href="/x?a=1&b=2">link</a>',
                b"<header><nav>n</nav></header>",
                b"</body>",
                b"<section><span>s</span></section>",
            ]
        ),
    )
    head = draw(st.lists(markup, max_size=6))
    body = draw(st.lists(markup, max_size=12))
    page = b"".join(
        [
            b'<!doctype html><html lang="en"><head data-x="<body>">',
            *head,
            b"</head>\n<body class='page'>",
            *body,
            b"</body></html>\n",
        ]
    )
    return page.upper() if draw(st.booleans()) else page


@settings(max_examples=200, deadline=None)
@given(data=st.data(), page=realistic_pages(), max_tag=st.sampled_from([4096, 8192]))
def test_whole_realistic_page_at_once_matches_any_chunking(
    data: st.DataObject, page: bytes, max_tag: int
) -> None:
    whole = run(page, hosts=SHARED_HOSTS, max_tag=max_tag)
    assert run(page, list(range(1, len(page))), hosts=SHARED_HOSTS, max_tag=max_tag) == whole
    cuts = data.draw(st.lists(st.integers(0, len(page)), max_size=8))
    assert run(page, cuts, hosts=SHARED_HOSTS, max_tag=max_tag) == whole
    assert inject(page, cuts, hosts=HOSTS, max_tag=max_tag) == whole


@settings(max_examples=200, deadline=None)
@given(data=st.data(), page=pages(), max_tag=st.sampled_from([4096, 8192]))
def test_inert_hosts_and_mapping_give_the_same_output(
    data: st.DataObject, page: bytes, max_tag: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(page)), max_size=12))
    expected = inject(page, cuts, hosts=HOSTS, max_tag=max_tag)
    assert run(page, cuts, hosts=SHARED_HOSTS, max_tag=max_tag) == expected
    assert run(page, hosts=SHARED_HOSTS, max_tag=max_tag) == expected


# --- CSP ---------------------------------------------------------------------------------


def test_csp_nonce_is_found_in_script_src() -> None:
    assert csp_nonce("default-src 'nonce-d'; script-src 'self' 'nonce-abc+/='") == "abc+/="


def test_csp_nonce_falls_back_to_default_src() -> None:
    assert csp_nonce("img-src *; DEFAULT-SRC 'self' 'NONCE-xyz'") == "xyz"


def test_csp_nonce_is_none_when_absent() -> None:
    assert csp_nonce("script-src 'self'; default-src 'nonce-d'") is None
    assert csp_nonce("img-src 'nonce-x'") is None
    assert csp_nonce("") is None


def test_csp_nonce_prefers_script_src_elem() -> None:
    assert csp_nonce("script-src 'nonce-a'; script-src-elem 'nonce-b'") == "b"


def test_csp_hashes_are_appended_to_script_src_without_nonce_or_unsafe_inline() -> None:
    csp = "default-src 'self'; Script-Src  'self' https://cdn.example  ; img-src *;"
    assert csp_with_script_hashes(csp, ["aGFzaA==", "b3RoZXI="]) == (
        "default-src 'self'; Script-Src  'self' https://cdn.example 'sha256-aGFzaA==' "
        "'sha256-b3RoZXI='  ; img-src *;"
    )


def test_csp_hashes_go_to_default_src_without_script_src() -> None:
    csp = "default-src 'self';img-src *"
    assert csp_with_script_hashes(csp, ["aA=="]) == "default-src 'self' 'sha256-aA==';img-src *"


def test_csp_with_nonce_is_unchanged() -> None:
    csp = "script-src 'self' 'nonce-abc'"
    assert csp_with_script_hashes(csp, ["aA=="]) == csp


def test_csp_with_unsafe_inline_is_unchanged() -> None:
    csp = "default-src 'self'; script-src 'self' 'unsafe-inline'"
    assert csp_with_script_hashes(csp, ["aA=="]) == csp


def test_csp_unsafe_inline_voided_by_strict_dynamic_gets_hashes() -> None:
    csp = "script-src 'unsafe-inline' 'strict-dynamic'"
    assert csp_with_script_hashes(csp, ["aA=="]) == csp + " 'sha256-aA=='"


def test_csp_without_script_or_default_src_is_unchanged() -> None:
    csp = "img-src *; frame-ancestors 'none'"
    assert csp_with_script_hashes(csp, ["aA=="]) == csp


def test_csp_hash_already_present_is_not_repeated() -> None:
    csp = "script-src 'self' 'sha256-aA=='"
    assert csp_with_script_hashes(csp, ["aA==", "aA=="]) == csp


def test_csp_only_the_first_of_duplicate_script_directives_counts() -> None:
    csp = "script-src 'self'; script-src 'unsafe-inline'"
    assert csp_with_script_hashes(csp, ["aA=="]) == (
        "script-src 'self' 'sha256-aA=='; script-src 'unsafe-inline'"
    )


def test_script_hash_is_base64_sha256_of_exact_bytes() -> None:
    body = b"window.x = 1;\n"
    assert script_hash(body) == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert script_hash(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


# --- charsets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html", "utf-8"),
        ("text/html; charset=ISO-8859-1", "iso-8859-1"),
        ('text/html;charset="Windows-1252"', "windows-1252"),
        ('text/html; foo="a;charset=x"; Charset = Shift_JIS ', "shift_jis"),
        ("text/html; charset=", "utf-8"),
    ],
)
def test_charset_of_reads_the_charset_parameter(content_type: str, charset: str) -> None:
    assert charset_of(content_type) == charset


@pytest.mark.parametrize(
    "charset", ["utf-8", "UTF8", "ascii", "latin-1", "iso-8859-15", "windows-1252", "koi8-r"]
)
def test_ascii_compatible_charsets(charset: str) -> None:
    assert ascii_compatible(charset)


@pytest.mark.parametrize(
    "charset", ["utf-16", "utf-16le", "utf-32", "utf-7", "iso-2022-jp", "no-such-charset", ""]
)
def test_ascii_incompatible_or_unknown_charsets(charset: str) -> None:
    assert not ascii_compatible(charset)


@given(st.binary(max_size=400), st.integers(min_value=0, max_value=400))
def test_feed_last_equals_feed_then_finish(tail: bytes, cut: int) -> None:
    page = b"<html><HEAD><script src='https://www.googletagmanager.com/x.js'></script>" + tail
    first, last = page[:cut], page[cut:]
    one = StreamInjector(b"<h>", b"<b>", inert_hosts={"googletagmanager.com": "analytics"})
    two = StreamInjector(b"<h>", b"<b>", inert_hosts={"googletagmanager.com": "analytics"})
    expected = one.feed(first) + one.feed(last) + one.finish()
    assert two.feed(first) + two.feed_last(last) == expected


# -- InjectionMemo -------------------------------------------------------------------------

TRACKED = PAGE.replace(
    b"</body>", b'<script src="https://www.googletagmanager.com/gtag/js"></script></body>'
)


def test_memo_gives_what_the_injector_gives_and_keeps_a_page_from_its_second_sighting() -> None:
    memo = InjectionMemo()
    hosts = InertHosts(HOSTS)
    expected = StreamInjector(HEAD, BODY, inert_hosts=hosts).feed_last(TRACKED)
    results = [memo.inject(bytes(bytearray(TRACKED)), HEAD, BODY, hosts) for _ in range(4)]
    assert results == [expected] * 4
    assert INERT in expected
    assert results[0] is not results[1]  # seen once: not kept
    assert results[2] is results[1]
    assert results[3] is results[1]


def test_memo_tells_apart_snippets_and_hosts() -> None:
    memo = InjectionMemo()
    inert = InertHosts(HOSTS)
    for _ in range(3):
        assert INERT in memo.inject(TRACKED, HEAD, BODY, inert)
        assert INERT not in memo.inject(TRACKED, HEAD, BODY, InertHosts({}))
        assert INERT not in memo.inject(TRACKED, HEAD, BODY, None)
        assert b"<!--other-->" in memo.inject(TRACKED, HEAD, b"<!--other-->", inert)
        assert memo.inject(TRACKED, HEAD, BODY, inert).count(BODY) == 1


def test_memo_stays_under_its_budget_and_skips_big_pages() -> None:
    pages = [PAGE.replace(b"Hello", b"Hello %d" % i) for i in range(20)]
    entry = len(pages[0]) + len(inject(pages[0]))
    memo = InjectionMemo(max_bytes=3 * entry + 10, max_page=len(PAGE) + 10)
    for page in pages:
        for _ in range(2):
            assert memo.inject(page, HEAD, BODY, None) == inject(page)
    assert len(memo._entries) == 3  # the newest three
    assert memo._size <= 3 * entry + 10
    kept = memo.inject(pages[-1], HEAD, BODY, None)
    assert memo.inject(pages[-1], HEAD, BODY, None) is kept
    big = PAGE.replace(b"text", b"x" * 100)
    for _ in range(3):
        assert memo.inject(big, HEAD, BODY, None) == inject(big)
    assert all(entry[0] != big for entry in memo._entries.values())
    memo.clear()
    assert not memo._entries
    assert memo._size == 0


def test_memo_never_mixes_up_pages_of_the_same_length_and_ending() -> None:
    # A per-request token of fixed length in the middle: same length, same last bytes.
    pages = [TRACKED.replace(b"Hello", b"Hel%02d" % i, 1) for i in range(6)]
    assert len({len(p) for p in pages}) == 1
    assert len(set(pages)) == 6
    memo = InjectionMemo()
    hosts = InertHosts(HOSTS)
    for _ in range(3):
        for page in [*pages, pages[0], pages[0]]:
            expected = StreamInjector(HEAD, BODY, inert_hosts=hosts).feed_last(page)
            assert memo.inject(bytes(bytearray(page)), HEAD, BODY, hosts) == expected
