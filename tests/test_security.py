"""Defences that only show under attack: bounded caches, server body extensions, cache headers,
judgements that must not outlive their reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import FileResponse

from consentgate import ConsentMiddleware
from consentgate.cache import LRUCache, size_of
from consentgate.cookie import ConsentCookie, CookieState
from consentgate.ledger import MemoryLedger
from consentgate.page import CACHE_BUDGETS as PAGE_BUDGETS
from consentgate.visit import CACHE_BUDGETS as VISIT_BUDGETS

from .conftest import DE_IP, KEY, PAGE, FakeGeo, client, gate, html_app, make_settings

TRACKER = b'<script src="https://www.googletagmanager.com/gtag/js?id=G-TEST12345"></script>'

# -- the cache type ---------------------------------------------------------------------------


def test_cache_evicts_the_least_recently_used_entry_first() -> None:
    cache: LRUCache[str, int] = LRUCache(1200)
    for name in "abcd":
        cache.put(name, ord(name), 300)
    assert cache.get("a") == ord("a")  # "b" is now the least recently used
    cache.put("e", 5, 300)
    assert "b" not in cache
    assert [name in cache for name in "acde"] == [True, True, True, True]
    assert cache.used == 1200


def test_cache_keeps_an_entry_used_all_along_while_newer_ones_come_and_go() -> None:
    cache: LRUCache[int, int] = LRUCache(100 * 300)  # 100 entries of 300 B
    cache.put(-1, -1, 300)
    for number in range(5_000):
        assert cache.get(-1) == -1, number
        cache.put(number, number, 300)
    assert len(cache) == 100
    # Entries used once leave oldest first: the hot one and the newest 99 are left.
    assert [n in cache for n in (4_900, 4_901, 4_999)] == [False, True, True]


def test_cache_never_holds_more_bytes_than_its_budget() -> None:
    cache: LRUCache[int, bytes] = LRUCache(10_000)
    for number in range(5_000):
        value = b"x" * (number % 2_000)
        cache.put(number, value, size_of(value))
        assert cache.used <= 10_000
    assert 0 < len(cache) < 100


def test_cache_refuses_an_entry_larger_than_a_quarter_of_its_budget() -> None:
    cache: LRUCache[str, str] = LRUCache(1000)
    cache.put("small", "v", 200)
    cache.put("huge", "v", 251)
    assert "huge" not in cache
    assert "small" in cache


def test_cache_replacing_a_key_counts_its_bytes_once() -> None:
    cache: LRUCache[str, str] = LRUCache(1000)
    for _ in range(10):
        cache.put("same", "v", 200)
    assert cache.used == 200
    assert len(cache) == 1


# -- bounded memory whatever the input -------------------------------------------------------


async def test_hostile_cookies_paths_and_languages_keep_every_cache_within_its_budget() -> None:
    app, _ = gate()
    filler = "x" * 6000
    async with client(app) as c:
        for number in range(1500):
            await c.get(
                f"/{number}/{filler}",
                headers={
                    "cookie": f"consentgate={number}{filler}; other={filler}",
                    "accept-language": f"de-{number};q=0.{number % 9}, {filler[:500]}",
                    "accept": "text/html",
                },
            )
    caches = {
        "visits": app.visits._visits,
        "consents": app.visits._consents,
        "countries": app.visits._countries,
        "snippets": app.page._snippets,
        "prepared starts": app.page._starts,
        "languages": app.page._languages,
    }
    budgets = {**VISIT_BUDGETS, **PAGE_BUDGETS}
    for name, cache in caches.items():
        assert cache.used <= budgets[name], name
    # 1,500 requests of 12 KB each would be 18 MB if kept: the visits cache is full, not more.
    assert app.visits._visits.used > VISIT_BUDGETS["visits"] // 2
    assert len(app.page._snippets) < 1500


# -- server extensions that would bypass the rewriting ----------------------------------------


async def run_with_pathsend(app: Any, path: str) -> tuple[dict[str, Any], bytes, list[str]]:
    """Call ``app`` as a server offering ``http.response.pathsend`` does."""
    kinds: list[str] = []
    start: dict[str, Any] = {}
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        kinds.append(message["type"])
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
        elif message["type"] == "http.response.pathsend":
            body.extend(await asyncio.to_thread(Path(message["path"]).read_bytes))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"accept", b"text/html"), (b"host", b"site.test")],
        "client": (DE_IP, 1),
        "server": ("127.0.0.1", 80),
        "scheme": "http",
        "extensions": {"http.response.pathsend": {}},
    }
    await app(scope, receive, send)
    return start, bytes(body), kinds


async def test_a_file_sent_with_pathsend_is_still_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(PAGE.replace(b"</body>", TRACKER + b"</body>"))

    async def files(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await FileResponse(page, media_type="text/html")(scope, receive, send)

    app, _ = gate(files)
    start, body, kinds = await run_with_pathsend(app, "/page.html")
    assert "http.response.pathsend" not in kinds
    assert b'id="consentgate-banner"' in body
    assert b'type="text/plain" data-consentgate-category="analytics"' in body
    assert b'<script src="https://www.googletagmanager.com' not in body
    assert dict(start["headers"])[b"cache-control"].startswith(b"private")


async def test_pathsend_stays_offered_on_excluded_paths(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def files(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await html_app()(scope, receive, send)

    app, _ = gate(files, exclude_paths=["/static/"])
    await run_with_pathsend(app, "/static/app.js")
    await run_with_pathsend(app, "/page")
    assert "http.response.pathsend" in seen[0]["extensions"]
    assert "http.response.pathsend" not in seen[1]["extensions"]


# -- cache headers of HTML whose bytes depend on the request ----------------------------------


@pytest.mark.parametrize(
    "accept", ["text/html", "application/json", "*/*", None], ids=["page", "json", "any", "none"]
)
async def test_every_html_answer_is_private_and_sheds_cdn_cache_fields(accept: str | None) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b'public, s-maxage=600, private="set-cookie"'),
        (b"cdn-cache-control", b"max-age=600"),
        (b"cloudflare-cdn-cache-control", b"max-age=600"),
        (b"vercel-cdn-cache-control", b"max-age=600"),
        (b"surrogate-control", b"max-age=600"),
        (b"edge-control", b"cache-maxage=600"),
        (b"x-accel-expires", b"600"),
    ]
    app, _ = gate(html_app(headers=headers))
    async with client(app) as c:
        response = await c.get(
            "/", headers={"accept": accept, "sec-fetch-dest": "empty"} if accept else {}
        )
    assert response.headers["cache-control"] == "private"
    for name in (
        "cdn-cache-control",
        "cloudflare-cdn-cache-control",
        "vercel-cdn-cache-control",
        "surrogate-control",
        "edge-control",
        "x-accel-expires",
    ):
        assert name not in response.headers
    vary = {v.strip().lower() for v in response.headers["vary"].split(",")}
    assert {"cookie", "accept", "sec-fetch-dest", "accept-language"} <= vary


async def test_html_of_an_excluded_path_keeps_the_apps_cache_headers() -> None:
    headers = [(b"content-type", b"text/html"), (b"cdn-cache-control", b"max-age=600")]
    app, _ = gate(html_app(headers=headers), exclude_paths=["/static/"])
    async with client(app) as c:
        response = await c.get("/static/page.html")
    assert response.headers["cdn-cache-control"] == "max-age=600"
    assert "consentgate" not in response.text


async def test_json_keeps_the_apps_cache_headers() -> None:
    headers = [(b"content-type", b"application/json"), (b"cdn-cache-control", b"max-age=600")]
    app, _ = gate(html_app(b"{}", headers=headers))
    async with client(app) as c:
        response = await c.get("/api")
    assert response.headers["cdn-cache-control"] == "max-age=600"
    assert "vary" not in response.headers


# -- judgements that must not outlive their reason --------------------------------------------


async def test_a_cookie_dated_in_the_future_counts_once_its_time_has_come() -> None:
    now = [1_800_000_000.0]
    gate_ = ConsentMiddleware(
        html_app(),
        settings=make_settings(),
        ledger=MemoryLedger(),
        country_database=FakeGeo(),
        clock=lambda: now[0],
    )
    decided_at = int(now[0]) + 3600  # an hour ahead: a clock that runs fast elsewhere
    state = CookieState(
        consent_id="abcdefghijklmnop",
        revision=1,
        granted=frozenset({"f", "a", "d"}),
        refused=frozenset(),
        decided_at=decided_at,
        offer=gate_.offer.hash,
        gpc=False,
    )
    value = ConsentCookie([KEY], max_age=182 * 86400).dumps(state)
    transport = httpx.ASGITransport(app=gate_, client=(DE_IP, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        c.cookies.set("consentgate", value)
        early = await c.get("/")
        assert 'aria-modal="true"' in early.text  # not valid yet: the banner asks
        now[0] = decided_at - 300.0
        later = await c.get("/")
    assert "consentgate-reopen" in later.text
    assert 'aria-modal="true"' not in later.text  # decided now: no open banner
