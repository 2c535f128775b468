"""Purpose-built sites for ``consentgate scan`` tests: three linked pages each, on loopback.

Each site is a tiny Starlette app with a settings file (written to a temporary directory) that
both the site and the scanner read, as a publisher's would be. The "tracker" hosts are made-up
names under real tracker domains: the scanner records the requests and aborts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, ConsentSettings

from .conftest import KEY

PAGES = ("/", "/a", "/b")


@dataclass(frozen=True)
class Site:
    """A fixture site: its settings TOML (``None`` = no consentgate), pages and scripts."""

    name: str
    toml: str | None
    head: str = ""
    body: str = ""
    scripts: tuple[tuple[str, str], ...] = ()
    #: A cookie the server sets on every page: (name, attributes).
    server_cookie: tuple[str, str] | None = None

    def write_config(self, directory: Path) -> Path | None:
        """The settings file the site runs on (and the scanner reads)."""
        if self.toml is None:
            return None
        path = directory / f"{self.name}.toml"
        path.write_text(f"secret_keys = [{KEY!r}]\n" + self.toml, encoding="utf-8")
        return path

    def app(self, config: Path | None) -> Any:
        """The ASGI app: the site, behind consentgate when it has settings."""
        scripts = dict(self.scripts)

        def page(request: Request) -> Response:
            links = "".join(f'<li><a href="{p}">page {p}</a></li>' for p in PAGES)
            html = (
                f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{self.name}"
                f"</title>{self.head}</head><body><h1>{self.name} {request.url.path}</h1>"
                f"<ul>{links}<li><a href='/static/file.pdf'>a file</a></li>"
                f"<li><a href='https://elsewhere.example/'>elsewhere</a></li></ul>"
                f"{self.body}</body></html>"
            )
            response = HTMLResponse(html)
            if self.server_cookie is not None:
                name, attrs = self.server_cookie
                response.headers.append("set-cookie", f"{name}=v1; Path=/; {attrs}")
            return response

        def script(request: Request) -> Response:
            name = request.path_params["name"]
            if name not in scripts:
                return Response("not found", status_code=404)
            return Response(scripts[name], media_type="text/javascript")

        def elsewhere(request: Request) -> Response:
            # The site's canonical host: http://localhost:PORT/go → http://127.0.0.1:PORT/
            return RedirectResponse(f"http://127.0.0.1:{request.url.port}/", status_code=301)

        site = Starlette(
            routes=[
                *(Route(p, page) for p in PAGES),
                Route("/go", elsewhere),
                Route("/static/{name}", script),
            ]
        )
        if config is None:
            return site
        settings = ConsentSettings.from_toml(config, ledger_url=None)
        return ConsentMiddleware(site, settings=settings)


CLEAN = Site(
    name="clean",
    toml="""
country_header = "x-test-country"
trusted_proxies = ["127.0.0.1"]

[[services]]
name = "Session"
category = "necessary"
cookies = ["sid"]

[[services]]
name = "Site statistics"
category = "analytics"
cookies = ["stats_id"]
hosts = ["stats.example-analytics.net"]
scripts = ['<script src="/static/stats.js"></script>']

[[services]]
name = "Preferences"
category = "functional"
cookies = ["prefs"]
scripts = ['<script src="/static/prefs.js"></script>']
""",
    server_cookie=("sid", "HttpOnly; SameSite=Lax"),
    scripts=(
        (
            "stats.js",
            'document.cookie = "stats_id=s1; path=/; max-age=31536000";\n'
            'localStorage.setItem("stats_last", String(Date.now()));\n'
            'new Image().src = "https://stats.example-analytics.net/hit?p=" + location.pathname;\n',
        ),
        (
            "prefs.js",
            'cookieStore.set({name: "prefs", value: "large", expires: Date.now() + 864e5});\n',
        ),
    ),
)

TRACKER_BEFORE_CONSENT = Site(
    name="tracker-before-consent",
    toml="",
    # A bundled first-party script that reports to Google Analytics on every page view.
    body='<script src="/static/app.js"></script>',
    scripts=(
        (
            "app.js",
            'new Image().src = "https://www.google-analytics.com/g/collect?v=2&tid=G-FIXTURE1";\n',
        ),
    ),
)

COOKIE_AFTER_REFUSAL = Site(
    name="cookie-after-refusal",
    toml="",
    # Sets the Meta Pixel cookie on any choice, without looking at what was granted.
    body='<script src="/static/app.js"></script>',
    scripts=(
        (
            "app.js",
            'document.addEventListener("consentgate:change", function () {\n'
            '  document.cookie = "_fbp=fb.1.1700000000.42; path=/; max-age=7776000";\n'
            "});\n",
        ),
    ),
)

UNDECLARED_ANALYTICS = Site(
    name="undeclared-analytics",
    toml="",
    # Self-hosted Matomo, correctly held back until analytics is granted, but not declared.
    body=(
        '<script type="text/plain" data-consentgate-category="analytics"'
        ' src="/static/matomo.js"></script>'
    ),
    scripts=(
        (
            "matomo.js",
            'document.cookie = "_pk_id.1.a1b2=abc.1700000000; path=/; max-age=33696000";\n'
            'document.cookie = "_pk_ses.1.a1b2=1; path=/; max-age=1800";\n'
            'document.cookie = "visit_count=1; path=/; max-age=2592000";\n',
        ),
    ),
)

NO_CONSENTGATE = Site(
    name="no-consentgate",
    toml=None,
    server_cookie=("sid", "HttpOnly"),
    body='<script src="/static/app.js"></script>',
    scripts=(
        (
            "app.js",
            'new Image().src = "https://www.google-analytics.com/g/collect?v=2&tid=G-FIXTURE2";\n',
        ),
    ),
)

UNFAIR_BANNER = Site(
    name="unfair-banner",
    toml='exclude_paths = ["/a"]\n',
    # A site stylesheet that shrinks "Reject all"; /a is excluded, so it has no reopen link.
    head=(
        "<style>#consentgate-reject{font-size:11px!important;padding:2px!important;"
        "min-height:0!important;min-width:0!important;color:#bbb!important}</style>"
    ),
)
