"""The whole page in real Chromium: gating, banner choices, no-JS, keyboard, axe, screenshots.

A Starlette app wrapped by ConsentMiddleware runs under uvicorn on 127.0.0.1; the visitor's
country comes from a header that the middleware trusts from loopback. Every request that is
not to 127.0.0.1 is recorded and aborted, so nothing leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as StarletteRoute

from consentgate import ConsentMiddleware
from consentgate.ledger import MemoryLedger

from .conftest import make_settings
from .live import RecordingVisitor, serve

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test article</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;margin:0 auto;max-width:40rem;padding:1rem;color:#222}}</style>
</head><body><header><h1>Healthy habits</h1></header>
<main><p>Ads mode: <strong id="ads">{ads}</strong></p>
<p>Drinking water through the day helps concentration. Short walks after meals are good too.</p>
<button type="button" id="own">A button of the page</button>
<script type="text/plain" data-consentgate-category="analytics">window.ownAnalytics = 1;</script>
</main></body></html>"""


async def page_view(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE.format(ads=request.state.consent.ads.value))


def build_app() -> ConsentMiddleware:
    app = Starlette(routes=[StarletteRoute("/", page_view)])
    return ConsentMiddleware(
        app,
        settings=make_settings(
            trusted_proxies=["127.0.0.1"],
            country_header="x-test-country",
            analytics={"provider": "ga4", "measurement_id": "G-TEST12345"},
            ads={"provider": "adsense", "client": "ca-pub-1234567890123456"},
        ),
        ledger=MemoryLedger(),
    )


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(build_app()) as url:
        yield url


class Visitor(RecordingVisitor):
    """A visitor from one country (a header the middleware trusts from loopback)."""

    def __init__(self, browser: Browser, country: str, **options: Any) -> None:
        headers = {"x-test-country": country, **options.pop("extra_http_headers", {})}
        super().__init__(browser, extra_http_headers=headers, **options)

    def consent_updates(self) -> list[dict[str, str]]:
        raw = self.page.evaluate(
            "JSON.stringify((window.dataLayer||[]).map(a => Array.prototype.slice.call(a)))"
        )
        return [e[2] for e in json.loads(raw) if e[:2] == ["consent", "update"]]


@pytest.fixture
def visitor(browser: Browser) -> Iterator[Callable[..., Visitor]]:
    made: list[Visitor] = []

    def make(country: str, **options: Any) -> Visitor:
        made.append(Visitor(browser, country, **options))
        return made[-1]

    yield make
    for v in made:
        v.close()


def banner_open(page: Page) -> bool:
    return bool(page.locator("#consentgate-banner").is_visible())


