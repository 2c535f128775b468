"""The visit: from a request's scope and headers to the visitor's :class:`Consent`.

Client IP (trusted proxies) → country → consent cookie → :func:`~consentgate.policy.decide`.
Visitors come back page after page with the same few bytes, so each step is remembered in a
byte-bounded cache keyed on just the bytes that decide it, for as long as its answer holds.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, NamedTuple

from .cache import LRUCache, size_of
from .consent import Consent
from .cookie import ConsentCookie, CookieState
from .geo import CountryDatabase, RegulatedCountries, clean_country
from .policy import AdRules, Offer, decide
from .proxy import ClientInfo, ProxyResolver, header_map

__all__ = ["CACHE_BUDGETS", "Visit", "VisitResolver", "find_cookie", "request_headers"]

Scope = MutableMapping[str, Any]

#: Byte budgets of the visit caches (README "Security": bounded memory).
CACHE_BUDGETS = {
    "visits": 4 << 20,
    "consents": 2 << 20,
    "countries": 1 << 20,
    "render ids": 1 << 20,
}

_NO_HEADERS: Mapping[bytes, bytes] = {}


class Visit(NamedTuple):
    """What the middleware found out about one request before the app or an endpoint runs."""

    consent: Consent
    client: ClientInfo
    cookie: CookieState | None
    #: The cookie was verified with an older key and must be re-signed with the newest.
    resign: bool
    gpc: bool
    headers: Mapping[bytes, bytes]
    #: What the page snippets depend on (a cache key), and when this visit stops being valid.
    render: int = 0
    deadline: float = math.inf
    #: Every ``Set-Cookie`` the app sends passes for this visitor (nothing to filter).
    keeps_cookies: bool = False


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


def request_headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers as a dict (repeated names joined as HTTP allows)."""
    raw = scope.get("headers") or ()
    if type(raw) is not list:
        raw = list(raw)
    headers = dict(raw)  # a C-speed pass; repeated names (HTTP/2 cookies) are merged below
    if len(headers) != len(raw):
        headers = header_map(raw)
    return headers


#: What the rendered snippets depend on (a Consent's hash would cover every field, slowly).
RenderKey = tuple[bool, frozenset[str], frozenset[str], str, bool, bool, bool, bool, str | None]


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
        consent.tc_string,
    )


class VisitResolver:
    """Works out who is asking and what their consent allows."""

    def __init__(
        self,
        *,
        proxy: ProxyResolver,
        geo: CountryDatabase,
        forced_country: bool,
        regulated: RegulatedCountries,
        country_header: str | None,
        codec: ConsentCookie,
        cookie_name: str,
        offer: Offer,
        revision: int,
        rules: AdRules,
        optional: frozenset[str],
        filters_cookies: bool,
        annotate: Callable[[Consent, str | None], Consent] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.proxy = proxy
        self.geo = geo
        self.forced = forced_country
        self.regulated = regulated
        self.country_header = country_header.encode("latin-1") if country_header else None
        self.codec = codec
        self.cookie_name = cookie_name.encode("latin-1")
        self.offer = offer
        self.revision = revision
        self.rules = rules
        self.optional = optional
        self.filters_cookies = filters_cookies
        self.annotate = annotate
        self.clock = clock
        self._visits: LRUCache[tuple[object, ...], Visit] = LRUCache(
            CACHE_BUDGETS["visits"], name="visits"
        )
        self._consents: LRUCache[
            tuple[str | None, str | None, bool],
            tuple[Consent, float, CookieState | None, bool, int],
        ] = LRUCache(CACHE_BUDGETS["consents"], name="consents")
        self._countries: LRUCache[str | None, tuple[str | None]] = LRUCache(
            CACHE_BUDGETS["countries"], name="countries"
        )
        # Consents that render alike share one small id, never reused (a visit still holding
        # a dropped id only misses the snippet cache); TC strings make many of them.
        self._render_ids: LRUCache[RenderKey, int] = LRUCache(
            CACHE_BUDGETS["render ids"], name="render ids"
        )
        self._render_counter = itertools.count()
        # The headers that key visits; behind a trusted proxy also those that decide who the
        # client is.
        self._key_headers: tuple[bytes, ...] = (b"host", b"cookie", b"sec-gpc")
        if proxy.enabled:
            self._key_headers += (
                b"x-forwarded-for",
                b"forwarded",
                b"x-forwarded-proto",
                b"x-forwarded-host",
                *((self.country_header,) if self.country_header else ()),
            )

    def __call__(self, scope: Scope, headers: dict[bytes, bytes]) -> Visit:
        """The visit for a request (remembered per client, scheme, Host, ``Cookie`` header, GPC
        and, behind a proxy, the forwarded headers; a remembered one is used until its deadline).

        The whole ``Cookie`` header is part of the key: a visitor sends the same one page after
        page, and looking it up whole costs less than finding the consent cookie in it first.
        """
        client = scope.get("client")
        key: tuple[object, ...] = (
            client[0] if client else None,
            scope.get("scheme"),
            *map(headers.get, self._key_headers),
        )
        visit = self._visits.get(key)
        if visit is None or self.clock() >= visit.deadline:
            visit = self.resolve(scope, headers)
            self._visits.put(key, visit, size_of(*key) + 300)
        return visit

    def resolve(self, scope: Scope, headers: Mapping[bytes, bytes] | None = None) -> Visit:
        """Work out the visit afresh (the consent itself is still remembered)."""
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
            country = self.country(client.ip)
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
                revision=self.revision,
                country=country,
                regulated=self.regulated(country),
                cookie=cookie,
                gpc=gpc,
                rules=self.rules,
            )
            if self.annotate is not None:  # e.g. the TC string of this consent
                consent = self.annotate(consent, cookie.language if cookie is not None else None)
            # The judgement is remembered only for as long as it holds (a cookie dated in the
            # future becomes valid later; a valid one expires).
            deadline = self.codec.holds_until(value, now) if value else math.inf
            render_key = _render_key(consent)
            render = self._render_ids.get(render_key)
            if render is None:
                render = next(self._render_counter)
                self._render_ids.put(render_key, render, size_of(*render_key[1:3], render_key[8]))
            cached = (consent, deadline, cookie, resign, render)
            self._consents.put(key, cached, size_of(value) + 600)
        consent, deadline, cookie, resign, render = cached
        keeps = not self.filters_cookies and self.optional <= consent.granted
        return Visit(consent, client, cookie, resign, gpc, _NO_HEADERS, render, deadline, keeps)

    def country(self, ip: str | None) -> str | None:
        """The country of ``ip`` (remembered: the same visitors come back page after page)."""
        found = self._countries.get(ip)
        if found is not None:
            return found[0]
        country = None if ip is None and not self.forced else self.geo.country(ip or "")
        self._countries.put(ip, (country,), size_of(ip))
        return country
