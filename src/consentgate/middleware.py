"""``ConsentMiddleware``: the only module that speaks ASGI; it wires the others together.

Per request: client IP (trusted proxies) → country → consent cookie → :func:`decide` →
``scope["state"]["consent"]``; then either a consent endpoint answers, or the app does and its
HTML is streamed through the injector (Consent Mode head script, banner, gated tags).
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import html
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

from .banner import Banner, CategoryInfo, ServiceInfo
from .catalogue import Catalogue
from .consent import AdMode, Consent
from .cookie import ConsentCookie, CookieState
from .disclosure import effective_services, google_config
from .endpoints import ConsentEndpoints, CookieWriter, RateLimiter, Visit
from .errors import ConfigError
from .failclosed import EmbedTexts
from .geo import CountryDatabase, FixedCountry, RegulatedCountries, clean_country, open_database
from .injection import (
    InertHosts,
    InjectionMemo,
    StreamInjector,
    ascii_compatible,
    charset_of,
    csp_nonce,
    csp_with_script_hashes,
    script_hash,
)
from .integrations import ServiceSpec, inert_scripts, inline_scripts
from .integrations.google import GoogleTags
from .ledger import Ledger, open_ledger
from .policy import AdRules, Offer, decide
from .proxy import ProxyResolver, header_map
from .settings import ConsentSettings

__all__ = ["ConsentMiddleware"]

log = logging.getLogger("consentgate")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NO_BODY_STATUS = frozenset({204, 304})
_CACHE_LIMIT = 10_000


def find_cookie(header: bytes | None, name: bytes) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, found without parsing the rest."""
    if not header:
        return None
    start = 0
    needle = name + b"="
    while True:
        index = header.find(needle, start)
        if index < 0:
            return None
        if index == 0 or header[index - 1] in b"; \t":
            end = header.find(b";", index)
            raw = header[index + len(needle) : end if end >= 0 else None].strip()
            if raw.startswith(b'"') and raw.endswith(b'"'):
                raw = raw[1:-1]
            return raw.decode("latin-1")
        start = index + 1


