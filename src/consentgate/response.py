"""The response path: the ``send`` an app gets, and what it does to the app's messages.

Every response passes here: ``Set-Cookie`` headers of refused categories are removed, a
consent cookie signed with an old key is re-signed, and every ``text/html`` response is made
private to caches and streamed through the injector — with the snippets when the request may
show a page, with the fail-closed rewriting alone otherwise.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from .cache import LRUCache, size_of
from .cookie import ConsentCookie
from .endpoints import CookieWriter
from .injection import InertHosts, InjectionMemo, StreamInjector
from .integrations import ServiceSpec
from .page import PageRenderer, private_headers
from .visit import Visit

__all__ = ["CookieFilter", "Responder"]

log = logging.getLogger("consentgate")

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Scope = MutableMapping[str, Any]

_NO_BODY_STATUS = frozenset({204, 304})
_NO_SNIPPETS = (b"", b"")


class CookieFilter:
    """Which of the app's ``Set-Cookie`` headers may pass for a visitor."""

    def __init__(
        self, *, services: Sequence[ServiceSpec], consent_cookie: str, undeclared: str
    ) -> None:
        self.services = tuple(services)
        self.consent_cookie = consent_cookie
        self.undeclared = undeclared
        self._categories: LRUCache[str, tuple[str | None]] = LRUCache(
            256 << 10, name="cookie categories"
        )
        self._warned: LRUCache[str, bool] = LRUCache(64 << 10, name="warned cookies")

    def category(self, name: str) -> str | None:
        """The category of a cookie the app sets, ``None`` when no service declares it."""
        cached = self._categories.get(name)
        if cached is not None:
            return cached[0]
        found = None
        for service in self.services:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in service.cookies):
                found = service.category
                break
        self._categories.put(name, (found,), size_of(name))
        return found

    def keeps(self, value: bytes, granted: frozenset[str]) -> bool:
        """Whether an app's ``Set-Cookie`` may pass for a visitor with ``granted``."""
        name = value.split(b"=", 1)[0].strip().decode("latin-1")
        if name == self.consent_cookie:
            return True
        category = self.category(name)
        if category is not None:
            return category in granted
        if self.undeclared == "block":
            return False
        if self.undeclared == "warn" and name not in self._warned:
            self._warned.put(name, True, size_of(name))
            log.warning(
                "consentgate: the app sets cookie %r, which no service declares; declare it "
                "under `services` (category 'necessary' if it is strictly necessary)",
                name[:100],
            )
        return True


class Responder:
    """Builds the ``send`` the app gets for one request (no per-request state of its own)."""

    def __init__(
        self,
        *,
        page: PageRenderer,
        cookies: CookieFilter,
        codec: ConsentCookie,
        writer: CookieWriter,
        clock: Callable[[], float],
    ) -> None:
        self.page = page
        self.cookies = cookies
        self.codec = codec
        self.writer = writer
        self.clock = clock
        self.memo = InjectionMemo()

    def wrap(
        self,
        visit: Visit,
        scope: Scope,
        headers: Mapping[bytes, bytes],
        page: bool,
        rewrite: bool,
        send: Send,
    ) -> Send:
        """The ``send`` the app gets.

        ``page``: the request may show the answer as a page (it gets the snippets);
        ``rewrite``: HTML answers are consentgate's to change (not an excluded path).
        A plain function that returns the awaitable of the ``send`` it wraps (no coroutine of
        its own per message). An HTML response that is rewritten moves on to an
        :class:`_Injection`, which holds the stream's state.
        """
        injection: _Injection | None = None
        held: _Held | None = None
        start = self.start
        memo = self.memo

        def respond(message: Message) -> Awaitable[None]:
            nonlocal injection, held
            if held is not None:  # the first message after a held start
                start_message, snippets, hosts, rewrite_only = held
                held = None
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    # The whole body in one message (most pages): maybe a page seen before.
                    return _send_whole(
                        send, memo, start_message, snippets, hosts, rewrite_only, message
                    )
                injection = _Injection(snippets, hosts, memo, start_message, send, rewrite_only)
            if injection is not None:
                return injection.send(message)
            if message["type"] == "http.response.start":
                message, held = start(message, visit, scope, headers, page, rewrite, send)
                if held is not None:
                    return _nothing()  # held back until the first body chunk (Content-Length)
            return send(message)

        return respond

    def start(
        self,
        message: Message,
        visit: Visit,
        scope: Scope,
        request_headers: Mapping[bytes, bytes],
        page: bool,
        rewrite: bool,
        send: Send,
    ) -> tuple[Message, _Held | None]:
        """The app's start message as it goes out, and what its body needs if it is rewritten
        (the start is then held back until the body's first message)."""
        raw = message.get("headers", ())
        # One look at the app's headers decides whether anything needs doing at all.
        set_cookie = False
        content_type = b""
        encoded = False
        for key, value in raw:
            lowered = key.lower()
            if lowered == b"content-type":
                content_type = value
            elif lowered == b"set-cookie":
                set_cookie = True
            elif lowered == b"content-encoding" and value.strip().lower() != b"identity":
                encoded = True
        is_html = rewrite and content_type[:9].lower() == b"text/html"
        if not is_html and not set_cookie and not visit.resign:
            return message, None  # nothing to change: pass the app's message on as it is
        headers: list[tuple[bytes, bytes]] = list(raw)
        if set_cookie:
            granted = visit.consent.granted
            keeps = self.cookies.keeps
            headers = [
                (k, v) for k, v in headers if k.lower() != b"set-cookie" or keeps(v, granted)
            ]
        if visit.resign and visit.cookie is not None:
            value = self.codec.dumps(visit.cookie)
            lifetime = self.codec.remaining(visit.cookie, self.clock())
            https = visit.client.scheme == "https"
            headers.append((b"set-cookie", self.writer.consent(value, lifetime, https=https)))
        snippets: tuple[bytes, bytes] | None = None
        hosts: InertHosts | None = None
        if is_html:
            status = message["status"]
            body = status >= 200 and status not in _NO_BODY_STATUS and scope["method"] != "HEAD"
            if body and encoded:
                _log_compressed_once()
            language = request_headers.get(b"accept-language")
            if body and not encoded and page and not set_cookie and not visit.resign:
                # A page like many before: its start, snippets and held-back hosts, remembered.
                headers, snippets, hosts = self.page.prepared(raw, visit, scope, language)
                message = dict(message)
                message["headers"] = headers
                if snippets is None:
                    return message, None
                return message, (message, snippets, hosts, False)
            if body and not encoded:
                lang = self.page.language(language)
                hosts = self.page.inert_hosts(visit.consent.granted, lang)
            if not body or encoded:
                headers = private_headers(headers, drop_length=False)
            elif not page:  # not shown as a page: the fail-closed rewriting alone, if any
                if hosts:
                    headers, snippets = private_headers(headers, drop_length=True), _NO_SNIPPETS
                else:
                    headers = private_headers(headers, drop_length=False)
            else:  # a page whose cookies change (filtered, or the consent cookie re-signed)
                headers, snippets, _ = self.page.prepare(headers, visit, scope, language)
        message = dict(message)
        message["headers"] = headers
        if snippets is None or hosts is None:
            return message, None
        rewrite_only = snippets is _NO_SNIPPETS
        return message, (message, snippets, hosts, rewrite_only)


