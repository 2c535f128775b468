"""In-process ASGI cost per request: the app called directly, no network, no server.

Every case is the same Starlette site, wrapped (or not) in one middleware, called with a
prebuilt scope (copied per call, as a server makes a new one) and no-op ``receive``/``send``.
Each round times every case in a few short batches, interleaved in shuffled orders, and
keeps each case's fastest batch, so that ratios compare figures measured side by side;
summaries are over rounds.
"""

from __future__ import annotations

import gc
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware

from consentgate import ConsentMiddleware

from .apps import ASGIApp, Message, NoOpMiddleware, PassThroughMiddleware, site
from .checks import expect_page
from .fixtures import (
    JSON_PATH,
    PAGE_PATH,
    SESSION_KEY,
    Visitor,
    browser_headers,
    build_mmdb,
    consent_settings,
    cookie_header,
    decided_cookie,
    http_scope,
    session_cookie,
    visitors,
)
from .stats import paired, safe_div, summary

#: Response kinds: the ~5 KB HTML page and the small JSON response.
KINDS = {"html": PAGE_PATH, "json": JSON_PATH}
BASELINES = {
    "bare": "bare Starlette app",
    "noop": "no-op pure-ASGI middleware",
    "session": "SessionMiddleware, valid session cookie",
    "gzip": "GZipMiddleware, no Accept-Encoding",
    "basehttp": "BaseHTTPMiddleware pass-through",
}
#: How consentgate finds the country: embedded database, .mmdb file, or a trusted proxy's
#: X-Forwarded-For (client 127.0.0.1) followed by an embedded lookup.
GEO_MODES = {"embedded": "embedded db", "mmdb": ".mmdb file", "proxy": "proxy XFF + embedded"}
VISITORS = ("unregulated", "regulated", "decided")
#: Informative cases (no target): a first page view (every cache cold), a browser that
#: sends Accept-Encoding (consentgate strips it from HTML requests), and a page that changes
#: on every request (so consentgate never finds it among the pages it has injected before),
#: with its own bare baseline.
EXTRAS = {
    "cg_decided_cold": "consentgate decided, caches cleared per call",
    "cg_decided_acceptenc": "consentgate decided, sends Accept-Encoding",
    "bare_unique": "bare Starlette app, page differs on every request",
    "cg_decided_unique": "consentgate decided, page differs on every request",
}


#: Batches per case per round (see :func:`measure_kind`).
BATCHES = 10


def case_keys() -> list[str]:
    """Every case measured for each response kind, in report order."""
    keys = list(BASELINES)
    keys += [f"cg_{v}_{g}" for g in GEO_MODES for v in VISITORS]
    keys += list(EXTRAS)
    return keys


@dataclass
class Case:
    """One app and one request to time."""

    key: str
    label: str
    app: ASGIApp
    scope: dict[str, Any]
    visitor: str | None = None
    before_each: Callable[[], None] | None = None


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    return None


async def time_case(case: Case, calls: int) -> float:
    """Mean µs per call over ``calls`` calls of ``case``."""
    app, scope, before = case.app, case.scope, case.before_each
    # As uvicorn does: a new scope per request, with a copy of the (empty) lifespan state.
    copy = scope.copy
    state = scope["state"].copy
    if before is None:
        start = time.thread_time_ns()
        for _ in range(calls):
            request = copy()
            request["state"] = state()
            await app(request, _receive, _discard)
    else:
        start = time.thread_time_ns()
        for _ in range(calls):
            before()
            request = copy()
            request["state"] = state()
            await app(request, _receive, _discard)
    return (time.thread_time_ns() - start) / calls / 1000


async def check_case(case: Case, kind: str) -> None:
    """Call ``case`` once and fail loudly unless it answers as the benchmark assumes."""
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    scope = case.scope.copy()
    scope["state"] = {}
    await case.app(scope, _receive, keep)
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    if start["status"] != 200:
        raise SystemExit(f"bench: {case.key} {kind}: status {start['status']}")
    headers = dict(start["headers"])
    if b"content-encoding" in headers:
        raise SystemExit(f"bench: {case.key} {kind}: the response was compressed")
    if case.key == "session" and not scope.get("session"):
        raise SystemExit("bench: SessionMiddleware did not load the session cookie")
    if kind == "html":
        is_cg = case.key.startswith("cg_")
        expect_page(f"{case.key} {kind}", body, case.visitor if is_cg else None)
    elif not body.startswith(b"{"):
        raise SystemExit(f"bench: {case.key} {kind}: not a JSON body")


def _clear_caches(middleware: ConsentMiddleware) -> Callable[[], None]:
    # Private caches on purpose: this case measures a new visitor's first page view (their
    # cookie, address and consent id are new, so every per-visitor cache misses).
    names = ("_consents", "_countries", "_snippets", "_visits", "_memo", "_prepared_starts")
    caches = [getattr(middleware, name) for name in names if hasattr(middleware, name)]
    caches.append(middleware.codec._cache)

    def clear() -> None:
        for cache in caches:
            cache.clear()

    return clear


