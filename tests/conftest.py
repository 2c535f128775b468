"""Shared fixtures: settings without stray env vars, tiny ASGI apps, clients with chosen IPs."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from playwright.sync_api import Browser

from consentgate import ConsentMiddleware, ConsentSettings, scanner
from consentgate.ledger import MemoryLedger

from .live import chromium

# Property tests judge behaviour, never speed: no per-example deadline (a loaded machine is slow).
hypothesis_settings.register_profile("consentgate", deadline=None)
hypothesis_settings.load_profile("consentgate")

KEY = "test-key-0123456789-0123456789-0123456789"
OLD_KEY = "old-key-0123456789-0123456789-0123456789"
DE_IP = "1.2.3.4"
US_IP = "8.8.8.8"
PAGE = (
    b"<!doctype html><html><head><title>t</title></head>"
    b"<body><h1>Hello</h1><p>text</p></body></html>"
)


class FakeGeo:
    """A country database with fixed answers."""

    description = "fake"

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table = table if table is not None else {DE_IP: "DE", US_IP: "US", "9.9.9.9": "FR"}

    def country(self, ip: str) -> str | None:
        return self.table.get(ip)


@pytest.fixture(scope="session", autouse=True)
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The per-user data directory (the default ledger's home) of the suite is a temporary
    one, so no test writes into the real one, even one that leaves ledger_url unset."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
        yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CONSENTGATE_") and name != "CONSENTGATE_TEST_PG_URL":
            monkeypatch.delenv(name)


def make_settings(**overrides: Any) -> ConsentSettings:
    values: dict[str, Any] = {"secret_keys": [KEY], "ledger_url": None}
    values.update(overrides)
    return ConsentSettings(**values)


def html_app(body: bytes = PAGE, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    """An ASGI app answering every HTTP request with ``body`` as HTML."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert scope["type"] == "http"
        raw = headers if headers is not None else [(b"content-type", b"text/html; charset=utf-8")]
        raw = [*raw, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return app


def gate(app: Any = None, **overrides: Any) -> tuple[ConsentMiddleware, MemoryLedger]:
    ledger = MemoryLedger()
    middleware = ConsentMiddleware(
        app or html_app(),
        settings=make_settings(**overrides),
        ledger=ledger,
        country_database=FakeGeo(),
    )
    return middleware, ledger


def client(app: Any, ip: str = DE_IP, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url=base_url
    )


@pytest.fixture(scope="module", params=["c", "python"])
def scan_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The scanner's skip over boring bytes: the C module, then the reference regexes.

    Module scope (tests grouped per path) so that hypothesis tests may use it. The C path
    fails, never falls back, when ``consentgate._scanfast`` was not built.
    """
    if request.param == "c":
        fast = importlib.import_module("consentgate._scanfast")
        skip, inline = fast.boring_end, fast.inline_script
    else:
        skip, inline = scanner._regex_end, scanner._regex_inline
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanner, "_boring_end", skip)
        patch.setattr(scanner, "_inline_script", inline)
        yield request.param


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module (fails, never skips, when it is missing).

    Module scope on purpose: sync Playwright keeps an event loop running while it is open,
    which async tests in later modules cannot share.
    """
    with chromium() as instance:
        yield instance
