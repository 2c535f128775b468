"""The middleware end to end: consent in the scope, cookies, lifespan, headers, robustness."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentgate import AdMode, ConfigError, Consent, ConsentMiddleware
from consentgate.cookie import ConsentCookie, CookieState

from .conftest import (
    DE_IP,
    KEY,
    OLD_KEY,
    PAGE,
    US_IP,
    FakeGeo,
    client,
    gate,
    html_app,
    make_settings,
)


def capture_app(seen: list[dict[str, Any]], body: bytes = b'{"ok":true}') -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def cookie_for(
    keys: list[str],
    *,
    granted: frozenset[str] = frozenset({"f", "a", "d"}),
    refused: frozenset[str] = frozenset(),
    decided_at: int | None = None,
    revision: int = 1,
    offer: str | None = None,
    middleware: ConsentMiddleware | None = None,
    max_age_days: int = 182,
    gpc: bool = False,
) -> str:
    codec = ConsentCookie(keys, max_age=max_age_days * 86400)
    offer_hash = offer or (middleware.offer.hash if middleware else "")
    state = CookieState(
        consent_id="abcdefghijklmnop",
        revision=revision,
        granted=granted,
        refused=refused,
        decided_at=int(time.time()) if decided_at is None else decided_at,
        offer=offer_hash,
        gpc=gpc,
    )
    return codec.dumps(state)


async def call_raw(
    app: Any, headers: list[tuple[bytes, bytes]], path: str = "/"
) -> list[dict[str, Any]]:
    """Call ``app`` with a hand-made HTTP scope (headers exactly as given); the messages sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": headers,
        "client": (DE_IP, 1),
        "scheme": "http",
    }
    await app(scope, receive, send)
    return sent


async def test_consent_is_in_scope_state_for_http() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    async with client(app, ip=US_IP) as c:
        await c.get("/api", headers={"accept": "application/json"})
    consent = seen[0]["state"]["consent"]
    assert isinstance(consent, Consent)
    assert consent.country == "US"
    assert not consent.regulated
    assert consent.ads is AdMode.PERSONALIZED


