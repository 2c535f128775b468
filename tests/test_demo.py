"""The demo site in-process: pages, banner, ad labels, country simulation, CLI and examples."""

from __future__ import annotations

import ast
import asyncio
import html
import io
import re
import runpy
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from consentgate import ConfigError
from consentgate.cli import main
from consentgate.demo import CONFIG_PATH, create_app, demo_settings, serve
from consentgate.demo.content import ARTICLES
from consentgate.disclosure import effective_services

from .conftest import KEY

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
OVERRIDES: dict[str, Any] = {"secret_keys": [KEY], "ledger_url": None}
PAGES = ["/", *(a.url for a in ARTICLES), "/privacy", "/cookies"]
BANNER_TAG = re.compile(r'<div id="consentgate-banner"[^>]*>')
AD_MODE = re.compile(r'<span class="ad-mode" data-ad-mode="([a-z_]+)">')
SETTINGS = demo_settings(overrides=OVERRIDES).settings  # the bundled consentgate.toml


def visitor(app: Any, country: str | None = None, ip: str = LOOPBACK) -> httpx.AsyncClient:
    """A client on ``ip``; ``country`` is simulated with the demo panel's cookie."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 50000)),
        base_url="http://testserver",
    )
    if country:
        client.cookies.set("demo_country", country)
    return client


@pytest.fixture
def app() -> Any:
    return create_app(settings_overrides=OVERRIDES)


def banner_open(page: str) -> bool:
    tag = BANNER_TAG.search(page)
    assert tag, "the banner markup is missing"
    return " hidden" not in tag.group(0)


def ad_modes(page: str) -> set[str]:
    modes = set(AD_MODE.findall(page))
    assert modes, "no ad slot on the page"
    return modes


def panel_field(page: str, name: str) -> str:
    found = re.search(rf'<dd data-field="{name}">(.*?)</dd>', page, re.DOTALL)
    assert found, f"no demo panel field {name!r}"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


# -- pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("country", "regulated"), [("DE", True), ("US", False)])
async def test_every_page_renders_with_the_banner_open_only_for_a_regulated_visitor(
    app: Any, path: str, country: str, regulated: bool
) -> None:
    async with visitor(app, country) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert banner_open(response.text) is regulated
    assert panel_field(response.text, "country") == f"{country} (simulated)"
    assert panel_field(response.text, "regulated") == ("yes" if regulated else "no")


async def test_home_lists_every_article(app: Any) -> None:
    async with visitor(app, "US") as client:
        page = (await client.get("/")).text
    for article in ARTICLES:
        assert f'href="{article.url}"' in page
        assert html.escape(article.title, quote=False) in page


async def test_an_unknown_article_gets_the_not_found_page(app: Any) -> None:
    async with visitor(app, "US") as client:
        response = await client.get("/articles/no-such-thing")
    assert response.status_code == 404
    assert "Page not found" in response.text


async def test_static_files_are_served(app: Any) -> None:
    async with visitor(app, "US") as client:
        css = await client.get("/static/site.css")
        script = await client.get("/static/video-embed.js")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert script.status_code == 200


async def test_policy_and_cookie_pages_list_every_service_and_cookie(app: Any) -> None:
    services = effective_services(SETTINGS)
    assert {s.name for s in services} >= {"Google Analytics 4", "Google AdSense"}
    async with visitor(app, "US") as client:
        policy = html.unescape((await client.get("/privacy")).text)
        cookies = html.unescape((await client.get("/cookies")).text)
    for service in services:
        assert service.name in policy
        assert service.name in cookies
        for cookie in service.cookies:
            assert cookie in policy
            assert f"<code>{cookie}</code>" in cookies
    assert f"<code>{SETTINGS.cookie_name}</code>" in cookies
    assert "does not log or store IP addresses" in policy


# -- ads follow the consent -----------------------------------------------------------------------


async def test_ad_label_follows_the_consent_of_a_regulated_visitor(app: Any) -> None:
    article = ARTICLES[0].url
    async with visitor(app, "DE") as client:
        assert ad_modes((await client.get(article)).text) == {SETTINGS.ads.before_choice}
        accepted = await client.post("/_consent", data={"action": "accept_all", "next": article})
        assert accepted.status_code == 303
        assert accepted.headers["location"] == article
        page = (await client.get(article)).text
        assert ad_modes(page) == {"personalized"}
        assert not banner_open(page)
        await client.post("/_consent", data={"action": "reject_all"})
        page = (await client.get(article)).text
    assert ad_modes(page) == {SETTINGS.ads.without_consent}
    assert panel_field(page, "decided") == "yes"


async def test_ad_label_with_same_origin_headers(app: Any) -> None:
    headers = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
    async with visitor(app, "FR") as client:
        response = await client.post("/_consent", data={"action": "accept_all"}, headers=headers)
        assert response.status_code == 303
        assert ad_modes((await client.get("/")).text) == {"personalized"}


async def test_gpc_gives_an_unregulated_visitor_non_personalized_ads(app: Any) -> None:
    async with visitor(app, "US") as client:
        assert ad_modes((await client.get("/")).text) == {"personalized"}
        client.cookies.set("demo_gpc", "1")
        page = (await client.get("/")).text
    assert ad_modes(page) == {"non_personalized"}
    assert panel_field(page, "gpc") == "on"


async def test_ad_push_scripts_are_inert_until_ads_may_load(app: Any) -> None:
    push = "(window.adsbygoogle = window.adsbygoogle || []).push({});</script>"
    inert = '<script type="text/plain" data-consentgate-category="advertising">' + push
    async with visitor(app, "DE") as client:
        before = (await client.get("/")).text
        await client.post("/_consent", data={"action": "accept_all"})
        after = (await client.get("/")).text
    assert inert in before
    assert "<script>" + push in after
    assert inert not in after


# -- video embed and preferences (functional) -----------------------------------------------------


async def test_youtube_embed_is_a_placeholder_until_allowed_and_uses_nocookie(app: Any) -> None:
    article = "/articles/walking-for-health"
    async with visitor(app, "DE") as client:
        before = (await client.get(article, headers={"accept": "text/html"})).text
        assert 'aria-label="YouTube"' in before
        assert '<iframe width="560"' not in before.split("<template")[0]
        await client.post(
            "/_consent", data={"action": "save", "categories": ["functional"], "next": article}
        )
        after = (await client.get(article, headers={"accept": "text/html"})).text
    assert 'aria-label="YouTube"' not in after
    assert 'src="https://www.youtube-nocookie.com/embed/M7lc1UVf-VE"' in after


async def test_video_player_script_loads_only_with_functional_consent(app: Any) -> None:
    article = ARTICLES[0].url
    inert = '<script type="text/plain" data-consentgate-category="functional"'
    async with visitor(app, "DE") as client:
        before = (await client.get(article)).text
        assert inert in before
        assert "Allow functional cookies and load the video" in before
        await client.post(
            "/_consent", data={"action": "save", "categories": ["functional"], "next": article}
        )
        after = (await client.get(article)).text
    assert '<script src="/static/video-embed.js"></script>' in after
    assert "Allow functional cookies and load the video" not in after
    assert panel_field(after, "granted") == "functional, necessary"


async def test_text_size_cookie_is_dropped_without_functional_consent(app: Any) -> None:
    async with visitor(app, "DE") as client:
        refused = await client.post("/preferences", data={"text_size": "large", "next": "/"})
        assert refused.status_code == 303
        assert "hh_prefs" not in refused.headers.get("set-cookie", "")
        await client.post("/_consent", data={"action": "accept_all"})
        allowed = await client.post("/preferences", data={"text_size": "large", "next": "/x"})
        assert allowed.headers["location"] == "/x"
        assert "hh_prefs=large" in allowed.headers["set-cookie"]
        page = (await client.get("/")).text
    assert '<body class="text-large">' in page


async def test_preferences_redirect_only_to_local_paths(app: Any) -> None:
    async with visitor(app, "US") as client:
        response = await client.post(
            "/preferences", data={"text_size": "normal", "next": "//evil.example/"}
        )
    assert response.headers["location"] == "/"


# -- country simulation ---------------------------------------------------------------------------


async def test_country_switch_sets_the_cookie_and_redirects_back(app: Any) -> None:
    async with visitor(app) as client:
        response = await client.get("/demo/country/fr", params={"next": "/privacy"})
        assert response.status_code == 303
        assert response.headers["location"] == "/privacy"
        assert response.headers["set-cookie"].startswith("demo_country=FR;")
        page = (await client.get("/privacy")).text
    assert panel_field(page, "country") == "FR (simulated)"


async def test_country_switch_refuses_an_unsafe_next(app: Any) -> None:
    async with visitor(app) as client:
        response = await client.get("/demo/country/GB", params={"next": "https://evil.example/"})
    assert response.headers["location"] == "/"


async def test_an_invalid_country_switch_is_not_found(app: Any) -> None:
    async with visitor(app) as client:
        response = await client.get("/demo/country/XYZ")
    assert response.status_code == 404
    assert "set-cookie" not in response.headers


async def test_real_ip_switch_turns_simulation_off() -> None:
    app = create_app(settings_overrides=OVERRIDES, country="US")
    async with visitor(app) as client:
        assert panel_field((await client.get("/")).text, "country") == "US (simulated)"
        await client.get("/demo/country/auto")
        page = (await client.get("/")).text
    # Loopback has no country: unknown, hence regulated by default.
    assert panel_field(page, "country") == "unknown"
    assert panel_field(page, "regulated") == "yes"


async def test_country_argument_is_the_default_until_one_is_picked() -> None:
    app = create_app(settings_overrides=OVERRIDES, country="gb")
    async with visitor(app) as client:
        assert panel_field((await client.get("/")).text, "country") == "GB (simulated)"
        client.cookies.set("demo_country", "BR")
        page = (await client.get("/")).text
    assert panel_field(page, "country") == "BR (simulated)"
    assert not banner_open(page)


async def test_a_forged_country_header_is_replaced_by_the_simulation(app: Any) -> None:
    async with visitor(app, "DE") as client:
        page = (await client.get("/", headers={"x-demo-country": "US"})).text
    assert panel_field(page, "country") == "DE (simulated)"


async def test_simulation_is_not_believed_from_a_non_loopback_client(app: Any) -> None:
    async with visitor(app, "US", ip="192.0.2.10") as client:
        page = (await client.get("/")).text
    assert panel_field(page, "country") == "unknown (simulation not trusted from this address)"
    assert banner_open(page)


async def test_force_country_overrides_the_simulation() -> None:
    app = create_app(settings_overrides={**OVERRIDES, "force_country": "FR"}, country="US")
    async with visitor(app, "BR") as client:
        page = (await client.get("/")).text
    assert panel_field(page, "country") == "FR"
    assert "overrides the simulation" in page
    assert "/demo/country/BR" not in page


def test_an_invalid_country_argument_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--country"):
        create_app(settings_overrides=OVERRIDES, country="Germany")


# -- settings -------------------------------------------------------------------------------------


def test_demo_settings_generate_a_key_and_say_so() -> None:
    setup = demo_settings(overrides={"ledger_url": None})
    assert len(setup.settings.secret_keys) == 1
    assert len(setup.settings.secret_keys[0]) >= 32
    assert any("throw-away key" in w for w in setup.warnings)


def test_demo_settings_keep_a_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    setup = demo_settings(overrides={"ledger_url": None})
    assert setup.settings.secret_keys == [KEY]
    assert not setup.warnings


def test_demo_settings_put_the_ledger_in_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    setup = demo_settings(overrides={"secret_keys": [KEY]})
    database = tmp_path / "consentgate" / "consentgate-demo.db"
    assert setup.settings.ledger_url == f"sqlite:///{database}"
    assert any(str(database) in note for note in setup.notes)


def test_demo_settings_keep_a_ledger_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENTGATE_LEDGER_URL", "sqlite:///elsewhere.db")
    assert demo_settings(overrides={"secret_keys": [KEY]}).settings.ledger_url == (
        "sqlite:///elsewhere.db"
    )


def test_demo_settings_trust_loopback_for_the_country_header() -> None:
    settings = demo_settings(overrides={**OVERRIDES}).settings
    assert settings.country_header == "x-demo-country"
    assert {"127.0.0.1", "::1"} <= set(settings.trusted_proxies)


def test_demo_settings_read_a_given_config_file(tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text('policy_revision = 4\ntrusted_proxies = ["10.0.0.1"]\n')
    settings = demo_settings(config=str(config), overrides=OVERRIDES).settings
    assert settings.policy_revision == 4
    assert settings.ads.provider == "none"
    assert settings.trusted_proxies == ["10.0.0.1", "127.0.0.1", "::1"]


def test_bundled_config_uses_demo_ids_for_every_gating_path() -> None:
    assert SETTINGS.ads.provider == "adsense"
    assert SETTINGS.ads.client == "ca-pub-1234567890123456"
    assert SETTINGS.analytics.provider == "ga4"
    assert SETTINGS.analytics.measurement_id == "G-DEMO123456"
    assert {s.name for s in SETTINGS.services if s.category == "functional"} == {
        "Site preferences",
        "VidStream video player",
        "YouTube",
    }


def test_site_files_ship_inside_the_package() -> None:
    package = resources.files("consentgate.demo")
    assert Path(str(package.joinpath("consentgate.toml"))) == CONFIG_PATH
    for name in ("templates/base.html", "static/site.css", "static/video-embed.js"):
        assert package.joinpath(name).is_file(), name
    for article in ARTICLES:
        assert package.joinpath("templates", article.template).is_file()


# -- the ledger: receipt and erase through the demo ----------------------------------------------


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan around the block (ASGITransport does not)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task


async def test_receipt_and_erase_work_with_the_demo_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    app = create_app(settings_overrides={"secret_keys": [KEY], "ledger_url": url})
    async with lifespan(app), visitor(app, "DE") as client:
        await client.post("/_consent", data={"action": "accept_all"})
        consent_id = (await client.get("/_consent")).json()["consent"]["consent_id"]
        for _ in range(100):
            receipt = (await client.get("/_consent/receipt")).json()
            if receipt["records"]:
                break
            await asyncio.sleep(0.02)
        assert receipt["consent_id"] == consent_id
        assert [r["action"] for r in receipt["records"]] == ["accept_all"]
        erased = await client.post("/_consent/erase", data={"next": "/privacy"})
        assert erased.headers["location"] == "/privacy"
        assert banner_open((await client.get("/privacy")).text)


# -- serve and the command line -------------------------------------------------------------------


@pytest.fixture
def no_uvicorn_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    import uvicorn

    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return calls


def test_serve_says_it_uses_a_throw_away_key_and_prints_the_url(
    no_uvicorn_run: list[Any],
) -> None:
    out = io.StringIO()
    assert serve(host="127.0.0.1", port=8123, country="de", out=out) == 0
    text = out.getvalue()
    assert "throw-away key" in text
    assert "http://127.0.0.1:8123/" in text
    assert "simulated as coming from DE" in text
    options = no_uvicorn_run[0][1]
    assert options["host"] == "127.0.0.1"
    assert options["port"] == 8123


def test_serve_brackets_an_ipv6_host_and_warns_about_remote_visitors(
    no_uvicorn_run: list[Any],
) -> None:
    out = io.StringIO()
    serve(host="::", port=8000, out=out)
    assert "http://[::]:8000/" in out.getvalue()
    assert "browsers on this machine only" in out.getvalue()


def test_serve_without_uvicorn_exits_2_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert serve(out=io.StringIO()) == 2
    assert "pip install 'consentgate[demo]'" in capsys.readouterr().err


def test_cli_demo_rejects_a_bad_country(
    no_uvicorn_run: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--country", "Germany"], out=io.StringIO()) == 2
    assert "--country" in capsys.readouterr().err
    assert not no_uvicorn_run


def test_cli_demo_without_jinja2_exits_2_with_the_install_hint() -> None:
    code = (
        "import sys; sys.modules['jinja2'] = None\n"
        "from consentgate.cli import main\n"
        "sys.exit(main(['demo']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'consentgate[demo]'" in result.stderr


# -- examples -------------------------------------------------------------------------------------


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    monkeypatch.setenv("CONSENTGATE_LEDGER_URL", "")
    monkeypatch.setenv("CONSENTGATE_FORCE_COUNTRY", "DE")


@pytest.mark.parametrize("name", ["starlette_app.py", "asgi_app.py"])
@pytest.mark.usefixtures("example_env")
async def test_examples_serve_a_page_with_the_banner(name: str) -> None:
    app = runpy.run_path(str(ROOT / "examples" / name))["app"]
    async with visitor(app) as client:
        page = (await client.get("/")).text
    assert banner_open(page)
    assert "none" in page  # consent.ads of an undecided regulated visitor


@pytest.mark.usefixtures("example_env")
async def test_demo_entry_point_serves_the_demo() -> None:
    app = runpy.run_path(str(ROOT / "examples" / "demo" / "app.py"))["app"]
    async with visitor(app) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert "Hearthside Health" in response.text


def test_fastapi_example_is_valid_python_using_the_documented_api() -> None:
    # FastAPI is not a dependency: the example is checked, not imported.
    source = (ROOT / "examples" / "fastapi_app.py").read_text()
    tree = ast.parse(source)
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "consentgate"
        for alias in node.names
    }
    assert {"ConsentMiddleware", "ConsentSettings"} <= imported
    assert "request.state.consent" in source
