"""The demo site: a small health-information publisher wrapped in :class:`ConsentMiddleware`.

Starlette, Jinja2 templates and static files, all shipped inside the package. The stack, from
the outside in: :class:`~consentgate.demo.simulation.VisitorSimulation` (demo only) →
:class:`~consentgate.ConsentMiddleware` (configured by ``consentgate.toml`` next to this file)
→ the Starlette site, whose templates read ``request.state.consent``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2  # the ``demo`` extra: without it, importing consentgate.demo fails right here
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from ..endpoints import safe_next
from ..errors import ConfigError
from ..geo import clean_country
from ..jinja import install
from ..middleware import ConsentMiddleware
from ..settings import ConsentSettings
from .content import ARTICLES, article
from .simulation import COUNTRY_HEADER, SIMULATED_COUNTRIES, VisitorSimulation

__all__ = [
    "CONFIG_PATH",
    "DemoSetup",
    "build_app",
    "create_app",
    "demo_settings",
    "tcf_demo_settings",
]

log = logging.getLogger("consentgate.demo")

HERE = Path(__file__).parent
CONFIG_PATH = HERE / "consentgate.toml"
LOOPBACK = ("127.0.0.1", "::1")
PREFS_COOKIE = "hh_prefs"
_LARGE_TEXT = "large"
_YEAR = 365 * 86_400
_MAX_FORM = 4096
#: Lifetimes of the demo's own cookies, for the cookie declaration.
COOKIE_LIFETIMES = {
    PREFS_COOKIE: "1 year",
    "vs_player": "30 days",
    "demo_country": "30 days",
    "demo_gpc": "30 days",
}
SITE = {"name": "Hearthside Health", "tagline": "everyday health, explained calmly"}
#: AdSense slot ids of the demo's ad units (made up, like the publisher id).
AD_SLOTS = {
    "home": "1000000001",
    "top": "1000000002",
    "in-article": "1000000003",
    "bottom": "1000000004",
}


@dataclass(frozen=True, slots=True)
class DemoSetup:
    """The demo's settings, and what the person starting it should be told."""

    settings: ConsentSettings
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def cache_dir() -> Path:
    """A writable per-user directory for the demo's ledger (never inside site-packages)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for candidate in (base / "consentgate", Path(tempfile.gettempdir()) / "consentgate"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        return candidate
    raise ConfigError("ledger_url: no writable cache directory; set CONSENTGATE_LEDGER_URL")


def tcf_demo_settings() -> dict[str, Any]:
    """``tcf`` settings for ``consentgate demo --tcf``: the bundled synthetic GVL.

    CMP id 4095 is a placeholder; a real site uses the id IAB Europe registers for it.
    """
    from ..tcf.gvl import synthetic_gvl_path

    return {
        "enabled": True,
        "cmp_id": 4095,
        "cmp_version": 1,
        "vendors": [1, 2, 3, 8, 755, 1000],
        "gvl_path": str(synthetic_gvl_path()),
        "publisher_country": "DE",
        "google_atps": [89],
    }


def demo_settings(
    *, config: str | None = None, overrides: Mapping[str, Any] | None = None
) -> DemoSetup:
    """Settings from ``config`` (else ``CONSENTGATE_CONFIG``, else the bundled TOML).

    Adds what the demo needs unless ``overrides``, the environment or the file set it: a
    throw-away signing key, a ledger in the user's cache directory, and the country
    simulation (``country_header`` and loopback in ``trusted_proxies``).
    """
    path = config or os.environ.get("CONSENTGATE_CONFIG") or str(CONFIG_PATH)
    values = dict(overrides or {})
    settings = ConsentSettings.from_toml(path, **values)
    notes: list[str] = []
    warnings: list[str] = []
    extra: dict[str, Any] = {}
    if "country_header" not in values:
        extra["country_header"] = COUNTRY_HEADER
    if "trusted_proxies" not in values:
        trusted = list(settings.trusted_proxies)
        extra["trusted_proxies"] = trusted + [ip for ip in LOOPBACK if ip not in trusted]
    if "ledger_url" not in settings.model_fields_set:
        database = cache_dir() / "consentgate-demo.db"
        extra["ledger_url"] = f"sqlite:///{database.as_posix()}"
        notes.append(f"proofs of consent go to {database}")
    if not settings.secret_keys:
        extra["secret_keys"] = [secrets.token_urlsafe(32)]
        warnings.append(
            "no signing key configured (CONSENTGATE_SECRET_KEYS or secret_keys in the config): "
            "using a throw-away key for this run, so consent cookies stop being valid when the "
            "demo restarts"
        )
    if settings.force_country:
        warnings.append(
            f"force_country = {settings.force_country!r} in the configuration: every visitor "
            "is from there and the demo panel's country links have no effect"
        )
    if extra:
        settings = ConsentSettings.from_toml(path, **values, **extra)
    return DemoSetup(settings, notes, warnings)


def create_app(
    *,
    settings_overrides: Mapping[str, Any] | None = None,
    country: str | None = None,
    config: str | None = None,
) -> ASGIApp:
    """The demo site as an ASGI app (``uvicorn examples.demo.app:app``, tests).

    ``country`` is the simulated visitor country until one is picked in the demo panel;
    ``settings_overrides`` take precedence over everything (e.g. ``{"ledger_url": None}``).
    """
    setup = demo_settings(config=config, overrides=settings_overrides)
    for note in setup.notes:
        log.info("consentgate demo: %s", note)
    for warning in setup.warnings:
        log.warning("consentgate demo: %s", warning)
    return build_app(setup.settings, country=country)


def build_app(settings: ConsentSettings, *, country: str | None = None) -> ASGIApp:
    """Wrap the site in :class:`ConsentMiddleware` and the demo's visitor simulation."""
    default_country = clean_country(country) if country else None
    if country and default_country is None:
        raise ConfigError(
            f"--country: {country!r} is not a two-letter ISO country code such as 'DE' or 'US'"
        )
    site = _Site(settings)
    gated = ConsentMiddleware(site.app, settings=settings)
    return VisitorSimulation(
        gated,
        default_country=default_country,
        forced_country=settings.force_country,
        header=settings.country_header or COUNTRY_HEADER,
    )