async def test_consent_is_in_scope_state_for_websocket() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    messages = iter([{"type": "websocket.connect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "client": (DE_IP, 1)}
    await app(scope, receive, send)
    assert seen[0]["state"]["consent"].regulated is True
    assert seen[0]["state"]["consent"].show_banner is True
    assert sent[0]["type"] == "websocket.accept"


async def test_json_response_passes_through_byte_for_byte() -> None:
    body = b'{"hello": "world", "<head>": "</body>"}'
    app, _ = gate(capture_app([], body))
    async with client(app) as c:
        response = await c.get("/api", headers={"accept": "application/json"})
    assert response.content == body
    assert "vary" not in response.headers
    assert "cache-control" not in response.headers


async def test_html_request_reaches_app_without_accept_encoding() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    async with client(app) as c:
        await c.get("/", headers={"accept": "text/html", "accept-encoding": "gzip"})
        await c.get("/api", headers={"accept": "application/json", "accept-encoding": "gzip"})
    assert b"accept-encoding" not in dict(seen[0]["headers"])
    assert dict(seen[1]["headers"])[b"accept-encoding"] == b"gzip"


async def test_regulated_visitor_gets_banner_and_private_page() -> None:
    app, _ = gate()
    async with client(app, ip=DE_IP) as c:
        response = await c.get("/")
    assert response.status_code == 200
    assert 'id="consentgate-banner"' in response.text
    assert "gtag('consent','default'" in response.text
    assert response.headers["vary"] == "Cookie, Accept, Sec-Fetch-Dest, Accept-Language, Sec-GPC"
    assert response.headers["cache-control"] == "private"
    assert int(response.headers["content-length"]) == len(response.content)


async def test_unregulated_visitor_gets_no_open_banner() -> None:
    seen: list[dict[str, Any]] = []

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await html_app()(scope, receive, send)

    app, _ = gate(app_)
    async with client(app, ip=US_IP) as c:
        response = await c.get("/")
    consent = seen[0]["state"]["consent"]
    assert consent.show_banner is False
    assert consent.granted == frozenset({"necessary", "functional", "analytics", "advertising"})
    assert (
        'role="dialog"' not in response.text
        or "hidden" in response.text.split('id="consentgate-banner"')[1].split(">")[0]
    )


async def test_valid_cookie_means_decided_without_banner() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    value = cookie_for([KEY], granted=frozenset({"a"}), middleware=app)
    async with client(app, ip=DE_IP) as c:
        c.cookies.set("consentgate", value)
        await c.get("/api", headers={"accept": "application/json"})
    consent = seen[0]["state"]["consent"]
    assert consent.decided
    assert consent.granted == frozenset({"necessary", "analytics"})
    assert consent.consent_id == "abcdefghijklmnop"
    assert consent.ads is AdMode.NON_PERSONALIZED  # ads.without_consent default


async def test_tampered_cookie_means_undecided() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    value = cookie_for([KEY], middleware=app)
    tampered = value.replace(".1.", ".2.", 1)
    async with client(app, ip=DE_IP) as c:
        c.cookies.set("consentgate", tampered)
        response = await c.get("/api", headers={"accept": "application/json"})
    assert response.status_code == 200
    assert seen[0]["state"]["consent"].decided is False
    assert seen[0]["state"]["consent"].show_banner is True


async def test_old_key_cookie_is_resigned_with_newest_key_keeping_its_expiry() -> None:
    seen: list[dict[str, Any]] = []
    app = ConsentMiddleware(
        capture_app(seen),
        settings=make_settings(secret_keys=[OLD_KEY, KEY]),
        country_database=FakeGeo(),
    )
    decided = int(time.time()) - 180 * 86400  # two days of lifetime left
    value = cookie_for([OLD_KEY], decided_at=decided, middleware=app)
    async with client(app) as c:
        c.cookies.set("consentgate", value)
        response = await c.get("/api", headers={"accept": "application/json"})
    assert seen[0]["state"]["consent"].decided
    header = response.headers["set-cookie"]
    new_value = header.split(";")[0].split("=", 1)[1]
    assert new_value != value
    max_age = int(header.split("Max-Age=")[1].split(";")[0])
    assert 2 * 86400 - 60 <= max_age <= 2 * 86400
    loaded = ConsentCookie([KEY], max_age=182 * 86400).loads(new_value, now=time.time())
    assert loaded is not None
    assert loaded[0].decided_at == decided
    assert loaded[1] is False


async def test_expired_cookie_means_undecided() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    value = cookie_for([KEY], decided_at=int(time.time()) - 183 * 86400, middleware=app)
    async with client(app) as c:
        c.cookies.set("consentgate", value)
        await c.get("/api", headers={"accept": "application/json"})
    assert seen[0]["state"]["consent"].decided is False


async def test_revision_bump_asks_again_with_choices_prefilled() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen), policy_revision=2)
    value = cookie_for([KEY], granted=frozenset({"a"}), revision=1, middleware=app)
    async with client(app) as c:
        c.cookies.set("consentgate", value)
        await c.get("/api", headers={"accept": "application/json"})
    consent = seen[0]["state"]["consent"]
    assert consent.show_banner
    assert consent.prefill == frozenset({"analytics"})
    assert consent.consent_id == "abcdefghijklmnop"


async def test_offer_change_asks_again_with_choices_prefilled() -> None:
    seen: list[dict[str, Any]] = []
    old, _ = gate()
    value = cookie_for([KEY], granted=frozenset({"f"}), middleware=old)
    app, _ = gate(
        capture_app(seen),
        services=[{"name": "Video", "category": "functional", "cookies": ["vid"]}],
    )
    assert app.offer.hash != old.offer.hash
    async with client(app) as c:
        c.cookies.set("consentgate", value)
        await c.get("/api", headers={"accept": "application/json"})
    consent = seen[0]["state"]["consent"]
    assert consent.show_banner
    assert consent.prefill == frozenset({"functional"})


async def test_gpc_outside_regulated_countries_opts_out_of_personalized_ads() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    async with client(app, ip=US_IP) as c:
        await c.get("/api", headers={"accept": "application/json", "sec-gpc": "1"})
    consent = seen[0]["state"]["consent"]
    assert consent.gpc
    assert consent.ads is AdMode.NON_PERSONALIZED
    assert consent.google_consent_mode()["ad_personalization"] == "denied"


async def test_spoofed_forwarded_for_from_untrusted_peer_changes_nothing() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    async with client(app, ip=DE_IP) as c:
        await c.get("/api", headers={"accept": "application/json", "x-forwarded-for": US_IP})
    assert seen[0]["state"]["consent"].country == "DE"


async def test_forwarded_for_from_trusted_proxy_is_believed() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen), trusted_proxies=["10.0.0.0/8"])
    async with client(app, ip="10.1.2.3") as c:
        await c.get("/api", headers={"accept": "application/json", "x-forwarded-for": US_IP})
    assert seen[0]["state"]["consent"].country == "US"