class ConsentMiddleware:
    """Pure-ASGI consent middleware.

    ``ConsentMiddleware(app, settings=ConsentSettings(...))``; the visitor's
    :class:`~consentgate.Consent` is in ``scope["state"]["consent"]``. ``ledger`` and
    ``country_database`` replace the ones the settings would build (tests, custom storage);
    ``clock`` returns Unix seconds.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ConsentSettings | None = None,
        ledger: Ledger | None = None,
        country_database: CountryDatabase | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.settings = settings = settings if settings is not None else ConsentSettings()
        self.clock = clock
        keys = settings.require_secret_keys()
        for warning in settings.warnings():
            log.warning("consentgate: %s", warning)

        self.proxy = ProxyResolver(settings.trusted_proxies)
        self.forced = settings.force_country is not None
        if settings.force_country:
            self.geo: CountryDatabase = FixedCountry(settings.force_country)
        else:
            self.geo = country_database or open_database(settings.geoip_database)
        self.regulated = RegulatedCountries(
            settings.regulated_countries,
            unknown_regulated=settings.unknown_country == "regulated",
        )
        self.country_header = (
            settings.country_header.encode("latin-1") if settings.country_header else None
        )

        google = google_config(settings)
        self.google = GoogleTags(google)
        self.services: tuple[ServiceSpec, ...] = effective_services(settings, google)
        self.offer = Offer.build(
            ((c.name, c.required, c.cookie_code) for c in settings.categories),
            ((s.name, s.category, s.cookies) for s in self.services),
        )
        self.rules = AdRules(
            before_choice=AdMode(settings.ads.before_choice),
            without_consent=AdMode(settings.ads.without_consent),
            honor_gpc=settings.honor_gpc,
        )
        self.codec = ConsentCookie(keys, max_age=settings.consent_max_age_days * 86_400)
        self.cookie_name = settings.cookie_name.encode("latin-1")
        self.writer = CookieWriter(
            name=settings.cookie_name,
            domain=settings.cookie_domain,
            samesite=settings.cookie_samesite,
            secure=settings.cookie_secure,
        )
        try:
            self.banner = Banner(
                endpoint_path=settings.endpoint_path,
                privacy_policy_url=settings.banner.privacy_policy_url,
                languages=settings.banner.languages,
                default_language=settings.banner.default_language,
                overrides=settings.banner.texts,
                categories=[
                    CategoryInfo(
                        name=c.name,
                        required=c.required,
                        title=c.title,
                        description=c.description,
                        services=tuple(
                            ServiceInfo(
                                name=s.name,
                                description=s.description,
                                vendor=s.vendor,
                                privacy_url=s.privacy_url,
                                cookies=s.cookies,
                                description_key=s.description_key,
                            )
                            for s in self.services
                            if s.category == c.name
                        ),
                    )
                    for c in settings.categories
                ],
                consent_max_age_days=settings.consent_max_age_days,
            )
        except ValueError as exc:
            raise ConfigError(f"banner: {exc}") from None
        self.ledger: Ledger = (
            ledger
            if ledger is not None
            else open_ledger(
                settings.ledger_url,
                ip_retention_days=settings.ip_retention_days,
                record_retention_days=settings.record_retention_days,
            )
        )
        self.endpoints = ConsentEndpoints(
            endpoint_path=settings.endpoint_path,
            offer=self.offer,
            revision=settings.policy_revision,
            rules=self.rules,
            codec=self.codec,
            writer=self.writer,
            banner=self.banner,
            ledger=self.ledger,
            services=self.services,
            allowed_origins=settings.allowed_origins,
            limiter=RateLimiter(settings.rate_limit_per_minute),
            clock=clock,
        )
        self.exclude = tuple(settings.exclude_paths)
        self.undeclared = settings.undeclared_cookies
        self._optional = frozenset(c.name for c in settings.categories)
        # fail-closed: the tracker catalogue plus declared services; held-back sets by grant
        self._catalogue = Catalogue.builtin().with_services(
            (s.name, s.category, s.hosts) for s in self.services
        )
        self._inert: dict[tuple[frozenset[str], str | None], InertHosts] = {}
        self._service_scripts = [
            (s.category, "".join(s.scripts), inert_scripts("".join(s.scripts), s.category))
            for s in self.services
            if s.scripts
        ]
        self._consents: dict[
            tuple[str | None, str | None, bool],
            tuple[Consent, float, CookieState | None, bool, int],
        ] = {}
        self._visits: dict[tuple[object, ...], Visit] = {}
        self._render_ids: dict[RenderKey, int] = {}
        self._languages: dict[bytes | None, str] = {}
        self._page_requests: dict[tuple[bytes | None, bytes | None], bool] = {}
        # Behind a trusted proxy these headers decide who the client is, so they key visits.
        self._proxy_headers: tuple[bytes, ...] = ()
        if self.proxy.enabled:
            self._proxy_headers = (
                b"x-forwarded-for",
                b"forwarded",
                b"x-forwarded-proto",
                b"x-forwarded-host",
                *((self.country_header,) if self.country_header else ()),
            )
        self._cookie_categories: dict[str, str | None] = {}
        self._countries: dict[str | None, str | None] = {}
        self._warned: set[str] = set()
        self._snippets: dict[tuple[int, str, str], _Snippets] = {}
        self._memo = InjectionMemo()
        self._prepared_starts: dict[
            tuple[object, ...], tuple[tuple[tuple[bytes, bytes], ...], tuple[bytes, bytes] | None]
        ] = {}
        self._started = False
        self._start_lock = asyncio.Lock()

    # -- set-up helpers ----------------------------------------------------------------------
    # -- ASGI ----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if not self._started:
            await self.startup()
        # Visits are remembered per client, scheme, Host, Cookie and Sec-GPC (and the
        # forwarded headers behind a proxy); a remembered one is used until its cookie expires.
        raw = scope.get("headers") or ()
        if type(raw) is not list:
            raw = list(raw)
        headers = dict(raw)  # a C-speed pass; repeated names (HTTP/2 cookies) are merged below
        if len(headers) != len(raw):
            headers = header_map(raw)
        get = headers.get
        client = scope.get("client")
        key: tuple[object, ...] = (
            client[0] if client else None,
            scope.get("scheme"),
            get(b"host"),
            get(b"cookie"),
            get(b"sec-gpc"),
        )
        if self._proxy_headers:
            # Behind a proxy the forwarded headers decide the client too.
            key += tuple(map(get, self._proxy_headers))
        visit = self._visits.get(key)
        if visit is None or self.clock() >= visit.deadline:
            visit = self.visit(scope, headers)
            if len(self._visits) >= _CACHE_LIMIT:
                self._visits.clear()
            self._visits[key] = visit
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["consent"] = visit.consent
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.endpoints.handles(path):
            await self.endpoints(scope, receive, send, visit._replace(headers=headers))
            return
        # Whether the answer may be shown as a page: by Accept, and by Sec-Fetch-Dest when
        # Accept takes anything ("*/*" from fetch() or a subresource is never shown as one).
        wants = (headers.get(b"accept"), headers.get(b"sec-fetch-dest"))
        html = self._page_requests.get(wants)
        if html is None:
            html = _shows_page(*wants)
            if len(self._page_requests) < 256:  # browsers send a handful of distinct values
                self._page_requests[wants] = html
        inject = False
        if html:
            if b"accept-encoding" in headers:
                scope = dict(scope)
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
            inject = not (self.exclude and path.startswith(self.exclude))
        elif not visit.resign and not self.inert_hosts(visit.consent.granted):  # fail-closed
            # Not a page: only the app's cookies may need filtering, and often none can.
            guarded = send if visit.keeps_cookies else self._cookie_guard(visit, scope, send)
            await self.app(scope, receive, guarded)
            return
        await self.app(scope, receive, self._responder(visit, scope, headers, inject, send))

    def _cookie_guard(self, visit: Visit, scope: Scope, send: Send) -> Send:
        """A ``send`` that only filters the app's ``Set-Cookie`` headers (not a page)."""
        start = self._start

        def guard(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                for key, _ in message.get("headers", ()):
                    if len(key) == 10 and key.lower() == b"set-cookie":
                        message = start(message, visit, scope, _NO_HEADERS, False, send)[0]
                        break
            return send(message)

        return guard

    def _responder(
        self, visit: Visit, scope: Scope, headers: dict[bytes, bytes], inject: bool, send: Send
    ) -> Send:
        """The ``send`` the app gets.

        A plain function that returns the awaitable of the ``send`` it wraps (no coroutine of
        its own per message), made here so that ``__call__`` keeps plain locals. An HTML
        response that gets snippets moves on to an :class:`_Injection`, which holds the
        stream's state.
        """
        injection: _Injection | None = None
        start = self._start

        def respond(message: Message) -> Awaitable[None]:
            nonlocal injection
            if injection is not None:
                return injection.send(message)
            if message["type"] == "http.response.start":
                message, injection = start(message, visit, scope, headers, inject, send)
                if injection is not None:
                    return _nothing()  # held back until the first body chunk (Content-Length)
            return send(message)

        return respond

    def visit(self, scope: Scope, headers: dict[bytes, bytes] | None = None) -> Visit:
        """Work out who is asking and what their consent allows."""
        if headers is None:
            headers = header_map(scope.get("headers") or ())
        client = self.proxy.resolve(scope, headers)
        if (
            self.country_header is not None
            and client.via_proxy
            and self.country_header in headers
            and not self.forced
        ):
            country = clean_country(headers[self.country_header].decode("latin-1").strip())
        else:
            country = self._country(client.ip)
        gpc = headers.get(b"sec-gpc", b"").strip() == b"1"
        value = find_cookie(headers.get(b"cookie"), self.cookie_name)
        now = self.clock()
        key = (value, country, gpc)
        cached = self._consents.get(key)
        if cached is None or now >= cached[1]:
            loaded = self.codec.loads(value, now=now) if value else None
            cookie, resign = loaded if loaded is not None else (None, False)
            consent = decide(
                offer=self.offer,
                revision=self.settings.policy_revision,
                country=country,
                regulated=self.regulated(country),
                cookie=cookie,
                gpc=gpc,
                rules=self.rules,
            )
            deadline = cookie.decided_at + self.codec.max_age if cookie is not None else math.inf
            if len(self._consents) >= _CACHE_LIMIT:
                self._consents.clear()
            # Consents that render alike share one small id: a cheap snippet-cache key.
            render = self._render_ids.setdefault(_render_key(consent), len(self._render_ids))
            cached = self._consents[key] = (consent, deadline, cookie, resign, render)
        consent, deadline, cookie, resign, render = cached
        keeps = self.undeclared != "block" and self._optional <= consent.granted
        return Visit(consent, client, cookie, resign, gpc, _NO_HEADERS, render, deadline, keeps)

    def _country(self, ip: str | None) -> str | None:
        # Same visitors come back page after page: remember their country (bounded).
        try:
            return self._countries[ip]
        except KeyError:
            pass
        country = None if ip is None and not self.forced else self.geo.country(ip or "")
        if len(self._countries) >= _CACHE_LIMIT:
            self._countries.clear()
        self._countries[ip] = country
        return country

    # -- lifespan ------------------------------------------------------------------------------
    async def startup(self) -> None:
        """Start the ledger (schema, background tasks) once; safe to call repeatedly."""
        async with self._start_lock:
            if not self._started:
                self._started = True
                try:
                    await self.ledger.start()
                except Exception:  # a database that is down never fails start-up
                    log.exception("consentgate: the ledger could not start; retrying in background")

    async def shutdown(self) -> None:
        """Drain the ledger queue (at most 5 s)."""
        if self._started:
            try:
                await self.ledger.close(5.0)
            except Exception:
                log.exception("consentgate: the ledger did not close cleanly")
            self._started = False

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped_send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                await self.startup()
            elif kind == "lifespan.shutdown.complete":
                await self.shutdown()
            await send(message)

        await self.app(scope, receive, wrapped_send)

    # -- per-response pieces -------------------------------------------------------------------
    def snippets(self, visit: Visit, path: str, language: bytes | None) -> _Snippets:
        """The head and body snippets for one visitor and page (cached)."""
        lang = self._language(language)
        key = (visit.render, lang, path)
        cached = self._snippets.get(key)
        if cached is None:
            head, body = self._render_snippets(visit.consent, lang, path)
            cached = _Snippets(head, body, head.encode(), body.encode())
            if len(self._snippets) >= _CACHE_LIMIT:
                self._snippets.clear()
            self._snippets[key] = cached
        return cached

    def _render_snippets(self, consent: Consent, lang: str, path: str) -> tuple[str, str]:
        head_js = self.google.head_script(consent)
        head = f"<script>{head_js}</script>" if head_js else ""
        review = consent.show_banner and consent.consent_id is not None
        tags = [self.google.body_tags(consent)]
        for category, active, inert in self._service_scripts:
            tags.append(active if consent.allows(category) else inert)
        if consent.show_banner:
            dialog = self.banner.dialog_html(
                lang,
                prefill=consent.prefill,
                open=True,
                review=review,
                next_path=path,
                granted=consent.granted,
            )
        else:  # the script fetches the dialog if the visitor opens the settings
            dialog = self.banner.dialog_stub(lang, granted=consent.granted, next_path=path)
        body = (
            self.banner.assets_html(nonce=None)
            + dialog
            + self.banner.reopen_html(lang)
            + "".join(tags)
        )
        return head, body

    def with_nonce(self, snippets: _Snippets, nonce: str) -> tuple[str, str]:
        """The snippets with the page's CSP nonce on every script and style element."""
        attr = f' nonce="{html.escape(nonce, quote=True)}"'
        return _add_nonce(snippets.head, attr), _add_nonce(snippets.body, attr)

    def inert_hosts(self, granted: frozenset[str], lang: str | None = None) -> InertHosts:
        """Catalogued trackers whose category is not granted (prepared once per granted set
        and placeholder language)."""
        hosts = self._inert.get((granted, lang))
        if hosts is None:
            texts = self.banner.texts(lang or self.banner.language(None))
            hosts = InertHosts.from_catalogue(
                self._catalogue,
                granted,
                texts=EmbedTexts(
                    sentence=texts["embed_notice"],
                    load=texts["embed_load"],
                    always=texts["embed_always"],
                    settings=texts["reopen"],
                    settings_url=self.settings.endpoint_path.rstrip("/") + "/settings",
                ),
                nocookie=self.settings.youtube_nocookie,
            )
            if len(self._inert) < 1024:
                self._inert[(granted, lang)] = hosts
        return hosts

    def _language(self, language: bytes | None) -> str:
        lang = self._languages.get(language)
        if lang is None:
            lang = self.banner.language(language.decode("latin-1") if language else None)
            if len(self._languages) >= _CACHE_LIMIT:
                self._languages.clear()
            self._languages[language] = lang
        return lang

    def cookie_category(self, name: str) -> str | None:
        """The category of a cookie the app sets, ``None`` when no service declares it."""
        if name in self._cookie_categories:
            return self._cookie_categories[name]
        found = None
        for service in self.services:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in service.cookies):
                found = service.category
                break
        if len(self._cookie_categories) < _CACHE_LIMIT:
            self._cookie_categories[name] = found
        return found

    def keep_set_cookie(self, value: bytes, granted: frozenset[str]) -> bool:
        """Whether an app's ``Set-Cookie`` may pass for a visitor with ``granted``."""
        name = value.split(b"=", 1)[0].strip().decode("latin-1")
        if name == self.writer.name:
            return True
        category = self.cookie_category(name)
        if category is not None:
            return category in granted
        if self.undeclared == "block":
            return False
        if self.undeclared == "warn" and name not in self._warned and len(self._warned) < 1000:
            self._warned.add(name)
            log.warning(
                "consentgate: the app sets cookie %r, which no service declares; declare it "
                "under `services` (category 'necessary' if it is strictly necessary)",
                name,
            )
        return True

    def _start(
        self,
        message: Message,
        visit: Visit,
        scope: Scope,
        request_headers: dict[bytes, bytes],
        inject: bool,
        send: Send,
    ) -> tuple[Message, _Injection | None]:
        """The app's start message as it goes out, and the injection that follows it, if any."""
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
        if inject:
            status = message["status"]
            inject = (
                content_type[:9].lower() == b"text/html"
                and status >= 200
                and status not in _NO_BODY_STATUS
                and scope["method"] != "HEAD"
            )
            if inject and encoded:
                _log_compressed_once()
                inject = False
        # fail-closed: an HTML answer that gets no snippets still has its trackers held back
        rewrite = (
            not inject
            and not encoded
            and content_type[:9].lower() == b"text/html"
            and message["status"] >= 200
            and message["status"] not in _NO_BODY_STATUS
            and scope["method"] != "HEAD"
            and not (self.exclude and scope["path"].startswith(self.exclude))
            and bool(self.inert_hosts(visit.consent.granted))
        )
        if not inject and not rewrite and not set_cookie and not visit.resign:
            return message, None  # nothing to change: pass the app's message on as it is
        headers: list[tuple[bytes, bytes]] = list(raw)
        if set_cookie:
            granted = visit.consent.granted
            headers = [
                (k, v)
                for k, v in headers
                if k.lower() != b"set-cookie" or self.keep_set_cookie(v, granted)
            ]
        if visit.resign and visit.cookie is not None:
            value = self.codec.dumps(visit.cookie)
            lifetime = self.codec.remaining(visit.cookie, self.clock())
            https = visit.client.scheme == "https"
            headers.append((b"set-cookie", self.writer.consent(value, lifetime, https=https)))
        snippets = None
        if inject:
            language = request_headers.get(b"accept-language")
            if set_cookie or visit.resign:
                headers, snippets, _ = self._prepare_injection(headers, visit, scope, language)
            else:
                headers, snippets = self._prepared(raw, visit, scope, language)
        message = dict(message)
        message["headers"] = headers
        lang = self._language(request_headers.get(b"accept-language"))
        if rewrite:  # fail-closed: rewritten, no snippets
            message["headers"] = _rewritten_headers(headers)
            hosts = self.inert_hosts(visit.consent.granted, lang)
            return message, _Injection((b"", b""), hosts, self._memo, message, send, True)
        if snippets is None:
            return message, None
        hosts = self.inert_hosts(visit.consent.granted, lang)
        return message, _Injection(snippets, hosts, self._memo, message, send)

    def _prepared(
        self, raw: Any, visit: Visit, scope: Scope, language: bytes | None
    ) -> tuple[list[tuple[bytes, bytes]], tuple[bytes, bytes] | None]:
        """:meth:`_prepare_injection` for the app's own headers, remembered.

        Pages answer with the same few header lists again and again; what they become for
        visitors whose consent renders alike is remembered (not with a CSP, whose nonce
        usually changes on every response).
        """
        try:
            key = (tuple(raw), visit.render, language, scope["path"], scope.get("query_string"))
            found = self._prepared_starts.get(key)
        except TypeError:  # header pairs as lists: nothing to remember them by
            headers, snippets, _ = self._prepare_injection(list(raw), visit, scope, language)
            return headers, snippets
        if found is None:
            headers, snippets, reusable = self._prepare_injection(list(raw), visit, scope, language)
            found = (tuple(headers), snippets)
            if reusable:
                if len(self._prepared_starts) >= _CACHE_LIMIT:
                    self._prepared_starts.clear()
                self._prepared_starts[key] = found
        return list(found[0]), found[1]

    def _prepare_injection(
        self,
        headers: list[tuple[bytes, bytes]],
        visit: Visit,
        scope: Scope,
        language: bytes | None,
    ) -> tuple[list[tuple[bytes, bytes]], tuple[bytes, bytes] | None, bool]:
        """The start headers for an injected page, its snippets, and whether both can be
        reused for the same app headers, consent rendering, language and page."""
        content_type = b""
        policies: list[str] = []
        vary: list[bytes] = []
        cache_control: bytes | None = None
        kept = []
        for key, value in headers:
            lowered = key.lower()
            if lowered == b"content-length":
                continue
            if lowered == b"content-type":
                content_type = value
            elif lowered == b"content-security-policy":
                policies.append(value.decode("latin-1"))
            elif lowered == b"vary":
                vary.append(value)
                continue
            elif lowered == b"cache-control":
                cache_control = value
                continue
            kept.append((key, value))
        charset = _charset(content_type)
        if charset is None:
            # E.g. UTF-16: the markup cannot be found byte-wise; leave it alone.
            return headers, None, True
        nonce = next((n for n in map(csp_nonce, policies) if n), None) if policies else None
        query = scope.get("query_string")
        here = scope["path"] + "?" + query.decode("latin-1") if query else scope["path"]
        snippets = self.snippets(visit, here, language)
        if nonce is not None or policies or charset != "utf-8":
            head, body = snippets.head, snippets.body
            if nonce is not None:
                head, body = self.with_nonce(snippets, nonce)
            elif policies:
                hashes = [
                    script_hash(s.encode(charset, "xmlcharrefreplace"))
                    for s in inline_scripts(head + body)
                ]
                # Every policy must allow the scripts, so each one gets the hashes it lacks.
                kept = [
                    (k, _with_hashes(v, hashes) if k.lower() == b"content-security-policy" else v)
                    for k, v in kept
                ]
            head_bytes = head.encode(charset, "xmlcharrefreplace")
            body_bytes = body.encode(charset, "xmlcharrefreplace")
        else:
            head_bytes, body_bytes = snippets.head_bytes, snippets.body_bytes
        kept.append(_VARY_COOKIE if not vary else (b"vary", _merge_vary(vary)))
        kept.append(
            _PRIVATE if cache_control is None else (b"cache-control", _private(cache_control))
        )
        return kept, (head_bytes, body_bytes), not policies