@dataclass(frozen=True, slots=True)
class Prefs:
    """The visitor's site preferences (kept only with functional consent)."""

    large_text: bool = False


class _Site:
    """The Starlette application: pages, preferences and static files."""

    def __init__(self, settings: ConsentSettings) -> None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        install(env, settings, cookie_lifetimes=COOKIE_LIFETIMES)
        env.globals.update(
            site=SITE,
            articles=ARTICLES,
            countries=SIMULATED_COUNTRIES,
            endpoint=settings.endpoint_path,
            required_categories=[c.name for c in settings.categories if c.required],
            ads={"client": settings.ads.client, "slots": AD_SLOTS},
            static=_static_urls(HERE / "static"),
        )
        self.templates = Jinja2Templates(env=env, context_processors=[_page_context])
        self.app = Starlette(
            routes=[
                Route("/", self.home),
                Route("/articles/{slug}", self.article),
                Route("/privacy", self.privacy),
                Route("/cookies", self.cookies),
                Route("/preferences", self.preferences, methods=["POST"]),
                Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            ],
            exception_handlers={404: self.not_found},
        )

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        """Render template ``name`` for ``request``."""
        context.setdefault("page", name.removesuffix(".html"))
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    async def home(self, request: Request) -> Response:
        """The list of articles."""
        return self.page(request, "home.html")

    async def article(self, request: Request) -> Response:
        """One article, with ad slots and a video embed."""
        found = article(request.path_params["slug"])
        if found is None:
            raise HTTPException(status_code=404)
        return self.page(request, found.template, article=found, page="article")

    async def privacy(self, request: Request) -> Response:
        """The privacy policy, mostly generated by consentgate.disclosure."""
        return self.page(request, "privacy.html")

    async def cookies(self, request: Request) -> Response:
        """The cookie declaration, generated by consentgate.disclosure."""
        return self.page(request, "cookies.html")

    async def preferences(self, request: Request) -> Response:
        """Store the text size; consentgate drops the cookie without functional consent."""
        body = await request.body()
        form = parse_qs(body[:_MAX_FORM].decode("utf-8", "replace"))
        response = RedirectResponse(safe_next(form.get("next", ["/"])[-1]), status_code=303)
        if form.get("text_size", [""])[-1] == _LARGE_TEXT:
            response.set_cookie(
                PREFS_COOKIE, _LARGE_TEXT, max_age=_YEAR, httponly=True, samesite="lax"
            )
        else:
            response.delete_cookie(PREFS_COOKIE, httponly=True, samesite="lax")
        return response

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """A friendly 404 page."""
        return self.page(request, "not_found.html", status=404)


def _page_context(request: Request) -> dict[str, Any]:
    consent = request.state.consent
    large = consent.allows("functional") and request.cookies.get(PREFS_COOKIE) == _LARGE_TEXT
    return {
        "consent": consent,
        "demo": getattr(request.state, "demo", None),
        "prefs": Prefs(large_text=large),
    }


def _static_urls(directory: Path) -> Callable[[str], str]:
    versions = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in directory.iterdir()
        if path.is_file()
    }

    def static(name: str) -> str:
        """The URL of a static file, with its content hash for cache busting."""
        return f"/static/{name}?v={versions[name]}"

    return static