async def test_country_header_only_from_trusted_proxy() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen), trusted_proxies=["10.0.0.1"], country_header="cf-ipcountry")
    headers = {"accept": "application/json", "cf-ipcountry": "us"}
    async with client(app, ip="10.0.0.1") as c:
        await c.get("/api", headers=headers)
    async with client(app, ip=DE_IP) as c:
        await c.get("/api", headers=headers)
    assert seen[0]["state"]["consent"].country == "US"
    assert seen[1]["state"]["consent"].country == "DE"


async def test_force_country_wins_and_is_warned_about(caplog: Any) -> None:
    seen: list[dict[str, Any]] = []
    with caplog.at_level("WARNING", logger="consentgate"):
        app, _ = gate(capture_app(seen), force_country="fr")
    assert "force_country" in caplog.text
    async with client(app, ip=US_IP) as c:
        await c.get("/api", headers={"accept": "application/json"})
    assert seen[0]["state"]["consent"].country == "FR"


async def test_missing_secret_keys_is_a_config_error_naming_keygen() -> None:
    with pytest.raises(ConfigError, match=r"secret_keys: missing .*consentgate keygen"):
        ConsentMiddleware(html_app(), settings=make_settings(secret_keys=[]))


async def test_app_cookie_of_refused_category_is_removed() -> None:
    headers = [
        (b"content-type", b"text/html"),
        (b"set-cookie", b"_ga=GA1.1.1; Path=/"),
        (b"set-cookie", b"session=abc; Path=/; HttpOnly"),
    ]
    app, _ = gate(
        html_app(headers=headers),
        analytics={"provider": "ga4", "measurement_id": "G-TEST12345"},
        services=[{"name": "Session", "category": "necessary", "cookies": ["session"]}],
    )
    async with client(app, ip=DE_IP) as c:
        response = await c.get("/")
    cookies = response.headers.get_list("set-cookie")
    assert [v.split("=")[0] for v in cookies] == ["session"]
    async with client(app, ip=US_IP) as c:
        response = await c.get("/")
    assert [v.split("=")[0] for v in response.headers.get_list("set-cookie")] == ["_ga", "session"]


async def test_undeclared_cookie_blocked_when_configured() -> None:
    headers = [(b"content-type", b"text/html"), (b"set-cookie", b"mystery=1")]
    app, _ = gate(html_app(headers=headers), undeclared_cookies="block")
    async with client(app, ip=US_IP) as c:
        response = await c.get("/")
    assert "set-cookie" not in response.headers


async def test_undeclared_cookie_warned_once(caplog: Any) -> None:
    headers = [(b"content-type", b"text/html"), (b"set-cookie", b"mystery=1")]
    app, _ = gate(html_app(headers=headers))
    with caplog.at_level("WARNING", logger="consentgate"):
        async with client(app, ip=US_IP) as c:
            first = await c.get("/")
            await c.get("/")
    assert first.headers["set-cookie"].startswith("mystery=")
    assert caplog.text.count("'mystery'") == 1


