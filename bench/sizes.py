"""Sizes: what the banner weighs (raw and gzipped) and how long the consent cookie is."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx

from consentgate import ConsentMiddleware

from .apps import site
from .fixtures import DE_IP, PAGE, PAGE_PATH, consent_settings

#: gzip level of a typical server set-up (Apache's and most CDNs' default).
GZIP_LEVEL = 6


def _size(data: bytes) -> dict[str, int]:
    return {"raw": len(data), "gzip": len(gzip.compress(data, GZIP_LEVEL, mtime=0))}


async def _cookies(gate: ConsentMiddleware) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=gate, client=(DE_IP, 1234))
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://www.example.com") as c:
        for action, extra in (
            ("accept_all", {}),
            ("reject_all", {}),
            ("save", {"categories": ["analytics", "functional"]}),
        ):
            response = await c.post("/_consent", data={"action": action, **extra})
            headers = [
                v for v in response.headers.get_list("set-cookie") if v.startswith("consentgate=")
            ]
            if response.status_code != 303 or not headers:
                raise SystemExit(f"bench: sizes: POST {action} set no consent cookie")
            pair = headers[0].split(";", 1)[0]
            out[action] = {"cookie_bytes": len(pair), "set_cookie_bytes": len(headers[0])}
            c.cookies.clear()
    return out


def run() -> dict[str, Any]:
    """Section 4 of the report."""
    gate = ConsentMiddleware(site(), settings=consent_settings())
    banner = gate.banner
    dialog = banner.dialog_html(
        "en", prefill=frozenset(), open=True, review=False, next_path=PAGE_PATH
    ).encode("utf-8")
    script = banner.asset(banner.script_name)
    style = banner.asset(banner.style_name)
    if script is None or style is None:
        raise SystemExit("bench: sizes: the banner assets are missing")
    parts = {"dialog_html": _size(dialog), "js": _size(script[0]), "css": _size(style[0])}
    total = {k: sum(p[k] for p in parts.values()) for k in ("raw", "gzip")}

    async def injected() -> tuple[bytes, bytes]:
        # The page as the banner visitor gets it, then once they have accepted (the banner
        # is then only an empty element that the script fills on demand).
        transport = httpx.ASGITransport(app=gate, client=(DE_IP, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
            first = (await c.get(PAGE_PATH, headers={"accept": "text/html"})).content
            await c.post("/_consent", data={"action": "accept_all"})
            later = (await c.get(PAGE_PATH, headers={"accept": "text/html"})).content
        return first, later

    page, decided = asyncio.run(injected())
    cookies = asyncio.run(_cookies(gate))
    return {
        "gzip_level": GZIP_LEVEL,
        "banner": {**parts, "total": total},
        "page": {
            "plain": _size(PAGE),
            "with_banner": _size(page),
            "added": {
                "raw": len(page) - len(PAGE),
                "gzip": _size(page)["gzip"] - _size(PAGE)["gzip"],
            },
            "decided": _size(decided),
            "added_decided": {
                "raw": len(decided) - len(PAGE),
                "gzip": _size(decided)["gzip"] - _size(PAGE)["gzip"],
            },
        },
        "cookie": {**cookies, "max_cookie_bytes": max(v["cookie_bytes"] for v in cookies.values())},
    }
