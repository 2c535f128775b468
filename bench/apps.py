"""The ASGI apps under test: the bare Starlette site, the baseline middleware and consentgate.

In process the benchmarks call :func:`site` and wrap it themselves. For uvicorn, this module
also serves as ``bench.apps:app_<variant>`` (built on first access, from env vars):

* ``app_bare``: the site alone;
* ``app_consentgate``: the site behind consentgate, trusting 127.0.0.1's ``x-country`` header
  (the load generator names the visitor's country in it) and signing with
  ``BENCH_SECRET_KEY``;
* ``app_pasted``: the site serving ``BENCH_PAGE_FILE`` (the page as consentgate delivered it
  to a visitor who gets the banner) without consentgate, to tell the cost of the extra bytes
  apart from consentgate's work;
* ``app_noop``: the site behind :class:`NoOpMiddleware` (the JSON baseline);
* ``app_naive``: the site behind :class:`NaiveInjector`, the cheapest page rewriter one could
  write, as a reference for what any streaming injection costs on this server.

consentgate's server excludes ``EXCLUDED_PREFIX``; the site serves the page there too.
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

from .fixtures import (
    EXCLUDED_PATH,
    EXCLUDED_PREFIX,
    JSON_ITEM,
    JSON_PATH,
    PAGE,
    PAGE_PATH,
    SECRET_KEY,
    consent_settings,
)

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

    routes = [Route(PAGE_PATH, html_page), Route(EXCLUDED_PATH, html_page)]
    return Starlette(routes=[*routes, Route(JSON_PATH, json_item)])


class NoOpMiddleware:
    """The cheapest possible pure-ASGI middleware: passes everything through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the wrapped app unchanged."""
        await self.app(scope, receive, send)


#: What the naive injector inserts twice: 1 KiB after ``<head>`` and 1 KiB before ``</body>``.
NAIVE_HEAD = b"<style>/*" + b"h" * (1024 - 19) + b"*/</style>"
NAIVE_BODY = b"<script>/*" + b"b" * (1024 - 21) + b"*/</script>"


class NaiveInjector:
    """A streaming page rewriter with nothing but the rewrite: no cookie, no geo, no CSP.

    HTML responses lose ``Content-Length`` (so uvicorn sends them chunked); a fixed 2 KiB
    snippet goes in after ``<head>`` and before ``</body>``, found across chunk boundaries by
    holding back the last few bytes of each chunk.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite HTML pages on their way out; pass everything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        html = False
        held = b""
        todo = [(b"<head>", b"<head>" + NAIVE_HEAD), (b"</body>", NAIVE_BODY + b"</body>")]

        async def wrapped(message: Message) -> None:
            nonlocal html, held
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                html = any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                if html:
                    headers = [(k, v) for k, v in headers if k != b"content-length"]
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and html:
                body = held + message.get("body", b"")
                while todo and todo[0][0] in body:
                    marker, replacement = todo.pop(0)
                    body = body.replace(marker, replacement, 1)
                more = message.get("more_body", False)
                keep = min(7, len(body)) if more and todo else 0
                held = body[len(body) - keep :] if keep else b""
                message = {**message, "body": body[: len(body) - keep]}
            await send(message)

        await self.app(scope, receive, wrapped)


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
        exclude_paths=[EXCLUDED_PREFIX],
    )
    return ConsentMiddleware(app, settings=settings)


def _build(name: str) -> ASGIApp:
    if name == "app_bare":
        return site()
    if name == "app_consentgate":
        return e2e_consentgate(site())
    if name == "app_pasted":
        return site(Path(os.environ["BENCH_PAGE_FILE"]).read_bytes())
    if name == "app_noop":
        return NoOpMiddleware(site())
    if name == "app_naive":
        return NaiveInjector(site())
    raise AttributeError(f"module 'bench.apps' has no attribute {name!r}")


_built: dict[str, ASGIApp] = {}


def __getattr__(name: str) -> ASGIApp:
    # Built lazily so that importing this module for `site()` starts no server-only set-up.
    if name not in _built:
        _built[name] = _build(name)
    return _built[name]
