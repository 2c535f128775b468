"""A real uvicorn server on 127.0.0.1 for browser tests, and a Chromium launcher."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> str:
    """The Chromium binary; fails (never skips) with the fix when it is missing."""
    path = shutil.which("chromium") or (CHROMIUM if shutil.which(CHROMIUM) else None)
    if path is None:
        raise RuntimeError(
            "Debian's chromium is needed for browser tests: run scripts/setup-system.sh as root "
            "(apt-get install chromium)"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: Any, *, lifespan: str = "on") -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


TRACKERS = ("googletagmanager", "google-analytics", "googlesyndication", "doubleclick")
TRACKER_COOKIES = ("_ga", "_gcl", "__gads", "__gpi")


class RecordingVisitor:
    """A browser context whose requests off 127.0.0.1 are recorded and aborted."""

    def __init__(self, browser: Browser, **options: Any) -> None:
        self.context: BrowserContext = browser.new_context(**options)
        self.requests: list[str] = []
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def trackers(self) -> list[str]:
        """Tracker requests the page attempted."""
        return [url for url in self.requests if any(host in url for host in TRACKERS)]

    def tracker_cookies(self) -> list[str]:
        """Names of tracker cookies the browser holds."""
        return [c["name"] for c in self.context.cookies() if c["name"].startswith(TRACKER_COOKIES)]

    def banner_open(self) -> bool:
        """Whether the consent dialog is visible."""
        return bool(self.page.locator("#consentgate-banner").is_visible())

    def close(self) -> None:
        self.context.close()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright."""
    path = require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def picture_path(name: str) -> Path:
    """Where a test saves a screenshot: ``test-artifacts/`` (git-ignored), or ``docs/`` when
    ``CONSENTGATE_UPDATE_DOCS=1`` asks for the pictures the README shows to be refreshed."""
    root = Path(__file__).resolve().parent.parent
    folder = root / (
        "docs" if os.environ.get("CONSENTGATE_UPDATE_DOCS") == "1" else "test-artifacts"
    )
    folder.mkdir(exist_ok=True)
    return folder / name