async def test_lifespan_hooks_run_around_the_app_in_order() -> None:
    events: list[str] = []

    class RecordingLedger:
        async def start(self) -> None:
            events.append("ledger.start")

        async def close(self, drain_seconds: float = 5.0) -> None:
            events.append("ledger.close")

        def record(self, record: Any) -> None: ...
        def store_bundle(self, h: str, t: Any) -> None: ...
        async def records_for(self, consent_id: str) -> list[dict[str, Any]]:
            return []

        async def erase(self, consent_id: str) -> int:
            return 0

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            events.append(f"app got {message['type']}")
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    app = ConsentMiddleware(
        app_, settings=make_settings(), ledger=RecordingLedger(), country_database=FakeGeo()
    )
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        events.append(f"server got {message['type']}")

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert events == [
        "app got lifespan.startup",
        "ledger.start",
        "server got lifespan.startup.complete",
        "app got lifespan.shutdown",
        "ledger.close",
        "server got lifespan.shutdown.complete",
    ]


async def test_without_lifespan_the_ledger_starts_on_first_request() -> None:
    started: list[bool] = []

    class LazyLedger:
        async def start(self) -> None:
            started.append(True)

        async def close(self, drain_seconds: float = 5.0) -> None: ...
        def record(self, record: Any) -> None: ...
        def store_bundle(self, h: str, t: Any) -> None: ...
        async def records_for(self, consent_id: str) -> list[dict[str, Any]]:
            return []

        async def erase(self, consent_id: str) -> int:
            return 0

    app = ConsentMiddleware(
        html_app(), settings=make_settings(), ledger=LazyLedger(), country_database=FakeGeo()
    )
    async with client(app) as c:
        await asyncio.gather(c.get("/"), c.get("/"))
    assert started == [True]


async def test_compressed_html_passes_through_and_is_logged(caplog: Any) -> None:
    body = b"\x1f\x8b\x08\x00garbage"
    headers = [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]
    app, _ = gate(html_app(body, headers))
    with caplog.at_level("ERROR", logger="consentgate"):
        sent = await call_raw(app, [(b"accept", b"text/html")])
    assert sent[1]["body"] == body
    assert (b"content-length", str(len(body)).encode()) in sent[0]["headers"]
    assert "inside the compression" in caplog.text


async def test_excluded_path_is_not_injected() -> None:
    app, _ = gate(exclude_paths=["/admin"])
    async with client(app) as c:
        response = await c.get("/admin/page")
    assert "consentgate" not in response.text


async def test_head_request_is_not_injected() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await c.head("/")
    assert response.content == b""
    assert response.status_code == 200


_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=300,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cookie=_header_text,
    forwarded=_header_text,
    accept=_header_text,
    language=_header_text,
    gpc=_header_text,
    origin=_header_text,
    path=st.sampled_from(["/", "/_consent", "/_consent/settings", "/_consent/receipt", "/x"]),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
)
def test_arbitrary_headers_never_cause_an_error(
    cookie: str,
    forwarded: str,
    accept: str,
    language: str,
    gpc: str,
    origin: str,
    path: str,
    method: str,
) -> None:
    app, _ = _ROBUST

    async def run() -> httpx.Response:
        async with client(app, ip="10.0.0.1") as c:
            return await c.request(
                method,
                path,
                headers={
                    name: value.encode("latin-1")
                    for name, value in {
                        "cookie": f"consentgate={cookie}",
                        "x-forwarded-for": forwarded,
                        "forwarded": forwarded,
                        "x-forwarded-host": forwarded,
                        "accept": accept,
                        "accept-language": language,
                        "sec-gpc": gpc,
                        "origin": origin,
                        "cf-ipcountry": gpc,
                    }.items()
                },
                content=b"action=accept_all",
            )

    response = asyncio.run(run())
    assert response.status_code < 500


_ROBUST = gate(
    trusted_proxies=["10.0.0.0/8"],
    country_header="cf-ipcountry",
    rate_limit_per_minute=100_000,
)


