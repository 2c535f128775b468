"""Every ASGI framework behind consentgate, served by a real server on loopback.

Each framework's app (tests/framework_apps.py) runs once per module under uvicorn; the
Starlette app also runs under hypercorn and granian. Visitors are told apart by the
``X-Country`` header of the trusted loopback proxy.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from consentgate import ConfigError, ConsentMiddleware

from .framework_apps import BUILDERS, settings
from .servers import granian_server, hypercorn_server, uvicorn_server

DE = {"x-country": "DE", "accept": "text/html"}
US = {"x-country": "US", "accept": "text/html"}
FRAMEWORKS = list(BUILDERS)
SERVED = [*FRAMEWORKS, "starlette@hypercorn", "starlette@granian"]
ASSET = re.compile(r'(?:src|href)="(/_consent/assets/[^"]+)"')


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """Base URL of every framework's app, each server started once for the module."""
    with contextlib.ExitStack() as stack:
        urls = {
            name: stack.enter_context(
                # Django's ASGI handler has no lifespan: consentgate then starts lazily.
                uvicorn_server(build(), lifespan="auto" if name == "django" else "on")
            )
            for name, build in BUILDERS.items()
        }
        urls["starlette@hypercorn"] = stack.enter_context(hypercorn_server(BUILDERS["starlette"]()))
        urls["starlette@granian"] = stack.enter_context(
            granian_server("tests.framework_apps:starlette_app")
        )
        yield urls


@pytest.fixture(params=SERVED)
def site(request: pytest.FixtureRequest, servers: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=servers[request.param], timeout=10) as client:
        yield client


def is_banner_open(html: str) -> bool:
    return 'id="consentgate-banner"' in html and 'role="dialog"' in html


# -- the same checks for every framework and server ----------------------------------------------
def test_regulated_visitor_gets_the_banner(site: httpx.Client) -> None:
    response = site.get("/", headers=DE)
    assert response.status_code == 200
    assert is_banner_open(response.text)
    assert response.text.index("gtag('consent','default'") < response.text.index("<h1>")


def test_unregulated_visitor_gets_no_banner(site: httpx.Client) -> None:
    response = site.get("/", headers=US)
    assert response.status_code == 200
    assert not is_banner_open(response.text)
    assert 'id="consentgate-reopen"' in response.text or "data-consentgate-open" in response.text


def test_handler_sees_the_consent(site: httpx.Client) -> None:
    regulated = site.get("/consent", headers={"x-country": "DE"}).json()
    unregulated = site.get("/consent", headers={"x-country": "US"}).json()
    assert regulated == {
        "country": "DE",
        "regulated": True,
        "show_banner": True,
        "granted": ["necessary"],
    }
    assert unregulated["country"] == "US"
    assert unregulated["regulated"] is False
    assert "analytics" in unregulated["granted"]


def test_endpoints_and_assets_answer(site: httpx.Client) -> None:
    page = site.get("/", headers=DE).text
    assets = ASSET.findall(page)
    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        response = site.get(asset)
        assert response.status_code == 200, asset
        assert "immutable" in response.headers["cache-control"]
    state = site.get("/_consent", headers={"x-country": "DE"})
    assert state.status_code == 200
    assert state.json()["consent"]["show_banner"] is True
    assert site.get("/_consent/settings", headers=DE).status_code == 200