async def _nothing() -> None:
    """An awaitable that does nothing."""


class _Injection:
    """One HTML response that gets snippets: its held start message and the body's injector."""

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


_TAG_OPEN = re.compile(r"<(script|link)\b(?![^>]*\snonce=)", re.IGNORECASE)


def _add_nonce(markup: str, attr: str) -> str:
    return _TAG_OPEN.sub(lambda m: m.group(0) + attr, markup)


class _Snippets(NamedTuple):
    head: str
    body: str
    head_bytes: bytes
    body_bytes: bytes


#: What the rendered snippets depend on (a Consent's hash would cover every field, slowly).
RenderKey = tuple[bool, frozenset[str], frozenset[str], str, bool, bool, bool, bool]
_NO_HEADERS: dict[bytes, bytes] = {}


def _render_key(consent: Consent) -> RenderKey:
    return (
        consent.show_banner,
        consent.granted,
        consent.prefill,
        consent.ads.value,
        consent.regulated,
        consent.decided,
        consent.gpc_opt_out,
        consent.consent_id is not None,
    )


_VARY_COOKIE = (b"vary", b"Cookie")
_PRIVATE = (b"cache-control", b"private")


@functools.lru_cache(maxsize=256)
def _charset(content_type: bytes) -> str | None:
    """The charset to encode snippets in, ``None`` when markup cannot be found byte-wise."""
    charset = charset_of(content_type.decode("latin-1"))
    return charset if ascii_compatible(charset) else None


