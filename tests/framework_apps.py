"""One small real app per framework, each behind consentgate, each with the same routes.

``/`` a page (with the framework's own form where it has one), ``/consent`` the consent as
the handler sees it (JSON), ``/stream`` a page sent in several chunks, plus what each
framework needs to show its own forms, CSRF, sessions and WebSockets still work.
Visitors are told apart by an ``X-Country`` header that the loopback proxy is trusted for.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from consentgate import Consent, ConsentMiddleware, ConsentSettings
from consentgate.ledger import MemoryLedger
from consentgate.settings import Service

KEY = "framework-key-0123456789-0123456789-0123456789"
SITE_KEY = "site-secret-0123456789-0123456789-0123456789"
HTML = "text/html; charset=utf-8"
STATIC = Path(__file__).parent / "framework_static"


def page(title: str, extra: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{extra}</body></html>"
    )


STREAM_PARTS = (
    "<!doctype html><html><head><title>stream</title></head><body>",
    "<p>part one</p>",
    "<p>part two</p>",
    "</body></html>",
)


async def stream_parts() -> AsyncIterator[str]:
    for part in STREAM_PARTS:
        yield part
        await asyncio.sleep(0)


def consent_json(consent: Consent) -> dict[str, Any]:
    return {
        "country": consent.country,
        "regulated": consent.regulated,
        "show_banner": consent.show_banner,
        "granted": sorted(consent.granted),
    }


def settings(*cookies: str) -> ConsentSettings:
    """The settings every app uses: the framework's own cookies declared as necessary."""
    return ConsentSettings(
        secret_keys=[KEY],
        ledger_url=None,
        trusted_proxies=["127.0.0.1"],
        country_header="x-country",
        services=[
            Service(
                name="Site",
                category="necessary",
                description="Sign-in, form protection and the session",
                cookies=list(cookies),
            )
        ],
    )


def wrap(app: Any, *cookies: str) -> ConsentMiddleware:
    return ConsentMiddleware(app, settings=settings(*cookies), ledger=MemoryLedger())


