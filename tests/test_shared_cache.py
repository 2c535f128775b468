"""A shared cache that follows RFC 9111 and RFC 9213 in front of the site never cross-serves.

The cache below stores what a shared cache may store (targeted ``CDN-Cache-Control``-style
fields first, as RFC 9213 says, then ``Cache-Control``), keys stored responses on the method,
the URL and the request headers named by ``Vary``, and serves a stored response to any later
request whose ``Vary`` headers match. For a mixed sequence of visitors and request kinds, every
response the cache serves must equal what consentgate produces for that request directly.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from consentgate import ConsentMiddleware
from consentgate.ledger import MemoryLedger

from .conftest import DE_IP, US_IP, FakeGeo, make_settings

PAGE = (
    b"<!doctype html><html><head><title>News</title></head><body><h1>News</h1>"
    b'<script src="https://www.googletagmanager.com/gtag/js?id=G-TEST12345"></script>'
    b"</body></html>"
)
FRAGMENT = (
    b'<li>item</li><script src="https://www.googletagmanager.com/gtag/js?id=G-TEST12345"></script>'
)
#: Every way an app tells caches to store a page: RFC 9111, RFC 9213 and vendor fields.
CACHEABLE = [
    (b"cache-control", b"public, max-age=600, s-maxage=600"),
    (b"cdn-cache-control", b"max-age=600"),
    (b"cloudflare-cdn-cache-control", b"max-age=600"),
    (b"surrogate-control", b"max-age=600"),
]
#: Targeted fields this cache obeys, most specific first (RFC 9213 §2.1).
TARGETED = (b"cloudflare-cdn-cache-control", b"cdn-cache-control", b"surrogate-control")
STORABLE_STATUS = {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}


def directives(value: bytes) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for match in re.finditer(rb'([^=,\s]+)\s*(?:=\s*("[^"]*"|[^,]*))?', value):
        out[match.group(1).decode().lower()] = (
            match.group(2).decode().strip('"') if match.group(2) is not None else None
        )
    return out


def may_store(method: str, status: int, headers: httpx.Headers) -> bool:
    """RFC 9111 §3 for a shared cache, with RFC 9213 targeted fields taking precedence."""
    if method != "GET" or status not in STORABLE_STATUS:
        return False
    if headers.get("vary", "").strip() == "*":
        return False
    for name in TARGETED:
        if name.decode() in headers:
            rules = directives(headers[name.decode()].encode())
            return "no-store" not in rules and "private" not in rules
    rules = directives(",".join(headers.get_list("cache-control")).encode())
    if "no-store" in rules or ("private" in rules and rules["private"] is None):
        return False
    return "public" in rules or "s-maxage" in rules or "max-age" in rules or "expires" in headers


@dataclass
class SharedCache:
    app: Any
    stored: list[tuple[str, dict[str, str], httpx.Response]] = field(default_factory=list)
    hits: int = 0

    async def get(self, url: str, headers: dict[str, str], ip: str) -> httpx.Response:
        request = {k.lower(): v for k, v in headers.items()}
        for stored_url, selecting, response in self.stored:
            if stored_url == url and all(request.get(k) == v for k, v in selecting.items()):
                self.hits += 1
                return response
        response = await fetch(self.app, url, headers, ip)
        if may_store("GET", response.status_code, response.headers):
            vary = [v.strip().lower() for v in response.headers.get("vary", "").split(",")]
            selecting = {name: request.get(name) for name in vary if name}
            self.stored.append((url, selecting, response))  # type: ignore[arg-type]
        return response


async def fetch(app: Any, url: str, headers: dict[str, str], ip: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://news.test") as c:
        return await c.get(url, headers=headers)


def cacheable_app(scope: dict[str, Any]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = FRAGMENT if scope["path"].startswith("/fragment") else PAGE
    return body, [(b"content-type", b"text/html; charset=utf-8"), *CACHEABLE]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body, headers = cacheable_app(scope)
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def site() -> ConsentMiddleware:
    return ConsentMiddleware(
        app,
        settings=make_settings(analytics={"provider": "ga4", "measurement_id": "G-TEST12345"}),
        ledger=MemoryLedger(),
        country_database=FakeGeo(),
    )


async def decided_cookie(gate: ConsentMiddleware, action: str) -> str:
    transport = httpx.ASGITransport(app=gate, client=(DE_IP, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://news.test") as c:
        response = await c.post("/_consent", data={"action": action})
    return f"consentgate={response.cookies['consentgate']}"


REQUEST_KINDS = {
    "navigation": {"accept": "text/html,application/xhtml+xml", "sec-fetch-dest": "document"},
    "json": {"accept": "application/json"},
    "fetch": {"accept": "*/*", "sec-fetch-dest": "empty"},
    "htmx": {"accept": "text/html", "sec-fetch-dest": "empty", "hx-request": "true"},
    "curl": {"accept": "*/*"},
    "german": {"accept": "text/html", "accept-language": "de-DE,de;q=0.9"},
    "gpc": {"accept": "text/html", "sec-gpc": "1"},
}


@pytest.mark.parametrize("order", ["as listed", "reversed"])
async def test_no_shared_cache_serves_one_visitors_html_to_another(order: str) -> None:
    gate = site()
    cookies = {
        "none": "",
        "accepted": await decided_cookie(gate, "accept_all"),
        "rejected": await decided_cookie(gate, "reject_all"),
    }
    paths, ips = ["/", "/fragment"], [DE_IP, US_IP]
    cases = list(itertools.product(paths, REQUEST_KINDS.items(), cookies.items(), ips))
    if order == "reversed":
        cases.reverse()
    cache = SharedCache(gate)
    served = 0
    for path, (kind, headers), (who, cookie), ip in cases:
        request = {**headers, **({"cookie": cookie} if cookie else {})}
        through_cache = await cache.get(path, request, ip)
        direct = await fetch(gate, path, request, ip)
        assert through_cache.content == direct.content, (path, kind, who, ip)
        served += 1
    assert served == len(cases) == 84
    assert cache.stored == []  # each of these answers depends on the visitor: none is storable


async def test_the_simulated_cache_does_store_and_serve_what_it_may() -> None:
    # The cache is real: without consentgate in front, the app's page is stored and served.
    cache = SharedCache(app)
    first = await cache.get("/", {"accept": "application/json"}, US_IP)
    second = await cache.get("/", {"accept": "text/html"}, DE_IP)
    assert cache.hits == 1
    assert second.content == first.content
