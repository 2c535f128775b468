"""Demo only: simulate where a visitor comes from (and Global Privacy Control) with cookies.

:class:`VisitorSimulation` is an outer ASGI middleware that only the demo uses; the library's
request path never contains it. ``/demo/country/XX`` stores ``XX`` in the ``demo_country``
cookie (``/demo/country/auto`` switches simulation off) and ``/demo/gpc/on|off`` the
``demo_gpc`` cookie; both redirect back to ``?next=``. On every other request it drops any
incoming copy of its header and, when a country is simulated, adds ``x-demo-country: XX``,
which the inner :class:`~consentgate.ConsentMiddleware` believes because the demo configures
it with ``country_header = "x-demo-country"`` and trusts loopback clients as a proxy. So the
simulation works for visitors on the demo's own machine; others get their real country.

A ``force_country`` in the settings beats both: the simulation then sends no header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import cookie_parser

from ..endpoints import safe_next
from ..geo import clean_country

__all__ = [
    "COUNTRY_COOKIE",
    "COUNTRY_HEADER",
    "GPC_COOKIE",
    "SIMULATED_COUNTRIES",
    "Simulation",
    "VisitorSimulation",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COUNTRY_HEADER = "x-demo-country"
COUNTRY_COOKIE = "demo_country"
GPC_COOKIE = "demo_gpc"
#: The countries the demo panel offers (any two-letter code works in the URL).
SIMULATED_COUNTRIES: tuple[tuple[str, str], ...] = (
    ("DE", "Germany"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("US", "United States"),
    ("BR", "Brazil"),
)
_OFF = "auto"
_PREFIX = "/demo/"
_MAX_AGE = 30 * 86_400
_URL_SAFE = "/?#&=%:@!$'()*+,;~-._"


@dataclass(frozen=True, slots=True)
class Simulation:
    """What the demo simulates for this request (``request.state.demo``)."""

    #: The simulated country, or ``None`` when the visitor's real IP address decides.
    country: str | None
    #: ``"cookie"`` (picked in the panel), ``"default"`` (``--country``) or ``None``.
    source: str | None
    gpc: bool
    #: ``force_country`` from the settings, which overrides any simulation.
    forced: str | None


class VisitorSimulation:
    """Outer ASGI middleware of the demo: turns demo cookies into request headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_country: str | None = None,
        forced_country: str | None = None,
        header: str = COUNTRY_HEADER,
    ) -> None:
        self.app = app
        self.default_country = clean_country(default_country)
        self.forced_country = forced_country
        self.header = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``/demo/...`` switches; add the simulated headers to everything else."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if scope["type"] == "http" and path.startswith(_PREFIX):
            switch = self._switch(path)
            if switch is not None:
                await _redirect(send, _location(scope), switch)
                return
        cookies = {}
        headers = []
        for key, value in scope.get("headers") or ():
            lowered = key.lower()
            if lowered == b"cookie":
                cookies.update(cookie_parser(value.decode("latin-1")))
            if lowered != self.header:
                headers.append((key, value))
        simulation = self._simulation(cookies)
        if simulation.country is not None:
            headers.append((self.header, simulation.country.encode("latin-1")))
        if simulation.gpc:
            headers = [(k, v) for k, v in headers if k.lower() != b"sec-gpc"]
            headers.append((b"sec-gpc", b"1"))
        scope = dict(scope)
        scope["headers"] = headers
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["demo"] = simulation
        await self.app(scope, receive, send)

    def _simulation(self, cookies: dict[str, str]) -> Simulation:
        chosen = cookies.get(COUNTRY_COOKIE)
        gpc = cookies.get(GPC_COOKIE) == "1"
        if self.forced_country:
            return Simulation(None, None, gpc, self.forced_country)
        if chosen == _OFF:
            return Simulation(None, "cookie", gpc, self.forced_country)
        country = clean_country(chosen)
        if country is not None:
            return Simulation(country, "cookie", gpc, self.forced_country)
        source = "default" if self.default_country else None
        return Simulation(self.default_country, source, gpc, self.forced_country)

    def _switch(self, path: str) -> str | None:
        """The ``Set-Cookie`` value for a switch path, ``None`` when ``path`` is not one."""
        kind, _, value = path[len(_PREFIX) :].strip("/").partition("/")
        if kind == "country":
            code = _OFF if value.lower() == _OFF else clean_country(value)
            return _cookie(COUNTRY_COOKIE, code) if code else None
        if kind == "gpc" and value in ("on", "off"):
            return _cookie(GPC_COOKIE, "1" if value == "on" else "0")
        return None


def _cookie(name: str, value: str) -> str:
    return f"{name}={value}; Path=/; Max-Age={_MAX_AGE}; HttpOnly; SameSite=Lax"


def _location(scope: Scope) -> str:
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    return safe_next(query.get("next"))


async def _redirect(send: Send, location: str, set_cookie: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", quote(location, safe=_URL_SAFE).encode("ascii")),
                (b"set-cookie", set_cookie.encode("latin-1")),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
