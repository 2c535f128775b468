"""Micro-costs that explain the per-request totals, in ns per call (timeit, repeated).

Timed with the benchmark thread's CPU clock, like the in-process section, so that a busy
neighbour on a shared machine does not count.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from consentgate import ConsentMiddleware, scanner
from consentgate.geo import EmbeddedDatabase, MmdbDatabase
from consentgate.injection import StreamInjector
from consentgate.policy import decide
from consentgate.proxy import ProxyResolver, header_map
from consentgate.visit import find_cookie

from .apps import site
from .fixtures import (
    DE_IP,
    PAGE,
    PAGE_PATH,
    browser_headers,
    build_mmdb,
    consent_settings,
    cookie_header,
    decided_cookie,
    http_scope,
)
from .memory import body_chunk
from .stats import summary

#: What each figure times, in report order.
LABELS = {
    "cookie_verify_uncached": "ConsentCookie._verify (HMAC + parse, no cache)",
    "cookie_loads_cached": "ConsentCookie.loads (cached, expiry checked)",
    "find_cookie": "find_cookie in a 3-cookie header",
    "country_embedded": "country lookup, embedded db (iptocc)",
    "country_mmdb": "country lookup, .mmdb (maxminddb)",
    "decide": "policy.decide (decided visitor)",
    "header_map": "header_map of 9 browser headers",
    "proxy_resolve_direct": "ProxyResolver.resolve, no trusted proxy (header map given)",
    "proxy_resolve_xff": "ProxyResolver.resolve, trusted proxy + XFF (header map given)",
    "visit_cached": "ConsentMiddleware.visit (returning visitor)",
    "snippets_cached": "ConsentMiddleware.snippets (cached)",
    "inject_chunk_hosts": "StreamInjector.feed, 64 KiB, inert hosts",
    "inject_chunk_hosts_pure": "StreamInjector.feed, 64 KiB, inert hosts, pure Python",
    "inject_chunk_plain": "StreamInjector.feed, 64 KiB, no inert hosts",
    "inject_chunk_plain_pure": "StreamInjector.feed, 64 KiB, no inert hosts, pure Python",
    "inject_page": "StreamInjector: new + feed + finish, 5 KB page",
    "inject_page_pure": "StreamInjector: new + feed + finish, 5 KB page, pure Python",
}
#: Figures of the scanner timed again with its reference regexes instead of the C skip.
PURE_SUFFIX = "_pure"


@contextmanager
def pure_scanner() -> Iterator[None]:
    """The scanner's skip over boring bytes done by its regexes, as without the C module."""
    saved = scanner._boring_end, scanner._inline_script
    scanner._boring_end, scanner._inline_script = scanner._regex_end, scanner._regex_inline
    try:
        yield
    finally:
        scanner._boring_end, scanner._inline_script = saved


def measure(func: Callable[[], object], *, repeat: int, seconds: float) -> dict[str, Any]:
    """ns per call of ``func``: min / median / max over ``repeat`` runs of about ``seconds``."""
    timer = timeit.Timer(func, timer=time.thread_time)
    # Calibrate quickly (a tenth of the budget) rather than with autorange()'s 0.2 s.
    number, took = 1, timer.timeit(1)
    while took < seconds / 10 and number < 10**8:
        number *= 10
        took = timer.timeit(number)
    number = max(1, int(number * seconds / took)) if took > 0 else number
    runs = sorted(t / number * 1e9 for t in timer.repeat(repeat=repeat, number=number))
    return {**summary(runs), "calls": number}


def _subjects(mmdb: Path, cookie: str) -> dict[str, Callable[[], object]]:
    gate = ConsentMiddleware(site(), settings=consent_settings())
    proxied = ProxyResolver(["127.0.0.1"])
    direct = ProxyResolver([])
    codec = gate.codec
    value = cookie.split("=", 1)[1]
    now = time.time()
    state = codec.loads(value, now=now)
    if state is None:
        raise SystemExit("bench: micro: the consent cookie does not verify")
    cookie_state = state[0]
    embedded = EmbeddedDatabase()
    mmdb_db = MmdbDatabase(mmdb)
    if embedded.country(DE_IP) != "DE" or mmdb_db.country(DE_IP) != "DE":
        raise SystemExit("bench: micro: a country database does not map the visitor to DE")
    headers = browser_headers(html=True, cookie=cookie_header(cookie))
    scope = http_scope(PAGE_PATH, headers, DE_IP)
    xff_scope = http_scope(PAGE_PATH, [*headers, (b"x-forwarded-for", DE_IP.encode())], "127.0.0.1")
    # The middleware hands resolve() the header map it has already built.
    direct_map, xff_map = header_map(headers), header_map(xff_scope["headers"])
    cookie_bytes = cookie_header(cookie)
    name = gate.visits.cookie_name
    visit = gate.visit(scope)
    regulated = gate.visit(http_scope(PAGE_PATH, browser_headers(html=True, cookie=b""), DE_IP))
    snippets = gate.page.snippets(regulated, PAGE_PATH, None)
    head_b, body_b = snippets.head_bytes, snippets.body_bytes
    hosts = gate.page.inert_hosts(regulated.consent.granted)
    if not hosts:
        raise SystemExit("bench: micro: an undecided visitor should have inert hosts")
    chunk = body_chunk()

    def injector(inert: Mapping[str, str]) -> StreamInjector:
        new = StreamInjector(head_b, body_b, inert_hosts=inert)
        new.feed(b"<!doctype html><html><head><title>t</title></head><body>")
        return new

    with_hosts, plain = injector(hosts), injector({})

    def whole_page() -> bytes:
        one = StreamInjector(head_b, body_b, inert_hosts=hosts)
        return one.feed(PAGE) + one.finish()

    return {
        "cookie_verify_uncached": lambda: codec._verify(value),
        "cookie_loads_cached": lambda: codec.loads(value, now=now),
        "find_cookie": lambda: find_cookie(cookie_bytes, name),
        "country_embedded": lambda: embedded.country(DE_IP),
        "country_mmdb": lambda: mmdb_db.country(DE_IP),
        "decide": lambda: decide(
            offer=gate.offer,
            revision=1,
            country="DE",
            regulated=True,
            cookie=cookie_state,
            gpc=False,
            rules=gate.rules,
        ),
        "header_map": lambda: header_map(headers),
        "proxy_resolve_direct": lambda: direct.resolve(scope, direct_map),
        "proxy_resolve_xff": lambda: proxied.resolve(xff_scope, xff_map),
        "visit_cached": lambda: gate.visits(scope, direct_map),
        "snippets_cached": lambda: gate.page.snippets(visit, PAGE_PATH, None),
        "inject_chunk_hosts": lambda: with_hosts.feed(chunk),
        "inject_chunk_plain": lambda: plain.feed(chunk),
        "inject_page": whole_page,
    }


def run(*, repeat: int, seconds: float) -> dict[str, Any]:
    """Section 5 of the report."""
    with tempfile.TemporaryDirectory(prefix="consentgate-micro-") as tmp:
        mmdb = build_mmdb(Path(tmp) / "country.mmdb")
        cookie = asyncio.run(decided_cookie(ConsentMiddleware(site(), settings=consent_settings())))
        subjects = _subjects(mmdb, cookie)
        out = {}
        for key, label in LABELS.items():
            if key.endswith(PURE_SUFFIX):
                with pure_scanner():
                    ns = measure(
                        subjects[key.removesuffix(PURE_SUFFIX)], repeat=repeat, seconds=seconds
                    )
            else:
                ns = measure(subjects[key], repeat=repeat, seconds=seconds)
            out[key] = {"label": label, "ns": ns}
    return out