def test_regulated_visitor_loads_no_tracker_before_choice(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("DE")
    v.page.goto(base_url + "/")
    v.page.wait_for_load_state("networkidle")
    assert banner_open(v.page)
    assert v.trackers() == []
    assert v.tracker_cookies() == []
    assert v.page.text_content("#ads") == "none"
    assert v.page.evaluate("window.ownAnalytics") is None
    inert = v.page.locator('script[type="text/plain"][data-consentgate-category]').count()
    assert inert >= 3  # GA4 loader, GA4 config, AdSense loader (+ the page's own)


def test_accept_activates_tags_in_place_without_reload(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("DE")
    v.page.goto(base_url + "/")
    v.page.evaluate("window.sameDocument = true")
    v.page.click("#consentgate-accept")
    v.page.wait_for_function("!document.querySelector('script[type=\"text/plain\"]')")
    v.page.wait_for_timeout(300)
    assert not banner_open(v.page)
    assert v.page.evaluate("window.sameDocument") is True  # no reload
    assert v.page.evaluate("window.ownAnalytics") == 1
    updates = v.consent_updates()
    assert updates
    assert updates[-1]["analytics_storage"] == "granted"
    assert updates[-1]["ad_personalization"] == "granted"
    raw = v.page.evaluate(
        "JSON.stringify((window.dataLayer||[]).map(a => Array.prototype.slice.call(a)))"
    )
    config = [e for e in json.loads(raw) if e[:1] == ["config"]]
    assert config[-1][2]["allow_google_signals"] is True  # the grant made in place counts
    trackers = v.trackers()
    assert any("googletagmanager.com/gtag/js?id=G-TEST12345" in url for url in trackers)
    assert any("adsbygoogle.js" in url for url in trackers)
    v.page.reload()
    assert v.page.text_content("#ads") == "personalized"
    assert not banner_open(v.page)
    v.page.wait_for_function("window.ownAnalytics === 1")  # granted on a later page too


def test_reject_loads_only_non_personalized_ads(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("DE")
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reject")
    v.page.wait_for_timeout(300)
    assert not banner_open(v.page)
    assert v.consent_updates()[-1]["ad_storage"] == "denied"
    # In place, the page serves what a reload will: non-personalized ads only.
    v.page.wait_for_function("window.adsbygoogle && window.adsbygoogle.requestNonPersonalizedAds")
    in_place = v.trackers()
    assert in_place
    assert all("googlesyndication.com" in url for url in in_place)
    v.requests.clear()
    v.page.reload()
    v.page.wait_for_load_state("networkidle")
    assert v.page.text_content("#ads") == "non_personalized"
    assert (
        v.page.evaluate("window.adsbygoogle && window.adsbygoogle.requestNonPersonalizedAds") == 1
    )
    trackers = v.trackers()
    assert trackers
    assert all("googlesyndication.com" in url for url in trackers)
    assert v.page.evaluate("window.ownAnalytics") is None


def test_form_round_trip_works_without_javascript(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("DE", java_script_enabled=False)
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reject")
    v.page.wait_for_load_state()
    assert v.page.url == base_url + "/"
    assert v.page.locator("#consentgate-banner").get_attribute("hidden") is not None
    assert v.page.text_content("#ads") == "non_personalized"
    assert any(c["name"] == "consentgate" for c in v.context.cookies())
    v.page.click("#consentgate-reopen")
    v.page.wait_for_load_state()
    assert "/_consent/settings" in v.page.url
    v.page.check('input[name="categories"][value="analytics"]')
    v.page.click('button[value="save"]')
    v.page.wait_for_load_state()
    v.page.goto(base_url + "/_consent")
    state = json.loads(v.page.text_content("body") or "{}")
    assert set(state["consent"]["granted"]) == {"necessary", "analytics"}


def test_keyboard_user_reaches_and_presses_every_button(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("DE")
    v.page.goto(base_url + "/")
    v.page.wait_for_timeout(200)
    seen = []
    for _ in range(6):
        seen.append(v.page.evaluate("document.activeElement.id"))
        v.page.keyboard.press("Tab")
    for ident in ("consentgate-accept", "consentgate-reject", "consentgate-customize"):
        assert ident in seen
    assert "own" not in seen  # focus stays in the modal
    v.page.keyboard.press("Escape")
    assert v.page.evaluate("document.activeElement.id") == "consentgate-reject"
    assert banner_open(v.page)  # Escape records nothing
    v.page.focus("#consentgate-customize")
    v.page.keyboard.press("Enter")
    v.page.wait_for_timeout(200)
    assert v.page.locator("#consentgate-second").is_visible()
    v.page.focus('input[name="categories"][value="functional"]')
    v.page.keyboard.press("Space")
    v.page.focus("#consentgate-save")
    v.page.keyboard.press("Enter")
    v.page.wait_for_timeout(400)
    assert not banner_open(v.page)
    state = v.page.evaluate("fetch('/_consent').then(r => r.json())")
    assert set(state["consent"]["granted"]) == {"necessary", "functional"}


def test_axe_finds_no_violation(base_url: str, visitor: Callable[..., Visitor]) -> None:
    from axe_playwright_python.sync_playwright import Axe

    for scheme in ("light", "dark"):
        v = visitor("DE", color_scheme=scheme)
        v.page.goto(base_url + "/")
        v.page.wait_for_timeout(200)
        results = Axe().run(v.page)
        bad = [(item["id"], item["impact"]) for item in results.response["violations"]]
        assert bad == [], bad
        v.page.click("#consentgate-customize")
        results = Axe().run(v.page)
        bad = [i["id"] for i in results.response["violations"]]
        assert bad == [], bad


@pytest.mark.parametrize(
    ("name", "width", "height", "scheme"),
    [
        ("desktop-light", 1280, 800, "light"),
        ("desktop-dark", 1280, 800, "dark"),
        ("mobile-light", 360, 740, "light"),
        ("mobile-dark", 360, 740, "dark"),
    ],
)
def test_banner_screenshots(
    base_url: str,
    visitor: Callable[..., Visitor],
    name: str,
    width: int,
    height: int,
    scheme: str,
) -> None:
    v = visitor("FR", viewport={"width": width, "height": height}, color_scheme=scheme)
    v.page.goto(base_url + "/")
    v.page.wait_for_timeout(300)
    box = v.page.locator("#consentgate-banner").bounding_box()
    assert box is not None
    assert box["width"] <= width  # nothing overflows a 360 px screen
    for button in ("#consentgate-accept", "#consentgate-reject", "#consentgate-customize"):
        assert v.page.locator(button).is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"banner-{name}.png"
    v.page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000


def test_unregulated_visitor_gets_tags_and_no_banner(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("US")
    v.page.goto(base_url + "/")
    v.page.wait_for_load_state("networkidle")
    assert not banner_open(v.page)
    assert v.page.text_content("#ads") == "personalized"
    v.page.wait_for_function("window.ownAnalytics === 1")  # the site's own gated script runs
    trackers = v.trackers()
    assert any("googletagmanager" in url for url in trackers)
    assert any("adsbygoogle.js" in url for url in trackers)
    assert v.page.locator("#consentgate-reopen").is_visible()


def test_unregulated_visitor_with_gpc_gets_non_personalized_ads(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("US", extra_http_headers={"sec-gpc": "1"})
    v.page.goto(base_url + "/")
    v.page.wait_for_load_state("networkidle")
    assert v.page.text_content("#ads") == "non_personalized"
    assert (
        v.page.evaluate("window.adsbygoogle && window.adsbygoogle.requestNonPersonalizedAds") == 1
    )


def test_page_with_its_own_open_element_hides_the_default_link_and_reopens(
    browser: Browser,
) -> None:
    page_html = (
        '<!doctype html><html lang="en"><head><title>x</title></head><body><main>'
        '<a href="/_consent/settings" id="mine" data-consentgate-open>Cookie choices</a>'
        "</main></body></html>"
    )

    async def own(request: Request) -> HTMLResponse:
        return HTMLResponse(page_html)

    app = ConsentMiddleware(
        Starlette(routes=[StarletteRoute("/", own)]),
        settings=make_settings(trusted_proxies=["127.0.0.1"], country_header="x-test-country"),
        ledger=MemoryLedger(),
    )
    with serve(app) as url:
        v = Visitor(browser, "US")
        try:
            v.page.goto(url + "/")
            v.page.wait_for_timeout(200)
            assert not v.page.locator("#consentgate-reopen").is_visible()
            assert not banner_open(v.page)
            v.page.click("#mine")
            v.page.wait_for_timeout(200)
            assert banner_open(v.page)
            assert v.page.url == url + "/"
        finally:
            v.close()


def test_decided_page_fetches_the_dialog_only_when_the_settings_open(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("DE")
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-accept")
    v.page.wait_for_function("!document.querySelector('script[type=\"text/plain\"]')")
    dialogs: list[str] = []
    v.page.on("request", lambda r: dialogs.append(r.url) if "/_consent/dialog" in r.url else None)
    v.page.reload()
    v.page.wait_for_timeout(200)
    assert v.page.locator("#consentgate-banner form").count() == 0  # only the empty element
    assert dialogs == []
    v.page.click("#consentgate-reopen")
    v.page.wait_for_selector("#consentgate-banner form", state="visible")
    assert len(dialogs) == 1
    assert v.page.url == base_url + "/"
    assert v.page.is_checked('input[name="categories"][value="analytics"]')  # what is granted
    assert v.page.evaluate("document.activeElement.closest('#consentgate-banner') !== null")
    # Withdrawing from the fetched dialog works as from the first one: the page reloads
    # without the grants.
    v.page.uncheck('input[name="categories"][value="analytics"]')
    v.page.uncheck('input[name="categories"][value="advertising"]')
    with v.page.expect_navigation():
        v.page.click('button[value="save"]')
    assert v.page.text_content("#ads") == "non_personalized"
    assert v.page.evaluate("window.ownAnalytics") is None


def test_settings_page_is_the_fallback_when_the_dialog_cannot_be_fetched(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("US")
    v.page.route("**/_consent/dialog*", lambda route: route.abort())
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reopen")
    v.page.wait_for_url("**/_consent/settings*")
    assert v.page.locator('button[value="save"]').is_visible()