#: ``Sec-Fetch-Dest`` values of requests whose response a browser may show as a page.
_PAGE_DESTINATIONS = frozenset(
    {b"document", b"iframe", b"frame", b"fencedframe", b"embed", b"object", b""}
)


def _shows_page(accept: bytes | None, destination: bytes | None) -> bool:
    """Whether the answer to a request with these ``Accept`` and ``Sec-Fetch-Dest`` values
    may be shown as a page: ``Accept`` names HTML, or it takes anything (missing, empty or
    ``*/*``) and the browser does not say that the answer is for something else."""
    if accept is not None and b"html" in accept:
        return True
    if accept is None or b"*/*" in accept or not accept.strip():
        return destination is None or destination.strip().lower() in _PAGE_DESTINATIONS
    return False


def _rewritten_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers of an HTML answer rewritten for the visitor's consent (fail-closed)."""
    kept: list[tuple[bytes, bytes]] = []
    vary: list[bytes] = []
    cache_control: bytes | None = None
    for key, value in headers:
        lowered = key.lower()
        if lowered == b"vary":
            vary.append(value)
        elif lowered == b"cache-control":
            cache_control = value
        elif lowered != b"content-length":
            kept.append((key, value))
    kept.append(_VARY_COOKIE if not vary else (b"vary", _merge_vary(vary)))
    kept.append(_PRIVATE if cache_control is None else (b"cache-control", _private(cache_control)))
    return kept


def _with_hashes(policy: bytes, hashes: list[str]) -> bytes:
    return csp_with_script_hashes(policy.decode("latin-1"), hashes).encode("latin-1")


_compressed_logged = False


def _log_compressed_once() -> None:
    global _compressed_logged
    if not _compressed_logged:
        _compressed_logged = True
        log.error(
            "consentgate: the app sent compressed HTML, which cannot be gated; put "
            "ConsentMiddleware inside the compression (GZipMiddleware outside it)"
        )


def _merge_vary(values: list[bytes]) -> bytes:
    names = [part.strip() for value in values for part in value.split(b",") if part.strip()]
    if not any(name.lower() == b"cookie" for name in names) and b"*" not in names:
        names.append(b"Cookie")
    return b", ".join(names)


def _private(cache_control: bytes | None) -> bytes:
    if cache_control is None:
        return b"private"
    lowered = cache_control.lower()
    if b"no-store" in lowered or b"private" in lowered:
        return cache_control
    parts = [
        part.strip()
        for part in cache_control.split(b",")
        if part.strip() and not part.strip().lower().startswith((b"public", b"s-maxage"))
    ]
    return b", ".join([b"private", *parts])
