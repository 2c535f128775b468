"""The ASGI apps under test: the bare Starlette site, the baseline middleware and consentgate.

In process the benchmarks call :func:`site` and wrap it themselves. For uvicorn, this module
also serves as ``bench.apps:app_<variant>`` (built on first access, from env vars):

* ``app_bare``: the site alone;
* ``app_consentgate``: the site behind consentgate, trusting 127.0.0.1's ``x-country`` header
  (the load generator names the visitor's country in it) and signing with
  ``BENCH_SECRET_KEY``;
* ``app_pasted``: the site serving ``BENCH_PAGE_FILE`` (the page as consentgate delivered it
  to a visitor who gets the banner) without consentgate, to tell the cost of the extra bytes
  apart from consentgate's work.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware

from .fixtures import JSON_ITEM, JSON_PATH, PAGE, PAGE_PATH, SECRET_KEY, consent_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def site(page: bytes = PAGE, *, unique: bool = False) -> Starlette:
    """A Starlette site with an HTML page at ``/`` and a small JSON response at ``/api/item``.

    The page is text encoded on every request, as a template's output is, so every response
    body is a new bytes object. With ``unique``, every page also differs from the one before
    (a per-request comment before ``</body>``, as a per-request token would).
    """
    text = page.decode("utf-8")
    counter = itertools.count()

    async def html_page(request: Request) -> Response:
        if unique:
            return HTMLResponse(text.replace("</body>", f"<!-- {next(counter)} --></body>"))
        return HTMLResponse(text)

    async def json_item(request: Request) -> Response:
        return JSONResponse(JSON_ITEM)

    return Starlette(routes=[Route(PAGE_PATH, html_page), Route(JSON_PATH, json_item)])


class NoOpMiddleware:
    """The cheapest possible pure-ASGI middleware: passes everything through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the wrapped app unchanged."""
        await self.app(scope, receive, send)


class PassThroughMiddleware(BaseHTTPMiddleware):
    """A ``BaseHTTPMiddleware`` that does nothing but call the app."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Hand the request on."""
        return await call_next(request)


def e2e_consentgate(app: ASGIApp) -> ConsentMiddleware:
    """consentgate as the end-to-end server runs it: the country comes from a trusted header."""
    settings = consent_settings(
        secret_keys=[os.environ.get("BENCH_SECRET_KEY", SECRET_KEY)],
        trusted_proxies=["127.0.0.1"],
        country_header="x-country",
    )
    return ConsentMiddleware(app, settings=settings)


def _build(name: str) -> ASGIApp:
    if name == "app_bare":
        return site()
    if name == "app_consentgate":
        return e2e_consentgate(site())
    if name == "app_pasted":
        return site(Path(os.environ["BENCH_PAGE_FILE"]).read_bytes())
    raise AttributeError(f"module 'bench.apps' has no attribute {name!r}")


_built: dict[str, ASGIApp] = {}


def __getattr__(name: str) -> ASGIApp:
    # Built lazily so that importing this module for `site()` starts no server-only set-up.
    if name not in _built:
        _built[name] = _build(name)
    return _built[name]