# -- raw ASGI ---------------------------------------------------------------------------------
async def _raw_site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    consent: Consent = scope["state"]["consent"]
    if path == "/consent":
        body = json.dumps(consent_json(consent)).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    if path == "/form" and scope["method"] == "POST":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"echo:" + b"".join(chunks)
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    headers = [(b"content-type", HTML.encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/stream":
        for part in STREAM_PARTS:
            await send({"type": "http.response.body", "body": part.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    form = '<form method="post" action="/form"><input name="q"><button>Go</button></form>'
    await send({"type": "http.response.body", "body": page("raw", form).encode()})


def raw_app() -> ConsentMiddleware:
    return wrap(_raw_site)


# -- Starlette --------------------------------------------------------------------------------
def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import (
        FileResponse,
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        Response,
        StreamingResponse,
    )
    from starlette.routing import Route

    async def home(request: Request) -> Response:
        form = '<form method="post" action="/form"><input name="q"><button>Go</button></form>'
        return HTMLResponse(page("starlette", form))

    async def consent_view(request: Request) -> Response:
        return JSONResponse(consent_json(request.state.consent))

    async def stream(request: Request) -> Response:
        return StreamingResponse(stream_parts(), media_type=HTML)

    async def form(request: Request) -> Response:
        data = await request.form()
        request.session["count"] = request.session.get("count", 0) + 1
        return PlainTextResponse(f"q={data.get('q')} count={request.session['count']}")

    async def file_page(request: Request) -> Response:
        return FileResponse(STATIC / "page.html", media_type=HTML)

    async def file_text(request: Request) -> Response:
        return FileResponse(STATIC / "notes.txt")

    site = Starlette(
        routes=[
            Route("/", home),
            Route("/consent", consent_view),
            Route("/stream", stream),
            Route("/form", form, methods=["POST"]),
            Route("/file.html", file_page),
            Route("/file.txt", file_text),
        ],
        middleware=[Middleware(SessionMiddleware, secret_key=SITE_KEY)],
    )
    return wrap(site, "session")


# -- FastAPI ----------------------------------------------------------------------------------
def fastapi_app() -> Any:
    from fastapi import FastAPI, Form, Request, WebSocket
    from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse
    from starlette.middleware.sessions import SessionMiddleware

    from consentgate.fastapi import ConsentDep

    site = FastAPI()
    site.add_middleware(SessionMiddleware, secret_key=SITE_KEY)

    @site.get("/", response_class=HTMLResponse)
    async def home() -> str:
        form = '<form method="post" action="/form"><input name="q"><button>Go</button></form>'
        return page("fastapi", form)

    @site.get("/consent")
    async def consent_view(consent: ConsentDep) -> dict[str, Any]:
        return consent_json(consent)

    @site.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(stream_parts(), media_type=HTML)

    @site.post("/form", response_class=PlainTextResponse)
    async def form(request: Request, q: str = Form()) -> str:
        request.session["count"] = request.session.get("count", 0) + 1
        return f"q={q} count={request.session['count']}"

    @site.websocket("/ws")
    async def ws(websocket: WebSocket, consent: ConsentDep) -> None:
        await websocket.accept()
        await websocket.send_text(consent.country or "")
        await websocket.close()

    return wrap(site, "session")


# -- Quart ------------------------------------------------------------------------------------
def quart_app() -> Any:
    from quart import Quart, request, session, websocket

    site = Quart(__name__)
    site.secret_key = SITE_KEY

    @site.route("/")
    async def home() -> str:
        form = '<form method="post" action="/form"><input name="q"><button>Go</button></form>'
        return page("quart", form)

    @site.route("/consent")
    async def consent_view() -> dict[str, Any]:
        return consent_json(request.scope["state"]["consent"])

    @site.route("/stream")
    async def stream() -> Any:
        return stream_parts(), 200, {"Content-Type": HTML}

    @site.route("/form", methods=["POST"])
    async def form() -> tuple[str, dict[str, str]]:
        data = await request.form
        session["count"] = session.get("count", 0) + 1
        return f"q={data.get('q')} count={session['count']}", {"Content-Type": "text/plain"}

    @site.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(websocket.scope["state"]["consent"].country or "")

    # Quart's documented place for ASGI middleware: the app object stays a Quart app.
    site.asgi_app = wrap(site.asgi_app, "session")  # type: ignore[assignment]  # Quart types its ASGI messages itself
    return site


# -- Litestar ---------------------------------------------------------------------------------
def litestar_app() -> Any:
    from litestar import Litestar, MediaType, Request, get, post
    from litestar.config.csrf import CSRFConfig
    from litestar.enums import RequestEncodingType
    from litestar.middleware.session.server_side import ServerSideSessionConfig
    from litestar.params import Body
    from litestar.response import Stream
    from litestar.utils.scope.state import ScopeState

    @get("/", media_type=MediaType.HTML)
    async def home(request: Request[Any, Any, Any]) -> str:
        token = ScopeState.from_scope(request.scope).csrf_token  # set by Litestar's CSRF guard
        form = (
            '<form method="post" action="/form">'
            f'<input type="hidden" name="_csrf_token" value="{token}">'
            '<input name="q"><button>Go</button></form>'
        )
        return page("litestar", form)

    @get("/consent")
    async def consent_view(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return consent_json(request.scope["state"]["consent"])

    @get("/stream")
    async def stream() -> Stream:
        return Stream(stream_parts(), media_type=MediaType.HTML)

    @post("/form", media_type=MediaType.TEXT, status_code=200)
    async def form(
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> str:
        return f"q={data.get('q')}"

    @get("/session/set", media_type=MediaType.TEXT)
    async def session_set(request: Request[Any, Any, Any]) -> str:
        request.session["name"] = request.query_params["name"]
        return "stored"

    @get("/session")
    async def session_view(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"name": request.session.get("name")}

    site = Litestar(
        route_handlers=[home, consent_view, stream, form, session_set, session_view],
        csrf_config=CSRFConfig(secret=SITE_KEY),
        # Litestar's server-side sessions (its in-memory store): the ``session`` cookie is the id.
        middleware=[ServerSideSessionConfig().middleware],
    )
    return wrap(site, "csrftoken", "session")


# -- Django -----------------------------------------------------------------------------------
DJANGO_TEMPLATES = {
    "home.html": (
        "{% load consentgate %}<!doctype html><html><head><title>django</title></head><body>"
        "<h1>django {{ consent.country }}</h1>"
        '<form method="post" action="/form">{% csrf_token %}<input name="q"><button>Go</button>'
        "</form>"
        "{% if consent|consent_allows:'analytics' %}<p id='stats'>stats on</p>{% endif %}"
        "{% consentgate_gated 'analytics' %}<script src='/static/stats.js'></script>"
        "{% endconsentgate_gated %}"
        "<footer>{% consentgate_open_link 'Cookie choices' %}</footer>"
        "</body></html>"
    ),
}


def django_app() -> Any:
    import django
    from django.conf import settings as django_settings

    if not django_settings.configured:
        django_settings.configure(
            DEBUG=False,
            SECRET_KEY=SITE_KEY,
            ROOT_URLCONF="tests.framework_django_urls",
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.sessions",
                "consentgate.django",
            ],
            MIDDLEWARE=[
                "django.contrib.sessions.middleware.SessionMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
            ],
            SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
            DATABASES={},
            USE_TZ=True,
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "OPTIONS": {
                        "context_processors": [
                            "django.template.context_processors.csrf",
                            "consentgate.django.context_processors.consent",
                        ],
                        "loaders": [("django.template.loaders.locmem.Loader", DJANGO_TEMPLATES)],
                    },
                }
            ],
        )
        django.setup()
    from django.core.asgi import get_asgi_application

    return wrap(get_asgi_application(), "csrftoken", "sessionid")


# -- Datasette --------------------------------------------------------------------------------
def datasette_app() -> Any:
    from datasette.app import Datasette
    from datasette.plugins import pm

    from . import framework_datasette_plugin as plugin

    if not pm.is_registered(plugin):
        pm.register(plugin, name="consentgate_test_plugin")
    ds = Datasette(memory=True)
    return wrap(ds.app(), "ds_csrftoken", "ds_messages", "ds_actor")


BUILDERS = {
    "raw": raw_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "quart": quart_app,
    "litestar": litestar_app,
    "django": django_app,
    "datasette": datasette_app,
}
