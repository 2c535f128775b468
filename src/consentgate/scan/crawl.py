"""Drive Chromium through a site: three visits, each in a fresh browser profile.

The crawler only ever navigates to pages of the scanned origin. Every request the pages make
to another host is recorded (and, with ``offline``, aborted instead of sent); requests to the
scanned origin get the simulated country header when one is asked for. Nothing here judges:
the raw observations go to :mod:`consentgate.scan.judge`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urldefrag, urlsplit

from ..errors import ConsentGateError
from ._page_scripts import BANNER, BANNER_CLOSED, COOKIE_HOOK, LINKS, PAGE_STATE, WRITES
from .model import PageRecord, StorageRecord, VisitName

if TYPE_CHECKING:  # Playwright is the optional ``scan`` extra
    from playwright.sync_api import Browser, Frame, Page, Playwright, Route

__all__ = [
    "INSTALL_HINT",
    "BannerProbe",
    "ButtonProbe",
    "CrawlOptions",
    "CrawlResult",
    "RawCookie",
    "RawVisit",
    "ScanError",
    "crawl",
    "find_browser",
]

INSTALL_HINT = "pip install 'consentgate[scan]'"
#: Where a system Chromium is looked for when Playwright's own is not installed.
SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
#: Chromium switches that stop it from calling home on its own while it scans.
BROWSER_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-gpu",
]
_MAX_REQUESTS = 10_000
_MAXWRITES = 2_000
_SKIPPED_SUFFIXES = (
    ".pdf",
    ".zip",
    ".gz",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".svg",
    ".ico",
    ".mp4",
    ".mp3",
    ".css",
    ".js",
    ".json",
    ".xml",
    ".txt",
    ".woff",
    ".woff2",
)


class ScanError(ConsentGateError):
    """The scan could not run (no browser, the site did not answer, ...): exit status 2."""


@dataclass(frozen=True, slots=True)
class CrawlOptions:
    """How to crawl: the start URL, how many pages, the simulated country, the browser."""

    url: str
    pages: int = 10
    country: str | None = None
    country_header: str | None = None
    #: Record requests to other hosts, then abort them instead of sending them (tests).
    offline: bool = False
    browser_path: str | None = None
    #: consentgate's endpoint prefix: never crawled (its links change the consent).
    endpoint_path: str = "/_consent"
    #: How long to wait for the network to go quiet after a load or a click.
    idle_timeout_ms: int = 3_000
    settle_ms: int = 100
    page_timeout_ms: int = 20_000
    progress: Callable[[VisitName, int, int, str], None] | None = None


@dataclass(frozen=True, slots=True)
class RawCookie:
    """A cookie as the browser reported it, with the page it was first seen on."""

    name: str
    domain: str
    path: str
    expires: float
    http_only: bool
    secure: bool
    same_site: str
    page: str
    seen_at: float


@dataclass(slots=True)
class RawVisit:
    """What one visit saw, before any judging."""

    name: VisitName
    pages: list[PageRecord] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    cookies: dict[tuple[str, str, str], RawCookie] = field(default_factory=dict)
    #: Cookie name → URL of the script that wrote it ("" when the browser did not say).
    script_writes: dict[str, str] = field(default_factory=dict)
    storage: dict[tuple[str, str], StorageRecord] = field(default_factory=dict)
    inert_scripts: dict[str, str] = field(default_factory=dict)
    choice_made: bool = False


@dataclass(frozen=True, slots=True)
class ButtonProbe:
    """Size, colours and place of one banner button."""

    width: float
    height: float
    color: str
    background: str
    font_size: str
    font_weight: str
    visible: bool
    first_layer: bool


@dataclass(frozen=True, slots=True)
class BannerProbe:
    """consentgate's banner on the first page, if any."""

    present: bool = False
    shown: bool = False
    accept: ButtonProbe | None = None
    reject: ButtonProbe | None = None
    pre_ticked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """The three visits (or one), the banner probe and a screenshot."""

    visits: tuple[RawVisit, ...]
    banner: BannerProbe
    browser: str
    screenshot_png: bytes | None
    notes: tuple[str, ...] = ()
    #: The host that was scanned (the start URL's, or where its first redirect led).
    site_host: str = ""