async def build_cases(kind: str, mmdb: Path, visitor_list: tuple[Visitor, ...]) -> list[Case]:
    """Every case for one response kind (``"html"`` or ``"json"``)."""
    path = KINDS[kind]
    html = kind == "html"
    app = site()
    plain = http_scope(path, browser_headers(html=html, cookie=cookie_header()), "80.128.0.1")
    with_session = http_scope(
        path, browser_headers(html=html, cookie=cookie_header(session_cookie())), "80.128.0.1"
    )
    cases = [
        Case("bare", BASELINES["bare"], app, plain),
        Case("noop", BASELINES["noop"], NoOpMiddleware(app), plain),
        Case(
            "session",
            BASELINES["session"],
            SessionMiddleware(app, secret_key=SESSION_KEY),
            with_session,
        ),
        Case("gzip", BASELINES["gzip"], GZipMiddleware(app), plain),
        Case("basehttp", BASELINES["basehttp"], PassThroughMiddleware(app), plain),
    ]
    gates = {
        "embedded": ConsentMiddleware(app, settings=consent_settings()),
        "mmdb": ConsentMiddleware(app, settings=consent_settings(geoip_database=mmdb)),
        "proxy": ConsentMiddleware(app, settings=consent_settings(trusted_proxies=["127.0.0.1"])),
    }
    for geo, gate in gates.items():
        for visitor in visitor_list:
            cookie = cookie_header(visitor.consent_cookie)
            if geo == "proxy":
                extra = [(b"x-forwarded-for", visitor.ip.encode())]
                headers = browser_headers(html=html, cookie=cookie, extra=extra)
                scope = http_scope(path, headers, "127.0.0.1")
            else:
                scope = http_scope(path, browser_headers(html=html, cookie=cookie), visitor.ip)
            label = f"consentgate {visitor.key}, {GEO_MODES[geo]}"
            cases.append(Case(f"cg_{visitor.key}_{geo}", label, gate, scope, visitor.key))
    decided = next(v for v in visitor_list if v.key == "decided")
    cold_gate = ConsentMiddleware(app, settings=consent_settings())
    decided_headers = browser_headers(html=html, cookie=cookie_header(decided.consent_cookie))
    cases.append(
        Case(
            "cg_decided_cold",
            EXTRAS["cg_decided_cold"],
            cold_gate,
            http_scope(path, decided_headers, decided.ip),
            "decided",
            _clear_caches(cold_gate),
        )
    )
    encoding = [(b"accept-encoding", b"gzip, deflate, br, zstd")]
    cases.append(
        Case(
            "cg_decided_acceptenc",
            EXTRAS["cg_decided_acceptenc"],
            gates["embedded"],
            http_scope(
                path,
                browser_headers(
                    html=html, cookie=cookie_header(decided.consent_cookie), extra=encoding
                ),
                decided.ip,
            ),
            "decided",
        )
    )
    unique = site(unique=True)
    cases.append(Case("bare_unique", EXTRAS["bare_unique"], unique, plain))
    cases.append(
        Case(
            "cg_decided_unique",
            EXTRAS["cg_decided_unique"],
            ConsentMiddleware(unique, settings=consent_settings()),
            http_scope(path, decided_headers, decided.ip),
            "decided",
        )
    )
    for case in cases:
        await check_case(case, kind)
    return cases


async def measure_kind(kind: str, cases: list[Case], *, rounds: int, calls: int) -> dict[str, Any]:
    """Interleaved, shuffled rounds over ``cases``; per-case µs, added µs and paired ratios."""
    rng = random.Random(f"{kind}-{rounds}-{calls}")
    per_round: list[dict[str, float]] = []
    for case in cases:  # warm-up: caches filled, code paths specialised
        await time_case(case, max(1, calls // 10))
    batch = max(1, calls // BATCHES)
    for _ in range(rounds):
        # Each round times every case in BATCHES short batches, interleaved (a new shuffled
        # order per pass), and keeps each case's fastest batch: a burst from another process
        # on this shared machine then spoils one batch, not the round's ratio.
        timings: dict[str, float] = {}
        for _ in range(BATCHES):
            order = cases[:]
            rng.shuffle(order)
            for case in order:
                gc.collect()
                took = await time_case(case, batch)
                timings[case.key] = min(took, timings.get(case.key, took))
        per_round.append(timings)
    out: dict[str, Any] = {}
    for case in cases:
        key = case.key

        def added(r: dict[str, float], key: str = key) -> float:
            return r[key] - r["bare"]

        out[key] = {
            "label": case.label,
            "us": summary([r[key] for r in per_round]),
            "added_us": paired(per_round, added),
            "ratio_to_bare": paired(per_round, lambda r, key=key: safe_div(r[key], r["bare"])),
            "ratio_to_noop": paired(per_round, lambda r, key=key: safe_div(r[key], r["noop"])),
            "added_ratio_to_session": paired(
                per_round,
                lambda r, added=added: safe_div(added(r), r["session"] - r["bare"]),
            ),
        }
    return out


async def run(*, rounds: int, calls: int) -> dict[str, Any]:
    """Section 1 of the report: both response kinds, every case."""
    with tempfile.TemporaryDirectory(prefix="consentgate-bench-") as tmp:
        mmdb = build_mmdb(Path(tmp) / "country.mmdb")
        poster = ConsentMiddleware(site(), settings=consent_settings())
        visitor_list = visitors(await decided_cookie(poster))
        result: dict[str, Any] = {"rounds": rounds, "calls_per_sample": calls}
        for kind in KINDS:
            cases = await build_cases(kind, mmdb, visitor_list)
            result[kind] = await measure_kind(kind, cases, rounds=rounds, calls=calls)
    return result
