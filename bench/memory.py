"""Streaming memory: peak Python allocations while a 10 MiB page flows in 64 KiB chunks.

The app sends one ``<head>`` chunk, then the same 64 KiB body chunk over and over (so the page
itself is never in memory), then the closing chunk; ``send`` counts the bytes and drops them.
What is left is what the middleware holds on to while the page streams (tracemalloc peak).
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

from consentgate import ConsentMiddleware

from .apps import Message, Receive, Scope, Send, site
from .fixtures import (
    _ARTICLE,
    PAGE_PATH,
    browser_headers,
    consent_settings,
    cookie_header,
    decided_cookie,
    http_scope,
    visitors,
)

CHUNK = 64 * 1024
HEAD = (
    b'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    b"<title>A very long page</title>\n</head>\n<body>\n<main>\n"
)
TAIL = b"</main>\n</body>\n</html>\n"


def body_chunk() -> bytes:
    """64 KiB of ordinary article markup, cut on a tag boundary."""
    text = _ARTICLE.encode("utf-8")
    return (text * (CHUNK // len(text) + 1))[:CHUNK]


class StreamingPage:
    """An ASGI app streaming a page of ``chunks`` × 64 KiB without ever holding it."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.chunk = body_chunk()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the head, the body chunks and the tail, each as its own message."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": HEAD, "more_body": True})
        for _ in range(self.chunks):
            await send({"type": "http.response.body", "body": self.chunk, "more_body": True})
        await send({"type": "http.response.body", "body": TAIL, "more_body": False})


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def peak(app: Any, scope: Scope) -> tuple[int, int]:
    """``(peak bytes allocated above the start, bytes sent)`` for one streamed response."""
    sent = 0

    async def count(message: Message) -> None:
        nonlocal sent
        sent += len(message.get("body", b""))

    await app(scope.copy(), _receive, count)  # warm-up: caches and snippets are made once
    sent = 0
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await app(scope.copy(), _receive, count)
        top = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return top - base, sent


async def _run(chunks: int) -> dict[str, Any]:
    page = StreamingPage(chunks)
    gate = ConsentMiddleware(page, settings=consent_settings())
    cookie = await decided_cookie(ConsentMiddleware(site(), settings=consent_settings()))
    results: dict[str, Any] = {}
    bare_scope = http_scope(PAGE_PATH, browser_headers(html=True, cookie=cookie_header()), "::1")
    bare_peak, bare_sent = await peak(page, bare_scope)
    results["bare"] = {"label": "bare streaming app", "peak_bytes": bare_peak, "sent": bare_sent}
    for visitor in visitors(cookie):
        headers = browser_headers(html=True, cookie=cookie_header(visitor.consent_cookie))
        top, sent = await peak(gate, http_scope(PAGE_PATH, headers, visitor.ip))
        if sent <= bare_sent:
            raise SystemExit(f"bench: streaming {visitor.key}: nothing was injected")
        results[visitor.key] = {
            "label": f"consentgate {visitor.label}",
            "peak_bytes": top,
            "sent": sent,
            "over_bare_bytes": top - bare_peak,
        }
    return results


def run(*, mebibytes: int = 10) -> dict[str, Any]:
    """Section 3 of the report: a page of ``mebibytes`` MiB in 64 KiB chunks."""
    chunks = mebibytes * 1024 * 1024 // CHUNK
    return {
        "page_bytes": len(HEAD) + chunks * CHUNK + len(TAIL),
        "chunk_bytes": CHUNK,
        "cases": asyncio.run(_run(chunks)),
    }