def find_browser(explicit: str | None, bundled: str | None) -> str | None:
    """The Chromium to launch: ``explicit``, else Playwright's own (``None``), else the system's.

    Raises :class:`ScanError` with the fix when there is none.
    """
    if explicit:
        path = shutil.which(explicit) or explicit
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ScanError(f"--browser: {explicit!r} is not an executable file")
        return path
    if bundled and os.path.isfile(bundled):
        return None
    for name in SYSTEM_BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ScanError(
        "no Chromium found: run 'python -m playwright install chromium', install your "
        "system's chromium package, or give --browser PATH"
    )


def same_origin_link(href: str, origin: tuple[str, str], endpoint_path: str) -> str | None:
    """``href`` without its fragment when it is a crawlable page of ``origin``, else ``None``."""
    url, _ = urldefrag(href)
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != origin:
        return None
    path = parts.path or "/"
    if path == endpoint_path or path.startswith(endpoint_path.rstrip("/") + "/"):
        return None
    if path.lower().endswith(_SKIPPED_SUFFIXES):
        return None
    return url


def crawl(options: CrawlOptions) -> CrawlResult:
    """Run the visits; raises :class:`ScanError` when the site cannot be scanned."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ScanError(f"the scanner needs Playwright: {INSTALL_HINT}") from exc
    parts = urlsplit(options.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScanError(
            f"URL: {options.url!r} is not an http(s) URL (give it whole: https://www.example.com/)"
        )
    try:
        with sync_playwright() as playwright, _browser(playwright, options) as browser:
            return _Crawler(browser, options).run()
    except PlaywrightError as exc:
        raise ScanError(f"the browser failed: {str(exc).splitlines()[0]}") from exc


@contextmanager
def _browser(playwright: Playwright, options: CrawlOptions) -> Iterator[Browser]:
    bundled = None
    with suppress(Exception):  # no bundled browser is an ordinary answer
        bundled = playwright.chromium.executable_path
    path = find_browser(options.browser_path, bundled)
    args = list(BROWSER_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    try:
        browser = playwright.chromium.launch(executable_path=path, args=args)
    except Exception as exc:  # Playwright's errors carry a multi-line call log
        what = path or "Playwright's Chromium"
        raise ScanError(
            f"could not start {what} (is it a Chromium?): {str(exc).splitlines()[0]}"
        ) from exc
    try:
        yield browser
    finally:
        browser.close()


class _Crawler:
    """One scan: discovers the pages in the first visit, replays them in the others."""

    def __init__(self, browser: Browser, options: CrawlOptions) -> None:
        self.browser = browser
        self.options = options
        parts = urlsplit(options.url)
        self.origin = (parts.scheme, parts.netloc)
        self.host = (parts.hostname or "").lower()
        self.extra_headers: dict[str, str] = {}
        if options.country and options.country_header:
            self.extra_headers[options.country_header.lower()] = options.country.upper()
        self.visit = RawVisit("before_choice")
        self.current = options.url
        self.notes: list[str] = []
        #: Pages this visit will load at most (the progress bar's width).
        self.total = options.pages

    def run(self) -> CrawlResult:
        first, banner, screenshot = self._discover()
        visits = [first]
        notes = self.notes
        urls = [p.url for p in first.pages if p.error is None]
        if not banner.present:
            notes.append(
                "no consentgate banner on the first page: only the visit before any choice ran"
            )
        elif not banner.shown:
            notes.append(
                "consentgate is on the site but did not show its banner to this visitor "
                "(an unregulated country?): only the first visit ran; try --country with a "
                "regulated country"
            )
        else:
            for name, button in (
                ("after_reject", "consentgate-reject"),
                ("after_accept", "consentgate-accept"),
            ):
                visits.append(self._replay(cast(VisitName, name), urls, button))
        return CrawlResult(
            visits=tuple(visits),
            banner=banner,
            browser=f"Chromium {self.browser.version}",
            screenshot_png=screenshot,
            notes=tuple(notes),
            site_host=self.host,
        )

    # -- one visit ---------------------------------------------------------------------------

    @contextmanager
    def _context(self, name: VisitName) -> Iterator[Page]:
        self.visit = RawVisit(name)
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            context.add_init_script(script=COOKIE_HOOK)
            context.route("**/*", self._route)
            page = context.new_page()
            page.set_default_timeout(self.options.page_timeout_ms)
            yield page
        finally:
            context.close()

    def _discover(self) -> tuple[RawVisit, BannerProbe, bytes | None]:
        with self._context("before_choice") as page:
            first = self._first_page(page)
            banner = _probe_banner(page)
            screenshot = _screenshot(page, banner)
            queue: deque[str] = deque()
            seen = {self.options.url, first.url}
            done = {first.url}
            self._enqueue_links(page, queue, seen)
            while queue and len(self.visit.pages) < self.options.pages:
                record = self._load(page, queue.popleft(), len(self.visit.pages), done)
                if record is not None and record.error is None:
                    self._enqueue_links(page, queue, seen)
            return self.visit, banner, screenshot

    def _enqueue_links(self, page: Page, queue: deque[str], seen: set[str]) -> None:
        """Queue the page's crawlable links not seen before (breadth-first order)."""
        for href in cast(list[str], page.evaluate(LINKS)):
            link = same_origin_link(href, self.origin, self.options.endpoint_path)
            if link is not None and link not in seen:
                seen.add(link)
                queue.append(link)

    def _first_page(self, page: Page) -> PageRecord:
        """Load the start URL; a redirect to another origin (``www.``, https) moves the scan."""
        url = self.options.url
        status, error, html = self._goto(page, url)
        if error is not None:
            raise ScanError(f"could not load {url}: {error}")
        if not html:
            raise ScanError(f"{url} is not an HTML page")
        final = urlsplit(page.url)
        if (final.scheme, final.netloc) != self.origin:
            if final.scheme not in ("http", "https"):
                raise ScanError(f"{url} redirected to {page.url}")
            self.origin = (final.scheme, final.netloc)
            self.host = (final.hostname or "").lower()
            self.notes.append(f"{url} redirected to {page.url}: scanned that origin instead")
        return self._record_page(page, page.url, status, 0)

    def _replay(self, name: VisitName, urls: list[str], button: str) -> RawVisit:
        self.total = len(urls)
        with self._context(name) as page:
            for index, url in enumerate(urls):
                if index == 0:
                    status, error, _ = self._goto(page, url)
                    self.visit.choice_made = error is None and self._choose(page, button)
                    self._record_page(page, url if error else page.url, status, index, error)
                else:
                    self._load(page, url, index)
            return self.visit

    def _choose(self, page: Page, button: str) -> bool:
        """Click the banner button; only what follows the click is recorded for the visit."""
        locator = page.locator(f"#{button}")
        if locator.count() == 0 or not locator.first.is_visible():
            return False
        self.visit.requests.clear()
        self._state(page)  # drops the cookie writes made before the choice
        self.visit.script_writes.clear()
        self.visit.storage.clear()
        locator.first.click()
        try:
            page.wait_for_function(BANNER_CLOSED, timeout=self.options.page_timeout_ms)
        except Exception:  # a form post navigates instead: wait for that page
            page.wait_for_load_state("load")
        self._settle(page)
        return True

    # -- one page ----------------------------------------------------------------------------

    def _goto(self, page: Page, url: str) -> tuple[int | None, str | None, bool]:
        """Load ``url``: (status, error, is_html)."""
        self.current = url
        try:
            response = page.goto(url, wait_until="load")
        except Exception as exc:  # any load failure is reported, not raised
            return None, str(exc).splitlines()[0], False
        self._settle(page)
        if response is None:
            return None, None, True
        kind = response.headers.get("content-type", "")
        html = "html" in kind or not kind
        error = None if response.status < 400 else f"HTTP {response.status}"
        return response.status, error, html

    def _load(
        self, page: Page, url: str, index: int, done: set[str] | None = None
    ) -> PageRecord | None:
        """Load and record a page; ``None`` when it is not a new page of this site."""
        status, error, html = self._goto(page, url)
        final = url if error is not None else page.url
        if error is None and (not html or same_origin_link(final, self.origin, "\0") is None):
            return None  # a file, or a redirect to another site
        if done is not None:
            if final in done:
                return None
            done.add(final)
        return self._record_page(page, final, status if error is None else None, index, error)

    def _record_page(
        self, page: Page, url: str, status: int | None, index: int, error: str | None = None
    ) -> PageRecord:
        reopen = False
        if error is None:
            reopen = self._state(page)
        record = PageRecord(url=url, status=status, reopen_link=reopen, error=error)
        self.visit.pages.append(record)
        self._cookies(page)
        if self.options.progress is not None:
            self.options.progress(self.visit.name, index + 1, self.total, url)
        return record

    def _settle(self, page: Page) -> None:
        with suppress(Exception):  # a page that never goes quiet is still recorded
            page.wait_for_load_state("networkidle", timeout=self.options.idle_timeout_ms)
        page.wait_for_timeout(self.options.settle_ms)

    def _state(self, page: Page) -> bool:
        try:
            state = cast(dict[str, Any], page.evaluate(PAGE_STATE))
        except Exception:  # a page navigating away leaves nothing to read
            return False
        visit = self.visit
        kinds: tuple[Literal["local", "session"], ...] = ("local", "session")
        for kind in kinds:
            for key in state.get(kind, [])[:500]:
                visit.storage.setdefault(
                    (kind, str(key)), StorageRecord(kind, str(key), self.current)
                )
        for frame in page.frames:  # third-party frames write their own cookies
            for name, script in _frame_writes(frame):
                if len(visit.script_writes) < _MAXWRITES:
                    visit.script_writes.setdefault(str(name), str(script))
        for url, category in state.get("inert", [])[:500]:
            visit.inert_scripts.setdefault(str(url), str(category))
        return bool(state.get("reopen"))

    def _cookies(self, page: Page) -> None:
        now = time.time()
        for cookie in page.context.cookies():
            key = (cookie["name"], cookie["domain"], cookie["path"])
            if key in self.visit.cookies:
                continue
            self.visit.cookies[key] = RawCookie(
                name=cookie["name"],
                domain=cookie["domain"],
                path=cookie["path"],
                expires=float(cookie["expires"]),
                http_only=bool(cookie["httpOnly"]),
                secure=bool(cookie["secure"]),
                same_site=str(cookie["sameSite"]),
                page=self.current,
                seen_at=now,
            )

    # -- the network -------------------------------------------------------------------------

    def _route(self, route: Route) -> None:
        request = route.request
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https", "ws", "wss") or host == self.host:
            if self.extra_headers and (parts.scheme, parts.netloc) == self.origin:
                route.continue_(headers={**request.headers, **self.extra_headers})
            else:
                route.continue_()
            return
        if len(self.visit.requests) < _MAX_REQUESTS:
            self.visit.requests.append((request.url, self.current))
        if self.options.offline:
            route.abort()
        else:
            route.continue_()


