"""What every benchmark shares: the pages, the demo-like settings, the visitors and their cookies.

Nothing here measures anything. The visitors are made regulated or unregulated by their IP
address as the embedded database maps it (checked at run time, see :func:`check_countries`),
so the benchmarks go through the real country lookup.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import iptocc
import netaddr
from itsdangerous import TimestampSigner
from mmdb_writer import MMDBWriter

from consentgate import ConsentMiddleware, ConsentSettings

# Test-only keys: long enough for the settings' check, never used outside the benchmarks.
SECRET_KEY = "bench-consent-key-0123456789-0123456789"
SESSION_KEY = "bench-session-key-0123456789-0123456789"

#: A Google resolver (US) and a Deutsche Telekom dial-up address (DE); see check_countries().
US_IP = "8.8.8.8"
DE_IP = "80.128.0.1"
EXPECTED_COUNTRIES = {US_IP: "US", DE_IP: "DE"}

#: Networks of the benchmark's own Country .mmdb file (it covers both visitors).
MMDB_NETWORKS = {"8.8.8.0/24": "US", "80.128.0.0/12": "DE", "81.2.69.0/24": "GB"}

PAGE_PATH = "/"
JSON_PATH = "/api/item"
#: The same page under a prefix that the end-to-end consentgate server excludes.
EXCLUDED_PREFIX = "/static"
EXCLUDED_PATH = "/static/article"
JSON_ITEM = {"id": 4217, "name": "Kettle", "price": 39.9, "tags": ["kitchen", "steel"]}

# Cookies a real visitor's browser already sends to the site (analytics id, a UI preference).
OTHER_COOKIES = "_ga=GA1.1.1394872531.1732550400; theme=dark"

_ARTICLE = (
    "<p>Regular walks lower blood pressure, improve sleep and lift the mood. In this guide our "
    "physiotherapists explain how to start, how far to go in the first weeks and what to watch "
    'for when the weather turns. <a href="/guides/walking">Read the full guide</a>.</p>\n'
)


def make_page(size: int = 5000) -> bytes:
    """An ordinary article page of about ``size`` bytes (UTF-8 HTML, head and body)."""
    head = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Walking for health — Hearthside Health</title>\n"
        '<link rel="stylesheet" href="/static/site.css">\n'
        '<script src="/static/site.js" defer></script>\n</head>\n<body>\n'
        '<header><nav><a href="/">Home</a> <a href="/guides">Guides</a> '
        '<a href="/about">About</a></nav></header>\n<main><article>\n'
        "<h1>Walking for health</h1>\n"
    )
    tail = (
        "</article></main>\n<footer><p>© Hearthside Health · "
        '<a href="/privacy">Privacy</a></p></footer>\n'
        "<script>document.documentElement.classList.add('js');</script>\n</body>\n</html>\n"
    )
    body = ""
    while len(head) + len(body) + len(_ARTICLE) + len(tail) <= size:
        body += _ARTICLE
    return (head + body + tail).encode("utf-8")


PAGE = make_page()


def consent_settings(**overrides: Any) -> ConsentSettings:
    """Settings like the demo site's: GA4 and AdSense configured, three declared services."""
    values: dict[str, Any] = {
        "secret_keys": [SECRET_KEY],
        "ledger_url": None,
        "analytics": {"provider": "ga4", "measurement_id": "G-DEMO123456"},
        "ads": {
            "provider": "adsense",
            "client": "ca-pub-1234567890123456",
            "before_choice": "none",
            "without_consent": "none",
        },
        "services": [
            {
                "name": "Site preferences",
                "category": "functional",
                "description": "Remembers the text size you picked on this site.",
                "cookies": ["hh_prefs"],
            },
            {
                "name": "VidStream video player",
                "category": "functional",
                "vendor": "VidStream",
                "privacy_url": "https://vidstream.example/privacy",
                "description": "Plays the videos embedded in articles.",
                "cookies": ["vs_player"],
                "scripts": ['<script src="/static/video-embed.js"></script>'],
                "hosts": ["player.vidstream.example"],
            },
        ],
    }
    values.update(overrides)
    return ConsentSettings(**values)


