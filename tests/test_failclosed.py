"""Fail-closed through the middleware: pages, fragments and non-page HTML answers."""

from __future__ import annotations

import pytest

from consentgate.catalogue import Catalogue, Tracker
from consentgate.failclosed import EmbedTexts, InertHosts, url_host_path

from .conftest import DE_IP, US_IP, client, gate, html_app

pytestmark = pytest.mark.usefixtures("scan_path")  # the C skip and the regexes

GTM = b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-1"></script>'
VIDEO = b'<iframe src="https://www.youtube.com/embed/v1" width="640" height="360"></iframe>'
DOC = b"<!doctype html><html><head></head><body>" + GTM + VIDEO + b"</body></html>"
FRAGMENT = b'<div class="row">' + GTM + VIDEO + b"</div>"


async def test_a_whole_document_gets_the_banner_and_held_back_trackers() -> None:
    app, _ = gate(html_app(DOC))
    async with client(app) as c:
        r = await c.get("/", headers={"accept": "text/html"})
    assert 'id="consentgate-banner"' in r.text
    assert 'data-consentgate-src="https://www.googletagmanager.com/gtm.js' in r.text
    assert "data-consentgate-embed" in r.text
    assert r.headers["content-length"] == str(len(r.content))


async def test_a_fragment_asked_for_as_html_gets_no_snippets_but_is_rewritten() -> None:
    app, _ = gate(html_app(FRAGMENT))
    async with client(app) as c:
        r = await c.get("/", headers={"accept": "text/html", "hx-request": "true"})
    assert "consentgate-banner" not in r.text
    assert "gtag('consent'" not in r.text
    assert 'data-consentgate-src="https://www.googletagmanager.com/gtm.js' in r.text
    assert "data-consentgate-embed" in r.text


async def test_html_answering_a_non_page_request_is_rewritten() -> None:
    app, _ = gate(html_app(FRAGMENT))
    async with client(app) as c:
        r = await c.get("/", headers={"accept": "*/*", "sec-fetch-dest": "empty"})
    assert "consentgate-banner" not in r.text
    assert ' src="https://www.googletagmanager.com' not in r.text
    assert "data-consentgate-embed" in r.text
    assert "cookie" in r.headers["vary"].lower()
    assert "private" in r.headers["cache-control"]
    assert r.headers["content-length"] == str(len(r.content))


async def test_a_visitor_who_granted_everything_gets_non_page_html_untouched() -> None:
    app, _ = gate(html_app(FRAGMENT))
    async with client(app, ip=US_IP) as c:
        r = await c.get("/", headers={"accept": "*/*", "sec-fetch-dest": "empty"})
    assert r.content == FRAGMENT


async def test_placeholders_speak_the_visitors_language() -> None:
    app, _ = gate(html_app(FRAGMENT))
    async with client(app, ip=DE_IP) as c:
        r = await c.get("/", headers={"accept": "text/html", "accept-language": "de"})
    assert "Immer erlauben" in r.text
    assert 'href="/_consent/settings"' in r.text


async def test_youtube_nocookie_can_be_turned_off() -> None:
    for nocookie, host in ((True, "www.youtube-nocookie.com"), (False, "www.youtube.com")):
        app, _ = gate(html_app(FRAGMENT), youtube_nocookie=nocookie)
        async with client(app) as c:
            r = await c.get("/", headers={"accept": "text/html"})
        assert f'src="https://{host}/embed/v1"' in r.text


async def test_declared_services_decide_the_category_of_their_hosts() -> None:
    service = {"name": "Our GTM", "category": "advertising", "hosts": ["googletagmanager.com"]}
    app, _ = gate(html_app(DOC), services=[service])
    async with client(app) as c:
        r = await c.get("/", headers={"accept": "text/html"})
    assert 'data-consentgate-category="advertising" data-consentgate-src' in r.text


def test_urls_are_read_as_the_browser_reads_them() -> None:
    assert url_host_path(b"https://www.goo\xc2\xadgletagmanager.com/g") == (
        "www.googletagmanager.com",
        "/g",
    )
    assert url_host_path(b"//WWW.Google-Analytics.COM./c") == ("www.google-analytics.com", "/c")
    assert url_host_path(b"https:\\\\www.clarity.ms\\tag") == ("www.clarity.ms", "/tag")
    assert url_host_path(b"h&#x74;tps://%77ww.facebook.com/tr") == ("www.facebook.com", "/tr")
    assert url_host_path(b"ht\ttps://bat.bing\n.com/x") == ("bat.bing.com", "/x")
    assert url_host_path(b"/static/a.js") is None
    assert url_host_path(b"a.js?x=https://www.googletagmanager.com") is None