def _frame_writes(frame: Frame) -> list[list[str]]:
    try:
        return cast(list[list[str]], frame.evaluate(WRITES))
    except Exception:  # a detached or navigating frame has nothing to say
        return []


def _probe_banner(page: Page) -> BannerProbe:
    data = page.evaluate(BANNER)
    if not data:
        return BannerProbe()

    def button(raw: Any) -> ButtonProbe | None:
        if not raw:
            return None
        return ButtonProbe(
            width=float(raw["width"]),
            height=float(raw["height"]),
            color=str(raw["color"]),
            background=str(raw["background"]),
            font_size=str(raw["font_size"]),
            font_weight=str(raw["font_weight"]),
            visible=bool(raw["visible"]),
            first_layer=bool(raw["first_layer"]),
        )

    return BannerProbe(
        present=True,
        shown=bool(data["shown"]),
        accept=button(data["accept"]),
        reject=button(data["reject"]),
        pre_ticked=tuple(str(x) for x in data["pre_ticked"]),
    )


def _screenshot(page: Page, banner: BannerProbe) -> bytes | None:
    try:
        if banner.shown:
            dialog = page.locator("#consentgate-banner form").first
            return dialog.screenshot(animations="disabled")
        return page.screenshot(animations="disabled")
    except Exception:  # a report without a picture is still a report
        return None
