"""``ConsentMiddleware``: the only module that speaks ASGI; it wires the others together.

Per request: the visit (:mod:`.visit`: client IP, country, consent cookie, decision) goes into
``scope["state"]["consent"]``; then either a consent endpoint answers (:mod:`.endpoints`), or
the app does and its response goes out through :mod:`.response` (cookies filtered, HTML made
private to caches and rewritten, with the snippets of :mod:`.page` on pages).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .banner import Banner, CategoryInfo, ServiceInfo
from .catalogue import Catalogue
from .consent import AdMode
from .cookie import ConsentCookie
from .disclosure import effective_services, google_config
from .endpoints import ConsentEndpoints, CookieWriter, RateLimiter
from .errors import ConfigError
from .geo import CountryDatabase, FixedCountry, RegulatedCountries, open_database
from .integrations import ServiceSpec
from .integrations.google import GoogleTags
from .ledger import Ledger, open_ledger
from .page import PageRenderer, allows_html, shows_page
from .policy import AdRules, Offer
from .proxy import ProxyResolver
from .response import CookieFilter, Responder
from .scope import check_mounting  # mounting check
from .settings import ConsentSettings
from .tcf.setup import prepare_tcf
from .visit import Visit, VisitResolver, find_cookie, request_headers

__all__ = ["ConsentMiddleware", "find_cookie"]

log = logging.getLogger("consentgate")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: What ``ConsentMiddleware`` wraps: frameworks type their scopes as TypedDicts, which no one
#: precise signature accepts, so any callable returning an awaitable type-checks.
AnyASGIApp = Callable[..., Awaitable[None]]

#: Server extensions that send a body without ``http.response.body`` messages, out of reach of
#: the rewriting: removed from the scope the app sees.
_BODY_EXTENSIONS = ("http.response.pathsend", "http.response.zerocopysend")


class ConsentMiddleware:
    """Pure-ASGI consent middleware.

    ``ConsentMiddleware(app, settings=ConsentSettings(...))``; the visitor's
    :class:`~consentgate.Consent` is in ``scope["state"]["consent"]``. ``ledger`` and
    ``country_database`` replace the ones the settings would build (tests, custom storage);
    ``clock`` returns Unix seconds.
    """

    def __init__(
        self,
        app: AnyASGIApp,  # framework typing: any ASGI callable (Litestar, Quart type theirs)
        *,
        settings: ConsentSettings | None = None,
        ledger: Ledger | None = None,
        country_database: CountryDatabase | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_mounting(app)  # mounting check: Litestar's per-route middleware is refused
        self.app = app
        settings = settings if settings is not None else ConsentSettings()
        # TCF: its choices become categories; self.tcf makes TC strings (None when off).
        settings, self.tcf = prepare_tcf(settings)
        self.settings = settings
        self.clock = clock
        keys = settings.require_secret_keys()
        for warning in settings.warnings():
            log.warning("consentgate: %s", warning)
        if ledger is None and (notice := settings.ledger_notice()):  # default ledger location
            log.warning("consentgate: %s", notice)

        geo: CountryDatabase
        if settings.force_country:
            geo = FixedCountry(settings.force_country)
        else:
            geo = country_database or open_database(settings.geoip_database)
        google = google_config(settings)
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
        self.codec = codec = ConsentCookie(keys, max_age=settings.consent_max_age_days * 86_400)
        self.visits = VisitResolver(
            proxy=ProxyResolver(settings.trusted_proxies, headers=settings.forwarded_headers),
            geo=geo,
            forced_country=settings.force_country is not None,
            regulated=RegulatedCountries(
                settings.regulated_countries,
                unknown_regulated=settings.unknown_country == "regulated",
            ),
            country_header=settings.country_header,
            codec=codec,
            cookie_name=settings.cookie_name,
            offer=self.offer,
            revision=settings.policy_revision,
            rules=self.rules,
            optional=frozenset(c.name for c in settings.categories),
            filters_cookies=settings.undeclared_cookies == "block",
            annotate=self.tcf.annotate if self.tcf is not None else None,
            clock=clock,
        )
        writer = CookieWriter(
            name=settings.cookie_name,
            domain=settings.cookie_domain,
            samesite=settings.cookie_samesite,
            secure=settings.cookie_secure,
        )
        self.banner = _banner(settings, self.services)
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
            codec=codec,
            writer=writer,
            banner=self.banner,
            ledger=self.ledger,
            services=self.services,
            allowed_origins=settings.allowed_origins,
            limiter=RateLimiter(settings.rate_limit_per_minute),
            clock=clock,
            tcf=self.tcf,
        )
        self.page = PageRenderer(
            banner=self.banner,
            google=GoogleTags(google),
            services=self.services,
            # Trackers held back in every HTML answer: the catalogue plus declared services.
            catalogue=Catalogue.builtin().with_services(
                (s.name, s.category, s.hosts) for s in self.services
            ),
            settings_url=settings.endpoint_path.rstrip("/") + "/settings",
            youtube_nocookie=settings.youtube_nocookie,
            head_first=self.tcf.head_html if self.tcf is not None else None,
        )
        self.responder = Responder(
            page=self.page,
            cookies=CookieFilter(
                services=self.services,
                consent_cookie=settings.cookie_name,
                undeclared=settings.undeclared_cookies,
            ),
            codec=codec,
            writer=writer,
            clock=clock,
        )
        self.exclude = tuple(settings.exclude_paths)
        #: Every endpoint path starts with it (a cheap first test before ``handles``).
        self._endpoint_prefix = settings.endpoint_path
        # Browsers send a handful of distinct Accept / Sec-Fetch-Dest values.
        self._page_requests: dict[tuple[bytes | None, bytes | None], tuple[bool, bool]] = {}
        self._started = False
        self._start_lock = asyncio.Lock()

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
        headers = request_headers(scope)
        visit = self.visits(scope, headers)
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["consent"] = visit.consent
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self._endpoint_prefix) and self.endpoints.handles(path):
            await self.endpoints(scope, receive, send, visit._replace(headers=headers))
            return
        # Whether the answer may be HTML (Accept) and shown as a page (Accept, and
        # Sec-Fetch-Dest when Accept takes anything: "*/*" from fetch() is never a page).
        get = headers.get
        wants = (get(b"accept"), get(b"sec-fetch-dest"))
        kinds = self._page_requests.get(wants)
        if kinds is None:
            kinds = (allows_html(wants[0]), shows_page(*wants))
            if len(self._page_requests) < 256 and sum(map(len, filter(None, wants))) < 512:
                self._page_requests[wants] = kinds
        rewrite = not (self.exclude and path.startswith(self.exclude))
        if kinds[0] and b"accept-encoding" in headers:
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
        extensions = scope.get("extensions")
        if (
            extensions
            and rewrite
            and (
                "http.response.pathsend" in extensions or "http.response.zerocopysend" in extensions
            )
        ):
            scope = dict(scope)
            scope["extensions"] = {k: v for k, v in extensions.items() if k not in _BODY_EXTENSIONS}
        await self.app(
            scope,
            receive,
            self.responder.wrap(visit, scope, headers, kinds[1] and rewrite, rewrite, send),
        )

    def visit(self, scope: Scope, headers: dict[bytes, bytes] | None = None) -> Visit:
        """Work out who is asking and what their consent allows (not remembered)."""
        return self.visits.resolve(scope, headers)

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


def _banner(settings: ConsentSettings, services: tuple[ServiceSpec, ...]) -> Banner:
    """The banner for the settings' categories, texts and languages."""
    try:
        return Banner(
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
                        for s in services
                        if s.category == c.name
                    ),
                )
                for c in settings.categories
            ],
            consent_max_age_days=settings.consent_max_age_days,
            block_page=settings.banner.block_page,  # banner layout setting
        )
    except ValueError as exc:
        raise ConfigError(f"banner: {exc}") from None
