"""``banner.block_page``: the modal banner (default) and the non-blocking one, in Chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentgate import ConsentMiddleware
from consentgate.ledger import MemoryLedger

from .conftest import client, gate, make_settings
from .live import RecordingVisitor, serve

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Contact</title></head>
<body><header><h1>Contact us</h1></header>
<main><form id="contact" onsubmit="event.preventDefault(); this.dataset.sent = 'yes'">
<label for="name">Name</label> <input id="name" name="name">
<button id="send">Send</button></form></main></body></html>"""


async def page_view(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def build(block_page: bool) -> ConsentMiddleware:
    return ConsentMiddleware(
        Starlette(routes=[Route("/", page_view)]),
        settings=make_settings(
            trusted_proxies=["127.0.0.1"],
            country_header="x-test-country",
            banner={"block_page": block_page},
        ),
        ledger=MemoryLedger(),
    )


@pytest.fixture(scope="module")
def sites() -> Iterator[dict[str, str]]:
    with serve(build(True)) as modal, serve(build(False)) as open_page:
        yield {"modal": modal, "nonblocking": open_page}


@pytest.fixture
def visit(browser: Browser, sites: dict[str, str]) -> Iterator[Callable[[str], RecordingVisitor]]:
    made: list[RecordingVisitor] = []

    def make(layout: str, **options: Any) -> RecordingVisitor:
        v = RecordingVisitor(browser, extra_http_headers={"x-test-country": "DE"}, **options)
        made.append(v)
        v.page.goto(sites[layout] + "/")
        v.page.wait_for_timeout(200)
        return v

    yield make
    for v in made:
        v.close()


def active_id(v: RecordingVisitor) -> str:
    return str(v.page.evaluate("document.activeElement.id"))


# -- markup -----------------------------------------------------------------------------------
async def test_default_banner_is_modal() -> None:
    assert make_settings().banner.block_page is True
    app, _ = gate()
    async with client(app) as c:
        text = (await c.get("/")).text
    assert 'role="dialog" aria-modal="true"' in text
    assert "data-consentgate-nonblocking" not in text


async def test_nonblocking_banner_is_a_dialog_without_aria_modal() -> None:
    app, _ = gate(banner={"block_page": False})
    async with client(app) as c:
        text = (await c.get("/")).text
        decided = await c.post("/_consent", data={"action": "reject_all"})
        assert decided.status_code == 303
        stub = (await c.get("/")).text
        dialog = (await c.get("/_consent/dialog")).text
    assert 'role="dialog" data-consentgate-nonblocking' in text
    assert "aria-modal" not in text
    # The dialog fetched later keeps the layout; its empty placeholder needs none.
    assert 'id="consentgate-banner"' in stub
    assert "aria-modal" not in stub
    assert "data-consentgate-nonblocking" in dialog


# -- in the browser ---------------------------------------------------------------------------
def test_modal_banner_makes_the_page_inert(visit: Callable[[str], RecordingVisitor]) -> None:
    v = visit("modal")
    assert v.banner_open()
    assert active_id(v) == "consentgate-accept"
    assert v.page.locator("main").evaluate("e => e.inert") is True
    for _ in range(8):
        v.page.keyboard.press("Tab")
        assert v.page.evaluate("!!document.activeElement.closest('#consentgate-banner')")


def test_nonblocking_banner_takes_focus_and_leaves_the_page_usable(
    visit: Callable[[str], RecordingVisitor],
) -> None:
    v = visit("nonblocking")
    assert v.banner_open()
    assert active_id(v) == "consentgate-accept"  # focus moves to the banner
    assert v.page.locator("main").evaluate("e => e.inert") is False
    v.page.fill("#name", "Ada")
    v.page.click("#send")
    assert v.page.locator("#contact").get_attribute("data-sent") == "yes"
    assert v.banner_open()  # using the page decides nothing


def test_nonblocking_banner_lets_the_keyboard_leave_it(
    visit: Callable[[str], RecordingVisitor],
) -> None:
    v = visit("nonblocking")
    seen = []
    for _ in range(12):
        v.page.keyboard.press("Tab")
        seen.append(active_id(v))
    assert "name" in seen
    v.page.focus("#consentgate-customize")
    v.page.keyboard.press("Escape")  # moves to "Reject all", records nothing
    assert active_id(v) == "consentgate-reject"
    assert v.banner_open()
    v.page.click("#consentgate-accept")
    v.page.wait_for_timeout(300)
    assert not v.banner_open()
    state = v.page.evaluate("fetch('/_consent').then(r => r.json())")
    assert "analytics" in state["consent"]["granted"]


@pytest.mark.parametrize("layout", ["modal", "nonblocking"])
def test_axe_finds_no_violation_in_either_layout(
    visit: Callable[[str], RecordingVisitor], layout: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    for scheme in ("light", "dark"):
        v = visit(layout, color_scheme=scheme)
        for step in ("first layer", "second layer"):
            if step == "second layer":
                v.page.click("#consentgate-customize")
            results = Axe().run(v.page)
            bad = [
                (item["id"], item["impact"], [n["target"] for n in item["nodes"]][:3])
                for item in results.response["violations"]
            ]
            assert bad == [], (layout, scheme, step, bad)
