"""Page markup that imitates consentgate's elements cannot steer the banner script (Chromium).

Sanitised user content keeps ids and data attributes: a comment or profile can carry an element
with id ``consentgate-banner`` and forged ``data-granted`` / ``data-dialog`` attributes, or an
``<img name="currentScript">`` that shadows ``document.currentScript``. The script must bind
only to what consentgate injected and take the grants from the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentgate import ConsentMiddleware
from consentgate.ledger import MemoryLedger

from .conftest import make_settings
from .live import RecordingVisitor, serve

FORGED = (
    '<div id="consentgate-banner" data-granted="analytics advertising functional"'
    ' data-endpoint="//evil.example/steal" data-dialog="/forged-dialog"'
    " data-consentgate-open></div>"
    '<img name="currentScript" src="data:,">'
    '<a id="consentgate-reopen" href="/forged-dialog" data-consentgate-open>Open</a>'
)
PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>Comments</title></head><body>"
    "<main><h1>Comments</h1><section id=comments>{forged}</section>"
    '<script type="text/plain" data-consentgate-category="analytics">window.gated = 1;</script>'
    "</main></body></html>"
)
FOREIGN = '<div id="consentgate-banner"><form></form><img src=x onerror="window.pwned=1"></div>'


async def article(request: object) -> HTMLResponse:
    return HTMLResponse(PAGE.format(forged=FORGED))


async def forged_dialog(request: object) -> HTMLResponse:
    return HTMLResponse(FOREIGN)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/", article), Route("/forged-dialog", forged_dialog)])
    gate = ConsentMiddleware(
        app,
        settings=make_settings(
            trusted_proxies=["127.0.0.1"],
            country_header="x-test-country",
            analytics={"provider": "ga4", "measurement_id": "G-TEST12345"},
        ),
        ledger=MemoryLedger(),
    )
    with serve(gate) as url:
        yield url


def test_forged_grants_run_no_gated_tag_for_an_undecided_visitor(
    browser: Browser, base_url: str
) -> None:
    visitor = RecordingVisitor(browser, extra_http_headers={"x-test-country": "DE"})
    try:
        page = visitor.page
        page.goto(base_url + "/")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.gated") is None
        assert visitor.trackers() == []
        # The real dialog is the one consentgate injected, and it is open and working.
        assert page.locator("#consentgate-banner.consentgate-banner").first.is_visible()
        page.click("#consentgate-accept")
        page.wait_for_function("window.gated === 1")
    finally:
        visitor.close()


def test_forged_dialog_link_never_fetches_page_chosen_markup(
    browser: Browser, base_url: str
) -> None:
    visitor = RecordingVisitor(browser, extra_http_headers={"x-test-country": "US"})
    try:
        page = visitor.page
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(base_url + "/")
        page.wait_for_load_state("networkidle")
        # Unregulated: everything granted by the server; the page's own inert tag runs.
        page.wait_for_function("window.gated === 1")
        page.click("#comments a[data-consentgate-open]")  # the forged opener in the comments
        page.wait_for_selector(".consentgate-banner form[action$='/_consent']", state="visible")
        assert page.evaluate("window.pwned") is None
        assert not any("forged-dialog" in url or "evil.example" in url for url in requested)
        assert any("/_consent/dialog" in url for url in requested)
    finally:
        visitor.close()
