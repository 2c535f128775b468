"""The consent endpoints under ``endpoint_path``: record, read, withdraw, settings, receipt, erase.

Every state-changing request must be same-origin (proxy-aware), must not come from a frame,
is rate limited per client IP (IPv6 per /64) and capped at 16 KiB (JSON nested at most
:data:`MAX_JSON_DEPTH` deep). Form posts answer ``303`` to a safe local ``next``; JSON gets
JSON. Each answer is built whole before its side effect (a ledger record, an erase), so no
request ever gets a ``500`` from here, least of all after changing something.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import logging
import re
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from functools import cache
from typing import Any

from publicsuffixlist import PublicSuffixList

from .banner import Banner
from .consent import Consent
from .cookie import ConsentCookie, CookieState, new_consent_id
from .integrations import ServiceSpec
from .ledger import ConsentRecord, Ledger
from .policy import Action, AdRules, Offer, choose, decide
from .proxy import ClientInfo
from .tcf.setup import TcfRuntime
from .visit import Visit

__all__ = [
    "MAX_BODY",
    "MAX_EXPIRED_NAMES",
    "MAX_EXPIRING_COOKIES",
    "MAX_JSON_DEPTH",
    "ConsentEndpoints",
    "CookieWriter",
    "RateLimiter",
    "Visit",
    "is_same_origin",
    "location",
    "parent_domains",
    "rate_key",
    "safe_next",
]

log = logging.getLogger("consentgate")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 16 * 1024
#: JSON bodies nested deeper than this get ``400`` (the consent shape needs 2 levels).
MAX_JSON_DEPTH = 8
#: A refusal expires at most this many distinct cookie names of the request ...
MAX_EXPIRED_NAMES = 32
#: ... with at most this many expiring ``Set-Cookie`` headers in all.
MAX_EXPIRING_COOKIES = 64
#: ``Sec-Fetch-Dest`` values of a document inside another page: never a consent change.
_FRAMES = frozenset({b"iframe", b"frame", b"embed", b"object", b"fencedframe"})
# What a Location may keep as it is; everything else (non-ASCII included) is percent-encoded.
_LOCATION_SAFE = "/?#&=+%:;@!$'()*,~[]"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
_JSON = b"application/json"
_PLAIN = b"text/plain; charset=utf-8"
_NO_STORE = (b"cache-control", b"no-store")


def safe_next(value: str | None) -> str:
    """``value`` if it is a plain local path, else ``/`` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in value):
        return "/"
    try:
        value.encode("utf-8")  # a lone surrogate (JSON "\ud800") cannot go into a URL
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc:
        return "/"
    return value


def location(value: str | None) -> bytes:
    """The ``Location`` header for ``next``: :func:`safe_next`, percent-encoded to ASCII."""
    return urllib.parse.quote(safe_next(value), safe=_LOCATION_SAFE).encode("ascii")