def test_accepting_sets_the_cookie_and_the_handler_sees_it(site: httpx.Client) -> None:
    response = site.post(
        "/_consent", data={"action": "accept_all", "next": "/"}, headers={"x-country": "DE"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "consentgate" in site.cookies
    after = site.get("/consent", headers={"x-country": "DE"}).json()
    assert after["show_banner"] is False
    assert "analytics" in after["granted"]
    assert not is_banner_open(site.get("/", headers=DE).text)


def test_streamed_page_gets_the_banner(site: httpx.Client) -> None:
    response = site.get("/stream", headers=DE)
    assert response.status_code == 200
    text = response.text
    assert "<p>part one</p><p>part two</p>" in text
    assert is_banner_open(text)
    assert text.index("consentgate-banner") < text.index("</body>")
    assert response.headers.get("content-length") in (None, str(len(response.content)))


# -- each framework's own forms, CSRF, sessions and WebSockets ------------------------------------
def client_for(servers: dict[str, str], name: str) -> httpx.Client:
    return httpx.Client(base_url=servers[name], timeout=10)


@pytest.mark.parametrize("name", ["starlette", "fastapi", "quart", "starlette@hypercorn"])
def test_form_post_and_session_work(servers: dict[str, str], name: str) -> None:
    with client_for(servers, name) as client:
        for count in (1, 2):
            response = client.post("/form", data={"q": "hi"}, headers={"x-country": "DE"})
            assert response.status_code == 200
            assert response.text == f"q=hi count={count}"
        assert "session" in client.cookies


def test_raw_asgi_form_body_reaches_the_app(servers: dict[str, str]) -> None:
    with client_for(servers, "raw") as client:
        response = client.post("/form", data={"q": "hi"}, headers={"x-country": "DE"})
    assert response.text == "echo:q=hi"


def csrf_post(
    client: httpx.Client, page: str, action: str, field: str, cookie: str, data: dict[str, str]
) -> httpx.Response:
    """The framework's CSRF round trip through consentgate: the page (with the banner) gives a
    token and a cookie; a post without the token is refused, one with it is answered."""
    text = client.get(page, headers=DE).text
    assert is_banner_open(text)
    token = re.search(rf'name="{field}" value="([^"]+)"', text)
    assert token is not None
    assert cookie in client.cookies
    refused = client.post(action, data=data, headers={"x-country": "DE"})
    assert refused.status_code == 403
    return client.post(action, data={**data, field: token.group(1)}, headers={"x-country": "DE"})


def test_django_csrf_form_and_session(servers: dict[str, str]) -> None:
    with client_for(servers, "django") as client:
        assert "<h1>django DE</h1>" in client.get("/", headers=DE).text
        for count in (1, 2):
            response = csrf_post(
                client, "/", "/form", "csrfmiddlewaretoken", "csrftoken", {"q": "hi"}
            )
            assert response.status_code == 200
            assert response.text == f"q=hi count={count}"
        assert "sessionid" in client.cookies


def test_django_template_tags_follow_the_consent(servers: dict[str, str]) -> None:
    with client_for(servers, "django") as client:
        before = client.get("/", headers=DE).text
        # The site's own link (the banner script then hides consentgate's reopen link).
        assert '<a href="/_consent/settings" data-consentgate-open>Cookie choices</a>' in before
        assert 'id="stats"' not in before
        assert (
            '<script type="text/plain" data-consentgate-category="analytics"'
            " data-consentgate-src='/static/stats.js'>" in before
        )
        client.post("/_consent", data={"action": "accept_all"}, headers={"x-country": "DE"})
        after = client.get("/", headers=DE).text
        assert "<p id='stats'>stats on</p>" in after
        assert "<script src='/static/stats.js'></script>" in after


def test_litestar_csrf_form(servers: dict[str, str]) -> None:
    with client_for(servers, "litestar") as client:
        response = csrf_post(client, "/", "/form", "_csrf_token", "csrftoken", {"q": "hi"})
    assert response.status_code == 200
    assert response.text == "q=hi"


def test_datasette_csrf_form(servers: dict[str, str]) -> None:
    with client_for(servers, "datasette") as client:
        data = {"message": "hello there", "message_type": "INFO"}
        response = csrf_post(
            client, "/-/messages", "/-/messages", "csrftoken", "ds_csrftoken", data
        )
        assert response.status_code == 302
        assert "hello there" in client.get("/", headers=DE).text


def reject_all(client: httpx.Client) -> None:
    """The visitor's "Reject all": it must leave the framework's necessary cookies alone."""
    response = client.post(
        "/_consent", data={"action": "reject_all", "next": "/"}, headers={"x-country": "DE"}
    )
    assert response.status_code == 303
    assert "consentgate" in client.cookies


def test_litestar_session(servers: dict[str, str]) -> None:
    with client_for(servers, "litestar") as client:
        stored = client.get("/session/set", params={"name": "ada"}, headers={"x-country": "DE"})
        assert stored.status_code == 200
        assert "session" in client.cookies
        assert client.get("/session", headers={"x-country": "DE"}).json() == {"name": "ada"}
        reject_all(client)
        assert "session" in client.cookies
        assert client.get("/session", headers={"x-country": "DE"}).json() == {"name": "ada"}


def test_datasette_sign_in(servers: dict[str, str]) -> None:
    with client_for(servers, "datasette") as client:
        assert client.get("/-/actor.json", headers={"x-country": "DE"}).json() == {"actor": None}
        signed_in = client.get("/-/sign-in", params={"id": "ada"}, headers={"x-country": "DE"})
        assert signed_in.status_code == 302
        assert "ds_actor" in client.cookies
        actor = client.get("/-/actor.json", headers={"x-country": "DE"}).json()
        assert actor == {"actor": {"id": "ada"}}
        reject_all(client)
        assert "ds_actor" in client.cookies
        actor = client.get("/-/actor.json", headers={"x-country": "DE"}).json()
        assert actor == {"actor": {"id": "ada"}}


@pytest.mark.parametrize(("name", "country"), [("quart", "DE"), ("fastapi", "US")])
def test_websocket_handler_sees_the_consent(
    servers: dict[str, str], name: str, country: str
) -> None:
    url = servers[name].replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"x-country": country}) as ws:
        assert ws.recv(timeout=5) == country