async def test_csp_nonce_is_reused_on_injected_scripts() -> None:
    csp = b"default-src 'self'; script-src 'self' 'nonce-abc123'"
    headers = [(b"content-type", b"text/html"), (b"content-security-policy", csp)]
    app, _ = gate(
        html_app(headers=headers), analytics={"provider": "ga4", "measurement_id": "G-TEST12345"}
    )
    async with client(app) as c:
        response = await c.get("/")
    scripts = response.text.count("<script")
    assert scripts >= 4
    assert response.text.count('nonce="abc123"') >= scripts
    assert response.headers["content-security-policy"] == csp.decode()


async def test_strict_csp_without_nonce_gets_hashes_of_every_inline_script() -> None:
    import base64
    import hashlib
    import re

    policies = [b"script-src 'self'", b"default-src 'self'"]
    headers = [(b"content-type", b"text/html")] + [
        (b"content-security-policy", p) for p in policies
    ]
    app, _ = gate(
        html_app(headers=headers), analytics={"provider": "ga4", "measurement_id": "G-TEST12345"}
    )
    async with client(app) as c:
        response = await c.get("/")
    inline = re.findall(r"<script[^>]*>([^<]+)</script>", response.text)
    assert len(inline) >= 2  # Consent Mode head script and the inert GA4 config
    for header in response.headers.get_list("content-security-policy"):
        for body in inline:
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in header


async def test_vary_is_merged_and_public_cache_control_becomes_private() -> None:
    headers = [
        (b"content-type", b"text/html"),
        (b"vary", b"Accept-Language"),
        (b"cache-control", b"public, max-age=600"),
    ]
    app, _ = gate(html_app(headers=headers))
    async with client(app) as c:
        response = await c.get("/")
    assert response.headers["vary"] == "Accept-Language, Cookie, Accept, Sec-Fetch-Dest, Sec-GPC"
    assert response.headers["cache-control"] == "private, max-age=600"


async def test_no_store_cache_control_is_kept() -> None:
    headers = [(b"content-type", b"text/html"), (b"cache-control", b"no-store")]
    app, _ = gate(html_app(headers=headers))
    async with client(app) as c:
        response = await c.get("/")
    assert response.headers["cache-control"] == "private, no-store"


async def test_snippets_are_encoded_in_the_response_charset() -> None:
    page = "<html><head></head><body>caf\xe9</body></html>".encode("latin-1")
    headers = [(b"content-type", b"text/html; charset=iso-8859-1")]
    app, _ = gate(html_app(page, headers))
    async with client(app) as c:
        response = await c.get("/", headers={"accept-language": "fr"})
    raw = response.content
    assert "caf\xe9".encode("latin-1") in raw
    assert b"&#8217;" in raw or "\u2019".encode("latin-1", "ignore") == b""  # curly quote as ref
    raw.decode("latin-1")  # still valid latin-1