async def _nothing() -> None:
    """An awaitable that does nothing."""


#: A held start message, the snippets, the hosts held back and whether only to rewrite.
_Held = tuple[Message, tuple[bytes, bytes], InertHosts, bool]


async def _send_whole(
    send: Send,
    memo: InjectionMemo,
    start: Message,
    snippets: tuple[bytes, bytes],
    hosts: InertHosts,
    rewrite_only: bool,
    message: Message,
) -> None:
    """Send a held start and a body that came in one message (its length is known)."""
    body = memo.inject(bytes(message.get("body", b"")), *snippets, hosts, rewrite_only)
    start["headers"].append((b"content-length", b"%d" % len(body)))
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _Injection:
    """One HTML response that is rewritten: its held start message and the body's injector."""

    __slots__ = (
        "body",
        "downstream",
        "finished",
        "head",
        "hosts",
        "injector",
        "memo",
        "pending",
        "rewrite_only",
    )

    def __init__(
        self,
        snippets: tuple[bytes, bytes],
        hosts: InertHosts,
        memo: InjectionMemo,
        start: Message,
        downstream: Send,
        rewrite_only: bool = False,
    ) -> None:
        self.rewrite_only = rewrite_only
        self.head, self.body = snippets
        self.hosts = hosts
        self.memo = memo
        self.injector: StreamInjector | None = None
        self.pending: Message | None = start
        self.downstream = downstream
        self.finished = False

    async def send(self, message: Message) -> None:
        """Pass ``message`` on, with the snippets put into the body."""
        kind = message["type"]
        if kind == "http.response.body" and not self.finished:
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            injector = self.injector
            if more:
                if injector is None:
                    injector = self.injector = StreamInjector(
                        self.head, self.body, inert_hosts=self.hosts, rewrite_only=self.rewrite_only
                    )
                body = injector.feed(chunk)
            else:
                if injector is None:  # the whole body in one message: maybe a page seen before
                    body = self.memo.inject(
                        bytes(chunk), self.head, self.body, self.hosts, self.rewrite_only
                    )
                else:
                    body = injector.feed_last(chunk)
                self.injector = None
                self.finished = True
            message = {"type": kind, "body": body, "more_body": more}
            if self.pending is not None:
                start, self.pending = self.pending, None
                if not more:  # the whole body in one message: its length is known
                    start["headers"].append((b"content-length", str(len(body)).encode()))
                await self.downstream(start)
        elif self.pending is not None:
            start, self.pending = self.pending, None
            await self.downstream(start)
        await self.downstream(message)


_compressed_logged = False


def _log_compressed_once() -> None:
    global _compressed_logged
    if not _compressed_logged:
        _compressed_logged = True
        log.error(
            "consentgate: the app sent compressed HTML, which cannot be gated; put "
            "ConsentMiddleware inside the compression (GZipMiddleware outside it)"
        )
