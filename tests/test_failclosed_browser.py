"""Fail-closed in real Chromium: a page carrying catalogued trackers in every common form.

Every request off 127.0.0.1 is recorded and aborted. Before a choice and after "Reject all"
the page makes no request to any catalogued host; "Accept all" and an embed's "Load" load
them in place, without a reload; an htmx-style fragment fetch gets no second banner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as StarletteRoute

from consentgate import ConsentMiddleware
from consentgate.catalogue import Catalogue
from consentgate.ledger import MemoryLedger

from .conftest import make_settings
from .live import RecordingVisitor, serve

GTM = (
    "<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),"
    "event:'gtm.js'});var f=d.getElementsByTagName(s)[0],j=d.createElement(s),"
    "dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src='https://www.googletagmanager.com/gtm.js"
    "?id='+i+dl;f.parentNode.insertBefore(j,f);})(window,document,'script','dataLayer',"
    "'GTM-TEST');</script>"
    '<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-TEST" height="0" '
    'width="0" style="display:none;visibility:hidden"></iframe></noscript>'
)
GTAG = (
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-PAGE1"></script>'
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','G-PAGE1');</script>"
)
META = (
    "<script>!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.queue.push("
    "arguments)};n.queue=[];t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)"
    "[0];s.parentNode.insertBefore(t,s)}(window,document,'script',"
    "'https://connect.facebook.net/en_US/fbevents.js');fbq('init','1');</script>"
    '<noscript><img height="1" width="1" style="display:none" alt="" '
    'src="https://www.facebook.com/tr?id=1&amp;ev=PageView&amp;noscript=1"></noscript>'
)
CLARITY = (
    '<script type="text/javascript">(function(c,l,a,r,i,t,y){c[a]=c[a]||function(){(c[a].q='
    'c[a].q||[]).push(arguments)};t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/'
    'tag/"+i;y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);})(window,document,'
    '"clarity","script","abcdef");</script>'
)
HOTJAR = (
    "<script>(function(h,o,t,j,a,r){h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};"
    "h._hjSettings={hjid:1,hjsv:6};a=o.getElementsByTagName('head')[0];r=o.createElement("
    "'script');r.async=1;r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;a.appendChild(r);})"
    "(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');</script>"
)
EMBEDS = (
    '<iframe width="560" height="315" src="https://www.youtube.com/embed/abc123" '
    'title="A video" allowfullscreen></iframe>'
    '<iframe src="https://player.vimeo.com/video/1" width="640" height="360" '
    'title="Another video"></iframe>'
    '<iframe src="https://www.google.com/maps/embed?pb=!1m18" width="400" height="300" '
    'title="A map"></iframe>'
)
HINTS = (
    '<link rel="preload" href="https://www.googletagmanager.com/gtm.js?id=GTM-PRE" as="script">'
    '<link rel="preconnect" href="https://www.google-analytics.com">'
    '<link rel="modulepreload" href="https://static.hotjar.com/c/module.js">'
)
PIXELS = (
    '<img alt="" width="1" height="1" src="https://www.google-analytics.com/collect?v=1&amp;t=pv">'
    '<svg width="1" height="1"><script href="https://snap.licdn.com/li.lms-analytics/insight.min.js">'
    "</script></svg>"
)
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trackers</title>'
    + HINTS
    + GTM
    + GTAG
    + "</head><body><h1>Everything a site pastes</h1>"
    + META
    + CLARITY
    + HOTJAR
    + EMBEDS
    + PIXELS
    + '<div id="slot"></div>'
    "<script>window.sameDocument = 1;"
    "function fetchFragment(){return fetch('/fragment',{headers:{Accept:'text/html',"
    "'HX-Request':'true'}}).then(r=>r.text()).then(t=>{document.getElementById('slot')"
    ".innerHTML=t;});}</script></body></html>"
)
FRAGMENT = (
    '<div class="card"><p>Loaded later</p>'
    '<img alt="" src="https://bat.bing.com/action/0?ti=1">' + GTM + "</div>"
)
#: A select ignores the start tags of style and xmp in older parsers (a script inside runs);
#: a parser with the customizable select reads them as everywhere. Renamed, both read alike.
SELECT_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Select</title></head>'
    '<body><form><select name="s"><option>a</option><style>'
    '<script src="https://www.googletagmanager.com/gtag/js?id=G-SELECT"></script></style><xmp>'
    '<script src="https://connect.facebook.net/en_US/fbevents.js"></script></xmp></select>'
    "</form></body></html>"
)
CATALOGUE = Catalogue.builtin()


async def page_view(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def fragment(request: Request) -> HTMLResponse:
    return HTMLResponse(FRAGMENT)


async def select_view(request: Request) -> HTMLResponse:
    return HTMLResponse(SELECT_PAGE)


def build_app() -> ConsentMiddleware:
    app = Starlette(
        routes=[
            StarletteRoute("/", page_view),
            StarletteRoute("/fragment", fragment),
            StarletteRoute("/select", select_view),
        ]
    )
    return ConsentMiddleware(
        app,
        settings=make_settings(trusted_proxies=["127.0.0.1"], country_header="x-test-country"),
        ledger=MemoryLedger(),
    )


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(build_app()) as url:
        yield url


class Visitor(RecordingVisitor):
    def __init__(self, browser: Browser, country: str, **options: Any) -> None:
        super().__init__(browser, extra_http_headers={"x-test-country": country}, **options)

    def catalogued(self) -> list[str]:
        """Requests the page attempted to any catalogued host."""
        found = []
        for url in self.requests:
            parts = urlsplit(url)
            if CATALOGUE.lookup_url(parts.hostname or "", parts.path or "/") is not None:
                found.append(url)
        return found

    def settle(self) -> None:
        # Not "networkidle": an aborted embed may keep retrying.
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(500)


@pytest.fixture
def visitor(browser: Browser) -> Iterator[Callable[..., Visitor]]:
    made: list[Visitor] = []

    def make(country: str = "DE", **options: Any) -> Visitor:
        made.append(Visitor(browser, country, **options))
        return made[-1]

    yield make
    for v in made:
        v.close()


def test_no_catalogued_request_before_a_choice_nor_after_reject_all(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.settle()
    assert v.page.locator("#consentgate-banner").is_visible()
    assert v.catalogued() == []
    assert v.page.locator("[data-consentgate-embed]").count() == 3
    v.page.click("#consentgate-reject")
    v.settle()
    assert v.catalogued() == []
    v.page.reload()
    v.settle()
    assert v.catalogued() == []
    assert v.page.locator("[data-consentgate-embed]").count() == 3


def test_no_catalogued_request_from_what_a_select_ignores_before_a_choice(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/select")
    v.settle()
    assert v.page.locator("#consentgate-banner").is_visible()
    assert v.catalogued() == []
    assert v.page.locator("select option").count() == 1
    assert v.page.locator("consentgate-inert-style, consentgate-inert-xmp").count() == 2
    assert v.page.locator("script[data-consentgate-src]").count() == 2


def test_accept_all_loads_every_form_in_place(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.settle()
    assert v.catalogued() == []
    v.page.click("#consentgate-accept")
    v.page.wait_for_function("!document.querySelector('[data-consentgate-embed]')")
    v.settle()
    assert v.page.evaluate("window.sameDocument") == 1  # no reload
    loaded = " ".join(v.catalogued())
    for needle in (
        "googletagmanager.com/gtm.js?id=GTM-TEST",
        "googletagmanager.com/gtag/js?id=G-PAGE1",
        "googletagmanager.com/gtm.js?id=GTM-PRE",
        "connect.facebook.net/en_US/fbevents.js",
        "www.clarity.ms/tag/abcdef",
        "static.hotjar.com/c/hotjar-1.js",
        "www.youtube-nocookie.com/embed/abc123",
        "player.vimeo.com/video/1",
        "www.google.com/maps/embed",
        "www.google-analytics.com/collect",
    ):
        assert needle in loaded, needle
    assert "www.youtube.com/" not in loaded  # the privacy-enhanced host instead


def test_load_on_one_embed_loads_only_that_one(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reject")
    v.settle()
    placeholder = v.page.locator('[data-consentgate-embed][aria-label="YouTube"]')
    box = placeholder.bounding_box()
    assert box is not None
    assert (round(box["width"]), round(box["height"])) == (560, 315)
    assert placeholder.get_by_role("button", name="Load").is_visible()
    placeholder.get_by_role("button", name="Load").click()
    v.page.wait_for_selector('iframe[src*="youtube-nocookie.com/embed/abc123"]')
    v.settle()
    loaded = v.catalogued()
    assert loaded
    assert all("youtube-nocookie.com" in url for url in loaded), loaded
    assert v.page.locator("[data-consentgate-embed]").count() == 2


def test_always_allow_grants_the_embed_category_and_loads_its_embeds(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reject")
    v.settle()
    v.page.locator('[aria-label="Vimeo"]').get_by_role("button", name="Always allow").click()
    v.page.wait_for_function("!document.querySelector('[data-consentgate-embed]')")
    v.settle()
    loaded = " ".join(v.catalogued())
    assert "player.vimeo.com" in loaded
    assert "googletagmanager.com" not in loaded  # analytics stays refused
    v.page.reload()
    v.settle()
    assert v.page.locator("[data-consentgate-embed]").count() == 0


def test_fragment_fetch_gets_no_second_banner_and_stays_inert(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reject")
    v.settle()
    v.page.evaluate("fetchFragment()")
    v.page.wait_for_selector("#slot .card")
    v.settle()
    assert v.page.locator("#consentgate-banner").count() == 1
    assert v.page.locator("#slot script[src], #slot [data-consentgate-open]").count() == 0
    assert v.catalogued() == []


def test_axe_finds_no_violation_on_the_placeholders(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    for scheme in ("light", "dark"):
        v = visitor(color_scheme=scheme)
        v.page.goto(base_url + "/")
        v.page.click("#consentgate-reject")
        v.settle()
        results = Axe().run(v.page, context="[data-consentgate-embed]")
        bad = [(item["id"], item["impact"]) for item in results.response["violations"]]
        assert bad == [], bad