def _origin_of(url: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return _origin(parts.scheme, parts.netloc)


def _origin(scheme: str, netloc: str) -> str:
    netloc = netloc.lower().rsplit("@", 1)[-1]
    default = ":443" if scheme == "https" else ":80"
    netloc = netloc.removesuffix(default)
    return f"{scheme}://{netloc}"


def is_same_origin(
    headers: Mapping[bytes, bytes], client: ClientInfo, allowed: frozenset[str]
) -> bool:
    """The same-origin rule for state-changing requests (README: "Security")."""
    raw_origin = headers.get(b"origin")
    origin: str | None
    if raw_origin is not None:
        text = raw_origin.decode("latin-1").strip()
        if text == "null":
            return False
        origin = _origin_of(text)
        if origin is None:
            return False
    elif b"referer" in headers:
        origin = _origin_of(headers[b"referer"].decode("latin-1").strip())
        if origin is None:
            return False
    else:
        origin = None
    listed = origin is not None and origin in allowed
    fetch_site = headers.get(b"sec-fetch-site")
    if fetch_site is not None and fetch_site not in (b"same-origin", b"none") and not listed:
        return False
    if origin is None:
        return True  # a non-browser client: no Origin, no Referer
    own = _origin(client.scheme, client.host) if client.host else None
    return origin == own or listed


def rate_key(key: str) -> str:
    """The bucket of a client: an IPv6 address counts for its whole /64, anything else alone."""
    if ":" in key:
        try:
            return ipaddress.IPv6Network((key, 64), strict=False).with_prefixlen
        except ValueError:
            pass
    return key


class RateLimiter:
    """Token bucket per client: ``per_minute`` requests, bursting to the same amount.

    Keys are client IPs (IPv6 counted per /64, :func:`rate_key`) or any other string. At most
    ``max_keys`` buckets are kept; the least recently used one goes first.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max_keys = max_keys

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str) -> bool:
        """Take one token for ``key``; ``False`` when none is left."""
        key = rate_key(key)
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)  # bounded memory under address-spraying
        return allowed


class CookieWriter:
    """Builds ``Set-Cookie`` values for the consent cookie and for expiring other cookies."""

    def __init__(
        self, *, name: str, domain: str | None, samesite: str, secure: bool | None
    ) -> None:
        self.name = name
        self.domain = domain
        self.samesite = samesite.capitalize()
        self.secure = secure

    def _tail(self, https: bool) -> str:
        domain = f"; Domain={self.domain}" if self.domain else ""
        secure = self.secure if self.secure is not None else https
        return f"; Path=/{domain}; HttpOnly; SameSite={self.samesite}" + (
            "; Secure" if secure else ""
        )

    def consent(self, value: str, max_age: int, *, https: bool) -> bytes:
        """The consent cookie with ``max_age`` seconds to live."""
        return f"{self.name}={value}; Max-Age={max_age}{self._tail(https)}".encode("latin-1")

    def clear_consent(self, *, https: bool) -> bytes:
        """Expire the consent cookie."""
        return f'{self.name}=""; Max-Age=0; Expires={_EPOCH}{self._tail(https)}'.encode("latin-1")


def cookie_names(cookie_header: str) -> list[str]:
    """The names of the cookies in a request's ``Cookie`` header."""
    names = []
    for part in cookie_header.split(";"):
        name, sep, _ = part.partition("=")
        if sep and name.strip():
            names.append(name.strip())
    return names


@cache
def _public_suffixes() -> PublicSuffixList:
    # The list shipped inside the package (offline); loaded once per process.
    return PublicSuffixList()


def _hostname(host: str | None) -> str | None:
    """The DNS name in a ``Host`` value (port dropped, lowercase); ``None`` for IPs and junk."""
    if not host or host.startswith("["):
        return None
    name, sep, port = host.rpartition(":")
    if not sep:
        name = port
    elif not port.isdigit():
        return None
    name = name.lower().removesuffix(".")
    if len(name) > 253:
        return None
    labels = name.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return name


def parent_domains(host: str | None, *, cookie_domain: str | None = None) -> list[str]:
    """``www.example.test`` → ``[www.example.test, example.test]``: the domains a cookie of
    that host may live on, down to its registrable domain (public suffix list), never above
    ``cookie_domain`` when one is set; none for IP addresses, single labels, public suffixes
    and names that are not valid hostnames.
    """
    hostname = _hostname(host)
    if hostname is None:
        return []
    registrable = _public_suffixes().privatesuffix(hostname)
    if registrable is None:
        return []
    labels = hostname.split(".")
    domains = [".".join(labels[i:]) for i in range(len(labels) - registrable.count("."))]
    if cookie_domain:
        cookie_domain = cookie_domain.lower().strip(".")
        domains = [d for d in domains if d == cookie_domain or d.endswith("." + cookie_domain)]
    return domains


def expire_cookies(
    present: Sequence[str],
    services: Iterable[ServiceSpec],
    refused: frozenset[str],
    host: str | None,
    *,
    cookie_domain: str | None = None,
) -> list[bytes]:
    """Expiring ``Set-Cookie`` values for cookies of refused categories the browser sent.

    Each matching name gets one host-only header and one per :func:`parent_domains` entry,
    without repeats, for at most :data:`MAX_EXPIRED_NAMES` names and
    :data:`MAX_EXPIRING_COOKIES` headers in all, however large the request.
    """
    globs = [
        (service.cookie_path, service.cookies)
        for service in services
        if service.category in refused and service.cookies
    ]
    if not globs:
        return []
    domains: list[str] | None = None
    headers: list[bytes] = []
    names = 0
    for name in dict.fromkeys(present):
        paths = [path for path, patterns in globs if _matches(name, patterns)]
        if not paths or not _TOKEN.fullmatch(name):
            continue
        names += 1
        if names > MAX_EXPIRED_NAMES:
            break
        if domains is None:
            domains = parent_domains(host, cookie_domain=cookie_domain)
        for path in dict.fromkeys(paths):
            base = f"{name}=; Max-Age=0; Expires={_EPOCH}; Path={path}"
            for value in (base, *(f"{base}; Domain={d}" for d in domains)):
                if len(headers) == MAX_EXPIRING_COOKIES:
                    return headers
                headers.append(value.encode("latin-1"))
    return headers


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


class _Reject(Exception):
    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = _PLAIN,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Send a complete response."""
    raw = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _json_body(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class ConsentEndpoints:
    """Serves ``{endpoint_path}``, ``/settings``, ``/receipt``, ``/erase`` and ``/assets/…``."""

    def __init__(
        self,
        *,
        endpoint_path: str,
        offer: Offer,
        revision: int,
        rules: AdRules,
        codec: ConsentCookie,
        writer: CookieWriter,
        banner: Banner,
        ledger: Ledger,
        services: Sequence[ServiceSpec],
        allowed_origins: Iterable[str],
        limiter: RateLimiter,
        clock: Callable[[], float] = time.time,
        tcf: TcfRuntime | None = None,
    ) -> None:
        self.path = endpoint_path
        self.offer = offer
        self.revision = revision
        self.rules = rules
        self.codec = codec
        self.writer = writer
        self.banner = banner
        self.ledger = ledger
        self.services = tuple(services)
        self.allowed = frozenset(allowed_origins)
        self.limiter = limiter
        self.clock = clock
        self.tcf = tcf
        self._prefix = endpoint_path + "/"
        self._assets_prefix = endpoint_path + "/assets/"
        self._proxy_hint_logged = False
        if any(service.cookies for service in self.services):
            _public_suffixes()  # load the list at start-up, not during the first refusal

    def handles(self, path: str) -> bool:
        """Whether ``path`` belongs to the endpoints."""
        return path.startswith(self._prefix) or path == self.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send, visit: Visit) -> None:
        """Answer one request under ``endpoint_path``."""
        try:
            await self._dispatch(scope, receive, send, visit)
        except _Reject as reject:
            body = {"error": reject.error}
            if reject.detail:
                body["detail"] = reject.detail
            await send_response(
                send, reject.status, _json_body(body), content_type=_JSON, headers=[_NO_STORE]
            )

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, visit: Visit) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(self._assets_prefix):
            await self._asset(send, method, path[len(self._assets_prefix) :])
            return
        sub = path[len(self.path) :].rstrip("/")
        routes: dict[str, dict[str, Callable[[], Awaitable[None]]]] = {
            "": {
                "GET": lambda: self._get(send, visit),
                "HEAD": lambda: self._get(send, visit),
                "POST": lambda: self._post(scope, receive, send, visit, None),
                "DELETE": lambda: self._post(scope, receive, send, visit, Action.WITHDRAW),
            },
            "/settings": {
                "GET": lambda: self._settings(scope, send, visit),
                "HEAD": lambda: self._settings(scope, send, visit),
            },
            "/dialog": {
                "GET": lambda: self._dialog(scope, send, visit),
                "HEAD": lambda: self._dialog(scope, send, visit),
            },
            "/receipt": {"GET": lambda: self._receipt(send, visit)},
            "/erase": {"POST": lambda: self._erase(scope, receive, send, visit)},
        }
        methods = routes.get(sub)
        if methods is None:
            raise _Reject(404, "not_found")
        handler = methods.get(method)
        if handler is None:
            allow = ", ".join(sorted(methods)).encode()
            await send_response(send, 405, b"Method Not Allowed", headers=[(b"allow", allow)])
            return
        await handler()

    # -- reading -------------------------------------------------------------------------
    def state(self, consent: Consent) -> dict[str, Any]:
        """The JSON shape of ``GET {endpoint_path}``."""
        return {
            "consent": consent.as_dict(),
            "categories": [
                {
                    "name": name,
                    "required": name in self.offer.required,
                    "granted": consent.allows(name),
                    "prefill": name in consent.prefill,
                }
                for name in self.offer.categories
            ],
            "services": [
                {
                    "name": s.name,
                    "category": s.category,
                    "description": s.description,
                    "vendor": s.vendor,
                    "privacy_url": s.privacy_url,
                    "cookies": list(s.cookies),
                }
                for s in self.services
            ],
        }

    async def _get(self, send: Send, visit: Visit) -> None:
        await send_response(
            send,
            200,
            _json_body(self.state(visit.consent)),
            content_type=_JSON,
            headers=[_NO_STORE, (b"vary", b"Cookie")],
        )

    async def _settings(self, scope: Scope, send: Send, visit: Visit) -> None:
        query, lang = self._query_and_language(scope, visit)
        consent = visit.consent
        granted = consent.granted if consent.decided else (consent.prefill | self.offer.required)
        page = self.banner.settings_page(
            lang,
            granted=granted,
            decided=consent.decided,
            consent_id=consent.consent_id,
            next_path=safe_next(query.get("next", [""])[0]),
            nonce=None,
            saved="saved" in query,
        )
        await _send_visitor_html(send, page)

    def _query_and_language(self, scope: Scope, visit: Visit) -> tuple[dict[str, list[str]], str]:
        """The request's query parameters, and the banner language its Accept-Language picks."""
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return query, self._language(visit)

    def _language(self, visit: Visit) -> str:
        """The banner language the request's Accept-Language picks."""
        return self.banner.language(_text(visit.headers.get(b"accept-language")))

    async def _dialog(self, scope: Scope, send: Send, visit: Visit) -> None:
        # The hidden dialog a page's script asks for when the visitor opens the settings.
        query, lang = self._query_and_language(scope, visit)
        consent = visit.consent
        fragment = self.banner.dialog_html(
            lang,
            prefill=consent.prefill,
            open=False,
            review=False,
            next_path=safe_next(query.get("next", [""])[0]),
            granted=consent.granted,
        )
        await _send_visitor_html(send, fragment)

    async def _receipt(self, send: Send, visit: Visit) -> None:
        consent_id = visit.cookie.consent_id if visit.cookie is not None else None
        records = await self._ledger_call(self.ledger.records_for, consent_id) if consent_id else []
        body = {"consent_id": consent_id, "records": records}
        await send_response(send, 200, _json_body(body), content_type=_JSON, headers=[_NO_STORE])

    async def _asset(self, send: Send, method: str, name: str) -> None:
        found = self.banner.asset(name) if method in ("GET", "HEAD") else None
        if found is None:
            raise _Reject(404, "not_found")
        body, content_type = found
        await send_response(
            send,
            200,
            body,
            content_type=content_type.encode(),
            headers=[(b"cache-control", b"public, max-age=31536000, immutable")],
        )

    # -- changing ------------------------------------------------------------------------
    def _guard(self, scope: Scope, visit: Visit) -> None:
        client = visit.client
        # Clients a forwarded header left unknown share one bucket per proxy.
        key = client.ip or (f"unknown via {client.peer}" if client.peer else None)
        exempt = key is None or client.ip in ("127.0.0.1", "::1") or client.peer_is_proxy
        if not exempt and key is not None and not self.limiter.allow(key):
            raise _Reject(429, "rate_limited", "too many consent changes; try again in a minute")
        if visit.headers.get(b"sec-fetch-dest") in _FRAMES:
            # Clickjacking: consentgate's own forms never post from inside a frame.
            raise _Reject(403, "framed", "consent cannot be changed from inside a frame")
        if not is_same_origin(visit.headers, client, self.allowed):
            if not self._proxy_hint_logged and _behind_untrusted_tls_proxy(visit.headers, client):
                self._proxy_hint_logged = True
                log.warning(
                    "consentgate: refused a consent change from an https page that reached "
                    "this server over plain http: if a TLS proxy or load balancer sits in "
                    "front, list its address in trusted_proxies (and set forwarded_headers to "
                    "the headers it sends) so the site's https origin is recognised"
                )
            raise _Reject(403, "cross_origin", "consent can only be changed from this site")
        length = visit.headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise _Reject(413, "too_large", f"bodies are limited to {MAX_BODY} bytes")

    async def _read_body(self, receive: Receive) -> bytes:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Reject(400, "disconnected")
            chunk: bytes = message.get("body", b"")
            body += chunk
            if len(body) > MAX_BODY:
                raise _Reject(413, "too_large", f"bodies are limited to {MAX_BODY} bytes")
            if not message.get("more_body", False):
                return body

    async def _form(self, receive: Receive, visit: Visit) -> tuple[dict[str, list[str]], bool]:
        body = await self._read_body(receive)
        content_type = visit.headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type == _JSON:
            if _nested_deeper(body, MAX_JSON_DEPTH):
                raise _Reject(400, "invalid_json", f"nested deeper than {MAX_JSON_DEPTH} levels")
            try:
                data = json.loads(body or b"{}")
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise _Reject(400, "invalid_json") from None
            if not isinstance(data, dict):
                raise _Reject(400, "invalid_json", "send a JSON object")
            fields: dict[str, list[str]] = {}
            for key, value in data.items():
                values = value if isinstance(value, list) else [value]
                if not all(isinstance(v, str) for v in values):
                    raise _Reject(400, "invalid_field", f"{key!r} must be a string or strings")
                fields[str(key)] = values
            return fields, True
        try:
            fields = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=False)
        except UnicodeDecodeError:
            raise _Reject(400, "invalid_form") from None
        accept = visit.headers.get(b"accept", b"")
        return fields, accept.startswith(_JSON)

    async def _post(
        self, scope: Scope, receive: Receive, send: Send, visit: Visit, forced: Action | None
    ) -> None:
        self._guard(scope, visit)
        fields, wants_json = await self._form(receive, visit)
        if forced is not None:
            action = forced
            wants_json = wants_json or scope["method"] == "DELETE"
        else:
            try:
                action = Action(fields.get("action", [""])[0])
            except ValueError:
                raise _Reject(
                    400, "unknown_action", "action must be accept_all, reject_all, save or withdraw"
                ) from None
        requested = fields.get("categories", [])
        unknown = sorted(set(requested) - set(self.offer.categories))
        if unknown:
            raise _Reject(400, "unknown_category", ", ".join(unknown))
        granted = choose(self.offer, action, requested)
        if self.tcf is not None:  # TCF: objections and the advertising grant
            granted = self.tcf.refine(action.value, granted)
        now = self.clock()
        # TCF: the TC string names the language the banner was shown in.
        language = self._language(visit) if self.tcf is not None else None
        state = CookieState(
            consent_id=visit.consent.consent_id or new_consent_id(),
            revision=self.revision,
            granted=self.offer.to_codes(granted - self.offer.required),
            refused=self.offer.to_codes(set(self.offer.optional) - granted),
            decided_at=int(now),
            offer=self.offer.hash,
            gpc=visit.gpc,
            language=language,
        )
        consent = decide(
            offer=self.offer,
            revision=self.revision,
            country=visit.consent.country,
            regulated=visit.consent.regulated,
            cookie=state,
            gpc=visit.gpc,
            rules=self.rules,
        )
        https = visit.client.scheme == "https"
        headers = [
            (
                b"set-cookie",
                self.writer.consent(self.codec.dumps(state), self.codec.max_age, https=https),
            )
        ]
        if self.tcf is not None:  # TCF: the TC string, in the consent and its own cookie
            consent = self.tcf.annotate(consent, language)
            if consent.tc_string:
                headers.append((b"set-cookie", self.tcf.cookie(consent.tc_string, https=https)))
        refused = frozenset(self.offer.categories) - granted
        present = cookie_names(_text(visit.headers.get(b"cookie")) or "")
        expiring = expire_cookies(
            present,
            self.services,
            refused,
            visit.client.host,
            cookie_domain=self.writer.domain,
        )
        headers += [(b"set-cookie", value) for value in expiring]
        headers.append(_NO_STORE)
        # The whole answer is ready before anything is recorded.
        if wants_json:
            status, body, content_type = 200, _json_body(self.state(consent)), _JSON
        else:
            status, body, content_type = 303, b"", _PLAIN
            headers.append((b"location", location(fields.get("next", ["/"])[0])))
        self._record(visit, action.value, state.consent_id, granted, consent.tc_string)
        await send_response(send, status, body, content_type=content_type, headers=headers)

    def _record(
        self,
        visit: Visit,
        action: str,
        consent_id: str,
        granted: frozenset[str],
        tc_string: str | None = None,
    ) -> None:
        lang = self._language(visit)
        bundle_hash = self.banner.bundle_hash(lang)
        try:
            self.ledger.store_bundle(bundle_hash, self.banner.bundle(lang))
            self.ledger.record(
                ConsentRecord(
                    consent_id=consent_id,
                    action=action,
                    granted=tuple(name for name in self.offer.categories if name in granted),
                    revision=self.revision,
                    country=visit.consent.country,
                    regulated=visit.consent.regulated,
                    ip=visit.client.ip,
                    gpc=visit.gpc,
                    language=lang,
                    bundle_hash=bundle_hash,
                    tc_string=tc_string,
                )
            )
        except Exception:  # the visitor's choice stands even if the ledger misbehaves
            log.exception("consentgate: the ledger refused a record")

    async def _erase(self, scope: Scope, receive: Receive, send: Send, visit: Visit) -> None:
        self._guard(scope, visit)
        fields, wants_json = await self._form(receive, visit)
        consent_id = visit.cookie.consent_id if visit.cookie is not None else None
        https = visit.client.scheme == "https"
        headers = [(b"set-cookie", self.writer.clear_consent(https=https)), _NO_STORE]
        if self.tcf is not None:  # TCF: the TC string goes with the consent
            headers.append((b"set-cookie", self.tcf.expired_cookie(https=https)))
        if not wants_json:  # the whole answer is ready before anything is erased
            headers.append((b"location", location(fields.get("next", ["/"])[0])))
        erased = await self._ledger_call(self.ledger.erase, consent_id) if consent_id else 0
        if wants_json:
            await send_response(
                send, 200, _json_body({"erased": erased}), content_type=_JSON, headers=headers
            )
        else:
            await send_response(send, 303, b"", headers=headers)

    async def _ledger_call(self, func: Callable[[str], Awaitable[Any]], consent_id: str) -> Any:
        try:
            return await func(consent_id)
        except Exception:
            log.exception("consentgate: the ledger is unavailable")
            raise _Reject(503, "ledger_unavailable", "try again later") from None


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _nested_deeper(body: bytes, limit: int) -> bool:
    """Whether the JSON text ``body`` opens more than ``limit`` arrays/objects at once."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte == 0x5B or byte == 0x7B:  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte == 0x5D or byte == 0x7D:  # ] }
            depth -= 1
    return False


def _behind_untrusted_tls_proxy(headers: Mapping[bytes, bytes], client: ClientInfo) -> bool:
    """An https page's request that arrived over http from a peer not trusted as a proxy."""
    origin = headers.get(b"origin")
    if client.via_proxy or client.scheme != "http" or not client.host or origin is None:
        return False
    return _origin_of(origin.decode("latin-1").strip()) == _origin("https", client.host)


async def _send_visitor_html(send: Send, markup: str) -> None:
    """``200`` with HTML made for this visitor: never stored, varying by cookie and language,
    and never framed by another site (clickjacking)."""
    await send_response(
        send,
        200,
        markup.encode(),
        content_type=b"text/html; charset=utf-8",
        headers=[
            _NO_STORE,
            (b"vary", b"Cookie, Accept-Language"),
            (b"content-security-policy", b"frame-ancestors 'self'"),
            (b"x-frame-options", b"SAMEORIGIN"),
        ],
    )
