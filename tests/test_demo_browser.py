"""The demo site in real Chromium, served by uvicorn on 127.0.0.1 (nothing leaves the machine).

A visitor from Germany (the demo's simulated default) sees nothing tracking before a choice;
accepting activates the tags in place, refusing and withdrawing take them away again, and the
ad slots' labels say which ad mode consentgate chose. Also saves ``docs/demo.png``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser

from consentgate.demo import create_app, demo_settings
from consentgate.demo.content import ARTICLES

from .conftest import KEY
from .live import RecordingVisitor, picture_path, serve

OVERRIDES = {"secret_keys": [KEY], "ledger_url": None}
WITHOUT_CONSENT = demo_settings(overrides=OVERRIDES).settings.ads.without_consent
SCREENSHOT = picture_path("demo.png")
INERT_ANALYTICS = 'script[type="text/plain"][data-consentgate-category="analytics"]'
ARTICLE = ARTICLES[0].url


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(create_app(settings_overrides=OVERRIDES, country="DE")) as url:
        yield url


class Visitor(RecordingVisitor):
    """One desktop-sized browser context on the demo site."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        super().__init__(browser, viewport={"width": 1280, "height": 800})
        self.base_url = base_url

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")

    def wait_for_tracker(self, host: str) -> None:
        for _ in range(50):
            if any(host in url for url in self.requests):
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"no request to {host} was attempted: {self.requests}")

    def ad_modes(self) -> set[str]:
        modes = self.page.locator(".ad-mode").evaluate_all(
            "els => els.map(e => e.getAttribute('data-ad-mode'))"
        )
        assert modes, "no ad slot on the page"
        return set(modes)

    def accept(self) -> None:
        self.page.click("#consentgate-accept")
        self.page.wait_for_function(f"!document.querySelector('{INERT_ANALYTICS}')")


@pytest.fixture
def visitor(browser: Browser, base_url: str) -> Iterator[Callable[[], Visitor]]:
    made: list[Visitor] = []

    def make() -> Visitor:
        made.append(Visitor(browser, base_url))
        return made[-1]

    yield make
    for v in made:
        v.close()


def test_home_page_shows_the_banner_and_is_saved_for_the_readme(
    visitor: Callable[[], Visitor],
) -> None:
    v = visitor()
    v.goto("/")
    assert v.banner_open()
    assert v.page.locator("#consentgate-banner").get_attribute("role") == "dialog"
    v.page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_nothing_tracks_before_a_choice(visitor: Callable[[], Visitor]) -> None:
    v = visitor()
    v.goto(ARTICLE)
    v.page.wait_for_timeout(500)
    assert v.banner_open()
    assert v.trackers() == []
    assert v.tracker_cookies() == []
    assert v.page.locator(INERT_ANALYTICS).count() >= 2  # GA4 loader and config
    assert v.ad_modes() == {"none"}
    assert v.page.locator(".video-player").count() == 0


def test_accept_activates_tags_in_place_and_personalizes_ads(
    visitor: Callable[[], Visitor],
) -> None:
    v = visitor()
    v.goto(ARTICLE)
    v.accept()
    assert not v.banner_open()
    v.wait_for_tracker("googletagmanager.com")
    v.wait_for_tracker("googlesyndication.com")
    assert v.ad_modes() == {"personalized"}  # updated in place by the page's own script
    v.page.wait_for_selector(".video-player")  # functional: the player replaced it
    v.page.reload()
    v.page.wait_for_load_state("networkidle")
    assert v.ad_modes() == {"personalized"}
    assert not v.banner_open()
    assert v.page.locator(INERT_ANALYTICS).count() == 0


def test_reject_after_accept_gives_the_without_consent_ad_mode(
    visitor: Callable[[], Visitor],
) -> None:
    v = visitor()
    v.goto(ARTICLE)
    v.accept()
    v.page.click(".footer-nav [data-consentgate-open]")  # the page's own settings link
    v.page.click("#consentgate-back")
    # Taking back categories whose tags already ran reloads the page.
    with v.page.expect_navigation():
        v.page.click("#consentgate-reject")
    v.page.wait_for_load_state("networkidle")
    assert v.ad_modes() == {WITHOUT_CONSENT}
    assert v.page.locator(INERT_ANALYTICS).count() >= 2
    assert v.page.locator(".video-player").count() == 0


def test_withdraw_on_the_settings_page_takes_personalized_ads_back(
    visitor: Callable[[], Visitor],
) -> None:
    v = visitor()
    v.goto(ARTICLE)
    v.accept()
    v.page.reload()
    assert v.ad_modes() == {"personalized"}
    v.goto(f"/_consent/settings?next={ARTICLE}")
    v.page.click("#consentgate-page-withdraw")
    v.page.wait_for_url(f"**{ARTICLE}")
    v.page.wait_for_load_state("networkidle")
    assert v.ad_modes() == {WITHOUT_CONSENT}
    assert not v.banner_open()  # a withdrawal is a decision: no banner follows
    assert v.page.locator('[data-field="decided"]').text_content() == "yes"


def test_switching_to_an_unregulated_country_loads_everything_without_a_banner(
    visitor: Callable[[], Visitor],
) -> None:
    v = visitor()
    v.goto(f"/demo/country/US?next={ARTICLE}")
    assert v.page.url.endswith(ARTICLE)
    assert not v.banner_open()
    assert v.ad_modes() == {"personalized"}
    v.wait_for_tracker("googletagmanager.com")
    assert v.page.locator(".video-player").count() >= 1