def test_placeholder_is_escaped_and_sized_like_the_iframe() -> None:
    gate_ = InertHosts(
        trackers=[("video.example", Tracker('<b>"V"</b>', "functional", embed=True))],
        texts=EmbedTexts(load="<Load>", settings_url='/x"y'),
    )
    tag = b'<iframe src="https://video.example/e" width="50%" height="200">'
    out = gate_.start_tag(tag, b"iframe", foreign=False)
    assert b'aria-label="&lt;b&gt;&quot;V&quot;&lt;/b&gt;"' in out.tag
    assert b"&lt;Load&gt;" in out.tag
    assert b'href="/x&quot;y"' in out.tag
    assert b"width:50%;height:200px" in out.tag
    assert out.close == b"</template></div>"


def test_inline_script_naming_two_categories_waits_for_both() -> None:
    gate_ = InertHosts.from_catalogue(Catalogue.builtin(), {"necessary"})
    text = b"load('https://www.googletagmanager.com/gtm.js');load('//connect.facebook.net/x.js')"
    assert gate_.categories_in_text(text) == b"advertising analytics"


def test_a_pickled_copy_keeps_services_embeds_and_texts() -> None:
    import pickle

    gate_ = InertHosts.from_catalogue(
        Catalogue.builtin(), {"necessary"}, texts=EmbedTexts(load="Laden"), nocookie=False
    )
    clone = pickle.loads(pickle.dumps(gate_))
    tag = b'<iframe src="https://www.youtube.com/embed/a">'
    assert clone.start_tag(tag, b"iframe", foreign=False) == gate_.start_tag(
        tag, b"iframe", foreign=False
    )
    assert b"Laden" in clone.start_tag(tag, b"iframe", foreign=False).tag


SELECT_PAGE = (
    b"<!doctype html><html><head></head><body><form><select name=s><option>a"
    b"<style>" + GTM + b"</style><noscript>" + VIDEO + b"</noscript></select>"
    b"<style>p{}</style></form></body></html>"
)


async def test_a_tracker_inside_what_a_select_ignores_is_held_back() -> None:
    app, _ = gate(html_app(SELECT_PAGE))
    async with client(app) as c:
        r = await c.get("/", headers={"accept": "text/html"})
    assert ' src="https://www.googletagmanager.com' not in r.text
    assert 'data-consentgate-src="https://www.googletagmanager.com/gtm.js' in r.text
    assert 'data-consentgate-src="https://www.youtube.com/embed/v1"' in r.text
    assert "<consentgate-inert-style>" in r.text
    assert "<consentgate-inert-noscript>" in r.text
    assert "</select><style>p{}</style>" in r.text
    assert r.headers["content-length"] == str(len(r.content))


async def test_a_visitor_who_granted_everything_gets_a_select_untouched() -> None:
    app, _ = gate(html_app(SELECT_PAGE))
    async with client(app, ip=US_IP) as c:
        r = await c.get("/", headers={"accept": "text/html"})
    assert "consentgate-inert" not in r.text
    assert '<style><script src="https://www.googletagmanager.com/gtm.js' in r.text


# --- memory bounds of the judging memos -------------------------------------------------------


def test_only_short_url_values_are_remembered() -> None:
    from consentgate import failclosed

    failclosed._url_host_path_cached.cache_clear()
    long_url = b"https://www.googletagmanager.com/gtm.js?id=" + b"a" * 300
    assert url_host_path(long_url) == ("www.googletagmanager.com", "/gtm.js")
    assert failclosed._url_host_path_cached.cache_info().currsize == 0
    assert url_host_path(b"https://www.googletagmanager.com/gtm.js") is not None
    assert failclosed._url_host_path_cached.cache_info().currsize == 1


def test_the_memo_of_judged_tags_stays_within_its_bound() -> None:
    from consentgate import failclosed

    gate = InertHosts({"googletagmanager.com": "analytics"})
    for i in range(1000):
        tag = b'<img alt="%d" src="https://cdn.example/%s.png">' % (i, b"x" * 400)
        gate.start_tag(tag, b"img", foreign=False)
    memo = gate._memo
    assert 0 < len(memo) <= failclosed._MEMO_SIZE
    assert all(len(tag) <= failclosed._MEMO_TAG for tag, _ in memo)
    big = b'<img alt="big" src="https://cdn.example/%s.png">' % (b"x" * 600)
    gate.start_tag(big, b"img", foreign=False)
    assert (big, False) not in memo
    worst = sum(len(k) + len(v.tag) for (k, _), v in memo.items())
    assert worst <= failclosed.MEMO_BYTES