def check_countries() -> None:
    """Fail loudly when the embedded database no longer maps the visitors as the bench needs."""
    for ip, expected in EXPECTED_COUNTRIES.items():
        found = iptocc.country_code(ip)
        if found != expected:
            raise SystemExit(
                f"bench: the embedded database maps {ip} to {found!r}, not {expected!r}; "
                "pick another address for this visitor in bench/fixtures.py"
            )


def build_mmdb(path: Path) -> Path:
    """A small GeoLite2-Country-like ``.mmdb`` covering the benchmark's visitors."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for network, code in MMDB_NETWORKS.items():
        record = {"country": {"iso_code": code}, "registered_country": {"iso_code": code}}
        writer.insert_network(netaddr.IPSet([network]), record)
    writer.to_db_file(os.fspath(path))
    return path


@dataclass(frozen=True)
class Visitor:
    """One kind of visitor: where they come from and which cookie they bring."""

    key: str
    label: str
    ip: str
    country: str
    consent_cookie: str | None = None


def visitors(decided_cookie: str) -> tuple[Visitor, ...]:
    """Unregulated (US), regulated undecided (DE, banner) and decided (DE, accepted all)."""
    return (
        Visitor("unregulated", "unregulated visitor (US)", US_IP, "US"),
        Visitor("regulated", "regulated, undecided (DE, banner)", DE_IP, "DE"),
        Visitor("decided", "regulated, decided (DE, tags)", DE_IP, "DE", decided_cookie),
    )


def cookie_header(*cookies: str | None) -> bytes:
    """A ``Cookie`` header with the visitor's own cookies and the site's usual ones."""
    return "; ".join([c for c in cookies if c] + [OTHER_COOKIES]).encode("latin-1")


def browser_headers(
    *, html: bool, cookie: bytes, extra: Sequence[tuple[bytes, bytes]] = ()
) -> list:
    """Request headers as a current browser sends them (no ``Accept-Encoding``, see README)."""
    accept = (
        b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        if html
        else b"*/*"
    )
    return [
        (b"host", b"www.example.com"),
        (b"connection", b"keep-alive"),
        (
            b"user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            b"Chrome/131.0.0.0 Safari/537.36",
        ),
        (b"accept", accept),
        (b"accept-language", b"en-US,en;q=0.9,de;q=0.8"),
        (b"sec-fetch-site", b"same-origin"),
        (b"sec-fetch-mode", b"navigate" if html else b"cors"),
        (b"sec-fetch-dest", b"document" if html else b"empty"),
        *extra,
        (b"cookie", cookie),
    ]


def http_scope(path: str, headers: list[tuple[bytes, bytes]], client_ip: str) -> dict[str, Any]:
    """A GET request scope as uvicorn builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": (client_ip, 51234),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": b"",
        "headers": headers,
        "state": {},  # uvicorn passes a copy of the lifespan state (see time_case)
    }


def session_cookie() -> str:
    """A valid Starlette ``SessionMiddleware`` cookie (a small logged-in session)."""
    data = base64.b64encode(json.dumps({"user_id": 4217, "cart": [12, 99]}).encode())
    return "session=" + TimestampSigner(SESSION_KEY).sign(data).decode("ascii")


async def decided_cookie(middleware: ConsentMiddleware, ip: str = DE_IP) -> str:
    """A real consent cookie (``name=value``): POST "accept all" to the consent endpoint once."""
    transport = httpx.ASGITransport(app=middleware, client=(ip, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://www.example.com") as c:
        response = await c.post(
            middleware.settings.endpoint_path,
            data={"action": "accept_all", "next": "/"},
            follow_redirects=False,
        )
    if response.status_code != 303:
        raise SystemExit(f"bench: POST /_consent answered {response.status_code}, expected 303")
    name = middleware.settings.cookie_name
    value = response.cookies.get(name)
    if not value:
        raise SystemExit("bench: POST /_consent set no consent cookie")
    return f"{name}={value}"