# -- files: granian sends them with http.response.pathsend ----------------------------------------
@pytest.mark.parametrize("name", ["starlette", "starlette@granian"])
def test_plain_file_passes_through(servers: dict[str, str], name: str) -> None:
    with client_for(servers, name) as client:
        response = client.get("/file.txt", headers=DE)
    assert response.status_code == 200
    assert response.text == "plain notes\n"


@pytest.mark.parametrize("name", ["starlette", "starlette@granian"])
def test_html_file_gets_the_banner(servers: dict[str, str], name: str) -> None:
    with client_for(servers, name) as client:
        response = client.get("/file.html", headers=DE)
    assert response.status_code == 200
    assert "<p>from a file</p>" in response.text
    assert is_banner_open(response.text)


# -- mounting ------------------------------------------------------------------------------------
def test_litestar_per_route_middleware_is_refused_with_the_fix() -> None:
    from litestar import Litestar, get
    from litestar.middleware import DefineMiddleware

    @get("/")
    async def home() -> str:
        return "hi"

    with pytest.raises(ConfigError, match=r"ConsentMiddleware\(Litestar\("):
        Litestar(
            route_handlers=[home],
            middleware=[DefineMiddleware(ConsentMiddleware, settings=settings())],
        )


def test_litestar_application_can_be_wrapped() -> None:
    from litestar import Litestar

    ConsentMiddleware(Litestar(route_handlers=[]), settings=settings())


def test_helpers_name_the_fix_when_the_middleware_is_missing() -> None:
    from starlette.requests import HTTPConnection

    from consentgate.fastapi import get_consent

    scope = {"type": "http", "headers": [], "state": {}}
    with pytest.raises(ConfigError, match="ConsentMiddleware"):
        get_consent(HTTPConnection(scope))


def test_the_core_imports_no_framework_but_starlette() -> None:
    code = (
        "import sys, consentgate, consentgate.jinja; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'fastapi', 'django', 'litestar', 'quart', 'datasette', 'flask'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