async def test_streamed_page_is_injected_without_content_length() -> None:
    async def app_(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html"), (b"content-length", b"999")],
            }
        )
        for part in (b"<html><he", b"ad></head><body>x</bo", b"dy></html>"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    app, _ = gate(app_)
    async with client(app) as c:
        response = await c.get("/")
    assert "content-length" not in response.headers or int(
        response.headers["content-length"]
    ) == len(response.content)
    assert response.text.startswith("<html><head><script>")
    assert response.text.endswith("</body></html>")
    assert 'id="consentgate-banner"' in response.text


async def test_cookie_split_over_several_headers_is_found() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = gate(capture_app(seen))
    value = cookie_for([KEY], granted=frozenset({"a"}), middleware=app)
    headers = [
        (b"accept", b"application/json"),
        (b"cookie", b"a=1"),
        (b"cookie", f"consentgate={value}".encode()),
    ]
    await call_raw(app, headers, path="/api")
    assert seen[0]["state"]["consent"].granted == frozenset({"necessary", "analytics"})


async def test_same_page_again_is_injected_alike_and_each_consent_gets_its_own() -> None:
    pages = [PAGE.replace(b"Hello", b"Hello again"), PAGE]
    served: list[bytes] = []

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        body = bytes(pages[len(served) % 2])  # a new bytes object each time, as templates give
        served.append(body)
        await html_app(body)(scope, receive, send)

    app, _ = gate(app_, analytics={"provider": "ga4", "measurement_id": "G-TEST12345"})
    texts: dict[str, list[str]] = {DE_IP: [], US_IP: []}
    for ip in (DE_IP, US_IP):
        async with client(app, ip=ip) as c:
            for _ in range(6):
                response = await c.get("/")
                assert int(response.headers["content-length"]) == len(response.content)
                texts[ip].append(response.text)
    for seen in texts.values():
        assert seen[0::2] == [seen[0]] * 3  # "Hello again", first, second and third time
        assert seen[1::2] == [seen[1]] * 3
        assert seen[0] != seen[1]
    # Same page, other consent: the banner opens only for the regulated visitor, and only
    # the unregulated one's analytics tag is live.
    assert 'id="consentgate-banner"' in texts[DE_IP][1]
    assert texts[DE_IP][1] != texts[US_IP][1]
    assert "googletagmanager.com/gtag/js?id=G-TEST12345" in texts[US_IP][1]
    assert 'data-consentgate-src="https://www.googletagmanager.com' in texts[DE_IP][1]


@pytest.mark.parametrize(
    ("accept", "dest", "page"),
    [
        ("*/*", "empty", False),  # fetch(): never shown as a page
        ("*/*", "script", False),
        ("*/*", "document", True),
        ("*/*", "iframe", True),
        ("*/*", None, True),  # no Fetch Metadata (older clients): may be a page
        ("text/html, */*", "empty", True),  # Turbo and htmx fetch pages they swap in
        ("application/json", None, False),
    ],
)
async def test_fetch_metadata_tells_pages_from_other_requests(
    accept: str, dest: str | None, page: bool
) -> None:
    app, _ = gate()
    headers = {"accept": accept} | ({"sec-fetch-dest": dest} if dest else {})
    async with client(app, ip=DE_IP) as c:
        response = await c.get("/", headers=headers)
    assert ('id="consentgate-banner"' in response.text) is page
    assert (response.content == PAGE) is not page


async def test_fetch_response_cookies_follow_consent_and_undeclared_rule() -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"set-cookie", b"_ga=GA1.1.1; Path=/"),
        (b"set-cookie", b"mystery=1; Path=/"),
    ]
    fetch = {"accept": "*/*", "sec-fetch-dest": "empty"}
    ga4 = {"provider": "ga4", "measurement_id": "G-TEST12345"}

    async def names(app: Any, ip: str, cookie: str | None = None) -> list[str]:
        extra = {"cookie": f"consentgate={cookie}"} if cookie else {}
        async with client(app, ip=ip) as c:
            response = await c.get("/api", headers=fetch | extra)
        return [v.split("=")[0] for v in response.headers.get_list("set-cookie")]

    app, _ = gate(html_app(b"{}", headers=headers), analytics=ga4)
    assert await names(app, US_IP) == ["_ga", "mystery"]  # everything granted
    assert await names(app, DE_IP) == ["mystery"]  # undecided: analytics refused
    blocking, _ = gate(html_app(b"{}", headers=headers), analytics=ga4, undeclared_cookies="block")
    assert await names(blocking, US_IP) == ["_ga"]
    everything = cookie_for([KEY], middleware=blocking)  # every category granted
    assert await names(blocking, DE_IP, everything) == ["_ga"]


async def test_nonce_that_changes_on_every_response_is_used_on_each() -> None:
    nonces = iter(["n0nceOne", "n0nceTwo", "n0nceThree"])

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        csp = f"script-src 'nonce-{next(nonces)}'".encode()
        inner = html_app(
            headers=[(b"content-type", b"text/html"), (b"content-security-policy", csp)]
        )
        await inner(scope, receive, send)

    app, _ = gate(app_)
    async with client(app, ip=DE_IP) as c:
        for nonce in ("n0nceOne", "n0nceTwo", "n0nceThree"):
            response = await c.get("/")
            scripts = response.text.count("<script")
            assert scripts >= 2
            assert response.text.count(f'nonce="{nonce}"') >= scripts
